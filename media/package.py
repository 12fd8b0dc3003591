"""Package encoded rungs as fMP4 (CMAF) HLS by stream copy: rung, audio, I-frame, master playlists.

Layout under a package folder: ``<rung>/{index.m3u8, iframes.m3u8, init.mp4, seg_NNNNN.m4s}``,
``audio_<language>/{index.m3u8, init.mp4, seg_NNNNN.m4s}`` and ``master.m3u8``.
"""

from __future__ import annotations

import logging
import math
import re
import shutil
import uuid
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import BinaryIO

import av
from pydantic import BaseModel, ConfigDict

from media.codecs import aac_codec_string, video_codec_string
from media.errors import MediaError
from media.isobmff import Fragment, Sample, Track, parse_fragments, parse_init, scan_boxes
from media.playlists import (
    Rendition,
    Segment,
    Variant,
    format_master_playlist,
    format_media_playlist,
    target_duration,
    write_atomically,
)

log = logging.getLogger(__name__)

MASTER_PLAYLIST = "master.m3u8"
MEDIA_PLAYLIST = "index.m3u8"
IFRAME_PLAYLIST = "iframes.m3u8"
INIT_SEGMENT = "init.mp4"
SEGMENT_NAME = "seg_{:05d}.m4s"
AUDIO_GROUP = "aud"
_NAME = re.compile(r"^[A-Za-z0-9_-]{1,32}$")
_LANGUAGE = re.compile(r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8})*$")
_LANGUAGE_NAMES = {
    "und": "Audio",
    "en": "English",
    "de": "Deutsch",
    "fr": "Français",
    "es": "Español",
    "it": "Italiano",
    "pt": "Português",
    "nl": "Nederlands",
    "ja": "日本語",
    "zh": "中文",
}
_CODEC_TAGS = {"h264": "avc1", "hevc": "hvc1", "av1": "av01"}


class RungPlaylist(BaseModel):
    """A packaged video rung: its playlists and what the master playlist says about it."""

    model_config = ConfigDict(frozen=True)

    name: str
    playlist: Path
    iframe_playlist: Path
    width: int
    height: int
    frame_rate: float
    codecs: str
    duration_s: float
    segment_starts_s: list[float]
    peak_bitrate: int
    average_bitrate: int
    iframe_peak_bitrate: int
    iframe_average_bitrate: int

    @property
    def segment_count(self) -> int:
        """How many media segments the rung has."""
        return len(self.segment_starts_s)


class AudioPlaylist(BaseModel):
    """A packaged audio rendition."""

    model_config = ConfigDict(frozen=True)

    language: str
    name: str
    playlist: Path
    codecs: str
    channels: int
    sample_rate: int
    duration_s: float
    segment_count: int
    peak_bitrate: int
    average_bitrate: int


def peak_segment_bitrate(sizes: list[int], durations: list[float], target: float) -> int:
    """RFC 8216 peak segment bit rate: the highest bit rate of any run of consecutive segments
    whose total duration is 0.5 to 1.5 times the target duration (of single segments if no run
    qualifies), never below the average."""
    best = 0.0
    for start in range(len(sizes)):
        total_bytes, total_s = 0, 0.0
        for end in range(start, len(sizes)):
            total_bytes, total_s = total_bytes + sizes[end], total_s + durations[end]
            if total_s > 1.5 * target:
                break
            if total_s >= 0.5 * target:
                best = max(best, total_bytes * 8 / total_s)
    if best == 0.0:
        best = max((s * 8 / d for s, d in zip(sizes, durations, strict=True) if d > 0), default=0)
    return math.ceil(max(best, average_bitrate(sizes, durations)))


def average_bitrate(sizes: list[int], durations: list[float]) -> int:
    """Total bits over total seconds, rounded up (0 for an empty list)."""
    total_s = sum(durations)
    return math.ceil(sum(sizes) * 8 / total_s) if total_s > 0 else 0


def _check_input(encoded: Path, segment_seconds: float) -> None:
    """``MediaError`` for a missing input or a non-positive segment length."""
    if not encoded.is_file():
        raise MediaError(f"{encoded}: no such encoded file to package")
    if not segment_seconds > 0:
        raise MediaError(f"segment length must be positive, got {segment_seconds} s")


def _open(encoded: Path) -> av.container.InputContainer:
    """Open an encoded file, or ``MediaError`` saying it is not readable media."""
    try:
        return av.open(str(encoded))
    except av.FFmpegError as exc:
        raise MediaError(f"{encoded}: not a readable media file ({exc})") from exc


