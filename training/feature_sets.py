"""Feast repos for training and offline evaluation, built from exactly the events a model saw.

``offline_features(history)`` builds the feature tables of ``history`` in a scratch repo and
reads them point-in-time at the end of ``history``: the ranker's training set, with no event
the candidate sources did not see (whatever the split protocol). ``online_features(history)``
also materializes the repo and returns the online client that serving uses, so offline
evaluation ranks with features from an online store, as the API does.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from features import schema as s
from features.build import build_tables
from features.historical import HistoricalFeatures
from features.store import apply, materialize, write_store_config

if TYPE_CHECKING:
    import pandas as pd

    from features.online import OnlineFeatures


def offline_features(
    history: pd.DataFrame,
    videos: pd.DataFrame,
    repo_dir: Path,
    embedding_file: Path | None = None,
) -> HistoricalFeatures:
    """Point-in-time features of ``history`` (events), as known at its newest event."""
    tables = build_tables(history, videos, repo_dir / s.TABLES_DIR, embedding_file=embedding_file)
    write_store_config(repo_dir, "sqlite", None)
    apply(repo_dir)
    return HistoricalFeatures(repo_dir, tables.as_of)


def online_features(
    history: pd.DataFrame,
    videos: pd.DataFrame,
    repo_dir: Path,
    embedding_file: Path | None = None,
) -> OnlineFeatures:
    """The online client of a SQLite store materialized from ``history``'s tables."""
    from features.online import OnlineFeatures

    offline = offline_features(history, videos, repo_dir, embedding_file)
    materialize(repo_dir, end=offline.at)
    return OnlineFeatures(repo_dir)


def feature_factory(
    videos: pd.DataFrame, workdir: Path, embedding_file: Path | None = None
) -> Callable[[pd.DataFrame], HistoricalFeatures]:
    """``history -> offline_features(history)``, each call in a new folder under ``workdir``."""
    calls = itertools.count()

    def features_for(history: pd.DataFrame) -> HistoricalFeatures:
        return offline_features(history, videos, workdir / f"repo-{next(calls)}", embedding_file)

    return features_for
