"""Validate an OpenAI Responses API request and translate it into a chat-completions body.

What maps to what:

* ``input`` — a string (one user message) or a list of items: messages (``role`` user / system /
  developer / assistant, ``content`` a string or ``input_text`` / ``output_text`` / ``refusal`` /
  ``input_image`` parts), ``function_call`` items (→ the assistant's ``tool_calls``, merged into the
  assistant message before them) and ``function_call_output`` items (→ ``tool`` messages).
  ``reasoning`` items are dropped (no model here produces them, and none reads them back); a
  ``developer`` message becomes a ``system`` one, which every backend renders.
* ``instructions`` → a leading system message (not kept for ``previous_response_id``, as OpenAI does).
* ``tools`` — flat function tools ``{type: "function", name, description, parameters, strict}`` →
  chat tools; built-in tools (web search, file search, computer use, MCP …) are a clear 400.
* ``tool_choice`` (auto / none / required / a function / ``allowed_tools``), ``text.format`` (text,
  json_object, json_schema → ``response_format``), ``max_output_tokens`` → ``max_tokens``,
  ``temperature``, ``top_p``, ``metadata``, ``user``, ``parallel_tool_calls``, ``stream``.

Accepted and without effect (documented in the README): ``reasoning``, ``truncation``, ``include``
(bar logprobs), ``service_tier``, ``safety_identifier``, ``prompt_cache_key``,
``prompt_cache_retention``, ``max_tool_calls``, ``stream_options``, ``text.verbosity``,
``background: false``. ``store`` and ``previous_response_id`` are the adapter's
(:mod:`.openai_responses`). Anything else is a 400 naming the field. Checks the chat parser
(:func:`~smallfirst.wire.openai_parse.to_request`) makes on the translated body (numbers, metadata,
content parts) are made there, once; its errors are re-addressed to the Responses field.
"""

from __future__ import annotations

from typing import Any

from smallfirst.wire.fields import bad, obj, string

FIELDS = frozenset({"model", "input", "instructions", "tools", "tool_choice", "text", "max_output_tokens",
                    "temperature", "top_p", "metadata", "stream", "parallel_tool_calls", "store",
                    "previous_response_id", "user", "top_logprobs"})
IGNORED = frozenset({"reasoning", "truncation", "include", "service_tier", "safety_identifier", "prompt_cache_key",
                     "prompt_cache_retention", "max_tool_calls", "stream_options", "background"})
REFUSED = {
    "conversation": "the Conversations API is not served; send the whole conversation as 'input' (or, when the "
                    "gateway keeps responses, continue with 'previous_response_id')",
    "prompt": "stored prompt templates are not served; send the prompt's text as 'instructions' and 'input'",
}
ROLES = {"user": "user", "system": "system", "developer": "system", "assistant": "assistant"}
FORMATS = ("text", "json_object", "json_schema")


def _image(p: dict[str, Any], where: str) -> dict[str, Any]:
    url = p.get("image_url")
    if not isinstance(url, str) or not url:
        if p.get("file_id") is not None:
            raise bad("images by file_id are not supported (smallfirst serves no Files API)", f"{where}.file_id",
                      "send the image as image_url: an https URL or a data:image/...;base64 URL")
        raise bad("must be an https URL or a data: URL", f"{where}.image_url")
    image: dict[str, Any] = {"url": url}
    if isinstance(p.get("detail"), str):
        image["detail"] = p["detail"]
    return {"type": "image_url", "image_url": image}


def _parts(content: Any, where: str, role: str) -> str | list[dict[str, Any]]:
    """A message's content: a string, or chat parts when it holds images (text-only lists are joined)."""
    if isinstance(content, str):
        return content
    if not isinstance(content, list):
        raise bad("must be a string or an array of content parts", where)
    parts: list[dict[str, Any]] = []
    for j, raw in enumerate(content):
        pw = f"{where}[{j}]"
        p = obj(raw, pw)
        kind = p.get("type")
        if kind in ("input_text", "output_text"):
            parts.append({"type": "text", "text": string(p, "text", pw)})
        elif kind == "refusal" and role == "assistant":
            parts.append({"type": "text", "text": string(p, "refusal", pw)})
        elif kind == "input_image" and role == "user":
            parts.append(_image(p, pw))
        elif kind in ("input_file", "input_audio"):
            raise bad(f"{kind} parts are not supported by smallfirst", f"{pw}.type",
                      "extract the file's text and send it as an input_text part")
        else:
            raise bad(f"content part type {kind!r} is not supported in a {role} message", f"{pw}.type",
                      "use input_text (and input_image in user messages)")
    if all(p["type"] == "text" for p in parts):
        return "\n".join(p["text"] for p in parts)
    return parts


