"""Retrieve -> blend -> rank -> filter: the one path from user ids to top-k items, everywhere.

Offline evaluation and serving both call it. Sources (any ``Recommender``: collaborative,
content, trending) propose candidates; the ensemble blends them with per-source normalised
scores and weights; an optional ranker (``models.rankers``) re-scores the blend of users a
personal source knows from the blend's features and those of an attached ``PairFeatures``
provider (the feature store); post-processing drops watched, unavailable and rule-breaking
items, re-ranks for diversity and cuts to k. Users no source knows get the trending sources'
items in the blend's order (optionally of chosen genres first): the ranker never touches them.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Collection, Mapping, Sequence
from pathlib import Path
from typing import Self

import numpy as np
from pydantic import Field

from core.errors import ReelRankError
from models.base import (
    PAD_ID,
    PAD_SCORE,
    EmbeddingModel,
    Recommender,
    SourceRole,
    as_ids,
    check_k,
    empty_result,
)
from models.config import ModelConfig
from models.ensemble import Blend, EnsembleConfig, blend, default_weights, weight_vector
from models.errors import ModelFormatError
from models.faiss_index import ItemIndex
from models.families import family, fit_source, make_source
from models.interactions import Interactions
from models.pair_features import NoPairFeatures, PairFeatures, blend_feature_names, ranker_inputs
from models.postprocess import (
    Explanation,
    PostProcessConfig,
    anchor_items,
    business_mask,
    compact,
    diversify,
    exclusion_mask,
    genre_cold_start,
    reason,
)
from models.ranker import Ranker
from models.rankers import load_ranker
from models.side_info import ItemFeatures

_MANIFEST = "pipeline.json"
#: 3: the ranker is saved by kind (neural or lambdarank) and reads external pair features.
_FORMAT = 3
_log = logging.getLogger(__name__)


class PipelineConfig(ModelConfig):
    """Which sources feed the pipeline and how their candidates are blended and filtered."""

    sources: tuple[str, ...] = Field(("als", "popularity"), description="Source model names.")
    index_source: str | None = Field(
        None,
        description="Embedding source (user and item vectors) whose candidates are retrieved "
        "through a FAISS index; None: ALS when configured, else the first embedding source.",
    )
    ensemble: EnsembleConfig = Field(default_factory=EnsembleConfig)
    use_ranker: bool = Field(
        True,
        description="Re-score warm users' candidates with the ranker when one is attached "
        "(and pair features are attached).",
    )
    postprocess: PostProcessConfig = Field(default_factory=PostProcessConfig)
    explain_depth: int = Field(
        50, gt=0, description="Similar items searched for a watched anchor per explanation."
    )

    @property
    def indexed_source(self) -> str | None:
        """The source behind the FAISS index (None when no source is an embedding model)."""
        if self.index_source is not None:
            return self.index_source
        embedding = [name for name in self.sources if family(name).embedding]
        if "als" in embedding:
            return "als"
        return embedding[0] if embedding else None


class RecommendationPipeline:
    """Sources -> ensemble -> ranker -> post-processing, for a batch of users."""

    def __init__(
        self,
        sources: Mapping[str, Recommender],
        config: PipelineConfig | None = None,
        *,
        index: ItemIndex | None = None,
        ranker: Ranker | None = None,
        item_features: ItemFeatures | None = None,
    ) -> None:
        if not sources:
            raise ValueError("a pipeline needs at least one source model")
        self.config = config or PipelineConfig(sources=tuple(sources))
        if tuple(sources) != self.config.sources:
            raise ValueError(
                f"sources {list(sources)} differ from the config's {list(self.config.sources)}"
            )
        self.sources = dict(sources)
        self.roles = {name: family(name).role for name in self.sources}
        if index is not None:
            index.check_matches(self._indexed_model(self.config, self.sources))
        self.index = index
        if ranker is not None:
            expected = blend_feature_names(tuple(self.sources))
            if ranker.feature_names[: len(expected)] != expected:
                raise ValueError(
                    f"the ranker was trained on features {list(ranker.feature_names)}, the "
                    f"pipeline's sources give {list(expected)} first"
                )
        self.ranker = ranker
        self.item_features = item_features
        self._pair_features: PairFeatures | None = None
        self._warned_no_features = False
        if ranker is not None and len(ranker.feature_names) == len(
            blend_feature_names(self.config.sources)
        ):
            # trained on the blend's features alone: nothing outside the pipeline to attach
            self._pair_features = NoPairFeatures()

    # -- pair features ------------------------------------------------------------------------
    def attach_features(self, provider: PairFeatures | None) -> None:
        """Serve the ranker with ``provider``'s pair features (None detaches them).

        ``ValueError`` when the pipeline has a ranker trained on other features: its columns
        must be the blend's followed by exactly ``provider.names``.
        """
        if provider is not None and self.ranker is not None:
            blend_names = blend_feature_names(tuple(self.sources))
            trained = self.ranker.feature_names[len(blend_names) :]
            if tuple(provider.names) != trained:
                raise ValueError(
                    f"the {self.ranker.kind} ranker was trained on pair features "
                    f"{list(trained)}, the provider gives {list(provider.names)}: attach the "
                    f"features it was trained with"
                )
        self._pair_features = provider
        self._warned_no_features = False

    @property
    def pair_features(self) -> PairFeatures | None:
        """The attached pair-feature provider, if any."""
        return self._pair_features

    @property
    def ranking_active(self) -> bool:
        """Whether warm users' candidates are re-scored: a ranker, ``config.use_ranker`` and
        the pair features it was trained on attached."""
        return (
            self.ranker is not None and self.config.use_ranker and self._pair_features is not None
        )

    # -- construction -------------------------------------------------------------------------
    @staticmethod
    def _indexed_model(
        config: PipelineConfig, sources: Mapping[str, Recommender]
    ) -> EmbeddingModel:
        """The source ``config.index_source`` names; ``ValueError`` unless it is a configured
        embedding model."""
        name = config.indexed_source
        model = sources.get(name) if name is not None else None
        if model is None:
            raise ValueError(f"an item index serves the {name!r} source, which is not configured")
        if not isinstance(model, EmbeddingModel):
            raise ValueError(f"the index source {name!r} has no user and item vectors to index")
        return model

    @classmethod
    def fit(
        cls,
        interactions: Interactions,
        *,
        config: PipelineConfig | None = None,
        source_configs: Mapping[str, ModelConfig] | None = None,
        item_features: ItemFeatures | None = None,
        ranker: Ranker | None = None,
    ) -> Self:
        """Fit every configured source on ``interactions`` (``source_configs`` configures any
        source by name); index the ``config.indexed_source``; attach ``ranker`` (it ranks once
        its pair features are attached with ``attach_features``)."""
        config = config or PipelineConfig()
        configs = source_configs or {}
        models = {
            name: fit_source(make_source(name, configs.get(name)), interactions, item_features)
            for name in config.sources
        }
        index = None
        if config.indexed_source is not None:
            index = ItemIndex.from_model(cls._indexed_model(config, models))
        return cls(models, config, index=index, ranker=ranker, item_features=item_features)

    @property
    def interactions(self) -> Interactions:
        """The interactions the sources were fitted on (those of the first source)."""
        return next(iter(self.sources.values())).interactions

    @property
    def weights(self) -> dict[str, float]:
        """The blend weight of each source (the role defaults unless configured)."""
        return dict(self.config.ensemble.weights) or default_weights(self.roles)

    def personalized(self, user_ids: np.ndarray) -> np.ndarray:
        """Which users a non-trending source knows (the rest are cold start)."""
        users = as_ids(user_ids)
        known = np.zeros(users.size, dtype=bool)
        for name, model in self.sources.items():
            if self.roles[name] is not SourceRole.TRENDING:
                known |= model.interactions.user_index(users) >= 0
        return known

    def seen_items(self, user_ids: np.ndarray) -> list[set[int]]:
        """Item ids each user interacted with in the data the pipeline was fitted on."""
        return self.interactions.seen_items(as_ids(user_ids))

    # -- stages -------------------------------------------------------------------------------
    def retrieve(
        self, user_ids: np.ndarray, depth: int, exclude_seen: bool = True
    ) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """Each source's top-``depth`` candidates per user (the index source through FAISS)."""
        users = as_ids(user_ids)
        lists: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        for name, model in self.sources.items():
            if (
                self.index is not None
                and name == self.config.indexed_source
                and isinstance(model, EmbeddingModel)
            ):
                vectors, known = model.user_vectors(users)
                ids, scores = empty_result(users.size, depth)
                if known.any():
                    exclude = model.interactions.seen_items(users[known]) if exclude_seen else None
                    ids[known], scores[known] = self.index.search(vectors[known], depth, exclude)
                lists[name] = (ids, scores)
            else:
                lists[name] = model.recommend(users, depth, exclude_seen=exclude_seen)
        return lists

    def candidates(
        self, user_ids: np.ndarray, depth: int | None = None, exclude_seen: bool = True
    ) -> Blend:
        """The blended candidates, best first; warm users' re-scored by the ranker when
        ``ranking_active`` (cold-start users keep the blend's order)."""
        users = as_ids(user_ids)
        depth = depth or self.config.ensemble.depth
        lists = self.retrieve(users, depth, exclude_seen)
        blended = self._cold_start_order(
            users, blend(lists, self.weights, self.config.ensemble.normalisation, depth)
        )
        if self.ranker is None or not self.config.use_ranker:
            return blended
        if self._pair_features is None:
            if not self._warned_no_features:
                _log.warning(
                    "the pipeline has a %s ranker but no pair features attached: serving the "
                    "blend's order (call attach_features)",
                    self.ranker.kind,
                )
                self._warned_no_features = True
            return blended
        try:
            return self.rerank(users, blended)
        except (ReelRankError, OSError, RuntimeError) as exc:
            # the feature store failed for this request: the blend's order, never an error
            _log.warning("pair features failed (%s): serving the blend's order", exc)
            return blended

    def _cold_start_order(self, users: np.ndarray, candidates: Blend) -> Blend:
        """Cold-start rows in the trending sources' order, whatever the blend weighs them: a
        single trending source's own ranks (its tie-breaking too), several ones weighed
        equally."""
        trending = [n for n in candidates.names if self.roles[n] is SourceRole.TRENDING]
        if not trending:
            return candidates
        cold = ~self.personalized(users)
        if not cold.any():
            return candidates
        valid = candidates.item_ids[cold] != PAD_ID
        scores = candidates.scores.copy()
        if len(trending) == 1:
            # order cold rows by the source's own ranks (unproposed last), keep warm rows,
            # then give cold rows the source's normalised scores
            column = candidates.names.index(trending[0])
            ranks = candidates.source_ranks[cold][:, :, column].astype(np.float32)
            width = np.float32(candidates.item_ids.shape[1] + 1)
            key = scores
            key[cold] = np.where(ranks > 0, width - ranks, np.where(valid, 0.0, PAD_SCORE))
            ordered = candidates.reordered(key)
            own = np.where(
                ordered.item_ids != PAD_ID, ordered.source_scores[:, :, column], PAD_SCORE
            )
            final = np.where(cold[:, None], own, ordered.scores).astype(np.float32)
            return Blend(
                ordered.names,
                ordered.item_ids,
                final,
                ordered.source_scores,
                ordered.source_ranks,
                ordered.raw_scores,
            )
        w = weight_vector(candidates.names, {n: 1.0 / len(trending) for n in trending})
        scores[cold] = np.where(valid, candidates.source_scores[cold] @ w, PAD_SCORE)
        return candidates.reordered(scores)

    def rerank(self, user_ids: np.ndarray, candidates: Blend) -> Blend:
        """``candidates`` with the warm users' rows re-scored by the ranker from the attached
        pair features; cold-start rows (and everything, without ranker or features) as given."""
        if self.ranker is None or self._pair_features is None:
            return candidates
        users = as_ids(user_ids)
        warm = np.flatnonzero(self.personalized(users))
        if warm.size == 0:
            return candidates
        rows = candidates.rows(warm)
        inputs = ranker_inputs(users[warm], rows, self._pair_features)
        scores = candidates.scores.copy()
        scores[warm] = self.ranker.score(inputs, rows.item_ids != PAD_ID)
        # cold rows keep their scores: a stable re-sort leaves their order as it is
        return candidates.reordered(scores)

    def _run(
        self,
        user_ids: np.ndarray,
        k: int,
        seen: Sequence[Collection[int]] | None,
        unavailable: Collection[int] | None,
        genres: Sequence[Collection[str]] | None,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, Blend, list[set[int]]]:
        k = check_k(k)
        users = as_ids(user_ids)
        history = self.seen_items(users)
        if seen is None:
            exclude_seen, seen_sets = True, history
        else:
            if len(seen) != users.size:
                raise ValueError(f"seen has {len(seen)} sets for {users.size} users")
            exclude_seen, seen_sets = False, [set(s) for s in seen]
        if genres is not None and len(genres) != users.size:
            raise ValueError(f"genres has {len(genres)} entries for {users.size} users")
        blocked = set(unavailable or ())
        exclude = [s | blocked for s in seen_sets]
        # Sources drop training items themselves; only what they cannot know is filtered after
        # them, so only that widens the candidate lists.
        after = [blocked] if exclude_seen else exclude
        widest = max((len(s) for s in after), default=0)
        depth = max(self.config.ensemble.depth, k + widest)
        if genres is not None and any(genres):
            # chosen genres may be rare among the top trending items: look at every item
            depth = max(depth, *(m.interactions.item_ids.size for m in self.sources.values()))
        ranked = self.candidates(users, depth, exclude_seen)
        keep = exclusion_mask(ranked.item_ids, exclude) & business_mask(
            ranked.item_ids, self.config.postprocess, self.item_features
        )
        ids, scores = compact(ranked.item_ids, ranked.scores, keep, ranked.item_ids.shape[1] or 1)
        cold = ~self.personalized(users)
        chose = np.zeros(users.size, dtype=bool)
        if genres is not None:
            for i in map(int, np.flatnonzero(cold)):
                ids[i], scores[i] = genre_cold_start(
                    ids[i], scores[i], self.item_features, genres[i]
                )
                chose[i] = bool(genres[i])
        top_ids, top_scores = compact(ids, scores, np.ones(ids.shape, dtype=bool), k)
        ids, scores = diversify(ids, scores, self.config.postprocess, self.item_features, k)
        # A new user's list is the cold-start source's (or their chosen genres'): no per-genre
        # cap there, so cold-start users get exactly what the cold-start source ranks.
        ids[cold], scores[cold] = top_ids[cold], top_scores[cold]
        return ids, scores, cold, ranked, [h | s for h, s in zip(history, seen_sets, strict=True)]

    # -- public API ---------------------------------------------------------------------------
    def recommend(
        self,
        user_ids: np.ndarray,
        k: int,
        seen: Sequence[Collection[int]] | None = None,
        unavailable: Collection[int] | None = None,
        genres: Sequence[Collection[str]] | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top-k item ids and scores per user, padded with -1 / -inf.

        ``seen``: items to exclude per user (default: what each user interacted with in the
        training data); ``unavailable``: item ids nobody may get (private, not ready);
        ``genres``: genres each user chose, put first for users no source knows (cold start).
        """
        ids, scores, _, _, _ = self._run(user_ids, k, seen, unavailable, genres)
        return ids, scores

    def recommend_explained(
        self,
        user_ids: np.ndarray,
        k: int,
        seen: Sequence[Collection[int]] | None = None,
        unavailable: Collection[int] | None = None,
        genres: Sequence[Collection[str]] | None = None,
    ) -> list[list[Explanation]]:
        """``recommend``, with per item the source that proposed it and its anchor item.

        The source is the one whose weighted normalised score contributed most; the anchor is
        the first item the user watched among that source's ``similar_items`` of the
        recommendation (collaborative and content sources only).
        """
        ids, scores, _, ranked, history = self._run(user_ids, k, seen, unavailable, genres)
        names = ranked.names
        weights = np.array([self.weights.get(n, 0.0) for n in names], dtype=np.float32)
        primary = np.full(ids.shape, -1, dtype=np.int64)
        proposers: list[list[tuple[str, ...]]] = []
        for i in range(ids.shape[0]):
            where = {int(v): j for j, v in enumerate(ranked.item_ids[i]) if v != PAD_ID}
            row: list[tuple[str, ...]] = []
            for j, item in enumerate(ids[i]):
                col = where.get(int(item))
                if col is None:
                    row.append(())
                    continue
                contribution = ranked.source_scores[i, col] * weights
                proposed = ranked.source_ranks[i, col] > 0
                primary[i, j] = int(np.argmax(np.where(proposed, contribution, -1.0)))
                row.append(tuple(n for n, p in zip(names, proposed, strict=True) if p))
            proposers.append(row)
        anchors = np.full(ids.shape, PAD_ID, dtype=np.int64)
        for s, name in enumerate(names):
            if self.roles[name] is SourceRole.TRENDING:
                continue
            mask = (primary == s) & (ids != PAD_ID)
            if not mask.any():
                continue
            similar, _ = self.sources[name].similar_items(ids[mask], self.config.explain_depth)
            grid = np.full((*ids.shape, similar.shape[1]), PAD_ID, dtype=np.int64)
            grid[mask] = similar
            found = anchor_items(grid, history, np.where(mask, ids, PAD_ID))
            anchors[mask] = found[mask]
        out: list[list[Explanation]] = []
        for i in range(ids.shape[0]):
            row_out = []
            for j in range(ids.shape[1]):
                if ids[i, j] == PAD_ID:
                    continue
                source = names[primary[i, j]] if primary[i, j] >= 0 else "unknown"
                anchor = int(anchors[i, j]) if anchors[i, j] != PAD_ID else None
                role = self.roles.get(source, SourceRole.TRENDING)
                row_out.append(
                    Explanation(
                        int(ids[i, j]),
                        float(scores[i, j]),
                        source,
                        proposers[i][j],
                        anchor,
                        reason(source, role, anchor),
                    )
                )
            out.append(row_out)
        return out

    def order_items(self, user_id: int, item_ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """A caller's own ``item_ids`` ordered for ``user_id``, best first, with scores.

        Every source scores the whole catalogue it knows (seen items included: the caller
        chose the list), the blend weighs them and the ranker re-scores a warm user's items as
        in ``candidates``; items no source knows keep the caller's order after the rest.
        """
        wanted = as_ids(item_ids)
        users = as_ids([user_id])
        width = max(m.interactions.item_ids.size for m in self.sources.values())
        lists = self.retrieve(users, max(width, 1), exclude_seen=False)
        blended = self._cold_start_order(
            users, blend(lists, self.weights, self.config.ensemble.normalisation, width)
        )
        row = blended.item_ids[0]
        by_id = np.argsort(row, kind="stable")
        spot = np.minimum(np.searchsorted(row[by_id], wanted), row.size - 1)
        known = (row.size > 0) & (row[by_id][spot] == wanted) & (wanted != PAD_ID)
        cols = np.where(known, by_id[spot], -1)
        picked = cols[known]
        sub = Blend(
            blended.names,
            blended.item_ids[:, picked],
            blended.scores[:, picked],
            blended.source_scores[:, picked],
            blended.source_ranks[:, picked],
            blended.raw_scores[:, picked],
        )
        if self.ranking_active and picked.size:
            try:
                sub = self.rerank(users, sub)
            except (ReelRankError, OSError, RuntimeError) as exc:
                _log.warning("pair features failed (%s): ordering by the blend", exc)
        sub = sub.reordered(sub.scores)
        unknown = wanted[~known]
        ids = np.concatenate([sub.item_ids[0], unknown])
        scores = np.concatenate([sub.scores[0], np.full(unknown.size, PAD_SCORE, dtype=np.float32)])
        return ids, scores

    def with_settings(
        self, weights: Mapping[str, float] | None = None, use_ranker: bool | None = None
    ) -> RecommendationPipeline:
        """A pipeline sharing this one's fitted parts, with other blend weights or ranker
        use (an experiment variant's settings); ``ValueError`` for unknown sources."""
        config = self.config
        if weights is not None:
            weight_vector(tuple(self.sources), weights)  # validates names and values
            config = config.model_copy(
                update={"ensemble": config.ensemble.model_copy(update={"weights": dict(weights)})}
            )
        if use_ranker is not None:
            config = config.model_copy(update={"use_ranker": use_ranker})
        twin = RecommendationPipeline(
            self.sources,
            config,
            index=self.index,
            ranker=self.ranker,
            item_features=self.item_features,
        )
        twin.attach_features(self._pair_features)
        return twin

    def similar_items(self, item_ids: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Items like each given one: content neighbours when a content source exists (so new
        videos with metadata get neighbours), else the first collaborative source's."""
        for role in (SourceRole.CONTENT, SourceRole.COLLABORATIVE, SourceRole.TRENDING):
            for name, model in self.sources.items():
                if self.roles[name] == role:
                    return model.similar_items(as_ids(item_ids), k)
        raise ValueError("the pipeline has no source that can find similar items")

    # -- persistence --------------------------------------------------------------------------
    def save(self, path: Path) -> Path:
        """Write every part into directory ``path`` (one sub-directory each)."""
        path.mkdir(parents=True, exist_ok=True)
        for name, model in self.sources.items():
            model.save(path / "sources" / name)
        if self.index is not None:
            self.index.save(path / "index")
        if self.ranker is not None:
            self.ranker.save(path / "ranker")
        if self.item_features is not None:
            self.item_features.save(path / "features", "items")
        body = {
            "format": _FORMAT,
            "config": self.config.model_dump(mode="json"),
            "index_digest": self.index.digest if self.index is not None else None,
            "ranker": self.ranker.kind if self.ranker is not None else None,
            "item_features": self.item_features is not None,
        }
        (path / _MANIFEST).write_text(json.dumps(body, indent=2))
        return path

    @classmethod
    def load(cls, path: Path) -> Self:
        """Read a directory written by ``save``; the index must match its source's vocabulary.

        Pair features are not saved: attach the serving provider with ``attach_features``."""
        manifest = path / _MANIFEST
        if not manifest.is_file():
            raise ModelFormatError(f"no {_MANIFEST} in {path}: not a saved pipeline")
        try:
            body = json.loads(manifest.read_text())
        except json.JSONDecodeError as exc:
            raise ModelFormatError(f"{manifest} is not valid JSON: {exc}") from exc
        if body.get("format") != _FORMAT:
            raise ModelFormatError(
                f"{path} has pipeline format {body.get('format')!r}; this version reads {_FORMAT}: "
                f"retrain it (format 3 rankers read the feature store's pair features)"
            )
        config = PipelineConfig.model_validate(body["config"])
        sources = {
            name: family(name).model.load(path / "sources" / name) for name in config.sources
        }
        index = ItemIndex.load(path / "index") if body.get("index_digest") else None
        ranker = load_ranker(path / "ranker") if body.get("ranker") else None
        features = (
            ItemFeatures.load(path / "features", "items") if body.get("item_features") else None
        )
        return cls(sources, config, index=index, ranker=ranker, item_features=features)
