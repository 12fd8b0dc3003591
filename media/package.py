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
from pydantic import BaseModel, ConfigDict, Field

from media.codecs import aac_codec_string, video_codec_string
from media.errors import MediaError
from media.isobmff import (
    Fragment,
    Sample,
    Track,
    parse_fragments,
    parse_init,
    scan_boxes,
    shift_fragments,
)
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
        codecs = video_codec_string(context.codec.canonical_name, bytes(context.extradata or b""))
        rate = stream.average_rate or stream.guessed_rate
        if not rate:
            raise MediaError(f"{encoded}: the video stream declares no frame rate")
        options = {"movflags": "frag_keyframe+empty_moov+default_base_moof"}
        packets = 0
        try:
            with av.open(str(fragmented), "w", format="mp4", options=options) as out:
                copy = out.add_stream_from_template(stream, opaque=True)
                copy.codec_tag = _CODEC_TAGS[context.codec.canonical_name]
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


class SegmentInfo(BaseModel):
    """One cut video segment: where it sits on the rung's timeline, its size and key frames."""

    model_config = ConfigDict(frozen=True)

    uri: str
    start_s: float = Field(description="Presentation start, seconds from the rung's start.")
    duration_s: float
    size: int
    iframes: list[tuple[float, int, int]] = Field(
        description="Per GOP: (seconds until the next key frame, byte length, byte offset)."
    )


@dataclass(frozen=True)
class _Cut:
    """Segments cut from one fragmented file."""

    init: bytes
    timescale: int
    segments: list[SegmentInfo]
    duration_s: float
    first_decode_time: int
    end_decode_time: int
    fragments: int


def _cut_segments(
    fragmented: Path,
    folder: Path,
    segment_seconds: float,
    offset_s: float = 0.0,
    first_number: int = 0,
) -> _Cut:
    """Cut a per-GOP fragmented file into segments in ``folder`` (init bytes are returned).

    A segment starts at the first key frame on or after each multiple of ``segment_seconds``
    of the rung's timeline, where the file's first frame sits at ``offset_s``; segments are
    numbered from ``first_number``.
    """
    with fragmented.open("rb") as handle:
        boxes = scan_boxes(handle)
        moov = next((b for b in boxes if b.type == "moov"), None)
        if moov is None:
            raise MediaError(f"{fragmented}: the muxer wrote no moov box")
        handle.seek(0)
        init = handle.read(moov.end)
        track = _video_track(parse_init(init), fragmented)
        fragments = [f for f in parse_fragments(handle, {track.track_id: track}) if _first(f)]
        if not fragments:
            raise MediaError(f"{fragmented}: the video has no fragments")
        scale = track.timescale
        starts = [_first(f).presentation_time / scale for f in fragments]
        origin = starts[0]
        ticks = sum(s.duration for f in fragments for s in f.samples[track.track_id])
        total = ticks / scale

        def slot(start: float) -> int:
            return math.floor((start - origin + offset_s) / segment_seconds + 1e-6)

        groups: list[list[int]] = []
        for index, start in enumerate(starts):
            if not groups or slot(start) > slot(starts[groups[-1][0]]):
                groups.append([])
            groups[-1].append(index)
        segments = []
        for number, group in enumerate(groups, start=first_number):
            uri = SEGMENT_NAME.format(number)
            first, last = fragments[group[0]], fragments[group[-1]]
            with (folder / uri).open("wb") as out:
                handle.seek(first.offset)
                _copy(handle, out, last.end - first.offset)
            after = number - first_number + 1
            end = starts[groups[after][0]] if after < len(groups) else origin + total
            iframes = []
            for index in group:
                fragment, sample = fragments[index], _first(fragments[index])
                until = starts[index + 1] if index + 1 < len(starts) else origin + total
                length = sample.offset + sample.size - fragment.offset
                iframes.append((until - starts[index], length, fragment.offset - first.offset))
            segments.append(
                SegmentInfo(
                    uri=uri,
                    start_s=round(starts[group[0]] - origin + offset_s, 6),
                    duration_s=end - starts[group[0]],
                    size=last.end - first.offset,
                    iframes=iframes,
                )
            )
    first_sample = fragments[0].samples[track.track_id][0]
    return _Cut(
        init=init,
        timescale=scale,
        segments=segments,
        duration_s=total,
        first_decode_time=first_sample.decode_time,
        end_decode_time=first_sample.decode_time + ticks,
        fragments=len(fragments),
    )


