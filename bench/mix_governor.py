"""The mix governor on public outcome data whose difficulty drifts: does the *served* mix hold the target?

Data: the RouteLLM per-prompt outcomes (Mixtral-8x7B as `local`, GPT-4 as `frontier`; MMLU and GSM8K),
read from ../shared/data/routellm (or --data-dir), never copied. A learned router is trained on half of
the prompts and calibrated for the target mix on its out-of-fold scores; the other half is replayed as a
stream that drifts: MMLU, then GSM8K (harder for the small model), then MMLU again.

Serving is simulated from the data: a request routed to `local` whose local answer was wrong fails its
contract with probability --catch (the cascade escalates it and `frontier` answers), else it is served
locally (wrong). Three routers see the same stream:

* fixed      — the calibrated thresholds, no governor;
* picks      — governed, but fed the router's *picks* (what smallfirst did before);
* served     — governed, fed the tier that *served* each request (what the gateway does now).

Printed per router and phase: served local share (last 500 requests of the phase), requests after the
phase starts until the 500-request served share stays within ±3 points of the target, mean quality
(share of correct answers served) and frontier calls per request. A PNG of the rolling served share.

    .venv/bin/python bench/mix_governor.py [--target 0.7] [--catch 1.0] [--data-dir DIR] [--out mix.png]
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from smallfirst.core.types import ChatRequest, RequestRecord, Signals
from smallfirst.routing import calibrate as C
from smallfirst.routing.governed import GovernedRouter
from smallfirst.routing.learned import LearnedRouter, ThresholdsFile
from smallfirst.routing.outcomes import OutcomeTable
from smallfirst.routing.routellm import load_routellm
from smallfirst.routing.train import TrainSpec, train
from smallfirst.signals import extract

TIERS = ("local", "frontier")
WINDOW = 500
BAND = 0.03


@dataclass
class Item:
    request: ChatRequest
    signals: Signals
    local_ok: float
    frontier_ok: float
    bench: str


def load(data_dir: str | None, seed: int) -> tuple[OutcomeTable, dict[str, list[Item]]]:
    rows = load_routellm(["mmlu", "gsm8k"], data_dir=data_dir)
    by_prompt: dict[str, dict[str, float]] = {}
    text: dict[str, tuple[str, str]] = {}
    for r in rows:
        by_prompt.setdefault(r.prompt_id, {})[r.tier] = r.score
        text[r.prompt_id] = (r.prompt, r.dataset or "")
    ids = sorted(i for i, s in by_prompt.items() if len(s) == 2)
    rng = np.random.default_rng(seed)
    test = set(rng.choice(ids, size=len(ids) // 2, replace=False).tolist())
    table = OutcomeTable.from_rows([r for r in rows if r.prompt_id not in test and r.prompt_id in by_prompt],
                                   tiers=TIERS)
    stream: dict[str, list[Item]] = {"mmlu": [], "gsm8k": []}
    for i in sorted(test):
        prompt, dataset = text[i]
        req = ChatRequest(model="smallfirst/auto", messages=[{"role": "user", "content": prompt}],
                          body={"model": "smallfirst/auto"})
        bench = dataset.split("/")[-1]
        stream[bench].append(Item(req, extract(req), by_prompt[i]["local"], by_prompt[i]["frontier"], bench))
    for items in stream.values():
        rng.shuffle(items)
    return table, stream


def row(tier: str) -> RequestRecord:
    return RequestRecord(request_id="b", ts=0.0, requested_model="smallfirst/auto", tier=tier, model=tier,
                         endpoint=tier, status=200, error_code=None, reason="", escalations=(), attempts=(),
                         prompt_tokens=0, completion_tokens=0, cost_usd=0.0, latency_ms=0.0, ttft_ms=None,
                         stream=False)


def replay(router: LearnedRouter | GovernedRouter, items: Sequence[Item], feed: str, catch: float,
           seed: int) -> tuple[list[int], list[float], list[int]]:
    """(served local 0/1, quality, frontier calls) per request."""
    rng = np.random.default_rng(seed)
    local, quality, calls = [], [], []
    for it in items:
        pick = router.choose(it.request, it.signals, TIERS).tier
        served, q, n = pick, it.frontier_ok, 1
        if pick == "local":
            if it.local_ok >= 0.5 or rng.random() >= catch:
                served, q, n = "local", it.local_ok, 0
            else:
                served = "frontier"  # the contract check failed: escalated
        if isinstance(router, GovernedRouter):
            router.observe(row(served if feed == "served" else pick))
        local.append(1 if served == "local" else 0)
        quality.append(q)
        calls.append(n)
    return local, quality, calls


def settle(local: Sequence[int], start: int, end: int, target: float) -> int | None:
    """Requests after ``start`` until the 500-request share stays in the band up to ``end``."""
    ok = [abs(float(np.mean(local[i - WINDOW:i])) - target) <= BAND for i in range(max(start, WINDOW), end + 1)]
    for k in range(len(ok)):
        if all(ok[k:]):
            return max(start, WINDOW) + k - start
    return None


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--target", type=float, default=0.7, help="target served share of the local tier")
    ap.add_argument("--catch", type=float, default=1.0, help="share of wrong local answers the contract catches")
    ap.add_argument("--phase", type=int, default=1500, help="requests per MMLU phase")
    ap.add_argument("--data-dir", default=None)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default=None, help="PNG of the rolling served share")
    a = ap.parse_args()
    table, stream = load(a.data_dir, a.seed)
    print(f"train: {len(table)} prompts; stream: {len(stream['mmlu'])} MMLU + {len(stream['gsm8k'])} GSM8K held out")
    model = train(table, TrainSpec(folds=3, bits=16, c=1.0))
    assert model.oof is not None
    mix = [a.target, 1 - a.target]
    thr = C.calibrate_mix(model.oof, mix)
    thresholds = ThresholdsFile(tiers=TIERS, thresholds=C.thresholds_dict(TIERS, thr), method="mix",
                                target_mix=dict(zip(TIERS, mix, strict=True)))
    gsm = stream["gsm8k"]
    items = stream["mmlu"][:a.phase] + gsm + stream["mmlu"][a.phase:2 * a.phase]
    phases = [("mmlu", 0, a.phase), ("gsm8k", a.phase, a.phase + len(gsm)),
              ("mmlu again", a.phase + len(gsm), len(items))]
    results = {}
    for name in ("fixed", "picks", "served"):
        inner = LearnedRouter(model, thresholds)
        router: LearnedRouter | GovernedRouter = inner if name == "fixed" else GovernedRouter(
            inner, TIERS, thresholds.target_mix or {}, window=WINDOW, max_shift=0.3)
        results[name] = replay(router, items, name, a.catch, a.seed)
    print(f"\ntarget served local share {a.target:.2f} (band ±{BAND:.2f}); contract catches {a.catch:.0%} "
          "of wrong local answers")
    print(f"{'router':8} {'phase':11} {'local share':>11} {'to band':>8} {'quality':>8} {'frontier/req':>12}")
    for name, (local, quality, calls) in results.items():
        for phase, s, e in phases:
            tail = local[max(s, e - WINDOW):e]
            to_band = settle(local, s, e, a.target)
            print(f"{name:8} {phase:11} {np.mean(tail):11.3f} {str(to_band) if to_band is not None else 'never':>8} "
                  f"{np.mean(quality[s:e]):8.3f} {np.mean(calls[s:e]):12.3f}")
        print(f"{name:8} {'all':11} {np.mean(local):11.3f} {'':>8} {np.mean(quality):8.3f} {np.mean(calls):12.3f}")
    if a.out:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(9, 4))
        for name, (local, _, _) in results.items():
            roll = np.convolve(local, np.ones(WINDOW) / WINDOW, mode="valid")
            ax.plot(np.arange(WINDOW, len(local) + 1), roll, label=name)
        ax.axhspan(a.target - BAND, a.target + BAND, color="grey", alpha=0.2, label="target ±3 pt")
        for _, s, _ in phases[1:]:
            ax.axvline(s, color="black", lw=0.5, ls="--")
        ax.set_xlabel("request")
        ax.set_ylabel(f"served local share (last {WINDOW})")
        ax.legend()
        fig.tight_layout()
        fig.savefig(a.out, dpi=120)
        print(f"\nplot: {a.out}")


if __name__ == "__main__":
    main()
