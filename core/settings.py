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
    log_json: bool = Field(True, description="Write logs as JSON lines (with the request id).")
    admin_token: str | None = Field(
        None,
        description="Secret the admin routes (experiments) require in X-Admin-Token; "
        "unset: admin routes answer 403.",
    )
    cors_origins: list[str] = Field(
        default_factory=list, description="Origins allowed to call the API from a browser."
    )
    rate_limit_per_minute: int = Field(
        6_000,
        ge=0,
        description="Requests per minute per client key (X-API-Key, else the "
        "client address); 0 turns limiting off.",
    )
    model_check_interval_s: float = Field(
        5.0, gt=0, description="How often serving checks the registry for a moved alias."
    )
    event_sink: Literal["database", "redis"] = Field(
        "database", description="Where accepted events are made durable first."
    )
    max_event_batch: int = Field(500, ge=1, le=10_000, description="Most events per batch.")
    request_threads: int = Field(
        8,
        ge=1,
        le=256,
        description="Threads running blocking request handlers per worker process (fewer "
        "threads contend less for the interpreter lock on CPU-bound requests).",
    )
    secret_key: str | None = Field(
        None,
        min_length=32,
        description="Key signing access tokens and stream URLs (32+ characters); default: a "
        "random key kept in secret.key under the data root, shared by the workers.",
    )
    access_token_ttl_s: int = Field(900, ge=30, le=86_400, description="Access token lifetime.")
    refresh_token_ttl_s: int = Field(
        30 * 86_400, ge=300, le=365 * 86_400, description="Refresh token (session) lifetime."
    )
    stream_token_ttl_s: int = Field(
        600, ge=10, le=86_400, description="Lifetime of the signed tokens in segment URLs."
    )
    cdn_base_url: str | None = Field(
        None,
        description="Base URL the playlists point segment URLs at (a CDN in front of this "
        "service); default: relative URLs to this service.",
    )
    max_upload_bytes: int = Field(
        4 * 2**30, ge=1, description="Largest upload accepted (tus Upload-Length)."
    )
    upload_daily_quota_bytes: int = Field(
        20 * 2**30,
        ge=0,
        description="Bytes a creator may start uploading within any 24 hours (admins are "
        "exempt); 0: no quota.",
    )
    upload_ttl_s: int = Field(
        24 * 3600, ge=60, description="An unfinished upload expires this long after it began."
    )
    media_processing: Literal["ray", "local"] = Field(
        "ray",
        description="Where accepted uploads are transcoded: as Ray tasks (a local Ray under the "
        "data root, or ray_address), or one unit at a time in the API process (small machines).",
    )
    media_dispatch: Literal["queue", "prefect"] = Field(
        "queue",
        description="Who processes a completed upload: the API's own media queue, or the "
        "ingest-video Prefect deployment (needs PREFECT_API_URL and `reelrank flows serve`; "
        "the queue takes over when the flow cannot be started).",
    )
    max_body_bytes: int = Field(
        1 * 2**20, ge=1024, description="Largest request body outside uploads."
    )
    login_max_failures: int = Field(
        5, ge=1, description="Failed sign-ins per account or address before throttling."
    )
    login_window_s: int = Field(
        300, ge=1, description="Window over which failed sign-ins are counted."
    )
    playback_lease_s: int = Field(
        90, ge=10, description="A playback session is live while renewed within this time."
    )
    search_semantic: bool = Field(
        True,
        description="Fuse semantic matches (MiniLM text vectors, encoded in the background by "
        "each worker) into search; off: lexical search only.",
    )
    anonymous_user_routes: bool = Field(
        True,
        description="Let callers without credentials read a user's recommendations and post "
        "events for any user (a trusted network or the demo); off: they need the user's "
        "token, a service API key or an admin.",
    )

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
