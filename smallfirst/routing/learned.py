"""The learned router: a trained artifact (``router train``) + thresholds (``router calibrate``), steered
by the mix governor (:mod:`smallfirst.routing.governed`) toward the calibrated or configured target.

Decision: the cheapest allowed tier ``t`` whose probability of being good enough reaches its threshold
(plus the governor's bounded offset); the artifact's top tier always qualifies; if no allowed tier
qualifies, the dearest allowed tier answers.

An artifact trained with ``--features embed`` or ``both`` embeds each live prompt with all-MiniLM-L6-v2
(the model starts loading in a background thread when the router is built, so the first request does not
pay the whole load; the decision then costs a few milliseconds on a CPU, on the request's thread). Other
artifacts never import torch.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from smallfirst.config.schema import Settings
from smallfirst.core.errors import ConfigError
from smallfirst.core.protocols import Router
from smallfirst.core.text import user_text
from smallfirst.core.types import ChatRequest, RouteChoice, Signals
from smallfirst.routing.model import LinearRouterModel

THRESHOLDS_FORMAT = "smallfirst-router-thresholds"
THRESHOLDS_VERSION = 1
DEFAULT_THRESHOLD = 0.5


@dataclass(frozen=True)
class ThresholdsFile:
    tiers: tuple[str, ...]
    thresholds: Mapping[str, float]
    method: str  # "mix" | "quality"
    target_mix: Mapping[str, float] | None = None
    quality_target: float | None = None
    expected: Mapping[str, Any] = field(default_factory=dict)
    source: str = ""

    def save(self, path: str | Path) -> Path:
        p = Path(path)
        doc = {"format": THRESHOLDS_FORMAT, "version": THRESHOLDS_VERSION, "tiers": list(self.tiers),
               "thresholds": dict(self.thresholds), "method": self.method,
               "target_mix": dict(self.target_mix) if self.target_mix else None,
               "quality_target": self.quality_target, "expected": dict(self.expected), "source": self.source,
               "calibrated_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
        p.write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
        return p

    @classmethod
    def load(cls, path: str | Path) -> ThresholdsFile:
        p = Path(path)
        try:
            doc = json.loads(p.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ConfigError(f"thresholds file {str(p)!r} not found",
                              hint="write one with `smallfirst router calibrate`") from None
        except json.JSONDecodeError as err:
            raise ConfigError(f"thresholds file {str(p)!r} is not valid JSON: {err.msg} (line {err.lineno})",
                              hint="rewrite it with `smallfirst router calibrate`") from None
        if not isinstance(doc, dict) or doc.get("format") != THRESHOLDS_FORMAT:
            raise ConfigError(f"{str(p)!r} is not a smallfirst thresholds file",
                              hint="write one with `smallfirst router calibrate`")
        thr = doc.get("thresholds")
        if not isinstance(thr, dict) or not all(isinstance(v, int | float) for v in thr.values()):
            raise ConfigError(f"{str(p)!r}: 'thresholds' must map tier names to numbers",
                              hint="rewrite it with `smallfirst router calibrate`")
        return cls(tiers=tuple(doc.get("tiers", ())), thresholds={k: float(v) for k, v in thr.items()},
                   method=str(doc.get("method", "")), target_mix=doc.get("target_mix"),
                   quality_target=doc.get("quality_target"), expected=doc.get("expected") or {},
                   source=str(doc.get("source", "")))


def thresholds_path_for(artifact: str | Path) -> Path:
    return Path(str(artifact) + ".thresholds.json")


def router_text(request: ChatRequest) -> str:
    """What the learned router reads: the user messages, joined (as in the outcomes format)."""
    return user_text(request.messages)


class LearnedRouter(Router):
    """Thresholds steer it: :meth:`choose` takes per-tier threshold ``offsets`` (the mix governor's
    corrections, :mod:`smallfirst.routing.governed`); its calibrated target mix is :attr:`target_mix`."""

    steered_by_thresholds = True

    def __init__(self, model: LinearRouterModel, thresholds: ThresholdsFile | None = None) -> None:
        self.model = model
        self.tiers = model.tiers
        self.calibrated = thresholds is not None
        base = dict(thresholds.thresholds) if thresholds else {}
        self.base = np.array([base.get(t, DEFAULT_THRESHOLD) for t in self.tiers[:-1]])
        self.target_mix: dict[str, float] | None = (
            {t: float(thresholds.target_mix.get(t, 0.0)) for t in self.tiers}
            if thresholds is not None and thresholds.target_mix else None)

    def _probs(self, request: ChatRequest, signals: Signals) -> np.ndarray[Any, np.dtype[np.float64]]:
        return self.model.probs(router_text(request), signals)

    def score(self, request: ChatRequest, signals: Signals) -> Mapping[str, float]:
        p = self._probs(request, signals)
        out = {t: round(float(v), 4) for t, v in zip(self.tiers[:-1], p, strict=True)}
        out[self.tiers[-1]] = 1.0
        return out

    def choose(self, request: ChatRequest, signals: Signals, tiers: Sequence[str],
               offsets: Mapping[str, float] | None = None) -> RouteChoice:
        if not tiers:
            raise ValueError("no tier is allowed for this request")
        p = self._probs(request, signals)
        thr = self.base + np.array([offsets.get(t, 0.0) for t in self.tiers[:-1]]) if offsets else self.base
        index = {t: i for i, t in enumerate(self.tiers)}
        chosen, why = tiers[-1], ""
        for t in tiers:
            i = index.get(t)
            if i is None:
                continue  # a tier the artifact was not trained on: cannot vouch for it
            if i == len(self.tiers) - 1:
                chosen, why = t, "no cheaper tier passed"
                break
            if p[i] >= thr[i]:
                chosen, why = t, f"p({t} ok)={p[i]:.2f} ≥ {thr[i]:.2f}"
                break
        else:
            why = "no trained tier allowed; dearest allowed"
        cheap = tiers[0]
        if why == "no cheaper tier passed" and cheap in index and index[cheap] < len(self.tiers) - 1:
            i = index[cheap]
            why = f"p({cheap} ok)={p[i]:.2f} < {thr[i]:.2f}"
        extra = [] if self.calibrated else ["uncalibrated"]
        tail = f"; {'; '.join(extra)}" if extra else ""
        scores = {t: round(float(v), 4) for t, v in zip(self.tiers[:-1], p, strict=True)}
        scores[self.tiers[-1]] = 1.0
        return RouteChoice(tier=chosen, reason=f"learned: {why} → {chosen}{tail}", scores=scores)


def from_config(settings: Settings) -> Router:
    rc = settings.routing
    if not rc.artifact:
        raise ConfigError("routing.router = 'learned' needs routing.artifact",
                          hint="train one with `smallfirst router train OUTCOMES --out router.npz`")
    model = LinearRouterModel.load(rc.artifact)
    unknown = [t for t in model.tiers if t not in settings.tier_names]
    if unknown:
        raise ConfigError(f"router artifact {rc.artifact!r} was trained for tier(s) {', '.join(unknown)} "
                          f"that the config does not have ({', '.join(settings.tier_names)})",
                          hint="retrain with --tiers matching the config's tier names")
    thr_path = Path(rc.thresholds) if rc.thresholds else thresholds_path_for(rc.artifact)
    thresholds = ThresholdsFile.load(thr_path) if (rc.thresholds or thr_path.is_file()) else None
    if model.embedder is not None:  # features embed / both: MiniLM loads now, off the request path
        model.embedder.warm_in_background()
    return LearnedRouter(model, thresholds)
