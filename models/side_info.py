"""Side information: sparse item (and user) feature matrices aligned to sorted id vocabularies.

Item features are built from catalogue metadata in named blocks, each feature name prefixed by
its block: ``genre:`` (one-hot), ``tag:`` (TF-IDF of tag counts), ``word:`` (TF-IDF of title
and description words), ``year:`` (release-year buckets), ``language:`` (one-hot) and
``embedding:`` (a dense content vector per item, e.g. from the media pipeline). Each block of a
row is L2-normalised and scaled by its weight, then the whole row is L2-normalised, so the dot
product of two rows is their cosine similarity and every block counts as its weight says.
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Self

import numpy as np
import scipy.sparse as sp

from core import columns as c
from core.errors import DatasetError
from models.errors import ModelFormatError
from models.interactions import Interactions, lookup

if TYPE_CHECKING:
    import pandas as pd

#: Weight of each block when no weight is given (``word:`` counts half: titles are noisy).
DEFAULT_BLOCK_WEIGHTS: dict[str, float] = {
    "genre": 1.0,
    "tag": 1.0,
    "word": 0.5,
    "year": 0.5,
    "language": 0.5,
    "embedding": 1.0,
}
VECTOR = "vector"
_WORD = re.compile(r"[^\W\d_]{3,}")
_STOPWORDS = frozenset(
    [
        "the",
        "and",
        "for",
        "with",
        "from",
        "that",
        "this",
        "his",
        "her",
        "its",
        "are",
        "was",
        "were",
        "has",
        "have",
        "not",
        "you",
        "your",
        "into",
        "who",
        "what",
        "when",
        "where",
        "which",
        "one",
        "two",
        "all",
        "out",
        "off",
    ]
)


def _as_list(value: Any) -> list[str]:
    """A cell of a list column as a list of stripped, non-empty strings.

    Accepts lists, numpy arrays (as parquet returns them), ``|``-separated strings (the
    MovieLens convention) and missing values (``None`` / NaN -> empty list).
    """
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return []
    if isinstance(value, str):
        value = value.split("|")
    return [str(v).strip() for v in value if v is not None and str(v).strip()]


def _finite_frame_column(frame: pd.DataFrame, column: str) -> np.ndarray:
    """A numeric column as float64 with NaN for missing; ``ValueError`` on infinities."""
    import pandas as pd

    values = pd.to_numeric(frame[column], errors="coerce").to_numpy(dtype=np.float64)
    bad = np.isinf(values)
    if bad.any():
        first = frame[c.VIDEO_ID].to_numpy()[np.flatnonzero(bad)[0]]
        raise ValueError(f"{column} is infinite for video {first}: features must be finite")
    return values


def _l2_rows(matrix: sp.csr_matrix) -> sp.csr_matrix:
    """Rows scaled to unit L2 norm (zero rows stay zero)."""
    norms = np.sqrt(np.asarray(matrix.multiply(matrix).sum(axis=1)).ravel())
    scale = np.where(norms > 0, 1.0 / np.maximum(norms, 1e-30), 0.0)
    return sp.csr_matrix(sp.diags(scale) @ matrix, dtype=np.float32)


def _one_hot(rows: list[list[str]], prefix: str) -> tuple[sp.csr_matrix, list[str]]:
    """Binary matrix of which labels each row has, and the label names (sorted)."""
    names = sorted({label for labels in rows for label in labels})
    index = {name: j for j, name in enumerate(names)}
    coo_r, coo_c = [], []
    for i, labels in enumerate(rows):
        for label in set(labels):
            coo_r.append(i)
            coo_c.append(index[label])
    data = np.ones(len(coo_r), dtype=np.float32)
    matrix = sp.csr_matrix((data, (coo_r, coo_c)), shape=(len(rows), len(names)))
    return matrix, [f"{prefix}:{name}" for name in names]


def _tf_idf(rows: list[list[str]], prefix: str, min_items: int) -> tuple[sp.csr_matrix, list[str]]:
    """Term counts weighted by smoothed IDF ``log((1 + n) / (1 + df)) + 1``.

    Terms found in fewer than ``min_items`` rows are dropped.
    """
    counts = [Counter(terms) for terms in rows]
    df = Counter(term for row in counts for term in row)
    names = sorted(term for term, n in df.items() if n >= min_items)
    index = {name: j for j, name in enumerate(names)}
    n = len(rows)
    idf = np.array([math.log((1 + n) / (1 + df[name])) + 1.0 for name in names])
    coo_r, coo_c, data = [], [], []
    for i, row in enumerate(counts):
        for term, count in row.items():
            j = index.get(term)
            if j is not None:
                coo_r.append(i)
                coo_c.append(j)
                data.append(count * idf[j])
    matrix = sp.csr_matrix((np.asarray(data, np.float32), (coo_r, coo_c)), shape=(n, len(names)))
    return matrix, [f"{prefix}:{name}" for name in names]


def _check_finite(matrix: sp.csr_matrix, what: str) -> None:
    if not np.all(np.isfinite(matrix.data)):
        raise ValueError(f"{what} contain NaN or infinite values: features must be finite")


def _validated(
    ids: np.ndarray, matrix: sp.spmatrix, names: Iterable[str], what: str
) -> tuple[np.ndarray, sp.csr_matrix, tuple[str, ...]]:
    """Checked, canonical ``(sorted ids, float32 CSR, names)``; ``ValueError`` on bad input."""
    ids = np.asarray(ids, dtype=np.int64).reshape(-1)
    matrix = sp.csr_matrix(matrix, dtype=np.float32)
    names = tuple(str(n) for n in names)
    if matrix.shape != (ids.size, len(names)):
        raise ValueError(
            f"{what}: matrix of shape {matrix.shape} for {ids.size} ids and {len(names)} names"
        )
    if np.unique(ids).size != ids.size:
        raise ValueError(f"{what}: ids are not unique")
    _check_finite(matrix, what)
    order = np.argsort(ids, kind="stable")
    return ids[order], sp.csr_matrix(matrix[order]), names


@dataclass(frozen=True, eq=False)
class SideInfo:
    """Sparse float32 features, one row per id in ``ids`` (sorted), one column per name."""

    ids: np.ndarray
    matrix: sp.csr_matrix
    names: tuple[str, ...]

    def __post_init__(self) -> None:
        ids, matrix, names = _validated(self.ids, self.matrix, self.names, type(self).__name__)
        object.__setattr__(self, "ids", ids)
        object.__setattr__(self, "matrix", matrix)
        object.__setattr__(self, "names", names)

    @property
    def n_features(self) -> int:
        """Number of columns."""
        return len(self.names)

    def align(self, ids: np.ndarray) -> sp.csr_matrix:
        """Rows for ``ids`` in the given order; all-zero rows for ids without features."""
        rows = lookup(self.ids, np.asarray(ids, dtype=np.int64))
        picked = self.matrix[np.maximum(rows, 0)] if self.ids.size else None
        if picked is None:
            return sp.csr_matrix((rows.size, self.n_features), dtype=np.float32)
        keep = sp.diags((rows >= 0).astype(np.float32))
        out = sp.csr_matrix(keep @ picked, dtype=np.float32)
        out.eliminate_zeros()
        return out

    def columns(self, block: str) -> np.ndarray:
        """Column positions of the features of one block (e.g. ``"genre"``)."""
        prefix = f"{block}:"
        return np.array([j for j, n in enumerate(self.names) if n.startswith(prefix)], np.int64)

    def save(self, path: Path, stem: str) -> Path:
        """Write ``<stem>.npz`` and ``<stem>.json`` (names) into directory ``path``."""
        path.mkdir(parents=True, exist_ok=True)
        m = self.matrix
        np.savez(
            path / f"{stem}.npz", ids=self.ids, data=m.data, indices=m.indices, indptr=m.indptr
        )
        (path / f"{stem}.json").write_text(json.dumps(list(self.names)))
        return path

    @classmethod
    def load(cls, path: Path, stem: str) -> Self:
        """Read what ``save`` wrote."""
        files = (path / f"{stem}.npz", path / f"{stem}.json")
        if not all(f.is_file() for f in files):
            raise ModelFormatError(f"no saved {stem} features in {path}")
        names = json.loads(files[1].read_text())
        with np.load(files[0]) as z:
            shape = (z["ids"].size, len(names))
            matrix = sp.csr_matrix((z["data"], z["indices"], z["indptr"]), shape=shape)
            return cls(z["ids"], matrix, tuple(names))


class ItemFeatures(SideInfo):
    """Item side information; ``item_ids`` are the row ids (see the module docstring)."""

    @property
    def item_ids(self) -> np.ndarray:
        """int64 sorted item ids, one per row."""
        return self.ids

    @classmethod
    def from_metadata(
        cls,
        frame: pd.DataFrame,
        embeddings: pd.DataFrame | None = None,
        *,
        block_weights: Mapping[str, float] | None = None,
        year_bucket: int = 5,
        min_tag_items: int = 2,
    ) -> ItemFeatures:
        """Features from a catalogue frame and optional content embeddings.

        ``frame`` needs ``video_id``; ``genres`` / ``tags`` (lists or ``|``-joined strings),
        ``release_year``, ``language``, ``title`` and ``description`` are used when present.
        ``embeddings`` has ``video_id`` and ``vector`` (equal-length numeric arrays); its items
        are added when the catalogue lacks them. Tags and words in fewer than
        ``min_tag_items`` items are dropped. ``block_weights`` override
        ``DEFAULT_BLOCK_WEIGHTS`` (weight 0 drops a block).
        """
        if c.VIDEO_ID not in frame.columns:
            raise DatasetError("item metadata lacks the video_id column")
        if year_bucket <= 0:
            raise ValueError(f"year_bucket must be a positive number of years, not {year_bucket}")
        weights = {**DEFAULT_BLOCK_WEIGHTS, **(block_weights or {})}
        unknown = set(weights) - set(DEFAULT_BLOCK_WEIGHTS)
        if unknown:
            raise ValueError(
                f"unknown feature blocks {sorted(unknown)}; known: {sorted(DEFAULT_BLOCK_WEIGHTS)}"
            )
        bad = {k: w for k, w in weights.items() if not (math.isfinite(w) and w >= 0)}
        if bad:
            raise ValueError(f"block weights must be finite and >= 0, not {bad}")
        if frame[c.VIDEO_ID].isna().any():
            raise DatasetError("some item metadata rows have no video_id")
        meta = frame.reset_index(drop=True)
        meta_ids = meta[c.VIDEO_ID].astype("int64").to_numpy()
        if np.unique(meta_ids).size != meta_ids.size:
            raise ValueError("item metadata has duplicate video_id rows")
        vectors: np.ndarray | None = None
        emb_ids = np.empty(0, np.int64)
        if embeddings is not None:
            emb_ids, vectors = _embedding_matrix(embeddings)
        item_ids = np.union1d(meta_ids, emb_ids)
        meta_rows = lookup(item_ids, meta_ids)

        def column(name: str) -> list[Any]:
            cells: list[Any] = [None] * item_ids.size
            if name in meta.columns:
                for row, value in zip(meta_rows, meta[name].tolist(), strict=True):
                    cells[row] = value
            return cells

        blocks: list[tuple[str, sp.csr_matrix, list[str]]] = []
        blocks.append(("genre", *_one_hot([_as_list(v) for v in column("genres")], "genre")))
        tags = [[t.lower() for t in _as_list(v)] for v in column("tags")]
        blocks.append(("tag", *_tf_idf(tags, "tag", min_tag_items)))
        text = [
            " ".join(str(v) for v in pair if isinstance(v, str))
            for pair in zip(column("title"), column("description"), strict=True)
        ]
        words = [[w for w in _WORD.findall(t.lower()) if w not in _STOPWORDS] for t in text]
        blocks.append(("word", *_tf_idf(words, "word", min_tag_items)))
        years: list[list[str] | None] = [None] * item_ids.size
        if "release_year" in meta.columns:
            values = _finite_frame_column(meta, "release_year")
            for row, year in zip(meta_rows, values, strict=True):
                if not math.isnan(year):
                    years[row] = [str(int(year // year_bucket * year_bucket))]
        blocks.append(("year", *_one_hot([y or [] for y in years], "year")))
        langs = [
            [v.strip().lower()] if isinstance(v, str) and v.strip() else []
            for v in column("language")
        ]
        blocks.append(("language", *_one_hot(langs, "language")))
        if vectors is not None:
            dense = np.zeros((item_ids.size, vectors.shape[1]), dtype=np.float32)
            dense[lookup(item_ids, emb_ids)] = vectors
            names = [f"embedding:{j}" for j in range(vectors.shape[1])]
            blocks.append(("embedding", sp.csr_matrix(dense), names))
        parts, names = [], []
        for block, matrix, block_names in blocks:
            if weights[block] > 0 and block_names:
                parts.append(_l2_rows(matrix) * weights[block])
                names.extend(block_names)
        if not parts:
            matrix = sp.csr_matrix((item_ids.size, 0), dtype=np.float32)
        else:
            matrix = _l2_rows(sp.hstack(parts, format="csr"))
        return cls(item_ids, matrix, tuple(names))


def _embedding_matrix(frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """``(ids, float32 vectors)`` from a ``video_id`` + ``vector`` frame, checked."""
    missing = [col for col in (c.VIDEO_ID, VECTOR) if col not in frame.columns]
    if missing:
        raise DatasetError(f"content embeddings lack required columns: {', '.join(missing)}")
    ids = frame[c.VIDEO_ID].astype("int64").to_numpy()
    if np.unique(ids).size != ids.size:
        raise ValueError("content embeddings have duplicate video_id rows")
    rows = [np.asarray(v, dtype=np.float64).reshape(-1) for v in frame[VECTOR].tolist()]
    dims = {r.size for r in rows}
    if len(dims) > 1:
        raise ValueError(f"content embeddings have vectors of different lengths: {sorted(dims)}")
    vectors = np.vstack(rows) if rows else np.empty((0, 0))
    bad = ~np.isfinite(vectors).all(axis=1) if vectors.size else np.zeros(0, bool)
    if bad.any():
        raise ValueError(
            f"content embedding of video {ids[np.flatnonzero(bad)[0]]} contains NaN or "
            f"infinite values ({int(bad.sum())} such vectors)"
        )
    return ids, vectors.astype(np.float32)


class UserFeatures(SideInfo):
    """User side information (e.g. genre affinity); ``user_ids`` are the row ids."""

    @property
    def user_ids(self) -> np.ndarray:
        """int64 sorted user ids, one per row."""
        return self.ids

    @classmethod
    def from_interactions(
        cls, interactions: Interactions, items: ItemFeatures, block: str = "genre"
    ) -> UserFeatures:
        """Each user's affinity to one item-feature block: the interaction-weighted mean of
        the watched items' block features, L2-normalised (names are the block's names)."""
        cols = items.columns(block)
        if cols.size == 0:
            raise ValueError(f"the item features have no {block!r} block to derive users from")
        item_part = items.align(interactions.item_ids)[:, cols]
        item_part.data[:] = 1.0
        affinity = _l2_rows(sp.csr_matrix(interactions.matrix @ item_part))
        names = [items.names[j].replace(f"{block}:", f"user_{block}:", 1) for j in cols]
        return cls(interactions.user_ids, affinity, tuple(names))
