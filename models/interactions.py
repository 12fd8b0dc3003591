"""The user x item interaction matrix every model is fitted on, with its id vocabulary."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import numpy as np
import scipy.sparse as sp

from core import columns as c
from core.errors import DatasetError
from core.types import EventType
from models.errors import ModelFormatError

if TYPE_CHECKING:
    import pandas as pd

#: How a (user, item) pair's weight is computed from its positive events.
Weighting = Literal["count", "value", "binary"]

#: Event types that say a user wanted an item; impressions, clicks and progress do not count.
DEFAULT_POSITIVE_TYPES: frozenset[str] = frozenset(
    {EventType.PLAY, EventType.COMPLETE, EventType.LIKE, EventType.RATE}
)

_REQUIRED = (c.USER_ID, c.VIDEO_ID, c.EVENT_TYPE, c.EVENT_TIMESTAMP)
_FILE = "interactions.npz"


def lookup(vocabulary: np.ndarray, ids: np.ndarray) -> np.ndarray:
    """Row positions of ``ids`` in the sorted ``vocabulary``; -1 where an id is unknown."""
    ids = np.asarray(ids, dtype=np.int64).reshape(-1)
    if vocabulary.size == 0:
        return np.full(ids.shape, -1, dtype=np.int64)
    pos = np.searchsorted(vocabulary, ids)
    pos = np.minimum(pos, vocabulary.size - 1)
    return np.where(vocabulary[pos] == ids, pos, -1).astype(np.int64)


def vocabulary_digest(ids: np.ndarray) -> str:
    """sha256 of an id vocabulary (values and order), to tell vocabularies apart cheaply."""
    return hashlib.sha256(np.ascontiguousarray(ids, dtype=np.int64).tobytes()).hexdigest()


@dataclass(frozen=True, eq=False)
class Interactions:
    """A CSR matrix of float32 weights, rows ``user_ids`` and columns ``item_ids`` (both sorted).

    ``last_seen`` holds, aligned with ``matrix.data``, the latest event time of each pair in
    seconds since the epoch (used for time-decayed popularity).
    """

    matrix: sp.csr_matrix
    user_ids: np.ndarray
    item_ids: np.ndarray
    last_seen: np.ndarray

    @classmethod
    def from_events(
        cls,
        frame: pd.DataFrame,
        weight: Weighting = "count",
        positive_types: Iterable[str] = DEFAULT_POSITIVE_TYPES,
    ) -> Interactions:
        """Aggregate the positive events of an event-log frame into one weight per pair.

        ``count``: number of positive events; ``value``: the largest ``value`` of the pair's
        events (missing values count as 1; pairs whose weight is not positive are dropped);
        ``binary``: 1 for every pair.
        """
        if weight not in ("count", "value", "binary"):
            raise ValueError(f"weight must be 'count', 'value' or 'binary', not {weight!r}")
        missing = [col for col in _REQUIRED if col not in frame.columns]
        if missing:
            raise DatasetError(f"events lack required columns: {', '.join(missing)}")
        if frame.empty:
            raise DatasetError("the event log is empty: there is nothing to fit a model on")
        positives = sorted(str(t) for t in positive_types)
        events = frame[frame[c.EVENT_TYPE].isin(positives)]
        if events.empty:
            raise DatasetError(
                f"none of the {len(frame)} events is a positive interaction "
                f"(event types counted: {', '.join(positives)})"
            )
        if events[c.USER_ID].isna().any() or events[c.VIDEO_ID].isna().any():
            raise DatasetError("some positive events have no user_id or video_id")
        import pandas as pd

        stamps = pd.to_datetime(events[c.EVENT_TIMESTAMP], utc=True)
        seconds = (stamps - pd.Timestamp(0, tz="UTC")) / pd.Timedelta(seconds=1)
        if weight == "value" and c.VALUE in events.columns:
            value = events[c.VALUE].astype("float64").fillna(1.0).to_numpy()
        else:
            value = np.ones(len(events))
        work = pd.DataFrame(
            {
                "u": events[c.USER_ID].astype("int64").to_numpy(),
                "i": events[c.VIDEO_ID].astype("int64").to_numpy(),
                "w": value,
                "t": seconds.to_numpy(dtype="float64"),
            }
        )
        agg = {"count": "size", "value": "max", "binary": "max"}[weight]
        pairs = work.groupby(["u", "i"], sort=True).agg(w=("w", agg), t=("t", "max")).reset_index()
        if weight == "binary":
            pairs["w"] = 1.0
        pairs = pairs[pairs["w"] > 0]
        if pairs.empty:
            raise DatasetError("every positive event has a value <= 0: no positive pairs remain")
        user_ids = np.unique(pairs["u"].to_numpy())
        item_ids = np.unique(pairs["i"].to_numpy())
        rows = np.searchsorted(user_ids, pairs["u"].to_numpy())
        cols = np.searchsorted(item_ids, pairs["i"].to_numpy())
        indptr = np.zeros(user_ids.size + 1, dtype=np.int64)
        np.add.at(indptr, rows + 1, 1)
        matrix = sp.csr_matrix(
            (pairs["w"].to_numpy(dtype=np.float32), cols.astype(np.int32), np.cumsum(indptr)),
            shape=(user_ids.size, item_ids.size),
        )
        return cls(matrix, user_ids, item_ids, pairs["t"].to_numpy(dtype=np.float64))

    @property
    def n_users(self) -> int:
        """Number of rows (users)."""
        return int(self.user_ids.size)

    @property
    def n_items(self) -> int:
        """Number of columns (items)."""
        return int(self.item_ids.size)

    def weights(self, binary: bool = False) -> sp.csr_matrix:
        """A float32 copy of the matrix; every stored weight set to 1 when ``binary``."""
        matrix = self.matrix.astype(np.float32)
        if binary:
            matrix.data[:] = 1.0
        return matrix

    def row_weights(self, rows: np.ndarray, binary: bool = False) -> sp.csr_matrix:
        """``weights(binary)`` of the given matrix rows only (no copy of the whole matrix)."""
        matrix = self.matrix[rows].astype(np.float32)
        if binary:
            matrix.data[:] = 1.0
        return matrix

    @property
    def nnz(self) -> int:
        """Number of (user, item) pairs with a weight."""
        return int(self.matrix.nnz)

    def user_index(self, user_ids: np.ndarray) -> np.ndarray:
        """Row of each user id; -1 for users not in the matrix."""
        return lookup(self.user_ids, user_ids)

    def item_index(self, item_ids: np.ndarray) -> np.ndarray:
        """Column of each item id; -1 for items not in the matrix."""
        return lookup(self.item_ids, item_ids)

    def seen_items(self, user_ids: np.ndarray) -> list[set[int]]:
        """The item ids each user interacted with (empty for unknown users)."""
        out: list[set[int]] = []
        for row in self.user_index(user_ids):
            if row < 0:
                out.append(set())
            else:
                start, end = self.matrix.indptr[row], self.matrix.indptr[row + 1]
                out.append(set(self.item_ids[self.matrix.indices[start:end]].tolist()))
        return out

    def save(self, path: Path) -> Path:
        """Write the matrix and vocabulary into directory ``path``; return the file."""
        path.mkdir(parents=True, exist_ok=True)
        target = path / _FILE
        np.savez(
            target,
            indptr=self.matrix.indptr,
            indices=self.matrix.indices,
            data=self.matrix.data,
            shape=np.asarray(self.matrix.shape, dtype=np.int64),
            user_ids=self.user_ids,
            item_ids=self.item_ids,
            last_seen=self.last_seen,
        )
        return target

    @classmethod
    def load(cls, path: Path) -> Interactions:
        """Read what ``save`` wrote into directory ``path``."""
        target = path / _FILE
        if not target.is_file():
            raise ModelFormatError(f"no {_FILE} in {path}: not a saved interaction matrix")
        with np.load(target) as z:
            matrix = sp.csr_matrix(
                (z["data"], z["indices"], z["indptr"]), shape=tuple(int(n) for n in z["shape"])
            )
            return cls(matrix, z["user_ids"], z["item_ids"], z["last_seen"])
