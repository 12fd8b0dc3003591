"""The models the API serves: registered pipelines by alias or version, loaded from MLflow,
ranking with features from the Feast online store, swapped atomically when an alias moves."""

from __future__ import annotations

import json
import logging
import threading
import time
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from core.errors import ReelRankError
from core.settings import Settings

if TYPE_CHECKING:
    from collections.abc import Mapping

    from features.online import OnlineFeatures
    from models.pipeline import RecommendationPipeline

log = logging.getLogger(__name__)

MODEL_NAME = "reelrank-recommender"
MODEL_ALIAS = "champion"
#: Version label of a pipeline handed to ``swap`` rather than loaded from the registry.
LOCAL_VERSION = "local"


class ModelUnavailableError(ReelRankError):
    """No trained model is registered under the asked alias or version (or MLflow is down)."""


@dataclass(frozen=True)
class ServedModel:
    """A loaded pipeline and the registry entry it came from."""

    pipeline: RecommendationPipeline
    name: str
    ref: str
    version: str

    @property
    def label(self) -> str:
        """``name@ref``, as responses report it (with ``version`` beside it)."""
        return f"{self.name}@{self.ref}"


#: Seconds between attempts to open a missing online store for readers other than the ranker.
FEATURES_RETRY_S = 60.0


class RecommenderService:
    """Holds the loaded pipelines (one per alias or version asked for) and the online
    feature client; ``refresh`` reloads any alias that moved in the registry.

    Without a working online store the pipelines serve their blend order (the ranker needs
    features); ``features_problem`` says why, and readiness reports it.
    """

    def __init__(
        self, settings: Settings, name: str = MODEL_NAME, alias: str = MODEL_ALIAS
    ) -> None:
        self.settings = settings
        self.name = name
        self.alias = alias
        self._served: dict[str, ServedModel] = {}
        self._variants: dict[tuple[str, str, str], RecommendationPipeline] = {}
        self._features: OnlineFeatures | None = None
        self._features_tried_at: float | None = None
        self.features_problem: str | None = "not opened yet"
        self._load_lock = threading.Lock()
        self._swap_lock = threading.Lock()

    # -- features -----------------------------------------------------------------------------
    @property
    def features(self) -> OnlineFeatures | None:
        """The online feature client, or None when the store is not set up or unreadable."""
        return self._features

    def online_features(self) -> OnlineFeatures | None:
        """The online feature client for readers other than the ranker (search): opened on
        first use, and tried again at most every ``FEATURES_RETRY_S`` while it is missing."""
        now = time.monotonic()
        tried = self._features_tried_at
        if self._features is None and (tried is None or now - tried >= FEATURES_RETRY_S):
            self._features_tried_at = now
            self.open_features()
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
        if self._features is None:
            self.open_features()
        try:
            pipeline.attach_features(self._features)
        except ValueError as exc:
            self.features_problem = str(exc)
            log.warning("the ranker cannot use the online features: %s", exc)
            pipeline.attach_features(None)

    # -- registry -----------------------------------------------------------------------------
    def resolve_version(self, ref: str) -> str:
        """The registry version ``ref`` (alias or version number) points at now."""
        from models.mlflow_registry import resolve_version

        try:
            return resolve_version(self.name, ref, tracking_uri=self.settings.resolved_mlflow_uri)
        except Exception as exc:  # MLflow raises many kinds of error for "not there"
            raise ModelUnavailableError(
                f"no model {self.name}@{ref} could be found in MLflow ({exc}); "
                "run `reelrank train` first"
            ) from exc

    def _load_version(self, ref: str, version: str) -> ServedModel:
        from models.mlflow_registry import load_pipeline_version

        try:
            pipeline = load_pipeline_version(
                self.name, version, tracking_uri=self.settings.resolved_mlflow_uri
            )
        except Exception as exc:
            raise ModelUnavailableError(
                f"model {self.name} version {version} could not be loaded ({exc})"
            ) from exc
        self._attach(pipeline)
        return ServedModel(pipeline, self.name, ref, version)

    def model(self, ref: str | None = None) -> ServedModel:
        """The pipeline ``ref`` (default: the champion alias) names, loaded on first use."""
        ref = ref or self.alias
        served = self._served.get(ref)
        if served is not None:
            return served
        with self._load_lock:
            served = self._served.get(ref)
            if served is None:
                served = self._load_version(ref, self.resolve_version(ref))
                with self._swap_lock:
                    self._served[ref] = served
        return served

    def variant(self, ref: str | None, settings: Mapping[str, Any] | None) -> ServedModel:
        """``model(ref)``, with an experiment variant's pipeline settings applied (``weights``,
        ``use_ranker``); the derived pipeline is cached per version and settings."""
        served = self.model(ref)
        settings = {k: v for k, v in (settings or {}).items() if v is not None}
        if not settings:
            return served
        key = (served.ref, served.version, json.dumps(settings, sort_keys=True))
        pipeline = self._variants.get(key)
        if pipeline is None:
            try:
                pipeline = served.pipeline.with_settings(
                    weights=settings.get("weights"), use_ranker=settings.get("use_ranker")
                )
            except ValueError as exc:
                raise ModelUnavailableError(
                    f"variant settings {dict(settings)} do not fit {served.label}: {exc}"
                ) from exc
            self._variants[key] = pipeline
        return replace(served, pipeline=pipeline)

    def refresh(self) -> list[str]:
        """Reload every served alias whose registry version moved (the new version loads
        first, then the reference is swapped); a registry outage is logged, never raised."""
        swapped: list[str] = []
        for ref, served in list(self._served.items()):
            if served.version == LOCAL_VERSION or ref.isdigit():
                continue
            try:
                version = self.resolve_version(ref)
                if version == served.version:
                    continue
                fresh = self._load_version(ref, version)
            except ReelRankError as exc:
                log.warning("keeping %s: %s", served.label, exc)
                continue
            with self._swap_lock:
                self._served[ref] = fresh
                self._variants = {k: v for k, v in self._variants.items() if k[0] != ref}
            log.info("swapped %s: v%s -> v%s", ref, served.version, fresh.version)
            swapped.append(ref)
        return swapped

    # -- the champion (back-compatible API) ---------------------------------------------------
    def load(self) -> RecommendationPipeline:
        """Load (or reload) the champion from the MLflow registry, with features."""
        version = self.resolve_version(self.alias)
        served = self._load_version(self.alias, version)
        with self._swap_lock:
            self._served[self.alias] = served
        return served.pipeline

    def swap(self, pipeline: RecommendationPipeline, ref: str | None = None) -> None:
        """Serve ``pipeline`` as ``ref`` (default the champion) from now on, without MLflow."""
        self._attach(pipeline)
        with self._swap_lock:
            self._served[ref or self.alias] = ServedModel(
                pipeline, self.name, ref or self.alias, LOCAL_VERSION
            )

    def try_load(self) -> bool:
        """Load if possible; log instead of raising (used at start-up)."""
        try:
            self.model()
        except ReelRankError as exc:
            log.warning("%s", exc)
            return False
        return True

    @property
    def model_label(self) -> str | None:
        """Label of the loaded champion, or None."""
        served = self._served.get(self.alias)
        return served.label if served is not None else None

    @property
    def ranking(self) -> str:
        """How the champion orders candidates: ``ranker``, ``blend`` or ``blend (fallback:
        ...)`` when it has a ranker that cannot run."""
        served = self._served.get(self.alias)
        pipeline = served.pipeline if served is not None else None
        if pipeline is None or pipeline.ranker is None or not pipeline.config.use_ranker:
            return "blend"
        if pipeline.ranking_active:
            return "ranker"
        return f"blend (fallback: {self.features_problem or 'no features attached'})"

    @property
    def pipeline(self) -> RecommendationPipeline:
        """The champion pipeline, loading it on first use."""
        return self.model().pipeline
