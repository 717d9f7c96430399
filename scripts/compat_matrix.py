"""Run the compatibility suite (tests/compat) and write docs/compatibility.md from its results.

Each test module of the suite names its client library (``LIBRARY``), the scenarios the library has
no feature for (``NOT_APPLICABLE``) and holds one ``test_<scenario>`` per scenario it has, run once per
gateway config (``local``, ``local+upper``). A small pytest plugin collects every test's outcome; the
matrix is library × config (columns) by scenario (rows): pass / fail / xfail (a feature not built yet,
its reason below the table) / n.a. (the library has no such feature).

    .venv/bin/python scripts/compat_matrix.py                 # run the suite, write docs/compatibility.md
    .venv/bin/python scripts/compat_matrix.py --out /tmp/c.md -- -k openai   # extra pytest arguments

Exits with pytest's status (0 only when the whole suite is green).
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib
import importlib.metadata
import re
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
SUITE = "tests/compat"

# Libraries the suite was asked to cover that cannot be installed beside this project's pinned
# packages (openai 3.60.0, anthropic, httpx, pydantic, torch, and the rest of the environment) without
# changing one of them. Checked with `pip install --dry-run -c <pip freeze of the venv>`.
LEFT_OUT: dict[str, str] = {
    "instructor": (
        "every release conflicts: the recent ones pin jiter below the installed 0.19.0 (1.17.0: jiter<0.15, "
        "1.15.0: <0.13, 1.12.0: <0.11, 1.7.9: <0.9), older ones docstring-parser below the installed 0.18.0 "
        "(1.5.0: <0.17, 1.0.0 and 0.6.8: <0.16)."),
    "llama-index-llms-openai-like": (
        "0.6.0–0.8.1 need llama-index-llms-openai, whose releases all require openai<3 (0.8.x: openai>=1.108.1,<3; "
        "0.6.x: <2); 0.5.3 and older require transformers<5 (5.25.0 is installed). LlamaIndex's embeddings "
        "integration, llama-index-embeddings-openai-like 0.4.0, installs and is in the suite."),
}
ORDER = ("openai", "anthropic", "langchain-openai", "openai-agents", "litellm",  # columns, left first
         "llama-index-embeddings-openai-like")
NODE = re.compile(r"^(?P<file>[^:]+)::test_(?P<scenario>\w+)\[(?P<config>[^\]]+)\]$")


@dataclass
class Outcome:
    status: str  # pass | fail | xfail | skip
    note: str = ""


@dataclass
class Collector:
    """pytest plugin: the outcome of every test (setup and teardown errors count as failures)."""

    results: dict[str, Outcome] = field(default_factory=dict)

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if report.when == "call" or report.outcome != "passed":
            self.results[report.nodeid] = _outcome(report, self.results.get(report.nodeid))


def _outcome(report: pytest.TestReport, prior: Outcome | None) -> Outcome:
    if prior is not None and prior.status == "fail":
        return prior  # a failed call stays failed whatever teardown does
    if hasattr(report, "wasxfail"):
        return Outcome("xfail", str(report.wasxfail).removeprefix("reason: "))
    if report.skipped:
        longrepr: Any = report.longrepr
        return Outcome("skip", str(longrepr[2]) if isinstance(longrepr, tuple) else "")
    if report.failed:
        crash = getattr(report.longrepr, "reprcrash", None)
        note = crash.message if crash is not None else str(report.longrepr)
        return Outcome("fail", note.splitlines()[0][:200] if note else "")
    return Outcome("pass")


@dataclass
class Library:
    name: str
    version: str
    not_applicable: dict[str, str]
    not_tested: dict[str, str]
    cells: dict[tuple[str, str], Outcome] = field(default_factory=dict)  # (scenario, config) → outcome


def collect(results: dict[str, Outcome]) -> dict[str, Library]:
    libs: dict[str, Library] = {}
    for nodeid, outcome in sorted(results.items()):
        m = NODE.match(nodeid)
        if m is None:
            continue
        module = importlib.import_module(m["file"].removesuffix(".py").replace("/", "."))
        name = str(module.LIBRARY)
        lib = libs.get(name)
        if lib is None:
            lib = libs[name] = Library(name, importlib.metadata.version(name), dict(module.NOT_APPLICABLE),
                                      dict(getattr(module, "NOT_TESTED", {})))
        lib.cells[(m["scenario"], m["config"])] = outcome
    rank = {name: i for i, name in enumerate(ORDER)}
    return dict(sorted(libs.items(), key=lambda kv: (rank.get(kv[0], len(rank)), kv[0])))


def _git(*args: str) -> str:
    try:
        return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return ""


def render(libs: dict[str, Library], scenarios: dict[str, str], configs: Sequence[str], exit_code: int) -> str:
    notes: dict[str, int] = {}

    def cell(lib: Library, scenario: str, config: str) -> str:
        found = lib.cells.get((scenario, config))
        if found is None:
            why = lib.not_applicable.get(scenario)
            if why:
                return f"n.a.{_mark(notes, why)}"
            return f"not tested{_mark(notes, lib.not_tested.get(scenario))}"
        text = {"pass": "pass", "fail": "**FAIL**", "xfail": "xfail", "skip": "skipped"}[found.status]
        return text + (_mark(notes, found.note) if found.note else "")

    head = [f"{lib.name} · {cfg}" for lib in libs.values() for cfg in configs]
    rows = ["| scenario | " + " | ".join(head) + " |", "|---|" + "---|" * len(head)]
    for key, label in scenarios.items():
        rows.append(f"| {label} | " + " | ".join(cell(lib, key, cfg) for lib in libs.values() for cfg in configs)
                    + " |")
    counts = {s: sum(o.status == s for lib in libs.values() for o in lib.cells.values())
              for s in ("pass", "fail", "xfail", "skip")}
    commit = _git("rev-parse", "--short", "HEAD") or "unknown"
    dirty = " plus uncommitted changes in the working tree" if _git("status", "--porcelain", "--untracked-files=no") \
        else ""
    out = [
        "# Client compatibility",
        "",
        "Real client libraries against the gateway on 127.0.0.1 (`tests/compat`, part of `make test`), in two",
        "configs: **local** — one tier, the embedded SmolLM2-135M model (backend `embedded`); **local+upper** — the",
        "same local tier plus an upper tier on the `openai` preset whose server is a protocol-faithful fake",
        "(`tests/fakes/openai_server.py`). Which tier answered is read from the `x-smallfirst-tier` header, or",
        "from the requests the upper fake received where a library hides headers.",
        "",
        "SmolLM2-135M never chooses a tool by itself (the embedded backend declares `tools = false`): in the",
        "local config the *auto* tool tests check a well-formed prose answer from the local tier, the *named*",
        "and *streamed* ones a grammar-constrained call; in local+upper the auto, streamed and follow-up tool",
        "turns must be answered by the upper tier. Images are refused with a 400 naming the missing",
        "capability where no tier can see them.",
        "",
        "Run the suite alone with `.venv/bin/pytest tests/compat`; a cell marked *xfail* is a strict expected",
        "failure (`issue 14: …`): the feature is not built yet, and the test fails loudly once it is.",
        "",
        f"Generated by `python scripts/compat_matrix.py` on {dt.date.today().isoformat()} from commit `{commit}`"
        f"{dirty}: {counts['pass']} passed, {counts['fail']} failed, {counts['xfail']} xfailed, "
        f"{counts['skip']} skipped (pytest exit status {exit_code}).",
        "",
        "Versions: " + ", ".join(f"`{lib.name}` {lib.version}" for lib in libs.values()) + ".",
        "",
        *rows,
        "",
    ]
    if notes:
        out += ["Notes:", ""] + [f"{n}. {text}" for text, n in notes.items()] + [""]
    out += ["## Libraries left out", "",
            "They cannot be installed beside the project's pinned packages without changing one of them:", ""]
    out += [f"- **{name}**: {why}" for name, why in LEFT_OUT.items()]
    return "\n".join(out) + "\n"


def _mark(notes: dict[str, int], text: str | None) -> str:
    if not text:
        return ""
    number = notes.setdefault(text, len(notes) + 1)
    return f" [{number}]"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "compatibility.md")
    parser.add_argument("pytest_args", nargs="*", help="extra pytest arguments (after --)")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    collector = Collector()
    code = int(pytest.main(["-q", "-p", "no:cacheprovider", str(ROOT / SUITE), *args.pytest_args],
                           plugins=[collector]))
    from tests.compat.common import SCENARIOS
    from tests.compat.conftest import CONFIGS

    relative = {k.removeprefix(str(ROOT) + "/"): v for k, v in collector.results.items()}
    args.out.write_text(render(collect(relative), SCENARIOS, CONFIGS, code))
    print(f"wrote {args.out}")
    return code


if __name__ == "__main__":
    sys.exit(main())
