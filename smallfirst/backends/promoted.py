"""The promotion pointer: ``promoted.json``, written by ``smallfirst finetune deploy``, followed by the
embedded backend (``promoted = "…/promoted.json"`` on an embedded endpoint) without a restart.

The file names the GGUF to serve and the LoRA adapter to apply::

    {"format": "smallfirst-promoted", "version": 3, "name": "smollm2-tuned",
     "model_path": "/abs/base.gguf", "lora_path": "/abs/smollm2-tuned-v3.lora.gguf", ...}

It is replaced atomically (write + rename). :class:`PointerWatch` looks at the file's identity
(inode, size, mtime) at most once per ``interval_s`` — one ``stat`` call — and re-reads it only when
that changed. A pointer that cannot be read, or names a missing file, is reported and ignored: the
backend keeps serving what it served before.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from smallfirst.core.errors import ConfigError

POINTER_FORMAT = "smallfirst-promoted"


@dataclass(frozen=True, slots=True)
class Promotion:
    model_path: str
    lora_path: str | None
    version: int
    name: str

    @property
    def target(self) -> tuple[str, str | None]:
        return self.model_path, self.lora_path


def read_pointer(path: str | Path) -> Promotion:
    """Parse and check a pointer file; raises :class:`ConfigError` naming the problem."""
    p = Path(path)
    try:
        obj = json.loads(p.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise ConfigError(f"promotion pointer {str(p)!r} cannot be read ({err})",
                          hint="rerun `smallfirst finetune deploy`") from None
    if not isinstance(obj, dict) or obj.get("format") != POINTER_FORMAT:
        raise ConfigError(f"{p} is not a smallfirst promotion pointer", hint="rerun `smallfirst finetune deploy`")
    model, lora = obj.get("model_path"), obj.get("lora_path")
    if not isinstance(model, str) or not Path(model).is_file():
        raise ConfigError(f"{p}: model_path {model!r} is not a file")
    if lora is not None and (not isinstance(lora, str) or not Path(lora).is_file()):
        raise ConfigError(f"{p}: lora_path {lora!r} is not a file")
    for f in (model, lora):
        if f is not None and not _looks_like_gguf(Path(f)):
            raise ConfigError(f"{p}: {f!r} is not a GGUF file (bad header)")
    version = obj.get("version")
    return Promotion(model, lora, int(version) if isinstance(version, int) else 0, str(obj.get("name", "")))


def _looks_like_gguf(path: Path) -> bool:
    """The GGUF magic and a known version (2 or 3) — a cheap guard against truncated or foreign files."""
    with path.open("rb") as fh:
        head = fh.read(8)
    return len(head) == 8 and head[:4] == b"GGUF" and int.from_bytes(head[4:], "little") in (2, 3)


def write_pointer(path: str | Path, promotion: Promotion, extra: dict[str, Any]) -> Path:
    """Write the pointer atomically (a reader sees the old file or the new one, never half of one)."""
    p = Path(path)
    body = {"format": POINTER_FORMAT, "version": promotion.version, "name": promotion.name,
            "model_path": str(Path(promotion.model_path).resolve()),
            "lora_path": str(Path(promotion.lora_path).resolve()) if promotion.lora_path else None, **extra}
    tmp = p.with_name(p.name + f".{os.getpid()}.tmp")
    tmp.write_text(json.dumps(body, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    tmp.replace(p)
    return p


class PointerWatch:
    """The current promotion (``None`` while no pointer file exists), re-read when the file changes."""

    def __init__(self, path: str | Path, *, interval_s: float = 1.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.path = Path(path).expanduser()
        self.interval_s = interval_s
        self._clock = clock
        self._checked = -float("inf")
        self._identity: tuple[int, int, int] | None = None
        self._current: Promotion | None = None
        self._previous: Promotion | None = None
        self.error: str | None = None
        self.rejected: set[tuple[str, str | None]] = set()

    def current(self) -> Promotion | None:
        now = self._clock()
        if now - self._checked < self.interval_s:
            return self._current
        self._checked = now
        try:
            st = self.path.stat()
        except FileNotFoundError:
            return self._current
        identity = (st.st_ino, st.st_size, st.st_mtime_ns)
        if identity == self._identity:
            return self._current
        self._identity = identity
        try:
            found = read_pointer(self.path)
        except ConfigError as err:
            self.error = err.message
            return self._current
        if found.target in self.rejected:
            self.error = f"version {found.version} failed to load earlier; still serving the previous model"
            return self._current
        if found != self._current:
            self._previous, self._current = self._current, found
        self.error = None
        return found

    def reject(self, promotion: Promotion, reason: str) -> None:
        """``promotion`` failed to load: forget it and serve what was served before it."""
        self.rejected.add(promotion.target)
        self.error = f"version {promotion.version} failed to load ({reason}); still serving the previous model"
        if self._current == promotion:
            self._current, self._previous = self._previous, None

    def status(self) -> dict[str, Any]:
        c = self._current
        return {"pointer": str(self.path), "version": c.version if c else None, "name": c.name if c else None,
                "lora_path": c.lora_path if c else None, "error": self.error}
