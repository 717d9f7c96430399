"""Write examples/outcomes.jsonl: a small, fixed sample of RouteLLM's public per-prompt outcomes.

Run once from the repository root with the RouteLLM tidy data at hand (Apache-2.0, lm-sys/RouteLLM;
see examples/README.md): ``python scripts/make_example_outcomes.py ../shared/data/routellm``.
The sample is every 50th MMLU prompt and every 25th GSM8K prompt (both tiers' rows kept together).
"""

from __future__ import annotations

import sys
from pathlib import Path

from smallfirst.routing.outcomes import write_outcomes
from smallfirst.routing.routellm import load_routellm


def main(data_dir: str) -> None:
    rows = load_routellm(("mmlu", "gsm8k"), data_dir=data_dir, tiers=("local", "frontier"))
    ids = sorted({(r.task or "", r.prompt_id) for r in rows})
    step = {"mmlu": 50, "gsm8k": 25}
    keep: set[str] = set()
    counters: dict[str, int] = {}
    for _, pid in ids:
        bench = pid.split("/", 1)[0]
        counters[bench] = counters.get(bench, 0) + 1
        if counters[bench] % step.get(bench, 10) == 0:
            keep.add(pid)
    sample = [r for r in rows if r.prompt_id in keep]
    n = write_outcomes(Path("examples/outcomes.jsonl"), sample)
    print(f"wrote {n} rows ({len(keep)} prompts) to examples/outcomes.jsonl")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "../shared/data/routellm")
