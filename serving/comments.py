"""Threaded comments: one level of replies under each top comment (a reply to a reply joins
its thread), authors' edits and soft deletes, admins' moderation. Comments on a video the
viewer cannot see do not exist for them (404)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session, aliased

from core.db.models import Comment, User, utcnow
from core.errors import ConflictError, NotFoundError, PermissionDeniedError, ReelRankError
from serving.auth import Principal
from serving.cursors import SortKey, after, decode_cursor, encode_cursor, order_by
from serving.social_models import CommentOut, CommentPage
from serving.visibility import viewable_video

#: Replies shown under each top comment of a page.
FIRST_REPLIES = 3
DELETED = "[deleted]"
REMOVED = "[removed by a moderator]"

_TOP_KEYS = [SortKey(Comment.created_at, True, datetime), SortKey(Comment.id, True, int)]
_REPLY_KEYS = [SortKey(Comment.created_at, False, datetime), SortKey(Comment.id, False, int)]


def _usernames(session: Session, comments: Sequence[Comment]) -> dict[int, str]:
    ids = {c.user_id for c in comments}
    if not ids:
        return {}
    return dict(session.execute(select(User.id, User.username).where(User.id.in_(ids))).all())


def comment_out(comment: Comment, names: dict[int, str]) -> CommentOut:
    """``comment`` as readers see it: a deleted or removed one without body or author."""
    hidden = comment.moderated or comment.deleted_at is not None
    body = REMOVED if comment.moderated else DELETED if hidden else comment.body
    return CommentOut(
        id=comment.id,
        video_id=comment.video_id,
        parent_id=comment.parent_id,
        user_id=None if hidden else comment.user_id,
        username=None if hidden else names.get(comment.user_id),
        body=body,
        created_at=comment.created_at,
        edited_at=comment.edited_at,
        deleted=comment.deleted_at is not None,
        moderated=comment.moderated,
    )


def _page(
    session: Session,
    query: Select[Comment],
    keys: list[SortKey],
    sort: str,
    limit: int,
    cursor: str | None,
) -> tuple[list[Comment], str | None]:
    if cursor is not None:
        query = query.where(after(keys, decode_cursor(cursor, sort, keys)))
    rows = list(session.scalars(query.order_by(*order_by(keys)).limit(limit + 1)))
    more = len(rows) > limit
    rows = rows[:limit]
    next_cursor = encode_cursor(sort, [rows[-1].created_at, rows[-1].id]) if more else None
    return rows, next_cursor


def list_comments(
    session: Session,
    video_id: int,
    limit: int,
    cursor: str | None = None,
    parent_id: int | None = None,
) -> CommentPage:
    """Top comments newest first, each with its reply count and first replies; or, with
    ``parent_id``, that thread's replies oldest first."""
    viewable_video(session, video_id)
    if parent_id is not None:
        parent = session.get(Comment, parent_id)
        if parent is None or parent.video_id != video_id or parent.parent_id is not None:
            raise NotFoundError(f"comment {parent_id} is not a top comment of video {video_id}")
        query = select(Comment).where(Comment.parent_id == parent_id)
        replies, next_cursor = _page(session, query, _REPLY_KEYS, "replies", limit, cursor)
        names = _usernames(session, replies)
        return CommentPage(items=[comment_out(r, names) for r in replies], next_cursor=next_cursor)
    query = select(Comment).where(Comment.video_id == video_id, Comment.parent_id.is_(None))
    tops, next_cursor = _page(session, query, _TOP_KEYS, "comments", limit, cursor)
    ids = [c.id for c in tops]
    counts: dict[int, int] = {}
    first: list[Comment] = []
    if ids:
        counts = {
            int(parent or 0): int(n)
            for parent, n in session.execute(
                select(Comment.parent_id, func.count())
                .where(Comment.parent_id.in_(ids))
                .group_by(Comment.parent_id)
            ).all()
        }
        ranked = (
            select(
                Comment,
                func.row_number()
                .over(partition_by=Comment.parent_id, order_by=(Comment.created_at, Comment.id))
                .label("rank"),
            )
            .where(Comment.parent_id.in_(ids))
            .subquery()
        )
        reply = aliased(Comment, ranked)
        first = list(
            session.scalars(
                select(reply)
                .where(ranked.c.rank <= FIRST_REPLIES)
                .order_by(ranked.c.created_at, ranked.c.id)
            )
        )
    names = _usernames(session, [*tops, *first])
    items = []
    for top in tops:
        out = comment_out(top, names)
        out.reply_count = counts.get(top.id, 0)
        out.replies = [comment_out(r, names) for r in first if r.parent_id == top.id]
        items.append(out)
    return CommentPage(items=items, next_cursor=next_cursor)


def post_comment(
    session: Session, user_id: int, video_id: int, body: str, parent_id: int | None
) -> CommentOut:
    """A new comment, or a reply (a reply to a reply joins the top comment's thread)."""
    viewable_video(session, video_id)
    if parent_id is not None:
        parent = session.get(Comment, parent_id)
        if parent is None or parent.video_id != video_id:
            raise ReelRankError(f"parent_id {parent_id} is not a comment on video {video_id}")
        parent_id = parent.parent_id or parent.id
    comment = Comment(video_id=video_id, user_id=user_id, parent_id=parent_id, body=body)
    session.add(comment)
    session.commit()
    return comment_out(comment, _usernames(session, [comment]))


def _visible_comment(session: Session, comment_id: int) -> Comment:
    comment = session.get(Comment, comment_id)
    if comment is None:
        raise NotFoundError(f"comment {comment_id} not found")
    try:
        viewable_video(session, comment.video_id)
    except NotFoundError:
        raise NotFoundError(f"comment {comment_id} not found") from None
    return comment


def edit_comment(session: Session, principal: Principal, comment_id: int, body: str) -> CommentOut:
    """The author's new text; stamps ``edited_at``."""
    comment = _visible_comment(session, comment_id)
    if comment.user_id != principal.user_id:
        raise PermissionDeniedError("only the comment's author may edit it")
    if comment.deleted_at is not None:
        raise ConflictError(f"comment {comment_id} is deleted")
    comment.body = body
    comment.edited_at = utcnow()
    session.commit()
    return comment_out(comment, _usernames(session, [comment]))


def delete_comment(session: Session, principal: Principal, comment_id: int) -> None:
    """The author's soft delete, or an admin's moderation; the thread stays."""
    comment = _visible_comment(session, comment_id)
    if comment.user_id != principal.user_id:
        if not principal.is_admin:
            raise PermissionDeniedError("only the comment's author or a moderator may delete it")
        comment.moderated = True
    if comment.deleted_at is None:
        comment.deleted_at = utcnow()
    session.commit()
