"""Server-sent events → the ``data`` payload of each event (multi-line data joined by newlines).

:class:`SseDecoder` is incremental and synchronous: feed it body bytes as they arrive and it hands back
the events they complete, so a stream costs one parser call per network read, not one generator step per
line. ``event:``, ``id:``, ``retry:`` and ``:`` comment lines carry nothing the payload does not.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator


class SseDecoder:
    def __init__(self) -> None:
        self._buf = b""
        self._parts: list[bytes] = []

    def line(self, line: bytes) -> bytes | None:
        """One line without its ending; returns the event a blank line completes."""
        if not line:
            if not self._parts:
                return None
            parts, self._parts = self._parts, []
            return parts[0] if len(parts) == 1 else b"\n".join(parts)
        if line.startswith(b"data:"):
            value = line[5:]
            self._parts.append(value[1:] if value.startswith(b" ") else value)
        return None

    def feed(self, data: bytes) -> list[bytes]:
        """Body bytes → the events they complete (a partial line waits for the next call)."""
        buf = self._buf + data if self._buf else data
        if b"\n" not in data:
            self._buf = buf
            return []
        *complete, self._buf = buf.split(b"\n")
        out: list[bytes] = []
        for raw in complete:
            event = self.line(raw[:-1] if raw.endswith(b"\r") else raw)
            if event is not None:
                out.append(event)
        return out

    def end(self) -> list[bytes]:
        """The body ended: a last line and a last event without their blank line still count."""
        out: list[bytes] = []
        if self._buf:
            buf, self._buf = self._buf, b""
            self.line(buf[:-1] if buf.endswith(b"\r") else buf)
        event = self.line(b"")
        if event is not None:
            out.append(event)
        return out


async def sse_events(chunks: AsyncIterator[bytes]) -> AsyncGenerator[bytes, None]:
    """Body pieces as they arrive → event payloads."""
    decoder = SseDecoder()
    async for data in chunks:
        for event in decoder.feed(data):
            yield event
    for event in decoder.end():
        yield event
