"""The router's admin surface: what is serving, a reload on demand, and its Prometheus view.

* ``GET /admin/api/router`` — the router's identity: for the learned router the artifact's and thresholds
  file's paths and SHA-256 (12 hex digits), when it was trained and loaded, reloads ok/failed and the last
  error; for other routers just the name.
* ``POST /admin/router/reload`` — load the learned router's files now (:mod:`smallfirst.routing.reload`):
  200 with the new identity, or 422 with the error while the running router stays. Other routers: 400.
  With ``serve --workers N`` it reaches one worker; the others follow by their own file watch.
* ``/metrics``: ``smallfirst_router_info{router, artifact_sha256, thresholds_sha256}`` (1),
  ``smallfirst_router_reloads_total{result}`` and ``smallfirst_router_loaded_timestamp_seconds``.

Both routes sit behind the admin key like the rest of ``/admin``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import orjson
from prometheus_client import CollectorRegistry
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from smallfirst.core.errors import BadRequestError
from smallfirst.server.asgi import Handler, Receive, Scope, Send, send_json, send_openai_error

STATUS_PATH = "/admin/api/router"
RELOAD_PATH = "/admin/router/reload"
Guard = Callable[[Scope, Send], Awaitable[bool]]


def router_status(router: Any, name: str) -> dict[str, Any]:
    """``name``: the configured router (``routing.router``)."""
    from smallfirst.routing.reload import reloadable

    r = reloadable(router)
    body: dict[str, Any] = r.status() if r is not None else {"router": name, "artifact": None}
    if hasattr(router, "corrections"):  # the mix governor
        body["governor"] = {"target": dict(router.target), "served": router.served_share(),
                            "corrections": router.corrections(),
                            "window": "shared" if getattr(router, "shared", None) is not None else "process"}
    return body


def routes(router: Any, name: str, guard: Guard) -> dict[tuple[str, str], Handler]:
    async def status(scope: Scope, receive: Receive, send: Send) -> None:
        if await guard(scope, send):
            await send_json(send, 200, orjson.dumps(router_status(router, name)), [(b"cache-control", b"no-store")])

    async def reload(scope: Scope, receive: Receive, send: Send) -> None:
        from smallfirst.routing.reload import reloadable

        if not await guard(scope, send):
            return
        r = reloadable(router)
        if r is None:
            await send_openai_error(send, BadRequestError(
                f"the running router ({name}) has no artifact to reload",
                hint="routing.router = 'learned' with routing.artifact reloads its files"), "")
            return
        body = await asyncio.to_thread(r.reload)
        r.adopt_pending()  # here, on the request path's thread: the next decision uses it
        await send_json(send, 200 if body["reloaded"] else 422, orjson.dumps(body), [(b"cache-control", b"no-store")])

    return {("GET", STATUS_PATH): status, ("POST", RELOAD_PATH): reload}


class RouterCollector(Collector):
    def __init__(self, router: Any, name: str) -> None:
        self._router = router
        self._name = name

    def collect(self) -> Iterator[GaugeMetricFamily | CounterMetricFamily]:
        from smallfirst.routing.reload import reloadable

        info = GaugeMetricFamily("smallfirst_router_info", "The router serving now (1); for the learned router "
                                 "the SHA-256 (12 hex) of its artifact and thresholds file",
                                 labels=["router", "artifact_sha256", "thresholds_sha256"])
        r = reloadable(self._router)
        if r is None:
            info.add_metric([self._name, "", ""], 1.0)
            yield info
            return
        ident = r.identity
        info.add_metric(["learned", ident.artifact_sha256 or "", ident.thresholds_sha256 or ""], 1.0)
        reloads = CounterMetricFamily("smallfirst_router_reloads", "Learned router reloads by result (failed: "
                                      "the running router kept)", labels=["result"])
        for result, n in r.reloads.items():
            reloads.add_metric([result], float(n))
        loaded = GaugeMetricFamily("smallfirst_router_loaded_timestamp_seconds", "When the serving router's "
                                   "files were loaded (Unix time)")
        loaded.add_metric([], ident.loaded_at)
        yield from (info, reloads, loaded)


def register(registry: CollectorRegistry, router: Any, name: str) -> None:
    registry.register(RouterCollector(router, name))
