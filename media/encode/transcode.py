"""Encode one rung (or one GOP-aligned chunk of it) to MP4 with PyAV; encode the audio once.

Every rung is constant frame rate with a closed GOP and an IDR forced exactly every
``GOP_SECONDS`` by frame index, so keyframes (and therefore HLS segment boundaries) fall at the
same times in every rung and in every chunk. Chunks are encoded from time zero and shifted when
they are joined (``join_chunks``), by stream copy.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import ExitStack
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from pydantic import BaseModel, ConfigDict

from media.encode.ladder import AUDIO_BITRATE, GOP_SECONDS, Rung
from media.errors import MediaError
from media.ingest.probe import open_media

#: AAC sample rates kept as they are; anything else is resampled to 48 kHz.
_AAC_RATES = (44_100, 48_000)
#: Highest output frame rate; faster sources are resampled to it.
MAX_FPS = Fraction(60)


class EncodedRung(BaseModel):
    """One encoded rung or chunk: a video-only MP4 and what it holds."""

    model_config = ConfigDict(frozen=True)

    path: Path
    name: str
    codec: str
    width: int
    height: int
    fps: str
    first_frame: int
    frames: int
    bytes: int

    @property
    def frame_rate(self) -> Fraction:
        """Frames per second as an exact fraction."""
        return Fraction(self.fps)

    @property
    def duration_s(self) -> float:
        """Seconds of video in the file."""
        return float(self.frames / self.frame_rate)


class EncodedAudio(BaseModel):
    """The ladder's one audio track: an AAC-LC stereo MP4."""

    model_config = ConfigDict(frozen=True)

    path: Path
    sample_rate: int
    channels: int
    bitrate: int
    duration_s: float
    bytes: int


def output_fps(stream: av.video.stream.VideoStream) -> Fraction:
    """The constant output frame rate for a source video stream (at most ``MAX_FPS``)."""
    rate = stream.average_rate or stream.guessed_rate or stream.base_rate
    if not rate or rate <= 0:
        raise MediaError("the video stream has no frame rate")
    return min(Fraction(rate).limit_denominator(1001), MAX_FPS)


def gop_frames(fps: Fraction) -> int:
    """Frames between two IDRs: ``GOP_SECONDS`` at ``fps``."""
    return max(1, round(fps * Fraction(GOP_SECONDS)))


def _temp_sibling(path: Path) -> Path:
    """A unique hidden temporary path next to ``path`` with the same suffix."""
    return path.with_name(f".{path.stem}.{os.getpid()}-{uuid.uuid4().hex[:6]}{path.suffix}")


