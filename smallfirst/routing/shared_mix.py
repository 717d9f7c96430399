"""The mix governor's window read from a shared request log, so N replicas steer on one mix.

Rule (``[routing] governor_scope``): with ``auto`` (the default) the window is *shared* when the log is —
a PostgreSQL log (``log.url``: every replica writes to it), or one SQLite file served by several worker
processes (``server.workers > 1``, as ``smallfirst serve --workers N`` sets it) — and *per process*
otherwise (a private SQLite file: this process is the only writer). ``shared`` and ``process`` force it.

Shared: every ``governor_refresh_s`` seconds a background thread reads the served tier of the log's
newest ``governor_window`` routed requests (:mod:`smallfirst.store.recent`; one indexed query) and the
governor's window is replaced by it on the next request (:meth:`MixGovernor.load_window`). Between
reads the process adds its own served tiers as before. The corrections still move with each of the
process's own observations, on the shared error, so the replicas' corrections move together. A read
that fails is logged and the governor keeps its window; the next one is tried ``governor_refresh_s``
later. Rows reach the log in batches (``log.flush_interval_s``), so the window lags by about that much.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from smallfirst.config.schema import Settings
from smallfirst.core.errors import ConfigError

log = logging.getLogger("smallfirst.governor")

Read = Callable[[int], list[str]]


def governor_shared(settings: Settings) -> bool:
    """Whether the governor's window comes from the log (see the module docstring)."""
    from smallfirst.config.registry import store_name

    scope = settings.routing.governor_scope
    if scope != "auto":
        return scope == "shared"
    return store_name(settings) == "postgres" or (settings.server.workers or 1) > 1


def reader_for(store: Any, settings: Settings) -> Read | None:
    """The store's ``recent_tiers`` when the window is shared; None when it is per process."""
    if not governor_shared(settings):
        return None
    read: Read | None = getattr(store, "recent_tiers", None)
    if read is None and settings.routing.governor_scope == "shared":
        raise ConfigError(f"routing.governor_scope = 'shared' needs a request log that can read its recent rows; "
                          f"the {type(store).__name__} store cannot",
                          hint="use the sqlite or postgres store, or governor_scope = 'process'")
    return read


class SharedWindow:
    """Reads the shared window every ``refresh_s`` seconds, off the request path (``background``)."""

    def __init__(self, read: Read, window: int, *, refresh_s: float = 2.0, background: bool = True,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._read_fn = read
        self.window = window
        self.refresh_s = refresh_s
        self.background = background
        self._clock = clock
        self._due = -float("inf")
        self._lock = threading.Lock()
        self._pending: list[str] | None = None
        self._busy = False
        self.reads = 0
        self.failures = 0
        self.error: str | None = None

    def poll(self) -> list[str] | None:
        """Start a read when one is due; the tiers of a finished read, once (else None)."""
        now = self._clock()
        if not self._busy and now >= self._due:
            self._due = now + self.refresh_s
            self._busy = True
            if self.background:
                threading.Thread(target=self._read, name="smallfirst-governor-window", daemon=True).start()
            else:
                self._read()
        with self._lock:
            got, self._pending = self._pending, None
        return got

    def _read(self) -> None:
        try:
            tiers = self._read_fn(self.window)
        except Exception as err:  # a failed read keeps the window; the next one is tried later
            self.failures += 1
            self.error = f"{type(err).__name__}: {err}"
            log.warning("mix governor: reading the shared window failed (%s); keeping the current one", self.error)
        else:
            with self._lock:
                self._pending = tiers
            self.reads += 1
            self.error = None
        finally:
            self._busy = False
