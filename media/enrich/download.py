"""The offline-download rendition: one progressive, faststart MP4 made by stream copy."""

from __future__ import annotations

import heapq
import uuid
from collections.abc import Iterator
from pathlib import Path

import av

from media.errors import MediaError


def _open(path: Path) -> av.container.InputContainer:
    """Open an encoded file, or ``MediaError`` saying why not."""
    if not path.is_file():
        raise MediaError(f"{path}: no such encoded file for the download")
    try:
        return av.open(str(path))
    except av.FFmpegError as exc:
        raise MediaError(f"{path}: not a readable media file ({exc})") from exc


def make_download_mp4(encoded_video: Path, encoded_audio: Path | None, out: Path) -> Path:
    """Write ``out``: the video of ``encoded_video`` and the audio of ``encoded_audio`` (or, if
    that is None, the audio of ``encoded_video`` when it has one) as a faststart MP4.

    Stream copy, no re-encode; the ``moov`` comes before the ``mdat`` so a player can start
    before the download ends. Written through a temporary sibling and an atomic rename.
    """
    encoded_video, out = Path(encoded_video), Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.{uuid.uuid4().hex[:8]}.tmp.mp4")
    with _open(encoded_video) as video_in:
        if not video_in.streams.video:
            raise MediaError(f"{encoded_video}: has no video stream for the download")
        audio_in = _open(Path(encoded_audio)) if encoded_audio is not None else None
        try:
            audio_source = audio_in if audio_in is not None else video_in
            if audio_in is not None and not audio_in.streams.audio:
                raise MediaError(f"{encoded_audio}: has no audio stream for the download")
            try:
                _remux(video_in, audio_source, tmp)
                tmp.replace(out)
            except av.FFmpegError as exc:
                raise MediaError(f"cannot write the download {out} ({exc})") from exc
        finally:
            tmp.unlink(missing_ok=True)
            if audio_in is not None:
                audio_in.close()
    return out


def _remux(
    video_in: av.container.InputContainer,
    audio_in: av.container.InputContainer,
    tmp: Path,
) -> None:
    """Copy the first video and first audio stream (if any) into ``tmp``, interleaved by time."""
    with av.open(str(tmp), "w", format="mp4", options={"movflags": "+faststart"}) as out:
        video_stream = video_in.streams.video[0]
        audio_stream = audio_in.streams.audio[0] if audio_in.streams.audio else None
        copies: dict[tuple[int, int], av.stream.Stream] = {
            (id(video_in), video_stream.index): out.add_stream_from_template(
                video_stream, opaque=True
            )
        }
        if audio_stream is None:
            packets: Iterator[av.Packet] = video_in.demux(video_stream)
        else:
            copies[id(audio_in), audio_stream.index] = out.add_stream_from_template(audio_stream)
            if audio_in is video_in:
                packets = video_in.demux(video_stream, audio_stream)
            else:
                packets = heapq.merge(
                    _timed(video_in, video_stream), _timed(audio_in, audio_stream), key=_seconds
                )
        for packet in packets:
            if packet.dts is None:
                continue
            source = video_in if packet.stream.type == "video" else audio_in
            packet.stream = copies[id(source), packet.stream.index]
            out.mux(packet)


def _timed(container: av.container.InputContainer, stream: av.stream.Stream) -> Iterator[av.Packet]:
    """The packets of ``stream`` that carry a decode time."""
    return (p for p in container.demux(stream) if p.dts is not None)


def _seconds(packet: av.Packet) -> float:
    """A packet's decode time in seconds."""
    if packet.dts is None or packet.time_base is None:
        raise MediaError("a packet without a decode time cannot be interleaved")
    return float(packet.dts * packet.time_base)
