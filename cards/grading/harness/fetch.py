"""Shipped into the sandbox as fetch.py: a minimal asyncio HTTP GET for the challenges.

One fresh connection per call, HTTP/1.0, standard library only: cheap enough
that 1,000 calls measure concurrency, not an HTTP client's overhead.
"""

import asyncio
import json
from urllib.parse import urlsplit


async def get_json(url: str) -> object:
    """GET `url` (http://host:port/path) and return its body decoded from JSON; raise on a non-200 answer."""
    parts = urlsplit(url)
    reader, writer = await asyncio.open_connection(parts.hostname, parts.port or 80)
    try:
        target = parts.path or "/"
        if parts.query:
            target += "?" + parts.query
        writer.write(f"GET {target} HTTP/1.0\r\nHost: {parts.netloc}\r\n\r\n".encode())
        await writer.drain()
        raw = await reader.read()
    finally:
        writer.close()
    head, _, body = raw.partition(b"\r\n\r\n")
    status = head.split(b"\r\n", 1)[0].decode("latin-1")
    if " 200 " not in status + " ":
        raise OSError(f"{url}: {status or 'no answer'}")
    return json.loads(body)
