"""Wire formats as adapters: each translates one API's request to the one internal request
(:class:`~smallfirst.core.types.ChatRequest`) and the engine's answer, stream and errors back.

An adapter is all a new API needs (plus a route in :mod:`smallfirst.server.app`): the generic handler
(:mod:`smallfirst.server.handler`) does authentication, admission, the engine call, streaming with
disconnect and shutdown handling, the request log and the decision headers once for every format.
"""

from __future__ import annotations

from typing import Any, Protocol

from smallfirst.core.errors import SmallfirstError
from smallfirst.core.types import ChatRequest, ChatResponse, Decision
from smallfirst.request import RequestContext
from smallfirst.stream import Stream
from smallfirst.wire.openai_render import StreamFrames

Headers = list[tuple[bytes, bytes]]

__all__ = ["Headers", "StreamFrames", "WireFormat"]


class WireFormat(Protocol):
    """One API's shapes. ``request`` raises :class:`~smallfirst.core.errors.BadRequestError` naming the field."""

    def request(self, body: dict[str, Any], headers: Headers, api_key_id: str | None) -> ChatRequest: ...

    def answer(self, resp: ChatResponse, ctx: RequestContext, decision: Decision) -> tuple[bytes, Headers]: ...

    def frames(self, request: ChatRequest, ctx: RequestContext, stream: Stream) -> StreamFrames: ...

    def error(self, err: SmallfirstError, request_id: str) -> tuple[bytes, Headers]: ...
