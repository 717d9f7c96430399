"""`smallfirst plan` and `smallfirst catalog` end to end through the real CLI app."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from smallfirst.cli.main import build, main

runner = CliRunner()


def _invoke(*args: str) -> str:
    result = runner.invoke(build(), list(args), env={"COLUMNS": "220"})
    assert result.exit_code == 0, (result.output, result.exception)
    return result.stdout


def test_single_estimate_json_has_the_documented_keys() -> None:
    out = _invoke("plan", "--model", "llama-3.1-8b-instruct", "--quant", "Q4_K_M", "--context", "4096", "--json")
    d = json.loads(out)
    for key in ("model", "quant", "context", "weights_gb", "kv_cache_gb", "overhead_gb", "total_gb", "tokens_per_s"):
        assert key in d
    assert (d["model"], d["quant"], d["context"]) == ("llama-3.1-8b-instruct", "Q4_K_M", 4096)
    assert d["weights_gb"] == pytest.approx(4.9, rel=0.01)
    assert d["kv_cache_gb"] == pytest.approx(32 * 2 * 8 * 128 * 4096 * 2 / 1e9, abs=1e-3)
    assert d["total_gb"] == pytest.approx(d["weights_gb"] + d["kv_cache_gb"] + d["overhead_gb"], abs=2e-3)


def test_single_estimate_with_a_profile_has_speed_and_accepts_ollama_tags() -> None:
    d = json.loads(_invoke("plan", "--model", "llama3.1:8b", "--hardware", "nvidia-rtx-4090", "--json"))
    assert d["model"] == "llama-3.1-8b-instruct" and d["quant"] == "Q4_K_M"  # auto = the tag's quantisation
    assert d["tokens_per_s"] == pytest.approx(1008 / (4.918 + 0.079) * 0.725, rel=0.02)
    assert d["fits"] is True and d["backend"] == "cuda"


def test_single_estimate_table() -> None:
    out = _invoke("plan", "--model", "phi-3.5-mini-instruct", "--hardware", "apple-16gb-any")
    assert "phi-3.5-mini-instruct" in out and "no grouped KV heads" in out and "breaks" in out


def test_plan_json_and_plot(tmp_path: Path) -> None:
    png = tmp_path / "cost.png"
    d = json.loads(_invoke("plan", "--hardware", "nvidia-dgx-spark", "--requests-per-day", "2000",
                           "--mix", "narrow=60,knowledge=30,reasoning=10", "--plot", str(png), "--json"))
    assert d["machine"]["profile"] == "nvidia-dgx-spark"
    assert d["recommended_local"]["fits"] is True
    assert d["tier_mix"]["local"] == pytest.approx(0.6)
    busy = json.loads(_invoke("plan", "--hardware", "nvidia-dgx-spark", "--requests-per-day", "500000", "--json"))
    capacity = busy["local_capacity_requests_per_day"]
    assert busy["tier_mix"]["local"] == pytest.approx(capacity / 500000, abs=1e-3)  # one box is full
    assert {s["strategy"] for s in d["monthly_cost"]} == {"all-frontier", "tiered", "local-only"}
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert d["plot_written"] == str(png)


def test_plan_write_then_config_validate(tmp_path: Path) -> None:
    cfg = tmp_path / "smallfirst.toml"
    out = _invoke("plan", "--hardware", "apple-m5-max", "--sensitive-share", "0.3", "--local-backend", "ollama",
                  "--all-tiers", "--frontier-model", "anthropic/claude-sonnet-4-5", "--write", str(cfg))
    assert "wrote config" in out
    validated = _invoke("config", "validate", str(cfg))
    assert validated.startswith("ok:") and "local(1) → mid(1) → frontier(1)" in validated


def test_plan_write_serves_here_by_default(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No Ollama and no API keys: the bundled model serves, API tiers are commented out as 'needs KEY'."""
    for var in ("OPENAI_API_KEY", "ANTHROPIC_API_KEY"):
        monkeypatch.delenv(var, raising=False)
    cfg = tmp_path / "smallfirst.toml"
    out = _invoke("plan", "--hardware", "apple-m5-max", "--write", str(cfg))
    assert "serving tiers: local" in out
    text = cfg.read_text()
    assert 'model = "smollm2-135m-instruct"' in text and "planned local model:" in text
    assert "# tier 'mid' needs OPENAI_API_KEY" in text and '# backend = "openai"' in text
    validated = _invoke("config", "validate", str(cfg))
    assert "tiers local(1);" in validated
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    out = _invoke("plan", "--hardware", "apple-m5-max", "--write", str(cfg), "--force")
    assert "serving tiers: local, mid, frontier" in out


def test_plan_table_mentions_costs_and_assumptions() -> None:
    out = _invoke("plan", "--hardware", "laptop-32gb-ddr5", "--latency-s", "20", "--tariff", "0.25")
    assert "Monthly cost" in out and "all-frontier" in out and "Assumptions" in out


@pytest.mark.slow
def test_plan_measures_this_machine() -> None:
    d = json.loads(_invoke("plan", "--measure", "--model", "smollm2-135m-instruct", "--json"))
    assert d["machine"]["bandwidth_source"].startswith("measured")
    assert d["machine"]["bandwidth_gbps"] > 0 and d["tokens_per_s"] > 0


def test_catalog_listings() -> None:
    models = json.loads(_invoke("catalog", "models", "--json"))
    assert len(models) == 33 and all(m["sources"] for m in models)
    prices = json.loads(_invoke("catalog", "prices", "--json"))
    assert any(p["id"] == "gpt-4o-mini" for p in prices)
    assert "nvidia-rtx-4090" in _invoke("catalog", "hardware")


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["plan", "--hardware", "nvidia-rtx-4091"], "unknown hardware profile 'nvidia-rtx-4091'"),
        (["plan", "--hardware", "nvidia-rtx-4090", "--requests-per-day", "-5"], "cannot be negative"),
        (["plan", "--hardware", "nvidia-rtx-4090", "--memory-gb", "0"], "must be positive"),
        (["plan", "--model", "no-such-model", "--hardware", "nvidia-rtx-4090"], "unknown model 'no-such-model'"),
        (["plan", "--model", "qwen3-8b", "--quant", "Q4_K_X"], "unknown quantisation"),
        (["plan", "--hardware", "nvidia-rtx-4090", "--mix", "narrow=0.5"], "sum"),
        (["plan", "--hardware", "nvidia-rtx-4090", "--mix", "tiny=1"], "bad --mix item"),
        (["plan", "--hardware", "nvidia-rtx-4090", "--context", "0"], "--context must be positive"),
        (["plan", "--model", "llama-3.3-70b-instruct", "--hardware", "nvidia-rtx-4090", "--write", "x.toml"],
         "does not fit this machine"),
        (["plan", "--hardware", "nvidia-rtx-4090", "--frontier-model", "gpt-9"], "no price for API model"),
    ],
)
def test_bad_input_is_one_line_and_nonzero(args: list[str], needle: str, capsys: pytest.CaptureFixture[str],
                                           tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(args) == 1
    err = capsys.readouterr().err
    assert err.startswith("smallfirst: error:") and needle in err
    assert err.count("\n") == 1  # one line, no traceback
    assert not (tmp_path / "x.toml").exists()
