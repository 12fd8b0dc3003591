"""Run media work as Ray tasks. Remote functions are defined on first use, never at import."""

from __future__ import annotations

import logging
import os
import resource
import tempfile
import time
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from core.errors import ReelRankError
from core.settings import get_settings
from media.hls import HlsPackage, package_hls
from media.rung import DEFAULT_RUNG, Rung
from media.transcode import EncodedAudio, EncodedRung, encode_audio, encode_rungs

log = logging.getLogger(__name__)

#: Longest Unix socket path Linux accepts (108 bytes including the NUL).
_SOCKET_PATH_MAX = 107
#: What Ray appends to its temp dir for its longest socket:
#: ``/session_YYYY-mm-dd_HH-MM-SS_ffffff_<pid>/sockets/plasma_store.<n>``.
_RAY_SOCKET_SUFFIX = len("/session_2000-01-01_00-00-00_000000_4194304/sockets/plasma_store.99")


def ray_temp_dir(preferred: Path) -> Path:
    """``preferred`` if Ray's socket paths under it fit the Unix limit, else a short /tmp folder."""
    preferred = preferred.resolve()
    if len(str(preferred).encode()) + _RAY_SOCKET_SUFFIX <= _SOCKET_PATH_MAX:
        return preferred
    fallback = Path(tempfile.gettempdir()) / f"reelrank-ray-{os.getuid()}"
    log.warning(
        "Ray temp dir %s is too long for Unix socket paths (limit %d bytes); using %s instead",
        preferred,
        _SOCKET_PATH_MAX,
        fallback,
    )
    return fallback


def init_ray(address: str | None, temp_dir: Path, num_cpus: int | None = None) -> None:
    """Connect to Ray at ``address``, or start a local Ray (no dashboard) using ``temp_dir``.

    Does nothing when Ray is already initialised in this process.
    """
    import ray

    if ray.is_initialized():
        return
    if address:
        log.info("joining Ray cluster at %s", address)
        ray.init(address=address, include_dashboard=False, log_to_driver=True)
        return
    temp_dir = ray_temp_dir(temp_dir)
    temp_dir.mkdir(parents=True, exist_ok=True)
    log.info("starting local Ray (temp dir %s, %s CPUs)", temp_dir, num_cpus or "all")
    ray.init(
        num_cpus=num_cpus,
        include_dashboard=False,
        _temp_dir=str(temp_dir),
        configure_logging=False,
    )


@cache
def _remote_package_hls() -> Any:
    """``package_hls`` as a Ray remote function (one CPU, no retries: failures are reported)."""
    import ray

    return ray.remote(num_cpus=1, max_retries=0)(package_hls)


def package_hls_on_ray(
    source: Path,
    out_dir: Path,
    rung: Rung = DEFAULT_RUNG,
    segment_seconds: float = 2.0,
) -> HlsPackage:
    """Run ``package_hls`` as a Ray task and return its result.

    Starts Ray from the settings (``ray_address`` or a local Ray under ``paths.ray_tmp``) when it
    is not running. A ``ReelRankError`` in the task is re-raised as itself.
    """
    import ray
    from ray.exceptions import RayTaskError

    if not ray.is_initialized():
        settings = get_settings()
        init_ray(settings.resolved_ray_address, settings.paths.ray_tmp)
    ref = _remote_package_hls().remote(Path(source), Path(out_dir), rung, segment_seconds)
    try:
        return ray.get(ref)
    except RayTaskError as exc:
        if isinstance(exc.cause, ReelRankError):
            raise exc.cause from None
        raise


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
