"""Resumable uploads over tus 1.0 (core, creation, termination, expiration, checksum) and
their status.

Every answer of the tus routes, errors included, carries ``Tus-Resumable``.
"""

from __future__ import annotations

import base64
import inspect
from collections.abc import Callable, Coroutine
from typing import Annotated, Any

from anyio import to_thread
from fastapi import APIRouter, Path, Request, Response
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute

from core.db.models import Upload
from core.db.session import session_scope
from core.settings import Settings
from serving import tus
from serving.auth import CreatorPrincipal, CurrentPrincipal, Principal
from serving.deps import SessionDep, SettingsDep
from serving.media_queue import MediaQueue
from serving.upload_models import UploadOut
from serving.uploads import (
    check_daily_quota,
    complete,
    create_upload,
    owned_upload,
    receivable_upload,
    receive,
    terminate,
    upload_out,
)

UploadId = Annotated[
    str, Path(pattern=r"^[0-9a-f]{32}$", description="An upload id (32 hex digits).")
]


class TusRoute(APIRoute):
    """A route whose every answer, errors included, carries ``Tus-Resumable``; ``TusError``
    becomes the status it names."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def tus_handler(request: Request) -> Response:
            try:
                response = await handler(request)
            except tus.TusError as exc:
                response = JSONResponse({"detail": str(exc)}, status_code=exc.status)
                if exc.status == 412:
                    response.headers["Tus-Version"] = tus.TUS_VERSION
            except Exception as exc:
                app_handler = _app_handler(request, exc)
                if app_handler is None:
                    raise
                answer = app_handler(request, exc)
                response = await answer if inspect.isawaitable(answer) else answer
            response.headers["Tus-Resumable"] = tus.TUS_VERSION
            return response

        return tus_handler


def _app_handler(request: Request, exc: Exception) -> Callable[..., Any] | None:
    """The app's exception handler for ``exc`` (nearest class first), if any."""
    handlers = request.app.exception_handlers
    for cls in type(exc).__mro__:
        if cls in handlers:
            return handlers[cls]
    return None


router = APIRouter(prefix="/uploads", tags=["uploads"], route_class=TusRoute)


def _queue(request: Request) -> MediaQueue:
    queue: MediaQueue = request.app.state.media_queue
    return queue


def _metadata_header(upload: Upload) -> str:
    """The upload's metadata as tus ``Upload-Metadata`` pairs."""
    values: dict[str, str] = {"filename": upload.filename}
    for key, value in upload.meta.items():
        if isinstance(value, list):
            values[key] = ",".join(value)
        elif isinstance(value, bool):
            values[key] = "true" if value else "false"
        else:
            values[key] = str(value)
    return ",".join(f"{k} {base64.b64encode(v.encode()).decode()}" for k, v in values.items())


@router.options("", status_code=204)
def tus_options(settings: SettingsDep) -> Response:
    """The server's tus version, extensions and largest upload."""
    return Response(status_code=204, headers=tus.options_headers(settings.max_upload_bytes))


@router.post("", status_code=201, response_class=Response)
def create(
    request: Request, principal: CreatorPrincipal, session: SessionDep, settings: SettingsDep
) -> Response:
    """Start an upload (tus creation): ``Upload-Length`` and ``Upload-Metadata`` (base64
    ``filename``, ``title``, ``description``, ``tags``, ``genres``, ``language``,
    ``visibility``, ``premium``); answers 201 with its ``Location``."""
    headers = request.headers
    tus.check_version(headers.get("tus-resumable"))
    length = tus.parse_length(
        headers.get("upload-length"), headers.get("upload-defer-length"), settings.max_upload_bytes
    )
    metadata = tus.parse_metadata(headers.get("upload-metadata"))
    check_daily_quota(session, principal, length, settings)
    upload = create_upload(session, principal.user_id, length, metadata, settings)
    stamp = complete(session, upload) if length == 0 else None
    session.commit()
    if stamp is not None:
        _queue(request).submit(upload.id, stamp)
    return Response(
        status_code=201,
        headers={
            "Location": str(request.url_for("upload_offset", upload_id=upload.id)),
            "Upload-Expires": tus.expires_header(upload.expires_at),
            "Upload-Offset": str(upload.offset),
        },
    )


