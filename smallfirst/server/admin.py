"""Admin surface of the gateway: the JSON admin API, ``/metrics`` and the ``/dashboard`` page.

Everything here is read-only, except ``POST /admin/router/reload`` (:mod:`.admin_router`). When
``server.admin_key_env`` names an environment variable, every route here needs ``Authorization: Bearer
<that key>`` — except the dashboard's static files, which hold no data (the page asks for the key and
sends it with its API calls).
"""

from __future__ import annotations

import asyncio
import gzip
import hashlib
import hmac
import os
from collections.abc import Sequence
from importlib import resources
from typing import Any
from urllib.parse import parse_qs

import orjson

from smallfirst.config.schema import Settings
from smallfirst.core.errors import AuthenticationError, ConfigError, SmallfirstError
from smallfirst.core.tiers import Tier
from smallfirst.dashboard.views import View, baseline_for, default_target, overview, target_mix, time_range
from smallfirst.engine import Engine
from smallfirst.pipeline import Pipeline
from smallfirst.server import admin_router
from smallfirst.server.asgi import Handler, Receive, Scope, Send, send_json, send_openai_error
from smallfirst.server.metrics import CONTENT_TYPE, Metrics

ASSETS = {"/dashboard": ("index.html", "text/html; charset=utf-8"),
          "/dashboard/": ("index.html", "text/html; charset=utf-8"),
          "/dashboard/app.js": ("app.js", "text/javascript; charset=utf-8"),
          "/dashboard/app.css": ("app.css", "text/css; charset=utf-8")}


def admin_key(env_name: str | None) -> str | None:
    """The admin key from the environment; a named but unset variable is a startup error (fail closed)."""
    if env_name is None:
        return None
    key = os.environ.get(env_name, "")
    if not key:
        raise ConfigError(f"server.admin_key_env names {env_name}, but that environment variable is not set",
                          hint=f"export {env_name}=<a long random key>, or remove server.admin_key_env")
    return key


class Asset:
    def __init__(self, body: bytes, content_type: str) -> None:
        self.body = body
        self.gzipped = gzip.compress(body, 9, mtime=0)
        self.content_type = content_type.encode()
        self.etag = ('"' + hashlib.sha256(body).hexdigest()[:20] + '"').encode()


def load_assets() -> dict[str, Asset]:
    root = resources.files("smallfirst.dashboard").joinpath("static")
    return {path: Asset(root.joinpath(name).read_bytes(), ctype) for path, (name, ctype) in ASSETS.items()}


def _header(scope: Scope, name: bytes) -> bytes:
    for k, v in scope["headers"]:
        if k == name:
            return bytes(v)
    return b""


