"""README.md's "A 5-minute tour", run from the README itself: every command, in order, must succeed.

The commands are read from the first ```bash block under "## A 5-minute tour" (continuation lines and
heredocs joined), so the README and this test cannot drift apart. Two stand-ins, and nothing else:
``make run`` (the install is this venv) starts ``smallfirst serve`` on a free port, which replaces
8080 in every command; ``xdg-open URL`` (a browser) becomes ``curl -sf URL``. Each command runs with
bash in a fresh folder holding links to the repository's ``.venv`` and ``examples/``, with no API key
set and nothing but 127.0.0.1 to talk to.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]


def tour_commands(readme: str) -> list[str]:
    """The tour's shell commands, one string each (comments and blank lines dropped)."""
    section = readme.split("## A 5-minute tour", 1)[1]
    block = section.split("```bash\n", 1)[1].split("\n```", 1)[0]
    commands: list[str] = []
    lines = block.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        i += 1
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        cmd = line
        while cmd.endswith("\\") and i < len(lines):
            cmd = cmd + "\n" + lines[i]
            i += 1
        heredoc = re.search(r"<<'?(\w+)'?", cmd)
        if heredoc:
            end = heredoc.group(1)
            while i < len(lines):
                cmd += "\n" + lines[i]
                i += 1
                if lines[i - 1] == end:
                    break
        commands.append(cmd)
    return commands


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_healthy(url: str, proc: subprocess.Popen[str], timeout_s: float = 120) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"the gateway exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            time.sleep(0.3)
    raise AssertionError(f"the gateway did not answer {url}")


def test_tour_commands_are_found() -> None:
    commands = tour_commands((REPO / "README.md").read_text(encoding="utf-8"))
    assert commands[0].startswith("make run") and commands[1].startswith("export PATH=")
    verbs = [c.split()[1] for c in commands if c.startswith("smallfirst ")]
    assert verbs == ["plan", "config", "models", "prompt", "eval", "router", "router", "report"]
    assert any(c.startswith("python - <<'EOF'") and c.endswith("\nEOF") for c in commands)


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_readme_tour_runs_in_order(tmp_path: Path) -> None:
    commands = tour_commands((REPO / "README.md").read_text(encoding="utf-8"))
    (tmp_path / ".venv").symlink_to(REPO / ".venv")
    (tmp_path / "examples").symlink_to(REPO / "examples")
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.endswith("_API_KEY") and k != "SMALLFIRST_DEBUG"}
    env["COLUMNS"] = "120"
    env["SMALLFIRST_CACHE_DIR"] = str(tmp_path / "cache")  # plan's measurement cache, not the user's
    exports: list[str] = []
    server: subprocess.Popen[str] | None = None
    log = (tmp_path / "serve.log").open("w")
    try:
        for raw in commands:
            cmd = raw.replace("127.0.0.1:8080", f"127.0.0.1:{port}")
            if cmd.startswith("make run"):
                server = subprocess.Popen([str(REPO / ".venv" / "bin" / "smallfirst"), "serve", "--port", str(port)],
                                          cwd=tmp_path, env=env, stdout=log, stderr=subprocess.STDOUT, text=True)
                _wait_healthy(f"http://127.0.0.1:{port}/healthz", server)
                continue
            if cmd.startswith("xdg-open "):
                cmd = "curl -sf -o /dev/null " + cmd.split()[1]
            if cmd.startswith("export "):
                exports.append(cmd.split("#", 1)[0].strip())
            script = "set -eo pipefail\n" + "\n".join(exports) + "\n" + cmd
            t0 = time.monotonic()
            p = subprocess.run(["bash", "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True,
                               timeout=300, check=False)
            took = time.monotonic() - t0
            assert p.returncode == 0, f"`{raw}` exited {p.returncode} after {took:.1f} s:\n{p.stdout}\n{p.stderr}"
            assert "Traceback" not in p.stderr, p.stderr
            if "chat/completions" in cmd:
                assert "x-smallfirst-tier: local" in p.stdout.lower()
            if cmd.startswith("smallfirst router bench"):
                assert took < 120, f"router bench took {took:.0f} s"
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=30)
        log.close()
    assert (tmp_path / "router.npz").is_file() and (tmp_path / "runs" / "base" / "outcomes.jsonl").is_file()
