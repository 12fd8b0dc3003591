"""Transcoding benchmark: the ladder of a 60 s 1080p30 clip on Ray against one ffmpeg process.

Measures seconds to the first playable rung and to the full ladder (1 and 2 Ray workers), the
realtime factor, the same ladder made by one plain ``ffmpeg`` CLI process with the same encoder
settings (when ``ffmpeg`` is on PATH), and the peak RSS of a Ray worker.
"""

from __future__ import annotations

import json
import logging
import shutil
import subprocess
import tempfile
import time
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import numpy as np

from core.db.migrate import upgrade
from core.db.models import Video
from core.db.session import session_scope
from media.encode.ladder import AUDIO_BITRATE, GOP_SECONDS, Rung, ladder_for
from media.encode.testpattern import draw_frame
from media.errors import MediaError
from media.jobs.options import TranscodeOptions
from media.jobs.runner import process_video
from media.jobs.state import PublishedRung
from media.ray_runtime import init_ray

log = logging.getLogger(__name__)

_NOISE_FRAMES = 8
_SAMPLE_RATE = 48_000


def make_noisy_clip(
    path: Path, seconds: float = 60, width: int = 1920, height: int = 1080, fps: int = 30
) -> Path:
    """A test pattern with motion plus film-grain-like noise (hard to compress), and a tone."""
    rng = np.random.default_rng(7)
    noise = [rng.integers(-8, 9, (height, width, 1), dtype=np.int16) for _ in range(_NOISE_FRAMES)]
    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), "w", format="mp4") as container:
        video = container.add_stream(
            "libx264", rate=fps, options={"preset": "veryfast", "crf": "20"}
        )
        video.width, video.height, video.pix_fmt = width, height, "yuv420p"
        audio = container.add_stream("aac", rate=_SAMPLE_RATE)
        audio.layout, audio.bit_rate = "stereo", 128_000
        samples = 0
        for index in range(round(seconds * fps)):
            image = draw_frame(index, width, height, fps).astype(np.int16)
            image += noise[index % _NOISE_FRAMES]
            frame = av.VideoFrame.from_ndarray(
                np.clip(image, 0, 255).astype(np.uint8), format="rgb24"
            )
            frame.pts, frame.time_base = index, Fraction(1, fps)
            container.mux(video.encode(frame))
            until = round((index + 1) * _SAMPLE_RATE / fps)
            t = np.arange(samples, until) / _SAMPLE_RATE
            tone = (0.2 * np.sin(2 * np.pi * 330 * t)).astype(np.float32)
            chunk = av.AudioFrame.from_ndarray(np.stack([tone, tone]), "fltp", "stereo")
            chunk.sample_rate, chunk.pts = _SAMPLE_RATE, samples
            chunk.time_base = Fraction(1, _SAMPLE_RATE)
            container.mux(audio.encode(chunk))
            samples = until
        container.mux(video.encode(None))
        container.mux(audio.encode(None))
    return path


def ffmpeg_ladder_command(
    ffmpeg: str, source: Path, out_dir: Path, rungs: list[Rung], size: tuple[int, int], fps: int
) -> list[str]:
    """One ffmpeg process making the same ladder: one decode, split, scale, libx264 per rung."""
    gop = round(fps * GOP_SECONDS)
    labels = "".join(f"[v{i}]" for i in range(len(rungs)))
    graph = [f"[0:v]split={len(rungs)}{labels}"]
    for i, rung in enumerate(rungs):
        width, height = rung.size_for(*size)
        graph.append(f"[v{i}]scale={width}:{height}:flags=area,format=yuv420p[o{i}]")
    command = [ffmpeg, "-hide_banner", "-loglevel", "error", "-y", "-i", str(source)]
    command += ["-filter_complex", ";".join(graph)]
    for i, rung in enumerate(rungs):
        command += ["-map", f"[o{i}]", "-an", "-c:v", "libx264", "-preset", "veryfast"]
        command += ["-profile:v", "high", "-g", str(gop), "-keyint_min", str(gop)]
        command += ["-sc_threshold", "0", "-flags", "+cgop", "-forced-idr", "1"]
        command += ["-force_key_frames", f"expr:gte(t,n_forced*{GOP_SECONDS})"]
        command += ["-b:v", str(rung.video_bitrate), "-maxrate", str(rung.max_video_bitrate)]
        command += ["-bufsize", str(rung.buffer_size), "-fps_mode", "cfr"]
        command.append(str(out_dir / f"{rung.name}.mp4"))
    command += ["-map", "0:a", "-vn", "-c:a", "aac", "-b:a", str(AUDIO_BITRATE), "-ac", "2"]
    command.append(str(out_dir / "audio.mp4"))
    return command


def _ray_run(source: Path, work: Path, workers: int, options: TranscodeOptions) -> dict[str, Any]:
    """Transcode ``source`` on a fresh local Ray with ``workers`` CPUs; timings and peak RSS."""
    import ray

    root = work / f"ray{workers}"
    url = f"sqlite:///{root / 'bench.db'}"
    root.mkdir(parents=True, exist_ok=True)
    upgrade(url)
    with session_scope(url) as session:
        video = Video(title="benchmark clip")
        session.add(video)
        session.flush()
        video_id = video.id
    if ray.is_initialized():
        ray.shutdown()
    ray_dir = Path(tempfile.mkdtemp(prefix="rrb-", dir="/tmp"))
    init_ray(None, ray_dir, num_cpus=workers)
    published: list[float] = []
    complete: list[float] = []
    try:
        started = time.perf_counter()

        def on_publish(rung: PublishedRung) -> None:
            published.append(time.perf_counter() - started)
            if rung.complete:
                complete.append(published[-1])

        package = process_video(url, video_id, source, root, options, on_publish=on_publish)
        total = time.perf_counter() - started
    finally:
        ray.shutdown()
        shutil.rmtree(ray_dir, ignore_errors=True)
    return {
        "first_rung_s": round(published[0], 2),
        "first_complete_rung_s": round(complete[0], 2),
        "full_ladder_s": round(total, 2),
        "peak_rss_mb": package.peak_rss_mb,
        "rungs": [r.name for r in package.renditions],
    }