def _upright(frame: av.VideoFrame, rotation: int) -> av.VideoFrame:
    """``frame`` turned by its display rotation (degrees counter-clockwise)."""
    if rotation % 360 == 0:
        return frame
    image = np.rot90(frame.to_ndarray(format="rgb24"), k=(rotation // 90) % 4)
    return av.VideoFrame.from_ndarray(np.ascontiguousarray(image, dtype=np.uint8), format="rgb24")


def _scaled(frame: av.VideoFrame, sizes: list[tuple[int, int]]) -> list[av.VideoFrame]:
    """``frame`` as yuv420p at each of ``sizes`` (area-averaged), in the order given.

    Larger pictures are made first and a smaller one is scaled from the smallest picture that
    is at least twice its size (720p -> 360p is an exact 2:1 average), which costs far less than
    scaling every rung from the full source frame.
    """
    order = sorted(range(len(sizes)), key=lambda i: sizes[i][0] * sizes[i][1], reverse=True)
    made: list[av.VideoFrame] = []
    result: list[av.VideoFrame | None] = [None] * len(sizes)
    for i in order:
        width, height = sizes[i]
        base = frame
        for candidate in made:  # largest first: keep the last (smallest) that qualifies
            if candidate.width >= 2 * width and candidate.height >= 2 * height:
                base = candidate
        picture = base.reformat(width=width, height=height, format="yuv420p", interpolation="AREA")
        made.append(picture)
        result[i] = picture
    return [p for p in result if p is not None]


def _encoder_options(rung: Rung, gop: int, preset: str) -> dict[str, str]:
    """Encoder options for capped VBR and a closed GOP of exactly ``gop`` frames."""
    kbps, max_kbps, buf_kbps = (
        rung.video_bitrate // 1000,
        rung.max_video_bitrate // 1000,
        rung.buffer_size // 1000,
    )
    if rung.codec == "h264":
        return {
            "preset": preset,
            "profile": "high",
            "g": str(gop),
            "keyint_min": str(gop),
            "sc_threshold": "0",
            "forced-idr": "1",
            "flags": "+cgop",
            "maxrate": str(rung.max_video_bitrate),
            "bufsize": str(rung.buffer_size),
        }
    if rung.codec == "hevc":
        return {
            "preset": preset,
            "forced-idr": "1",
            "x265-params": (
                f"keyint={gop}:min-keyint={gop}:scenecut=0:open-gop=0:bitrate={kbps}:"
                f"vbv-maxrate={max_kbps}:vbv-bufsize={buf_kbps}:log-level=error"
            ),
        }
    # av1 (SVT-AV1): preset numbers, 10 is fast. Its VBR takes no max bit rate (mbr is for
    # capped CRF only); the cap is the section limit (% of target) and the client buffer (ms).
    section_pct = round(100 * rung.max_video_bitrate / rung.video_bitrate)
    buffer_ms = round(1000 * rung.buffer_size / rung.video_bitrate)
    return {
        "preset": "10",
        "g": str(gop),
        "svtav1-params": (
            f"keyint={gop}:scd=0:rc=1:tbr={kbps}:max-section-pct={section_pct}:buf-sz={buffer_ms}"
        ),
    }


def _video_frames(
    container: av.container.InputContainer,
    stream: av.video.stream.VideoStream,
    source: Path,
    fps: Fraction,
    first: int,
    stop: int | None,
) -> Iterator[tuple[int, av.VideoFrame]]:
    """``(index, frame)`` for output frames ``first`` up to ``stop`` at a constant ``fps``.

    A source frame at time t (from the stream start) is output frame ``round(t * fps)``; frames
    landing on an index already taken are dropped and gaps repeat the frame, so the output is
    constant frame rate whatever the source's timing.
    """
    base = stream.time_base or Fraction(1, 90_000)
    start = stream.start_time or 0
    if first > 0:
        container.seek(int(start + Fraction(first) / fps / base), stream=stream, backward=True)
    wanted, held, position = first, None, 0.0
    try:
        for packet in container.demux(stream):
            for frame in packet.decode():
                index = wanted
                if frame.pts is not None:
                    position = float((frame.pts - start) * base)
                    index = round(position * fps)
                if index < wanted:
                    held = frame
                    continue
                while wanted < index and (stop is None or wanted < stop):
                    yield wanted, frame if held is None else held
                    wanted += 1
                if stop is not None and wanted >= stop:
                    return
                yield wanted, frame
                wanted, held = wanted + 1, frame
                if stop is not None and wanted >= stop:
                    return
    except av.FFmpegError as exc:
        raise MediaError(
            f"{source}: cannot decode the video near {position:.2f} s ({exc})"
        ) from exc


def encode_rungs(
    source: Path,
    targets: list[tuple[Path, Rung]],
    start_s: float | None = None,
    end_s: float | None = None,
    preset: str = "veryfast",
    threads: int = 0,
) -> list[EncodedRung]:
    """Encode ``source`` (from ``start_s`` to ``end_s``, or whole) as each ``(out, rung)`` target
    to the MP4 ``out``, from one decode.

    Each output is video only, scaled to ``rung.size_for`` the upright source, constant frame
    rate, with capped VBR and an IDR exactly every ``GOP_SECONDS`` (``start_s`` must sit on that
    grid). Timestamps start at zero; ``first_frame`` says where the chunk belongs. A file appears
    only when complete (written under a temporary name, then renamed). ``threads`` caps the
    decoder's and each encoder's threads (0: as many as FFmpeg likes).
    """
    source = Path(source)
    if not targets:
        raise MediaError("nothing to encode: no rungs given")
    with open_media(source) as container:
        if not container.streams.video:
            raise MediaError(f"{source}: has no video stream")
        stream = container.streams.video[0]
        if threads < 0:
            raise MediaError(f"threads must be 0 (automatic) or more, got {threads}")
        if threads != 1:
            stream.thread_type = "AUTO"
        stream.codec_context.thread_count = threads
        fps = output_fps(stream)
        gop = gop_frames(fps)
        first = round(Fraction(start_s or 0).limit_denominator(1_000_000) * fps)
        stop = None if end_s is None else round(Fraction(end_s).limit_denominator(1_000_000) * fps)
        if first % gop:
            raise MediaError(
                f"chunk start {start_s} s is not on the {GOP_SECONDS} s keyframe grid at {fps} fps"
            )
        if stop is not None and stop <= first:
            raise MediaError(f"chunk {start_s}-{end_s} s holds no frames")
        temps = [_temp_sibling(Path(out)) for out, _ in targets]
        sizes: list[tuple[int, int]] = []
        count = 0
        try:
            with ExitStack() as stack:
                encoders = []
                for tmp, (out, rung) in zip(temps, targets, strict=True):
                    Path(out).parent.mkdir(parents=True, exist_ok=True)
                    output = stack.enter_context(av.open(str(tmp), "w", format="mp4"))
                    video = output.add_stream(
                        rung.encoder, rate=fps, options=_encoder_options(rung, gop, preset)
                    )
                    if not isinstance(video, av.VideoStream):
                        raise MediaError(f"{rung.encoder} is not a video encoder")
                    video.pix_fmt, video.bit_rate = "yuv420p", rung.video_bitrate
                    video.codec_context.thread_count = threads
                    if rung.codec == "hevc":
                        video.codec_tag = "hvc1"
                    encoders.append((output, video, rung))
                rotation = 0
                for index, frame in _video_frames(container, stream, source, fps, first, stop):
                    if count == 0:
                        rotation = int(frame.rotation) % 360
                        display = (
                            (frame.height, frame.width)
                            if rotation % 180
                            else (frame.width, frame.height)
                        )
                        for _, video, rung in encoders:
                            sizes.append(rung.size_for(*display))
                            video.width, video.height = sizes[-1]
                    upright = _upright(frame, rotation)
                    kind = (
                        av.video.frame.PictureType.I
                        if index % gop == 0
                        else av.video.frame.PictureType.NONE
                    )
                    for (output, video, _), picture in zip(
                        encoders, _scaled(upright, sizes), strict=True
                    ):
                        picture.pts, picture.time_base = index - first, 1 / fps
                        picture.pict_type = kind
                        output.mux(video.encode(picture))
                    count += 1
                if count == 0:
                    raise MediaError(
                        f"{source}: no decodable video frames from {start_s or 0} s"
                        + (f" to {end_s} s" if end_s is not None else "")
                    )
                for output, video, _ in encoders:
                    output.mux(video.encode(None))
            for tmp, (out, _) in zip(temps, targets, strict=True):
                tmp.replace(out)
        except av.FFmpegError as exc:
            wanted = ", ".join(f"{r.name} at {r.video_bitrate} b/s" for _, r in targets)
            raise MediaError(f"{targets[0][1].encoder} cannot encode {wanted} ({exc})") from exc
        finally:
            for tmp in temps:
                tmp.unlink(missing_ok=True)
    return [
        EncodedRung(
            path=Path(out),
            name=rung.name,
            codec=rung.codec,
            width=width,
            height=height,
            fps=str(fps),
            first_frame=first,
            frames=count,
            bytes=Path(out).stat().st_size,
        )
        for (out, rung), (width, height) in zip(targets, sizes, strict=True)
    ]


def encode_audio(source: Path, out: Path, bitrate: int = AUDIO_BITRATE) -> EncodedAudio | None:
    """Encode the first audio stream of ``source`` once as AAC-LC stereo MP4 at ``out``.

    Returns None (and writes nothing) when the source has no audio stream.
    """
    source, out = Path(source), Path(out)
    with open_media(source) as container:
        if not container.streams.audio:
            return None
        stream = container.streams.audio[0]
        rate = stream.sample_rate if stream.sample_rate in _AAC_RATES else 48_000
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = _temp_sibling(out)
        samples, position = 0, 0.0
        try:
            with av.open(str(tmp), "w", format="mp4") as output:
                audio = output.add_stream("aac", rate=rate)
                audio.layout, audio.bit_rate = "stereo", bitrate
                resampler = av.AudioResampler(format="fltp", layout="stereo", rate=rate)

                def mux(frames: list[av.AudioFrame]) -> None:
                    nonlocal samples
                    for chunk in frames:
                        chunk.pts, chunk.time_base = samples, Fraction(1, rate)
                        samples += chunk.samples
                        output.mux(audio.encode(chunk))

                try:
                    for packet in container.demux(stream):
                        if packet.pts is not None and packet.time_base is not None:
                            position = float(packet.pts * packet.time_base)
                        for frame in packet.decode():
                            mux(resampler.resample(frame))
                except av.FFmpegError as exc:
                    raise MediaError(
                        f"{source}: cannot decode the audio near {position:.2f} s ({exc})"
                    ) from exc
                mux(resampler.resample(None))
                output.mux(audio.encode(None))
            if samples == 0:
                raise MediaError(f"{source}: the audio stream has no decodable samples")
            tmp.replace(out)
        finally:
            tmp.unlink(missing_ok=True)
    return EncodedAudio(
        path=out,
        sample_rate=rate,
        channels=2,
        bitrate=bitrate,
        duration_s=samples / rate,
        bytes=out.stat().st_size,
    )


def join_chunks(parts: list[EncodedRung], out: Path) -> EncodedRung:
    """Join the chunks of one rung, in order, into one MP4 at ``out`` by stream copy.

    Each chunk's timestamps are shifted by its ``first_frame``; the chunks must be contiguous
    (each starts where the previous one ended) and share size, codec and frame rate.
    """
    if not parts:
        raise MediaError("no chunks to join")
    parts = sorted(parts, key=lambda p: p.first_frame)
    head = parts[0]
    expected = head.first_frame
    for part in parts:
        if (part.width, part.height, part.fps, part.codec) != (
            head.width,
            head.height,
            head.fps,
            head.codec,
        ):
            raise MediaError(f"chunk {part.path} does not match {head.path} (size, fps or codec)")
        if part.first_frame != expected:
            raise MediaError(
                f"chunks of {head.name} are not contiguous: expected frame {expected}, "
                f"{part.path.name} starts at {part.first_frame}"
            )
        expected += part.frames
    fps = head.frame_rate
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = _temp_sibling(out)
    last_dts: int | None = None
    try:
        with av.open(str(tmp), "w", format="mp4") as output:
            target = None
            for part in parts:
                with av.open(str(part.path)) as container:
                    stream = container.streams.video[0]
                    if target is None:
                        target = output.add_stream_from_template(stream, opaque=True)
                        target.time_base = stream.time_base
                    if stream.time_base is None:
                        raise MediaError(f"chunk {part.path} has no video time base")
                    ticks = Fraction(part.first_frame - head.first_frame) / fps / stream.time_base
                    shift = round(ticks)
                    for packet in container.demux(stream):
                        if packet.size == 0:
                            continue
                        packet.pts = None if packet.pts is None else packet.pts + shift
                        packet.dts = None if packet.dts is None else packet.dts + shift
                        if packet.dts is not None and last_dts is not None:
                            if packet.dts <= last_dts:
                                packet.dts = last_dts + 1
                            last_dts = packet.dts
                        elif packet.dts is not None:
                            last_dts = packet.dts
                        packet.stream = target
                        output.mux(packet)
        tmp.replace(out)
    finally:
        tmp.unlink(missing_ok=True)
    return head.model_copy(
        update={"path": out, "frames": expected - head.first_frame, "bytes": out.stat().st_size}
    )
