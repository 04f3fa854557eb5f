# HTTP/1.1 over asyncio streams, reading exactly Content-Length bytes.
import asyncio
import json
from urllib.parse import urlsplit


async def get_data(url):
    parts = urlsplit(url)
    reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
    request = f"GET {parts.path} HTTP/1.1\r\nHost: {parts.netloc}\r\nAccept: application/json\r\n\r\n"
    writer.write(request.encode())
    await writer.drain()
    status = await reader.readline()
    assert b" 200 " in status, status
    length = 0
    while (line := await reader.readline()) not in (b"\r\n", b""):
        name, _, value = line.decode().partition(":")
        if name.lower() == "content-length":
            length = int(value)
    body = await reader.readexactly(length)
    writer.close()
    return json.loads(body.decode("utf-8"))
