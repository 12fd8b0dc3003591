"""Run media work as Ray tasks. Remote functions are defined on first use, never at import."""

from __future__ import annotations

import logging
import os
import tempfile
from functools import cache
from pathlib import Path
from typing import Any

from core.errors import ReelRankError
from core.settings import get_settings
from media.hls import HlsPackage, package_hls
from media.rung import DEFAULT_RUNG, Rung

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
