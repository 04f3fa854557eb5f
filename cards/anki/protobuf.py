"""Just enough of the protobuf wire format to read the few messages an Anki package holds.

`fields(data)` gives each field number's values in order: ints for varints, bytes for
length-delimited values (strings, bytes, nested messages). Fixed 32/64-bit values are skipped.
"""

from __future__ import annotations


class ProtobufError(ValueError):
    """Bytes that are not a protobuf message."""


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        if pos >= len(data) or shift > 63:
            raise ProtobufError("truncated varint")
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return value, pos


def fields(data: bytes) -> dict[int, list[int | bytes]]:
    """The message's fields by number, each with its values in order."""
    out: dict[int, list[int | bytes]] = {}
    pos = 0
    while pos < len(data):
        key, pos = _varint(data, pos)
        number, wire = key >> 3, key & 7
        value: int | bytes | None
        if wire == 0:
            value, pos = _varint(data, pos)
        elif wire == 2:
            length, pos = _varint(data, pos)
            if pos + length > len(data):
                raise ProtobufError("truncated length-delimited field")
            value, pos = data[pos : pos + length], pos + length
        elif wire == 1:
            value, pos = None, pos + 8
        elif wire == 5:
            value, pos = None, pos + 4
        else:
            raise ProtobufError(f"unsupported wire type {wire}")
        if pos > len(data):
            raise ProtobufError("truncated fixed-size field")
        if value is not None:
            out.setdefault(number, []).append(value)
    return out


def first_int(message: dict[int, list[int | bytes]], number: int, default: int = 0) -> int:
    values = [value for value in message.get(number, []) if isinstance(value, int)]
    return values[0] if values else default


def first_str(message: dict[int, list[int | bytes]], number: int, default: str = "") -> str:
    values = [value for value in message.get(number, []) if isinstance(value, bytes)]
    return values[0].decode("utf-8", errors="replace") if values else default
