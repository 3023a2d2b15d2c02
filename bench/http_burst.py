"""Many concurrent HTTP GETs at once, from a process of its own (tests/test_api_load.py,
bench/api_load.py's load clients).

``python bench/http_burst.py PORT TARGET AUTHORIZATION COUNT`` opens COUNT connections
to 127.0.0.1:PORT at once, sends one ``GET TARGET`` on each as plain HTTP/1.1 bytes and
prints one JSON line per answer: status, Retry-After, Content-Type, the body's length
and its ``detail``, or the error when no full answer came within 5 s. Only the standard
library: the process starts in a few milliseconds, and a request costs it a fraction of
what httpx's costs (whose pool also spends seconds bookkeeping hundreds of connections):
on a 2-core machine the load generator's CPU is taken from the service it measures.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from typing import Any

ANSWER_WITHIN = 5.0


async def raw_get(port: int, target: str, authorization: str) -> dict[str, Any]:
    """One ``GET`` on a connection of its own: what came back, or the error."""
    began = time.perf_counter()
    try:
        async with asyncio.timeout(ANSWER_WITHIN):
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            request = (
                f"GET {target} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
                f"Authorization: {authorization}\r\nConnection: close\r\n\r\n"
            )
            writer.write(request.encode())
            head = await reader.readuntil(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            headers = {
                name.strip().lower(): value.strip()
                for name, _, value in (line.partition(":") for line in lines[1:] if line)
            }
            body = await reader.readexactly(int(headers.get("content-length", "0")))
            writer.close()
    except (OSError, TimeoutError, asyncio.IncompleteReadError) as exc:
        return {"error": repr(exc), "seconds": time.perf_counter() - began}
    status = int(lines[0].split()[1])
    detail = json.loads(body).get("detail") if status != 200 else None
    return {
        "status": status,
        "retry_after": headers.get("retry-after"),
        "content_type": headers.get("content-type"),
        "length": len(body),
        "detail": detail,
        "seconds": time.perf_counter() - began,
    }


async def burst(port: int, target: str, authorization: str, count: int) -> list[dict[str, Any]]:
    """``count`` :func:`raw_get` at once."""
    return await asyncio.gather(*(raw_get(port, target, authorization) for _ in range(count)))


if __name__ == "__main__":
    port, target, authorization, count = sys.argv[1:5]
    for answer in asyncio.run(burst(int(port), target, authorization, int(count))):
        print(json.dumps(answer))
