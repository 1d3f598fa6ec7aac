"""The `[sources.NAME]` schema of a mlflow source (pydantic, imported only when a config file is parsed)."""

from __future__ import annotations

from pydantic import Field

from cockpit.providers.common_settings import SourceCommon


class Settings(SourceCommon):
    """An MLflow model registry: any URI MLflow accepts (https://mlflow.internal, sqlite:///path.db,
    databricks). Credentials come from MLflow's own environment variables, never from here."""

    tracking_uri: str = Field(min_length=1)
    registry_uri: str | None = Field(default=None, description="default: the tracking URI")
