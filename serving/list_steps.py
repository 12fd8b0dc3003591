"""The steps every recommendation list goes through after its candidates are chosen: drop
what the viewer may not get, apply the request's filter and promotions, top up from trending,
and turn candidates into response items with their explanations and metadata."""

from __future__ import annotations

import time
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from serving.catalogue_snapshot import Catalogue
from serving.request_options import RequestOptions
from serving.schemas import RecommendedItem


@dataclass
class Candidate:
    """One item on its way into a response."""

    video_id: int
    score: float
    source: str
    reason: str
    anchor: int | None = None
    promoted: bool = False


@dataclass
class Viewer:
    """What one request knows about its viewer."""

    user_id: int | None
    history: list[int] = field(default_factory=list)
    completed: set[int] = field(default_factory=set)
    consumed: set[int] = field(default_factory=set)
    followed: set[int] = field(default_factory=set)


def keep_allowed(
    candidates: Iterable[Candidate],
    catalogue: Catalogue,
    viewer: Viewer,
    options: RequestOptions,
    exclude: Collection[int] = (),
) -> list[Candidate]:
    """Candidates that are listed, not consumed, not excluded and pass the filter."""
    pool = [
        c
        for c in candidates
        if c.video_id not in exclude
        and c.video_id not in viewer.consumed
        and c.video_id not in catalogue.unavailable
    ]
    if not pool:
        return pool
    ids = np.fromiter((c.video_id for c in pool), dtype=np.int64, count=len(pool))
    rows = catalogue.table.rows(ids)
    keep = rows >= 0
    if options.filter is not None:
        keep &= options.filter.mask(
            catalogue.table, rows, options.params, viewer.completed, time.time()
        )
    return [c for c, k in zip(pool, keep, strict=True) if k]


def promote(
    ranked: list[Candidate],
    extra: Sequence[Candidate],
    catalogue: Catalogue,
    viewer: Viewer,
    options: RequestOptions,
) -> list[Candidate]:
    """The top k with ``promote_share`` of the slots given to items matching the
    promotion (from the ranked list first, then ``extra``), spread evenly and labelled."""
    k = options.k
    slots = round(k * options.promote_share) if options.promote is not None else 0
    if slots == 0 or options.promote is None:
        return ranked[:k]
    pool = ranked + [c for c in extra if c.video_id not in {r.video_id for r in ranked}]
    ids = np.fromiter((c.video_id for c in pool), dtype=np.int64, count=len(pool))
    rows = catalogue.table.rows(ids)
    match = options.promote.mask(
        catalogue.table, rows, options.params, viewer.completed, time.time()
    )
    promoted = [c for c, m in zip(pool, match, strict=True) if m][:slots]
    chosen = {c.video_id for c in promoted}
    organic = [c for c in ranked if c.video_id not in chosen][: k - len(promoted)]
    out = list(organic)
    for i, item in enumerate(promoted):
        item.promoted = True
        item.reason = f"promoted: {item.reason}"
        spot = min(len(out), (i + 1) * k // (len(promoted) + 1))
        out.insert(spot, item)
    return out[:k]


def trending_candidates(
    catalogue: Catalogue,
    viewer: Viewer | None = None,
    options: RequestOptions | None = None,
) -> list[Candidate]:
    """The catalogue's trending order as candidates: all of it under a filter, else just
    enough to fill the rows after the viewer's consumed videos are dropped."""
    order = catalogue.trending
    if options is not None and options.filter is None:
        order = order[: 4 * options.k + (len(viewer.consumed) if viewer else 0)]
    n = len(catalogue.trending)
    return [
        Candidate(int(v), float(n - i), "trending", "trending now")
        for i, v in enumerate(order.tolist())
    ]


def items_of(
    candidates: Sequence[Candidate], catalogue: Catalogue, fields: Sequence[str]
) -> list[RecommendedItem]:
    """Response items, positions from 1, reasons naming anchors by title, metadata as asked."""
    ids = np.fromiter((c.video_id for c in candidates), dtype=np.int64, count=len(candidates))
    rows = catalogue.table.rows(ids)
    table = catalogue.table
    items = []
    for position, (c, row) in enumerate(zip(candidates, rows, strict=True), start=1):
        title = str(table.titles[row]) if row >= 0 else ""
        anchor_title = None
        if c.anchor is not None:
            anchor_row = int(table.rows(np.array([c.anchor], dtype=np.int64))[0])
            anchor_title = str(table.titles[anchor_row]) if anchor_row >= 0 else None
        reason = f"because you watched {anchor_title}" if anchor_title else c.reason
        items.append(
            RecommendedItem(
                video_id=c.video_id,
                position=position,
                title=title,
                score=c.score,
                source=c.source,
                reason=reason,
                anchor_video_id=c.anchor,
                promoted=c.promoted,
                metadata=metadata(table, int(row), fields) if fields else None,
            )
        )
    return items


def fill(
    ranked: list[Candidate],
    extra: list[Candidate],
    options: RequestOptions,
    catalogue: Catalogue,
    viewer: Viewer,
) -> list[Candidate]:
    """The top k after promotions; a filter that left fewer than k is topped up from
    ``extra`` (trending items that pass it)."""
    chosen = promote(ranked, extra, catalogue, viewer, options)
    if len(chosen) < options.k and options.filter is not None:
        have = {c.video_id for c in chosen}
        chosen += [c for c in extra if c.video_id not in have][: options.k - len(chosen)]
    return chosen


def title_of(catalogue: Catalogue, video_id: int) -> str:
    """A video's title, or ``video N`` when it is not listed."""
    row = int(catalogue.table.rows(np.array([video_id], dtype=np.int64))[0])
    return str(catalogue.table.titles[row]) if row >= 0 else f"video {video_id}"


def metadata(table: Any, row: int, fields: Sequence[str]) -> dict[str, Any]:
    """The asked metadata fields of one table row (None where unknown)."""
    if row < 0:
        return dict.fromkeys(fields)
    out: dict[str, Any] = {}
    for name in fields:
        if name == "title":
            out[name] = str(table.titles[row])
        elif name == "genres":
            out[name] = sorted(table.genres[row])
        elif name == "language":
            out[name] = table.language[row]
        elif name == "channel_id":
            channel = int(table.channel_id[row])
            out[name] = channel if channel >= 0 else None
        elif name == "published_at":
            value = float(table.published_at[row])
            out[name] = None if np.isnan(value) else iso(value)
        else:
            value = float(getattr(table, name)[row])
            out[name] = (
                None if np.isnan(value) else (int(value) if name == "release_year" else value)
            )
    return out


def iso(epoch: float) -> str:
    """Epoch seconds as an ISO 8601 UTC time."""
    from datetime import UTC, datetime

    return datetime.fromtimestamp(epoch, UTC).isoformat()
