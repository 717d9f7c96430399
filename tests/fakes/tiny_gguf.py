"""Write a tiny random-weight Llama GGUF (≈0.3 MB, milliseconds) for fast *real* llama.cpp inference.

No torch and no downloads: ``gguf`` + numpy write the hyper-parameters, a byte-level BPE
tokenizer (GPT-2 byte alphabet plus merges learnt here from a fixed word list), a ChatML chat
template and seeded random tensors. The model talks nonsense, but it is a real model: llama.cpp
loads it, applies the template, samples greedily (deterministic at temperature 0) and honours
grammars, so JSON-schema-constrained output is valid — what backend and router tests need.
(See ../shared/notes/local-models.md §3b for the recipe this follows.)
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np

CHATML = ("{% for message in messages %}<|im_start|>{{ message['role'] }}\n{{ message['content'] }}<|im_end|>\n"
          "{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}")
SPECIALS = ("<|endoftext|>", "<|im_start|>", "<|im_end|>")
CORPUS_TEXT = ("the cat sat on the mat and the dog ran to the park while a bird sang in the tree "
               "label simple complex positive negative neutral yes no true false answer json name value "
               "count items city weather sunny rainy summary text question reply hello world")


def byte_alphabet() -> list[str]:
    """GPT-2's reversible byte → printable-unicode mapping, in byte order."""
    keep = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(
        range(ord("®"), ord("ÿ") + 1))
    chars = {b: chr(b) for b in keep}
    extra = 0
    for b in range(256):
        if b not in chars:
            chars[b] = chr(256 + extra)
            extra += 1
    return [chars[b] for b in range(256)]


def learn_merges(n_merges: int) -> list[tuple[str, str]]:
    """Plain BPE over the corpus words (each with GPT-2's leading-space marker 'Ġ')."""
    words = [list("Ġ" + w) for w in CORPUS_TEXT.split(" ")]
    merges: list[tuple[str, str]] = []
    for _ in range(n_merges):
        pairs = Counter((w[i], w[i + 1]) for w in words for i in range(len(w) - 1))
        if not pairs:
            break
        best = min(pairs, key=lambda p: (-pairs[p], p))  # most frequent, ties broken deterministically
        merges.append(best)
        joined = best[0] + best[1]
        for w in words:
            i = 0
            while i < len(w) - 1:
                if (w[i], w[i + 1]) == best:
                    w[i:i + 2] = [joined]
                i += 1
    return merges


def write_tiny_gguf(path: Path, *, seed: int = 0, n_embd: int = 64, n_layer: int = 2, n_head: int = 4,
                    n_head_kv: int = 2, n_ff: int = 128, n_ctx: int = 512, n_merges: int = 120,
                    output_std: float = 0.02) -> Path:
    """Write the model to ``path`` and return it. A larger ``output_std`` (e.g. ``n_embd ** -0.5``) lets
    the output layer express sharp distributions, so a LoRA on the other layers can teach it something."""
    import gguf

    merges = learn_merges(n_merges)
    tokens = list(SPECIALS) + byte_alphabet()
    seen = set(tokens)
    for a, b in merges:
        if a + b not in seen:
            tokens.append(a + b)
            seen.add(a + b)
    n_vocab = len(tokens)
    head_dim = n_embd // n_head

    w = gguf.GGUFWriter(str(path), "llama")
    w.add_name("smallfirst-tiny-random")
    w.add_context_length(n_ctx)
    w.add_embedding_length(n_embd)
    w.add_block_count(n_layer)
    w.add_feed_forward_length(n_ff)
    w.add_head_count(n_head)
    w.add_head_count_kv(n_head_kv)
    w.add_rope_dimension_count(head_dim)
    w.add_layer_norm_rms_eps(1e-5)
    w.add_vocab_size(n_vocab)
    w.add_file_type(gguf.LlamaFileType.ALL_F32)
    w.add_tokenizer_model("gpt2")
    w.add_tokenizer_pre("default")
    w.add_token_list(tokens)
    w.add_token_types([gguf.TokenType.CONTROL] * len(SPECIALS) + [gguf.TokenType.NORMAL] * (n_vocab - len(SPECIALS)))
    w.add_token_merges([f"{a} {b}" for a, b in merges])
    w.add_bos_token_id(0)
    w.add_eos_token_id(2)  # <|im_end|> ends an assistant turn
    w.add_pad_token_id(0)
    w.add_add_bos_token(False)
    w.add_chat_template(CHATML)

    rng = np.random.default_rng(seed)

    def t(*shape: int, std: float = 0.02) -> np.ndarray:
        return (rng.standard_normal(shape) * std).astype(np.float32)

    w.add_tensor("token_embd.weight", t(n_vocab, n_embd))
    for i in range(n_layer):
        w.add_tensor(f"blk.{i}.attn_norm.weight", np.ones(n_embd, dtype=np.float32))
        w.add_tensor(f"blk.{i}.attn_q.weight", t(n_head * head_dim, n_embd))
        w.add_tensor(f"blk.{i}.attn_k.weight", t(n_head_kv * head_dim, n_embd))
        w.add_tensor(f"blk.{i}.attn_v.weight", t(n_head_kv * head_dim, n_embd))
        w.add_tensor(f"blk.{i}.attn_output.weight", t(n_embd, n_head * head_dim))
        w.add_tensor(f"blk.{i}.ffn_norm.weight", np.ones(n_embd, dtype=np.float32))
        w.add_tensor(f"blk.{i}.ffn_gate.weight", t(n_ff, n_embd))
        w.add_tensor(f"blk.{i}.ffn_up.weight", t(n_ff, n_embd))
        w.add_tensor(f"blk.{i}.ffn_down.weight", t(n_embd, n_ff))
    w.add_tensor("output_norm.weight", np.ones(n_embd, dtype=np.float32))
    w.add_tensor("output.weight", t(n_vocab, n_embd, std=output_std))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return path
