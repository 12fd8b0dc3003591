"""Package the audio (AAC) as an fMP4 HLS rendition by stream copy."""

from __future__ import annotations

import re
import shutil
import uuid
from pathlib import Path

import av
from pydantic import BaseModel, ConfigDict

from media.errors import MediaError
from media.hls.codecs import aac_codec_string
from media.hls.isobmff import parse_fragments, parse_init
from media.hls.playlists import Segment, format_media_playlist, target_duration
from media.hls.segments import (
    INIT_SEGMENT,
    MEDIA_PLAYLIST,
    average_bitrate,
    check_input,
    open_encoded,
    peak_segment_bitrate,
    replace_dir,
)

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


def package_audio(
    encoded: Path, out_dir: Path, language: str = "und", segment_seconds: float = 6.0
) -> AudioPlaylist:
    """Package the first audio stream of ``encoded`` (AAC) as ``out_dir/audio_<language>/``.

    Stream copy through FFmpeg's HLS muxer (fMP4 segments cut at each multiple of
    ``segment_seconds``); the media playlist is rewritten with the durations measured from the
    segments' sample tables. ``language`` is an RFC 5646 tag such as ``en`` or ``pt-BR``.
    """
    encoded, out_dir = Path(encoded), Path(out_dir)
    check_input(encoded, segment_seconds)
    if not _LANGUAGE.match(language):
        raise MediaError(f"language {language!r} is not an RFC 5646 tag such as 'en' or 'pt-BR'")
    folder_name = f"audio_{language}"
    out_dir.mkdir(parents=True, exist_ok=True)
    staging = out_dir / f".{folder_name}.tmp-{uuid.uuid4().hex[:8]}"
    staging.mkdir()
    try:
        with open_encoded(encoded) as source:
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
        replace_dir(staging, out_dir / folder_name)
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
