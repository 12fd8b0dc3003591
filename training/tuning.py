"""Honest tuning on a validation split carved from the training split, never the test split.

``fit_tuned_pipeline`` fits the sources on the inner training part, picks the blend's
normalisation and weights by validation NDCG@10 (falling back to the best single source when
the blend does not beat it clearly), trains each ranker kind (the MLP and LightGBM
lambdarank) on the warm validation users' candidates and keeps the kind with the best
cross-validated NDCG@10 only if it clearly beats the blend on validation users it did not
train on, then refits the sources on the whole training split with what was chosen.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from core.errors import DatasetError
from models.base import PAD_ID, SourceRole, top_k
from models.config import ModelConfig
from models.ensemble import (
    NORMALISATIONS,
    Blend,
    EnsembleConfig,
    blend,
    default_weights,
    weight_vector,
)
from models.families import family, fit_source, make_source
from models.interactions import Interactions, Weighting
from models.lambdarank import LambdaRankConfig
from models.pair_features import NoPairFeatures, PairFeatures, ranker_feature_names, ranker_inputs
from models.pipeline import PipelineConfig, RecommendationPipeline
from models.ranker import Ranker, RankerConfig, useful_lists
from models.rankers import make_ranker
from models.side_info import ItemFeatures
from training.evaluate import Holdout, build_holdout
from training.metrics import ndcg_at_k, ndcg_from_hits, ndcg_per_user
from training.splits import validation_split

if TYPE_CHECKING:
    import pandas as pd

#: Cut-off that tuning optimises.
TUNE_K = 10
#: A gated stage (the blend over the best single source, the ranker over the blend) is kept
#: only if its mean per-user validation NDCG@10 gain exceeds this many standard errors of the
#: gain (one-sided 95 %): a gain inside the noise of the validation users is not evidence.
GATE_Z = 1.645


def default_grids() -> dict[str, Sequence[ModelConfig]]:
    """Small validation grids for the sources that are cheap to refit: trending's window and
    half-life (what is "trending" differs between a random and a temporal split), item-KNN's
    neighbourhood size and RP3beta's popularity penalty."""
    from models.itemknn import ItemKNNConfig
    from models.rp3beta import RP3betaConfig
    from models.trending import TrendingConfig

    trending = [
        TrendingConfig(window_days=window, half_life_days=half_life)
        for window in (30.0, 180.0, 3650.0)
        for half_life in (7.0, 30.0, 365.0, None)
    ]
    return {
        "trending": trending,
        "itemknn": [ItemKNNConfig(neighbours=n) for n in (50, 100, 200)],
        "rp3beta": [RP3betaConfig(beta=beta) for beta in (0.3, 0.45, 0.6)],
    }


#: The rankers ``fit_tuned_pipeline`` tries by default: one of each kind.
DEFAULT_RANKERS: tuple[RankerConfig | LambdaRankConfig, ...] = (
    RankerConfig(),
    LambdaRankConfig(),
)


@dataclass
class TuningReport:
    """What validation chose and how it scored (validation NDCG@10).

    ``ranker_kind`` is the kind with the best two-fold NDCG@10 (``ranker_ndcg``; every kind's
    in ``ranker_scores``); it is served only when ``use_ranker`` (it passed the gate).
    ``cold_start`` names the trending sources that serve users no personal source knows, with
    their blend weights and configs. ``pair_features`` is the provider the rankers were trained
    with (features as known at the end of the inner training part).
    """

    ensemble: EnsembleConfig
    blend_ndcg: float
    ranker_ndcg: float | None = None
    use_ranker: bool = False
    ranker_kind: str | None = None
    ranker_scores: dict[str, float] = field(default_factory=dict)
    n_validation_users: int = 0
    n_blend_users: int = 0
    n_ranker_users: int = 0
    source_ndcg: dict[str, float] = field(default_factory=dict)
    model_choices: dict[str, dict[str, Any]] = field(default_factory=dict)
    cold_start: dict[str, Any] = field(default_factory=dict)
    pair_features: PairFeatures | None = None


