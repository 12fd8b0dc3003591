"""MovieLens and MovieTweetings import: formats, id mapping, idempotence, atomicity, errors."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import func, insert, select

from core import columns as c
from core.db.models import InteractionEvent, Rating, User, Video
from core.db.session import get_engine
from core.errors import DatasetError
from core.eventlog import conform, event_id_for, read_events
from core.types import Role, VideoStatus, Visibility
from tests.conftest import MOVIELENS_SMALL
from training.datasets.event_log import export_event_log
from training.datasets.movielens import import_movielens
from training.datasets.movietweetings import import_movietweetings

ML100K_ITEMS = (
    "1|Toy Story (1995)|01-Jan-1995||http://imdb|0|0|0|1|1|1|0|0|0|0|0|0|0|0|0|0|0|0|0\n"
    "2|GoldenEye (1995)|01-Jan-1995||http://imdb|0|1|1|0|0|0|0|0|0|0|0|0|0|0|0|0|1|0|0\n"
    "3|unknown|||http://imdb|1|0|0|0|0|0|0|0|0|0|0|0|0|0|0|0|0|0|0\n"
)
ML100K_RATINGS = "1\t1\t5\t881250949\n1\t2\t3\t881250950\n2\t1\t4\t881250951\n2\t3\t1\t881250952\n"
ML100K_USERS = "1|24|M|technician|85711\n2|53|F|other|94043\n3|23|M|writer|32067\n"


def counts(url: str) -> dict[str, int]:
    """Row counts of the tables an import writes."""
    with get_engine(url).connect() as conn:
        return {
            model.__tablename__: conn.execute(select(func.count()).select_from(model)).scalar_one()
            for model in (User, Video, InteractionEvent, Rating)
        }


def db_events(url: str) -> pd.DataFrame:
    """Every event in the database, conformed and ordered by event id."""
    table = InteractionEvent.__table__
    with get_engine(url).connect() as conn:
        rows = conn.execute(select(table).order_by(table.c.event_id)).mappings().all()
    return conform(pd.DataFrame([dict(r) for r in rows], columns=list(c.EVENT_COLUMNS)))


def assert_log_equals_db(url: str, events_path: Path) -> None:
    """The parquet event log holds exactly the database's events."""
    log = read_events(events_path).sort_values(c.EVENT_ID).reset_index(drop=True)
    pd.testing.assert_frame_equal(log, db_events(url))


def write_ml100k(folder: Path) -> Path:
    folder.mkdir(parents=True)
    (folder / "u.data").write_text(ML100K_RATINGS)
    (folder / "u.item").write_text(ML100K_ITEMS, encoding="latin-1")
    (folder / "u.user").write_text(ML100K_USERS)
    return folder


@pytest.mark.slow
def test_movielens_small_imports_exact_counts(tmp_path: Path, sqlite_url: str) -> None:
    if not MOVIELENS_SMALL.is_dir():
        pytest.skip(f"MovieLens small not present at {MOVIELENS_SMALL}")
    events_path = tmp_path / "events.parquet"
    started = time.perf_counter()
    report = import_movielens(MOVIELENS_SMALL, sqlite_url, events_path)
    print(f"ml-latest-small import took {time.perf_counter() - started:.1f} s")
    assert (report.users_added, report.videos_added, report.events_added) == (610, 9742, 100836)
    assert counts(sqlite_url) == {
        "users": 610,
        "videos": 9742,
        "interaction_events": 100836,
        "ratings": 100836,
    }
    assert len(read_events(events_path)) == 100836
    with get_engine(sqlite_url).connect() as conn:
        toy = conn.execute(select(Video).where(Video.external_id == "1")).one()
        user = conn.execute(select(User).where(User.external_id == "1")).one()
        first = conn.execute(
            select(InteractionEvent).where(
                InteractionEvent.event_id == event_id_for("movielens", 1, 1, 964982703)
            )
        ).one()
    assert (toy.title, toy.release_year, toy.source) == ("Toy Story", 1995, "movielens")
    assert toy.genres == ["Adventure", "Animation", "Children", "Comedy", "Fantasy"]
    assert "pixar" in toy.tags
    assert (toy.visibility, toy.status) == (Visibility.PUBLIC, VideoStatus.READY)
    assert (user.username, user.role, user.password_hash) == ("ml-1", Role.VIEWER, None)
    assert (first.user_id, first.video_id, first.value) == (user.id, toy.id, 4.0)

    again = import_movielens(MOVIELENS_SMALL, sqlite_url, events_path)
    assert not again.added_anything
    assert "nothing new" in again.summary()
    assert counts(sqlite_url)["interaction_events"] == 100836
    assert_log_equals_db(sqlite_url, events_path)


