"""Read the MovieLens formats (latest / 25m CSV, 100k, 1m / 10m) and import them."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path

import pandas as pd

from core.errors import DatasetError
from training.datasets.parsing import Field, read_table, split_genres, split_title_year
from training.datasets.ratings_import import ImportReport, RatingsDataset, import_ratings_dataset

SOURCE = "movielens"
USERNAME_PREFIX = "ml-"

#: Genre flag columns of ml-100k's ``u.item``, in file order ("unknown" means no genre).
ML100K_GENRES: tuple[str, ...] = (
    "unknown",
    "Action",
    "Adventure",
    "Animation",
    "Children's",
    "Comedy",
    "Crime",
    "Documentary",
    "Drama",
    "Fantasy",
    "Film-Noir",
    "Horror",
    "Musical",
    "Mystery",
    "Romance",
    "Sci-Fi",
    "Thriller",
    "War",
    "Western",
)

_TEXT = Field("text", "text", required=False)
#: Column names used internally, and those of the CSV headers.
_NAMES = ("user", "movie", "rating", "timestamp")
_CSV_NAMES = ("userId", "movieId", "rating", "timestamp")
_FROM_CSV = dict(zip(_CSV_NAMES, _NAMES, strict=True))


class MovieLensFormat(StrEnum):
    """The MovieLens file layouts this importer reads."""

    CSV = "csv"  # ml-latest, ml-latest-small, ml-20m, ml-25m, ml-32m
    ML100K = "100k"  # u.data, u.item, u.user
    ML1M = "1m"  # ratings.dat, movies.dat, users.dat (also ml-10m, with tags.dat)


#: The file whose presence identifies each format.
MARKERS: dict[MovieLensFormat, str] = {
    MovieLensFormat.CSV: "ratings.csv",
    MovieLensFormat.ML100K: "u.data",
    MovieLensFormat.ML1M: "ratings.dat",
}


def detect_format(path: Path) -> tuple[MovieLensFormat, Path]:
    """The format of the MovieLens folder ``path`` and the folder that holds its files.

    A folder that holds exactly one dataset sub-folder (as an unzipped archive does) is accepted.
    """
    if not path.exists():
        raise DatasetError(f"dataset folder {path} does not exist")
    if not path.is_dir():
        raise DatasetError(f"{path} is not a folder; give the folder that holds the dataset files")
    for folder in (path, *_single_subfolder(path)):
        for fmt, marker in MARKERS.items():
            if (folder / marker).is_file():
                return fmt, folder
    expected = ", ".join(MARKERS.values())
    raise DatasetError(
        f"unknown format: {path} holds no MovieLens ratings file (expected one of {expected})"
    )


def read_movielens(path: Path) -> RatingsDataset:
    """Parse the MovieLens dataset in ``path`` (any supported format) without touching the DB."""
    fmt, folder = detect_format(path)
    if fmt is MovieLensFormat.CSV:
        return _read_csv(folder)
    if fmt is MovieLensFormat.ML100K:
        return _read_100k(folder)
    return _read_1m(folder)


def import_movielens(path: Path, database_url: str, events_path: Path) -> ImportReport:
    """Import the MovieLens dataset in ``path`` into the catalogue and rewrite the event log.

    Movies become public, ready videos; ratings become ``rate`` events (and ``ratings`` rows);
    users become password-less viewers named ``ml-<id>``. All or nothing; re-running is a no-op.
    """
    return import_ratings_dataset(read_movielens(path), database_url, events_path)


def _single_subfolder(path: Path) -> list[Path]:
    children = [p for p in path.iterdir() if not p.name.startswith(".")]
    return children if len(children) == 1 and children[0].is_dir() else []


def _rating_fields(low: float, high: float, names: tuple[str, ...] = _NAMES) -> list[Field]:
    user, movie, rating, timestamp = names
    return [
        Field(user, "int", low=0),
        Field(movie, "int", low=0),
        Field(rating, "float", low=low, high=high),
        Field(timestamp, "int"),
    ]


def _tag_fields(names: tuple[str, ...] = _NAMES) -> list[Field]:
    user, movie, _, timestamp = names
    return [
        Field(user, "int", low=0),
        Field(movie, "int", low=0),
        Field("tag", "text", required=False),
        Field(timestamp, "int"),
    ]


def _ratings(frame: pd.DataFrame) -> pd.DataFrame:
    """Ratings with string ids."""
    return pd.DataFrame(
        {
            "user": frame["user"].astype(str),
            "movie": frame["movie"].astype(str),
            "rating": frame["rating"].astype("float64"),
            "timestamp": frame["timestamp"].astype("int64"),
        }
    )


def _movies(ids: pd.Series, titles: pd.Series, genres: list[list[str]]) -> pd.DataFrame:
    """Movies with titles split from their "(year)" suffix; duplicated ids keep the first."""
    split = [split_title_year(t) for t in titles]
    movies = pd.DataFrame(
        {
            "external_id": ids.astype(str).to_numpy(),
            "title": [t or "Untitled" for t, _ in split],
            "release_year": pd.array([y for _, y in split], dtype="Int64"),
            "genres": genres,
        }
    )
    return movies.drop_duplicates("external_id", keep="first").reset_index(drop=True)


def _users(ids: pd.Series) -> pd.DataFrame:
    return pd.DataFrame({"external_id": ids.astype(str).drop_duplicates().to_numpy()})


def _with_tags(movies: pd.DataFrame, tags: pd.DataFrame | None) -> pd.DataFrame:
    """Attach each movie's distinct tags, most used first (case-insensitive, trimmed)."""
    if tags is None or tags.empty:
        return movies.assign(tags=[[] for _ in range(len(movies))])
    frame = pd.DataFrame(
        {"movie": tags["movie"].astype(str), "tag": tags["tag"].astype(str).str.strip()}
    )
    frame = frame[frame["tag"] != ""]
    frame["key"] = frame["tag"].str.lower()
    counted = (
        frame.groupby(["movie", "key"], sort=False)
        .agg(tag=("tag", "first"), n=("tag", "size"))
        .reset_index()
        .sort_values(["movie", "n", "key"], ascending=[True, False, True], kind="stable")
    )
    per_movie = counted.groupby("movie", sort=False)["tag"].agg(list)
    return movies.assign(tags=[per_movie.get(m, []) for m in movies["external_id"]])


