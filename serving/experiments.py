"""The experiment registry: admin operations on the catalogue's experiments and the hot-path
variant assignment from a cached copy of the running experiment."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from core.db.models import Experiment, ExperimentVariant, utcnow
from core.db.session import session_factory, session_scope
from core.errors import NotFoundError, ReelRankError
from core.types import ExperimentStatus
from serving.bucketing import bucket, choose
from serving.experiment_models import ExperimentOut, ExperimentSpec

log = logging.getLogger(__name__)

#: Seconds a cached copy of the running experiment is trusted before the catalogue is re-read.
REFRESH_S = 2.0


class ExperimentNotFoundError(NotFoundError):
    """No experiment of that name (404)."""


class ExperimentConflictError(ReelRankError):
    """The operation clashes with the experiment's state or another experiment (409)."""


@dataclass(frozen=True)
class Assignment:
    """A user's variant of the running experiment: which model serves them, with which
    pipeline settings (``weights``, ``use_ranker``; empty when the variant sets none). One
    object per variant is shared by all its users: read it, never change it."""

    experiment: str
    variant: str
    model: str
    settings: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class _Running:
    """What the hot path needs of the running experiment."""

    name: str
    salt: str
    shares: tuple[tuple[str, float], ...]
    assignments: dict[str, Assignment]

    def assign(self, user_id: int) -> Assignment:
        return self.assignments[choose(self.shares, bucket(user_id, self.salt))]

    @classmethod
    def of(cls, experiment: Experiment) -> _Running:
        return cls(
            name=experiment.name,
            salt=experiment.salt,
            shares=tuple((v.name, v.traffic) for v in experiment.variants),
            assignments={
                v.name: Assignment(experiment.name, v.name, v.model, dict(v.settings or {}))
                for v in experiment.variants
            },
        )


def load_experiment(session: Session, name: str) -> Experiment:
    """The experiment ``name`` with its variants; ``ExperimentNotFoundError`` if none."""
    experiment = session.scalar(
        select(Experiment).options(selectinload(Experiment.variants)).where(Experiment.name == name)
    )
    if experiment is None:
        raise ExperimentNotFoundError(f"no experiment named {name!r}")
    return experiment


