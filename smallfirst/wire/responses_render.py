"""OpenAI Responses API shapes: the ``response`` object, its output items, the SSE event sequence, errors.

A stream follows the Responses API: ``response.created``, ``response.in_progress``, then per output item
``response.output_item.added``, for a message ``response.content_part.added`` / ``response.output_text.delta``
… ``response.output_text.done`` / ``response.content_part.done``, for a function call
``response.function_call_arguments.delta`` … ``.done``, then ``response.output_item.done``; it ends with
``response.completed`` (or ``response.incomplete`` when the answer was cut at ``max_output_tokens``). An
upstream failure after the first byte ends it with ``error`` and ``response.failed``. Every event carries a
``sequence_number`` and an ``event:`` line, as OpenAI sends them.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping
from typing import Any

import orjson

from smallfirst.core.errors import SmallfirstError
from smallfirst.core.types import ChatChunk, ChatResponse, Usage

INCOMPLETE = {"length": "max_output_tokens", "content_filter": "content_filter"}
OnDone = Callable[[list[dict[str, Any]]], None]  # called with the output items of a finished answer


def response_id(request_id: str) -> str:
    return "resp_" + request_id.removeprefix("req-")


def _new_id(prefix: str) -> str:
    return prefix + os.urandom(12).hex()


def usage(u: Usage) -> dict[str, Any]:
    return {"input_tokens": u.prompt_tokens, "input_tokens_details": {"cached_tokens": 0, "cache_write_tokens": 0},
            "output_tokens": u.completion_tokens, "output_tokens_details": {"reasoning_tokens": 0},
            "total_tokens": u.total_tokens}


def _arguments(raw: Any) -> str:
    return raw if isinstance(raw, str) else orjson.dumps(raw).decode() if raw is not None else ""


def message_item(text: str, status: str = "completed", item_id: str = "") -> dict[str, Any]:
    return {"type": "message", "id": item_id or _new_id("msg_"), "role": "assistant", "status": status,
            "content": [{"type": "output_text", "text": text, "annotations": [], "logprobs": []}]}


def call_item(call: Mapping[str, Any], status: str = "completed") -> dict[str, Any]:
    fn = call.get("function") or {}
    return {"type": "function_call", "id": _new_id("fc_"), "call_id": str(call.get("id") or _new_id("call_")),
            "name": fn.get("name") or "", "arguments": _arguments(fn.get("arguments")), "status": status}


def output_items(resp: ChatResponse) -> list[dict[str, Any]]:
    """A completed chat answer as Responses output items: the message (if any text), then each tool call."""
    status = "incomplete" if resp.finish_reason in INCOMPLETE else "completed"
    items = [message_item(resp.content, status)] if resp.content else []
    return items + [call_item(c) for c in resp.message.get("tool_calls") or []]


def response(rid: str, created: int, model: str, echo: Mapping[str, Any], output: list[dict[str, Any]],
             status: str, u: Usage | None, finish: str | None = None,
             error: dict[str, Any] | None = None) -> dict[str, Any]:
    """The ``response`` object. ``echo`` holds the request's settings the object repeats."""
    reason = INCOMPLETE.get(finish or "") if status == "incomplete" else None
    return {"id": rid, "object": "response", "created_at": created, "status": status,
            "completed_at": int(time.time()) if status == "completed" else None, "background": False,
            "error": error, "incomplete_details": {"reason": reason} if reason else None, "model": model,
            "output": output, "usage": usage(u) if u is not None else None, **echo}


def status_of(finish: str | None) -> str:
    return "incomplete" if finish in INCOMPLETE else "completed"



def _event(kind: str, seq: int, data: dict[str, Any]) -> bytes:
    return (b"event: " + kind.encode() + b"\ndata: " + orjson.dumps({"type": kind, "sequence_number": seq, **data})
            + b"\n\n")


