"""Plan a transcoding job (rungs, chunks, units) and the Ray tasks for the units still to run."""

from __future__ import annotations

from pathlib import Path

from media.encode.chunks import Chunk, plan_chunks, plan_progressive_chunks
from media.encode.ladder import Rung, ladder_for
from media.encode.transcode import EncodedRung
from media.ingest.probe import probe
from media.jobs.options import TranscodeOptions
from media.jobs.state import (
    AUDIO_UNIT,
    UNIT_DONE,
    JobDetail,
    ProgressiveState,
    UnitState,
    unit_key,
)
from media.jobs.tasks import Target, UnitSpec


def plan_job(
    source: Path, package_dir: Path, work_dir: Path, options: TranscodeOptions
) -> JobDetail:
    """The state of a fresh transcode of ``source``: rungs, chunks and pending units."""
    info = probe(source)
    rungs = ladder_for(*info.display_size, codec=options.codec, ladder=options.ladder)
    chunks = plan_chunks(info.duration_s, info.fps, options.chunk_seconds)
    rung_chunks: dict[str, list[Chunk]] = {rung.name: chunks for rung in rungs}
    progressive = options.progressive and options.lowest_first and bool(rungs)
    if progressive:
        rung_chunks[rungs[0].name] = plan_progressive_chunks(
            info.duration_s, info.fps, options.segment_seconds, options.chunk_seconds
        )
    units: dict[str, UnitState] = {}
    if info.audio_codec is not None:
        units[AUDIO_UNIT] = UnitState(weight=0.02 * info.duration_s)
    for rung in rungs:
        w, h = rung.size_for(*info.display_size)
        for chunk in rung_chunks[rung.name]:
            start = chunk.start_s or 0.0
            end = chunk.end_s if chunk.end_s is not None else info.duration_s
            units[unit_key(rung.name, chunk.index)] = UnitState(
                weight=round(w * h * (end - start) / 1e6, 4)
            )
    return JobDetail(
        source=source,
        package_dir=package_dir,
        work_dir=work_dir,
        duration_s=info.duration_s,
        rungs=rungs,
        chunks=chunks,
        rung_chunks={name: plan for name, plan in rung_chunks.items() if plan is not chunks},
        progressive=ProgressiveState(rung=rungs[0].name) if progressive else None,
        units=units,
        options=options,
        lease_s=options.lease_seconds,
    )


def unit_specs(detail: JobDetail, options: TranscodeOptions) -> list[UnitSpec]:
    """Tasks for the units still to run, in submission order: the lowest rung's first chunk,
    the audio, the lowest rung's other chunks, then the other rungs (one task per chunk
    decoding once for all of them when ``share_decode``), so the lowest rung is playable as
    early as possible. Without ``lowest_first``: the audio, then one task per chunk for all
    rungs."""
    work = detail.work_dir
    rungs = [r for r in detail.rungs if r.name not in detail.published]
    lowest = detail.rungs[0].name
    groups: list[list[Rung]] = [[r] for r in rungs]
    if options.share_decode and not options.lowest_first:
        groups = [[], rungs]
    elif options.share_decode:
        groups = [[r for r in rungs if r.name == lowest], [r for r in rungs if r.name != lowest]]
    passes: list[list[UnitSpec]] = []
    for group in groups:
        tasks = []
        for chunk in detail.chunks_of(group[0].name) if group else []:
            targets = []
            for rung in group:
                key = unit_key(rung.name, chunk.index)
                out = work / rung.name / f"chunk_{chunk.index:04d}.mp4"
                if detail.units[key].state != UNIT_DONE or not out.is_file():
                    targets.append(Target(key=key, out=out, rung=rung))
            if targets:
                tasks.append(
                    UnitSpec(
                        key="+".join(t.key for t in targets),
                        kind="video",
                        source=detail.source,
                        targets=targets,
                        start_s=chunk.start_s,
                        end_s=chunk.end_s,
                        preset=options.preset,
                        threads=options.threads,
                    )
                )
        passes.append(tasks)
    audio = []
    out = work / "audio.mp4"
    unit = detail.units.get(AUDIO_UNIT)
    if unit is not None and (unit.state != UNIT_DONE or not out.is_file()):
        audio.append(UnitSpec(key=AUDIO_UNIT, kind="audio", source=detail.source, out=out))
    first, rest = (passes[0], passes[1:]) if passes else ([], [])
    return [*first[:1], *audio, *first[1:], *(task for tasks in rest for task in tasks)]


def encoded_parts(detail: JobDetail, rung: str) -> list[EncodedRung] | None:
    """The encoded chunks of ``rung`` when all are done, else None."""
    parts = []
    for chunk in detail.chunks_of(rung):
        unit = detail.units[unit_key(rung, chunk.index)]
        if unit.state != UNIT_DONE or unit.encoded is None:
            return None
        parts.append(unit.encoded)
    return parts
