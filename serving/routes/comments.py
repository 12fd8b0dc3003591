"""Comments: threads under a video, posting, editing and deleting."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Response

from serving import comments
from serving.auth import CurrentPrincipal
from serving.cursors import Cursor
from serving.deps import SessionDep
from serving.params import MAX_ID, Limit, VideoId
from serving.social_models import CommentCreate, CommentEdit, CommentOut, CommentPage

router = APIRouter(tags=["comments"])

CommentId = Annotated[int, Path(ge=1, le=MAX_ID, description="A comment id.")]


@router.get("/videos/{video_id}/comments", response_model=CommentPage)
def list_comments(
    video_id: VideoId,
    session: SessionDep,
    limit: Limit = 20,
    cursor: Cursor = None,
    parent_id: Annotated[
        int | None, Query(ge=1, le=MAX_ID, description="Page this top comment's replies.")
    ] = None,
) -> CommentPage:
    """Top comments newest first (with reply counts and first replies), or one thread."""
    return comments.list_comments(session, video_id, limit, cursor, parent_id)


@router.post("/videos/{video_id}/comments", response_model=CommentOut, status_code=201)
def post_comment(
    video_id: VideoId, body: CommentCreate, session: SessionDep, principal: CurrentPrincipal
) -> CommentOut:
    """Comment on a video, or reply with ``parent_id``."""
    return comments.post_comment(session, principal.user_id, video_id, body.body, body.parent_id)


@router.patch("/comments/{comment_id}", response_model=CommentOut)
def edit_comment(
    comment_id: CommentId, body: CommentEdit, session: SessionDep, principal: CurrentPrincipal
) -> CommentOut:
    """Edit your comment."""
    return comments.edit_comment(session, principal, comment_id, body.body)


@router.delete("/comments/{comment_id}", status_code=204)
def delete_comment(
    comment_id: CommentId, session: SessionDep, principal: CurrentPrincipal
) -> Response:
    """Delete your comment, or (an admin) remove anyone's."""
    comments.delete_comment(session, principal, comment_id)
    return Response(status_code=204)