class ResponseFrames:
    """Renders one stream's ChatChunks as Responses API events (the gateway's StreamFrames)."""

    def __init__(self, rid: str, created: int, model: str, echo: Mapping[str, Any], on_done: OnDone | None) -> None:
        self._head = (rid, created, model, echo)
        self._on_done = on_done
        self._seq = 0
        self._started = False
        self._items: list[dict[str, Any]] = []
        self._text: int | None = None  # output index of the open message
        self._calls: dict[int, int] = {}  # chat tool-call index → output index (open until the end)
        self._finish: str | None = None

    def _emit(self, out: list[bytes], kind: str, **data: Any) -> None:
        out.append(_event(kind, self._seq, data))
        self._seq += 1

    def _response(self, status: str, u: Usage | None = None, error: dict[str, Any] | None = None) -> dict[str, Any]:
        rid, created, model, echo = self._head
        return response(rid, created, model, echo, self._items if status != "in_progress" else [], status, u,
                        self._finish, error)

    def _start(self, out: list[bytes]) -> None:
        if not self._started:
            self._started = True
            self._emit(out, "response.created", response=self._response("in_progress"))
            self._emit(out, "response.in_progress", response=self._response("in_progress"))

    def _add(self, out: list[bytes], item: dict[str, Any]) -> int:
        self._items.append(item)
        index = len(self._items) - 1
        self._emit(out, "response.output_item.added", output_index=index, item={**item, "status": "in_progress"})
        return index

    def _close_text(self, out: list[bytes], status: str = "completed") -> None:
        if self._text is None:
            return
        index, self._text = self._text, None
        item = self._items[index]
        item["status"] = status
        part = item["content"][0]
        ids = {"item_id": item["id"], "output_index": index, "content_index": 0}
        self._emit(out, "response.output_text.done", **ids, text=part["text"], logprobs=[])
        self._emit(out, "response.content_part.done", **ids, part=part)
        self._emit(out, "response.output_item.done", output_index=index, item=item)

    def chunk(self, c: ChatChunk) -> bytes:
        out: list[bytes] = []
        self._start(out)
        text = c.delta.get("content")
        if isinstance(text, str) and text:
            if self._text is None:
                self._text = self._add(out, {**message_item(""), "content": []})
                item = self._items[self._text]
                item["content"] = [{"type": "output_text", "text": "", "annotations": [], "logprobs": []}]
                self._emit(out, "response.content_part.added", item_id=item["id"], output_index=self._text,
                           content_index=0, part=item["content"][0])
            item = self._items[self._text]
            item["content"][0]["text"] += text
            self._emit(out, "response.output_text.delta", item_id=item["id"], output_index=self._text,
                       content_index=0, delta=text, logprobs=[])
        for call in c.delta.get("tool_calls") or []:
            ti = int(call.get("index", 0))
            fn = call.get("function") or {}
            if ti not in self._calls:
                self._close_text(out)
                self._calls[ti] = self._add(out, call_item({**call, "function": {**fn, "arguments": ""}}))
            item = self._items[self._calls[ti]]
            if fn.get("name") and not item["name"]:
                item["name"] = fn["name"]
            args = fn.get("arguments")
            if args is not None and (delta := _arguments(args)):
                item["arguments"] += delta
                self._emit(out, "response.function_call_arguments.delta", item_id=item["id"],
                           output_index=self._calls[ti], delta=delta)
        if c.finish_reason is not None:
            self._finish = c.finish_reason
        return b"".join(out)

    def tail(self, u: Usage) -> bytes:
        out: list[bytes] = []
        self._start(out)
        status = status_of(self._finish)
        self._close_text(out, status)
        for index in sorted(self._calls.values()):
            item = self._items[index]
            item["status"] = "completed"
            self._emit(out, "response.function_call_arguments.done", item_id=item["id"], output_index=index,
                       arguments=item["arguments"])
            self._emit(out, "response.output_item.done", output_index=index, item=item)
        self._emit(out, f"response.{status}", response=self._response(status, u))
        if self._on_done is not None:
            self._on_done(self._items)
        return b"".join(out)

    def error(self, err: SmallfirstError) -> bytes:
        out: list[bytes] = []
        self._start(out)
        body = err.to_openai()["error"]
        self._emit(out, "error", code=err.code, message=body["message"], param=err.param)
        self._emit(out, "response.failed", response=self._response(
            "failed", error={"code": "server_error", "message": body["message"]}))
        return b"".join(out)
