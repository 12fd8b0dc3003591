"""Process one catalogue video: package it as HLS and record the outcome."""

from __future__ import annotations

from pathlib import Path

from core.paths import DataPaths
from media.catalogue import mark_processing, record_failure, record_package
from media.hls import HlsPackage, package_hls
from media.rung import DEFAULT_RUNG, Rung
from media.tasks import package_hls_on_ray


def process_video(
    database_url: str,
    video_id: int,
    source: Path,
    data_root: Path,
    rung: Rung = DEFAULT_RUNG,
    on_ray: bool = True,
) -> HlsPackage:
    """Package ``source`` for video ``video_id`` into ``<packages>/<video_id>`` and record it.

    The video goes processing -> ready, or failed with the error as its reason (then re-raised).
    ``on_ray`` runs the packaging as a Ray task, otherwise in this process.
    """
    mark_processing(database_url, video_id)
    out_dir = DataPaths(Path(data_root)).packages / str(video_id)
    try:
        if on_ray:
            package = package_hls_on_ray(Path(source), out_dir, rung)
        else:
            package = package_hls(Path(source), out_dir, rung)
    except Exception as exc:
        record_failure(database_url, video_id, f"packaging failed: {exc}")
        raise
    record_package(database_url, video_id, package, Path(data_root))
    return package
