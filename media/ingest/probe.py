"""What a media file holds: container, codecs, duration, geometry, frame rate, rotation, audio."""

from __future__ import annotations

from pathlib import Path

import av
from pydantic import BaseModel, ConfigDict

from media.errors import MediaError


class ProbeResult(BaseModel):
    """The facts about a video file that packaging needs.

    ``width`` x ``height`` is the first decoded frame (before rotation); ``declared_*`` is what
    the stream header says.
    """

    model_config = ConfigDict(frozen=True)

    container: str
    video_codec: str
    audio_codec: str | None
    duration_s: float
    width: int
    height: int
    declared_width: int
    declared_height: int
    fps: float
    rotation: int
    audio_channels: int
    audio_sample_rate: int | None

    @property
    def display_size(self) -> tuple[int, int]:
        """Width and height as shown, after the display rotation."""
        return (self.height, self.width) if self.rotation % 180 else (self.width, self.height)


def open_media(path: Path) -> av.container.InputContainer:
    """Open ``path`` for reading, or raise ``MediaError`` saying why it is not a media file."""
    if not path.is_file():
        raise MediaError(f"{path}: no such media file")
    if path.stat().st_size == 0:
        raise MediaError(f"{path}: the file is empty (0 bytes), not a video")
    try:
        return av.open(str(path))
    except av.FFmpegError as exc:
        raise MediaError(f"{path}: not a readable media file ({exc.strerror or exc})") from exc


def probe(path: Path) -> ProbeResult:
    """Probe ``path``, decoding its first video frame to prove it is decodable.

    Raises ``MediaError`` for a missing, empty, non-media or undecodable file, or one with no
    video stream.
    """
    path = Path(path)
    with open_media(path) as container:
        if not container.streams.video:
            kinds = ", ".join(s.type for s in container.streams) or "no streams"
            raise MediaError(f"{path}: has no video stream (found: {kinds})")
        video = container.streams.video[0]
        audio = container.streams.audio[0] if container.streams.audio else None
        try:
            first = next(container.decode(video), None)
        except (av.FFmpegError, ValueError) as exc:
            raise MediaError(f"{path}: the video stream cannot be decoded ({exc})") from exc
        if first is None:
            raise MediaError(f"{path}: the video stream has no decodable frames")
        rate = video.average_rate or video.guessed_rate or video.base_rate
        if not rate:
            raise MediaError(f"{path}: the video stream has no frame rate")
        return ProbeResult(
            container=container.format.name,
            video_codec=video.codec_context.codec.canonical_name,
            audio_codec=audio.codec_context.name if audio else None,
            duration_s=_duration(container, video, float(rate)),
            width=first.width,
            height=first.height,
            declared_width=video.codec_context.width or first.width,
            declared_height=video.codec_context.height or first.height,
            fps=float(rate),
            rotation=int(first.rotation) % 360,
            audio_channels=audio.codec_context.layout.nb_channels if audio else 0,
            audio_sample_rate=audio.sample_rate if audio else None,
        )


def _duration(
    container: av.container.InputContainer, video: av.video.stream.VideoStream, fps: float
) -> float:
    """Seconds of the video stream; the container's duration or the frame count as fallbacks."""
    if video.duration is not None and video.time_base is not None:
        return float(video.duration * video.time_base)
    if container.duration is not None:
        return container.duration / av.time_base
    if video.frames:
        return video.frames / fps
    raise MediaError(f"{container.name}: cannot tell the duration of the video stream")
