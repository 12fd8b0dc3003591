"""The registered champion as a recipe: loaded from the registry, refitted on other data.

The champion served now was refitted on every event up to its training, so it has seen any
newer run's holdout. Promotion therefore compares recipes on the same data: the champion's
pipeline config and source configs, fitted on the new run's training split. Its ranker is
kept as trained (rankers are not refitted with the sources), which can only favour the
champion.
"""

from __future__ import annotations

from models.interactions import Interactions
from models.mlflow_registry import CHAMPION, load_pipeline_version, resolve_version
from models.pipeline import RecommendationPipeline
from models.side_info import ItemFeatures


def load_champion(model_name: str, tracking_uri: str) -> tuple[int, RecommendationPipeline] | None:
    """``(version, pipeline)`` of ``model_name@champion``; None when there is no champion."""
    from core.errors import NotFoundError

    try:
        version = resolve_version(model_name, CHAMPION, tracking_uri=tracking_uri)
    except NotFoundError:
        return None
    return int(version), load_pipeline_version(model_name, version, tracking_uri=tracking_uri)


def refit_recipe(
    pipeline: RecommendationPipeline,
    interactions: Interactions,
    item_features: ItemFeatures | None,
) -> RecommendationPipeline:
    """``pipeline``'s config, each source's config and its ranker, fitted on ``interactions``."""
    return RecommendationPipeline.fit(
        interactions,
        config=pipeline.config,
        source_configs={name: source.config for name, source in pipeline.sources.items()},
        item_features=item_features,
        ranker=pipeline.ranker,
    )
