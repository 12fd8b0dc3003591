"""The semantic half of search: MiniLM text vectors of the videos in a FAISS inner-product
index (exact, over unit vectors: cosine), queried with the same encoder."""

from __future__ import annotations

import threading

import faiss
import numpy as np

from media.enrich.text import TEXT_DIM, text_encoder


def encode(texts: list[str]) -> np.ndarray:
    """Unit MiniLM vectors of ``texts`` (the media pipeline's encoder, loaded once)."""
    return text_encoder().encode(texts)


class SemanticIndex:
    """Video vectors by id; an exact FAISS flat index over them, rebuilt on change (a flat
    index of 100k x 384 floats is 150 MB and searched in milliseconds)."""

    def __init__(self) -> None:
        self._vectors: dict[int, np.ndarray] = {}
        self._lock = threading.Lock()
        self._index: faiss.IndexFlatIP | None = None
        self._ids = np.zeros(0, np.int64)

    def __len__(self) -> int:
        return len(self._ids)

    def update(self, vectors: dict[int, np.ndarray], removed: list[int]) -> None:
        """Set the vectors of some videos and drop others; the index is rebuilt once."""
        if not vectors and not removed:
            return
        with self._lock:
            for video_id in removed:
                self._vectors.pop(video_id, None)
            self._vectors.update(vectors)
            ids = np.fromiter(self._vectors, np.int64, len(self._vectors))
            index = faiss.IndexFlatIP(TEXT_DIM)
            if len(ids):
                index.add(np.stack([self._vectors[int(i)] for i in ids]).astype(np.float32))
            self._index, self._ids = index, ids

    def search(self, query_vector: np.ndarray, limit: int) -> list[tuple[int, float]]:
        """The ``limit`` nearest videos to ``query_vector`` with their cosine."""
        index, ids = self._index, self._ids
        if index is None or not len(ids):
            return []
        scores, rows = index.search(query_vector.reshape(1, -1).astype(np.float32), limit)
        return [(int(ids[r]), float(s)) for r, s in zip(rows[0], scores[0], strict=True) if r >= 0]
