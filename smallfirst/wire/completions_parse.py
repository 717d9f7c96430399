"""Validate a legacy OpenAI ``/v1/completions`` body into a chat-completions body.

The gateway's tiers are chat models, so a text completion is served through the chat template: the
``prompt`` becomes the one user message of the internal request, and every answer is the assistant's
reply to it (not a raw continuation of the prompt text). Fields:

* ``prompt``: a string, or a list holding one string; a list of several prompts and token-id prompts
  are refused (send one request per prompt);
* ``max_tokens`` (default 16, as OpenAI's), ``temperature``, ``top_p``, ``n``, ``stop``, ``seed``,
  ``presence_penalty``, ``frequency_penalty``, ``logit_bias``, ``user``, ``metadata``, ``stream``,
  ``stream_options``: as for chat completions;
* ``logprobs`` (an integer 0–5): the chat request's ``logprobs`` with that many ``top_logprobs``;
* ``suffix``, ``echo`` and ``best_of`` > 1 are refused: a chat template has no place for them.
"""

from __future__ import annotations

from typing import Any

from smallfirst.core.errors import BadRequestError

DEFAULT_MAX_TOKENS = 16  # OpenAI's default for /v1/completions
PASSED = ("temperature", "top_p", "n", "stop", "seed", "presence_penalty", "frequency_penalty", "logit_bias",
          "user", "metadata", "stream", "stream_options")
ACCEPTED = frozenset({"model", "prompt", "max_tokens", "logprobs", "suffix", "echo", "best_of", *PASSED})


def _bad(msg: str, param: str, hint: str = "") -> BadRequestError:
    return BadRequestError(msg, param=param, hint=hint)


def _prompt(body: dict[str, Any]) -> str:
    prompt = body.get("prompt")
    if isinstance(prompt, str):
        return prompt
    if isinstance(prompt, list) and prompt and all(isinstance(p, str) for p in prompt):
        if len(prompt) == 1:
            return str(prompt[0])
        raise _bad(f"'prompt' holds {len(prompt)} prompts; smallfirst serves one prompt per request",
                   "prompt", "send one request per prompt (n=… asks for several answers to one prompt)")
    if isinstance(prompt, list) and prompt and all(isinstance(p, int | list) for p in prompt):
        raise _bad("'prompt' as token ids is not supported: the tiers are served through their chat templates",
                   "prompt", "send the prompt as text")
    raise _bad("'prompt' is required and must be a string (or a list holding one string)", "prompt")


def _refuse_unsupported(body: dict[str, Any]) -> None:
    unknown = sorted(set(body) - ACCEPTED)
    if unknown:
        raise _bad(f"field(s) {unknown} are not supported on /v1/completions", unknown[0],
                   f"supported: {', '.join(sorted(ACCEPTED - {'suffix', 'echo', 'best_of'}))}")
    if body.get("suffix") not in (None, ""):
        raise _bad("'suffix' (insertion) is not supported: completions are served through a chat template",
                   "suffix", "put the text after the gap into the prompt and ask for the middle")
    if body.get("echo") not in (None, False):
        raise _bad("'echo' is not supported: completions are served through a chat template", "echo",
                   "prepend the prompt to the answer's text yourself")
    best_of = body.get("best_of")
    if best_of is not None and best_of != 1:
        raise _bad("'best_of' > 1 is not supported (the gateway does not rank candidates)", "best_of",
                   "ask for n answers and pick one yourself")


def _logprobs(body: dict[str, Any]) -> int | None:
    v = body.get("logprobs")
    if v is None:
        return None
    if isinstance(v, bool) or not isinstance(v, int) or not 0 <= v <= 5:
        raise _bad(f"'logprobs' must be an integer between 0 and 5 on /v1/completions, got {v!r}", "logprobs")
    return v


def to_chat_body(body: dict[str, Any]) -> dict[str, Any]:
    """The chat-completions body for the completions request ``body`` (checked further by the chat parser)."""
    _refuse_unsupported(body)
    prompt = _prompt(body)
    out: dict[str, Any] = {"model": body.get("model"), "messages": [{"role": "user", "content": prompt}]}
    max_tokens = body.get("max_tokens")
    out["max_tokens"] = DEFAULT_MAX_TOKENS if max_tokens is None else max_tokens
    for key in PASSED:
        if body.get(key) is not None:
            out[key] = body[key]
    top = _logprobs(body)
    if top is not None:
        out["logprobs"] = True
        out["top_logprobs"] = top
    return out
