"""A fake OpenAI Chat Completions server; bodies are built from the official ``openai`` SDK types.

Routes: ``GET /v1/models``, ``POST /v1/chat/completions`` (JSON or SSE with ``data: [DONE]``;
usage chunk only when ``stream_options.include_usage`` is true, as OpenAI does), ``POST /v1/embeddings``
(deterministic unit vectors of hashed words, ``embedding_dims`` long or ``dimensions``; float or base64).
Answers are an echo of the last user message (or ``reply``), tool calls when tools are offered, a schema example
for ``response_format`` json_schema, logprobs when asked, ``finish_reason="length"`` past
``max_tokens``. ``n`` > 1 gives n choices (indexes 0…n-1; choice i > 0 ends with `` (i)`` so they
differ, as sampled answers do), usage counting the tokens of all of them. See :mod:`tests.fakes.base`
for faults.
"""

from __future__ import annotations

import base64
import hashlib
import json
import time
from dataclasses import replace
from typing import Any

from aiohttp import web
from openai.types import CompletionUsage, CreateEmbeddingResponse, Embedding, Model
from openai.types import create_embedding_response as cer
from openai.types.chat import (
    ChatCompletion,
    ChatCompletionChunk,
    ChatCompletionMessage,
    ChatCompletionMessageFunctionToolCall,
    ChatCompletionTokenLogprob,
)
from openai.types.chat import chat_completion as cc
from openai.types.chat import chat_completion_chunk as ccc
from openai.types.chat.chat_completion_message_function_tool_call import Function
from openai.types.chat.chat_completion_token_logprob import TopLogprob
from openai.types.shared import ErrorObject

from tests.fakes.base import Answer, FakeServer, Fault, estimate_tokens, schema_example, text_of, write_stream

_DEFAULT_ERRORS = {
    401: ("Incorrect API key provided. You can find your API key at https://platform.openai.com/account/api-keys.",
          "invalid_request_error", "invalid_api_key"),
    404: ("The model does not exist or you do not have access to it.", "invalid_request_error", "model_not_found"),
    429: ("Rate limit reached for requests. Please try again in 2s.", "requests", "rate_limit_exceeded"),
    500: ("The server had an error while processing your request. Sorry about that!", "server_error", None),
    503: ("The engine is currently overloaded, please try again later", "server_error", None),
}


def error_response(status: int, message: str, etype: str, code: str | None, param: str | None = None,
                   headers: dict[str, str] | None = None) -> web.Response:
    body = {"error": ErrorObject(message=message, type=etype, param=param, code=code).model_dump(
        mode="json", exclude_unset=True)}
    return web.json_response(body, status=status, headers=headers)


def fake_vector(text: str, dims: int) -> list[float]:
    """A deterministic unit vector: each lower-cased word adds ±1 at a hashed position."""
    v = [0.0] * dims
    for word in text.lower().split() or [""]:
        h = hashlib.sha256(word.encode()).digest()
        v[int.from_bytes(h[:4], "little") % dims] += 1.0 if h[4] & 1 else -1.0
    norm = sum(x * x for x in v) ** 0.5 or 1.0
    return [x / norm for x in v]


