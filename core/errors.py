"""User-facing errors: the CLI prints them as ``error: ...`` and the API maps them to 4xx."""


class ReelRankError(Exception):
    """A problem the user can fix (bad input, missing data); never a bug."""


class NotFoundError(ReelRankError):
    """A requested thing does not exist."""


class DatasetError(ReelRankError):
    """A dataset is missing, malformed or in an unknown format."""


class AuthenticationError(ReelRankError):
    """Credentials are missing, wrong or expired (HTTP 401)."""


class PermissionDeniedError(ReelRankError):
    """The caller is known but may not do this (HTTP 403)."""


class ConflictError(ReelRankError):
    """The request clashes with what exists (HTTP 409)."""


class TooManyRequestsError(ReelRankError):
    """The caller must wait ``retry_after_s`` seconds before trying again (HTTP 429)."""

    def __init__(self, message: str, retry_after_s: int) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s