def _padded(ids: np.ndarray, k: int) -> np.ndarray:
    if ids.shape[1] < k:
        return np.pad(ids, ((0, 0), (0, k - ids.shape[1])), constant_values=PAD_ID)
    return ids


def _ndcg(ids: np.ndarray, relevant: Sequence[set[int]], k: int = TUNE_K) -> float:
    return ndcg_at_k(_padded(ids, k), relevant, k)


def gain_check(
    better: np.ndarray, base: np.ndarray, relevant: Sequence[set[int]], k: int = TUNE_K
) -> dict[str, float | bool]:
    """Whether ranking ``better`` beats ranking ``base`` on NDCG@k by more than ``GATE_Z``
    standard errors of the mean per-user gain: ``{"gain", "gain_se", "passed"}``."""
    diff = ndcg_per_user(_padded(better, k), relevant, k) - ndcg_per_user(
        _padded(base, k), relevant, k
    )
    diff = diff[np.isfinite(diff)]
    if diff.size == 0:
        raise ValueError("no validation user has a relevant item: nothing to compare")
    gain = float(diff.mean())
    se = float(diff.std(ddof=1) / np.sqrt(diff.size)) if diff.size > 1 else float("inf")
    return {"gain": gain, "gain_se": se, "passed": bool(gain > GATE_Z * se)}


def tune_model(
    name: str,
    inner: Interactions,
    holdout: Holdout,
    grid: Iterable[ModelConfig],
    item_features: ItemFeatures | None = None,
) -> tuple[ModelConfig, dict[str, float]]:
    """The config of model ``name`` with the best validation NDCG@10, and every trial's score."""
    best: tuple[float, ModelConfig] | None = None
    scores: dict[str, float] = {}
    for config in grid:
        model = fit_source(make_source(name, config), inner, item_features)
        ids, _ = model.recommend(holdout.user_ids, TUNE_K)
        value = _ndcg(ids, holdout.relevant)
        scores[config.model_dump_json()] = value
        if best is None or value > best[0]:
            best = (value, config)
    if best is None:
        raise ValueError(f"an empty grid for {name}: give at least one config")
    return best[1], scores


def weight_grid(names: tuple[str, ...], step: float) -> list[dict[str, float]]:
    """Every weighting of ``names`` on the simplex with the given step (weights sum to 1)."""
    if not 0 < step <= 1:
        raise ValueError(f"the grid step must be in (0, 1], not {step}")
    units = round(1 / step)
    grid = []
    for combo in itertools.product(range(units + 1), repeat=len(names) - 1):
        if sum(combo) <= units:
            last = units - sum(combo)
            grid.append({n: v / units for n, v in zip(names, (*combo, last), strict=True)})
    return grid


def blend_ndcg(
    candidates: Blend, labels: np.ndarray, n_relevant: np.ndarray, weights: np.ndarray, k: int
) -> float:
    """Mean NDCG@k of the blend re-weighted by ``weights``, from candidate ``labels``.

    ``labels``: bool ``(n, width)`` whether each candidate is relevant; ``n_relevant``: the
    size of each user's whole relevant set (relevant items outside the candidates still count
    in the ideal DCG). The labels are looked up once per blend, not once per weighting.
    """
    valid = candidates.item_ids != PAD_ID
    scores = np.where(valid, candidates.source_scores @ weights, -np.inf)
    if min(k, scores.shape[1]) == 0:
        return 0.0
    columns, _ = top_k(scores, k, np.arange(scores.shape[1]))
    taken = columns[:, : min(k, scores.shape[1])]
    found = np.take_along_axis(labels & valid, np.maximum(taken, 0), axis=1) & (taken != PAD_ID)
    return float(np.mean(ndcg_from_hits(found, n_relevant, k)))


