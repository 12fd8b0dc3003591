"""User-facing errors: the CLI prints them as ``error: ...`` and the API maps them to 4xx."""


class ReelRankError(Exception):
    """A problem the user can fix (bad input, missing data); never a bug."""


class NotFoundError(ReelRankError):
    """A requested thing does not exist."""


class DatasetError(ReelRankError):
    """A dataset is missing, malformed or in an unknown format."""
