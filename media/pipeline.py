"""Turn a catalogue video into an adaptive-bitrate HLS package on Ray, resumably.

The ladder is split into units (the audio, and every GOP-aligned chunk of every rung) that run as
Ray tasks, lowest rung first. As soon as every chunk of a rung (and the audio) is done, the driver
joins the chunks by stream copy, packages the rung, rewrites the master playlist and records the
rendition: the first rung makes the video ready, better rungs join the master as they finish.
Every unit's state is kept in the job's ``detail``, so a failed job resumes with only the
missing units.
"""

from __future__ import annotations

import logging
import math
import shutil
import time
from collections.abc import Callable, Iterator
from fractions import Fraction
from pathlib import Path
from typing import Any, BinaryIO

from pydantic import BaseModel, ConfigDict, Field

from core.db.models import Video
from core.db.session import session_scope
from core.errors import NotFoundError, ReelRankError
from core.paths import DataPaths
from core.settings import get_settings
from core.types import JobState, VideoStatus
from media.catalogue import mark_processing, record_failure, record_rendition
from media.chunks import Chunk, plan_chunks, plan_progressive_chunks
from media.errors import MediaError
from media.ingest import IngestLimits, ingest_file
from media.jobs import (
    UNIT_DONE,
    UNIT_FAILED,
    UNIT_PENDING,
    create_job,
    find_job,
    finish_job,
    start_attempt,
    unit_key,
    update_job,
)
from media.package import (
    AudioPlaylist,
    ProgressiveRung,
    RungPlaylist,
    append_chunk,
    finish_rung,
    package_audio,
    package_rung,
    write_master,
)
from media.probe import probe
from media.rung import LADDER, Rung, VideoCodec, ladder_for
from media.tasks import Target, UnitOutcome, UnitSpec, run_units_locally, run_units_on_ray
from media.transcode import EncodedRung, join_chunks

log = logging.getLogger(__name__)

AUDIO_UNIT = "audio"


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
    threads: int = Field(
        1,
        ge=0,
        description="Decoder and encoder threads per task (Ray gives a task one CPU); 0: auto.",
    )


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


class LadderPackage(BaseModel):
    """A published (complete) HLS package of a video and how it was made."""

    model_config = ConfigDict(frozen=True)

    video_id: int
    job_id: int
    source: Path
    master: Path
    duration_s: float
    renditions: list[PublishedRung]
    audio: Path | None
    seconds: float
    first_playable_s: float | None
    units_run: dict[str, str] = Field(description="Unit key -> Ray node id, for this attempt.")
    peak_rss_mb: float


def _plan(source: Path, package_dir: Path, work_dir: Path, options: TranscodeOptions) -> dict:
    """The job detail of a fresh transcode of ``source``: rungs, chunks and pending units."""
    info = probe(source)
    rungs = ladder_for(*info.display_size, codec=options.codec, ladder=options.ladder)
    chunks = plan_chunks(info.duration_s, info.fps, options.chunk_seconds)
    rung_chunks: dict[str, list[Chunk]] = {rung.name: chunks for rung in rungs}
    progressive = options.progressive and options.lowest_first and bool(rungs)
    if progressive:
        rung_chunks[rungs[0].name] = plan_progressive_chunks(
            info.duration_s, info.fps, options.segment_seconds, options.chunk_seconds
        )
    units: dict[str, dict[str, Any]] = {}
    if info.audio_codec is not None:
        units[AUDIO_UNIT] = {"state": UNIT_PENDING, "runs": 0, "weight": 0.02 * info.duration_s}
    for rung in rungs:
        w, h = rung.size_for(*info.display_size)
        for chunk in rung_chunks[rung.name]:
            start = chunk.start_s or 0.0
            end = chunk.end_s if chunk.end_s is not None else info.duration_s
            units[unit_key(rung.name, chunk.index)] = {
                "state": UNIT_PENDING,
                "runs": 0,
                "weight": round(w * h * (end - start) / 1e6, 4),
            }
    return {
        "source": str(source),
        "package_dir": str(package_dir),
        "work_dir": str(work_dir),
        "duration_s": info.duration_s,
        "rungs": [r.model_dump() for r in rungs],
        "chunks": [c.model_dump() for c in chunks],
        "rung_chunks": {
            name: [c.model_dump() for c in plan]
            for name, plan in rung_chunks.items()
            if plan is not chunks
        },
        "progressive": {"rung": rungs[0].name} if progressive else None,
        "units": units,
        "published": [],
        "renditions": {},
        "options": options.model_dump(mode="json"),
    }