def _write_playlists(
    folder: Path, segments: list[SegmentInfo], *, media: str, iframes: str, **kind: object
) -> None:
    """Write the media and I-frame playlists of ``segments`` (``kind``: playlist type options)."""
    media_segments = [Segment(uri=s.uri, duration_s=s.duration_s) for s in segments]
    iframe_segments = [
        Segment(uri=s.uri, duration_s=seconds, byte_range=(length, offset))
        for s in segments
        for seconds, length, offset in s.iframes
    ]
    write_atomically(folder / media, format_media_playlist(media_segments, INIT_SEGMENT, **kind))
    write_atomically(
        folder / iframes,
        format_media_playlist(iframe_segments, INIT_SEGMENT, iframes_only=True, **kind),
    )


def _rung_playlist(
    folder: Path,
    name: str,
    video: _Video,
    segments: list[SegmentInfo],
    duration_s: float,
    *,
    media: str = MEDIA_PLAYLIST,
    iframes: str = IFRAME_PLAYLIST,
) -> RungPlaylist:
    """What the master playlist says about a rung whose segments are ``segments``."""
    sizes = [s.size for s in segments]
    durations = [s.duration_s for s in segments]
    iframe_sizes = [length for s in segments for _, length, _ in s.iframes]
    iframe_durations = [seconds for s in segments for seconds, _, _ in s.iframes]
    return RungPlaylist(
        name=name,
        playlist=folder / media,
        iframe_playlist=folder / iframes,
        width=video.width,
        height=video.height,
        frame_rate=float(video.frame_rate),
        codecs=video.codecs,
        duration_s=round(duration_s, 6),
        segment_starts_s=[s.start_s for s in segments],
        peak_bitrate=peak_segment_bitrate(sizes, durations, target_duration(durations)),
        average_bitrate=average_bitrate(sizes, durations),
        iframe_peak_bitrate=peak_segment_bitrate(
            iframe_sizes, iframe_durations, target_duration(iframe_durations)
        ),
        iframe_average_bitrate=average_bitrate(iframe_sizes, iframe_durations),
    )


def _split_rung(
    fragmented: Path, folder: Path, name: str, video: _Video, segment_seconds: float
) -> RungPlaylist:
    """Cut a per-GOP fragmented file into init + segments and write both VOD playlists."""
    cut = _cut_segments(fragmented, folder, segment_seconds)
    (folder / INIT_SEGMENT).write_bytes(cut.init)
    _write_playlists(folder, cut.segments, media=MEDIA_PLAYLIST, iframes=IFRAME_PLAYLIST)
    return _rung_playlist(folder, name, video, cut.segments, cut.duration_s)


LIVE_PLAYLIST = "live.m3u8"
LIVE_IFRAME_PLAYLIST = "iframes_live.m3u8"


class ProgressiveRung(BaseModel):
    """A rung published chunk by chunk as an EVENT playlist while the rest is encoded.

    Its segments are written once and never change; when the last chunk is in, ``finish_rung``
    writes the VOD playlists over the same segments. Serialisable, so a job can resume it.
    """

    model_config = ConfigDict(frozen=True)

    name: str
    folder: Path
    codecs: str
    width: int
    height: int
    frame_rate: float
    target: int = Field(description="#EXT-X-TARGETDURATION, fixed for the EVENT playlist.")
    chunks: int = 0
    fragments: int = 0
    next_decode_time: int = 0
    duration_s: float = 0.0
    segments: list[SegmentInfo] = []

    def _video(self) -> _Video:
        return _Video(self.codecs, self.width, self.height, Fraction(self.frame_rate))

    def live(self, declared_peak: int = 0) -> RungPlaylist:
        """The rung as its EVENT playlists, with BANDWIDTH at least ``declared_peak``.

        The peak measured so far can grow with later segments, so the master declares the
        larger of it and ``declared_peak`` (the encoder's cap) until the rung is complete.
        """
        rung = _rung_playlist(
            self.folder,
            self.name,
            self._video(),
            self.segments,
            self.duration_s,
            media=LIVE_PLAYLIST,
            iframes=LIVE_IFRAME_PLAYLIST,
        )
        return rung.model_copy(update={"peak_bitrate": max(rung.peak_bitrate, declared_peak)})


