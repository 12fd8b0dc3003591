"""Read the MovieTweetings dataset (ratings.dat, movies.dat, users.dat) and import it."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from core.errors import DatasetError
from training.datasets.parsing import Field, read_table, split_genres, split_title_year
from training.datasets.ratings_import import ImportReport, RatingsDataset, import_ratings_dataset

SOURCE = "movietweetings"
USERNAME_PREFIX = "mt-"
FORMAT = "movietweetings"
#: MovieTweetings ratings run from 0 to 10.
RATING_RANGE = (0.0, 10.0)


def read_movietweetings(path: Path) -> RatingsDataset:
    """Parse the MovieTweetings folder ``path`` (``ratings.dat`` required) without the DB."""
    if not path.exists():
        raise DatasetError(f"dataset folder {path} does not exist")
    if not path.is_dir():
        raise DatasetError(f"{path} is not a folder; give the folder that holds the dataset files")
    ratings_file = path / "ratings.dat"
    if not ratings_file.is_file():
        raise DatasetError(
            f"unknown format: {path} holds no MovieTweetings ratings.dat "
            "(user_id::movie_id::rating::rating_timestamp)"
        )
    low, high = RATING_RANGE
    raw = read_table(
        ratings_file,
        [
            Field("user", "int", low=0),
            Field("movie", "int", low=0),
            Field("rating", "float", low=low, high=high),
            Field("timestamp", "int"),
        ],
        sep="::",
        header=False,
    )
    ratings = pd.DataFrame(
        {
            "user": raw["user"].astype(str),
            "movie": raw["movie"].astype(str),
            "rating": raw["rating"].astype("float64"),
            "timestamp": raw["timestamp"].astype("int64"),
        }
    )
    return RatingsDataset(
        source=SOURCE,
        format=FORMAT,
        username_prefix=USERNAME_PREFIX,
        users=_users(path / "users.dat", ratings["user"]),
        movies=_movies(path / "movies.dat"),
        ratings=ratings,
    )


def import_movietweetings(path: Path, database_url: str, events_path: Path) -> ImportReport:
    """Import the MovieTweetings dataset in ``path`` into the catalogue; rewrite the event log.

    Like ``import_movielens``: users ``mt-<id>``, ``source="movietweetings"``, ratings 0-10.
    """
    return import_ratings_dataset(read_movietweetings(path), database_url, events_path)


def _movies(file: Path) -> pd.DataFrame:
    """Movies from ``movies.dat``; ids are IMDb numbers without their leading zeros."""
    columns = ["external_id", "title", "release_year", "genres", "tags"]
    if not file.is_file():
        return pd.DataFrame({col: pd.Series([], dtype=object) for col in columns})
    raw = read_table(
        file,
        [
            Field("movie", "int", low=0),
            Field("title", "text"),
            Field("genres", "text", required=False),
        ],
        sep="::",
        header=False,
    )
    split = [split_title_year(t) for t in raw["title"]]
    movies = pd.DataFrame(
        {
            "external_id": raw["movie"].astype(str).to_numpy(),
            "title": [t for t, _ in split],
            "release_year": pd.array([y for _, y in split], dtype="Int64"),
            "genres": [split_genres(g) for g in raw["genres"]],
        }
    )
    movies["tags"] = [[] for _ in range(len(movies))]
    return movies.drop_duplicates("external_id", keep="first").reset_index(drop=True)[columns]


def _users(file: Path, rating_users: pd.Series) -> pd.DataFrame:
    """User ids from ``users.dat`` (``user_id::twitter_id``) and the ratings."""
    ids = rating_users
    if file.is_file():
        raw = read_table(
            file,
            [Field("user", "int", low=0), Field("twitter_id", "text", required=False)],
            sep="::",
            header=False,
        )
        ids = pd.concat([raw["user"].astype(str), rating_users])
    return pd.DataFrame({"external_id": ids.drop_duplicates().to_numpy()})
