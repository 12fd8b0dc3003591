"""The completion rate is defined once in features/ and shared by feature tables and training.

Its definition (completes / plays, clipped to [0, 1]) is pinned here, clipping case included.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

from core import columns as c
from core.eventlog import write_events
from features import schema as s
from features.build import build_feature_tables
from features.completion import completion_rate
from features.videos import empty_videos
from tests.event_rows import event_row

EVENTS = [
    # video 1: two plays, one completed
    event_row(1, 1, "play", "2024-03-01T09:00Z"),
    event_row(1, 1, "complete", "2024-03-01T09:30Z"),
    event_row(2, 1, "play", "2024-03-01T10:00Z"),
    # video 2: one counted play but two completes (a play event went missing): clipped to 1
    event_row(1, 2, "play", "2024-03-02T09:00Z"),
    event_row(1, 2, "complete", "2024-03-02T09:30Z"),
    event_row(2, 2, "complete", "2024-03-02T10:30Z"),
    # video 3: completes without any play: undefined, not a rate
    event_row(3, 3, "complete", "2024-03-03T09:00Z"),
    # video 4: played, never completed
    event_row(3, 4, "play", "2024-03-03T10:00Z"),
]


def test_completion_rate_is_completes_over_plays_clipped() -> None:
    rates = completion_rate(pd.Series([1, 2, 3, 0]), pd.Series([2, 1, 0, 1]))
    assert rates.dtype == "float64"
    assert rates[0] == 0.5
    assert rates[1] == 1.0  # more completes than plays: clipped, never above 1
    assert math.isnan(rates[2])  # no plays: undefined
    assert rates[3] == 0.0


def test_the_feature_table_uses_the_same_definition(tmp_path: Path) -> None:
    path = write_events(pd.DataFrame(EVENTS), tmp_path / "events.parquet")
    as_of = datetime(2024, 3, 10, tzinfo=UTC)
    built = build_feature_tables(path, empty_videos(), tmp_path / "out", as_of)
    videos = pd.read_parquet(built.paths[s.VIDEO_POPULARITY])
    final = videos[videos[c.EVENT_TIMESTAMP] == as_of].set_index(c.VIDEO_ID)
    table = final[s.VIDEO_COMPLETION_RATE]
    assert table[1] == 0.5 and table[2] == 1.0 and table[4] == 0.0 and math.isnan(table[3])
