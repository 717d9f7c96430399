"""The request log a reporting command reads (``smallfirst report``, ``report residency``, ``finetune``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from smallfirst.config.schema import Settings
from smallfirst.core.errors import ConfigError


def open_store(settings: Settings, log: Path | None) -> Any:
    """The configured request log, read-only in spirit: a missing SQLite file is an error, not created."""
    from smallfirst.pipeline import build_store

    if log is not None:
        settings = settings.model_copy(update={"log": settings.log.model_copy(update={"path": str(log),
                                                                                    "url": None})})
    if settings.log.url is None and not Path(settings.log.path).is_file():
        raise ConfigError(f"no request log at {settings.log.path}",
                          hint="run `smallfirst serve` first, or point --log / log.path at the log file")
    return build_store(settings)
