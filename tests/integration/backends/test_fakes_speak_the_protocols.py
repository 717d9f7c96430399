"""The fakes are checked by the vendors' own clients: the official openai and anthropic SDKs parse them.

This also exercises ``FakeServer.in_thread()`` (the fakes on their own loop, for synchronous tests).
"""

from __future__ import annotations

import anthropic
import openai
import pytest

from tests.fakes import FakeAnthropic, FakeOpenAI, Fault


def test_openai_sdk_reads_the_fake() -> None:
    with FakeOpenAI().in_thread() as srv:
        client = openai.OpenAI(base_url=srv.base_url, api_key="x", max_retries=0)
        r = client.chat.completions.create(model="gpt-fake", messages=[{"role": "user", "content": "hi you"}],
                                           logprobs=True)
        assert r.choices[0].message.content == "echo: hi you" and r.usage is not None
        assert r.choices[0].logprobs is not None and r.choices[0].logprobs.content is not None
        chunks = list(client.chat.completions.create(model="gpt-fake", messages=[{"role": "user", "content": "hi"}],
                                                     stream=True, stream_options={"include_usage": True}))
        assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "echo: hi"
        assert chunks[-1].usage is not None and chunks[-1].choices == []
        assert [m.id for m in client.models.list()] == ["gpt-fake"]
        srv.inject(Fault(status=429, retry_after="1"))
        with pytest.raises(openai.RateLimitError):
            client.chat.completions.create(model="gpt-fake", messages=[{"role": "user", "content": "hi"}])


def test_anthropic_sdk_reads_the_fake() -> None:
    with FakeAnthropic(api_key="k-123").in_thread() as srv:
        client = anthropic.Anthropic(base_url=srv.base_url, api_key="k-123", max_retries=0)
        m = client.messages.create(model="claude-fake-1", max_tokens=50, system="brief",
                                   messages=[{"role": "user", "content": "hi you"}])
        assert m.content[0].type == "text" and m.content[0].text == "echo: hi you"
        assert m.stop_reason == "end_turn" and m.usage.output_tokens == 3
        with client.messages.stream(model="claude-fake-1", max_tokens=50,
                                    messages=[{"role": "user", "content": "hi"}]) as stream:
            text = "".join(stream.text_stream)
            final = stream.get_final_message()
        assert text == "echo: hi" and final.stop_reason == "end_turn"
        tool = client.messages.create(
            model="claude-fake-1", max_tokens=50, messages=[{"role": "user", "content": "weather?"}],
            tools=[{"name": "w", "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}}}],
            tool_choice={"type": "tool", "name": "w"})
        assert tool.content[0].type == "tool_use" and tool.content[0].input == {"city": "x"}
        with pytest.raises(anthropic.BadRequestError, match="system"):  # the fake checks what the API checks
            client.messages.create(model="claude-fake-1", max_tokens=5,
                                   messages=[{"role": "system", "content": "no"}])  # type: ignore[misc,list-item,unused-ignore]
        srv.inject(Fault(status=529))
        with pytest.raises(anthropic.APIStatusError) as exc:
            client.messages.create(model="claude-fake-1", max_tokens=5, messages=[{"role": "user", "content": "x"}])
        assert exc.value.status_code == 529
        assert [m.id for m in client.models.list()] == ["claude-fake-1"]
