"""The operator's web page: server-rendered pages, live events over SSE, ru/en strings."""
