"""Check an HLS package against RFC 8216 and Apple's HLS authoring rules, by measuring it."""

from __future__ import annotations

import io
import math
import statistics
from dataclasses import dataclass, field
from pathlib import Path

import av
from pydantic import BaseModel

from media.errors import MediaError
from media.hls.codecs import aac_codec_string, video_codec_string
from media.hls.isobmff import Sample, Track, parse_fragments, parse_init
from media.hls.playlists import MediaPlaylist, parse_master_playlist, parse_media_playlist
from media.hls.segments import average_bitrate, peak_segment_bitrate

#: Declared BANDWIDTH / AVERAGE-BANDWIDTH may differ this much from the measured rate.
BANDWIDTH_TOLERANCE = 0.10
_VARIANT_ATTRIBUTES = ("BANDWIDTH", "AVERAGE-BANDWIDTH", "CODECS", "RESOLUTION", "FRAME-RATE")
_IFRAME_ATTRIBUTES = ("BANDWIDTH", "CODECS", "RESOLUTION")
_IDR_TYPES = {"avc1": {5}, "avc3": {5}, "hvc1": {19, 20}, "hev1": {19, 20}}


class Problem(BaseModel):
    """One way the package breaks the rules: where (a file, a variant) and what is wrong."""

    where: str
    message: str

    def __str__(self) -> str:
        return f"{self.where}: {self.message}"


class ValidationReport(BaseModel):
    """The outcome of ``validate_package``: every problem found (none when ``ok``)."""

    package: Path
    problems: list[Problem] = []

    @property
    def ok(self) -> bool:
        """True when the package broke no rule."""
        return not self.problems

    def add(self, where: str, message: str) -> None:
        """Record a problem."""
        self.problems.append(Problem(where=where, message=message))

    def __str__(self) -> str:
        if self.ok:
            return f"{self.package}: valid HLS package"
        lines = [f"{self.package}: {len(self.problems)} problem(s)"]
        return "\n".join(lines + [f"- {p}" for p in self.problems])


@dataclass
class _Measured:
    """What a media playlist's files really hold."""

    sizes: list[int] = field(default_factory=list)
    durations: list[float] = field(default_factory=list)
    target: int = 1
    codecs: list[str] = field(default_factory=list)
    size: tuple[int, int] | None = None
    frame_rate: float | None = None
    starts: list[float] = field(default_factory=list)

    @property
    def peak(self) -> int:
        """RFC 8216 peak segment bit rate."""
        return peak_segment_bitrate(self.sizes, self.durations, self.target) if self.sizes else 0

    @property
    def average(self) -> int:
        """Average segment bit rate."""
        return average_bitrate(self.sizes, self.durations)