def tune_weights(
    blends: Mapping[str, Blend],
    relevant: Sequence[Collection[int]],
    k: int = 10,
    step: float = 0.1,
) -> tuple[EnsembleConfig, float, list[dict[str, object]]]:
    """The normalisation and weights whose blend has the best NDCG@k against ``relevant``.

    ``blends`` holds one blend of the same validation users per normalisation, ``relevant``
    each user's validation items (users without any are skipped). Returns the best config
    (depth left at its default), its NDCG@k and every trial.
    """
    best: tuple[float, EnsembleConfig] | None = None
    trials: list[dict[str, object]] = []
    sizes = np.array([len(set(r)) for r in relevant])
    rows = np.flatnonzero(sizes > 0)
    if rows.size == 0:
        raise ValueError("no validation user has a relevant item: nothing to tune on")
    for method, base in blends.items():
        if base.item_ids.shape[0] != len(relevant):
            raise ValueError(
                f"the {method} blend has {base.item_ids.shape[0]} users, relevant has "
                f"{len(relevant)}"
            )
        labels = np.zeros(base.item_ids.shape, dtype=bool)
        for i in map(int, rows):
            items = np.fromiter(set(relevant[i]), dtype=np.int64)
            labels[i] = np.isin(base.item_ids[i], items)
        sub = base.rows(rows)
        for weights in weight_grid(base.names, step):
            if not any(weights.values()):
                continue
            w = weight_vector(base.names, weights)
            value = blend_ndcg(sub, labels[rows], sizes[rows], w, k)
            trials.append({"normalisation": method, "weights": weights, "ndcg": value})
            if best is None or value > best[0]:
                best = (value, EnsembleConfig(weights=weights, normalisation=method))
    if best is None:
        raise ValueError("no blend to tune: give at least one normalisation's blend")
    return best[1], best[0], trials


def _labels(ids: np.ndarray, relevant: Sequence[set[int]]) -> np.ndarray:
    out = np.zeros(ids.shape, dtype=bool)
    for i, items in enumerate(relevant):
        out[i] = np.isin(ids[i], np.fromiter(items, dtype=np.int64, count=len(items)))
    return out & (ids != PAD_ID)


@dataclass(frozen=True)
class RankerTrainingSet:
    """Ranker features and labels of the warm validation users' tuned-blend candidates.

    ``rows``: positions of those users among the validation users (cold-start users are never
    re-ranked, so never trained on); the arrays hold one candidate list per row.
    """

    rows: np.ndarray
    features: np.ndarray
    labels: np.ndarray
    valid: np.ndarray
    names: tuple[str, ...]


def ranker_training_set(
    holdout: Holdout, tuned: Blend, warm: np.ndarray, provider: PairFeatures
) -> RankerTrainingSet:
    """The features (blend's, then ``provider``'s) and labels (validation items) of the
    ``warm`` validation users' ``tuned`` candidates."""
    rows = np.flatnonzero(warm)
    candidates = tuned.rows(rows)
    features = ranker_inputs(holdout.user_ids[rows], candidates, provider)
    labels = _labels(candidates.item_ids, [holdout.relevant[i] for i in rows])
    names = ranker_feature_names(tuned.names, tuple(provider.names))
    return RankerTrainingSet(rows, features, labels, candidates.item_ids != PAD_ID, names)


def cross_validated_order(
    config: RankerConfig | LambdaRankConfig,
    data: RankerTrainingSet,
    tuned: Blend,
    seed: int,
) -> np.ndarray:
    """The validation users' candidate ids re-ranked two-fold: each half of ``data``'s users by
    a ranker trained on the other half; the other users (cold start) keep ``tuned``'s order."""
    fold = np.random.default_rng(seed).random(data.rows.size) < 0.5
    reranked = tuned.item_ids.copy()
    for part in (fold, ~fold):
        probe = make_ranker(config).fit(
            data.features[~part], data.labels[~part], data.valid[~part], data.names
        )
        scores = probe.score(data.features[part], data.valid[part])
        order = np.argsort(-scores, axis=1, kind="stable")
        rows = data.rows[part]
        reranked[rows] = np.take_along_axis(tuned.item_ids[rows], order, axis=1)
    return reranked


