"""A LightGBM lambdarank ranker: gradient-boosted trees that optimise NDCG over candidate lists.

Each user's valid candidates form one query group, relevance 1 for what the user went on to
watch and 0 for the rest. Trees need no standardisation and split on raw feature values, so
the provider's counts and rates are used as they come. Training runs a fixed number of trees:
no early stopping, so nothing is tuned on data the caller will score on. By default the trees
learn a correction of the blend: each candidate starts from its blend score standardised within
its list (``models.ranker.blend_prior``), so with few trees the blend's order is kept.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Literal

import numpy as np
from pydantic import Field

from models.config import ModelConfig
from models.errors import ModelFormatError
from models.ranker import Ranker, blend_prior

if TYPE_CHECKING:
    import lightgbm

_TREES = "lambdarank.txt"
#: The NDCG cut-off LightGBM evaluates (and lambdarank weights swaps by).
EVAL_AT = 10


class LambdaRankConfig(ModelConfig):
    """Trees of the lambdarank ranker. The defaults (chosen on validation lists, see
    docs/benchmarks.md) are small, shrunk, L2-penalised trees that correct the blend's order
    (``blend_weight``) rather than rank from scratch."""

    kind: Literal["lambdarank"] = Field("lambdarank", description="The ranker kind (LightGBM).")
    n_estimators: int = Field(100, gt=0, description="Boosting rounds (trees), all of them used.")
    learning_rate: float = Field(0.02, gt=0, description="Shrinkage of each tree.")
    num_leaves: int = Field(3, gt=1, description="Leaves per tree.")
    min_child_samples: int = Field(
        200, gt=0, description="Fewest candidates in a leaf (few positives per list: keep it high)."
    )
    blend_weight: float = Field(
        2.0,
        ge=0,
        description="Trees correct the blend: each candidate starts (LightGBM init_score) at "
        "this weight times its blend score standardised within its list, and is scored as that "
        "plus the trees. 0: the trees rank from scratch.",
    )
    reg_lambda: float = Field(
        10.0,
        ge=0,
        description="L2 penalty on leaf values: it bounds the Newton steps where a strong "
        "blend_weight leaves pairs with tiny second derivatives.",
    )
    seed: int = Field(0, description="Seed of LightGBM's sampling.")
    num_threads: int = Field(1, gt=0, description="LightGBM threads.")


class LambdaRanker(Ranker):
    """``lightgbm.LGBMRanker(objective="lambdarank")`` over the pair features."""

    KIND = "lambdarank"
    CONFIG = LambdaRankConfig
    config: LambdaRankConfig

    def __init__(self, config: LambdaRankConfig = LambdaRankConfig()) -> None:  # noqa: B008
        super().__init__(config)
        self._booster: lightgbm.Booster | None = None

    def _fit(
        self, features: np.ndarray, labels: np.ndarray, valid: np.ndarray, useful: np.ndarray
    ) -> None:
        import lightgbm

        rows = valid[useful]
        x = features[useful][rows]
        y = labels[useful][rows].astype(np.int32)
        groups = rows.sum(axis=1)
        prior = self.config.blend_weight * blend_prior(features, valid, self.feature_names)
        init = prior[useful][rows] if self.config.blend_weight > 0 else None
        model = lightgbm.LGBMRanker(
            objective="lambdarank",
            n_estimators=self.config.n_estimators,
            learning_rate=self.config.learning_rate,
            num_leaves=self.config.num_leaves,
            min_child_samples=self.config.min_child_samples,
            reg_lambda=self.config.reg_lambda,
            random_state=self.config.seed,
            n_jobs=self.config.num_threads,
            deterministic=True,
            force_row_wise=True,
            verbose=-1,
        )
        model.fit(x, y, group=groups, init_score=init, eval_at=[EVAL_AT])
        self._booster = model.booster_

    def _score(self, features: np.ndarray, valid: np.ndarray) -> np.ndarray:
        assert self._booster is not None
        n, width, f = features.shape
        flat = self._booster.predict(
            features.reshape(n * width, f), num_threads=self.config.num_threads
        )
        trees = np.asarray(flat, dtype=np.float32).reshape(n, width)
        if self.config.blend_weight == 0:
            return trees
        return trees + self.config.blend_weight * blend_prior(features, valid, self.feature_names)

    def _save_parameters(self, path: Path) -> None:
        assert self._booster is not None
        self._booster.save_model(str(path / _TREES))

    def _load_parameters(self, path: Path) -> None:
        import lightgbm

        if not (path / _TREES).is_file():
            raise ModelFormatError(f"no {_TREES} in {path}: incomplete lambdarank ranker")
        self._booster = lightgbm.Booster(model_file=str(path / _TREES))
