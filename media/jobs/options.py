"""How a video is transcoded: codec, ladder, chunking, publishing order, retries."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from media.encode.ladder import LADDER, Rung, VideoCodec


class TranscodeOptions(BaseModel):
    """How a video is transcoded."""

    model_config = ConfigDict(frozen=True)

    codec: VideoCodec = "h264"
    ladder: tuple[Rung, ...] = LADDER
    chunk_seconds: float | None = Field(
        30.0, description="Chunk length for parallel encoding of long videos; None: no chunks."
    )
    preset: str = "veryfast"
    segment_seconds: float = Field(6.0, gt=0)
    max_retries: int = Field(2, ge=0, description="Ray reruns of a unit whose worker died.")
    attempts: int = Field(2, ge=1, description="Job attempts in one call before giving up.")
    share_decode: bool = Field(
        True, description="Encode all rungs above the lowest from one decode per chunk."
    )
    lowest_first: bool = Field(
        True,
        description=(
            "Encode the lowest rung in its own pass first, so the video plays early (the source "
            "is decoded twice); False encodes every rung from one decode per chunk (throughput "
            "first, nothing plays until every chunk of a rung is done)."
        ),
    )
    progressive: bool = Field(
        True,
        description=(
            "Publish the lowest rung as an EVENT playlist that grows chunk by chunk (chunks of "
            "1, 1, 2, 4, ... segments), so the video plays within seconds; it turns VOD when done."
        ),
    )
    lease_seconds: float = Field(
        60.0,
        gt=0,
        description=(
            "The runner's heartbeat lease: a running job whose runner has not beaten for this "
            "long reads as failed (worker lost) and can be resumed."
        ),
    )
    threads: int = Field(
        1,
        ge=0,
        description="Decoder and encoder threads per task (Ray gives a task one CPU); 0: auto.",
    )
