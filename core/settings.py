"""Process settings read from ``REELRANK_*`` environment variables (and ``.env``)."""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from core.paths import DataPaths


class Settings(BaseSettings):
    """Everything configurable about a ReelRank process; defaults run on one machine."""

    model_config = SettingsConfigDict(env_prefix="REELRANK_", env_file=".env", extra="ignore")

    data_root: Path = Field(Path("var"), description="Root folder for every file ReelRank writes.")
    database_url: str | None = Field(
        None,
        description="SQLAlchemy URL of the catalogue; default: SQLite under the data root.",
    )
    mlflow_tracking_uri: str | None = Field(
        None,
        description="MLflow URI; default: MLFLOW_TRACKING_URI, else SQLite under the data root.",
    )
    ray_address: str | None = Field(
        None, description="Ray cluster address; default: RAY_ADDRESS, else a local Ray."
    )
    online_store: Literal["sqlite", "redis"] = Field(
        "sqlite", description="Feast online store engine."
    )
    redis_url: str = Field("127.0.0.1:6379", description="Redis connection string for Feast.")
    api_host: str = "127.0.0.1"
    api_port: int = 8000
    log_level: str = "INFO"

    @property
    def paths(self) -> DataPaths:
        """Well-known locations under the data root."""
        return DataPaths(self.data_root.resolve())

    @property
    def resolved_database_url(self) -> str:
        """The catalogue URL, SQLite under the data root unless configured."""
        return self.database_url or f"sqlite:///{self.paths.database}"

    @property
    def resolved_mlflow_uri(self) -> str:
        """The MLflow tracking URI, a SQLite store under the data root unless configured."""
        return (
            self.mlflow_tracking_uri
            or os.environ.get("MLFLOW_TRACKING_URI")
            or f"sqlite:///{self.paths.mlflow_db}"
        )

    @property
    def resolved_ray_address(self) -> str | None:
        """The Ray cluster to join, or None for a local Ray."""
        return self.ray_address or os.environ.get("RAY_ADDRESS") or None


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once."""
    return Settings()