class Admin:
    """The admin surface: summary, residency evidence, health, Prometheus metrics, the dashboard's assets."""

    def __init__(self, settings: Settings, pipeline: Pipeline, engine: Engine, metrics: Metrics, view: View) -> None:
        self.settings = settings
        self.pipeline = pipeline
        self.engine = engine
        self.prometheus = metrics
        self.view = view
        self._key = admin_key(settings.server.admin_key_env)
        self._assets = load_assets()

    def routes(self) -> dict[tuple[str, str], Handler]:
        out: dict[tuple[str, str], Handler] = {
            ("GET", "/admin/api/summary"): self.summary,
            ("GET", "/admin/api/residency"): self.residency,
            ("GET", "/admin/api/health"): self.health,
            ("GET", "/metrics"): self.metrics,
        }
        for path in self._assets:
            out[("GET", path)] = self.asset
        out.update(admin_router.routes(self.pipeline.router, self.settings.routing.router, self._guard))  # + reload
        return out

    def _authorised(self, scope: Scope) -> bool:
        if self._key is None:
            return True
        auth = _header(scope, b"authorization")
        scheme, _, token = auth.partition(b" ")
        return scheme.lower() == b"bearer" and hmac.compare_digest(token.strip(), self._key.encode())

    async def _guard(self, scope: Scope, send: Send) -> bool:
        if self._authorised(scope):
            return True
        err = AuthenticationError("this admin endpoint needs the admin key",
                                  hint="send Authorization: Bearer <the value of server.admin_key_env>")
        await send_openai_error(send, err, "", [(b"www-authenticate", b'Bearer realm="smallfirst-admin"')])
        return False

    async def _json(self, scope: Scope, send: Send, body: Any) -> None:
        data = orjson.dumps(body)
        headers = [(b"cache-control", b"no-store"), (b"vary", b"accept-encoding")]
        if len(data) > 1024 and b"gzip" in _header(scope, b"accept-encoding"):
            data = gzip.compress(data, 5, mtime=0)
            headers.append((b"content-encoding", b"gzip"))
        await send_json(send, 200, data, headers)

    # ---- handlers ----------------------------------------------------------------------------------

    async def summary(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not await self._guard(scope, send):
            return
        q = {k: v[-1] for k, v in parse_qs(scope.get("query_string", b"").decode("latin-1")).items()}
        try:
            since, until, bucket = time_range(q.get("since"), q.get("until"), q.get("bucket"))
            view = self.view
            if q.get("baseline"):
                view = View(view.tiers, view.local, view.target, baseline_for(self.settings, q["baseline"]),
                            view.local_basis)
            agg = await asyncio.to_thread(self.pipeline.store.summary, since=since, until=until, bucket_s=bucket)
        except SmallfirstError as err:
            await send_openai_error(send, err, "")
            return
        await self._json(scope, send, overview(agg, view))

    async def residency(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Residency evidence from the log's per-attempt locations (smallfirst.dashboard.residency)."""
        if not await self._guard(scope, send):
            return
        from smallfirst.dashboard.residency import PAGE, residency_evidence
        from smallfirst.sensitivity.evidence import eval_results

        q = {k: v[-1] for k, v in parse_qs(scope.get("query_string", b"").decode("latin-1")).items()}
        try:
            since, until, _ = time_range(q.get("since"), q.get("until"), None)
            body = await asyncio.to_thread(residency_evidence, self.pipeline.store, since, until, PAGE,
                                           self.settings.residency, eval_results())
        except SmallfirstError as err:
            await send_openai_error(send, err, "")
            return
        await self._json(scope, send, body)

    async def health(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not await self._guard(scope, send):
            return
        pairs = self.engine.endpoints()
        results = await asyncio.gather(*(e.backend.health() for _, e in pairs), return_exceptions=True)
        backends = []
        rt = self.pipeline.runtime  # local runtimes' last polled state (smallfirst.runtime)
        for (t, e), r in zip(pairs, results, strict=True):
            info = r if isinstance(r, dict) else {"ok": False, "error": type(r).__name__}
            state = rt.snapshot(e.backend.name) if rt is not None else None
            backends.append({"tier": t.name, "endpoint": e.backend.name, "model": e.backend.model,
                             "location": e.location, "local": e.is_local, **info,
                             **({"runtime": state} if state else {})})
        cache = self.pipeline.cache.snapshot() if self.pipeline.cache is not None else None  # [cache]
        await self._json(scope, send, {"ok": all(b.get("ok") for b in backends), "backends": backends, "cache": cache})

    async def metrics(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not await self._guard(scope, send):
            return
        body = self.prometheus.render()
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", CONTENT_TYPE.encode()), (b"content-length", str(len(body)).encode()),
                                (b"cache-control", b"no-store")]})
        await send({"type": "http.response.body", "body": body})

    async def asset(self, scope: Scope, receive: Receive, send: Send) -> None:
        a = self._assets[scope["path"]]
        headers = [(b"content-type", a.content_type), (b"etag", a.etag), (b"cache-control", b"no-cache"),
                   (b"x-content-type-options", b"nosniff"), (b"vary", b"accept-encoding")]
        if _header(scope, b"if-none-match") == a.etag:
            await send({"type": "http.response.start", "status": 304, "headers": headers})
            await send({"type": "http.response.body", "body": b""})
            return
        if scope["path"].endswith("/dashboard") or scope["path"].endswith("/"):
            headers.append((b"content-security-policy", b"default-src 'self'; img-src 'self' data:; "
                                                         b"frame-ancestors 'none'"))
        body = a.body
        if b"gzip" in _header(scope, b"accept-encoding"):
            body = a.gzipped
            headers.append((b"content-encoding", b"gzip"))
        headers.append((b"content-length", str(len(body)).encode()))
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})


def build_view(settings: Settings, tiers: Sequence[Tier]) -> View:
    """Tiers and locality from the built tiers; target mix and baseline price from the settings."""
    names = tuple(t.name for t in tiers)
    target = target_mix(settings) if names == settings.tier_names else default_target(names)
    from smallfirst.pipeline.local_cost import tiers_basis

    return View(names, frozenset(t.name for t in tiers if t.is_local), target, baseline_for(settings),
                tiers_basis(tiers))