def _arguments(item: dict[str, Any], where: str) -> str:
    args = item.get("arguments", "")
    if not isinstance(args, str):
        raise bad("must be a string of JSON (the arguments the model produced)", f"{where}.arguments")
    return args


def _tool_output(item: dict[str, Any], where: str) -> str:
    out = item.get("output")
    if isinstance(out, str):
        return out
    if isinstance(out, list):
        texts = []
        for j, raw in enumerate(out):
            p = obj(raw, f"{where}.output[{j}]")
            if p.get("type") not in ("input_text", "output_text"):
                raise bad(f"output part type {p.get('type')!r} is not supported (text only)",
                          f"{where}.output[{j}].type", "send the tool's output as text")
            texts.append(string(p, "text", f"{where}.output[{j}]"))
        return "\n".join(texts)
    raise bad("must be a string or an array of input_text parts", f"{where}.output")


def input_messages(value: Any) -> tuple[list[dict[str, Any]], list[str]]:
    """``input`` as chat messages, with the ``input`` path each one came from (for error messages)."""
    if isinstance(value, str):
        return [{"role": "user", "content": value}], ["input"]
    if not isinstance(value, list) or not value:
        raise bad("is required: a string, or a non-empty array of input items", "input")
    out: list[dict[str, Any]] = []
    where: list[str] = []
    for i, raw in enumerate(value):
        w = f"input[{i}]"
        item = obj(raw, w)
        kind = item.get("type", "message")
        if kind == "message":
            role = item.get("role")
            if not isinstance(role, str) or role not in ROLES:
                raise bad(f"must be one of {sorted(ROLES)}, got {role!r}", f"{w}.role")
            out.append({"role": ROLES[role], "content": _parts(item.get("content"), f"{w}.content", role)})
            where.append(w)
        elif kind == "function_call":
            call = {"id": string(item, "call_id", w), "type": "function",
                    "function": {"name": string(item, "name", w), "arguments": _arguments(item, w)}}
            if out and out[-1]["role"] == "assistant":
                out[-1].setdefault("tool_calls", []).append(call)
            else:
                out.append({"role": "assistant", "content": None, "tool_calls": [call]})
                where.append(w)
        elif kind == "function_call_output":
            out.append({"role": "tool", "tool_call_id": string(item, "call_id", w),
                        "content": _tool_output(item, w)})
            where.append(w)
        elif kind == "item_reference":
            raise bad("item references are not supported", f"{w}.type",
                      "send the item itself (or continue with previous_response_id when the gateway keeps responses)")
        elif kind != "reasoning":  # a model's reasoning notes from an earlier turn: not sent on
            raise bad(f"input item type {kind!r} is not supported", f"{w}.type",
                      "send messages, function_call and function_call_output items")
    for m in out:  # an assistant message that only introduced tool calls had no text
        if m["role"] == "assistant" and m.get("tool_calls") and m["content"] == "":
            m["content"] = None
    return out, where


def _function_tools(body: dict[str, Any]) -> list[dict[str, Any]]:
    tools = body.get("tools")
    if tools is None:
        return []
    if not isinstance(tools, list):
        raise bad("must be an array of tools", "tools")
    out = []
    for i, raw in enumerate(tools):
        t = obj(raw, f"tools[{i}]")
        kind = t.get("type")
        if kind != "function":
            raise bad(f"built-in tool {kind!r} is not supported by smallfirst (function tools only)",
                      f"tools[{i}].type", "define it as a function tool (type 'function', name, parameters) "
                      "and run it in your code")
        fn: dict[str, Any] = {"name": string(t, "name", f"tools[{i}]")}
        for key, typ in (("description", str), ("parameters", dict), ("strict", bool)):
            v = t.get(key)
            if v is not None:
                if not isinstance(v, typ):
                    raise bad(f"must be a {typ.__name__.replace('dict', 'JSON schema object')}", f"tools[{i}].{key}")
                fn[key] = v
        out.append({"type": "function", "function": fn})
    return out


