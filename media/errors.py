"""Errors of the media pipeline."""

from core.errors import ReelRankError


class MediaError(ReelRankError):
    """A media file is missing, not a video, undecodable, or a package is malformed."""
