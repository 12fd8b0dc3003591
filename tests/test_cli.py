"""The ``reelrank`` command line: fast help, sub-commands, clear errors."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from flows.cli import main

REELRANK = Path(sys.executable).parent / "reelrank"


def test_help_lists_the_sub_commands_quickly() -> None:
    started = time.perf_counter()
    result = subprocess.run([str(REELRANK), "--help"], capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    assert result.returncode == 0, result.stderr
    for command in ("data", "db", "demo", "serve", "train", "features"):
        assert f" {command} " in result.stdout
    print(f"reelrank --help took {elapsed:.2f} s")


def test_help_imports_no_heavy_package() -> None:
    code = (
        "import sys\nfrom flows.cli import main\n"
        "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
        "heavy = {'torch','mlflow','feast','ray','av','pandas','sqlalchemy','fastapi','implicit'}\n"
        "print(sorted(heavy & {m.split('.')[0] for m in sys.modules}))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.stdout.strip().splitlines()[-1] == "[]", result.stdout + result.stderr


def test_db_upgrade_and_current(data_root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["db", "upgrade"]) == 0
    assert "database at revision 0003" in capsys.readouterr().out
    assert main(["db", "current"]) == 0
    assert capsys.readouterr().out.strip() == "0003"
    assert (data_root / "reelrank.db").is_file()


def test_unknown_command_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["frobnicate"]) == 2
    assert "No such command 'frobnicate'" in capsys.readouterr().err


def test_bad_option_value_is_a_usage_error(
    data_root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["data", "synth", "--users", "0"]) == 2
    assert "--users" in capsys.readouterr().err


def test_user_error_prints_message_and_exits_2(
    data_root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "no-such-dataset"
    assert main(["data", "import", "movielens", str(missing)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ")
    assert str(missing) in err
    assert "Traceback" not in err


def test_train_without_events_says_what_to_do(
    data_root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["train"]) == 2
    err = capsys.readouterr().err
    assert "no event log at" in err and "import or synthesise data first" in err


def test_unknown_model_is_a_usage_error(
    data_root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["evaluate", "--model", "ease", "--model", "magic"]) == 2
    err = capsys.readouterr().err
    assert "unknown model magic" in err and "known: popularity" in err


def test_evaluate_without_events_says_what_to_do(
    data_root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["evaluate"]) == 2
    assert "no event log at" in capsys.readouterr().err


@pytest.mark.slow
def test_media_ingest_prints_the_master_playlist_last(
    data_root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from media.encode.testpattern import make_test_clip
    from media.hls.validate import validate_package

    clip = make_test_clip(tmp_path / "upload.mp4", seconds=8, width=640, height=360)
    args = ["media", "ingest", str(clip), "--title", "Bars", "--genre", "Documentary", "--no-ray"]
    assert main(args) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    published = [line for line in lines if line.startswith("published ")]
    assert published == [
        "published 240p (426x240, playable while it grows)",
        "published 240p (426x240)",
        "published 360p (640x360)",
    ]
    master = Path(lines[-1])
    assert master.name == "master.m3u8" and master.is_file()
    assert validate_package(master.parent).ok
    for name in ("poster.jpg", "download.mp4", "storyboard/storyboard.vtt"):
        assert (master.parent / name).is_file(), name
    assert (data_root / "media" / "embeddings.parquet").is_file()
    assert main(["media", "status", "1"]) == 0
    assert "job 1 succeeded 100%" in capsys.readouterr().out
    # the same clip again is flagged as a re-upload
    assert main(args) == 0
    assert "looks like a re-upload of video 1" in capsys.readouterr().out


def test_media_ingest_rejects_an_empty_file(
    data_root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    assert main(["media", "ingest", str(empty), "--no-ray"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "empty" in err


def test_catalogue_metadata_reaches_the_item_features(data_root: Path) -> None:
    from core.settings import get_settings
    from training.train import item_features_from

    assert main(["data", "synth", "--users", "50", "--videos", "20", "--seed", "1"]) == 0
    settings = get_settings()
    url = settings.resolved_database_url
    assert item_features_from(None) is None
    features = item_features_from(url, settings.paths.embeddings_file)  # no embeddings yet
    assert features is not None and len(features.item_ids) == 20
    assert any(name.startswith("genre:") for name in features.names)
    assert not any(name.startswith("embedding:") for name in features.names)


@pytest.mark.slow
def test_catalogue_text_embeddings_reach_the_item_features(
    data_root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from core.settings import get_settings
    from training.train import item_features_from

    assert main(["data", "synth", "--users", "50", "--videos", "20", "--seed", "1"]) == 0
    assert main(["media", "embed-catalogue"]) == 0
    out = capsys.readouterr().out.strip().splitlines()[-1]
    assert out.startswith("20 videos embedded into")
    assert main(["media", "embed-catalogue"]) == 0
    assert capsys.readouterr().out.startswith("0 videos embedded")
    settings = get_settings()
    url = settings.resolved_database_url
    without = item_features_from(url)
    with_vectors = item_features_from(url, settings.paths.embeddings_file)
    assert without is not None and with_vectors is not None
    assert not any(name.startswith("embedding:") for name in without.names)
    assert sum(name.startswith("embedding:") for name in with_vectors.names) == 384 + 153


@pytest.mark.slow
def test_features_build_apply_materialize_status(
    data_root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import json

    assert main(["features", "status"]) == 1  # nothing built yet: not ready, says what to run
    assert "reelrank features build" in capsys.readouterr().out
    assert main(["features", "build"]) == 2  # no event log
    assert "no event log" in capsys.readouterr().err
    assert main(["data", "synth", "--users", "40", "--videos", "20", "--days", "5"]) == 0
    capsys.readouterr()
    assert main(["features", "build"]) == 0
    assert "user_activity" in capsys.readouterr().out
    assert main(["features", "apply"]) == 0
    assert main(["features", "status"]) == 1  # applied, never materialized
    assert "never" in capsys.readouterr().out
    assert main(["features", "materialize"]) == 0
    capsys.readouterr()
    assert main(["features", "status", "--json"]) == 0
    status = json.loads(capsys.readouterr().out)
    assert status["healthy"] is True
    assert [view["name"] for view in status["views"]] == [
        "user_activity",
        "user_taste",
        "video_popularity",
        "video_content",
    ]
    assert all(view["table_rows"] > 0 for view in status["views"])
    assert status["staleness_s"] < 60


def test_export_events_writes_what_the_api_stored(
    data_root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from datetime import UTC, datetime

    from core.db.models import InteractionEvent
    from core.db.session import session_scope
    from core.eventlog import read_events
    from core.settings import get_settings
    from core.types import EventType

    assert main(["db", "upgrade"]) == 0
    settings = get_settings()
    with session_scope(settings.resolved_database_url) as session:
        for i, kind in enumerate((EventType.PLAY, EventType.QUALITY_CHANGE)):
            session.add(
                InteractionEvent(
                    event_id=f"from-the-api-{i}",
                    user_id=1,
                    video_id=2,
                    event_type=kind,
                    event_timestamp=datetime(2026, 1, 1, tzinfo=UTC),
                )
            )
    capsys.readouterr()
    assert main(["data", "export-events"]) == 0
    assert "exported 2 events" in capsys.readouterr().out
    log = read_events(settings.paths.events_file)
    assert sorted(log["event_type"]) == ["play", "quality_change"]


def test_users_create_makes_an_admin_who_can_sign_in(
    data_root: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from fastapi.testclient import TestClient

    from core.settings import get_settings
    from serving.app import create_app

    assert main(["users", "create", "root", "--role", "admin"]) == 2
    assert "set REELRANK_NEW_PASSWORD" in capsys.readouterr().err
    monkeypatch.setenv("REELRANK_NEW_PASSWORD", "a long admin password")
    assert main(["users", "create", "root", "--role", "admin"]) == 0
    assert "created admin root" in capsys.readouterr().out
    assert main(["users", "create", "root", "--role", "admin"]) == 2
    assert "already registered" in capsys.readouterr().err
    assert main(["users", "create", "other", "--role", "emperor"]) == 2
    assert "unknown role" in capsys.readouterr().err
    client = TestClient(create_app(get_settings()))
    token = client.post(
        "/auth/token", data={"username": "root", "password": "a long admin password"}
    ).json()["access_token"]
    me = client.get("/me", headers={"Authorization": f"Bearer {token}"}).json()
    assert me["role"] == "admin"


def test_train_refuses_to_save_over_a_folder_that_is_not_a_pipeline(
    data_root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = data_root / "notes"
    target.mkdir(parents=True)
    (target / "keep.txt").write_text("mine")
    assert main(["train", "--save-dir", str(target)]) == 2
    assert "--save-dir" in capsys.readouterr().err
    assert (target / "keep.txt").read_text() == "mine"
