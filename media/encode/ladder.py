"""The adaptive-bitrate ladder: the encoding settings of each HLS rendition and which ones apply."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from media.errors import MediaError

#: Video codecs a rung may use: H.264 (libx264), HEVC (libx265) or AV1 (libsvtav1).
VideoCodec = Literal["h264", "hevc", "av1"]

#: The FFmpeg encoder behind each codec.
ENCODERS: dict[str, str] = {"h264": "libx264", "hevc": "libx265", "av1": "libsvtav1"}

#: Seconds between IDR frames in every rung (so segment boundaries align across rungs).
GOP_SECONDS = 2.0

#: Audio is encoded once for the whole ladder: AAC-LC stereo at this bit rate.
AUDIO_BITRATE = 128_000


class Rung(BaseModel):
    """Target of one rendition.

    ``height`` is the nominal resolution ("360p"): the output frame's shorter side, so a
    landscape source becomes 640x360 and a portrait one 360x640. It is never above the source.
    """

    model_config = ConfigDict(frozen=True)

    name: str = Field(pattern=r"^[A-Za-z0-9_-]{1,16}$", description="Folder and rendition name.")
    height: int = Field(ge=16, le=4320, description="Shorter side of the output frame, pixels.")
    video_bitrate: int = Field(gt=0, description="Target video bitrate, bits per second.")
    audio_bitrate: int = Field(AUDIO_BITRATE, gt=0, description="AAC bitrate, bits per second.")
    codec: VideoCodec = Field("h264", description="Video codec of the rendition.")

    @property
    def max_video_bitrate(self) -> int:
        """The encoder's VBV cap (capped VBR): 1.5 x the target."""
        return self.video_bitrate * 3 // 2

    @property
    def buffer_size(self) -> int:
        """The encoder's VBV buffer: 2 x the target, i.e. about two seconds."""
        return self.video_bitrate * 2

    @property
    def encoder(self) -> str:
        """The FFmpeg encoder name."""
        return ENCODERS[self.codec]

    def size_for(self, width: int, height: int) -> tuple[int, int]:
        """Output size of this rung for a ``width`` x ``height`` (display) source."""
        return output_size(width, height, self.height)


def output_size(width: int, height: int, target: int) -> tuple[int, int]:
    """Even output dimensions for a ``width`` x ``height`` picture scaled so its shorter side is
    ``target`` (never above the source), keeping the aspect ratio."""
    if width < 2 or height < 2:
        raise MediaError(f"a picture of {width}x{height} is too small to scale")
    short = min(width, height)
    scale = min(target, short) / short

    def even(value: float, limit: int) -> int:
        return max(2, min(2 * round(value / 2), limit - limit % 2))

    return even(width * scale, width), even(height * scale, height)


#: The full ladder, lowest first: the seed design's rungs plus 240p for weak networks.
LADDER: tuple[Rung, ...] = (
    Rung(name="240p", height=240, video_bitrate=400_000),
    Rung(name="360p", height=360, video_bitrate=800_000),
    Rung(name="720p", height=720, video_bitrate=2_500_000),
    Rung(name="1080p", height=1080, video_bitrate=5_000_000),
    Rung(name="2160p", height=2160, video_bitrate=15_000_000),
)

#: The one rung of the walking skeleton.


def ladder_for(
    width: int,
    height: int,
    codec: VideoCodec = "h264",
    ladder: tuple[Rung, ...] | list[Rung] = LADDER,
) -> list[Rung]:
    """The rungs of ``ladder`` at or below a ``width`` x ``height`` (display) source, lowest first.

    A rung fits when its height is at most the source's shorter side (portrait sources too). A
    source smaller than every rung gets the lowest rung at its own size. ``codec`` re-targets
    every rung (e.g. ``"hevc"``); names stay as they are.
    """
    if width < 2 or height < 2:
        raise MediaError(f"a source of {width}x{height} is too small for any rung")
    ordered = sorted(ladder, key=lambda r: (r.height, r.video_bitrate))
    if not ordered:
        raise MediaError("the ladder has no rungs")
    short = min(width, height)
    fitting = [r for r in ordered if r.height <= short] or ordered[:1]
    return [r if r.codec == codec else r.model_copy(update={"codec": codec}) for r in fitting]