def bench_transcode(
    json_path: Path | None = None,
    seconds: float = 60,
    workers: tuple[int, ...] = (1, 2),
    work_dir: Path | None = None,
) -> dict[str, Any]:
    """Run the benchmark and return (and write to ``json_path``) its figures.

    Keys: ``clip_s``, ``first_rung_s`` (the lowest rung first playable, as a growing EVENT
    playlist), ``first_complete_rung_s`` (the lowest rung complete, VOD), ``full_ladder_s``
    (with the most workers), ``single_pass_*`` (the same with ``lowest_first=False``: every
    rung from one decode, nothing playable early),
    ``realtime_factor`` (clip seconds per wall second), ``ffmpeg_ladder_s`` and
    ``ratio_vs_ffmpeg`` (None when ``ffmpeg`` is not installed), ``workers`` (workers -> full
    ladder seconds) and ``peak_rss_mb`` (largest peak RSS of a Ray worker).
    """
    if seconds <= 0 or not workers:
        raise MediaError("the benchmark needs seconds > 0 and at least one worker count")
    work = Path(work_dir) if work_dir else Path(tempfile.mkdtemp(prefix="reelrank-bench-"))
    fps, size = 30, (1920, 1080)
    source = work / "clip_1080p30.mp4"
    if not source.is_file():
        log.info("generating a %g s 1080p30 clip at %s", seconds, source)
        make_noisy_clip(source, seconds, *size, fps)
    options = TranscodeOptions()
    runs = {str(w): _ray_run(source, work, w, options) for w in sorted(workers)}
    best = runs[str(max(workers))]
    single = _ray_run(
        source, work / "single-pass", max(workers), TranscodeOptions(lowest_first=False)
    )
    ffmpeg = shutil.which("ffmpeg")
    ffmpeg_s = None
    if ffmpeg:
        out_dir = work / "ffmpeg"
        out_dir.mkdir(exist_ok=True)
        command = ffmpeg_ladder_command(ffmpeg, source, out_dir, ladder_for(*size), size, fps)
        started = time.perf_counter()
        subprocess.run(command, check=True)
        ffmpeg_s = round(time.perf_counter() - started, 2)
    result = {
        "clip_s": seconds,
        "first_rung_s": best["first_rung_s"],
        "first_complete_rung_s": best["first_complete_rung_s"],
        "full_ladder_s": best["full_ladder_s"],
        "realtime_factor": round(seconds / best["full_ladder_s"], 3),
        "ffmpeg_ladder_s": ffmpeg_s,
        "ratio_vs_ffmpeg": round(best["full_ladder_s"] / ffmpeg_s, 3) if ffmpeg_s else None,
        "workers": {w: run["full_ladder_s"] for w, run in runs.items()},
        "single_pass_full_ladder_s": single["full_ladder_s"],
        "single_pass_first_rung_s": single["first_rung_s"],
        "single_pass_ratio_vs_ffmpeg": (
            round(single["full_ladder_s"] / ffmpeg_s, 3) if ffmpeg_s else None
        ),
        "peak_rss_mb": max(run["peak_rss_mb"] for run in runs.values()),
    }
    if json_path is not None:
        Path(json_path).parent.mkdir(parents=True, exist_ok=True)
        Path(json_path).write_text(json.dumps(result, indent=2) + "\n", "utf-8")
    return result


def describe(result: dict[str, Any]) -> str:
    """The benchmark figures as a few lines for the CLI."""
    lines = [
        f"clip: {result['clip_s']:g} s 1080p30 (motion + noise)",
        f"first playable rung (growing EVENT playlist): {result['first_rung_s']} s "
        f"({result['first_rung_s'] / result['clip_s']:.2f}x the clip)",
        f"lowest rung complete (VOD): {result['first_complete_rung_s']} s "
        f"({result['first_complete_rung_s'] / result['clip_s']:.2f}x the clip)",
        f"full ladder: {result['full_ladder_s']} s (realtime factor {result['realtime_factor']})",
        "workers: " + ", ".join(f"{w}: {s} s" for w, s in result["workers"].items()),
        f"peak RSS per worker: {result['peak_rss_mb']} MB",
        f"single pass (lowest_first=False): full ladder {result['single_pass_full_ladder_s']} s,"
        f" first rung {result['single_pass_first_rung_s']} s",
    ]
    if result["ffmpeg_ladder_s"] is not None:
        lines.append(
            f"one ffmpeg process: {result['ffmpeg_ladder_s']} s; ratio ours/ffmpeg: "
            f"{result['ratio_vs_ffmpeg']} (single pass: {result['single_pass_ratio_vs_ffmpeg']})"
        )
    else:
        lines.append("ffmpeg not installed: no comparison")
    return "\n".join(lines)
