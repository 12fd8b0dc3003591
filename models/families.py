"""The model families the pipeline can use as sources: class, config class and role, by name."""

from __future__ import annotations

from dataclasses import dataclass

from models.als import ALSRecommender
from models.base import EmbeddingModel, Recommender, SourceRole
from models.bpr import BPRRecommender
from models.config import ModelConfig
from models.content import ContentRecommender
from models.ease import EASERecommender
from models.interactions import Interactions
from models.itemknn import ItemKNNRecommender
from models.lightfm_hybrid import LightFMRecommender
from models.popularity import PopularityRecommender
from models.rp3beta import RP3betaRecommender
from models.side_info import ItemFeatures
from models.trending import TrendingRecommender


@dataclass(frozen=True)
class Family:
    """A model family: its class and the role its candidates play."""

    model: type[Recommender]
    role: SourceRole

    @property
    def config(self) -> type[ModelConfig]:
        """The family's config class."""
        return self.model.config_type

    @property
    def embedding(self) -> bool:
        """Whether the family exposes user and item vectors (can back a FAISS index)."""
        return issubclass(self.model, EmbeddingModel)


#: Every model family the pipeline can use as a source, by name.
FAMILIES: dict[str, Family] = {
    "popularity": Family(PopularityRecommender, SourceRole.TRENDING),
    "trending": Family(TrendingRecommender, SourceRole.TRENDING),
    "als": Family(ALSRecommender, SourceRole.COLLABORATIVE),
    "bpr": Family(BPRRecommender, SourceRole.COLLABORATIVE),
    "itemknn": Family(ItemKNNRecommender, SourceRole.COLLABORATIVE),
    "ease": Family(EASERecommender, SourceRole.COLLABORATIVE),
    "rp3beta": Family(RP3betaRecommender, SourceRole.COLLABORATIVE),
    "lightfm": Family(LightFMRecommender, SourceRole.COLLABORATIVE),
    "content": Family(ContentRecommender, SourceRole.CONTENT),
}


def family(name: str) -> Family:
    """The family called ``name``; ``ValueError`` naming the known ones otherwise."""
    if name not in FAMILIES:
        raise ValueError(f"unknown model {name!r}; known: {', '.join(FAMILIES)}")
    return FAMILIES[name]


def make_source(name: str, config: ModelConfig | None = None) -> Recommender:
    """An unfitted model of family ``name`` (default config unless given)."""
    spec = family(name)
    if config is not None and not isinstance(config, spec.config):
        raise ValueError(f"{name} needs a {spec.config.__name__}, not {type(config).__name__}")
    return spec.model(config)


def fit_source(
    model: Recommender, interactions: Interactions, item_features: ItemFeatures | None = None
) -> Recommender:
    """``model`` fitted on ``interactions`` (families that do not use item features ignore
    them)."""
    return model.fit(interactions, item_features)
