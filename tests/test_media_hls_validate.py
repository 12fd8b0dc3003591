"""The HLS validator: generated packages pass; hand-broken ones fail with the reason."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from media.hls.audio import package_audio
from media.hls.master import write_master
from media.hls.rung import package_rung
from media.hls.validate import validate_package
from tests.test_media_hls_package import (
    BIG_BUCK_BUNNY,
    build_package,
    encode_rung,
    reencode_with_gops,
)


@pytest.fixture(scope="module")
def valid(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root, _, _ = build_package(tmp_path_factory.mktemp("valid"), sizes=((320, 180), (192, 108)))
    return root


@pytest.fixture
def broken(valid: Path, tmp_path: Path) -> Path:
    """A copy of the valid package to break by hand."""
    return Path(shutil.copytree(valid, tmp_path / "pkg"))


def _edit(path: Path, old: str, new: str, count: int = 1) -> None:
    text = path.read_text()
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new, count))


def _messages(root: Path) -> list[str]:
    report = validate_package(root)
    assert not report.ok
    return [str(p) for p in report.problems]


def test_generated_packages_pass(valid: Path) -> None:
    report = validate_package(valid)
    assert report.ok, str(report)
    assert str(report).endswith("valid HLS package")


def test_real_footage_package_passes(tmp_path: Path) -> None:
    rungs = []
    for height in (180, 360):
        source = reencode_with_gops(BIG_BUCK_BUNNY, tmp_path / f"{height}.mp4", height)
        rungs.append(package_rung(source, tmp_path / "pkg", f"{height}p"))
    audio = package_audio(tmp_path / "360.mp4", tmp_path / "pkg", "en")
    write_master(tmp_path / "pkg", rungs, audio)
    report = validate_package(tmp_path / "pkg")
    assert report.ok, str(report)


def test_wrong_bandwidth(broken: Path) -> None:
    master = broken / "master.m3u8"
    declared = re.search(r"#EXT-X-STREAM-INF:BANDWIDTH=(\d+)", master.read_text())
    assert declared is not None
    _edit(master, f"BANDWIDTH={declared[1]},", f"BANDWIDTH={int(declared[1]) * 2},")
    [message] = _messages(broken)
    assert message.startswith("master.m3u8 variant 108p/index.m3u8: BANDWIDTH=")
    assert f"is 100% above the measured peak segment bit rate {declared[1]} b/s" in message


def test_average_bandwidth_too_low(broken: Path) -> None:
    master = broken / "master.m3u8"
    declared = re.search(r"AVERAGE-BANDWIDTH=(\d+)", master.read_text())
    assert declared is not None
    _edit(master, f"AVERAGE-BANDWIDTH={declared[1]}", f"AVERAGE-BANDWIDTH={int(declared[1]) // 2}")
    [message] = _messages(broken)
    assert "AVERAGE-BANDWIDTH=" in message and "below the measured average" in message


def test_missing_codecs(broken: Path) -> None:
    master = broken / "master.m3u8"
    codecs = re.search(r'CODECS="[^"]+",', master.read_text())
    assert codecs is not None
    _edit(master, codecs[0], "")
    assert _messages(broken) == ["master.m3u8 variant 108p/index.m3u8: has no CODECS attribute"]


def test_untrue_codecs_resolution_and_frame_rate(broken: Path) -> None:
    master = broken / "master.m3u8"
    _edit(master, "mp4a.40.2", "mp4a.40.5")
    _edit(master, "RESOLUTION=192x108,FRAME-RATE=25.000", "RESOLUTION=200x108,FRAME-RATE=30.000")
    messages = _messages(broken)
    assert len(messages) == 3
    assert 'CODECS="avc1.' in messages[0] and ',mp4a.40.5" but the streams are' in messages[0]
    assert messages[1].endswith("RESOLUTION=200x108 but frames decode as 192x108")
    assert messages[2].endswith("FRAME-RATE=30.000 but the video runs at 25.000 frames/s")


def test_segment_not_starting_with_an_idr(tmp_path: Path) -> None:
    source = encode_rung(tmp_path / "open.mp4", seconds=7, open_gop=True)
    rung = package_rung(source, tmp_path / "pkg", "180p")
    write_master(tmp_path / "pkg", [rung], package_audio(source, tmp_path / "pkg"))
    [message] = _messages(tmp_path / "pkg")
    prefix = "180p/index.m3u8: seg_00001.m4s does not start with an IDR frame (NAL unit types ["
    assert message.startswith(prefix), message
    types = [int(t) for t in re.findall(r"\d+", message.removeprefix(prefix))]
    assert 1 in types and 5 not in types, "a non-IDR slice, no IDR slice"


def test_misaligned_segment_boundaries(tmp_path: Path) -> None:
    source = encode_rung(tmp_path / "a.mp4", seconds=9, audio=False)
    four = package_rung(source, tmp_path / "pkg", "a", segment_seconds=4)
    six = package_rung(source, tmp_path / "pkg", "b", segment_seconds=6)
    write_master(tmp_path / "pkg", [four, six], None)
    assert _messages(tmp_path / "pkg") == [
        "master.m3u8: segment boundaries differ across variants: segment 1 starts at 4.000 s "
        "in a/index.m3u8 but at 6.000 s in b/index.m3u8"
    ]


def test_extinf_above_target_duration(broken: Path) -> None:
    _edit(broken / "180p" / "index.m3u8", "#EXT-X-TARGETDURATION:6", "#EXT-X-TARGETDURATION:5")
    assert _messages(broken) == [
        "180p/index.m3u8: seg_00000.m4s: EXTINF 6.000 s rounds above #EXT-X-TARGETDURATION:5"
    ]


def test_extinf_that_lies_about_the_segment(broken: Path) -> None:
    _edit(broken / "180p" / "index.m3u8", "#EXTINF:1.000000,", "#EXTINF:1.500000,")
    [message] = _messages(broken)
    assert message == (
        "180p/index.m3u8: seg_00001.m4s: EXTINF 1.500 s but the segment holds 1.000 s of media"
    )


def test_iframe_byte_range_off_the_keyframe(broken: Path) -> None:
    playlist = broken / "180p" / "iframes.m3u8"
    first = re.search(r"#EXT-X-BYTERANGE:(\d+)@0", playlist.read_text())
    assert first is not None
    _edit(playlist, f"#EXT-X-BYTERANGE:{first[1]}@0", f"#EXT-X-BYTERANGE:{first[1]}@100")
    assert _messages(broken) == [
        f"180p/iframes.m3u8: I-frame 0 (seg_00000.m4s ({first[1]}, 100)) does not hold a keyframe"
    ]


def test_unparseable_and_missing_pieces(broken: Path) -> None:
    (broken / "108p" / "seg_00001.m4s").unlink()
    _edit(broken / "180p" / "index.m3u8", "#EXT-X-ENDLIST\n", "")
    messages = _messages(broken)
    assert "180p/index.m3u8: lacks #EXT-X-ENDLIST" in messages
    assert any(m.startswith("108p/index.m3u8: seg_00001.m4s: [Errno 2]") for m in messages)
    (broken / "master.m3u8").write_text("hello\n")
    assert _messages(broken) == [
        f"master.m3u8: does not parse: {broken / 'master.m3u8'}: not an HLS playlist "
        "(first line is not #EXTM3U)"
    ]
