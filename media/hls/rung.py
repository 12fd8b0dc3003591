"""Package a finished rung (an encoded MP4) as fMP4 HLS by stream copy: segments, VOD playlists."""

from __future__ import annotations

import logging
import shutil
import uuid
from pathlib import Path

from media.errors import MediaError
from media.hls.segments import (
    IFRAME_PLAYLIST,
    INIT_SEGMENT,
    MEDIA_PLAYLIST,
    RUNG_NAME,
    RungPlaylist,
    VideoFacts,
    check_input,
    cut_segments,
    fragment_video,
    replace_dir,
    rung_playlist,
    write_playlists,
)

log = logging.getLogger(__name__)


def package_rung(
    encoded: Path, out_dir: Path, name: str, segment_seconds: float = 6.0
) -> RungPlaylist:
    """Package the video of ``encoded`` (an MP4 whose keyframes are IDRs) as ``out_dir/<name>/``.

    Stream copy, no re-encode: one fragment per GOP, segments that start at the first keyframe
    on or after each multiple of ``segment_seconds`` (so rungs with aligned keyframes get
    aligned segments), a VOD media playlist and an I-frame playlist whose byte ranges cover
    each keyframe's ``moof`` + ``mdat`` header + keyframe sample. The rung folder is built
    beside its final place and renamed in, replacing an earlier one.
    """
    encoded, out_dir = Path(encoded), Path(out_dir)
    check_input(encoded, segment_seconds)
    if not RUNG_NAME.match(name):
        raise MediaError(f"rung name {name!r} must be 1-32 letters, digits, '_' or '-'")
    out_dir.mkdir(parents=True, exist_ok=True)
    staging = out_dir / f".{name}.tmp-{uuid.uuid4().hex[:8]}"
    staging.mkdir()
    try:
        fragmented = staging / "fragmented.mp4"
        video = fragment_video(encoded, fragmented)
        rung = _split_rung(fragmented, staging, name, video, segment_seconds)
        fragmented.unlink()
        replace_dir(staging, out_dir / name)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    final = out_dir / name
    rung = rung.model_copy(
        update={"playlist": final / MEDIA_PLAYLIST, "iframe_playlist": final / IFRAME_PLAYLIST}
    )
    log.info(
        "packaged rung %s of %s: %dx%d, %d segments, peak %d b/s",
        name,
        encoded,
        rung.width,
        rung.height,
        rung.segment_count,
        rung.peak_bitrate,
    )
    return rung


def _split_rung(
    fragmented: Path, folder: Path, name: str, video: VideoFacts, segment_seconds: float
) -> RungPlaylist:
    """Cut a per-GOP fragmented file into init + segments and write both VOD playlists."""
    cut = cut_segments(fragmented, folder, segment_seconds)
    (folder / INIT_SEGMENT).write_bytes(cut.init)
    write_playlists(folder, cut.segments, media=MEDIA_PLAYLIST, iframes=IFRAME_PLAYLIST)
    return rung_playlist(folder, name, video, cut.segments, cut.duration_s)
