"""Run media work as Ray tasks. Remote functions are defined on first use, never at import."""

from __future__ import annotations

import logging
import os
import resource
import time
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from core.errors import ReelRankError
from core.settings import get_settings
from media.encode.ladder import Rung
from media.encode.transcode import EncodedAudio, EncodedRung, encode_audio, encode_rungs
from media.ray_runtime import init_ray

log = logging.getLogger(__name__)


class Target(BaseModel):
    """One rung of one chunk to encode: its unit key, output file and rung."""

    model_config = ConfigDict(frozen=True)

    key: str
    out: Path
    rung: Rung


class UnitSpec(BaseModel):
    """One Ray task: the audio, or one chunk of one or more rungs from a single decode."""

    model_config = ConfigDict(frozen=True)

    key: str
    kind: Literal["video", "audio"]
    source: Path
    out: Path | None = None
    targets: list[Target] = []
    start_s: float | None = None
    end_s: float | None = None
    preset: str = "veryfast"
    threads: int = 0

    @property
    def unit_keys(self) -> list[str]:
        """The job units this task completes."""
        return [t.key for t in self.targets] if self.kind == "video" else [self.key]


class UnitResult(BaseModel):
    """What a task produced and where and how it ran."""

    model_config = ConfigDict(frozen=True)

    key: str
    videos: dict[str, EncodedRung]
    audio: EncodedAudio | None
    node_id: str
    pid: int
    seconds: float
    peak_rss_mb: float


def run_unit(spec: UnitSpec, node_id: str = "local") -> UnitResult:
    """Run one task in this process; the result records ``node_id``, time and peak RSS."""
    started = time.perf_counter()
    videos: dict[str, EncodedRung] = {}
    audio = None
    if spec.kind == "audio":
        if spec.out is None:
            raise ReelRankError(f"unit {spec.key}: an audio unit needs an output path")
        audio = encode_audio(spec.source, spec.out)
    else:
        if not spec.targets:
            raise ReelRankError(f"unit {spec.key}: a video unit needs at least one rung")
        encoded = encode_rungs(
            spec.source,
            [(t.out, t.rung) for t in spec.targets],
            spec.start_s,
            spec.end_s,
            spec.preset,
            spec.threads,
        )
        videos = {t.key: e for t, e in zip(spec.targets, encoded, strict=True)}
    return UnitResult(
        key=spec.key,
        videos=videos,
        audio=audio,
        node_id=node_id,
        pid=os.getpid(),
        seconds=round(time.perf_counter() - started, 3),
        peak_rss_mb=round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    )


def _run_unit_on_ray(spec: UnitSpec) -> UnitResult:
    """``run_unit`` inside a Ray worker, tagged with the worker's node id."""
    import ray

    return run_unit(spec, ray.get_runtime_context().get_node_id())


@cache
def _remote_unit() -> Any:
    """``_run_unit_on_ray`` as a Ray remote function needing one CPU."""
    import ray

    return ray.remote(num_cpus=1)(_run_unit_on_ray)


UnitOutcome = tuple[UnitSpec, UnitResult | BaseException]


def run_units_on_ray(specs: list[UnitSpec], max_retries: int = 2) -> Iterator[UnitOutcome]:
    """Submit ``specs`` in order (spread over the cluster) and yield each outcome as it finishes.

    Ray reruns a unit whose worker died up to ``max_retries`` times; a ``ReelRankError`` in a
    unit comes back as itself, any other failure as the Ray exception.
    """
    import ray
    from ray.exceptions import RayTaskError

    if not ray.is_initialized():
        settings = get_settings()
        init_ray(settings.resolved_ray_address, settings.paths.ray_tmp)
    remote = _remote_unit()
    pending = {
        remote.options(
            name=f"encode {spec.key}",
            max_retries=max_retries,
            scheduling_strategy="SPREAD",
        ).remote(spec): spec
        for spec in specs
    }
    while pending:
        [ref], _ = ray.wait(list(pending), num_returns=1)
        spec = pending.pop(ref)
        try:
            yield spec, ray.get(ref)
        except RayTaskError as exc:
            yield spec, exc.cause if isinstance(exc.cause, ReelRankError) else exc
        except Exception as exc:  # worker died beyond its retries, object lost, ...
            yield spec, exc


def run_units_locally(specs: list[UnitSpec]) -> Iterator[UnitOutcome]:
    """Run ``specs`` one after another in this process, yielding each outcome."""
    for spec in specs:
        try:
            yield spec, run_unit(spec)
        except ReelRankError as exc:
            yield spec, exc
