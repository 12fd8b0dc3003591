"""The typed state of a transcoding job, stored as JSON in ``processing_jobs.detail``.

It holds the plan (source, rungs, chunks, options) and the state of every unit of work
(``"<rung>/<chunk>"`` and ``"audio"``), plus what has been published, so a failed or
interrupted job resumes where it stopped. The JSON layout is the one the untyped detail had:
the same keys, so a detail written before this model existed still reads.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from media.encode.chunks import Chunk
from media.encode.ladder import Rung
from media.encode.transcode import EncodedRung
from media.hls.audio import AudioPlaylist
from media.hls.progressive import ProgressiveRung
from media.hls.segments import RungPlaylist
from media.jobs.options import TranscodeOptions

UnitStateName = Literal["pending", "running", "done", "failed"]
UNIT_PENDING: UnitStateName = "pending"
UNIT_RUNNING: UnitStateName = "running"
UNIT_DONE: UnitStateName = "done"
UNIT_FAILED: UnitStateName = "failed"

#: The key of the audio unit.
AUDIO_UNIT = "audio"


def unit_key(rung: str, chunk: int) -> str:
    """The key of chunk ``chunk`` of rung ``rung``."""
    return f"{rung}/{chunk}"


class UnitState(BaseModel):
    """One unit of work (a chunk of a rung, or the audio): its state and its last run."""

    state: UnitStateName = UNIT_PENDING
    runs: int = 0
    weight: float = Field(1.0, description="Share of the job's work, for the progress.")
    node: str | None = None
    pid: int | None = None
    seconds: float | None = None
    peak_rss_mb: float | None = None
    task: str | None = Field(None, description="Key of the task that ran it.")
    encoded: EncodedRung | None = None
    error: str | None = None


class ProgressiveState(BaseModel):
    """The rung published chunk by chunk, and how far it has grown."""

    rung: str
    state: ProgressiveRung | None = None


class PublishedRung(BaseModel):
    """One rung in the master playlist."""

    model_config = ConfigDict(frozen=True)

    name: str
    playlist: Path
    encoded: Path | None = Field(description="The rung's MP4; None while it is incomplete.")
    width: int
    height: int
    bandwidth: int
    average_bandwidth: int
    codecs: str
    complete: bool = Field(
        True, description="False while the rung is an EVENT playlist still growing."
    )


class JobDetail(BaseModel):
    """Everything a transcoding job needs to run, resume and report."""

    source: Path
    package_dir: Path
    work_dir: Path
    duration_s: float
    rungs: list[Rung]
    chunks: list[Chunk] = Field(description="The chunk plan of every rung without its own.")
    rung_chunks: dict[str, list[Chunk]] = Field(
        default_factory=dict, description="Rungs with their own chunk plan (the growing rung)."
    )
    progressive: ProgressiveState | None = None
    units: dict[str, UnitState] = Field(default_factory=dict)
    published: list[str] = Field(default_factory=list, description="Complete rungs, in order.")
    renditions: dict[str, PublishedRung] = Field(default_factory=dict)
    options: TranscodeOptions | None = None
    audio: AudioPlaylist | None = None
    master: Path | None = None
    playlists: dict[str, RungPlaylist] = Field(
        default_factory=dict, description="Every rung in the master playlist, growing or not."
    )
    frame_rate: float | None = None
    heartbeat_at: datetime | None = Field(
        None, description="When the runner last said it is alive (it beats while it works)."
    )
    lease_s: float = Field(
        60.0, gt=0, description="A running job whose heartbeat is older than this is lost."
    )

    @classmethod
    def from_json(cls, detail: dict[str, Any] | None) -> JobDetail:
        """The state stored in ``processing_jobs.detail``."""
        return cls.model_validate(detail or {})

    def to_json(self) -> dict[str, Any]:
        """The JSON stored in ``processing_jobs.detail``."""
        return self.model_dump(mode="json")

    def chunks_of(self, rung: str) -> list[Chunk]:
        """The chunk plan of ``rung`` (the growing rung has its own)."""
        return self.rung_chunks.get(rung, self.chunks)

    def rung(self, name: str) -> Rung:
        """The planned rung called ``name``."""
        return next(r for r in self.rungs if r.name == name)

    def heartbeat_age(self, now: datetime, started_at: datetime | None = None) -> float | None:
        """Seconds since the runner's last heartbeat (or ``started_at`` when it never beat)."""
        last = self.heartbeat_at or started_at
        if last is None:
            return None
        if last.tzinfo is None:  # SQLite hands back naive UTC datetimes
            last = last.replace(tzinfo=UTC)
        return (now - last).total_seconds()

    def progress(self) -> float:
        """Done work over all work, each unit weighted by its ``weight``."""
        total = sum(u.weight for u in self.units.values())
        done = sum(u.weight for u in self.units.values() if u.state == UNIT_DONE)
        return round(done / total, 4) if total else 0.0
