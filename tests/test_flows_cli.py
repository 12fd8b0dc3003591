"""``reelrank flows``: the schedules it lists, and clear errors for a bad flow or parameters."""

from __future__ import annotations

from pathlib import Path

import pytest

from flows.cli import main


def _error(capsys: pytest.CaptureFixture[str]) -> str:
    """The usage error's text with the panel's borders and line wrapping removed."""
    text = capsys.readouterr().err
    return " ".join(text.replace("│", " ").replace("╭", " ").replace("╰", " ").split())


def test_list_names_every_deployment_and_schedule(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["flows", "list"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out == [
        "retrain/retrain: cron 0 3 * * * UTC - nightly: export, featurize, train, promote or not",
        "materialize-features/materialize-features: cron 0 * * * * UTC - hourly: new events "
        "into the online store",
        "ingest-video/ingest-video: on demand - on demand: one completed upload through the "
        "pipeline",
    ]


def test_unknown_flow_is_a_usage_error(data_root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["flows", "run", "nope"]) == 2
    assert "no flow 'nope'; known: retrain, materialize-features, ingest-video" in _error(capsys)


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ("{not json", "not JSON"),
        ("[1, 2]", "must be a JSON object"),
        ('{"nope": 1}', "nope"),
        ('{"incremental": {"a": 1}}', "incremental"),
    ],
)
def test_bad_parameters_are_usage_errors(
    data_root: Path, capsys: pytest.CaptureFixture[str], params: str, message: str
) -> None:
    assert main(["flows", "run", "materialize-features", "--params", params]) == 2
    assert message in _error(capsys)
