"""`smallfirst prompt "…"`: one question through the gateway's routing, in this process (no server).

The pipeline is the one ``smallfirst serve`` builds from the same config (tiers, policies, router, cascade,
residency), and the request is logged like any other (gateway keys are not asked for: whoever can read
the config and the log runs it). The prompt comes from the argument or, without one,
from stdin (``echo hi | smallfirst prompt``); ``--json`` prints the answer with the routing decision.
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from smallfirst.cli.errors import UsageError

if TYPE_CHECKING:
    from smallfirst.config.schema import Settings


def _body(text: str, system: str | None, model: str, max_tokens: int | None,
          temperature: float | None) -> dict[str, Any]:
    messages = ([{"role": "system", "content": system}] if system else []) + [{"role": "user", "content": text}]
    body: dict[str, Any] = {"model": model, "messages": messages}
    if max_tokens is not None:
        body["max_tokens"] = max_tokens
    if temperature is not None:
        body["temperature"] = temperature
    return body


async def ask(settings: Settings, body: dict[str, Any]) -> dict[str, Any]:
    """Answer one OpenAI-shaped chat body through the full pipeline; the answer and how it was routed."""
    from smallfirst.core.errors import SmallfirstError
    from smallfirst.pipeline import build_pipeline
    from smallfirst.wire.openai_parse import to_request

    request = to_request(body)
    pipe = build_pipeline(settings)
    engine = pipe.engine()
    ctx = engine.context()
    ctx.requested_model = request.model
    if engine.store_prompts:
        ctx.prompt_text = request.text()
    try:
        try:
            resp, decision = await engine.complete(request, ctx)
        except SmallfirstError as err:
            engine.record(ctx, status=err.status, error=err)  # logged like a failed gateway request
            raise
        engine.record(ctx, status=200, decision=decision, usage=resp.usage, response_text=resp.content)
    finally:
        await engine.aclose()
        await asyncio.to_thread(pipe.access.close)
        await asyncio.to_thread(pipe.store.close)
    return {"answer": resp.content, "tier": decision.tier, "model": decision.model, "endpoint": decision.endpoint,
            "reason": decision.reason, "escalations": list(decision.escalations),
            "cost_usd": decision.cost_usd, "finish_reason": resp.finish_reason,
            "usage": {"prompt_tokens": resp.usage.prompt_tokens, "completion_tokens": resp.usage.completion_tokens}}


def prompt(
    text: Annotated[str | None, typer.Argument(help="the prompt (default: read from stdin)")] = None,
    config: Annotated[Path | None, typer.Option("--config", "-c", help="smallfirst.toml path")] = None,
    system: Annotated[str | None, typer.Option("--system", "-s", help="system message")] = None,
    model: Annotated[str, typer.Option("--model", "-m", help="smallfirst/auto (routed), smallfirst/<tier>, or a "
                                       "served model id")] = "smallfirst/auto",
    max_tokens: Annotated[int | None, typer.Option(min=1, max=1_000_000, help="answer length limit")] = None,
    temperature: Annotated[float | None, typer.Option(min=0.0, max=2.0, help="sampling temperature")] = None,
    json_out: Annotated[bool, typer.Option("--json", help="print the answer and the routing decision as JSON")
                        ] = False,
) -> None:
    """Ask once through the same routing as the gateway, without a server; print the answer."""
    from smallfirst.config.loader import DEFAULT_PATH, load

    if text is None:
        if sys.stdin.isatty():
            raise UsageError("no prompt given", hint='pass it as an argument (smallfirst prompt "…") or on stdin')
        text = sys.stdin.read()
    if not text.strip():
        raise UsageError("the prompt is empty", hint='e.g. smallfirst prompt "Name three primary colours."')
    if config is None and Path(DEFAULT_PATH).is_file():
        typer.echo(f"prompt: using ./{DEFAULT_PATH} from the current folder (pass -c FILE to use another)", err=True)
    settings = load(config)
    out = asyncio.run(ask(settings, _body(text, system, model, max_tokens, temperature)))
    if json_out:
        typer.echo(json.dumps(out, ensure_ascii=False))
        return
    typer.echo(out["answer"])
    via = f" after {', '.join(out['escalations'])}" if out["escalations"] else ""
    typer.echo(f"[{out['tier']} · {out['model']} · {out['reason']}{via} · ${out['cost_usd']:.6f}]", err=True)
