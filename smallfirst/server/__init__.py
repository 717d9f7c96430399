"""L4: the OpenAI-compatible gateway (bare ASGI on uvicorn)."""
