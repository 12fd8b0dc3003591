"""Results of an experiment: exposures joined to interaction events by recommendation id,
aggregated per user in SQL, compared per variant with user-level statistics. Watch time follows
``features.watch_time``: each playback session's largest cumulative report."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from sqlalchemy import ColumnElement, Row, Subquery, and_, case, func, select
from sqlalchemy.orm import Session

from core.db.models import Exposure, InteractionEvent
from core.db.session import session_factory
from core.types import EventType
from features.watch_time import WATCH_EVENTS
from serving.analytics_sql import utc_day
from serving.experiment_models import (
    ExperimentResultsOut,
    MetricOut,
    SampleRatioOut,
    VariantResultOut,
)
from serving.experiment_stats import (
    SRM_THRESHOLD,
    Estimate,
    compare,
    mean_estimate,
    ratio_estimate,
    sample_ratio,
    z_value,
)
from serving.experiments import load_experiment


@dataclass(frozen=True)
class UserTotals:
    """Per-user sums of one variant, one array element per user with an exposure."""

    exposures: np.ndarray
    impressions: np.ndarray
    clicks: np.ndarray
    plays: np.ndarray
    watch_seconds: np.ndarray

    @classmethod
    def of(cls, rows: Sequence[Row[Any]]) -> UserTotals:
        table = np.array([tuple(row)[2:] for row in rows], dtype=float).reshape(-1, 5)
        return cls(*(table[:, i] for i in range(5)))

    def metrics(self) -> dict[str, Estimate]:
        """The reported metrics' estimates, by name."""
        return {
            "impressions_per_user": mean_estimate(self.impressions),
            "ctr": ratio_estimate(self.clicks, self.impressions),
            "plays_per_impression": ratio_estimate(self.plays, self.impressions),
            "watch_minutes_per_user": mean_estimate(self.watch_seconds / 60.0),
        }


def _count(event_type: EventType) -> ColumnElement[Any]:
    """How many of a user's attributed events are of ``event_type``."""
    return func.sum(case((InteractionEvent.event_type == event_type, 1), else_=0))


def _watch_per_user(experiment: str) -> Subquery:
    """Per (variant, user): the watch seconds of the playback sessions their exposures led to,
    each session's largest cumulative report (``features.watch_time``), summed."""
    E = InteractionEvent
    day = case((E.session_id.is_(None), utc_day(E.event_timestamp)))
    sessions = (
        select(
            Exposure.variant.label("variant"),
            Exposure.user_id.label("user_id"),
            func.max(func.coalesce(E.watch_seconds, 0.0)).label("watch"),
        )
        .join(E, E.recommendation_id == Exposure.recommendation_id)
        .where(Exposure.experiment == experiment, E.event_type.in_(WATCH_EVENTS))
        .group_by(Exposure.variant, Exposure.user_id, E.video_id, E.session_id, day)
        .subquery()
    )
    return (
        select(sessions.c.variant, sessions.c.user_id, func.sum(sessions.c.watch).label("watch"))
        .group_by(sessions.c.variant, sessions.c.user_id)
        .subquery()
    )


def user_totals(session: Session, experiment: str) -> dict[str, UserTotals]:
    """Per variant, each exposed user's exposures, attributed impressions, clicks, plays and
    watch seconds, summed in the database."""
    watch = _watch_per_user(experiment)
    query = (
        select(
            Exposure.variant,
            Exposure.user_id,
            func.count(func.distinct(Exposure.recommendation_id)),
            _count(EventType.IMPRESSION),
            _count(EventType.CLICK),
            _count(EventType.PLAY),
            func.coalesce(func.max(watch.c.watch), 0.0),
        )
        .outerjoin(
            InteractionEvent, InteractionEvent.recommendation_id == Exposure.recommendation_id
        )
        .outerjoin(
            watch,
            and_(watch.c.variant == Exposure.variant, watch.c.user_id == Exposure.user_id),
        )
        .where(Exposure.experiment == experiment)
        .group_by(Exposure.variant, Exposure.user_id)
        .order_by(Exposure.variant, Exposure.user_id)
    )
    by_variant: dict[str, list[Row[Any]]] = {}
    for row in session.execute(query):
        by_variant.setdefault(row[0] or "", []).append(row)
    return {variant: UserTotals.of(rows) for variant, rows in by_variant.items()}


def experiment_results(
    database_url: str,
    name: str,
    confidence: float = 0.95,
    srm_threshold: float = SRM_THRESHOLD,
) -> ExperimentResultsOut:
    """Per variant: users, counts and metrics with intervals, each against control; and the
    sample-ratio check. 404 (``ExperimentNotFoundError``) for an unknown experiment."""
    with session_factory(database_url)() as session:
        experiment = load_experiment(session, name)
        totals = user_totals(session, name)
    z = z_value(confidence)
    empty = UserTotals.of([])
    variants = experiment.variants
    control = next((v for v in variants if v.is_control), variants[0])
    control_metrics = totals.get(control.name, empty).metrics()
    out: list[VariantResultOut] = []
    for variant in variants:
        users = totals.get(variant.name, empty)
        metrics: dict[str, MetricOut] = {}
        for metric, estimate in users.metrics().items():
            low, high = estimate.interval(z)
            metric_out = MetricOut(value=estimate.value, ci_low=low, ci_high=high)
            if variant is not control:
                comparison = compare(estimate, control_metrics[metric], z)
                metric_out = metric_out.model_copy(
                    update={
                        "diff": comparison.diff,
                        "diff_ci_low": comparison.diff_ci[0],
                        "diff_ci_high": comparison.diff_ci[1],
                        "p_value": comparison.p_value,
                        "lift": comparison.lift,
                        "lift_ci_low": comparison.lift_ci[0],
                        "lift_ci_high": comparison.lift_ci[1],
                    }
                )
            metrics[metric] = metric_out
        out.append(
            VariantResultOut(
                name=variant.name,
                control=variant is control,
                traffic=variant.traffic,
                model=variant.model,
                users=int(users.exposures.size),
                exposures=int(users.exposures.sum()),
                impressions=int(users.impressions.sum()),
                clicks=int(users.clicks.sum()),
                plays=int(users.plays.sum()),
                watch_minutes=float(users.watch_seconds.sum() / 60.0),
                metrics=metrics,
            )
        )
    srm = sample_ratio(
        {v.name: v.users for v in out}, {v.name: v.traffic for v in variants}, srm_threshold
    )
    return ExperimentResultsOut(
        experiment=experiment.name,
        status=experiment.status,
        control=control.name,
        confidence=confidence,
        variants=out,
        sample_ratio=SampleRatioOut(
            observed=srm.observed,
            expected=srm.expected,
            chi2=srm.chi2,
            p_value=srm.p_value,
            mismatch=srm.mismatch,
            threshold=srm.threshold,
        ),
    )