def _read_csv(folder: Path) -> RatingsDataset:
    ratings = read_table(
        folder / "ratings.csv", _rating_fields(0, 5, _CSV_NAMES), sep=",", header=True
    )
    ratings = _ratings(ratings.rename(columns=_FROM_CSV))
    movies_file = folder / "movies.csv"
    if movies_file.is_file():
        raw = read_table(
            movies_file,
            [
                Field("movieId", "int", low=0),
                Field("title", "text"),
                Field("genres", "text", required=False),
            ],
            sep=",",
            header=True,
        )
        movies = _movies(raw["movieId"], raw["title"], [split_genres(g) for g in raw["genres"]])
    else:
        movies = _empty_movies()
    tags = None
    if (folder / "tags.csv").is_file():
        tags = read_table(
            folder / "tags.csv", _tag_fields(_CSV_NAMES), sep=",", header=True
        ).rename(columns=_FROM_CSV)
    return RatingsDataset(
        source=SOURCE,
        format=MovieLensFormat.CSV.value,
        username_prefix=USERNAME_PREFIX,
        users=_users(ratings["user"]),
        movies=_with_tags(movies, tags),
        ratings=ratings,
    )


def _read_100k(folder: Path) -> RatingsDataset:
    ratings = _ratings(read_table(folder / "u.data", _rating_fields(1, 5), sep="\t", header=False))
    movies = _empty_movies()
    item_file = folder / "u.item"
    if item_file.is_file():
        flags = [Field(g, "int", low=0, high=1) for g in ML100K_GENRES]
        raw = read_table(
            item_file,
            [
                Field("movie", "int", low=0),
                Field("title", "text", required=False),
                Field("release_date", "text", required=False),
                Field("video_release_date", "text", required=False),
                Field("imdb_url", "text", required=False),
                *flags,
            ],
            sep="|",
            header=False,
            encoding="latin-1",
        )
        named = raw[list(ML100K_GENRES[1:])].to_numpy(dtype=bool)
        genres = [[g for g, on in zip(ML100K_GENRES[1:], row, strict=True) if on] for row in named]
        movies = _movies(raw["movie"], raw["title"], genres)
    users = ratings["user"]
    if (folder / "u.user").is_file():
        users = pd.concat([_read_users(folder / "u.user", sep="|", n_fields=5), users])
    return RatingsDataset(
        source=SOURCE,
        format=MovieLensFormat.ML100K.value,
        username_prefix=USERNAME_PREFIX,
        users=_users(users),
        movies=_with_tags(movies, None),
        ratings=ratings,
    )


def _read_1m(folder: Path) -> RatingsDataset:
    ratings = _ratings(
        read_table(folder / "ratings.dat", _rating_fields(0, 5), sep="::", header=False)
    )
    movies = _empty_movies()
    if (folder / "movies.dat").is_file():
        raw = read_table(
            folder / "movies.dat",
            [Field("movie", "int", low=0), Field("title", "text"), _TEXT],
            sep="::",
            header=False,
            encoding="latin-1",
        )
        movies = _movies(raw["movie"], raw["title"], [split_genres(g) for g in raw["text"]])
    tags = None
    if (folder / "tags.dat").is_file():
        tags = read_table(
            folder / "tags.dat", _tag_fields(), sep="::", header=False, encoding="latin-1"
        )
    users = ratings["user"]
    if (folder / "users.dat").is_file():
        users = pd.concat([_read_users(folder / "users.dat", sep="::", n_fields=5), users])
    return RatingsDataset(
        source=SOURCE,
        format=MovieLensFormat.ML1M.value,
        username_prefix=USERNAME_PREFIX,
        users=_users(users),
        movies=_with_tags(movies, tags),
        ratings=ratings,
    )


def _read_users(file: Path, *, sep: str, n_fields: int) -> pd.Series:
    """The user ids (first field) of a users file; the demographic fields are not kept."""
    fields = [Field("user", "int", low=0)] + [
        Field(f"field{i}", "text", required=False) for i in range(2, n_fields + 1)
    ]
    return read_table(file, fields, sep=sep, header=False, encoding="latin-1")["user"]


def _empty_movies() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "external_id": pd.Series([], dtype=str),
            "title": pd.Series([], dtype=str),
            "release_year": pd.array([], dtype="Int64"),
            "genres": pd.Series([], dtype=object),
        }
    )
