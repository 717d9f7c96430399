"""Chat-template rendering and the training-memory estimate (no torch needed)."""

from __future__ import annotations

from pathlib import Path

import pytest

from smallfirst.core.errors import BadRequestError, ConfigError
from smallfirst.finetune.gguf_info import read_base_info
from smallfirst.finetune.memory import GB, check, estimate
from smallfirst.finetune.template import ChatTemplate
from tests.fakes.tiny_gguf import write_tiny_gguf

MSGS = ({"role": "system", "content": "Be brief."}, {"role": "user", "content": "hi"},
        {"role": "assistant", "content": "hello"})


def test_split_separates_prompt_and_answer() -> None:
    r = ChatTemplate(None).split(MSGS)  # no template in the model: ChatML
    assert r.prompt == ("<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nhi<|im_end|>\n"
                        "<|im_start|>assistant\n")
    assert r.completion == "hello<|im_end|>\n"


def test_templates_that_cannot_be_split_or_compiled_are_clear_errors() -> None:
    odd = ChatTemplate("{% for m in messages %}[{{ m['content'] }}]{% endfor %}{% if add_generation_prompt %}>"
                       "{% endif %}")
    with pytest.raises(BadRequestError, match="cannot be separated"):
        odd.split(MSGS)
    with pytest.raises(BadRequestError, match="end with the assistant"):
        ChatTemplate(None).split(MSGS[:2])
    with pytest.raises(ConfigError, match="does not compile"):
        ChatTemplate("{% for %}")
    strict = ChatTemplate("{{ raise_exception('only user turns') }}")
    with pytest.raises(BadRequestError, match="only user turns"):
        strict.split(MSGS)


def test_base_info_from_gguf(tmp_path: Path) -> None:
    info = read_base_info(write_tiny_gguf(tmp_path / "t.gguf"))
    assert (info.layers, info.hidden, info.heads, info.kv_heads, info.ffn) == (2, 64, 4, 2, 128)
    assert not info.tied_embeddings and info.eos_token == "<|im_end|>" and info.chat_template
    assert info.lora_params(16) == 2 * 16 * (64 + 64 + 64 + 32 + 64 + 32 + 64 + 64 + 64 + 128 + 64 + 128 + 128 + 64)
    (tmp_path / "junk.gguf").write_text("not a model")
    with pytest.raises(ConfigError, match="not a readable GGUF"):
        read_base_info(tmp_path / "junk.gguf")
    with pytest.raises(ConfigError, match="is not a file"):
        read_base_info(tmp_path / "missing.gguf")


def test_memory_estimate_for_smollm2_and_a_clear_error_when_it_does_not_fit() -> None:
    from smallfirst.backends.embedded import default_model_path

    info = read_base_info(default_model_path())
    assert 134e6 < info.params < 136e6 and info.tied_embeddings
    q = estimate(info, quant4=True, device="cpu", r=16, batch=4, seq=512)
    f = estimate(info, quant4=False, device="cpu", r=16, batch=4, seq=512)
    assert q.weights < f.weights == info.params * 4
    assert q.adapter == f.adapter == info.lora_params(16) * 16
    assert f.activations == q.activations > 0
    short = estimate(info, quant4=False, device="cpu", r=16, batch=4, seq=64)  # typical short task examples
    assert short.peak < 2.5 * GB < f.peak
    bigger = estimate(info, quant4=False, device="cpu", r=16, batch=32, seq=2048)
    assert bigger.activations > 30 * f.activations
    assert check(f, 64 * GB, "test").fits
    with pytest.raises(BadRequestError, match=r"not enough memory to fine-tune: the run needs about \d+\.\d\d GB "
                                              r"\(weights .*\) but 0\.50 GB is free \(test\)"):
        check(f, 0.5 * GB, "test")
