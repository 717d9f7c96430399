"""End to end: the boundary screen keeps every positive sentence of the PII eval set off the remote tier.

The local tier (a fake OpenAI server declared ``location = "local"``) is down, slow past its timeout, or
answers 500; the only other tier, ``frontier``, is an OpenAI-compatible fake on 127.0.0.1 declared
``location = "us"`` (so it counts as remote) and ``routing.fallback_up_chain`` is on. A deterministic subset
of the bundled ``smallfirst-pii-eval-v1`` positives (every 7th sentence of each group, ~300) goes through
the gateway with the official ``openai`` SDK (plain and streamed) and the ``anthropic`` SDK on
``/v1/messages`` (plain and streamed). None of the sentences' span texts may show up in a body the remote
fake recorded, and every call gets a 403/503 refusal or a local answer, never the remote's. A benign
control prompt does reach the remote fake, so the zero is not an artefact of a broken chain.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import anthropic
import openai
import pytest

from smallfirst.sensitivity.evalset import EvalSample, load
from tests.fakes.base import Fault
from tests.fakes.openai_server import FakeOpenAI
from tests.helpers.gateway import free_port
from tests.integration.gateway.conftest import GatewayFactory

STRIDE = 7  # every 7th positive of each group: 193 structured + 86 names_places + 22 date = 301
LOCAL_REPLY = "LOCAL-ANSWER-7f3a"
REMOTE_REPLY = "REMOTE-ANSWER-9c1e"
CONTROL = "What is the capital of France?"
WORKERS = 16


def subset() -> list[EvalSample]:
    """Every ``STRIDE``-th positive sample of each group (ordered by id): deterministic and stratified."""
    by_group: dict[str, list[EvalSample]] = defaultdict(list)
    for s in load():
        if not s.negative:
            by_group[s.group].append(s)
    out: list[EvalSample] = []
    for group in sorted(by_group):
        out.extend(sorted(by_group[group], key=lambda s: s.id)[::STRIDE])
    return out


SAMPLES = subset()


@dataclass
class Upstreams:
    local: FakeOpenAI
    frontier: FakeOpenAI


@pytest.fixture
def upstreams() -> Iterator[Upstreams]:
    with FakeOpenAI(model="local-model", reply=LOCAL_REPLY).in_thread() as local, \
            FakeOpenAI(model="frontier-model", reply=REMOTE_REPLY).in_thread() as frontier:
        yield Upstreams(local, frontier)


def config(up: Upstreams, local_url: str | None) -> dict[str, Any]:
    local = {"backend": "openai_compat", "model": "local-model", "base_url": local_url or up.local.base_url,
             "location": "local", "timeout_s": 0.3, "first_token_timeout_s": 0.3, "breaker_failures": 0}
    return {
        "routing": {"fallback_up_chain": True},
        "tiers": [
            {"name": "local", "endpoints": [local]},
            {"name": "frontier", "endpoints": [{"backend": "openai_compat", "model": "frontier-model",
                                                "base_url": up.frontier.base_url, "location": "us",
                                                "breaker_failures": 0}]},
        ]}


def send(url: str, text: str, how: str) -> tuple[str, str]:
    """One call through an official SDK; returns (outcome, detail): ``blocked`` / ``local`` / ``remote`` /
    ``other``."""
    try:
        if how.startswith("openai"):
            oc = openai.OpenAI(base_url=url + "/v1", api_key="unused", max_retries=0, timeout=20)
            try:
                msgs: Any = [{"role": "user", "content": text}]
                if how == "openai-stream":
                    stream = oc.chat.completions.create(model="smallfirst/auto", messages=msgs, stream=True)
                    answer = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
                else:
                    answer = oc.chat.completions.create(model="smallfirst/auto",
                                                        messages=msgs).choices[0].message.content or ""
            finally:
                oc.close()
        else:
            ac = anthropic.Anthropic(base_url=url, api_key="unused", max_retries=0, timeout=20)
            try:
                amsgs: Any = [{"role": "user", "content": text}]
                if how == "anthropic-stream":
                    events = ac.messages.create(model="smallfirst/auto", max_tokens=64, messages=amsgs,
                                                stream=True)
                    answer = "".join(e.delta.text for e in events
                                     if e.type == "content_block_delta" and e.delta.type == "text_delta")
                else:
                    msg = ac.messages.create(model="smallfirst/auto", max_tokens=64, messages=amsgs)
                    answer = "".join(b.text for b in msg.content if b.type == "text")
            finally:
                ac.close()
    except (openai.APIStatusError, anthropic.APIStatusError) as e:
        return ("blocked" if e.status_code in (403, 503) else "other"), str(e.status_code)
    except (openai.APIError, anthropic.APIError) as e:
        return "other", type(e).__name__
    if REMOTE_REPLY in answer:
        return "remote", answer
    if LOCAL_REPLY in answer:
        return "local", answer
    return "other", answer


HOWS = ("openai", "openai-stream", "anthropic", "anthropic-stream")


def recorded_bodies(srv: FakeOpenAI) -> list[str]:
    return [json.dumps(r.body, ensure_ascii=False) if not isinstance(r.body, bytes)
            else r.body.decode("utf-8", "replace") for r in srv.requests if r.method == "POST"]


@pytest.mark.slow
@pytest.mark.parametrize("fault", ["down", "slow", "error_500"])
def test_boundary_screen_keeps_eval_positives_off_the_remote_tier(gateway: GatewayFactory, upstreams: Upstreams,
                                                                  fault: str) -> None:
    up = upstreams
    local_url = None
    if fault == "down":
        local_url = f"http://127.0.0.1:{free_port()}/v1"  # nothing listens: connection refused
    elif fault == "slow":
        up.local.inject(Fault(delay_s=2.0, times=0))  # no first byte within timeout_s / first_token_timeout_s
    else:
        up.local.inject(Fault(status=500, times=0))
    assert len(SAMPLES) >= 250 and {s.group for s in SAMPLES} == {"structured", "names_places", "date"}

    with gateway(config(up, local_url)) as (url, _):
        with ThreadPoolExecutor(WORKERS) as pool:
            outcomes = list(pool.map(lambda i: send(url, SAMPLES[i].text, HOWS[i % len(HOWS)]),
                                     range(len(SAMPLES))))
        before_control = len(recorded_bodies(up.frontier))
        control = send(url, CONTROL, "openai")

    # the control: a benign prompt does fall back to the remote tier when the local one fails
    assert control[0] == "remote", control
    bodies = recorded_bodies(up.frontier)
    assert len(bodies) == before_control + 1 and CONTROL in bodies[-1]

    leaked = [(s.id, s.group, s.span_text(span)) for s in SAMPLES for span in s.spans
              if any(s.span_text(span) in b for b in bodies[:before_control])]
    counts = Counter(o for o, _ in outcomes)
    summary = (f"{fault}: sent {len(SAMPLES)}, outcomes {dict(counts)}, remote requests {before_control}, "
               f"leaked spans {len(leaked)} ({len({x[0] for x in leaked})} samples)")
    print(summary)
    wrong = [(SAMPLES[i].id, SAMPLES[i].group, HOWS[i % len(HOWS)], o)
             for i, o in enumerate(outcomes) if o[0] not in ("blocked", "local")]
    assert not wrong, f"{summary}; not refused nor local: {wrong[:10]}"
    assert not leaked, f"{summary}; first: {leaked[:10]}"
    assert before_control == 0, summary
