"""Errors raised by the models package; all are user-facing ``ReelRankError`` subclasses."""

from __future__ import annotations

from core.errors import ReelRankError


class NotFittedError(ReelRankError):
    """A model was asked to recommend, save or index before ``fit``."""


class VocabularyMismatchError(ReelRankError):
    """An item index and a model disagree about which item ids exist, or in which order."""


class ModelFormatError(ReelRankError):
    """A saved model directory is missing files or was written by another model kind."""
