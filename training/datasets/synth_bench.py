"""Benchmark of the synthetic world at full size: ``python -m training.datasets.synth_bench``."""

from __future__ import annotations

import tempfile
from pathlib import Path

from training.datasets.synth import SynthConfig
from training.datasets.synth_writer import SynthReport, synthesize

#: The full-size world the benchmark writes (figures in docs/benchmarks.md).
BENCH_CONFIG = SynthConfig(users=100_000, videos=10_000, seed=7)


def bench_synth(database_url: str | None = None, events_path: Path | None = None) -> SynthReport:
    """Time ``BENCH_CONFIG``'s world (generation, catalogue and parquet); print and return
    the report.

    Without arguments it writes a scratch SQLite catalogue under a temporary folder.
    """
    from core.db.migrate import upgrade

    scratch = Path(tempfile.mkdtemp(prefix="reelrank-bench-"))
    url = database_url or f"sqlite:///{scratch / 'reelrank.db'}"
    if database_url is None:
        upgrade(url)
    report = synthesize(BENCH_CONFIG, url, events_path or scratch / "events.parquet")
    print(report.summary())
    print(f"events by type: {report.events_by_type}")
    return report


if __name__ == "__main__":
    bench_synth()