def _chunks_of(detail: dict, rung: str) -> list[dict[str, Any]]:
    """The chunk plan of ``rung`` (the lowest rung may have its own)."""
    return detail.get("rung_chunks", {}).get(rung, detail["chunks"])


def _specs(detail: dict, options: TranscodeOptions) -> list[UnitSpec]:
    """Tasks for the units still to run, in submission order: the lowest rung's first chunk,
    the audio, the lowest rung's other chunks, then the other rungs (one task per chunk
    decoding once for all of them when ``share_decode``), so the lowest rung is playable as
    early as possible. Without ``lowest_first``: the audio, then one task per chunk for all
    rungs."""
    work = Path(detail["work_dir"])
    source = Path(detail["source"])
    units = detail["units"]
    rungs = [Rung(**spec) for spec in detail["rungs"] if spec["name"] not in detail["published"]]
    lowest = detail["rungs"][0]["name"]
    groups = [[r] for r in rungs]
    if options.share_decode and not options.lowest_first:
        groups = [[], rungs]
    elif options.share_decode:
        groups = [[r for r in rungs if r.name == lowest], [r for r in rungs if r.name != lowest]]
    passes: list[list[UnitSpec]] = []
    for group in groups:
        tasks = []
        for chunk in _chunks_of(detail, group[0].name) if group else []:
            targets = []
            for rung in group:
                key = unit_key(rung.name, chunk["index"])
                out = work / rung.name / f"chunk_{chunk['index']:04d}.mp4"
                if units[key]["state"] != UNIT_DONE or not out.is_file():
                    targets.append(Target(key=key, out=out, rung=rung))
            if targets:
                tasks.append(
                    UnitSpec(
                        key="+".join(t.key for t in targets),
                        kind="video",
                        source=source,
                        targets=targets,
                        start_s=chunk["start_s"],
                        end_s=chunk["end_s"],
                        preset=options.preset,
                        threads=options.threads,
                    )
                )
        passes.append(tasks)
    audio = []
    out = work / "audio.mp4"
    if AUDIO_UNIT in units and (units[AUDIO_UNIT]["state"] != UNIT_DONE or not out.is_file()):
        audio.append(UnitSpec(key=AUDIO_UNIT, kind="audio", source=source, out=out))
    first, rest = (passes[0], passes[1:]) if passes else ([], [])
    return [*first[:1], *audio, *first[1:], *(task for tasks in rest for task in tasks)]


def _encoded_parts(detail: dict, rung: str) -> list[EncodedRung] | None:
    """The encoded chunks of ``rung`` when all are done, else None."""
    parts = []
    for chunk in _chunks_of(detail, rung):
        unit = detail["units"][unit_key(rung, chunk["index"])]
        if unit["state"] != UNIT_DONE or "encoded" not in unit:
            return None
        parts.append(EncodedRung(**unit["encoded"]))
    return parts


