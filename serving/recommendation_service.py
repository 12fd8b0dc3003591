"""The work behind every recommendation route: pick the experiment variant's model, run the
pipeline, apply request filters and promotions, explain, log the exposure.

Routes stay thin: each calls one method here. When no model can serve (registry, index or
features down), lists fall back to the catalogue's trending order with ``fallback`` set.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from sqlalchemy import bindparam, select

from core.db.models import Follow, InteractionEvent
from core.db.session import get_engine
from core.errors import NotFoundError, ReelRankError
from core.types import EventType
from serving import metrics
from serving.catalogue_snapshot import Catalogue, CatalogueSnapshot
from serving.list_steps import (
    Candidate,
    Viewer,
    fill,
    items_of,
    keep_allowed,
    title_of,
    trending_candidates,
)
from serving.recommender import ModelUnavailableError, RecommenderService, ServedModel
from serving.request_options import RequestOptions
from serving.schemas import (
    HomeFeed,
    HomeRow,
    UserRecommendations,
    VideoRecommendations,
)

if TYPE_CHECKING:
    from serving.experiments import Assignment, ExperimentRegistry
    from serving.exposure_log import ExposureLog

log = logging.getLogger(__name__)

#: Event types that mean the user has consumed a video (never recommended again).
CONSUMED = (EventType.PLAY, EventType.COMPLETE, EventType.LIKE, EventType.RATE)
#: Most recent history read per request.
HISTORY_DEPTH = 200
#: Candidates read when a filter or promotions may drop some of the top k.
NARROW_DEPTH = 200
#: Days a followed channel's upload counts as new.
NEW_DAYS = 30
_SECONDS_PER_DAY = 86_400.0
#: The viewer's recent consumption and followed channels: built once, compiled once.
_HISTORY = (
    select(InteractionEvent.video_id, InteractionEvent.event_type)
    .where(
        InteractionEvent.user_id == bindparam("user_id"),
        InteractionEvent.event_type.in_(CONSUMED),
    )
    .order_by(InteractionEvent.event_timestamp.desc())
    .limit(HISTORY_DEPTH)
)
_FOLLOWED = select(Follow.channel_id).where(Follow.user_id == bindparam("user_id"))


@dataclass(frozen=True)
class Serving:
    """The model a request is served with, and its experiment arm."""

    model: ServedModel | None
    assignment: Assignment | None
    fallback: bool = False
    problem: str | None = None


class BadRequestError(ReelRankError):
    """A request naming videos that cannot be served (answered with 422)."""


class RecommendationService:
    """Home feed, user lists, watch-next, similar, more from the creator and rerank."""

    def __init__(
        self,
        models: RecommenderService,
        catalogue: CatalogueSnapshot,
        experiments: ExperimentRegistry | None = None,
        exposures: ExposureLog | None = None,
    ) -> None:
        self.models = models
        self.catalogue = catalogue
        self.experiments = experiments
        self.exposures = exposures
        self._fresh: dict[tuple[int, int], np.ndarray] = {}

    def using(self, models: RecommenderService) -> RecommendationService:
        """The same service over other models (tests inject pipelines this way)."""
        return RecommendationService(models, self.catalogue, self.experiments, self.exposures)

    # -- choosing the model -------------------------------------------------------------------
    def _serving(self, user_id: int | None) -> Serving:
        assignment = None
        if self.experiments is not None and user_id is not None:
            assignment = self.experiments.assignment(user_id)
        try:
            if assignment is not None:
                model = self.models.variant(assignment.model, assignment.settings)
            else:
                model = self.models.model()
        except ModelUnavailableError as exc:
            log.warning("serving the trending fallback: %s", exc)
            return Serving(None, assignment, True, str(exc))
        return Serving(model, assignment)

    # -- the viewer -----------------------------------------------------------------------------
    def viewer(self, user_id: int | None, followed: bool = False) -> Viewer:
        """The viewer's recent consumption, newest first (completions apart), and the
        channels they follow when asked; read on one pooled connection, released at once so a
        request never holds a database connection while it computes."""
        if user_id is None:
            return Viewer(None)
        with get_engine(self.catalogue.database_url).connect() as connection:
            rows = connection.execute(_HISTORY, {"user_id": user_id}).all()
            channels = (
                {int(c) for (c,) in connection.execute(_FOLLOWED, {"user_id": user_id})}
                if followed
                else set()
            )
        history = list(dict.fromkeys(int(v) for v, _ in rows))
        completed = {int(v) for v, t in rows if t is EventType.COMPLETE}
        return Viewer(user_id, history, completed, set(history), channels)

    # -- shared steps ---------------------------------------------------------------------------
    def _record(
        self,
        surface: str,
        user_id: int | None,
        serving: Serving,
        items: Sequence[int],
        options: RequestOptions,
    ) -> dict[str, Any]:
        """The envelope of a response, with the exposure logged and counted."""
        recommendation_id = uuid.uuid4().hex
        model = serving.model
        assignment = serving.assignment
        if model is not None:
            label = model.label
        else:
            label = "trending-fallback" if serving.fallback else "catalogue"
        if self.exposures is not None:
            self.exposures.log(
                recommendation_id=recommendation_id,
                user_id=user_id if user_id is not None else 0,
                experiment=assignment.experiment if assignment else None,
                variant=assignment.variant if assignment else None,
                surface=surface,
                model=label if model is None else f"{label} v{model.version}",
                items=list(items),
                fallback=serving.fallback,
                context=options.context.model_dump(exclude_none=True),
            )
        metrics.observe_recommendations(
            surface, assignment.variant if assignment else None, serving.fallback
        )
        return {
            "recommendation_id": recommendation_id,
            "model": label,
            "model_version": model.version if model is not None else None,
            "experiment": assignment.experiment if assignment else None,
            "variant": assignment.variant if assignment else None,
            "fallback": serving.fallback,
        }

    # -- personal lists -----------------------------------------------------------------------
    def _personal(
        self, serving: Serving, viewer: Viewer, catalogue: Catalogue, options: RequestOptions
    ) -> tuple[list[Candidate], bool]:
        """The viewer's ranked candidates (deeper than k when a filter may drop some) and
        whether they are a cold-start list."""
        assert viewer.user_id is not None
        if serving.model is None:
            return trending_candidates(catalogue, viewer, options), True
        pipeline = serving.model.pipeline
        users = np.array([viewer.user_id], dtype=np.int64)
        depth = min(max(options.k * 4, NARROW_DEPTH), 500) if options.narrows else options.k
        seen = [pipeline.seen_items(users)[0] | viewer.consumed]
        explained = pipeline.recommend_explained(
            users,
            depth,
            seen=seen,
            unavailable=catalogue.unavailable,
            genres=[list(options.genres)] if options.genres else None,
        )[0]
        cold = not bool(pipeline.personalized(users)[0])
        return [
            Candidate(e.video_id, e.score, e.source, e.reason, e.anchor_id) for e in explained
        ], cold

    def _safe(self, serving: Serving, work: Callable[[Serving], Any], what: str) -> Any:
        """``work(serving)``, or ``work`` on the trending fallback when the model fails."""
        if serving.model is None:
            return work(serving)
        try:
            return work(serving)
        except Exception as exc:  # an index, feature store or model failure: still answer
            log.exception("%s failed with %s: serving the trending fallback", what, exc)
            return work(Serving(None, serving.assignment, True, str(exc)))

    def user_list(self, user_id: int, options: RequestOptions) -> UserRecommendations:
        """Top-k videos for a user."""
        catalogue = self.catalogue.current()
        viewer = self.viewer(user_id)

        def run(serving: Serving) -> tuple[Serving, list[Candidate], bool]:
            ranked, cold = self._personal(serving, viewer, catalogue, options)
            allowed = keep_allowed(ranked, catalogue, viewer, options)
            extra = keep_allowed(
                trending_candidates(catalogue, viewer, options), catalogue, viewer, options
            )
            return serving, fill(allowed, extra, options, catalogue, viewer), cold

        serving, chosen, cold = self._safe(self._serving(user_id), run, "recommendations")
        envelope = self._record("for_you", user_id, serving, [c.video_id for c in chosen], options)
        return UserRecommendations(
            **envelope,
            user_id=user_id,
            cold_start=cold,
            items=items_of(chosen, catalogue, options.fields),
        )

    def home(self, user_id: int, options: RequestOptions) -> HomeFeed:
        """Rows: for you; because you watched X; new from followed channels; trending."""
        catalogue = self.catalogue.current()
        viewer = self.viewer(user_id, followed=True)
        followed = viewer.followed

        def run(serving: Serving) -> tuple[Serving, list[HomeRow], bool]:
            shown: set[int] = set()
            rows: list[tuple[str, str, int | None, list[Candidate]]] = []
            ranked, cold = self._personal(serving, viewer, catalogue, options)
            popular = keep_allowed(
                trending_candidates(catalogue, viewer, options), catalogue, viewer, options
            )
            for_you = fill(
                keep_allowed(ranked, catalogue, viewer, options),
                popular,
                options,
                catalogue,
                viewer,
            )
            rows.append(("for_you", "For you", None, for_you))
            shown |= {c.video_id for c in for_you}
            anchor = viewer.history[0] if viewer.history else None
            if anchor is not None and serving.model is not None:
                similar = self._similar(
                    serving.model, anchor, catalogue, options.k * 3, with_new=False
                )
                because = keep_allowed(similar, catalogue, viewer, options, exclude=shown)
                if because:
                    title = title_of(catalogue, anchor)
                    for c in because:
                        c.anchor = anchor
                    rows.append(
                        (
                            "because_you_watched",
                            f"Because you watched {title}",
                            anchor,
                            because[: options.k],
                        )
                    )
                    shown |= {c.video_id for c in because[: options.k]}
            if followed:
                new = keep_allowed(
                    self._followed(catalogue, followed), catalogue, viewer, options, shown
                )[: options.k]
                if new:
                    rows.append(("new_from_followed", "New from channels you follow", None, new))
                    shown |= {c.video_id for c in new}
            row = [c for c in popular if c.video_id not in shown][: options.k]
            rows.append(("trending", "Trending now", None, row))
            out = [
                HomeRow(
                    kind=kind,
                    title=title,
                    anchor_video_id=anchor_id,
                    items=items_of(items[: options.k], catalogue, options.fields),
                )
                for kind, title, anchor_id, items in rows
            ]
            return serving, out, cold

        serving, rows, cold = self._safe(self._serving(user_id), run, "home feed")
        served = [item.video_id for row in rows for item in row.items]
        envelope = self._record("home", user_id, serving, served, options)
        return HomeFeed(**envelope, user_id=user_id, cold_start=cold, rows=rows)

    # -- video-anchored lists -------------------------------------------------------------------
    def _similar(
        self,
        model: ServedModel,
        video_id: int,
        catalogue: Catalogue,
        depth: int,
        with_new: bool = True,
    ) -> list[Candidate]:
        """The model's neighbours of ``video_id``, then (``with_new``) catalogued videos the
        model has not seen yet (new uploads) that share its genres."""
        pipeline = model.pipeline
        ids, scores = pipeline.similar_items(np.array([video_id], dtype=np.int64), depth)
        out = [
            Candidate(int(v), float(s), "similar", "similar to what you are watching")
            for v, s in zip(ids[0], scores[0], strict=True)
            if v >= 0 and v != video_id
        ]
        if not with_new:
            return out
        return out + self._new_like(pipeline.interactions.item_ids, video_id, catalogue)

    def _new_like(
        self, known: np.ndarray, video_id: int, catalogue: Catalogue, limit: int = 20
    ) -> list[Candidate]:
        """Videos the model has never seen (uploaded after training) sharing genres with
        ``video_id``, best overlap then newest first: how a new upload becomes recommendable
        before a retrain."""
        table = catalogue.table
        row = int(table.rows(np.array([video_id], dtype=np.int64))[0])
        if row < 0 or not table.genres[row]:
            return []
        key = (id(table), id(known))
        fresh = self._fresh.get(key)
        if fresh is None:
            fresh = np.flatnonzero(~np.isin(table.ids, known))
            self._fresh = {key: fresh}  # one entry: the newest table and model
        genres = table.genres[row]
        published = np.nan_to_num(table.published_at[fresh], nan=0.0)
        scored = [
            (-len(genres & table.genres[i]) / len(genres | table.genres[i]), -when, int(i))
            for i, when in zip(fresh.tolist(), published.tolist(), strict=True)
            if i != row and genres & table.genres[i]
        ]
        scored.sort()
        return [
            Candidate(int(table.ids[i]), -share, "new", "new, like what you are watching")
            for share, _, i in scored[:limit]
        ]

    @staticmethod
    def _followed(catalogue: Catalogue, channels: set[int]) -> list[Candidate]:
        table = catalogue.table
        cutoff = time.time() - NEW_DAYS * _SECONDS_PER_DAY
        mask = np.isin(table.channel_id, list(channels)) & (
            np.nan_to_num(table.published_at, nan=0.0) >= cutoff
        )
        rows = np.flatnonzero(mask)
        rows = rows[np.argsort(-table.published_at[rows], kind="stable")]
        return [
            Candidate(
                int(table.ids[i]),
                float(table.published_at[i]),
                "followed",
                "new from a channel you follow",
            )
            for i in rows
        ]

    def _video_list(
        self,
        surface: str,
        video_id: int,
        user_id: int | None,
        options: RequestOptions,
        make: Callable[[Serving, Catalogue, Viewer], list[Candidate]],
        model_free: bool = False,
        top_up: bool = False,
    ) -> VideoRecommendations:
        """One video-anchored list; with ``top_up``, a list shorter than k (an anchor the
        model has not seen, a narrow filter) is completed from trending."""
        catalogue = self.catalogue.current()
        if catalogue.table.rows(np.array([video_id], dtype=np.int64))[0] < 0:
            raise NotFoundError(f"video {video_id} not found")
        viewer = self.viewer(user_id)

        def run(serving: Serving) -> tuple[Serving, list[Candidate]]:
            allowed = keep_allowed(
                make(serving, catalogue, viewer), catalogue, viewer, options, exclude={video_id}
            )
            extra = keep_allowed(
                trending_candidates(catalogue, viewer, options),
                catalogue,
                viewer,
                options,
                exclude={video_id},
            )
            chosen = fill(allowed, extra, options, catalogue, viewer)
            if top_up and len(chosen) < options.k:
                have = {c.video_id for c in chosen}
                chosen += [c for c in extra if c.video_id not in have][: options.k - len(chosen)]
            return serving, chosen

        serving = Serving(None, None) if model_free else self._serving(user_id)
        serving, chosen = self._safe(serving, run, surface)
        envelope = self._record(surface, user_id, serving, [c.video_id for c in chosen], options)
        return VideoRecommendations(
            **envelope,
            video_id=video_id,
            user_id=user_id,
            items=items_of(chosen, catalogue, options.fields),
        )

    def watch_next(
        self, video_id: int, user_id: int | None, options: RequestOptions
    ) -> VideoRecommendations:
        """What to play after ``video_id``: its neighbours (new uploads included); for a
        given viewer, neighbours among the viewer's own candidates move up. An anchor the
        model has not seen yet (a new upload) is followed by its channel's other videos, and
        a list still short of k by trending."""

        def make(serving: Serving, catalogue: Catalogue, viewer: Viewer) -> list[Candidate]:
            if serving.model is None:
                return trending_candidates(catalogue, viewer, options)
            similar = self._similar(serving.model, video_id, catalogue, options.k * 4)
            interactions = serving.model.pipeline.interactions
            if interactions.item_index(np.array([video_id], dtype=np.int64))[0] < 0:
                similar += _creator_candidates(catalogue, video_id)
            if user_id is None or not similar:
                return similar
            # the viewer's own candidates lift the neighbours they would like anyway
            pipeline = serving.model.pipeline
            users = np.array([user_id], dtype=np.int64)
            depth = pipeline.config.ensemble.depth
            mine = pipeline.candidates(users, depth).item_ids[0]
            personal = {int(v): 1.0 - r / depth for r, v in enumerate(mine.tolist()) if v >= 0}
            n = len(similar)
            for rank, c in enumerate(similar):
                lift = personal.get(c.video_id)
                c.score = (1.0 - rank / n) + (lift or 0.0)
                if lift is not None:
                    c.reason = "up next for you"
            return sorted(similar, key=lambda c: -c.score)

        return self._video_list("watch_next", video_id, user_id, options, make, top_up=True)

    def similar(self, video_id: int, options: RequestOptions) -> VideoRecommendations:
        """Videos like ``video_id`` (for anyone)."""

        def make(serving: Serving, catalogue: Catalogue, viewer: Viewer) -> list[Candidate]:
            if serving.model is None:
                return trending_candidates(catalogue, viewer, options)
            return self._similar(serving.model, video_id, catalogue, options.k * 4)

        return self._video_list("similar", video_id, None, options, make)

    def more_from_creator(self, video_id: int, options: RequestOptions) -> VideoRecommendations:
        """The same channel's other videos, newest first."""

        def make(_serving: Serving, catalogue: Catalogue, _viewer: Viewer) -> list[Candidate]:
            return _creator_candidates(catalogue, video_id)

        return self._video_list("more_from_creator", video_id, None, options, make, model_free=True)

    def rerank(
        self,
        user_id: int,
        video_ids: Sequence[int],
        options: RequestOptions,
    ) -> UserRecommendations:
        """The caller's ``video_ids`` ordered for ``user_id`` (all of them, none dropped; ids
        the models never saw, such as new uploads, after the rest in the caller's order).
        Ids that are not servable catalogue videos are refused."""
        catalogue = self.catalogue.current()
        wanted = np.array(list(dict.fromkeys(video_ids)), dtype=np.int64)
        missing = wanted[catalogue.table.rows(wanted) < 0]
        if missing.size:
            shown = ", ".join(map(str, missing[:10].tolist()))
            more = f" and {missing.size - 10} more" if missing.size > 10 else ""
            raise BadRequestError(
                f"video ids not in the catalogue (or not public and ready): {shown}{more}"
            )

        def run(serving: Serving) -> tuple[Serving, list[Candidate], bool]:
            if serving.model is None:
                order = {int(v): i for i, v in enumerate(catalogue.trending)}
                ranked = sorted(wanted.tolist(), key=lambda v: order.get(v, len(order)))
                return (
                    serving,
                    [Candidate(v, 0.0, "trending", "trending now") for v in ranked],
                    True,
                )
            pipeline = serving.model.pipeline
            ids, scores = pipeline.order_items(user_id, wanted)
            cold = not bool(pipeline.personalized(np.array([user_id], dtype=np.int64))[0])
            return (
                serving,
                [
                    Candidate(
                        int(v), float(s) if np.isfinite(s) else 0.0, "ranker", "ranked for you"
                    )
                    for v, s in zip(ids, scores, strict=True)
                ],
                cold,
            )

        serving, chosen, cold = self._safe(self._serving(user_id), run, "rerank")
        envelope = self._record("rerank", user_id, serving, [c.video_id for c in chosen], options)
        return UserRecommendations(
            **envelope,
            user_id=user_id,
            cold_start=cold,
            items=items_of(chosen, catalogue, options.fields),
        )


def _creator_candidates(catalogue: Catalogue, video_id: int) -> list[Candidate]:
    """The videos of ``video_id``'s channel, newest first (the anchor is filtered later)."""
    table = catalogue.table
    row = int(table.rows(np.array([video_id], dtype=np.int64))[0])
    channel = int(table.channel_id[row]) if row >= 0 else -1
    if channel < 0:
        return []
    rows = np.flatnonzero(table.channel_id == channel)
    rows = rows[np.argsort(-np.nan_to_num(table.published_at[rows]), kind="stable")]
    return [
        Candidate(int(table.ids[i]), float(len(rows) - n), "creator", "more from this creator")
        for n, i in enumerate(rows)
    ]