def test_ml100k_import_on_both_engines(tmp_path: Path, database_url: str) -> None:
    folder = write_ml100k(tmp_path / "ml-100k")
    events_path = tmp_path / "events.parquet"
    report = import_movielens(folder, database_url, events_path)
    assert report.format == "100k"
    assert (report.users_added, report.videos_added, report.events_added) == (3, 3, 4)
    with get_engine(database_url).connect() as conn:
        videos = {v.external_id: v for v in conn.execute(select(Video))}
        users = {u.external_id: u.id for u in conn.execute(select(User))}
    assert (videos["1"].title, videos["1"].release_year) == ("Toy Story", 1995)
    assert videos["1"].genres == ["Animation", "Children's", "Comedy"]
    assert videos["2"].genres == ["Action", "Adventure", "Thriller"]
    assert (videos["3"].title, videos["3"].genres) == ("unknown", [])
    assert set(users) == {"1", "2", "3"}  # user 3 only appears in u.user
    log = read_events(events_path).set_index(c.EVENT_ID)
    row = log.loc[event_id_for("movielens", "2", "3", 881250952)]
    assert (row[c.USER_ID], row[c.VIDEO_ID], row[c.VALUE]) == (users["2"], videos["3"].id, 1.0)
    assert row[c.EVENT_TIMESTAMP] == datetime.fromtimestamp(881250952, tz=UTC)
    assert_log_equals_db(database_url, events_path)
    assert not import_movielens(folder, database_url, events_path).added_anything
    assert counts(database_url) == {
        "users": 3,
        "videos": 3,
        "interaction_events": 4,
        "ratings": 4,
    }


def test_ml1m_import_with_missing_movie_and_latin1(tmp_path: Path, sqlite_url: str) -> None:
    folder = tmp_path / "ml-1m"
    folder.mkdir()
    (folder / "movies.dat").write_text(
        "1::Toy Story (1995)::Animation|Children's|Comedy\n"
        "2::Cité des enfants perdus, La (1995)::Adventure|Sci-Fi\n",
        encoding="latin-1",
    )
    (folder / "ratings.dat").write_text(
        "1::1::5::978300760\n1::2::3::978302109\n2::99::4::978301968\n"
    )
    (folder / "users.dat").write_text("1::F::1::10::48067\n2::M::56::16::70072\n")
    report = import_movielens(folder, sqlite_url, tmp_path / "events.parquet")
    assert (report.format, report.videos_added, report.placeholder_videos) == ("1m", 3, 1)
    with get_engine(sqlite_url).connect() as conn:
        titles = dict(conn.execute(select(Video.external_id, Video.title)).all())
    assert titles == {"1": "Toy Story", "2": "Cité des enfants perdus, La", "99": "Movie 99"}


def test_ratings_file_alone_suffices(tmp_path: Path, sqlite_url: str) -> None:
    folder = tmp_path / "ratings-only"
    folder.mkdir()
    (folder / "ratings.csv").write_text(
        "userId,movieId,rating,timestamp\n7,10,4.5,1000000000\n8,10,2.0,1000000001\n"
    )
    report = import_movielens(folder, sqlite_url, tmp_path / "events.parquet")
    assert (report.users_added, report.videos_added, report.placeholder_videos) == (2, 1, 1)
    with get_engine(sqlite_url).connect() as conn:
        video = conn.execute(select(Video)).one()
    assert (video.title, video.genres, video.release_year) == ("Movie 10", [], None)


def test_movietweetings_import(tmp_path: Path, sqlite_url: str) -> None:
    folder = tmp_path / "movietweetings"
    folder.mkdir()
    (folder / "movies.dat").write_text(
        "0000008::Edison Kinetoscopic Record of a Sneeze (1894)::Documentary|Short\n"
        "0000010::La sortie des usines Lumière (1895)::\n"
    )
    (folder / "ratings.dat").write_text(
        "1::0000008::10::1381006850\n2::0000010::0::1379793112\n2::0000008::7::1379793113\n"
    )
    (folder / "users.dat").write_text("1::139564917\n2::522540374\n3::475571186\n")
    events_path = tmp_path / "events.parquet"
    report = import_movietweetings(folder, sqlite_url, events_path)
    assert (report.source, report.users_added, report.videos_added) == ("movietweetings", 3, 2)
    with get_engine(sqlite_url).connect() as conn:
        videos = {v.external_id: v for v in conn.execute(select(Video))}
        names = set(conn.execute(select(User.username)).scalars())
    assert names == {"mt-1", "mt-2", "mt-3"}
    assert (videos["8"].title, videos["8"].release_year) == (
        "Edison Kinetoscopic Record of a Sneeze",
        1894,
    )
    assert videos["10"].genres == []
    assert sorted(read_events(events_path)[c.VALUE]) == [0.0, 7.0, 10.0]
    assert not import_movietweetings(folder, sqlite_url, events_path).added_anything