def _replace_dir(staging: Path, final: Path) -> None:
    """Rename ``staging`` to ``final``, replacing (then deleting) an earlier folder there."""
    old = None
    if final.exists():
        old = final.with_name(f".{final.name}.old-{uuid.uuid4().hex[:8]}")
        final.rename(old)
    try:
        staging.rename(final)
    except OSError:
        if old is not None:
            old.rename(final)
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


@dataclass(frozen=True)
class _Video:
    """Facts of the copied video stream."""

    codecs: str
    width: int
    height: int
    frame_rate: Fraction


def _fragment_video(encoded: Path, fragmented: Path) -> _Video:
    """Stream-copy the first video stream of ``encoded`` into a file with one fragment per GOP."""
    with _open(encoded) as source:
        if not source.streams.video:
            raise MediaError(f"{encoded}: has no video stream to package")
        stream = source.streams.video[0]
        context = stream.codec_context
        codecs = video_codec_string(context.name, bytes(context.extradata or b""))
        rate = stream.average_rate or stream.guessed_rate
        if not rate:
            raise MediaError(f"{encoded}: the video stream declares no frame rate")
        options = {"movflags": "frag_keyframe+empty_moov+default_base_moof"}
        packets = 0
        try:
            with av.open(str(fragmented), "w", format="mp4", options=options) as out:
                copy = out.add_stream_from_template(stream)
                copy.codec_tag = _CODEC_TAGS[context.name]
                for packet in source.demux(stream):
                    if packet.dts is None:
                        continue
                    if packets == 0 and not packet.is_keyframe:
                        raise MediaError(f"{encoded}: the video does not start with a keyframe")
                    packet.stream = copy
                    out.mux(packet)
                    packets += 1
        except av.FFmpegError as exc:
            raise MediaError(f"{encoded}: cannot copy the video stream ({exc})") from exc
        if packets == 0:
            raise MediaError(f"{encoded}: the video stream has no frames")
        return _Video(codecs, context.width, context.height, Fraction(rate))


def _video_track(tracks: dict[int, Track], where: Path) -> Track:
    """The video track of an init segment."""
    track = next((t for t in tracks.values() if t.handler == "vide"), None)
    if track is None:
        raise MediaError(f"{where}: the init segment has no video track")
    return track


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
    _check_input(encoded, segment_seconds)
    if not _NAME.match(name):
        raise MediaError(f"rung name {name!r} must be 1-32 letters, digits, '_' or '-'")
    out_dir.mkdir(parents=True, exist_ok=True)
    staging = out_dir / f".{name}.tmp-{uuid.uuid4().hex[:8]}"
    staging.mkdir()
    try:
        fragmented = staging / "fragmented.mp4"
        video = _fragment_video(encoded, fragmented)
        rung = _split_rung(fragmented, staging, name, video, segment_seconds)
        fragmented.unlink()
        _replace_dir(staging, out_dir / name)
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
    fragmented: Path, folder: Path, name: str, video: _Video, segment_seconds: float
) -> RungPlaylist:
    """Cut a per-GOP fragmented file into init + segments and write both playlists."""
    with fragmented.open("rb") as handle:
        boxes = scan_boxes(handle)
        moov = next((b for b in boxes if b.type == "moov"), None)
        if moov is None:
            raise MediaError(f"{fragmented}: the muxer wrote no moov box")
        handle.seek(0)
        init = handle.read(moov.end)
        (folder / INIT_SEGMENT).write_bytes(init)
        track = _video_track(parse_init(init), fragmented)
        fragments = [f for f in parse_fragments(handle, {track.track_id: track}) if _first(f)]
        if not fragments:
            raise MediaError(f"{fragmented}: the video has no fragments")
        scale = track.timescale
        starts = [_first(f).presentation_time / scale for f in fragments]
        origin = starts[0]
        total = sum(s.duration for f in fragments for s in f.samples[track.track_id]) / scale
        groups: list[list[int]] = []
        for index, start in enumerate(starts):
            slot = math.floor((start - origin) / segment_seconds + 1e-6)
            if not groups or slot > math.floor(
                (starts[groups[-1][0]] - origin) / segment_seconds + 1e-6
            ):
                groups.append([])
            groups[-1].append(index)
        segments, iframes, sizes, iframe_sizes = [], [], [], []
        for number, group in enumerate(groups):
            uri = SEGMENT_NAME.format(number)
            first, last = fragments[group[0]], fragments[group[-1]]
            with (folder / uri).open("wb") as out:
                handle.seek(first.offset)
                _copy(handle, out, last.end - first.offset)
            sizes.append(last.end - first.offset)
            end = starts[groups[number + 1][0]] if number + 1 < len(groups) else origin + total
            segments.append(Segment(uri=uri, duration_s=end - starts[group[0]]))
            for index in group:
                fragment, sample = fragments[index], _first(fragments[index])
                length = sample.offset + sample.size - fragment.offset
                until = starts[index + 1] if index + 1 < len(starts) else origin + total
                iframe_range = (length, fragment.offset - first.offset)
                iframes.append(
                    Segment(uri=uri, duration_s=until - starts[index], byte_range=iframe_range)
                )
                iframe_sizes.append(length)
    (folder / MEDIA_PLAYLIST).write_text(format_media_playlist(segments, INIT_SEGMENT), "utf-8")
    (folder / IFRAME_PLAYLIST).write_text(
        format_media_playlist(iframes, INIT_SEGMENT, iframes_only=True), "utf-8"
    )
    durations = [s.duration_s for s in segments]
    iframe_durations = [s.duration_s for s in iframes]
    return RungPlaylist(
        name=name,
        playlist=folder / MEDIA_PLAYLIST,
        iframe_playlist=folder / IFRAME_PLAYLIST,
        width=video.width,
        height=video.height,
        frame_rate=float(video.frame_rate),
        codecs=video.codecs,
        duration_s=round(total, 6),
        segment_starts_s=[round(starts[g[0]] - origin, 6) for g in groups],
        peak_bitrate=peak_segment_bitrate(sizes, durations, target_duration(durations)),
        average_bitrate=average_bitrate(sizes, durations),
        iframe_peak_bitrate=peak_segment_bitrate(
            iframe_sizes, iframe_durations, target_duration(iframe_durations)
        ),
        iframe_average_bitrate=average_bitrate(iframe_sizes, iframe_durations),
    )