@router.head("/{upload_id}", name="upload_offset")
def head(upload_id: UploadId, principal: CreatorPrincipal, request: Request) -> Response:
    """How many bytes of the upload arrived (``Upload-Offset``) of ``Upload-Length``."""
    tus.check_version(request.headers.get("tus-resumable"))
    settings: Settings = request.app.state.settings
    with session_scope(settings.resolved_database_url) as session:
        upload = receivable_upload(session, upload_id, principal)
        headers = {
            "Upload-Offset": str(upload.offset),
            "Upload-Length": str(upload.length),
            "Upload-Metadata": _metadata_header(upload),
            "Cache-Control": "no-store",
        }
        if upload.state == "receiving":
            headers["Upload-Expires"] = tus.expires_header(upload.expires_at)
    return Response(status_code=200, headers=headers)


@router.patch("/{upload_id}", status_code=204, response_class=Response)
async def append(upload_id: UploadId, principal: CreatorPrincipal, request: Request) -> Response:
    """Append the body (``application/offset+octet-stream``) at ``Upload-Offset``, which must
    be the upload's offset; answers 204 with the new ``Upload-Offset``. With
    ``Upload-Checksum``, a body that does not match is discarded (460). The last byte hands
    the upload to processing."""
    headers = request.headers
    tus.check_version(headers.get("tus-resumable"))
    tus.check_content_type(headers.get("content-type"))
    claimed = tus.parse_integer("Upload-Offset", headers.get("upload-offset"))
    declared = headers.get("content-length")
    length = tus.parse_integer("Content-Length", declared) if declared is not None else None
    checksum = tus.parse_checksum(headers.get("upload-checksum"))
    settings: Settings = request.app.state.settings
    received = await receive(
        settings, principal, upload_id, claimed, length, request.stream(), checksum
    )
    if received.completed is not None:
        _queue(request).submit(upload_id, received.completed)
    return Response(status_code=204, headers={"Upload-Offset": str(received.offset)})


def _terminate(request: Request, principal: Principal, upload_id: str) -> Response:
    tus.check_version(request.headers.get("tus-resumable"))
    settings: Settings = request.app.state.settings
    with session_scope(settings.resolved_database_url) as session:
        terminate(session, settings, owned_upload(session, upload_id, principal))
    return Response(status_code=204)


@router.delete("/{upload_id}", status_code=204, response_class=Response)
def delete(upload_id: UploadId, principal: CreatorPrincipal, request: Request) -> Response:
    """Abandon an unfinished upload (tus termination): its bytes are deleted."""
    return _terminate(request, principal, upload_id)


@router.post("/{upload_id}", status_code=204, response_class=Response)
async def overridden(
    upload_id: UploadId, principal: CreatorPrincipal, request: Request
) -> Response:
    """A ``PATCH`` or ``DELETE`` sent as ``POST`` with ``X-HTTP-Method-Override`` (tus
    clients behind proxies that drop those methods)."""
    method = (request.headers.get("x-http-method-override") or "").strip().upper()
    if method == "PATCH":
        return await append(upload_id, principal, request)
    if method == "DELETE":
        return await to_thread.run_sync(_terminate, request, principal, upload_id)
    raise tus.TusError(405, "POST to an upload needs X-HTTP-Method-Override: PATCH or DELETE")


@router.get("/{upload_id}", response_model=UploadOut)
def status(upload_id: UploadId, principal: CurrentPrincipal, session: SessionDep) -> UploadOut:
    """The upload's progress and outcome: bytes received, state (receiving, processing,
    ready, failed), its video and, when it failed, why."""
    return upload_out(session, owned_upload(session, upload_id, principal))
