"""Package a video as fMP4 (CMAF) HLS: H.264 + AAC segments, media and master playlists."""

from __future__ import annotations

import logging
import math
import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from pydantic import BaseModel, ConfigDict

from media.codecs import AAC_LC, avc1_codec_string
from media.errors import MediaError
from media.playlists import (
    MediaPlaylist,
    Variant,
    format_master_playlist,
    parse_media_playlist,
)
from media.probe import ProbeResult, open_media, probe
from media.rung import DEFAULT_RUNG, Rung, output_size

log = logging.getLogger(__name__)

MASTER_PLAYLIST = "master.m3u8"
MEDIA_PLAYLIST = "index.m3u8"
INIT_SEGMENT = "init.mp4"
SEGMENT_PATTERN = "seg_%05d.m4s"
_AAC_RATES = (44_100, 48_000)


class PackagedRendition(BaseModel):
    """One packaged rung: where its playlist is and what a player needs to pick it."""

    model_config = ConfigDict(frozen=True)

    name: str
    playlist: Path
    width: int
    height: int
    frame_rate: float
    bandwidth: int
    average_bandwidth: int
    video_bitrate: int
    audio_bitrate: int | None
    codecs: str
    duration_s: float
    segment_count: int
    frame_count: int


class HlsPackage(BaseModel):
    """A published HLS package: the master playlist and its renditions."""

    model_config = ConfigDict(frozen=True)

    master: Path
    duration_s: float
    renditions: list[PackagedRendition]

    @property
    def root(self) -> Path:
        """The package folder."""
        return self.master.parent

    @property
    def rung_playlists(self) -> list[Path]:
        """The media playlist of every rendition."""
        return [r.playlist for r in self.renditions]


def peak_bandwidth(sizes: list[int], durations: list[float], target_duration: float) -> int:
    """RFC 8216 peak segment bit rate: the highest rate of any run of consecutive segments whose
    total duration is 0.5 to 1.5 times the target duration (single segments if none is)."""
    best = 0.0
    for start in range(len(sizes)):
        total_bytes, total_s = 0, 0.0
        for end in range(start, len(sizes)):
            total_bytes, total_s = total_bytes + sizes[end], total_s + durations[end]
            if total_s > 1.5 * target_duration:
                break
            if total_s >= 0.5 * target_duration:
                best = max(best, total_bytes * 8 / total_s)
    if best == 0.0:
        best = max((s * 8 / d for s, d in zip(sizes, durations, strict=True) if d > 0), default=0)
    return math.ceil(best)


def package_hls(
    source: Path,
    out_dir: Path,
    rung: Rung = DEFAULT_RUNG,
    segment_seconds: float = 2.0,
) -> HlsPackage:
    """Transcode ``source`` into an fMP4 HLS package published atomically at ``out_dir``.

    Writes ``<rung>/index.m3u8`` (VOD, ``#EXT-X-MAP`` init + ``.m4s`` segments, one keyframe-
    aligned GOP per segment) and ``master.m3u8``. The package is built in a temporary sibling
    folder and renamed into place; an existing package at ``out_dir`` is replaced.
    """
    source, out_dir = Path(source), Path(out_dir)
    if segment_seconds <= 0:
        raise MediaError(f"segment length must be positive, got {segment_seconds} s")
    info = probe(source)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = out_dir.parent / f".{out_dir.name}.tmp-{uuid.uuid4().hex[:8]}"
    try:
        rung_dir = staging / rung.name
        rung_dir.mkdir(parents=True)
        encoded = _transcode(source, info, rung_dir, rung, segment_seconds)
        playlist = parse_media_playlist(rung_dir / MEDIA_PLAYLIST)
        rendition = _describe(rung, rung_dir, playlist, encoded)
        variant = Variant(
            uri=f"{rung.name}/{MEDIA_PLAYLIST}",
            attributes={
                "BANDWIDTH": str(rendition.bandwidth),
                "AVERAGE-BANDWIDTH": str(rendition.average_bandwidth),
                "CODECS": rendition.codecs,
                "RESOLUTION": f"{rendition.width}x{rendition.height}",
                "FRAME-RATE": f"{rendition.frame_rate:.3f}",
            },
        )
        (staging / MASTER_PLAYLIST).write_text(format_master_playlist([variant]), "utf-8")
        _publish(staging, out_dir)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    final = rendition.model_copy(update={"playlist": out_dir / rung.name / MEDIA_PLAYLIST})
    log.info(
        "packaged %s -> %s (%s %dx%d, %d segments, peak %d b/s)",
        source,
        out_dir,
        rung.name,
        final.width,
        final.height,
        final.segment_count,
        final.bandwidth,
    )
    return HlsPackage(
        master=out_dir / MASTER_PLAYLIST, duration_s=final.duration_s, renditions=[final]
    )


@dataclass(frozen=True)
class _Encoded:
    """What the encoder produced."""

    width: int
    height: int
    fps: Fraction
    codecs: str
    frames: int
    has_audio: bool