def _first(fragment: Fragment) -> Sample | None:
    """The first video sample of a fragment (fragments carry one track here)."""
    samples = next(iter(fragment.samples.values()), [])
    return samples[0] if samples else None


def _copy(source: BinaryIO, target: BinaryIO, length: int) -> None:
    """Copy ``length`` bytes between open binary files in 1 MiB chunks."""
    while length > 0:
        chunk = source.read(min(length, 1 << 20))
        if not chunk:
            raise MediaError("the fragmented file ended early while cutting segments")
        target.write(chunk)
        length -= len(chunk)


def package_audio(
    encoded: Path, out_dir: Path, language: str = "und", segment_seconds: float = 6.0
) -> AudioPlaylist:
    """Package the first audio stream of ``encoded`` (AAC) as ``out_dir/audio_<language>/``.

    Stream copy through FFmpeg's HLS muxer (fMP4 segments cut at each multiple of
    ``segment_seconds``); the media playlist is rewritten with the durations measured from the
    segments' sample tables. ``language`` is an RFC 5646 tag such as ``en`` or ``pt-BR``.
    """
    encoded, out_dir = Path(encoded), Path(out_dir)
    _check_input(encoded, segment_seconds)
    if not _LANGUAGE.match(language):
        raise MediaError(f"language {language!r} is not an RFC 5646 tag such as 'en' or 'pt-BR'")
    folder_name = f"audio_{language}"
    out_dir.mkdir(parents=True, exist_ok=True)
    staging = out_dir / f".{folder_name}.tmp-{uuid.uuid4().hex[:8]}"
    staging.mkdir()
    try:
        with _open(encoded) as source:
            if not source.streams.audio:
                raise MediaError(f"{encoded}: has no audio stream to package")
            stream = source.streams.audio[0]
            context = stream.codec_context
            if context.name != "aac":
                raise MediaError(
                    f"{encoded}: only AAC audio can be packaged, this stream is {context.name}"
                )
            codecs = aac_codec_string(bytes(context.extradata or b""))
            channels, sample_rate = context.channels, context.sample_rate
            _segment_audio(source, stream, staging, segment_seconds, encoded)
        audio = _measure_audio(staging, encoded)
        _replace_dir(staging, out_dir / folder_name)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    sizes, durations = audio
    return AudioPlaylist(
        language=language,
        name=_LANGUAGE_NAMES.get(language.split("-")[0].lower(), language),
        playlist=out_dir / folder_name / MEDIA_PLAYLIST,
        codecs=codecs,
        channels=channels,
        sample_rate=sample_rate,
        duration_s=round(sum(durations), 6),
        segment_count=len(sizes),
        peak_bitrate=peak_segment_bitrate(sizes, durations, target_duration(durations)),
        average_bitrate=average_bitrate(sizes, durations),
    )