def validate_package(package_dir: Path, master: str = "master.m3u8") -> ValidationReport:
    """Validate the package whose master playlist is ``package_dir/master``.

    Checks: playlists parse; VOD media playlists with ``#EXT-X-MAP`` and ``#EXT-X-ENDLIST``;
    every EXTINF, rounded, at most TARGETDURATION and equal to the segment's real duration;
    every video segment starts with an IDR; segment boundaries at the same times in every
    variant; BANDWIDTH and AVERAGE-BANDWIDTH within 10 % of the measured peak and average
    (video plus its audio group); CODECS, RESOLUTION and FRAME-RATE present and true (the
    first frame is decoded); I-frame playlists whose byte ranges decode to keyframes.
    """
    package_dir = Path(package_dir)
    report = ValidationReport(package=package_dir)
    master_path = package_dir / master
    try:
        playlist = parse_master_playlist(master_path)
    except (MediaError, ValueError) as exc:
        report.add(master, f"does not parse: {exc}")
        return report
    if not playlist.independent_segments:
        report.add(master, "lacks #EXT-X-INDEPENDENT-SEGMENTS")
    groups: dict[str, list[_Measured]] = {}
    for rendition in playlist.renditions:
        attrs = rendition.attributes
        where = f"{master} #EXT-X-MEDIA {attrs.get('NAME', '?')!r}"
        for name in ("GROUP-ID", "NAME", "LANGUAGE"):
            if name not in attrs:
                report.add(where, f"has no {name} attribute")
        if attrs.get("TYPE") == "AUDIO" and rendition.uri:
            measured = _check_media(package_dir / rendition.uri, rendition.uri, report)
            if measured is not None:
                groups.setdefault(attrs.get("GROUP-ID", ""), []).append(measured)
    starts: dict[str, list[float]] = {}
    for variant in playlist.variants:
        where = f"{master} variant {variant.uri}"
        attrs = variant.attributes
        for name in _VARIANT_ATTRIBUTES:
            if name not in attrs:
                report.add(where, f"has no {name} attribute")
        measured = _check_media(package_dir / variant.uri, variant.uri, report)
        if measured is None:
            continue
        peak, average, codecs = measured.peak, measured.average, list(measured.codecs)
        if "AUDIO" in attrs:
            group = groups.get(attrs["AUDIO"])
            if not group:
                report.add(where, f"names audio group {attrs['AUDIO']!r}, which has no rendition")
            else:
                peak += max(m.peak for m in group)
                average += max(m.average for m in group)
                codecs += [c for c in group[0].codecs if c not in codecs]
        _check_rate(report, where, attrs, "BANDWIDTH", peak, "peak")
        _check_rate(report, where, attrs, "AVERAGE-BANDWIDTH", average, "average")
        _check_stream_attributes(report, where, attrs, measured, codecs)
        if measured.starts:
            starts[variant.uri] = measured.starts
    _check_alignment(report, master, starts)
    for stream in playlist.iframe_streams:
        where = f"{master} I-frame stream {stream.uri}"
        for name in _IFRAME_ATTRIBUTES:
            if name not in stream.attributes:
                report.add(where, f"has no {name} attribute")
        measured = _check_iframes(package_dir / stream.uri, stream.uri, report)
        if measured is not None:
            _check_rate(report, where, stream.attributes, "BANDWIDTH", measured.peak, "peak")
            _check_stream_attributes(report, where, stream.attributes, measured, measured.codecs)
    return report


def _check_rate(
    report: ValidationReport,
    where: str,
    attrs: dict[str, str],
    name: str,
    measured: int,
    what: str,
) -> None:
    """A declared bit rate must be within ``BANDWIDTH_TOLERANCE`` of the measured one."""
    if name not in attrs or measured <= 0:
        return
    try:
        declared = int(attrs[name])
    except ValueError:
        report.add(where, f"{name}={attrs[name]} is not an integer")
        return
    off = (declared - measured) / measured
    if abs(off) > BANDWIDTH_TOLERANCE:
        report.add(
            where,
            f"{name}={declared} is {abs(off):.0%} {'above' if off > 0 else 'below'} the "
            f"measured {what} segment bit rate {measured} b/s (allowed: 10 %)",
        )


def _check_stream_attributes(
    report: ValidationReport,
    where: str,
    attrs: dict[str, str],
    measured: _Measured,
    codecs: list[str],
) -> None:
    """CODECS, RESOLUTION and FRAME-RATE must describe the decoded streams."""
    if "CODECS" in attrs and codecs:
        declared = [c.strip() for c in attrs["CODECS"].split(",")]
        if sorted(declared) != sorted(codecs):
            report.add(
                where, f'CODECS="{attrs["CODECS"]}" but the streams are "{",".join(codecs)}"'
            )
    if "RESOLUTION" in attrs and measured.size is not None:
        actual = f"{measured.size[0]}x{measured.size[1]}"
        if attrs["RESOLUTION"] != actual:
            report.add(where, f"RESOLUTION={attrs['RESOLUTION']} but frames decode as {actual}")
    if "FRAME-RATE" in attrs and measured.frame_rate is not None:
        try:
            declared_rate = float(attrs["FRAME-RATE"])
        except ValueError:
            declared_rate = -1.0
        if abs(declared_rate - measured.frame_rate) > 0.01:
            report.add(
                where,
                f"FRAME-RATE={attrs['FRAME-RATE']} but the video runs at "
                f"{measured.frame_rate:.3f} frames/s",
            )