class FakeOpenAI(FakeServer):
    default_model = "gpt-fake"
    logprob = -0.05  # every token's log-probability
    embedding_dims = 16  # length of /v1/embeddings vectors when the request sends no "dimensions"

    @property
    def base_url(self) -> str:
        return self.url + "/v1"

    def routes(self) -> list[web.RouteDef]:
        return [web.get("/v1/models", self.models), web.post("/v1/chat/completions", self.chat),
                web.post("/v1/embeddings", self.embeddings)]

    async def models(self, request: web.Request) -> web.Response:
        await self.record(request)
        if (denied := self._auth(request)) is not None:
            return denied
        data = [Model(id=self.model, created=1_700_000_000, object="model", owned_by="fake").model_dump(
            mode="json", exclude_unset=True)]
        return web.json_response({"object": "list", "data": data})

    def _auth(self, request: web.Request) -> web.Response | None:
        if self.api_key is None or request.headers.get("Authorization") == f"Bearer {self.api_key}":
            return None
        got = request.headers.get("Authorization", "").removeprefix("Bearer ")
        return error_response(401, f"Incorrect API key provided: {got}. You can find your API key at "
                              "https://platform.openai.com/account/api-keys.", "invalid_request_error",
                              "invalid_api_key")

    async def chat(self, request: web.Request) -> web.StreamResponse:
        rec = await self.record(request)
        if (denied := self._auth(request)) is not None:
            return denied
        body = rec.body
        if not isinstance(body, dict) or not isinstance(body.get("messages"), list):
            return error_response(400, "We could not parse the JSON body of your request.",
                                  "invalid_request_error", None)
        fault = self.take_fault()
        if await self.before_first_byte(request, fault):
            return web.Response()
        if fault is not None and fault.status is not None:
            msg, etype, code = _DEFAULT_ERRORS.get(fault.status, ("Bad request.", "invalid_request_error", None))
            headers = {"Retry-After": fault.retry_after} if fault.retry_after else None
            return error_response(fault.status, fault.message or msg, etype, fault.code or code, headers=headers)
        texts = [text_of(m.get("content")) for m in body["messages"]]
        prompt_tokens = estimate_tokens(texts)
        if self.context_window is not None and prompt_tokens > self.context_window:
            return error_response(
                400, f"This model's maximum context length is {self.context_window} tokens. However, your "
                f"messages resulted in {prompt_tokens} tokens. Please reduce the length of the messages.",
                "invalid_request_error", "context_length_exceeded", param="messages")
        last_user = next((t for m, t in zip(reversed(body["messages"]), reversed(texts), strict=True)
                          if m.get("role") == "user"), "")
        answer = self._answer(body, last_user)
        n = body.get("n") or 1
        if not isinstance(n, int) or isinstance(n, bool) or not 1 <= n <= 128:
            return error_response(400, f"{n!r} is not valid for 'n': it must be an integer between 1 and 128",
                                  "invalid_request_error", "invalid_value", param="n")
        answers = [answer, *(self._variant(answer, i) for i in range(1, n))]
        completion_tokens = sum(max(1, len(a.words)) for a in answers)
        usage = CompletionUsage(prompt_tokens=prompt_tokens, completion_tokens=completion_tokens,
                                total_tokens=prompt_tokens + completion_tokens)
        if body.get("stream"):
            error = {"error": ErrorObject(message=fault.message if fault and fault.message else
                                          "The server had an error while processing your request.",
                                          type="server_error", param=None, code=fault.code if fault else None)
                     .model_dump(mode="json", exclude_unset=True)}
            return await write_stream(request, _sse_response(), self._sse(body, answers, usage), fault,
                                      b"data: " + json.dumps(error).encode() + b"\n\n")
        return web.json_response(self._completion(body, answers, usage).model_dump(mode="json", exclude_unset=True))

    @staticmethod
    def _variant(answer: Answer, i: int) -> Answer:
        return answer if answer.tool_calls else replace(answer, text=f"{answer.text} ({i})")

    async def embeddings(self, request: web.Request) -> web.StreamResponse:
        rec = await self.record(request)
        if (denied := self._auth(request)) is not None:
            return denied
        body = rec.body
        raw = body.get("input") if isinstance(body, dict) else None
        texts = [raw] if isinstance(raw, str) else raw
        if not isinstance(texts, list) or not texts or not all(isinstance(t, str) and t for t in texts):
            return error_response(400, "'$.input' is invalid. Please check the API reference: "
                                  "https://platform.openai.com/docs/api-reference.", "invalid_request_error", None)
        assert isinstance(body, dict)
        fault = self.take_fault()
        if await self.before_first_byte(request, fault):
            return web.Response()
        if fault is not None and fault.status is not None:
            msg, etype, code = _DEFAULT_ERRORS.get(fault.status, ("Bad request.", "invalid_request_error", None))
            headers = {"Retry-After": fault.retry_after} if fault.retry_after else None
            return error_response(fault.status, fault.message or msg, etype, fault.code or code, headers=headers)
        dims = body.get("dimensions") or self.embedding_dims
        rows: list[Any] = [fake_vector(t, int(dims)) for t in texts]
        if body.get("encoding_format") == "base64":
            import numpy as np

            rows = [base64.b64encode(np.asarray(r, dtype="<f4").tobytes()).decode() for r in rows]
        tokens = estimate_tokens(texts)
        # model_construct: a base64 row is a string, which the SDK's type (list[float]) does not describe
        resp = CreateEmbeddingResponse.model_construct(
            object="list", model=self.model, usage=cer.Usage(prompt_tokens=tokens, total_tokens=tokens),
            data=[Embedding.model_construct(object="embedding", index=i, embedding=r) for i, r in enumerate(rows)])
        return web.json_response(resp.model_dump(mode="json", warnings=False))

    def _answer(self, body: dict[str, Any], last_user: str) -> Answer:
        tools = [t["function"] for t in body.get("tools") or [] if t.get("type") == "function"]
        choice = body.get("tool_choice", "auto")
        last = body["messages"][-1] if body["messages"] else {}
        if tools and choice == "auto" and isinstance(last, dict) and last.get("role") == "tool":
            # the tool's result came back: answer with it in prose, as a model ending its tool loop does
            return self.answer(text_of(last.get("content")), body.get("max_tokens"))
        if tools and choice != "none":
            if isinstance(choice, dict):
                tools = [t for t in tools if t["name"] == choice["function"]["name"]]
            return self.answer(last_user, None, [(tools[0]["name"], tools[0].get("parameters", {}))])
        fmt = body.get("response_format") or {}
        if fmt.get("type") == "json_schema":
            return Answer(json.dumps(schema_example(fmt["json_schema"].get("schema", {}))))
        if fmt.get("type") == "json_object":
            return Answer(json.dumps({"echo": last_user}))
        return self.answer(last_user, body.get("max_tokens") or body.get("max_completion_tokens"))

    def _finish(self, answer: Answer) -> Any:
        return "tool_calls" if answer.tool_calls else ("length" if answer.truncated else "stop")

    def _logprobs(self, body: dict[str, Any], words: list[str]) -> list[ChatCompletionTokenLogprob] | None:
        if not body.get("logprobs"):
            return None
        top = int(body.get("top_logprobs") or 0)
        return [ChatCompletionTokenLogprob(
            token=w, bytes=list(w.encode()), logprob=self.logprob,
            top_logprobs=[TopLogprob(token=w, bytes=list(w.encode()), logprob=self.logprob)][:top])
            for w in words]

    def _choice(self, body: dict[str, Any], answer: Answer, index: int) -> cc.Choice:
        calls: list[Any] = [ChatCompletionMessageFunctionToolCall(id=f"call_{i}", type="function", function=Function(
            name=name, arguments=json.dumps(args))) for i, (name, args) in enumerate(answer.tool_calls)]
        message = ChatCompletionMessage(role="assistant", content=None if calls else answer.text,
                                        refusal=None, tool_calls=calls or None)
        lp = self._logprobs(body, answer.words)
        return cc.Choice(index=index, message=message, finish_reason=self._finish(answer),
                         logprobs=cc.ChoiceLogprobs(content=lp, refusal=None) if lp else None)

    def _completion(self, body: dict[str, Any], answers: list[Answer], usage: CompletionUsage) -> ChatCompletion:
        return ChatCompletion(
            id="chatcmpl-fake0001", object="chat.completion", created=int(time.time()), model=self.model,
            system_fingerprint="fp_fake", usage=usage,
            choices=[self._choice(body, a, i) for i, a in enumerate(answers)])

    def _sse(self, body: dict[str, Any], answers: list[Answer], usage: CompletionUsage) -> list[bytes]:
        """Each choice's events in turn (choice ``index`` on each), then the usage chunk and [DONE]."""
        include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
        created = int(time.time())

        index = 0

        def chunk(delta: ccc.ChoiceDelta | None, finish: Any = None, lp: Any = None,
                  final_usage: CompletionUsage | None = None) -> bytes:
            obj = ChatCompletionChunk(
                id="chatcmpl-fake0001", object="chat.completion.chunk", created=created, model=self.model,
                system_fingerprint="fp_fake",
                choices=[] if delta is None else [ccc.Choice(index=index, delta=delta, finish_reason=finish,
                                                             logprobs=lp)])
            data = obj.model_dump(mode="json", exclude_unset=True)
            if include_usage:
                data["usage"] = final_usage.model_dump(mode="json") if final_usage else None
            return b"data: " + json.dumps(data).encode() + b"\n\n"

        out: list[bytes] = []
        for k, answer in enumerate(answers):
            index = k  # read by chunk()
            out.append(chunk(ccc.ChoiceDelta(role="assistant", content="", refusal=None)))
            for i, (name, args) in enumerate(answer.tool_calls):
                text = json.dumps(args)
                out.append(chunk(ccc.ChoiceDelta(tool_calls=[ccc.ChoiceDeltaToolCall(
                    index=i, id=f"call_{i}", type="function",
                    function=ccc.ChoiceDeltaToolCallFunction(name=name, arguments=""))])))
                for j in range(0, len(text), 8):
                    out.append(chunk(ccc.ChoiceDelta(tool_calls=[ccc.ChoiceDeltaToolCall(
                        index=i, function=ccc.ChoiceDeltaToolCallFunction(arguments=text[j:j + 8]))])))
            for w in answer.words:
                lp = self._logprobs(body, [w])
                out.append(chunk(ccc.ChoiceDelta(content=w),
                                 lp=ccc.ChoiceLogprobs(content=lp, refusal=None) if lp else None))
            out.append(chunk(ccc.ChoiceDelta(), finish=self._finish(answer)))
        if include_usage:
            out.append(chunk(None, final_usage=usage))
        out.append(b"data: [DONE]\n\n")
        return out


def _sse_response() -> web.StreamResponse:
    return web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"})

__all__ = ["FakeOpenAI", "Fault"]