class ExperimentRegistry:
    """Experiments stored in the catalogue at ``database_url``; at most one runs at a time.

    ``assignment`` is the request path: it reads a copy of the running experiment that is
    re-read from the catalogue at most every ``refresh_s`` seconds (by one request; the others
    keep using the previous copy meanwhile), so a start or stop in another process takes effect
    here within ``refresh_s``; this process's own start and stop take effect at once.
    """

    def __init__(
        self,
        database_url: str,
        refresh_s: float = REFRESH_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.database_url = database_url
        self.refresh_s = refresh_s
        self._clock = clock
        self._running: _Running | None = None
        self._loaded_at: float | None = None
        self._generation = 0  # bumped by invalidate: a read begun before it is not trusted
        self._refresh_lock = threading.Lock()

    # -- hot path ---------------------------------------------------------------------------

    def assignment(self, user_id: int) -> Assignment | None:
        """The running experiment's variant for ``user_id``; None when nothing runs."""
        loaded_at = self._loaded_at
        if loaded_at is None or self._clock() - loaded_at >= self.refresh_s:
            self._refresh(wait=loaded_at is None)
        running = self._running
        return running.assign(user_id) if running is not None else None

    def invalidate(self) -> None:
        """Forget the cached copy: the next assignment re-reads the catalogue."""
        self._generation += 1
        self._loaded_at = None

    def _refresh(self, wait: bool) -> None:
        """Re-read the running experiment; a failed read keeps the old copy (and is retried
        after ``refresh_s``). Without ``wait`` a refresh already under way is not awaited."""
        if not self._refresh_lock.acquire(blocking=wait):
            return
        try:
            loaded_at = self._loaded_at
            if loaded_at is not None and self._clock() - loaded_at < self.refresh_s:
                return  # another thread refreshed while this one waited
            generation = self._generation
            try:
                with self._session() as session:
                    experiment = self._running_experiment(session)
                    self._running = _Running.of(experiment) if experiment else None
            except Exception:
                log.exception("could not read the running experiment; keeping the cached copy")
            if generation == self._generation:
                self._loaded_at = self._clock()
        finally:
            self._refresh_lock.release()

    # -- admin operations -------------------------------------------------------------------

    def create(self, spec: ExperimentSpec) -> ExperimentOut:
        """Store ``spec`` as a draft experiment; 409 when the name is taken."""
        experiment = Experiment(
            name=spec.name,
            salt=spec.salt or spec.name,
            description=spec.description,
            status=ExperimentStatus.DRAFT,
            variants=[
                ExperimentVariant(
                    name=v.name,
                    position=position,
                    traffic=v.traffic,
                    is_control=v.control,
                    model=v.model,
                    settings=v.settings.model_dump(exclude_none=True),
                )
                for position, v in enumerate(spec.variants)
            ],
        )
        try:
            with session_scope(self.database_url) as session:
                if session.scalar(select(Experiment.id).where(Experiment.name == spec.name)):
                    raise ExperimentConflictError(f"experiment {spec.name!r} already exists")
                session.add(experiment)
                session.flush()
                return ExperimentOut.model_validate(experiment)
        except IntegrityError as exc:  # created concurrently
            raise ExperimentConflictError(f"experiment {spec.name!r} already exists") from exc

    def get(self, name: str) -> ExperimentOut:
        """The experiment called ``name``; 404 when there is none."""
        with self._session() as session:
            return ExperimentOut.model_validate(self._load(session, name))

    def list_experiments(self) -> list[ExperimentOut]:
        """Every experiment, newest first."""
        with self._session() as session:
            rows = session.scalars(
                select(Experiment)
                .options(selectinload(Experiment.variants))
                .order_by(Experiment.created_at.desc(), Experiment.id.desc())
            )
            return [ExperimentOut.model_validate(e) for e in rows]

    def start(self, name: str) -> ExperimentOut:
        """Start a draft experiment; 409 when another runs (naming it) or this one stopped.
        Starting a running experiment changes nothing."""
        with session_scope(self.database_url) as session:
            experiment = self._load(session, name)
            if experiment.status is ExperimentStatus.RUNNING:
                return ExperimentOut.model_validate(experiment)
            if experiment.status is ExperimentStatus.STOPPED:
                raise ExperimentConflictError(
                    f"experiment {name!r} was stopped and cannot restart; create a new one"
                )
            other = self._running_experiment(session)
            if other is not None:
                raise ExperimentConflictError(
                    f"experiment {other.name!r} is running; stop it before starting {name!r}"
                )
            experiment.status = ExperimentStatus.RUNNING
            experiment.started_at = utcnow()
            out = ExperimentOut.model_validate(experiment)
        self.invalidate()
        return out

    def stop(self, name: str) -> ExperimentOut:
        """Stop a running experiment; 409 for a draft. Stopping a stopped one changes nothing."""
        with session_scope(self.database_url) as session:
            experiment = self._load(session, name)
            if experiment.status is ExperimentStatus.DRAFT:
                raise ExperimentConflictError(f"experiment {name!r} has not started")
            if experiment.status is ExperimentStatus.RUNNING:
                experiment.status = ExperimentStatus.STOPPED
                experiment.stopped_at = utcnow()
            out = ExperimentOut.model_validate(experiment)
        self.invalidate()
        return out

    # -- helpers ----------------------------------------------------------------------------

    def _session(self) -> Session:
        return session_factory(self.database_url)()

    @staticmethod
    def _load(session: Session, name: str) -> Experiment:
        return load_experiment(session, name)

    @staticmethod
    def _running_experiment(session: Session) -> Experiment | None:
        return session.scalar(
            select(Experiment)
            .options(selectinload(Experiment.variants))
            .where(Experiment.status == ExperimentStatus.RUNNING)
            .order_by(Experiment.started_at)
            .limit(1)
        )
