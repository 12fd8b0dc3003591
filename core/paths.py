"""Locations under the one data root. Nothing here touches the disk until ``ensure`` is called."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class DataPaths:
    """Well-known files and folders under ``root``."""

    root: Path

    @property
    def database(self) -> Path:
        return self.root / "reelrank.db"

    @property
    def events(self) -> Path:
        """Parquet event log (the Feast offline source and the training input)."""
        return self.root / "events"

    @property
    def events_file(self) -> Path:
        return self.events / "events.parquet"

    @property
    def media(self) -> Path:
        return self.root / "media"

    @property
    def originals(self) -> Path:
        return self.media / "originals"

    @property
    def packages(self) -> Path:
        """HLS packages, one folder per video id."""
        return self.media / "hls"

    @property
    def embeddings_file(self) -> Path:
        """Per-video content vectors (``video_id``, ``vector``) written by the media pipeline."""
        return self.media / "embeddings.parquet"

    @property
    def models(self) -> Path:
        return self.root / "models"

    @property
    def mlflow(self) -> Path:
        return self.root / "mlflow"

    @property
    def mlflow_db(self) -> Path:
        return self.mlflow / "mlflow.db"

    @property
    def mlflow_artifacts(self) -> Path:
        return self.mlflow / "artifacts"

    @property
    def features(self) -> Path:
        """Generated Feast repo config, registry, online store and feature parquet files."""
        return self.root / "features"

    @property
    def datasets(self) -> Path:
        """Downloaded dataset archives."""
        return self.root / "datasets"

    @property
    def prefect_home(self) -> Path:
        return self.root / "prefect"

    @property
    def ray_tmp(self) -> Path:
        return self.root / "ray"

    def ensure(self) -> DataPaths:
        """Create every folder; return self."""
        for path in (
            self.root,
            self.events,
            self.originals,
            self.packages,
            self.models,
            self.mlflow,
            self.mlflow_artifacts,
            self.features,
            self.datasets,
            self.prefect_home,
        ):
            path.mkdir(parents=True, exist_ok=True)
        return self
