"""``POST /v1/responses``: the OpenAI Responses API (``client.responses.create``, the Agents SDK's default).

Requests are validated and translated to the internal (chat-shaped) request by :mod:`.responses_parse`
and the chat parser; answers, streams and errors are rendered as Responses objects and events by
:mod:`.responses_render`.

``store`` and ``previous_response_id`` are honest about what the host keeps. With ``[responses] store =
true`` the gateway keeps each response (input and output text, opt-in like ``log.store_prompts``) in the
log's SQLite file for ``ttl_s`` (:mod:`.responses_store`); ``store: false`` keeps nothing, and
``previous_response_id`` continues a kept conversation of the same key. Without it, nothing is kept:
``previous_response_id`` and an explicit ``store: true`` are a 400 that says how to send the whole
conversation instead, and every response says ``"store": false``.
"""

from __future__ import annotations

import logging
import re
import sqlite3
from dataclasses import dataclass, fields
from typing import Any

import orjson

from smallfirst.config.schema import Settings
from smallfirst.core.errors import BadRequestError, SmallfirstError
from smallfirst.core.types import ChatRequest, ChatResponse, Decision
from smallfirst.request import RequestContext
from smallfirst.stream import Stream
from smallfirst.wire import Headers, StreamFrames
from smallfirst.wire import responses_render as render
from smallfirst.wire.fields import bad
from smallfirst.wire.openai_parse import to_request
from smallfirst.wire.responses_parse import to_chat
from smallfirst.wire.responses_store import ResponseStore

PATH = "/v1/responses"
log = logging.getLogger(__name__)
_MESSAGE_PARAM = re.compile(r"^messages\[(\d+)\]")


@dataclass(frozen=True, slots=True)
class Turn:
    """What the adapter needs again when it renders: the settings the response object repeats, and the
    conversation to keep (None when this response is not kept)."""

    echo: dict[str, Any]
    history: list[dict[str, Any]] | None = None


@dataclass(frozen=True, slots=True)
class ResponsesRequest(ChatRequest):
    """The internal request, carrying its :class:`Turn` (``dataclasses.replace`` keeps it)."""

    turn: Turn | None = None


def _echo(body: dict[str, Any], kept: bool) -> dict[str, Any]:
    raw = body.get("text")
    text: dict[str, Any] = raw if isinstance(raw, dict) else {}
    return {"instructions": body.get("instructions"), "metadata": body.get("metadata") or {},
            "parallel_tool_calls": body.get("parallel_tool_calls", True), "temperature": body.get("temperature"),
            "tool_choice": body.get("tool_choice") or "auto", "tools": body.get("tools") or [],
            "top_p": body.get("top_p"), "max_output_tokens": body.get("max_output_tokens"),
            "previous_response_id": body.get("previous_response_id"),
            "reasoning": {"effort": None, "summary": None},  # accepted, not applied
            "text": {**text, "format": text.get("format") or {"type": "text"}}, "truncation": "disabled",
            "user": body.get("user"), "store": kept}


def _readdress(err: BadRequestError, where: list[str]) -> BadRequestError:
    """A chat-parser error on ``messages[i]…`` named by the Responses field the message came from."""
    m = _MESSAGE_PARAM.match(err.param or "")
    if m is None or int(m.group(1)) >= len(where):
        return BadRequestError(err.message.replace("'messages'", "'input'"),
                               param="input" if err.param == "messages" else err.param, hint=err.hint)
    param = where[int(m.group(1))] + (err.param or "")[m.end():]
    return BadRequestError(err.message.replace(err.param or "", param), param=param, hint=err.hint)


def assistant_message(items: list[dict[str, Any]]) -> dict[str, Any]:
    """Output items back as the chat assistant message a kept conversation continues from."""
    text = "".join(p.get("text", "") for i in items if i["type"] == "message" for p in i["content"])
    calls = [{"id": i["call_id"], "type": "function", "function": {"name": i["name"], "arguments": i["arguments"]}}
             for i in items if i["type"] == "function_call"]
    msg: dict[str, Any] = {"role": "assistant", "content": text or (None if calls else "")}
    if calls:
        msg["tool_calls"] = calls
    return msg


