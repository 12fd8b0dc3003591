"""Perceptual fingerprints: re-encoded and rescaled copies match, different footage does not."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
import skvideo

from media.enrich.embeddings import extract_visual
from media.enrich.fingerprint import (
    NEAR_DUPLICATE,
    Fingerprint,
    fingerprint_frames,
    frame_hash,
    similarity,
)
from media.errors import MediaError

DATA = Path(skvideo.__file__).parent / "datasets" / "data"
BIKES = DATA / "bikes.mp4"
BUNNY = DATA / "bigbuckbunny.mp4"


def fingerprint_video(path: Path) -> Fingerprint:
    """The fingerprint the embeddings pass stores for ``path`` (sampled at 1 fps)."""
    return extract_visual(path).fingerprint


def reencode(source: Path, target: Path, scale: float, crf: int) -> Path:
    """``source`` rescaled by ``scale`` and re-encoded with libx264 at ``crf`` (a re-upload)."""
    with av.open(str(source)) as inp, av.open(str(target), "w") as out:
        stream = inp.streams.video[0]
        width = round(stream.codec_context.width * scale / 2) * 2
        height = round(stream.codec_context.height * scale / 2) * 2
        video = out.add_stream(
            "libx264", rate=stream.average_rate, options={"crf": str(crf), "preset": "veryfast"}
        )
        video.width, video.height, video.pix_fmt = width, height, "yuv420p"
        for index, frame in enumerate(inp.decode(stream)):
            picture = frame.reformat(width=width, height=height, format="yuv420p")
            picture.pts, picture.time_base = index, Fraction(1) / stream.average_rate
            out.mux(video.encode(picture))
        out.mux(video.encode(None))
    return target


@pytest.mark.parametrize(
    ("scale", "crf"),
    [(0.5, 32), (0.25, 38), pytest.param(1.5, 23, marks=pytest.mark.slow)],
)
def test_reencoded_and_rescaled_copy_is_a_near_duplicate(
    tmp_path: Path, scale: float, crf: int
) -> None:
    original = fingerprint_video(BIKES)
    copy = fingerprint_video(reencode(BIKES, tmp_path / "copy.mp4", scale, crf))
    assert original.hashes.size == copy.hashes.size == 10
    assert similarity(original, copy) > NEAR_DUPLICATE
    assert similarity(copy, original) == similarity(original, copy)


def test_different_footage_scores_well_below() -> None:
    bikes, bunny = fingerprint_video(BIKES), fingerprint_video(BUNNY)
    carphone = fingerprint_video(DATA / "carphone_pristine.mp4")
    for a, b in [(bikes, bunny), (bikes, carphone), (bunny, carphone)]:
        assert similarity(a, b) < 0.5
    assert similarity(bikes, bikes) == 1.0


def test_half_of_a_video_is_not_a_duplicate_of_the_whole() -> None:
    whole = fingerprint_video(BIKES)
    half = Fingerprint(whole.hashes[:5], whole.interval_s)
    assert 0.4 < similarity(whole, half) < 0.7


def test_frame_hash_ignores_scale_and_mild_noise() -> None:
    rng = np.random.default_rng(0)
    image = (rng.random((72, 128, 3)) * 40).astype(np.uint8)
    image[:, :64] += 150  # a bright left half
    image[20:50, 80:110] = [200, 30, 30]
    big = np.repeat(np.repeat(image, 3, axis=0), 3, axis=1)
    noisy = np.clip(big.astype(int) + rng.integers(-10, 11, big.shape), 0, 255).astype(np.uint8)
    flipped = image[:, ::-1].copy()
    distance = lambda a, b: bin(frame_hash(a) ^ frame_hash(b)).count("1")  # noqa: E731
    assert distance(image, noisy) <= 6
    assert distance(image, flipped) >= 16


def test_round_trip_and_errors() -> None:
    fp = fingerprint_frames([np.zeros((8, 8, 3), np.uint8), np.full((8, 8, 3), 255, np.uint8)])
    back = Fingerprint.from_list(fp.to_list(), fp.interval_s)
    np.testing.assert_array_equal(back.hashes, fp.hashes)
    assert back.hashes.dtype == np.uint64 and back.interval_s == fp.interval_s
    assert all(0 <= h < 2**64 for h in fp.to_list())
    with pytest.raises(MediaError, match="at least one frame"):
        fingerprint_frames([])
    with pytest.raises(MediaError, match="at least one frame hash"):
        Fingerprint(np.zeros(0, np.uint64))
    with pytest.raises(MediaError, match="HxW or HxWx3 image"):
        frame_hash(np.zeros(5, np.uint8))
    with pytest.raises(MediaError, match="sample both at the same rate"):
        similarity(Fingerprint(fp.hashes, 1.0), Fingerprint(fp.hashes, 0.5))