def test_missing_folder_is_a_clear_error(tmp_path: Path, sqlite_url: str) -> None:
    with pytest.raises(DatasetError, match=r"dataset folder .*nowhere does not exist"):
        import_movielens(tmp_path / "nowhere", sqlite_url, tmp_path / "e.parquet")
    with pytest.raises(DatasetError, match=r"dataset folder .*nowhere does not exist"):
        import_movietweetings(tmp_path / "nowhere", sqlite_url, tmp_path / "e.parquet")


def test_unknown_format_is_a_clear_error(tmp_path: Path, sqlite_url: str) -> None:
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "README.txt").write_text("hello")
    with pytest.raises(DatasetError, match=r"unknown format: .* holds no MovieLens ratings file"):
        import_movielens(tmp_path / "data", sqlite_url, tmp_path / "e.parquet")
    with pytest.raises(DatasetError, match=r"unknown format: .* no MovieTweetings ratings.dat"):
        import_movietweetings(tmp_path / "data", sqlite_url, tmp_path / "e.parquet")


@pytest.mark.parametrize(
    ("file", "text", "message"),
    [
        (
            "ratings.csv",
            "userId,movieId,rating,timestamp\n1,1,4.0,964982703\n1,2,abc,964982704\n",
            r"ratings.csv, line 3: rating 'abc' is not a number",
        ),
        (
            "ratings.csv",
            "userId,movieId,rating,timestamp\n1,1,4.0,964982703\n\n1,2,9.5,964982704\n",
            r"ratings.csv, line 4: rating '9.5' is outside 0..5",
        ),
        (
            "ratings.csv",
            "userId,movieId,rating,timestamp\n1,1,4.0,964982703,extra\n",
            r"ratings.csv, line 2: expected 4 fields, found 5",
        ),
        (
            "ratings.csv",
            "user,movie,rating,time\n1,1,4.0,964982703\n",
            r"ratings.csv, line 1: unexpected header 'user,movie,rating,time'",
        ),
        (
            "ratings.dat",
            "1::1::5::978300760\n1::x::3::978302109\n",
            r"ratings.dat, line 2: movie 'x' is not an integer",
        ),
        (
            "ratings.dat",
            "1::1::5::978300760\n1::2::3\n",
            r"ratings.dat, line 2: expected 4 fields, found 3",
        ),
        ("u.data", "1\t1\t5\t881250949\n2\t1\t\t881250951\n", r"u.data, line 2: rating is empty"),
    ],
)
def test_malformed_row_fails_whole_import(
    tmp_path: Path, sqlite_url: str, file: str, text: str, message: str
) -> None:
    write_ml100k(tmp_path / "good")
    events_path = tmp_path / "events.parquet"
    import_movielens(tmp_path / "good", sqlite_url, events_path)
    before, log_before = counts(sqlite_url), events_path.read_bytes()
    folder = tmp_path / "bad"
    folder.mkdir()
    (folder / file).write_text(text)
    with pytest.raises(DatasetError, match=message):
        import_movielens(folder, sqlite_url, events_path)
    assert counts(sqlite_url) == before
    assert events_path.read_bytes() == log_before


def test_malformed_movie_row_names_file_and_line(tmp_path: Path, sqlite_url: str) -> None:
    folder = write_ml100k(tmp_path / "ml-100k")
    (folder / "u.item").write_text(ML100K_ITEMS + "4|Heat (1995)|x|\n", encoding="latin-1")
    with pytest.raises(DatasetError, match=r"u.item, line 4: expected 24 fields, found 4"):
        import_movielens(folder, sqlite_url, tmp_path / "events.parquet")
    assert counts(sqlite_url)["videos"] == 0


def test_failure_inside_transaction_writes_nothing(tmp_path: Path, sqlite_url: str) -> None:
    # An event row that clashes with one the import will write fails it half way through.
    clash = event_id_for("movielens", "2", "3", 881250952)
    with get_engine(sqlite_url).begin() as conn:
        conn.execute(
            insert(InteractionEvent.__table__),
            [
                {
                    "event_id": clash,
                    "user_id": 999,
                    "video_id": 999,
                    "event_type": "rate",
                    "event_timestamp": datetime(2000, 1, 1, tzinfo=UTC),
                }
            ],
        )
    folder = write_ml100k(tmp_path / "ml-100k")
    with pytest.raises(DatasetError, match="conflicts with existing catalogue rows"):
        import_movielens(folder, sqlite_url, tmp_path / "events.parquet")
    assert counts(sqlite_url) == {
        "users": 0,
        "videos": 0,
        "interaction_events": 1,
        "ratings": 0,
    }


def test_export_of_empty_database_writes_empty_log(tmp_path: Path, sqlite_url: str) -> None:
    path = tmp_path / "log" / "events.parquet"
    assert export_event_log(sqlite_url, path) == 0
    assert read_events(path).empty
    assert list(read_events(path).columns) == list(c.EVENT_COLUMNS)