def _tool_choice(choice: Any, tools: list[dict[str, Any]]) -> tuple[Any, list[dict[str, Any]]]:
    """The chat ``tool_choice`` and the tools offered (``allowed_tools`` narrows them)."""
    if choice in ("auto", "none", "required"):
        return choice, tools
    c = obj(choice, "tool_choice")
    kind = c.get("type")
    if kind == "function":
        return {"type": "function", "function": {"name": string(c, "name", "tool_choice")}}, tools
    if kind == "allowed_tools":
        mode = c.get("mode")
        if mode not in ("auto", "required"):
            raise bad(f"must be 'auto' or 'required', got {mode!r}", "tool_choice.mode")
        allowed = c.get("tools")
        if not isinstance(allowed, list):
            raise bad("must be an array of {type: 'function', name}", "tool_choice.tools")
        names = {string(obj(a, "tool_choice.tools[]"), "name", "tool_choice.tools[]") for a in allowed}
        return mode, [t for t in tools if t["function"]["name"] in names]
    raise bad(f"type {kind!r} is not supported (function tools only)", "tool_choice.type",
              "use 'auto', 'none', 'required' or {type: 'function', name}")


def _text_format(body: dict[str, Any]) -> dict[str, Any] | None:
    text = body.get("text")
    if text is None:
        return None
    fmt = obj(text, "text").get("format")
    if fmt is None:
        return None
    f = obj(fmt, "text.format")
    kind = f.get("type")
    if kind not in FORMATS:
        raise bad(f"must be one of {list(FORMATS)}, got {kind!r}", "text.format.type")
    if kind == "text":
        return None
    if kind == "json_object":
        return {"type": "json_object"}
    js: dict[str, Any] = {"name": string(f, "name", "text.format"),
                          "schema": obj(f.get("schema"), "text.format.schema")}
    for key in ("strict", "description"):
        if f.get(key) is not None:
            js[key] = f[key]
    return {"type": "json_schema", "json_schema": js}


def _checks(body: dict[str, Any]) -> None:
    unknown = sorted(set(body) - FIELDS - IGNORED - set(REFUSED))
    if unknown:
        raise bad("is not a Responses API field smallfirst knows", unknown[0],
                  f"supported: {', '.join(sorted(FIELDS | IGNORED))}")
    for key, hint in REFUSED.items():
        if body.get(key) is not None:
            raise bad("is not supported by smallfirst", key, hint)
    if body.get("background") is True:
        raise bad("background responses are not supported by smallfirst", "background",
                  "send the request without 'background' (stream it if it takes long)")
    include = body.get("include")
    logprobs = isinstance(include, list) and "message.output_text.logprobs" in include
    if logprobs or (body.get("top_logprobs") or 0) != 0:
        raise bad("log-probabilities are not rendered on /v1/responses", "top_logprobs" if not logprobs else
                  "include", "use /v1/chat/completions with logprobs: true")


def to_chat(body: dict[str, Any], prior: list[dict[str, Any]]) -> tuple[dict[str, Any], list[str], int]:
    """The chat body for ``body`` after ``prior`` (a kept conversation), the ``input`` path of each of its
    messages, and how many of them lead before the conversation (the ``instructions``)."""
    _checks(body)
    messages, where = input_messages(body.get("input"))
    messages, where = [*prior, *messages], ["previous_response_id"] * len(prior) + where
    lead = 0
    instructions = body.get("instructions")
    if instructions is not None:
        if not isinstance(instructions, str):
            raise bad("must be a string", "instructions")
        if instructions:
            messages, where = [{"role": "system", "content": instructions}, *messages], ["instructions", *where]
            lead = 1
    out: dict[str, Any] = {"model": body.get("model"), "messages": messages}
    for src, dst in (("temperature", "temperature"), ("top_p", "top_p"), ("metadata", "metadata"),
                     ("user", "user"), ("stream", "stream")):
        if body.get(src) is not None:
            out[dst] = body[src]
    mot = body.get("max_output_tokens")
    if mot is not None:
        if isinstance(mot, bool) or not isinstance(mot, int) or mot < 1:
            raise bad(f"must be an integer >= 1, got {mot!r}", "max_output_tokens")
        out["max_tokens"] = mot
    if body.get("user") is not None and not isinstance(body["user"], str):
        raise bad("must be a string", "user")
    tools = _function_tools(body)
    choice = None
    if body.get("tool_choice") is not None:
        choice, tools = _tool_choice(body["tool_choice"], tools)
    if tools:
        out["tools"] = tools
        if choice is not None:
            out["tool_choice"] = choice
        ptc = body.get("parallel_tool_calls")
        if ptc is not None:
            if not isinstance(ptc, bool):
                raise bad("must be a boolean", "parallel_tool_calls")
            out["parallel_tool_calls"] = ptc
    fmt = _text_format(body)
    if fmt is not None:
        out["response_format"] = fmt
    return out, where, lead
