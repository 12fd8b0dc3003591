"""The recommender the API serves: the registered ``champion`` pipeline, loaded from MLflow,
ranking with features from the Feast online store."""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING

from core.errors import ReelRankError
from core.settings import Settings

if TYPE_CHECKING:
    from features.online import OnlineFeatures
    from models.pipeline import RecommendationPipeline

log = logging.getLogger(__name__)

MODEL_NAME = "reelrank-recommender"
MODEL_ALIAS = "champion"


class ModelUnavailableError(ReelRankError):
    """No trained model is registered yet."""


class RecommenderService:
    """Holds the loaded pipeline and the online feature client; reloadable after retraining.

    Without a working online store the pipeline serves its blend order (the ranker needs
    features); ``features_problem`` says why, and readiness reports it.
    """

    def __init__(
        self, settings: Settings, name: str = MODEL_NAME, alias: str = MODEL_ALIAS
    ) -> None:
        self.settings = settings
        self.name = name
        self.alias = alias
        self._pipeline: RecommendationPipeline | None = None
        self._features: OnlineFeatures | None = None
        self.features_problem: str | None = "not opened yet"
        #: Registry version of the loaded pipeline (None when not loaded or swapped in).
        self.version: str | None = None
        self._lock = threading.Lock()

    @property
    def model_label(self) -> str | None:
        """``name@alias`` of the loaded model, or None."""
        return f"{self.name}@{self.alias}" if self._pipeline is not None else None

    @property
    def features(self) -> OnlineFeatures | None:
        """The online feature client, or None when the store is not set up or unreadable."""
        return self._features

    def open_features(self) -> OnlineFeatures | None:
        """(Re)open the Feast online client of the data root's repo; None (and
        ``features_problem`` set) when it is missing or unreadable."""
        from features.online import OnlineFeatures

        try:
            client = OnlineFeatures(self.settings.paths.features)
            ok, message = client.health()
        except Exception as exc:  # a missing repo, registry or store: serve without features
            client, ok, message = None, False, str(exc)
        self._features = client if ok else None
        self.features_problem = None if ok else message
        if not ok:
            log.warning("online features unavailable, ranking falls back to the blend: %s", message)
        return self._features

    def _attach(self, pipeline: RecommendationPipeline) -> None:
        """Give ``pipeline`` the online features when its ranker can use them."""
        if pipeline.ranker is None:
            return
        try:
            pipeline.attach_features(self._features)
        except ValueError as exc:
            self.features_problem = str(exc)
            log.warning("the ranker cannot use the online features: %s", exc)
            pipeline.attach_features(None)

    def load(self) -> RecommendationPipeline:
        """Load (or reload) the aliased pipeline from the MLflow registry, with features."""
        from models.mlflow_registry import load_pipeline

        with self._lock:
            try:
                version = self.resolve_version()
                pipeline = load_pipeline(
                    self.name, self.alias, tracking_uri=self.settings.resolved_mlflow_uri
                )
            except Exception as exc:  # MLflow raises many kinds of error for "not there"
                raise ModelUnavailableError(
                    f"no model {self.name}@{self.alias} could be loaded from MLflow "
                    f"({exc}); run `reelrank train` first"
                ) from exc
            if pipeline.ranker is not None and self._features is None:
                self.open_features()
            self._attach(pipeline)
            self._pipeline, self.version = pipeline, version
            return pipeline

    def resolve_version(self) -> str:
        """The registry version the served alias points at now."""
        import mlflow

        uri = self.settings.resolved_mlflow_uri
        client = mlflow.MlflowClient(tracking_uri=uri, registry_uri=uri)
        try:
            return str(client.get_model_version_by_alias(self.name, self.alias).version)
        except Exception as exc:  # an unknown alias, an unreadable store
            raise ModelUnavailableError(
                f"no model {self.name}@{self.alias} in the registry ({exc})"
            ) from exc

    def refresh(self) -> list[str]:
        """When the alias moved to another version since the pipeline was loaded, load that
        version (outside the lock) and swap it in; the aliases swapped (none or this one).
        A registry that cannot be read is logged and the loaded pipeline keeps serving."""
        from models.mlflow_registry import load_pipeline

        if self._pipeline is None or self.version is None:
            return []
        try:
            version = self.resolve_version()
            if version == self.version:
                return []
            pipeline = load_pipeline(
                self.name, self.alias, tracking_uri=self.settings.resolved_mlflow_uri
            )
        except Exception as exc:  # keep serving what is loaded
            log.warning("could not refresh %s@%s: %s", self.name, self.alias, exc)
            return []
        with self._lock:
            self._attach(pipeline)
            self._pipeline, self.version = pipeline, version
        log.info("%s@%s now serves version %s", self.name, self.alias, version)
        return [self.alias]

    def swap(self, pipeline: RecommendationPipeline) -> None:
        """Serve ``pipeline`` from now on, without going through MLflow."""
        with self._lock:
            self._attach(pipeline)
            self._pipeline, self.version = pipeline, None

    def try_load(self) -> bool:
        """Load if possible; log instead of raising (used at start-up)."""
        try:
            self.load()
        except ReelRankError as exc:
            log.warning("%s", exc)
            return False
        return True

    @property
    def ranking(self) -> str:
        """How the loaded pipeline orders candidates: ``ranker``, ``blend`` or ``blend
        (fallback: ...)`` when it has a ranker that cannot run."""
        pipeline = self._pipeline
        if pipeline is None or pipeline.ranker is None or not pipeline.config.use_ranker:
            return "blend"
        if pipeline.ranking_active:
            return "ranker"
        return f"blend (fallback: {self.features_problem or 'no features attached'})"

    @property
    def pipeline(self) -> RecommendationPipeline:
        """The loaded pipeline, loading it on first use."""
        return self._pipeline if self._pipeline is not None else self.load()
