"""The ``serve`` start-up banner: each tier, its endpoints, where they are, and what is missing.

For every endpoint: its resolved location (``config.describe``), then ``ready``, ``missing: KEY not set``
(the API-key variable it reads is empty), or ``not answering`` (nothing accepts a TCP connection at its
URL within :data:`PROBE_TIMEOUT_S`). The probes run in parallel threads and open no HTTP session, so
start-up waits at most one timeout whatever the number of endpoints.
"""

from __future__ import annotations

import os
import socket
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlsplit

from smallfirst.config.schema import EndpointConfig, Settings

PROBE_TIMEOUT_S = 0.5
_DEFAULT_PORTS = {"http": 80, "https": 443}


def key_env(cfg: EndpointConfig) -> str | None:
    """The variable holding the endpoint's API key, when it needs one."""
    from smallfirst.backends.presets import PRESETS

    if cfg.api_key_env:
        return cfg.api_key_env
    if cfg.backend == "anthropic":
        return "ANTHROPIC_API_KEY"
    p = PRESETS.get(cfg.backend)
    return p.api_key_env if p is not None and p.key_required else None


def probe(url: str, timeout_s: float = PROBE_TIMEOUT_S) -> str | None:
    """None when something accepts a connection at ``url``'s host and port, else why not (one phrase)."""
    try:
        parts = urlsplit(url)
        host, port = parts.hostname, parts.port or _DEFAULT_PORTS.get(parts.scheme.lower())
    except ValueError:
        return f"cannot read {url!r}"
    if parts.scheme.lower() not in _DEFAULT_PORTS:
        return None  # a unix socket or a plugin's scheme: not probed
    if not host or port is None:
        return f"cannot read {url!r}"
    try:
        with socket.create_connection((host, port), timeout=timeout_s):
            return None
    except OSError as err:
        reason = "timed out" if isinstance(err, TimeoutError) else (err.strerror or type(err).__name__).lower()
        return f"not answering at {host}:{port} ({reason})"


def status(cfg: EndpointConfig, timeout_s: float = PROBE_TIMEOUT_S) -> str:
    from smallfirst.config.location import effective_url

    env = key_env(cfg)
    if env and not os.environ.get(env):
        return f"missing: {env} not set"
    url = effective_url(cfg)
    if url is None:
        return "ready (in-process)"
    why = probe(url, timeout_s)
    return "ready" if why is None else why


def banner_lines(settings: Settings, timeout_s: float = PROBE_TIMEOUT_S) -> tuple[list[str], list[str]]:
    """``(lines, warnings)``: one line per endpoint (``tier/endpoint → location (why) — status``)."""
    from smallfirst.config.describe import describe

    where, warnings = describe(settings)
    cfgs = [e for t in settings.tiers for e in t.endpoints]
    with ThreadPoolExecutor(max_workers=max(1, min(16, len(cfgs)))) as pool:
        states = list(pool.map(lambda c: status(c, timeout_s), cfgs))
    return [f"{w} — {s}" for w, s in zip(where, states, strict=True)], warnings