def append_chunk(
    progress: ProgressiveRung | None,
    encoded: Path,
    out_dir: Path,
    name: str,
    offset_s: float,
    segment_seconds: float = 6.0,
) -> ProgressiveRung:
    """Package the next chunk of a rung (``encoded``, starting ``offset_s`` into the video)
    and append its segments to ``out_dir/<name>/`` and its EVENT playlists.

    The chunk must start on a segment boundary and follow the chunks already appended; its
    fragments are moved onto the rung's continuous timeline (``tfdt``) and fragment numbering
    (``mfhd``). A first chunk (``progress`` None) replaces whatever the rung folder held.
    Raises ``MediaError`` if the chunk's init segment differs from the rung's (another codec
    configuration cannot join the same timeline).
    """
    encoded, out_dir = Path(encoded), Path(out_dir)
    _check_input(encoded, segment_seconds)
    if not _NAME.match(name):
        raise MediaError(f"rung name {name!r} must be 1-32 letters, digits, '_' or '-'")
    folder = out_dir / name
    staging = out_dir / f".{name}.chunk-{uuid.uuid4().hex[:8]}"
    staging.mkdir(parents=True)
    try:
        fragmented = staging / "fragmented.mp4"
        video = _fragment_video(encoded, fragmented)
        first_number = len(progress.segments) if progress else 0
        cut = _cut_segments(fragmented, staging, segment_seconds, offset_s, first_number)
        if progress is None:
            shutil.rmtree(folder, ignore_errors=True)
            folder.mkdir(parents=True)
            (folder / INIT_SEGMENT).write_bytes(cut.init)
            target = max(
                target_duration([s.duration_s for s in cut.segments]),
                math.floor(segment_seconds + 0.5),
            )
            progress = ProgressiveRung(
                name=name,
                folder=folder,
                codecs=video.codecs,
                width=video.width,
                height=video.height,
                frame_rate=float(video.frame_rate),
                target=target,
                next_decode_time=cut.first_decode_time,
            )
        elif _without_bitrates((folder / INIT_SEGMENT).read_bytes()) != _without_bitrates(cut.init):
            raise MediaError(
                f"{encoded}: its init segment differs from rung {name}'s; it cannot be appended"
            )
        expected = progress.duration_s
        if abs(offset_s - expected) > 0.5 / progress.frame_rate:
            raise MediaError(
                f"{encoded}: chunk starts at {offset_s:.3f} s but rung {name} ends at "
                f"{expected:.3f} s"
            )
        shift = progress.next_decode_time - cut.first_decode_time
        for segment in cut.segments:
            data = (staging / segment.uri).read_bytes()
            tmp = folder / f".{segment.uri}.tmp"
            tmp.write_bytes(shift_fragments(data, shift, progress.fragments))
            tmp.replace(folder / segment.uri)
        progress = progress.model_copy(
            update={
                "chunks": progress.chunks + 1,
                "fragments": progress.fragments + cut.fragments,
                "next_decode_time": cut.end_decode_time + shift,
                "duration_s": round(progress.duration_s + cut.duration_s, 6),
                "segments": [*progress.segments, *cut.segments],
            }
        )
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    _write_playlists(
        folder,
        progress.segments,
        media=LIVE_PLAYLIST,
        iframes=LIVE_IFRAME_PLAYLIST,
        playlist_type="EVENT",
        endlist=False,
        target=progress.target,
    )
    return progress


def _without_bitrates(init: bytes) -> bytes:
    """``init`` with the payload of its ``btrt`` boxes zeroed: the bit rates an encoder measured
    on one chunk, informative only, differ between chunks of one rung."""
    out = bytearray(init)
    start = 0
    while (found := init.find(b"btrt", start)) >= 4:
        size = int.from_bytes(init[found - 4 : found], "big")
        if size == 20:  # size, type, bufferSizeDB, maxBitrate, avgBitrate
            out[found + 4 : found + 16] = bytes(12)
        start = found + 4
    return bytes(out)


def finish_rung(progress: ProgressiveRung) -> RungPlaylist:
    """Complete a progressive rung: end its EVENT playlists and write its VOD playlists."""
    if not progress.segments:
        raise MediaError(f"rung {progress.name} has no segments to finish")
    kind = {"playlist_type": "EVENT", "target": progress.target}
    _write_playlists(
        progress.folder,
        progress.segments,
        media=LIVE_PLAYLIST,
        iframes=LIVE_IFRAME_PLAYLIST,
        **kind,
    )
    _write_playlists(
        progress.folder, progress.segments, media=MEDIA_PLAYLIST, iframes=IFRAME_PLAYLIST
    )
    return _rung_playlist(
        progress.folder, progress.name, progress._video(), progress.segments, progress.duration_s
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
