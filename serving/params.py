"""Bounded path and query parameters shared by the routes (every value fits the database)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Path, Query

#: Largest id the catalogue's integer columns hold on every engine (PostgreSQL ``integer``).
MAX_ID = 2**31 - 1
#: Deepest page offset accepted; deeper paging is refused with 422, never sent to the driver.
MAX_OFFSET = 1_000_000
#: Largest page size.
MAX_LIMIT = 100

VideoId = Annotated[int, Path(ge=1, le=MAX_ID, description="A video id.")]
UserId = Annotated[int, Path(ge=0, le=MAX_ID, description="A user id.")]
Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Page size.")]
Offset = Annotated[int, Query(ge=0, le=MAX_OFFSET, description="Items skipped.")]


def storable_text(value: str) -> str:
    """``value`` unless it holds a NUL character, which PostgreSQL text cannot store (the
    same rule on every engine)."""
    if "\x00" in value:
        raise ValueError("must not contain NUL (\\x00) characters")
    return value
