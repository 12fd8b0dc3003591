"""Helpers for tests of tus uploads: metadata encoding, a small real clip, waiting on status."""

from __future__ import annotations

import base64
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from media.encode.testpattern import make_test_clip

TUS = {"Tus-Resumable": "1.0.0"}
OCTETS = {"Content-Type": "application/offset+octet-stream"}


def metadata(**values: str) -> str:
    """An ``Upload-Metadata`` header from plain values."""
    return ",".join(f"{k} {base64.b64encode(v.encode()).decode()}" for k, v in values.items())


def small_clip(folder: Path, name: str = "clip.mp4", seconds: float = 2.0) -> Path:
    """A real H.264 + AAC clip, small enough to transcode in a few seconds."""
    return make_test_clip(folder / name, seconds=seconds, width=320, height=240, fps=15)


def wait_for(
    read: Callable[[], dict[str, Any]], done: Callable[[dict[str, Any]], bool], timeout_s: float
) -> dict[str, Any]:
    """Poll ``read`` until ``done`` holds for its answer; the last answer (fails on timeout)."""
    deadline = time.monotonic() + timeout_s
    while True:
        answer = read()
        if done(answer):
            return answer
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s} s; last answer: {answer}")
        time.sleep(0.2)


FINAL = ("done", "failed", "skipped")


def processing_over(body: dict[str, Any]) -> bool:
    """Whether every stage of a ``/videos/{id}/processing`` answer has ended."""
    return all(stage["state"] in FINAL for stage in body["stages"])


def wait_processed(read: Callable[[], dict[str, Any]], timeout_s: float = 180) -> dict[str, Any]:
    """Poll a video's processing status until every stage, extras included, has ended."""
    return wait_for(read, processing_over, timeout_s)