class OpenAIResponses:
    def __init__(self, store: ResponseStore | None = None) -> None:
        self.store = store

    def _prior(self, body: dict[str, Any], api_key_id: str | None) -> tuple[list[dict[str, Any]], bool]:
        """The kept conversation ``previous_response_id`` continues, and whether this response is kept."""
        flag, prev = body.get("store"), body.get("previous_response_id")
        if flag is not None and not isinstance(flag, bool):
            raise bad(f"must be a boolean, got {flag!r}", "store")
        if prev is not None and (not isinstance(prev, str) or not prev):
            raise bad("must be a response id string (resp_…)", "previous_response_id")
        if self.store is None:
            if flag is True:
                raise bad("this gateway does not keep responses, so store: true cannot be honoured", "store",
                          "leave 'store' out or send store: false, and send the whole conversation as 'input'; "
                          "the operator can keep responses with [responses] store = true")
            if prev is not None:
                raise bad("this gateway does not keep responses, so there is nothing to continue",
                          "previous_response_id",
                          "send the whole conversation as 'input' (earlier messages, function_call and "
                          "function_call_output items); the operator can keep responses with [responses] store = true")
            return [], False
        prior: list[dict[str, Any]] = []
        if prev is not None:
            found = self.store.get(prev, api_key_id)
            if found is None:
                raise bad(f"no kept response {prev!r}", "previous_response_id",
                          f"responses are kept for {self.store.ttl_s:g} s, for the key that made them, unless sent "
                          "with store: false; send the whole conversation as 'input' instead")
            prior = found
        return prior, flag is not False

    def request(self, body: dict[str, Any], headers: Headers, api_key_id: str | None) -> ChatRequest:
        prior, kept = self._prior(body, api_key_id)
        chat_body, where, lead = to_chat(body, prior)
        try:
            chat = to_request(chat_body, headers=headers, api_key_id=api_key_id)
        except BadRequestError as err:
            raise _readdress(err, where) from None
        turn = Turn(_echo(body, kept), list(chat.messages[lead:]) if kept else None)
        return ResponsesRequest(**{f.name: getattr(chat, f.name) for f in fields(ChatRequest)}, turn=turn)

    def _keep(self, rid: str, turn: Turn, key_id: str | None, model: str, items: list[dict[str, Any]]) -> None:
        if self.store is None or turn.history is None:
            return
        try:
            self.store.put(rid, key_id, model, [*turn.history, assistant_message(items)])
        except sqlite3.Error as err:  # the answer stands; a later previous_response_id gets a clear 400
            log.warning("could not keep response %s for previous_response_id: %s", rid, err)

    def answer(self, resp: ChatResponse, ctx: RequestContext, decision: Decision) -> tuple[bytes, Headers]:
        req = ctx.request
        turn = req.turn if isinstance(req, ResponsesRequest) and req.turn is not None else Turn(_echo({}, False))
        rid, model = render.response_id(ctx.request_id), resp.model or decision.model
        items = render.output_items(resp)
        self._keep(rid, turn, ctx.api_key_id, model, items)
        body = render.response(rid, int(ctx.ts), model, turn.echo, items, render.status_of(resp.finish_reason),
                               resp.usage, resp.finish_reason)
        return orjson.dumps(body), []

    def frames(self, request: ChatRequest, ctx: RequestContext, stream: Stream) -> StreamFrames:
        turn = request.turn if isinstance(request, ResponsesRequest) and request.turn is not None else \
            Turn(_echo({}, False))
        rid, model, key_id = render.response_id(ctx.request_id), stream.model, ctx.api_key_id

        def keep(items: list[dict[str, Any]]) -> None:
            self._keep(rid, turn, key_id, model, items)

        return render.ResponseFrames(rid, int(ctx.ts), model, turn.echo, keep)

    def error(self, err: SmallfirstError, request_id: str) -> tuple[bytes, Headers]:
        return orjson.dumps(err.to_openai()), []

    def close(self) -> None:
        if self.store is not None:
            self.store.close()


def build(settings: Settings) -> OpenAIResponses:
    """The adapter for ``settings``: with a :class:`ResponseStore` beside the request log when
    ``[responses] store`` is on."""
    cfg = settings.responses
    return OpenAIResponses(ResponseStore(settings.log.path, cfg.ttl_s) if cfg.store else None)