class _Publisher:
    """Joins, packages and records finished rungs of one job."""

    def __init__(
        self,
        database_url: str,
        video_id: int,
        job_id: int,
        detail: dict,
        data_root: Path,
        options: TranscodeOptions,
        on_publish: Callable[[PublishedRung], None] | None,
    ) -> None:
        self.database_url, self.video_id, self.job_id = database_url, video_id, job_id
        self.detail, self.data_root, self.options = detail, data_root, options
        self.on_publish = on_publish
        self.package_dir = Path(detail["package_dir"])
        self.work = Path(detail["work_dir"])
        self.first_playable_s: float | None = None

    def audio_ready(self) -> bool:
        """Whether the audio (if any) is encoded."""
        unit = self.detail["units"].get(AUDIO_UNIT)
        return unit is None or unit["state"] == UNIT_DONE

    def publish_ready_rungs(self, started: float) -> None:
        """Publish every rung whose chunks (and the audio) are all done, and the chunks of the
        progressive rung that are done in order."""
        if not self.audio_ready():
            return
        progressive = self.detail.get("progressive") or {}
        for spec in self.detail["rungs"]:
            name = spec["name"]
            if name in self.detail["published"]:
                continue
            if progressive.get("rung") == name:
                self._advance(name, started)
                continue
            parts = _encoded_parts(self.detail, name)
            if parts is None:
                continue
            self._publish(name, parts)
            if self.first_playable_s is None:
                self.first_playable_s = round(time.perf_counter() - started, 3)

    def _advance(self, name: str, started: float) -> None:
        """Append the progressive rung's chunks that are done in order; finish it when all are."""
        state = self.detail["progressive"]
        progress = ProgressiveRung(**state["state"]) if state.get("state") else None
        chunks = _chunks_of(self.detail, name)
        appended = progress.chunks if progress else 0
        grew = False
        for chunk in chunks[appended:]:
            unit = self.detail["units"][unit_key(name, chunk["index"])]
            if unit["state"] != UNIT_DONE or "encoded" not in unit:
                break
            encoded = EncodedRung(**unit["encoded"])
            offset = float(Fraction(encoded.first_frame) / encoded.frame_rate)
            progress = append_chunk(
                progress, encoded.path, self.package_dir, name, offset, self.options.segment_seconds
            )
            grew = True
        if not grew or progress is None:
            return
        self.detail = update_job(
            self.database_url,
            self.job_id,
            progressive={**state, "state": progress.model_dump(mode="json")},
        )
        if progress.chunks < len(chunks):
            rung = next(Rung(**r) for r in self.detail["rungs"] if r["name"] == name)
            cap = rung.max_video_bitrate + rung.buffer_size / self.options.segment_seconds
            self._announce(name, progress.live(math.ceil(cap)), None, complete=False)
        else:
            parts = _encoded_parts(self.detail, name) or []
            self._announce(name, finish_rung(progress), self._joined(name, parts), complete=True)
        if self.first_playable_s is None:
            self.first_playable_s = round(time.perf_counter() - started, 3)

    def _audio(self) -> AudioPlaylist | None:
        """The packaged audio, packaging it on first use."""
        if AUDIO_UNIT not in self.detail["units"]:
            return None
        if self.detail.get("audio") is None:
            audio = package_audio(
                self.work / "audio.mp4",
                self.package_dir,
                segment_seconds=self.options.segment_seconds,
            )
            self.detail = update_job(
                self.database_url, self.job_id, audio=audio.model_dump(mode="json")
            )
        return AudioPlaylist(**self.detail["audio"])

    def _joined(self, name: str, parts: list[EncodedRung]) -> EncodedRung:
        """The chunks of rung ``name`` joined into one MP4 in the work folder."""
        joined = self.work / f"{name}.mp4"
        if len(parts) == 1:
            if parts[0].path.is_file():
                parts[0].path.replace(joined)
            return parts[0].model_copy(update={"path": joined})
        return join_chunks(parts, joined)

    def _publish(self, name: str, parts: list[EncodedRung]) -> None:
        encoded = self._joined(name, parts)
        rung = package_rung(encoded.path, self.package_dir, name, self.options.segment_seconds)
        self._announce(name, rung, encoded, complete=True)

    def _announce(
        self, name: str, rung: RungPlaylist, encoded: EncodedRung | None, complete: bool
    ) -> None:
        """Put ``rung`` in the master playlist and the catalogue; record it when complete."""
        audio = self._audio()
        playlists = {**self.detail.get("playlists", {}), name: rung.model_dump(mode="json")}
        master = write_master(
            self.package_dir, [RungPlaylist(**p) for p in playlists.values()], audio
        )
        published = PublishedRung(
            name=name,
            playlist=rung.playlist,
            encoded=encoded.path if encoded is not None else None,
            width=rung.width,
            height=rung.height,
            bandwidth=rung.peak_bitrate + (audio.peak_bitrate if audio else 0),
            average_bandwidth=rung.average_bitrate + (audio.average_bitrate if audio else 0),
            codecs=f"{rung.codecs},{audio.codecs}" if audio else rung.codecs,
            complete=complete,
        )
        record_rendition(
            self.database_url,
            self.video_id,
            name=name,
            width=published.width,
            height=published.height,
            bitrate=published.bandwidth,
            codecs=published.codecs,
            playlist=published.playlist,
            data_root=self.data_root,
        )
        done: dict[str, Any] = {}
        if complete:
            done = {
                "published": [*self.detail["published"], name],
                "renditions": {
                    **self.detail.get("renditions", {}),
                    name: published.model_dump(mode="json"),
                },
            }
        self.detail = update_job(
            self.database_url, self.job_id, master=str(master), playlists=playlists, **done
        )
        log.info(
            "video %s: published %s%s (%s)",
            self.video_id,
            name,
            "" if complete else f" so far ({rung.duration_s:.1f} s, EVENT)",
            master,
        )
        if self.on_publish is not None:
            self.on_publish(published)


