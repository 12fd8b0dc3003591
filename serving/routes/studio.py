"""The creator's studio: their videos in every state, edits, deletion and processing status.

Owner or admin only; anyone else gets 404 for a video they could not see anyway (private or
not ready) and 403 for one they can see; viewers get 403.
"""

from __future__ import annotations

from fastapi import APIRouter, Response

from serving.auth import CreatorPrincipal
from serving.deps import SessionDep, SettingsDep
from serving.params import Limit, Offset, VideoId
from serving.processing_status import processing_of
from serving.studio import delete_video, edit_video, my_videos, owned_video, studio_video
from serving.upload_models import ProcessingOut, StudioPage, StudioVideo, VideoFields

router = APIRouter(tags=["studio"])


@router.get("/me/videos", response_model=StudioPage)
def list_my_videos(
    principal: CreatorPrincipal, session: SessionDep, limit: Limit = 20, offset: Offset = 0
) -> StudioPage:
    """The caller's videos in every state (uploaded, processing, ready, failed), newest first."""
    return my_videos(session, principal, limit, offset)


@router.patch("/videos/{video_id}", response_model=StudioVideo)
def edit(
    video_id: VideoId, edit: VideoFields, principal: CreatorPrincipal, session: SessionDep
) -> StudioVideo:
    """Change a video's title, description, tags, genres, language, visibility or premium."""
    video = edit_video(session, principal, video_id, edit)
    session.commit()
    return studio_video(video)


@router.delete("/videos/{video_id}", status_code=204, response_class=Response)
def delete(
    video_id: VideoId, principal: CreatorPrincipal, session: SessionDep, settings: SettingsDep
) -> Response:
    """Delete a video with its package, originals and work files (409 while it is being
    processed)."""
    delete_video(session, settings, principal, video_id)
    return Response(status_code=204)


@router.get("/videos/{video_id}/processing", response_model=ProcessingOut)
def processing(
    video_id: VideoId, principal: CreatorPrincipal, session: SessionDep, settings: SettingsDep
) -> ProcessingOut:
    """Where the video is on its way to ready: upload, probe, transcode (per rung), package,
    ready, with the job's progress and any failure reason."""
    return processing_of(session, settings, owned_video(session, principal, video_id))
