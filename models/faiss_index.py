"""Inner-product search over any embedding model's item vectors with FAISS.

Exact (``IndexFlatIP``) for small catalogues, approximate (HNSW, or IVF) above a size
threshold, and the recall of ANN against exact search."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Literal, Self

import numpy as np
from pydantic import Field

from models.base import EmbeddingModel, check_k, empty_result
from models.config import ModelConfig
from models.errors import ModelFormatError, VocabularyMismatchError
from models.interactions import vocabulary_digest

if TYPE_CHECKING:
    import faiss

_INDEX = "index.faiss"
_VOCABULARY = "item_ids.npy"
_META = "index.json"

IndexKind = Literal["flat", "hnsw", "ivf"]


class IndexConfig(ModelConfig):
    """Which FAISS index to build, and its accuracy / speed knobs.

    Defaults reach recall@10 >= 0.95 against exact search on 20k random 64-d vectors (tested).
    """

    kind: Literal["auto", "flat", "hnsw", "ivf"] = Field(
        "auto", description="auto: flat up to exact_max_items, HNSW above."
    )
    exact_max_items: int = Field(10_000, ge=0, description="Largest catalogue searched exactly.")
    hnsw_m: int = Field(32, gt=1, description="HNSW links per node.")
    hnsw_ef_construction: int = Field(200, gt=0, description="HNSW build-time beam width.")
    hnsw_ef_search: int = Field(256, gt=0, description="HNSW search-time beam width.")
    ivf_lists: int | None = Field(None, gt=0, description="IVF cells; None: 4 * sqrt(n_items).")
    ivf_probe: int = Field(32, gt=0, description="IVF cells visited per query.")


def _build_faiss(vectors: np.ndarray, config: IndexConfig) -> faiss.Index:
    """A populated FAISS inner-product index of the kind ``config`` selects for ``vectors``."""
    import faiss

    n, dim = vectors.shape
    kind = config.kind
    if kind == "auto":
        kind = "flat" if n <= config.exact_max_items else "hnsw"
    index: faiss.Index
    if kind == "hnsw":
        hnsw = faiss.IndexHNSWFlat(dim, config.hnsw_m, faiss.METRIC_INNER_PRODUCT)
        hnsw.hnsw.efConstruction = config.hnsw_ef_construction
        hnsw.hnsw.efSearch = config.hnsw_ef_search
        index = hnsw
    elif kind == "ivf":
        lists = config.ivf_lists or max(1, int(4 * np.sqrt(n)))
        lists = min(lists, max(n, 1))
        quantizer = faiss.IndexFlatIP(dim)
        ivf = faiss.IndexIVFFlat(quantizer, dim, lists, faiss.METRIC_INNER_PRODUCT)
        ivf.train(vectors)
        ivf.nprobe = min(config.ivf_probe, lists)
        index = ivf
    else:
        index = faiss.IndexFlatIP(dim)
    index.add(vectors)
    return index


def _kind_of(index: faiss.Index) -> IndexKind:
    import faiss

    if isinstance(index, faiss.IndexHNSW):
        return "hnsw"
    if isinstance(index, faiss.IndexIVF):
        return "ivf"
    return "flat"


class ItemIndex:
    """Item vectors in a FAISS index, with the item id of every row saved beside it."""

    def __init__(self, index: faiss.Index, item_ids: np.ndarray) -> None:
        ntotal = int(index.ntotal)
        if ntotal != item_ids.size:
            raise VocabularyMismatchError(
                f"the index holds {ntotal} vectors but the vocabulary has {item_ids.size} ids"
            )
        self._index = index
        self.item_ids = np.asarray(item_ids, dtype=np.int64)

    @classmethod
    def build(
        cls,
        item_ids: np.ndarray,
        item_vectors: np.ndarray,
        config: IndexConfig = IndexConfig(),  # noqa: B008 - frozen
    ) -> Self:
        """Index ``item_vectors`` (one row per id in ``item_ids``) for inner-product search;
        ``ValueError`` if any vector holds NaN or infinity."""
        vectors = np.ascontiguousarray(item_vectors, dtype=np.float32)
        if vectors.ndim != 2 or vectors.shape[0] != np.asarray(item_ids).size:
            raise VocabularyMismatchError(
                f"{np.asarray(item_ids).size} item ids but item vectors of shape {vectors.shape}"
            )
        if not np.isfinite(vectors).all():
            bad = int((~np.isfinite(vectors).all(axis=1)).sum())
            raise ValueError(f"{bad} item vector(s) contain NaN or infinite values")
        return cls(_build_faiss(vectors, config), np.asarray(item_ids, dtype=np.int64))

    @classmethod
    def from_model(
        cls,
        model: EmbeddingModel,
        config: IndexConfig = IndexConfig(),  # noqa: B008 - frozen
    ) -> Self:
        """Index a fitted embedding model's item vectors under its item vocabulary."""
        return cls.build(model.interactions.item_ids, model.item_vectors, config)

    @property
    def kind(self) -> IndexKind:
        """``flat`` (exact), ``hnsw`` or ``ivf``."""
        return _kind_of(self._index)

    def vectors(self) -> np.ndarray:
        """float32 copy of the indexed vectors, in vocabulary order."""
        import faiss

        n = self.item_ids.size
        if isinstance(self._index, faiss.IndexIVF):
            self._index.make_direct_map()
        return np.asarray(self._index.reconstruct_n(0, n), dtype=np.float32)

    def exact(self) -> ItemIndex:
        """An exact (flat) index over the same vectors and vocabulary."""
        if self.kind == "flat":
            return self
        return type(self).build(self.item_ids, self.vectors(), IndexConfig(kind="flat"))

    @property
    def dim(self) -> int:
        """Dimension of the indexed vectors."""
        return int(self._index.d)

    @property
    def digest(self) -> str:
        """sha256 of the item vocabulary."""
        return vocabulary_digest(self.item_ids)

    def check_matches(self, model: EmbeddingModel) -> None:
        """``VocabularyMismatchError`` unless this index was built from ``model``'s items."""
        expected = model.interactions.item_ids
        if expected.size != self.item_ids.size or not np.array_equal(expected, self.item_ids):
            raise VocabularyMismatchError(
                f"item index vocabulary ({self.item_ids.size} ids, digest {self.digest[:12]}) "
                f"does not match the model's ({expected.size} ids, digest "
                f"{vocabulary_digest(expected)[:12]}): rebuild the index from this model"
            )
        if model.item_vectors.shape[1] != self.dim:
            raise VocabularyMismatchError(
                f"item index has {self.dim}-d vectors, the model {model.item_vectors.shape[1]}-d"
            )

    def search(
        self, user_vectors: np.ndarray, k: int, exclude: list[set[int]] | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top-k item ids and inner products per query row, skipping each row's ``exclude``.

        Rows are padded with -1 / -inf where fewer than k items remain.
        """
        k = check_k(k)
        queries = np.ascontiguousarray(user_vectors, dtype=np.float32)
        if queries.ndim != 2 or queries.shape[1] != self.dim:
            raise VocabularyMismatchError(
                f"query vectors of shape {queries.shape} do not fit a {self.dim}-d item index"
            )
        n = queries.shape[0]
        if exclude is not None and len(exclude) != n:
            raise ValueError(f"exclude has {len(exclude)} sets for {n} query vectors")
        ids, scores = empty_result(n, k)
        widest = max((len(s) for s in exclude), default=0) if exclude else 0
        fetch = min(k + widest, self.item_ids.size)
        if n == 0 or fetch == 0:
            return ids, scores
        found_scores, rows = self._index.search(queries, fetch)
        found = np.where(rows >= 0, self.item_ids[np.maximum(rows, 0)], -1)
        for i in range(n):
            keep = found[i] >= 0
            if exclude:
                keep &= ~np.isin(found[i], np.fromiter(exclude[i], dtype=np.int64))
            row_ids, row_scores = found[i][keep][:k], found_scores[i][keep][:k]
            ids[i, : row_ids.size], scores[i, : row_ids.size] = row_ids, row_scores
        return ids, scores

    def save(self, path: Path) -> Path:
        """Write the index, its id vocabulary and a digest into directory ``path``."""
        import faiss

        path.mkdir(parents=True, exist_ok=True)
        faiss.write_index(self._index, str(path / _INDEX))
        np.save(path / _VOCABULARY, self.item_ids)
        meta = {
            "dim": self.dim,
            "size": int(self.item_ids.size),
            "digest": self.digest,
            "kind": self.kind,
        }
        (path / _META).write_text(json.dumps(meta, indent=2))
        return path

    @classmethod
    def load(cls, path: Path, model: EmbeddingModel | None = None) -> Self:
        """Read a directory written by ``save``; if ``model`` is given, check it matches."""
        import faiss

        for name in (_INDEX, _VOCABULARY, _META):
            if not (path / name).is_file():
                raise ModelFormatError(f"no {name} in {path}: not a saved item index")
        item_ids = np.load(path / _VOCABULARY)
        meta = json.loads((path / _META).read_text())
        if vocabulary_digest(item_ids) != meta.get("digest"):
            raise VocabularyMismatchError(
                f"{path / _VOCABULARY} does not match the digest recorded when the index was saved"
            )
        index = cls(faiss.read_index(str(path / _INDEX)), item_ids)
        if model is not None:
            index.check_matches(model)
        return index


def measure_recall(index: ItemIndex, exact: ItemIndex, queries: np.ndarray, k: int) -> float:
    """Recall@k of ``index`` against ``exact`` search: the mean share of each query's exact
    top-k ids that ``index`` also returns in its top k (1.0 for an exact index)."""
    k = check_k(k)
    if not np.array_equal(index.item_ids, exact.item_ids):
        raise VocabularyMismatchError("recall needs two indexes over the same item vocabulary")
    if len(queries) == 0:
        raise ValueError("recall needs at least one query vector")
    found, _ = index.search(queries, k)
    truth, _ = exact.search(queries, k)
    shares = []
    for got, want in zip(found, truth, strict=True):
        want = want[want >= 0]
        if want.size:
            shares.append(np.isin(want, got).mean())
    return float(np.mean(shares)) if shares else 1.0