def _prepare_video(database_url: str, video_id: int) -> VideoStatus:
    """Move the video to processing unless it is ready with a resumable job; its status."""
    with session_scope(database_url) as session:
        video = session.get(Video, video_id)
        if video is None:
            raise NotFoundError(f"video {video_id} does not exist")
        status = video.status
    if status is VideoStatus.READY:
        job = find_job(database_url, video_id)
        if job is None or job.state is JobState.SUCCEEDED:
            raise MediaError(f"video {video_id} is already ready; there is nothing to resume")
        return status
    mark_processing(database_url, video_id)
    return VideoStatus.PROCESSING


def process_video(
    database_url: str,
    video_id: int,
    source: Path,
    data_root: Path,
    options: TranscodeOptions | None = None,
    on_ray: bool = True,
    on_publish: Callable[[PublishedRung], None] | None = None,
) -> LadderPackage:
    """Transcode and package ``source`` for video ``video_id`` into ``<packages>/<video_id>``.

    Resumes the video's unfinished transcoding job of the same source (only missing units run),
    else starts a new one. ``on_ray`` runs units as Ray tasks (local Ray or ``RAY_ADDRESS``),
    otherwise one by one in this process. ``on_publish`` is called as each rung is published.
    Raises ``MediaError`` when units still fail after ``options.attempts`` attempts; the job then
    stays resumable, and a video with no published rung is marked failed.
    """
    options = options or TranscodeOptions()
    source, data_root = Path(source).resolve(), Path(data_root).resolve()
    paths = DataPaths(data_root)
    _prepare_video(database_url, video_id)
    job = find_job(database_url, video_id)
    if (
        job is not None
        and job.state is not JobState.SUCCEEDED
        and job.detail.get("source") == str(source)
    ):
        job_id = job.id
    else:
        package_dir = paths.packages / str(video_id)
        try:
            detail = _plan(source, package_dir, paths.media / "work" / str(video_id), options)
        except ReelRankError as exc:
            record_failure(database_url, video_id, f"transcoding failed: {exc}")
            raise
        job_id = create_job(database_url, video_id, detail)
    for attempt in range(1, options.attempts + 1):
        try:
            result = _attempt(
                database_url, video_id, job_id, data_root, options, on_ray, on_publish
            )
        except _AttemptFailed as failed:
            retryable = failed.retryable and attempt < options.attempts
            log.warning(
                "video %s: job %s attempt %d failed (%s)%s",
                video_id,
                job_id,
                attempt,
                failed.message,
                "; retrying" if retryable else "",
            )
            if retryable:
                continue
            finish_job(database_url, job_id, failed.message)
            with session_scope(database_url) as session:
                status = session.get(Video, video_id).status
            if status is not VideoStatus.READY:
                record_failure(database_url, video_id, f"transcoding failed: {failed.message}")
            raise MediaError(
                f"video {video_id}: transcoding job {job_id} failed: {failed.message} "
                "(the job is resumable; run it again to redo only the missing parts)"
            ) from None
        except Exception as exc:  # a bug or a lost database: the job stays resumable
            finish_job(database_url, job_id, f"{type(exc).__name__}: {exc}")
            raise
        return result
    raise AssertionError("unreachable")  # pragma: no cover


class _AttemptFailed(Exception):
    """Some units of an attempt failed."""

    def __init__(self, message: str, retryable: bool) -> None:
        super().__init__(message)
        self.message, self.retryable = message, retryable


def _outcomes(specs: list[UnitSpec], on_ray: bool, max_retries: int) -> Iterator[UnitOutcome]:
    return run_units_on_ray(specs, max_retries) if on_ray else run_units_locally(specs)


