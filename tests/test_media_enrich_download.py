"""The download rendition: a faststart MP4 holding the encoded streams byte for byte."""

from __future__ import annotations

from pathlib import Path

import av
import pytest

from media.enrich.download import make_download_mp4
from media.errors import MediaError
from media.hls.isobmff import scan_boxes
from tests.test_media_hls_package import encode_rung


def _packets(path: Path, kind: str) -> list[bytes]:
    with av.open(str(path)) as container:
        stream = container.streams.video[0] if kind == "video" else container.streams.audio[0]
        return [bytes(p) for p in container.demux(stream) if p.size]


def _top_level(path: Path) -> list[str]:
    with path.open("rb") as handle:
        return [box.type for box in scan_boxes(handle)]


def test_download_from_one_encoded_file_is_faststart_and_copied(tmp_path: Path) -> None:
    source = encode_rung(tmp_path / "rung.mp4", seconds=3)
    out = make_download_mp4(source, None, tmp_path / "dl" / "video.mp4")
    assert out == tmp_path / "dl" / "video.mp4"
    boxes = _top_level(out)
    assert boxes.index("moov") < boxes.index("mdat"), f"not faststart: {boxes}"
    assert _packets(out, "video") == _packets(source, "video"), "stream copy, no re-encode"
    assert _packets(out, "audio") == _packets(source, "audio")
    with av.open(str(out)) as container:
        assert float(container.duration / av.time_base) == pytest.approx(3.0, abs=0.1)
    assert sorted(p.name for p in out.parent.iterdir()) == ["video.mp4"]


def test_download_joins_separate_video_and_audio(tmp_path: Path) -> None:
    video = encode_rung(tmp_path / "video.mp4", seconds=3, audio=False)
    audio = encode_rung(tmp_path / "audio.mp4", seconds=3, size=(64, 36))
    out = make_download_mp4(video, audio, tmp_path / "dl.mp4")
    assert _packets(out, "video") == _packets(video, "video")
    assert _packets(out, "audio") == _packets(audio, "audio")
    with av.open(str(out)) as container:
        assert container.streams.video[0].codec_context.width == 320
        frames = sum(1 for _ in container.decode(video=0))
    assert frames == 75


def test_download_refuses_bad_inputs(tmp_path: Path) -> None:
    video = encode_rung(tmp_path / "video.mp4", seconds=1, audio=False)
    with pytest.raises(MediaError, match="no such encoded file for the download"):
        make_download_mp4(tmp_path / "missing.mp4", None, tmp_path / "dl.mp4")
    with pytest.raises(MediaError, match=r"video\.mp4: has no audio stream for the download"):
        make_download_mp4(video, video, tmp_path / "dl.mp4")
    text = tmp_path / "notes.mp4"
    text.write_text("hello")
    with pytest.raises(MediaError, match="not a readable media file"):
        make_download_mp4(text, None, tmp_path / "dl.mp4")
    assert not (tmp_path / "dl.mp4").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")], "no temporary left"
