"""The recommender the API serves: the registered ``champion`` pipeline, loaded from MLflow."""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING

from core.errors import ReelRankError
from core.settings import Settings

if TYPE_CHECKING:
    from models.pipeline import RecommendationPipeline

log = logging.getLogger(__name__)

MODEL_NAME = "reelrank-recommender"
MODEL_ALIAS = "champion"


class ModelUnavailableError(ReelRankError):
    """No trained model is registered yet."""


class RecommenderService:
    """Holds the loaded pipeline; loads it lazily and can be reloaded after retraining."""

    def __init__(
        self, settings: Settings, name: str = MODEL_NAME, alias: str = MODEL_ALIAS
    ) -> None:
        self.settings = settings
        self.name = name
        self.alias = alias
        self._pipeline: RecommendationPipeline | None = None
        self._lock = threading.Lock()

    @property
    def model_label(self) -> str | None:
        """``name@alias`` of the loaded model, or None."""
        return f"{self.name}@{self.alias}" if self._pipeline is not None else None

    def load(self) -> RecommendationPipeline:
        """Load (or reload) the aliased pipeline from the MLflow registry."""
        from models.mlflow_registry import load_pipeline

        with self._lock:
            try:
                self._pipeline = load_pipeline(
                    self.name, self.alias, tracking_uri=self.settings.resolved_mlflow_uri
                )
            except Exception as exc:  # MLflow raises many kinds of error for "not there"
                raise ModelUnavailableError(
                    f"no model {self.name}@{self.alias} could be loaded from MLflow "
                    f"({exc}); run `reelrank train` first"
                ) from exc
            return self._pipeline

    def swap(self, pipeline: RecommendationPipeline) -> None:
        """Serve ``pipeline`` from now on, without going through MLflow."""
        with self._lock:
            self._pipeline = pipeline

    def try_load(self) -> bool:
        """Load if possible; log instead of raising (used at start-up)."""
        try:
            self.load()
        except ReelRankError as exc:
            log.warning("%s", exc)
            return False
        return True

    @property
    def pipeline(self) -> RecommendationPipeline:
        """The loaded pipeline, loading it on first use."""
        return self._pipeline if self._pipeline is not None else self.load()