def _segment_audio(
    source: av.container.InputContainer,
    stream: av.audio.stream.AudioStream,
    folder: Path,
    segment_seconds: float,
    encoded: Path,
) -> None:
    """Stream-copy ``stream`` into fMP4 HLS segments in ``folder`` with FFmpeg's HLS muxer."""
    options = {
        "hls_time": f"{segment_seconds:.6f}",
        "hls_segment_type": "fmp4",
        "hls_playlist_type": "vod",
        "hls_fmp4_init_filename": INIT_SEGMENT,
        "hls_segment_filename": str(folder / "seg_%05d.m4s"),
    }
    packets = 0
    try:
        with av.open(str(folder / MEDIA_PLAYLIST), "w", format="hls", options=options) as out:
            copy = out.add_stream_from_template(stream)
            for packet in source.demux(stream):
                if packet.dts is None:
                    continue
                packet.stream = copy
                out.mux(packet)
                packets += 1
    except av.FFmpegError as exc:
        raise MediaError(f"{encoded}: cannot copy the audio stream ({exc})") from exc
    if packets == 0:
        raise MediaError(f"{encoded}: the audio stream has no frames")


def _measure_audio(folder: Path, encoded: Path) -> tuple[list[int], list[float]]:
    """Rewrite the audio playlist with measured durations; return segment sizes and durations."""
    init = folder / INIT_SEGMENT
    tracks = parse_init(init.read_bytes())
    files = sorted(folder.glob("seg_*.m4s"))
    if not files:
        raise MediaError(f"{encoded}: the HLS muxer wrote no audio segments")
    segments, sizes = [], []
    for path in files:
        with path.open("rb") as handle:
            fragments = parse_fragments(handle, tracks)
        ticks = sum(
            s.duration / tracks[t].timescale
            for f in fragments
            for t, samples in f.samples.items()
            for s in samples
        )
        segments.append(Segment(uri=path.name, duration_s=ticks))
        sizes.append(path.stat().st_size)
    (folder / MEDIA_PLAYLIST).write_text(format_media_playlist(segments, INIT_SEGMENT), "utf-8")
    return sizes, [s.duration_s for s in segments]


def write_master(package_dir: Path, rungs: list[RungPlaylist], audio: AudioPlaylist | None) -> Path:
    """Write (atomically replace) ``package_dir/master.m3u8`` listing ``rungs`` and ``audio``.

    Per variant: BANDWIDTH and AVERAGE-BANDWIDTH of the rung plus the audio, CODECS,
    RESOLUTION, FRAME-RATE and the audio group, smallest picture first; one
    ``#EXT-X-I-FRAME-STREAM-INF`` per rung (its I-frame playlist is written by ``package_rung``).
    Safe to call again as more rungs finish: readers see the old or the new playlist, whole.
    """
    package_dir = Path(package_dir)
    if not rungs:
        raise MediaError(f"{package_dir}: a master playlist needs at least one rung")
    renditions = []
    if audio is not None:
        renditions.append(
            Rendition(
                attributes={
                    "TYPE": "AUDIO",
                    "GROUP-ID": AUDIO_GROUP,
                    "LANGUAGE": audio.language,
                    "NAME": audio.name,
                    "DEFAULT": "YES",
                    "AUTOSELECT": "YES",
                    "CHANNELS": str(audio.channels),
                    "URI": _uri(package_dir, audio.playlist),
                }
            )
        )
    variants, iframe_streams = [], []
    for rung in sorted(rungs, key=lambda r: (r.width * r.height, r.peak_bitrate)):
        attributes = {
            "BANDWIDTH": str(rung.peak_bitrate + (audio.peak_bitrate if audio else 0)),
            "AVERAGE-BANDWIDTH": str(
                rung.average_bitrate + (audio.average_bitrate if audio else 0)
            ),
            "CODECS": f"{rung.codecs},{audio.codecs}" if audio else rung.codecs,
            "RESOLUTION": f"{rung.width}x{rung.height}",
            "FRAME-RATE": f"{rung.frame_rate:.3f}",
        }
        if audio is not None:
            attributes["AUDIO"] = AUDIO_GROUP
        variants.append(Variant(uri=_uri(package_dir, rung.playlist), attributes=attributes))
        iframe_streams.append(
            Variant(
                uri=_uri(package_dir, rung.iframe_playlist),
                attributes={
                    "BANDWIDTH": str(rung.iframe_peak_bitrate),
                    "AVERAGE-BANDWIDTH": str(rung.iframe_average_bitrate),
                    "CODECS": rung.codecs,
                    "RESOLUTION": f"{rung.width}x{rung.height}",
                },
            )
        )
    text = format_master_playlist(variants, renditions, iframe_streams)
    return write_atomically(package_dir / MASTER_PLAYLIST, text)


def _uri(package_dir: Path, playlist: Path) -> str:
    """``playlist`` as a URI relative to ``package_dir``; ``MediaError`` if it lies outside."""
    try:
        return Path(playlist).resolve().relative_to(package_dir.resolve()).as_posix()
    except ValueError:
        raise MediaError(f"{playlist} is not inside the package folder {package_dir}") from None
