"""``GET /v1/models`` and ``GET /v1/models/{id}`` (OpenAI model objects), and the hint of an unknown route.

The list holds ``smallfirst/auto``, ``smallfirst/<tier>``, every configured model (``owned_by``
``smallfirst:<tier>``) and every ``[aliases]`` name (``owned_by`` ``smallfirst alias of <route>``).
"""

from __future__ import annotations

import difflib
import time
from collections.abc import Iterable, Mapping, Sequence

import orjson

from smallfirst.config.aliases import owned_by
from smallfirst.core.errors import ModelNotFoundError, NotFoundError
from smallfirst.server.asgi import Receive, Scope, Send, send_json, send_openai_error

PREFIX = "/v1/models/"


class Models:
    def __init__(self, served: Sequence[tuple[str, str]], aliases: Mapping[str, str]) -> None:
        self.entries: dict[str, str] = dict(served)
        for alias, target in aliases.items():
            self.entries.setdefault(alias, owned_by(target))
        self.created = int(time.time())

    def _object(self, model_id: str) -> dict[str, object]:
        return {"id": model_id, "object": "model", "created": self.created, "owned_by": self.entries[model_id]}

    async def list(self, scope: Scope, receive: Receive, send: Send) -> None:
        data = [self._object(i) for i in self.entries]
        await send_json(send, 200, orjson.dumps({"object": "list", "data": data}), [])

    async def retrieve(self, scope: Scope, receive: Receive, send: Send) -> None:
        model_id = scope["path"][len(PREFIX):]
        if model_id in self.entries:
            await send_json(send, 200, orjson.dumps(self._object(model_id)), [])
            return
        close = difflib.get_close_matches(model_id, list(self.entries), n=1, cutoff=0.5)
        hint = (f"did you mean {close[0]!r}? " if close else "") + f"served here: {', '.join(self.entries)}"
        await send_openai_error(send, ModelNotFoundError(f"The model {model_id!r} does not exist on this gateway",
                                                         param="model", hint=hint), "")


def route_not_found(method: str, path: str, routes: Iterable[tuple[str, str]]) -> NotFoundError:
    """A 404 whose hint lists the API's routes (and names the likely one for a path missing ``/v1``)."""
    api = sorted({(p, m) for m, p in routes if p.startswith("/v1/") or p == "/healthz"})
    listed = [f"{m} {p}" for p, m in api] + [f"GET {PREFIX}{{id}}"]
    paths = [p for p, _ in api]
    hint = ""
    if not path.startswith("/v1/") and "/v1" + path in paths:
        hint = f"did you mean /v1{path}? (the API lives under /v1: end the client's base URL with /v1); "
    else:
        close = difflib.get_close_matches(path, paths, n=1, cutoff=0.6)
        hint = f"did you mean {close[0]}? " if close else ""
    return NotFoundError(f"no route {method} {path}", hint=hint + "routes here: " + ", ".join(sorted(listed))
                         + " (operators: /admin/api/*, /metrics, /dashboard)")
