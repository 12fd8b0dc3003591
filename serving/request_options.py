"""Options every recommendation request may carry: size, chosen genres, context, a filter
expression with parameters, promotions and the metadata fields to return; all bounded."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from typing import Annotated, Any, Literal

from fastapi import Query
from pydantic import BaseModel, Field, StringConstraints

from core.errors import ReelRankError
from serving.filter_expr import FilterExpr, parse
from serving.params import MAX_ID

#: Most genres a request may name, and the longest genre name.
MAX_GENRES = 20
MAX_GENRE_LENGTH = 64
#: Longest filter or promotion expression, and most bound parameters.
MAX_EXPRESSION = 512
MAX_PARAMS = 20
#: Most video ids ``POST /rerank`` orders.
MAX_RERANK = 500
#: Metadata fields an item may carry on request.
METADATA_FIELDS = (
    "title",
    "genres",
    "language",
    "duration_s",
    "release_year",
    "published_at",
    "channel_id",
)

Device = Literal["tv", "mobile", "tablet", "desktop", "web", "other"]
Genre = Annotated[str, StringConstraints(min_length=1, max_length=MAX_GENRE_LENGTH)]
Param = Annotated[str, StringConstraints(min_length=3, max_length=256, pattern=r"^\w{1,32}:")]


class BadOptionError(ReelRankError):
    """A filter, promotion or parameter that cannot be used (answered with 422)."""


class Context(BaseModel):
    """Where and when the viewer asks (recorded with the exposure, handed to the pipeline)."""

    device: Device | None = None
    country: str | None = Field(None, pattern=r"^[A-Z]{2}$", description="ISO 3166 code.")
    hour: int | None = Field(None, ge=0, le=23, description="The viewer's local hour.")


@dataclass(frozen=True)
class RequestOptions:
    """A parsed recommendation request."""

    k: int = 10
    genres: tuple[str, ...] = ()
    context: Context = field(default_factory=Context)
    filter: FilterExpr | None = None
    promote: FilterExpr | None = None
    promote_share: float = 0.0
    params: dict[str, Any] = field(default_factory=dict)
    fields: tuple[str, ...] = ()

    @property
    def narrows(self) -> bool:
        """Whether candidates beyond the top k may be needed (a filter or promotions)."""
        return self.filter is not None or self.promote is not None


@lru_cache(maxsize=256)
def _parsed(text: str) -> FilterExpr:
    return parse(text)


def _value(raw: str) -> Any:
    """A bound parameter: a number, a string, or a comma-separated list of either."""
    if "," in raw:
        return [_value(part) for part in raw.split(",") if part != ""]
    try:
        return float(raw)
    except ValueError:
        return raw


def bound_params(raw: list[str] | None) -> dict[str, Any]:
    """``name:value`` pairs as a dict; a repeated name is refused."""
    params: dict[str, Any] = {}
    for item in raw or []:
        name, _, value = item.partition(":")
        if name in params:
            raise BadOptionError(f"parameter {name!r} is given twice")
        params[name] = _value(value)
    return params


async def request_options(
    k: Annotated[int, Query(ge=1, le=100, description="How many videos (per row).")] = 10,
    genre: Annotated[
        list[Genre] | None,
        Query(max_length=MAX_GENRES, description="Genres a new user chose (cold start)."),
    ] = None,
    device: Annotated[Device | None, Query(description="The viewer's device type.")] = None,
    country: Annotated[
        str | None, Query(pattern=r"^[A-Z]{2}$", description="ISO 3166 country code.")
    ] = None,
    hour: Annotated[int | None, Query(ge=0, le=23, description="Viewer's local hour.")] = None,
    filter: Annotated[
        str | None,
        Query(
            max_length=MAX_EXPRESSION,
            description="Filter expression, e.g. `genre in $g and not completed`.",
        ),
    ] = None,
    param: Annotated[
        list[Param] | None,
        Query(max_length=MAX_PARAMS, description="Expression parameters as `name:value`."),
    ] = None,
    promote: Annotated[
        str | None,
        Query(max_length=MAX_EXPRESSION, description="Items to promote, as an expression."),
    ] = None,
    promote_share: Annotated[
        float, Query(ge=0.0, le=0.5, description="Share of slots reserved for promotions.")
    ] = 0.2,
    fields: Annotated[
        list[Literal[METADATA_FIELDS]] | None,  # type: ignore[valid-type]
        Query(max_length=len(METADATA_FIELDS), description="Metadata returned per item."),
    ] = None,
) -> RequestOptions:
    """The request's options, with expressions parsed and parameters bound."""
    params = bound_params(param)
    parsed_filter = _parsed(filter) if filter else None
    parsed_promote = _parsed(promote) if promote else None
    for expression in (parsed_filter, parsed_promote):
        if expression is not None:
            expression.bind(params)  # a missing or mistyped parameter: 422 now
    return RequestOptions(
        k=k,
        genres=tuple(genre or ()),
        context=Context(device=device, country=country, hour=hour),
        filter=parsed_filter,
        promote=parsed_promote,
        promote_share=promote_share if parsed_promote is not None else 0.0,
        params=params,
        fields=tuple(dict.fromkeys(fields or ())),
    )


class RerankRequest(BaseModel):
    """A caller's own list of videos to order for a user."""

    user_id: int = Field(ge=0, le=MAX_ID)
    video_ids: list[Annotated[int, Field(ge=1, le=MAX_ID)]] = Field(
        min_length=1, max_length=MAX_RERANK
    )
    context: Context = Field(default_factory=Context)
    fields: list[Literal[METADATA_FIELDS]] = Field(  # type: ignore[valid-type]
        default_factory=list, max_length=len(METADATA_FIELDS)
    )
