"""Response bodies of the search routes."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field


class SearchItem(BaseModel):
    """One result and where it came from."""

    id: int
    title: str
    channel: str
    duration_s: float | None
    genres: list[str]
    premium: bool
    score: float = Field(description="Fused and boosted score (higher is better).")
    lexical_rank: int | None = Field(description="Rank in the lexical list (1 = best).")
    semantic_rank: int | None = Field(description="Rank in the semantic list (1 = best).")


class SearchPage(BaseModel):
    """A page of results; ``mode`` says whether the semantic half took part."""

    items: list[SearchItem]
    total: int
    limit: int
    offset: int
    mode: Literal["hybrid", "lexical"]


class Suggestions(BaseModel):
    """Completions of what is being typed."""

    suggestions: list[str]
