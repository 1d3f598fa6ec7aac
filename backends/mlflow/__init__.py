"""MLflow model registry: registered models, versions, aliases, runs, through the real MlflowClient
on any tracking/registry URI (http(s) server, sqlite, databricks...).

mlflow costs about a second to import: `create` defers it to the first call on the source.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def create(source: str, settings: Mapping[str, Any]) -> Any:
    from backends.mlflow.adapter import MlflowBackend

    return MlflowBackend(source, tracking_uri=str(settings["tracking_uri"]),
                         registry_uri=settings.get("registry_uri"), read_only=bool(settings.get("read_only", False)))
