"""Extras of a published package: validation, poster, storyboard, MP4 download, embeddings.

The embeddings step also stores the video's fingerprint and checks it for near-duplicates."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict

from core import columns as c
from core.paths import DataPaths
from media.enrich.download import make_download_mp4
from media.enrich.embeddings import (
    FINGERPRINT,
    FINGERPRINT_INTERVAL,
    VideoInput,
    extract_embeddings,
    near_duplicates,
    read_embeddings,
    write_embeddings,
)
from media.enrich.fingerprint import Fingerprint
from media.enrich.storyboard import make_storyboard
from media.enrich.thumbnails import make_poster
from media.errors import MediaError
from media.hls.validate import validate_package
from media.jobs.runner import LadderPackage


class PackageExtras(BaseModel):
    """Files made for a package, and the re-uploads it looks like."""

    model_config = ConfigDict(frozen=True)

    poster: Path
    storyboard: Path
    download: Path
    embeddings: Path
    near_duplicates: list[tuple[int, float]]


def enrich_package(
    package: LadderPackage,
    data_root: Path,
    video: VideoInput,
) -> PackageExtras:
    """Validate ``package`` (MediaError listing every problem), then add the extras."""
    package_dir = package.master.parent
    report = validate_package(package_dir)
    if not report.ok:
        raise MediaError(f"package of video {package.video_id} is not valid HLS:\n{report}")
    poster = make_poster(package.source, package_dir / "poster.jpg")
    storyboard = make_storyboard(package.source, package_dir / "storyboard")
    top = max(package.renditions, key=lambda rung: rung.height)
    if top.encoded is None:
        raise MediaError(f"rung {top.name} of video {package.video_id} has no encoded MP4")
    download = make_download_mp4(top.encoded, package.audio, package_dir / "download.mp4")
    target = DataPaths(data_root).embeddings_file
    duplicates = store_embeddings(video, target)
    return PackageExtras(
        poster=poster,
        storyboard=storyboard,
        download=download,
        embeddings=target,
        near_duplicates=duplicates,
    )


def store_embeddings(video: VideoInput, target: Path) -> list[tuple[int, float]]:
    """Compute the video's embeddings and fingerprint, replace its row in ``target``, and
    return the stored videos it nearly duplicates (most similar first). Not safe against
    concurrent writers of ``target``: callers that run in parallel hold a lock."""
    frame = extract_embeddings([video])
    stored = read_embeddings(target) if target.is_file() else frame.iloc[0:0]
    stored = stored[stored[c.VIDEO_ID] != video.video_id]
    hashes, interval = frame[FINGERPRINT].iloc[0], frame[FINGERPRINT_INTERVAL].iloc[0]
    duplicates = (
        near_duplicates(stored, Fingerprint(np.asarray(hashes, np.uint64), float(interval)))
        if hashes is not None and len(stored)
        else []
    )
    write_embeddings(pd.concat([stored, frame], ignore_index=True), target)
    return duplicates