def _gated_ranker(
    configs: Sequence[RankerConfig | LambdaRankConfig],
    data: RankerTrainingSet,
    holdout: Holdout,
    tuned: Blend,
    seed: int,
    report: TuningReport,
) -> Ranker | None:
    """The kind with the best two-fold NDCG@10, trained on every warm validation list, if it
    beats the blend by more than ``GATE_Z`` standard errors (recorded in ``report``); else
    None. Every kind is cross-validated on the same folds."""
    kinds: dict[str, dict[str, Any]] = {}
    for config in configs:
        try:
            reranked = cross_validated_order(config, data, tuned, seed)
        except ValueError as exc:  # a fold without a list to learn from
            kinds[config.kind] = {"skipped": str(exc)}
            continue
        value = _ndcg(reranked, holdout.relevant)
        check = gain_check(reranked, tuned.item_ids, holdout.relevant)
        report.ranker_scores[config.kind] = value
        kinds[config.kind] = {
            "ranker_ndcg_2fold": value,
            "gain": check["gain"],
            "gain_se": check["gain_se"],
            "config": config.model_dump(mode="json"),
        }
    check_record: dict[str, Any] = {
        "blend_ndcg": report.blend_ndcg,
        "n_ranker_users": int(data.rows.size),
        "kinds": kinds,
    }
    report.model_choices["ranker_check"] = check_record
    if not report.ranker_scores:
        check_record["skipped"] = "; ".join(f"{k}: {v['skipped']}" for k, v in kinds.items())
        return None
    best = max(report.ranker_scores, key=lambda kind: report.ranker_scores[kind])
    report.ranker_kind = best
    report.ranker_ndcg = report.ranker_scores[best]
    gain, gain_se = kinds[best]["gain"], kinds[best]["gain_se"]
    report.use_ranker = bool(gain > GATE_Z * gain_se)
    check_record.update(
        best_kind=best,
        ranker_ndcg_2fold=report.ranker_ndcg,
        gain=gain,
        gain_se=gain_se,
        passed=report.use_ranker,
    )
    if not report.use_ranker:
        return None
    config = next(c for c in configs if c.kind == best)
    return make_ranker(config).fit(data.features, data.labels, data.valid, data.names)


def _cold_start(
    sources: Sequence[str], ensemble: EnsembleConfig, configs: Mapping[str, ModelConfig]
) -> dict[str, Any]:
    """Which trending sources serve users no personal source knows, their weights and configs."""
    trending = [name for name in sources if family(name).role is SourceRole.TRENDING]
    weights = dict(ensemble.weights)
    return {
        "sources": trending,
        "weights": {name: weights.get(name, 0.0) for name in trending},
        "configs": {
            name: (configs.get(name) or make_source(name).config).model_dump(mode="json")
            for name in trending
        },
    }


