"""Run a small action every few seconds in a background thread while a block runs."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

log = logging.getLogger(__name__)


@contextmanager
def every(interval_s: float, action: Callable[[], None], name: str) -> Iterator[None]:
    """Call ``action`` every ``interval_s`` seconds until the block ends; a failing call is
    logged (as ``name``) and retried at the next tick, never stopping the block's work."""
    stop = threading.Event()

    def loop() -> None:
        while not stop.wait(interval_s):
            try:
                action()
            except Exception as exc:
                log.warning("%s failed (%s); retried in %.1f s", name, exc, interval_s)

    thread = threading.Thread(target=loop, name=name, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()
