"""The learned router, reloaded without a restart when its artifact or thresholds file is replaced.

``router = "learned"`` builds a :class:`ReloadableRouter` around :func:`smallfirst.routing.learned.from_config`.
On the request path it looks at the two files' identity (inode, size, mtime: one ``stat`` each) at most once
every ``routing.reload_interval_s`` seconds; when either changed, a background thread builds a new learned
router from them (the same code as at start-up, plus one probe decision) and the next decision adopts it.
Requests never wait for a load. ``POST /admin/router/reload`` (:mod:`smallfirst.server.admin_router`) does
the same at once. A load that fails — a corrupt or truncated file, tiers the config lacks, a probe that
raises — keeps the running router, is logged (``smallfirst.router``) and counted
(``smallfirst_router_reloads_total{result="failed"}``); the same bad files are not retried until they change.

:attr:`identity` names what is serving: the artifact's and the thresholds file's SHA-256 (12 hex digits),
its training time and row count — on ``/metrics`` (``smallfirst_router_info``) and ``GET /admin/api/router``.
The mix governor's target stays what it was at start (``routing.target_mix``, else the first thresholds
file's calibrated mix); its corrections carry over a reload.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from smallfirst.config.schema import Settings
from smallfirst.core.protocols import Router
from smallfirst.core.types import ChatRequest, RouteChoice, Signals
from smallfirst.routing.learned import LearnedRouter, thresholds_path_for
from smallfirst.routing.learned import from_config as learned_from_config

log = logging.getLogger("smallfirst.router")

FileId = tuple[int, int, int] | None
Build = Callable[[Settings], Any]


def file_id(path: Path | None) -> FileId:
    if path is None:
        return None
    try:
        st = path.stat()
    except OSError:
        return None
    return st.st_ino, st.st_size, st.st_mtime_ns


def sha12(path: Path | None) -> str | None:
    if path is None or not path.is_file():
        return None
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()[:12]


@dataclass(frozen=True)
class Identity:
    artifact: str
    artifact_sha256: str | None
    thresholds: str | None
    thresholds_sha256: str | None
    trained_at: str | None = None
    n_train: int | None = None
    loaded_at: float = field(default_factory=time.time)

    def to_json(self) -> dict[str, Any]:
        return {"artifact": self.artifact, "artifact_sha256": self.artifact_sha256, "thresholds": self.thresholds,
                "thresholds_sha256": self.thresholds_sha256, "trained_at": self.trained_at,
                "n_train": self.n_train, "loaded_at": self.loaded_at}


def _probe(router: Any) -> None:
    """One decision on a fixed prompt: a file that parses but cannot decide (wrong shapes) fails here."""
    from smallfirst.signals import extract

    req = ChatRequest(model="smallfirst/auto", messages=[{"role": "user", "content": "router reload probe"}],
                      body={})
    router.choose(req, extract(req), list(router.tiers))


class ReloadableRouter(LearnedRouter):
    """A learned router that adopts a new learned router's state when its files change.

    A load (a background thread, or ``POST /admin/router/reload`` off the event loop) leaves the new router
    pending; the next decision adopts it on the request path in one step, so a decision never sees half
    of a reload."""

    def __init__(self, settings: Settings, *, build: Build | None = None, background: bool = True,
                 clock: Callable[[], float] = time.monotonic) -> None:
        rc = settings.routing
        self._settings = settings
        self._build: Build = build or learned_from_config
        self.artifact = Path(rc.artifact or "")
        self.thresholds = Path(rc.thresholds) if rc.thresholds else thresholds_path_for(self.artifact)
        self.interval_s = rc.reload_interval_s
        self.background = background
        self._clock = clock
        self._checked = clock()
        self._lock = threading.Lock()
        self._loading = False
        self._pending: tuple[Any, Identity] | None = None
        self._rejected: tuple[FileId, FileId] | None = None
        self.reloads = {"ok": 0, "failed": 0}
        self.error: str | None = None
        self._seen = self._ids()
        first, self.identity = self._load()  # at start-up a failure is the config error it always was
        self._adopt(first)

    def _adopt(self, router: Any) -> None:
        for k, v in vars(router).items():
            setattr(self, k, v)

    def adopt_pending(self) -> None:
        with self._lock:
            got, self._pending = self._pending, None
        if got is not None:
            self._adopt(got[0])
            self.identity = got[1]

    def choose(self, request: ChatRequest, signals: Signals, tiers: Sequence[str],
               offsets: Mapping[str, float] | None = None) -> RouteChoice:
        if self._pending is not None:
            self.adopt_pending()
        if self.interval_s > 0 and self._clock() - self._checked >= self.interval_s:
            self.check()
            if self._pending is not None:
                self.adopt_pending()
        return super().choose(request, signals, tiers, offsets=offsets)

    # ---- reloading ----------------------------------------------------------------------------------

    def _ids(self) -> tuple[FileId, FileId]:
        return file_id(self.artifact), file_id(self.thresholds)

    def _load(self) -> tuple[Any, Identity]:
        art_sha = sha12(self.artifact)
        thr = self.thresholds if self.thresholds.is_file() else None
        thr_sha = sha12(thr)
        router = self._build(self._settings)
        _probe(router)
        meta = getattr(getattr(router, "model", None), "meta", {}) or {}
        n = meta.get("n_train")
        return router, Identity(str(self.artifact), art_sha, str(thr) if thr else None, thr_sha,
                                meta.get("trained_at"), int(n) if isinstance(n, int) else None)

    def check(self) -> bool:
        """The cheap look (two stats); starts a load when a file changed. True when a load started."""
        self._checked = self._clock()
        ids = self._ids()
        if ids == self._seen or ids == self._rejected or ids[0] is None or self._loading:
            return False
        self._loading = True
        if self.background:
            threading.Thread(target=self.reload, name="smallfirst-router-reload", daemon=True).start()
        else:
            self.reload()
        return True

    def reload(self) -> dict[str, Any]:
        """Load the files now. On success the new router is pending (the next decision adopts it); on failure
        the running one stays. Returns the status, with ``reloaded``."""
        with self._lock:
            self._loading = True
        try:
            ids = self._ids()
            try:
                router, identity = self._load()
            except Exception as err:  # any failure keeps the running router
                self._rejected = ids
                self.reloads["failed"] += 1
                self.error = f"{type(err).__name__}: {getattr(err, 'message', None) or err}"
                log.error("router reload failed, still serving artifact %s: %s", self.identity.artifact_sha256,
                          self.error)
                return {**self.status(), "reloaded": False}
            with self._lock:
                self._pending = (router, identity)
            self._seen = ids
            self.reloads["ok"] += 1
            self.error = None
            log.info("router reloaded: artifact %s, thresholds %s", identity.artifact_sha256,
                     identity.thresholds_sha256)
            return {**self.status(identity), "reloaded": True}
        finally:
            self._loading = False

    def status(self, identity: Identity | None = None) -> dict[str, Any]:
        return {"router": "learned", **(identity or self.identity).to_json(), "reload_interval_s": self.interval_s,
                "reloads": dict(self.reloads), "error": self.error}


def from_config(settings: Settings) -> Router:
    """``router = "learned"``: the learned router, followed on disk (see the module docstring)."""
    return ReloadableRouter(settings)


def reloadable(router: Any) -> ReloadableRouter | None:
    """The reloadable learned router inside ``router`` (the mix governor wraps it), if any."""
    seen = 0
    while router is not None and seen < 8:
        if isinstance(router, ReloadableRouter):
            return router
        router, seen = getattr(router, "inner", None), seen + 1
    return None