def fit_tuned_pipeline(
    train: pd.DataFrame,
    protocol: str,
    sources: Sequence[str],
    source_configs: Mapping[str, ModelConfig] | None = None,
    item_features: ItemFeatures | None = None,
    rankers: Sequence[RankerConfig | LambdaRankConfig] = DEFAULT_RANKERS,
    weight: Weighting = "count",
    depth: int = 100,
    seed: int = 42,
    step: float | None = None,
    features_for: Callable[[pd.DataFrame], PairFeatures] | None = None,
    grids: Mapping[str, Sequence[ModelConfig]] | None = None,
) -> tuple[RecommendationPipeline, TuningReport]:
    """Tune blend and ranker on a validation split of ``train``; fit the pipeline on ``train``.

    ``step`` is the weight grid's step (default 0.1 up to five sources, 0.2 above, to bound
    the grid). Blend weights and the blend's gate are chosen on the validation users a
    personal source knows (all of them when none is known): cold-start users get the
    cold-start source's list whatever the weights. ``rankers`` holds at most one config per
    kind; empty: blend only. Each ranker learns from the blend's features and
    ``features_for(history)``'s pair features (the features as known at the end of
    ``history``, here the inner training part; None: the blend's features only), on the
    tuned blend's candidates of the validation users a personal source knows (cold-start
    users are never re-ranked). Each kind is scored by two-fold
    cross-validation over those users (trained on one half, ranking the other); the kind with
    the best NDCG@10 is kept only if it beats the tuned blend's validation NDCG@10 by more
    than ``GATE_Z`` standard errors of the per-user gain; it is then retrained on all of them.
    The returned pipeline has no pair features attached: attach the serving features (the
    report's ``pair_features`` are those the rankers were trained with). Likewise the tuned
    blend is kept only if it beats the best single source that way, else that source alone is served
    (weight 1; the others are still fitted, for explanations and the ranker's features).
    ``grids`` maps a source name to configs to try; the one with the best validation NDCG@10
    replaces ``source_configs[name]`` (see ``default_grids``). A validation split too small to
    train the ranker on (no list with both a relevant and another item) leaves it off.
    """
    kinds = [config.kind for config in rankers]
    if len(set(kinds)) != len(kinds):
        raise ValueError(f"give at most one config per ranker kind, not {kinds}")
    configs = dict(source_configs or {})
    for name in sources:
        family(name)  # unknown names fail before any fitting
    inner_frame, valid_frame = validation_split(train, protocol, seed)
    inner = Interactions.from_events(inner_frame, weight)
    try:
        holdout = build_holdout(inner, valid_frame)
    except DatasetError as exc:
        raise DatasetError(f"cannot tune on the validation split: {exc}") from exc
    report = TuningReport(EnsembleConfig(), 0.0, n_validation_users=holdout.n_users)
    models = {}
    for name in sources:
        grid = list((grids or {}).get(name, ()))
        if grid:
            configs[name], trials = tune_model(name, inner, holdout, grid, item_features)
            report.model_choices[name] = {
                "config": configs[name].model_dump(mode="json"),
                "trials": trials,
            }
        models[name] = fit_source(make_source(name, configs.get(name)), inner, item_features)
    base = PipelineConfig(sources=tuple(sources), ensemble=EnsembleConfig(depth=depth))
    probe = RecommendationPipeline(models, base, item_features=item_features)
    users = holdout.user_ids
    lists = probe.retrieve(users, depth)
    # Cold-start users always get the cold-start source's list, whatever the blend weighs:
    # the blend is tuned (and gated) on the users a personal source knows, when there are any.
    warm = probe.personalized(users)
    rows = np.flatnonzero(warm) if warm.any() else np.arange(users.size)
    report.n_blend_users = int(rows.size)
    relevant = [holdout.relevant[i] for i in rows]
    for name, (ids, _) in lists.items():
        report.source_ndcg[name] = _ndcg(ids[rows], relevant)
    start = default_weights(probe.roles)
    blends = {m: blend(lists, start, m, depth) for m in NORMALISATIONS}
    step = step or (0.1 if len(sources) <= 5 else 0.2)
    chosen, value, _ = tune_weights(
        {m: b.rows(rows) for m, b in blends.items()}, relevant, TUNE_K, step
    )
    tuned = blends[chosen.normalisation].reweighted(chosen.weights)
    best = max(report.source_ndcg, key=lambda name: report.source_ndcg[name])
    check = gain_check(tuned.item_ids[rows], lists[best][0][rows], relevant)
    report.model_choices["blend_check"] = {"best_source": best, **check}
    if not check["passed"]:
        chosen = chosen.model_copy(update={"weights": {best: 1.0}})
        tuned = blends[chosen.normalisation].reweighted(chosen.weights)
        value = report.source_ndcg[best]
    report.ensemble = chosen.model_copy(update={"depth": depth})
    report.blend_ndcg = value
    report.cold_start = _cold_start(sources, report.ensemble, configs)
    trained: Ranker | None = None
    if rankers:
        provider = features_for(inner_frame) if features_for is not None else NoPairFeatures()
        report.pair_features = provider
        data = ranker_training_set(holdout, tuned, probe.personalized(users), provider)
        report.n_ranker_users = int(data.rows.size)
        try:
            useful_lists(data.labels, data.valid)
        except ValueError as exc:
            report.model_choices["ranker_check"] = {"skipped": str(exc)}
        else:
            trained = _gated_ranker(rankers, data, holdout, tuned, seed, report)
    config = PipelineConfig(
        sources=tuple(sources), ensemble=report.ensemble, use_ranker=report.use_ranker
    )
    full = Interactions.from_events(train, weight)
    pipeline = RecommendationPipeline.fit(
        full, config=config, source_configs=configs, item_features=item_features, ranker=trained
    )
    return pipeline, report