def _transcode(
    source: Path, info: ProbeResult, rung_dir: Path, rung: Rung, segment_seconds: float
) -> _Encoded:
    """Decode ``source`` and encode it into the HLS muxer writing ``rung_dir``."""
    with open_media(source) as container:
        in_video = container.streams.video[0]
        in_video.thread_type = "AUTO"
        in_audio = container.streams.audio[0] if container.streams.audio else None
        fps = Fraction(
            in_video.average_rate or in_video.guessed_rate or info.fps
        ).limit_denominator(1001)
        gop = max(1, round(fps * Fraction(segment_seconds)))
        width, height = output_size(*info.display_size, rung.height)
        hls_time = math.floor(gop / fps * 1_000_000) / 1_000_000
        with av.open(
            str(rung_dir / MEDIA_PLAYLIST),
            "w",
            format="hls",
            options={
                "hls_time": f"{hls_time:.6f}",
                "hls_segment_type": "fmp4",
                "hls_playlist_type": "vod",
                "hls_flags": "independent_segments",
                "hls_fmp4_init_filename": INIT_SEGMENT,
                "hls_segment_filename": str(rung_dir / SEGMENT_PATTERN),
            },
        ) as out:
            video = out.add_stream(
                "libx264",
                rate=fps,
                options={
                    "preset": "veryfast",
                    "profile": "high",
                    "g": str(gop),
                    "keyint_min": str(gop),
                    "sc_threshold": "0",
                    "forced-idr": "1",
                    "maxrate": str(rung.max_video_bitrate),
                    "bufsize": str(rung.buffer_size),
                },
            )
            video.width, video.height, video.pix_fmt = width, height, "yuv420p"
            video.bit_rate = rung.video_bitrate
            audio = None
            if in_audio is not None:
                rate = in_audio.sample_rate if in_audio.sample_rate in _AAC_RATES else 48_000
                audio = out.add_stream("aac", rate=rate)
                audio.layout, audio.bit_rate = "stereo", rung.audio_bitrate
                resampler = av.AudioResampler(format="fltp", layout="stereo", rate=rate)
            frames = samples = 0
            for frame in _decode(container, source, in_video, in_audio):
                if isinstance(frame, av.VideoFrame):
                    picture = _upright(frame, info.rotation).reformat(
                        width=width, height=height, format="yuv420p", interpolation="AREA"
                    )
                    picture.pts, picture.time_base = frames, 1 / fps
                    if frames % gop == 0:
                        picture.pict_type = av.video.frame.PictureType.I
                    out.mux(video.encode(picture))
                    frames += 1
                elif audio is not None:
                    for chunk in resampler.resample(frame):
                        chunk.pts, chunk.time_base = samples, Fraction(1, audio.rate)
                        samples += chunk.samples
                        out.mux(audio.encode(chunk))
            if frames == 0:
                raise MediaError(f"{source}: the video stream has no decodable frames")
            out.mux(video.encode(None))
            if audio is not None:
                for chunk in resampler.resample(None):
                    chunk.pts, chunk.time_base = samples, Fraction(1, audio.rate)
                    samples += chunk.samples
                    out.mux(audio.encode(chunk))
                out.mux(audio.encode(None))
            codecs = avc1_codec_string(bytes(video.codec_context.extradata or b""))
    return _Encoded(
        width=width,
        height=height,
        fps=fps,
        codecs=f"{codecs},{AAC_LC}" if audio is not None else codecs,
        frames=frames,
        has_audio=audio is not None,
    )


def _decode(
    container: av.container.InputContainer,
    source: Path,
    video: av.video.stream.VideoStream,
    audio: av.audio.stream.AudioStream | None,
) -> Iterator[av.VideoFrame | av.AudioFrame]:
    """Decoded frames of the video (and audio) stream in file order; ``MediaError`` if corrupt."""
    streams = [video] if audio is None else [video, audio]
    position = 0.0
    try:
        for packet in container.demux(*streams):
            if packet.pts is not None and packet.time_base is not None:
                position = float(packet.pts * packet.time_base)
            yield from packet.decode()
    except av.FFmpegError as exc:
        raise MediaError(
            f"{source}: cannot decode the media near {position:.2f} s ({exc})"
        ) from exc


def _upright(frame: av.VideoFrame, rotation: int) -> av.VideoFrame:
    """``frame`` turned by its display rotation (degrees counter-clockwise)."""
    if rotation % 360 == 0:
        return frame
    image = np.rot90(frame.to_ndarray(format="rgb24"), k=(rotation // 90) % 4)
    return av.VideoFrame.from_ndarray(np.ascontiguousarray(image), format="rgb24")


def _describe(
    rung: Rung, rung_dir: Path, playlist: MediaPlaylist, encoded: _Encoded
) -> PackagedRendition:
    """Measure the segments of a freshly written rung."""
    if not playlist.segments or playlist.map_uri is None:
        raise MediaError(f"{rung_dir}: the HLS muxer wrote no segments or no init segment")
    sizes = [(rung_dir / s.uri).stat().st_size for s in playlist.segments]
    durations = [s.duration_s for s in playlist.segments]
    total_s = sum(durations)
    average = math.ceil(sum(sizes) * 8 / total_s)
    peak = max(peak_bandwidth(sizes, durations, playlist.target_duration), average)
    return PackagedRendition(
        name=rung.name,
        playlist=rung_dir / MEDIA_PLAYLIST,
        width=encoded.width,
        height=encoded.height,
        frame_rate=float(encoded.fps),
        bandwidth=peak,
        average_bandwidth=average,
        video_bitrate=rung.video_bitrate,
        audio_bitrate=rung.audio_bitrate if encoded.has_audio else None,
        codecs=encoded.codecs,
        duration_s=round(total_s, 6),
        segment_count=len(playlist.segments),
        frame_count=encoded.frames,
    )


def _publish(staging: Path, out_dir: Path) -> None:
    """Rename ``staging`` to ``out_dir``, replacing (then deleting) any earlier package."""
    old = None
    if out_dir.exists():
        old = out_dir.parent / f".{out_dir.name}.old-{uuid.uuid4().hex[:8]}"
        out_dir.rename(old)
    try:
        staging.rename(out_dir)
    except OSError:
        if old is not None:
            old.rename(out_dir)
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
