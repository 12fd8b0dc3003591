"""Playlists: create, read, edit, delete, items and their order, share links."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Response

from serving import playlists
from serving.auth import CurrentPrincipal, OptionalPrincipal
from serving.deps import EventSinkDep, FeaturePusherDep, SessionDep
from serving.params import MAX_ID, Limit, Offset, VideoId
from serving.social_models import (
    PlaylistCreate,
    PlaylistEdit,
    PlaylistItemAdd,
    PlaylistList,
    PlaylistOrder,
    PlaylistOut,
    ShareLink,
)

router = APIRouter(tags=["playlists"])

PlaylistId = Annotated[int, Path(ge=1, le=MAX_ID, description="A playlist id.")]
ShareToken = Annotated[
    str, Path(pattern=r"^[A-Za-z0-9_-]{43}$", description="A playlist's share token.")
]


@router.post("/playlists", response_model=PlaylistOut, status_code=201)
def create_playlist(
    body: PlaylistCreate, session: SessionDep, principal: CurrentPrincipal
) -> PlaylistOut:
    """A new playlist (private by default)."""
    playlist = playlists.create(session, principal.user_id, body)
    return playlists.playlist_out(session, playlist, principal.user_id)


@router.get("/me/playlists", response_model=PlaylistList)
def my_playlists(
    session: SessionDep, principal: CurrentPrincipal, limit: Limit = 20, offset: Offset = 0
) -> PlaylistList:
    """The caller's playlists, newest first."""
    return playlists.mine(session, principal.user_id, limit, offset)


@router.get("/playlists/shared/{token}", response_model=PlaylistOut)
def open_shared(
    token: ShareToken, session: SessionDep, principal: OptionalPrincipal
) -> PlaylistOut:
    """A playlist opened by its share link, even when private."""
    user_id = principal.user_id if principal is not None else None
    return playlists.playlist_out(session, playlists.shared(session, token), user_id)


@router.get("/playlists/{playlist_id}", response_model=PlaylistOut)
def get_playlist(
    playlist_id: PlaylistId, session: SessionDep, principal: OptionalPrincipal
) -> PlaylistOut:
    """A playlist: the owner's, or anyone's public or unlisted one (others' private: 404)."""
    user_id = principal.user_id if principal is not None else None
    playlist = playlists.readable(session, user_id, playlist_id)
    return playlists.playlist_out(session, playlist, user_id)


@router.patch("/playlists/{playlist_id}", response_model=PlaylistOut)
def edit_playlist(
    playlist_id: PlaylistId, body: PlaylistEdit, session: SessionDep, principal: CurrentPrincipal
) -> PlaylistOut:
    """Change a playlist's title, description or visibility."""
    playlist = playlists.edit(session, principal.user_id, playlist_id, body)
    return playlists.playlist_out(session, playlist, principal.user_id)


@router.delete("/playlists/{playlist_id}", status_code=204)
def delete_playlist(
    playlist_id: PlaylistId, session: SessionDep, principal: CurrentPrincipal
) -> Response:
    """Delete a playlist."""
    playlists.remove(session, principal.user_id, playlist_id)
    return Response(status_code=204)


@router.post("/playlists/{playlist_id}/items", response_model=PlaylistOut, status_code=201)
def add_item(
    playlist_id: PlaylistId,
    body: PlaylistItemAdd,
    session: SessionDep,
    sink: EventSinkDep,
    pusher: FeaturePusherDep,
    principal: CurrentPrincipal,
) -> PlaylistOut:
    """Add a video (at ``position``, else at the end); logs a ``like`` of it."""
    playlist = playlists.add_item(
        session, sink, principal.user_id, playlist_id, body.video_id, body.position
    )
    pusher.submit({principal.user_id})
    return playlists.playlist_out(session, playlist, principal.user_id)


@router.delete("/playlists/{playlist_id}/items/{video_id}", response_model=PlaylistOut)
def remove_item(
    playlist_id: PlaylistId, video_id: VideoId, session: SessionDep, principal: CurrentPrincipal
) -> PlaylistOut:
    """Take a video out of a playlist."""
    playlists.remove_item(session, principal.user_id, playlist_id, video_id)
    playlist = playlists.owned(session, principal.user_id, playlist_id)
    return playlists.playlist_out(session, playlist, principal.user_id)


@router.put("/playlists/{playlist_id}/order", response_model=PlaylistOut)
def reorder(
    playlist_id: PlaylistId, body: PlaylistOrder, session: SessionDep, principal: CurrentPrincipal
) -> PlaylistOut:
    """Reorder: ``video_ids`` lists every video of the playlist once, in the new order."""
    playlists.reorder(session, principal.user_id, playlist_id, body.video_ids)
    playlist = playlists.owned(session, principal.user_id, playlist_id)
    return playlists.playlist_out(session, playlist, principal.user_id)


@router.post("/playlists/{playlist_id}/share", response_model=ShareLink)
def share(playlist_id: PlaylistId, session: SessionDep, principal: CurrentPrincipal) -> ShareLink:
    """Make (or return) the playlist's share link."""
    return playlists.share(session, principal.user_id, playlist_id)


@router.delete("/playlists/{playlist_id}/share", status_code=204)
def unshare(playlist_id: PlaylistId, session: SessionDep, principal: CurrentPrincipal) -> Response:
    """Revoke the share link."""
    playlists.unshare(session, principal.user_id, playlist_id)
    return Response(status_code=204)