def _attempt(
    database_url: str,
    video_id: int,
    job_id: int,
    data_root: Path,
    options: TranscodeOptions,
    on_ray: bool,
    on_publish: Callable[[PublishedRung], None] | None,
) -> LadderPackage:
    """One attempt of the job: run the missing units, publish rungs as they complete."""
    started = time.perf_counter()
    detail = start_attempt(database_url, job_id)
    publisher = _Publisher(database_url, video_id, job_id, detail, data_root, options, on_publish)
    specs = _specs(detail, options)
    errors: list[str] = []
    retryable = True
    nodes: dict[str, str] = {}
    peak_rss = 0.0
    publisher.publish_ready_rungs(started)  # rungs finished by an earlier attempt
    for spec, outcome in _outcomes(specs, on_ray, options.max_retries):
        units = publisher.detail["units"]
        if isinstance(outcome, BaseException):
            errors.append(f"{spec.key}: {outcome}")
            retryable = retryable and not isinstance(outcome, ReelRankError)
            failed = {
                key: {
                    "state": UNIT_FAILED,
                    "runs": units[key].get("runs", 0) + 1,
                    "error": str(outcome),
                }
                for key in spec.unit_keys
            }
            publisher.detail = update_job(database_url, job_id, units=failed)
            continue
        for key in spec.unit_keys:
            nodes[key] = outcome.node_id
        peak_rss = max(peak_rss, outcome.peak_rss_mb)
        done: dict[str, dict[str, Any]] = {}
        for key in spec.unit_keys:
            done[key] = {
                "state": UNIT_DONE,
                "runs": units[key].get("runs", 0) + 1,
                "node": outcome.node_id,
                "pid": outcome.pid,
                "seconds": outcome.seconds,
                "peak_rss_mb": outcome.peak_rss_mb,
                "task": spec.key,
            }
            if key in outcome.videos:
                done[key]["encoded"] = outcome.videos[key].model_dump(mode="json")
        extra: dict[str, Any] = {}
        if outcome.videos:
            extra["frame_rate"] = float(next(iter(outcome.videos.values())).frame_rate)
        publisher.detail = update_job(database_url, job_id, units=done, **extra)
        try:
            publisher.publish_ready_rungs(started)
        except ReelRankError as exc:
            errors.append(f"publishing: {exc}")
            retryable = False
    if errors:
        raise _AttemptFailed("; ".join(errors), retryable)
    detail = publisher.detail
    if len(detail["published"]) != len(detail["rungs"]):
        raise _AttemptFailed("not every rung was published", False)
    finish_job(database_url, job_id)
    for spec in detail["rungs"]:
        shutil.rmtree(Path(detail["work_dir"]) / spec["name"], ignore_errors=True)
    renditions = [PublishedRung(**detail["renditions"][r["name"]]) for r in detail["rungs"]]
    return LadderPackage(
        video_id=video_id,
        job_id=job_id,
        source=Path(detail["source"]),
        master=Path(detail["master"]),
        duration_s=detail["duration_s"],
        renditions=renditions,
        audio=Path(detail["audio"]["playlist"]) if detail.get("audio") else None,
        seconds=round(time.perf_counter() - started, 3),
        first_playable_s=publisher.first_playable_s,
        units_run=nodes,
        peak_rss_mb=peak_rss,
    )


def resume_job(
    database_url: str,
    video_id: int,
    data_root: Path,
    options: TranscodeOptions | None = None,
    on_ray: bool = True,
) -> LadderPackage:
    """Run the video's unfinished transcoding job again; only its missing units are redone."""
    job = find_job(database_url, video_id)
    if job is None:
        raise NotFoundError(f"video {video_id} has no transcoding job")
    if job.state is JobState.SUCCEEDED:
        raise MediaError(f"video {video_id}: transcoding job {job.id} already succeeded")
    if options is None and job.detail.get("options"):
        options = TranscodeOptions(**job.detail["options"])
    return process_video(
        database_url, video_id, Path(job.detail["source"]), data_root, options, on_ray
    )


def ingest_and_process(
    source: Path | BinaryIO,
    *,
    database_url: str | None = None,
    data_root: Path | None = None,
    title: str | None = None,
    filename: str | None = None,
    storage_url: str | None = None,
    limits: IngestLimits | None = None,
    options: TranscodeOptions | None = None,
    on_ray: bool = True,
    on_publish: Callable[[PublishedRung], None] | None = None,
) -> LadderPackage:
    """Ingest an upload as a new video and transcode it; the result's ``master`` is the playlist.

    Defaults come from the settings (catalogue URL, data root). Raises ``MediaError`` for a
    rejected upload or a failed transcode (the video carries the reason).
    """
    settings = get_settings()
    database_url = database_url or settings.resolved_database_url
    data_root = Path(data_root).resolve() if data_root else settings.paths.root
    accepted = ingest_file(
        database_url,
        source,
        title=title,
        filename=filename,
        data_root=data_root,
        storage_url=storage_url,
        limits=limits,
    )
    if on_ray:
        from media.tasks import init_ray

        init_ray(settings.resolved_ray_address, DataPaths(data_root).ray_tmp)
    return process_video(
        database_url, accepted.video_id, accepted.local_path, data_root, options, on_ray, on_publish
    )
