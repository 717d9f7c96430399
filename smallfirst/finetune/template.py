"""Render chat messages with the target model's own chat template (the Jinja text in its GGUF).

Rendering follows Hugging Face's ``apply_chat_template`` (a sandboxed Jinja environment with
``trim_blocks`` and ``lstrip_blocks``, ``raise_exception`` and ``strftime_now``), which is also what
llama.cpp's Jinja formatter reproduces, so the text trained on is the text the model is served with.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from smallfirst.core.errors import BadRequestError, ConfigError

CHATML = ("{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\n' + message['content'] "
          "+ '<|im_end|>' + '\n' }}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}"
          "{% endif %}")


@dataclass(frozen=True, slots=True)
class Rendered:
    prompt: str  # everything before the answer, ending with the generation prompt
    completion: str  # the answer and the template's end-of-turn text

    @property
    def text(self) -> str:
        return self.prompt + self.completion


class ChatTemplate:
    """A compiled chat template with the model's BOS/EOS token strings."""

    def __init__(self, source: str | None, bos_token: str = "", eos_token: str = "") -> None:
        try:
            from jinja2.exceptions import TemplateError
            from jinja2.sandbox import ImmutableSandboxedEnvironment
        except ImportError:
            raise ConfigError("rendering chat templates needs jinja2", hint="pip install 'smallfirst[finetune]'") \
                from None
        self.source = source or CHATML
        self.default = source is None
        self.bos_token, self.eos_token = bos_token, eos_token

        def raise_exception(message: str) -> None:
            raise TemplateError(message)

        def strftime_now(fmt: str) -> str:
            import datetime

            return datetime.datetime.now().strftime(fmt)

        env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True)
        env.globals["raise_exception"] = raise_exception
        env.globals["strftime_now"] = strftime_now
        try:
            self._tpl = env.from_string(self.source)
        except TemplateError as err:
            raise ConfigError(f"the model's chat template does not compile: {err}",
                              hint="check tokenizer.chat_template in the GGUF") from None
        self._error = TemplateError

    def render(self, messages: Sequence[dict[str, Any]], *, add_generation_prompt: bool) -> str:
        try:
            return str(self._tpl.render(messages=list(messages), add_generation_prompt=add_generation_prompt,
                                        bos_token=self.bos_token, eos_token=self.eos_token))
        except self._error as err:
            raise BadRequestError(f"the chat template rejected the messages: {err}",
                                  hint="check the roles (system/user/assistant) of the example") from None

    def split(self, messages: Sequence[dict[str, Any]]) -> Rendered:
        """``messages`` ends with the assistant answer: the rendered prompt and the rendered answer."""
        if not messages or messages[-1].get("role") != "assistant":
            raise BadRequestError("a training example must end with the assistant's answer")
        prompt = self.render(messages[:-1], add_generation_prompt=True)
        full = self.render(messages, add_generation_prompt=False)
        if not full.startswith(prompt):
            raise BadRequestError("the chat template renders the answer turn differently from the generation "
                                  "prompt, so prompt and answer cannot be separated",
                                  hint="use a model whose template ends the prompt with the assistant header")
        return Rendered(prompt, full[len(prompt):])
