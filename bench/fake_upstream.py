"""A fast fake OpenAI upstream for load tests: realistic latency, negligible CPU.

``POST /v1/chat/completions`` answers ``words`` words after ``ttft_ms`` (time to first token), one
word every ``chunk_ms`` — as one JSON body, or as SSE chunks ending in ``data: [DONE]`` (a usage
chunk when ``stream_options.include_usage`` is set). Bodies are pre-serialised at start-up so the
upstream is never the bottleneck. ``GET /v1/models`` lists the model.

    python bench/fake_upstream.py --port 9000 [--ttft-ms 50] [--chunk-ms 20] [--words 10]
"""

from __future__ import annotations

import argparse
import asyncio
import json

from aiohttp import web


def build(model: str, words: int) -> tuple[bytes, list[bytes], bytes]:
    """(JSON completion, SSE content frames, SSE usage frame)."""
    pieces = [f"w{i} " for i in range(words - 1)] + [f"w{words - 1}"]
    usage = {"prompt_tokens": 12, "completion_tokens": words, "total_tokens": 12 + words}
    base = {"id": "chatcmpl-load", "created": 1700000000, "model": model}
    completion = json.dumps({**base, "object": "chat.completion", "usage": usage, "choices": [{
        "index": 0, "message": {"role": "assistant", "content": "".join(pieces)}, "finish_reason": "stop"}]})

    def frame(delta: dict[str, str], finish: str | None = None) -> bytes:
        obj = {**base, "object": "chat.completion.chunk",
               "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}
        return b"data: " + json.dumps(obj).encode() + b"\n\n"

    frames = [frame({"role": "assistant", "content": pieces[0]})]
    frames += [frame({"content": p}) for p in pieces[1:]]
    frames.append(frame({}, "stop"))
    usage_frame = b"data: " + json.dumps({**base, "object": "chat.completion.chunk", "choices": [],
                                          "usage": usage}).encode() + b"\n\n"
    return completion.encode(), frames, usage_frame


def app(ttft_s: float, chunk_s: float, words: int, model: str = "load-model") -> web.Application:
    completion, frames, usage_frame = build(model, words)

    async def chat(request: web.Request) -> web.StreamResponse:
        body = await request.json(loads=json.loads)
        await asyncio.sleep(ttft_s)
        if not body.get("stream"):
            await asyncio.sleep(chunk_s * (len(frames) - 2))
            return web.Response(body=completion, content_type="application/json")
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"})
        await resp.prepare(request)
        for i, f in enumerate(frames):
            if i and i < len(frames) - 1:
                await asyncio.sleep(chunk_s)
            await resp.write(f)
        if (body.get("stream_options") or {}).get("include_usage"):
            await resp.write(usage_frame)
        await resp.write(b"data: [DONE]\n\n")
        await resp.write_eof()
        return resp

    async def models(request: web.Request) -> web.Response:
        return web.json_response({"object": "list", "data": [{"id": model, "object": "model", "created": 0,
                                                              "owned_by": "bench"}]})

    a = web.Application()
    a.add_routes([web.post("/v1/chat/completions", chat), web.get("/v1/models", models)])
    return a


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--ttft-ms", type=float, default=50.0)
    ap.add_argument("--chunk-ms", type=float, default=20.0)
    ap.add_argument("--words", type=int, default=10)
    args = ap.parse_args()
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    web.run_app(app(args.ttft_ms / 1000, args.chunk_ms / 1000, args.words), host="127.0.0.1", port=args.port,
                access_log=None, print=None, backlog=4096)


if __name__ == "__main__":
    main()
