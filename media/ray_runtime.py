"""Start or join Ray for media work: a local Ray under a temp dir short enough for its sockets."""

from __future__ import annotations

import logging
import os
import tempfile
from pathlib import Path

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
