"""One rung of an adaptive-bitrate ladder: the encoding settings of one HLS rendition."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class Rung(BaseModel):
    """Target of one rendition.

    ``height`` is the nominal resolution ("360p"): the output frame's shorter side, so a
    landscape source becomes 640x360 and a portrait one 360x640. It is never above the source.
    """

    model_config = ConfigDict(frozen=True)

    name: str = Field(pattern=r"^[A-Za-z0-9_-]{1,16}$", description="Folder and rendition name.")
    height: int = Field(ge=16, le=4320, description="Shorter side of the output frame, pixels.")
    video_bitrate: int = Field(gt=0, description="Target H.264 bitrate, bits per second.")
    audio_bitrate: int = Field(gt=0, description="AAC bitrate, bits per second.")

    @property
    def max_video_bitrate(self) -> int:
        """The encoder's VBV cap (capped VBR): 1.5 x the target."""
        return self.video_bitrate * 3 // 2

    @property
    def buffer_size(self) -> int:
        """The encoder's VBV buffer: 2 x the target, i.e. about two seconds."""
        return self.video_bitrate * 2


#: The one rung of the walking skeleton.
DEFAULT_RUNG = Rung(name="360p", height=360, video_bitrate=800_000, audio_bitrate=96_000)