def _check_alignment(report: ValidationReport, master: str, starts: dict[str, list[float]]) -> None:
    """Every variant must start its segments at the same times (within a millisecond)."""
    if len(starts) < 2:
        return
    (first_uri, first), *others = starts.items()
    for uri, times in others:
        for number, (a, b) in enumerate(zip(first, times, strict=False)):
            if abs(a - b) > 0.001:
                report.add(
                    master,
                    f"segment boundaries differ across variants: segment {number} starts at "
                    f"{a:.3f} s in {first_uri} but at {b:.3f} s in {uri}",
                )
                break
        else:
            if len(first) != len(times):
                report.add(
                    master,
                    f"segment boundaries differ across variants: {first_uri} has {len(first)} "
                    f"segments, {uri} has {len(times)}",
                )


def _load(path: Path, where: str, report: ValidationReport) -> MediaPlaylist | None:
    """Parse a media playlist and check the VOD fMP4 basics."""
    try:
        playlist = parse_media_playlist(path)
    except MediaError as exc:
        report.add(where, f"does not parse: {exc}")
        return None
    if playlist.playlist_type != "VOD":
        report.add(where, "is not #EXT-X-PLAYLIST-TYPE:VOD")
    if not playlist.endlist:
        report.add(where, "lacks #EXT-X-ENDLIST")
    if playlist.map_uri is None:
        report.add(where, "has no #EXT-X-MAP (fMP4 segments need an init segment)")
        return None
    if (playlist.version or 1) < 6:
        report.add(where, f"declares #EXT-X-VERSION:{playlist.version}; #EXT-X-MAP needs 6+")
    if not playlist.segments:
        report.add(where, "lists no segments")
        return None
    for segment in playlist.segments:
        if math.floor(segment.duration_s + 0.5) > playlist.target_duration:
            report.add(
                where,
                f"{segment.uri}: EXTINF {segment.duration_s:.3f} s rounds above "
                f"#EXT-X-TARGETDURATION:{playlist.target_duration}",
            )
    return playlist


def _read(path: Path, byte_range: tuple[int, int] | None) -> bytes:
    """A segment's bytes (only its byte range if it has one)."""
    with path.open("rb") as handle:
        if byte_range is None:
            return handle.read()
        handle.seek(byte_range[1])
        data = handle.read(byte_range[0])
    if len(data) != byte_range[0]:
        raise MediaError(f"byte range {byte_range[0]}@{byte_range[1]} runs past the end")
    return data


def _check_media(path: Path, where: str, report: ValidationReport) -> _Measured | None:
    """Check one media playlist and its segments; measure sizes, durations, codecs and size."""
    playlist = _load(path, where, report)
    if playlist is None or playlist.map_uri is None:
        return None
    folder = path.parent
    try:
        init = (folder / playlist.map_uri).read_bytes()
        tracks = parse_init(init)
    except (OSError, MediaError) as exc:
        report.add(where, f"init segment {playlist.map_uri}: {exc}")
        return None
    video = next((t for t in tracks.values() if t.handler == "vide"), None)
    main = video or next(iter(tracks.values()))
    measured = _Measured(target=playlist.target_duration)
    origin: float | None = None
    sample_durations: list[int] = []
    first_segment = b""
    for segment in playlist.segments:
        try:
            data = _read(folder / segment.uri, segment.byte_range)
            fragments = parse_fragments(data, tracks)
        except (OSError, MediaError) as exc:
            report.add(where, f"{segment.uri}: {exc}")
            return None
        samples = [s for f in fragments for s in f.samples.get(main.track_id, [])]
        if not samples:
            report.add(where, f"{segment.uri}: holds no samples")
            return None
        first_segment = first_segment or data
        seconds = sum(s.duration for s in samples) / main.timescale
        if abs(seconds - segment.duration_s) > 0.05:
            report.add(
                where,
                f"{segment.uri}: EXTINF {segment.duration_s:.3f} s but the segment holds "
                f"{seconds:.3f} s of media",
            )
        measured.sizes.append(len(data))
        measured.durations.append(segment.duration_s)
        if video is not None:
            sample_durations += [s.duration for s in samples]
            _check_idr(report, where, segment.uri, video, samples[0], data)
            start = (samples[0].presentation_time - video.edit_media_time) / video.timescale
            origin = start if origin is None else origin
            measured.starts.append(round(start - origin, 6))
    if video is not None and sample_durations:
        measured.frame_rate = video.timescale / statistics.median(sample_durations)
    _decode_first(init + first_segment, where, measured, report)
    return measured


