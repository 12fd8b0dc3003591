"""The error answers every route may give, documented once for the OpenAPI document."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel


class ErrorOut(BaseModel):
    """Why a request was refused."""

    detail: str


class UnprocessableOut(BaseModel):
    """A request that is well-formed but invalid: a message, or the validator's list of
    problems (one per field)."""

    detail: str | list[dict[str, Any]]


def _error(description: str) -> dict[str, Any]:
    return {"model": ErrorOut, "description": description}


#: Statuses the app's exception handlers and middleware answer on any route.
COMMON_ERRORS: dict[int | str, dict[str, Any]] = {
    400: _error("A request the service cannot act on; the detail says why."),
    401: _error("Credentials are missing, wrong or expired."),
    403: _error("The caller may not do this."),
    404: _error("No such thing (or not visible to the caller)."),
    409: _error("The request clashes with the current state."),
    413: _error("The request body is larger than the limit."),
    422: {"model": UnprocessableOut, "description": "Invalid parameters or body."},
    429: _error("Too many requests; retry after the Retry-After header's seconds."),
    503: _error("The database or a model is unavailable; retry shortly."),
}
