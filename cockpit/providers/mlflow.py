"""MLflow: a model registry (versions, aliases, tags)."""

from __future__ import annotations

from cockpit.providers.base import Provider

PROVIDER = Provider(kind="mlflow", title="MLflow", module="backends.mlflow", roles=frozenset({"registry"}),
                    extra="mlflow", capabilities=frozenset({"promote", "tag", "register"}))
