"""What fine-tuning needs to know about a base model, read from its GGUF header (memory-mapped, no torch)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from smallfirst.core.errors import ConfigError

GGUF_HINT = "pip install 'smallfirst[finetune]' (it brings the gguf package)"


@dataclass(frozen=True, slots=True)
class BaseModelInfo:
    path: Path
    architecture: str
    name: str
    params: int
    layers: int
    hidden: int
    ffn: int
    heads: int
    kv_heads: int
    vocab: int
    context: int
    tied_embeddings: bool
    chat_template: str | None
    bos_token: str
    eos_token: str
    file_bytes: int
    add_bos: bool = False

    @property
    def head_dim(self) -> int:
        return self.hidden // self.heads

    def linear_shapes(self) -> list[tuple[int, int]]:
        """(in, out) of every linear layer peft's ``all-linear`` targets (attention + MLP; not lm_head)."""
        hd = self.head_dim
        per_layer = [(self.hidden, self.heads * hd), (self.hidden, self.kv_heads * hd),
                     (self.hidden, self.kv_heads * hd), (self.heads * hd, self.hidden),
                     (self.hidden, self.ffn), (self.hidden, self.ffn), (self.ffn, self.hidden)]
        return per_layer * self.layers

    def lora_params(self, r: int) -> int:
        return sum(r * (i + o) for i, o in self.linear_shapes())

    def embedding_params(self) -> int:
        return self.vocab * self.hidden * (1 if self.tied_embeddings else 2)


def _field(reader: Any, key: str, default: Any = None) -> Any:
    f = reader.fields.get(key)
    if f is None:
        return default
    return f.contents()


def read_base_info(path: str | Path) -> BaseModelInfo:
    """The base model's shape, tokenizer specials and chat template from its GGUF file."""
    p = Path(path).expanduser()
    if not p.is_file():
        raise ConfigError(f"base model {str(p)!r} is not a file", hint="pass --base PATH.gguf")
    try:
        import gguf
    except ImportError:
        raise ConfigError("reading a GGUF base model needs the gguf package", hint=GGUF_HINT) from None
    try:
        r = gguf.GGUFReader(str(p))
    except Exception as exc:  # the gguf package raises ValueError/struct errors for non-GGUF input
        raise ConfigError(f"{p} is not a readable GGUF file ({exc})", hint="pass a .gguf model file") from None
    arch = str(_field(r, "general.architecture", ""))
    if arch != "llama":
        raise ConfigError(f"{p}: architecture {arch!r} is not supported for fine-tuning yet",
                          hint="use a llama-architecture GGUF (SmolLM2, Llama, TinyLlama …)")
    names = {t.name for t in r.tensors}
    tokens = _field(r, "tokenizer.ggml.tokens", [])

    def token(key: str) -> str:
        i = _field(r, key)
        return str(tokens[int(i)]) if i is not None and 0 <= int(i) < len(tokens) else ""

    def num(key: str) -> int:
        v = _field(r, f"{arch}.{key}")
        if v is None:
            raise ConfigError(f"{p}: GGUF metadata lacks {arch}.{key}", hint="re-convert the model with llama.cpp")
        return int(v)

    heads = num("attention.head_count")
    return BaseModelInfo(
        path=p, architecture=arch, name=str(_field(r, "general.name", p.stem)),
        params=int(sum(int(t.n_elements) for t in r.tensors)), layers=num("block_count"),
        hidden=num("embedding_length"), ffn=num("feed_forward_length"), heads=heads,
        kv_heads=int(_field(r, f"{arch}.attention.head_count_kv", heads)),
        vocab=int(_field(r, f"{arch}.vocab_size", len(tokens))), context=num("context_length"),
        tied_embeddings="output.weight" not in names, chat_template=_field(r, "tokenizer.chat_template"),
        bos_token=token("tokenizer.ggml.bos_token_id"), eos_token=token("tokenizer.ggml.eos_token_id"),
        file_bytes=p.stat().st_size, add_bos=bool(_field(r, "tokenizer.ggml.add_bos_token", False)))


def file_digest(path: str | Path, *, chunk: int = 1 << 20) -> str:
    """sha256 of a file (hex), for provenance and cache keys."""
    h = hashlib.sha256()
    with Path(path).open("rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()
