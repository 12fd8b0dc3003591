"""The background thread that follows the model registry: every few seconds it asks the
recommender to load the versions its aliases moved to (hot model swaps)."""

from __future__ import annotations

import logging
import threading
from typing import Protocol

log = logging.getLogger(__name__)


class Refreshable(Protocol):
    """What the watcher drives: ``refresh`` loads moved versions, swaps them in atomically and
    returns the refs it swapped."""

    def refresh(self) -> list[str]: ...


class ModelWatcher:
    """Calls ``recommender.refresh()`` every ``interval_s`` seconds on a daemon thread, from
    ``start`` until ``stop``. An error in one refresh is logged and the next one runs."""

    def __init__(self, recommender: Refreshable, interval_s: float) -> None:
        if interval_s <= 0:
            raise ValueError("the model check interval must be positive")
        self.recommender = recommender
        self.interval_s = interval_s
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def running(self) -> bool:
        """Whether the thread is alive."""
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        """Start watching (once)."""
        if self._thread is not None:
            raise RuntimeError("the model watcher was started already")
        self._thread = threading.Thread(target=self._run, name="model-watcher", daemon=True)
        self._thread.start()

    def stop(self, timeout_s: float = 10.0) -> None:
        """Stop watching and wait up to ``timeout_s`` for a refresh in progress to end."""
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout_s)

    def _run(self) -> None:
        while not self._stopping.wait(self.interval_s):
            try:
                swapped = self.recommender.refresh()
            except Exception:  # never let one bad check end the watching
                log.exception("checking the model registry failed")
                continue
            if swapped:
                log.info("serving new model versions for %s", ", ".join(swapped))
