"""``smallfirst finetune deploy``: promote a gated adapter — versioned, for llama.cpp, Ollama and the gateway.

Into the deploy folder (default ``models/``) go:

* ``<name>-v<N>.lora.gguf`` — the adapter (a llama.cpp LoRA GGUF), never overwritten;
* ``Modelfile.<name>-v<N>`` and ``Modelfile`` (the latest) — ``FROM`` the base + ``ADAPTER`` the file,
  for ``ollama create <name> -f Modelfile``;
* ``promoted.json`` — the pointer an embedded endpoint with ``promoted = "<folder>/promoted.json"``
  follows: the gateway serves the new model from its next request, no restart. It keeps the
  history, so ``smallfirst finetune rollback`` can point it back at an earlier version (or the base).

A run is deployed only when its gate said promote (``--force`` overrides, and is recorded).
"""

from __future__ import annotations

import json
import re
import shutil
import time
from pathlib import Path
from typing import Any

from smallfirst.backends.promoted import POINTER_FORMAT, Promotion, write_pointer
from smallfirst.core.errors import BadRequestError
from smallfirst.finetune.gate import GATE_JSON, read_train_report

POINTER = "promoted.json"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


def modelfile(base_from: str, adapter_file: str, *, comment: str) -> str:
    """An Ollama Modelfile: the base (a GGUF path or an Ollama model name) plus the LoRA adapter."""
    lines = [f"# {line}" for line in comment.splitlines()]
    lines += [f"FROM {base_from}", f"ADAPTER ./{adapter_file}", "PARAMETER temperature 0", ""]
    return "\n".join(lines)


def read_history(folder: Path) -> list[dict[str, Any]]:
    p = folder / POINTER
    if not p.is_file():
        return []
    try:
        obj = json.loads(p.read_text(encoding="utf-8"))
    except ValueError:
        return []
    hist = obj.get("history") if isinstance(obj, dict) and obj.get("format") == POINTER_FORMAT else None
    return list(hist) if isinstance(hist, list) else []


def _next_version(folder: Path, name: str) -> int:
    pat = re.compile(rf"^{re.escape(name)}-v(\d+)\.lora\.gguf$")
    found = [int(m.group(1)) for p in folder.glob(f"{name}-v*.lora.gguf") if (m := pat.match(p.name))]
    return max(found, default=0) + 1


def deploy(run_dir: str | Path, to: str | Path = "models", *, name: str | None = None, force: bool = False,
           ollama_from: str | None = None) -> dict[str, Any]:
    """Copy the adapter in as a new version, write the Modelfile and repoint ``promoted.json``."""
    run = Path(run_dir)
    report = read_train_report(run)
    gate_path = run / GATE_JSON
    gate: dict[str, Any] | None = json.loads(gate_path.read_text(encoding="utf-8")) if gate_path.is_file() else None
    if gate is None and not force:
        raise BadRequestError(f"{run} has not been through the gate",
                              hint="run `smallfirst finetune gate` first (or --force to deploy ungated)")
    if gate is not None and not gate["promote"] and not force:
        raise BadRequestError(f"the gate kept the base: {gate['reason']}",
                              hint="train longer or on more data, or pass --force to deploy anyway")
    adapter = run / report["adapter_gguf"]
    if gate is not None and not force:
        from smallfirst.finetune.gguf_info import file_digest

        if file_digest(adapter)[:12] != gate["adapter_sha256_12"]:
            raise BadRequestError("the adapter changed after the gate ran", hint="run the gate again")
    base = Path(report["base"]["path"]).resolve()
    label = name or f"{Path(report['base']['path']).stem.split('.')[0].lower()}-tuned"
    if not _NAME.match(label):
        raise BadRequestError(f"model name {label!r} is not allowed", hint="letters, digits, '.', '_' and '-' only")
    folder = Path(to)
    folder.mkdir(parents=True, exist_ok=True)
    version = _next_version(folder, label)
    adapter_name = f"{label}-v{version}.lora.gguf"
    tmp = folder / (adapter_name + ".tmp")
    shutil.copyfile(adapter, tmp)
    tmp.replace(folder / adapter_name)
    g = (gate or {}).get("comparison", {})
    summary = (f"base {g.get('mean_a', float('nan')):.3f} → tuned {g.get('mean_b', float('nan')):.3f} on "
               f"{g.get('n', 0)} held-out tasks" if gate else "not gated")
    comment = (f"smallfirst fine-tune {label} v{version} ({time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())})\n"
               f"gate: {summary}{' (deployed with --force)' if force else ''}\n"
               f"ollama create {label} -f Modelfile.{label}-v{version}")
    text = modelfile(ollama_from or str(base), adapter_name, comment=comment)
    (folder / f"Modelfile.{label}-v{version}").write_text(text, encoding="utf-8")
    (folder / "Modelfile").write_text(text, encoding="utf-8")
    entry = {"version": version, "name": label, "model_path": str(base),
             "lora_path": str((folder / adapter_name).resolve()), "promoted_at": time.time(),
             "run": str(run.resolve()), "forced": force, "gate": summary}
    history = [*read_history(folder), entry]
    promo = Promotion(str(base), str(folder / adapter_name), version, label)
    pointer = write_pointer(folder / POINTER, promo, {"promoted_at": entry["promoted_at"], "run": entry["run"],
                                                      "forced": force, "gate": summary, "history": history})
    return {"version": version, "name": label, "adapter": str(folder / adapter_name), "pointer": str(pointer),
            "modelfile": str(folder / "Modelfile"), "base": str(base), "forced": force, "gate": summary}


def rollback(to: str | Path = "models", *, version: int | None = None) -> dict[str, Any]:
    """Point ``promoted.json`` at an earlier version (default: the one before the current), or 0 for the base."""
    folder = Path(to)
    history = read_history(folder)
    if not history:
        raise BadRequestError(f"no promotion history in {folder / POINTER}", hint="nothing has been deployed there")
    current = json.loads((folder / POINTER).read_text(encoding="utf-8")).get("version")
    if version is None:
        older = [h for h in history if h["version"] != current and h["version"] < (current or 0)]
        version = max((h["version"] for h in older), default=0)
    if version == 0:
        base = history[0]["model_path"]
        promo = Promotion(base, None, 0, "base")
    else:
        match = [h for h in history if h["version"] == version]
        if not match:
            raise BadRequestError(f"version {version} was never promoted in {folder}",
                                  hint=f"promoted versions: {', '.join(str(h['version']) for h in history)}")
        h = match[-1]
        promo = Promotion(h["model_path"], h["lora_path"], version, h["name"])
    write_pointer(folder / POINTER, promo, {"promoted_at": time.time(), "rolled_back_from": current,
                                            "history": history})
    return {"version": version, "from": current, "pointer": str(folder / POINTER), "lora_path": promo.lora_path}
