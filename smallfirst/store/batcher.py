"""The request log's write path, shared by every store: ``put`` is a lock-free deque append (cheap on
the event loop), one thread commits batches. ``flush`` and ``close`` wait for what was put before them."""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Callable

from smallfirst.core.types import RequestRecord

log = logging.getLogger("smallfirst.store")


class _Marker:
    """Put after the records a caller waits for; set once everything before it is written."""

    __slots__ = ("done", "stop")

    def __init__(self, stop: bool = False) -> None:
        self.done = threading.Event()
        self.stop = stop


class BatchWriter:
    """Batches records for ``write`` (called on the writer thread, one batch per transaction)."""

    def __init__(self, write: Callable[[list[RequestRecord]], None], *, batch_size: int, interval_s: float,
                 name: str) -> None:
        self._write = write
        self._batch_size = batch_size
        self._interval = interval_s
        self._buf: deque[RequestRecord | _Marker] = deque()
        self._wake = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def put(self, record: RequestRecord) -> None:
        self._buf.append(record)  # atomic under the GIL; no lock, no notify per record
        if len(self._buf) >= self._batch_size:
            self._wake.set()

    def _mark(self, stop: bool) -> None:
        marker = _Marker(stop)
        self._buf.append(marker)
        self._wake.set()
        marker.done.wait()

    def flush(self) -> None:
        """Return once every record put before this call is written."""
        if self._thread.is_alive():
            self._mark(stop=False)

    def close(self) -> None:
        """Write everything put so far, then stop the thread."""
        if self._thread.is_alive():
            self._mark(stop=True)
            self._thread.join()

    def _commit(self, batch: list[RequestRecord]) -> None:
        try:
            self._write(batch)
        except Exception:  # the store's own write retries what can be retried; never kill the writer
            log.exception("request log: a batch of %d rows could not be written", len(batch))

    def _run(self) -> None:
        while True:
            self._wake.wait(self._interval)
            self._wake.clear()
            batch: list[RequestRecord] = []
            while self._buf:
                item = self._buf.popleft()
                if isinstance(item, _Marker):
                    if batch:
                        self._commit(batch)
                        batch = []
                    item.done.set()
                    if item.stop:
                        return
                    continue
                batch.append(item)
                if len(batch) >= self._batch_size:
                    self._commit(batch)
                    batch = []
            if batch:
                self._commit(batch)