def _check_idr(
    report: ValidationReport, where: str, uri: str, track: Track, sample: Sample, data: bytes
) -> None:
    """The first video sample of a segment must be a sync sample and (H.264/HEVC) an IDR."""
    if not sample.sync:
        report.add(where, f"{uri} does not start with an IDR frame (first sample is not sync)")
        return
    idr = _IDR_TYPES.get(track.sample_entry)
    if idr is None:
        return
    hevc = track.sample_entry in ("hvc1", "hev1")
    types, position, end = [], sample.offset, sample.offset + sample.size
    while position + 4 <= end:
        length = int.from_bytes(data[position : position + 4], "big")
        if length == 0 or position + 4 + length > end:
            break
        header = data[position + 4]
        types.append(header >> 1 & 0x3F if hevc else header & 0x1F)
        position += 4 + length
    if not idr & set(types):
        report.add(where, f"{uri} does not start with an IDR frame (NAL unit types {types})")


def _decode_first(data: bytes, where: str, measured: _Measured, report: ValidationReport) -> None:
    """Decode init + first segment: the real codec strings and picture size."""
    try:
        with av.open(io.BytesIO(data), "r") as container:
            for stream in container.streams:
                context = stream.codec_context
                extradata = bytes(context.extradata or b"")
                if stream.type == "video":
                    measured.codecs.append(
                        video_codec_string(context.codec.canonical_name, extradata)
                    )
                    frame = next(container.decode(stream), None)
                    if not isinstance(frame, av.VideoFrame):
                        report.add(where, "the first segment decodes to no video frame")
                    else:
                        measured.size = (frame.width, frame.height)
                elif stream.type == "audio":
                    codec = (
                        aac_codec_string(extradata)
                        if context.name == "aac"
                        else context.codec.canonical_name
                    )
                    measured.codecs.append(codec)
    except (av.FFmpegError, MediaError) as exc:
        report.add(where, f"the first segment does not decode: {exc}")


def _check_iframes(path: Path, where: str, report: ValidationReport) -> _Measured | None:
    """Every byte range of an I-frame playlist must decode (with the init) to a keyframe."""
    playlist = _load(path, where, report)
    if playlist is None or playlist.map_uri is None:
        return None
    if not playlist.iframes_only:
        report.add(where, "lacks #EXT-X-I-FRAMES-ONLY")
    try:
        init = (path.parent / playlist.map_uri).read_bytes()
    except OSError as exc:
        report.add(where, f"init segment {playlist.map_uri}: {exc}")
        return None
    measured = _Measured(target=playlist.target_duration)
    for number, segment in enumerate(playlist.segments):
        label = f"I-frame {number} ({segment.uri} {segment.byte_range})"
        if segment.byte_range is None:
            report.add(where, f"{label} has no #EXT-X-BYTERANGE")
            continue
        try:
            data = _read(path.parent / segment.uri, segment.byte_range)
            with av.open(io.BytesIO(init + data), "r") as container:
                stream = container.streams.video[0]
                packet = next((p for p in container.demux(stream) if p.size), None)
                if packet is None or not packet.is_keyframe:
                    report.add(where, f"{label} does not hold a keyframe")
                    continue
                frames = packet.decode() + stream.codec_context.decode(None)
                if not frames:
                    report.add(where, f"{label} does not decode to a picture")
                    continue
                if not measured.codecs:
                    context = stream.codec_context
                    extradata = bytes(context.extradata or b"")
                    measured.codecs.append(
                        video_codec_string(context.codec.canonical_name, extradata)
                    )
                    measured.size = (frames[0].width, frames[0].height)
        except (OSError, MediaError, av.FFmpegError, IndexError) as exc:
            report.add(where, f"{label} does not decode: {exc}")
            continue
        measured.sizes.append(len(data))
        measured.durations.append(segment.duration_s)
    return measured
