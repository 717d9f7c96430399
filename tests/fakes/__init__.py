"""Protocol-faithful fake upstream servers (aiohttp.web on 127.0.0.1) and model fixtures for tests.

* :class:`FakeOpenAI` — Chat Completions (JSON + SSE), built from the ``openai`` SDK types.
* :class:`FakeOllama` — Ollama's native API (``/api/chat`` NDJSON, ``/api/tags``, ``/api/show`` …).
* :class:`FakeAnthropic` — Messages API (JSON + SSE events), built from the ``anthropic`` SDK types.
* :class:`Fault` — injectable misbehaviour (HTTP status, Retry-After, delay before the first
  byte, dropped connection, cut mid-stream, slow drip, in-stream error event).
* :mod:`tests.fakes.tiny_gguf` — writes a tiny random-weight GGUF for fast real inference.
* :mod:`tests.fakes.llama_server` — runs a real ``llama_cpp.server`` process on a free port.

See :mod:`tests.fakes.base` for the shared API (``async with``, ``in_thread()``, ``inject()``,
``requests``).
"""

from tests.fakes.anthropic_server import FakeAnthropic
from tests.fakes.base import FakeServer, Fault, Recorded
from tests.fakes.ollama_server import FakeOllama
from tests.fakes.openai_server import FakeOpenAI

__all__ = ["FakeAnthropic", "FakeOllama", "FakeOpenAI", "FakeServer", "Fault", "Recorded"]
