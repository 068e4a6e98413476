"""The protocol-buffers wire format, read by hand: just enough to walk a message's fields.

A message is a run of fields, each a varint key (`field_number << 3 | wire_type`) then a value
whose shape the wire type gives: a varint (0), eight bytes (1), a length and that many bytes (2),
a group up to its end marker (3 and 4, deprecated but still legal), or four bytes (5). Knowing
only that, any field can be skipped, so a reader that knows some field numbers can ignore the
rest. Every malformation (a truncated varint or value, a length past the end, a wire type that
does not exist, a group never closed) raises `WireError` with where it happened.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

VARINT, FIXED64, LENGTH, GROUP_START, GROUP_END, FIXED32 = 0, 1, 2, 3, 4, 5
MAX_VARINT_BYTES = 10
MAX_GROUP_DEPTH = 32
"""Groups nested deeper than this are refused rather than followed (no unbounded recursion)."""


class WireError(ValueError):
    """The bytes are not a well-formed protocol-buffers message."""


@dataclass(frozen=True)
class WireField:
    """One field as read: its number, its wire type and its value (an int, or the bytes of a
    length-delimited value; a skipped group's value is empty)."""

    number: int
    wire_type: int
    value: int | bytes


def read_varint(data: bytes, at: int) -> tuple[int, int]:
    """The unsigned varint starting at `at`, and the offset after it."""
    result = 0
    for i in range(MAX_VARINT_BYTES):
        if at + i >= len(data):
            raise WireError(f"varint truncated at byte {at}")
        byte = data[at + i]
        result |= (byte & 0x7F) << (7 * i)
        if not byte & 0x80:
            return result, at + i + 1
    raise WireError(f"varint longer than {MAX_VARINT_BYTES} bytes at byte {at}")


def signed64(value: int) -> int:
    """A varint read as a two's-complement int64 (how int32 and int64 fields carry negatives)."""
    value &= (1 << 64) - 1
    return value - (1 << 64) if value >= 1 << 63 else value


def _skip_group(data: bytes, at: int, number: int, depth: int) -> int:
    """The offset after the group `number` whose start marker ended at `at`."""
    if depth > MAX_GROUP_DEPTH:
        raise WireError(f"groups nested deeper than {MAX_GROUP_DEPTH} at byte {at}")
    while at < len(data):
        key, at = read_varint(data, at)
        wire_type, inner = key & 7, key >> 3
        if wire_type == GROUP_END:
            if inner != number:
                raise WireError(f"group {number} closed by the end of group {inner}")
            return at
        _, at = _value(data, at, wire_type, inner, depth + 1)
    raise WireError(f"group {number} never closed")


def _value(data: bytes, at: int, wire_type: int, number: int, depth: int) -> tuple[int | bytes, int]:
    match wire_type:
        case 0:
            return read_varint(data, at)
        case 1 | 5:
            size = 8 if wire_type == FIXED64 else 4
            if at + size > len(data):
                raise WireError(f"field {number}: fixed-size value truncated at byte {at}")
            return int.from_bytes(data[at : at + size], "little"), at + size
        case 2:
            length, at = read_varint(data, at)
            if length > len(data) - at:
                raise WireError(f"field {number}: length {length} runs past the end at byte {at}")
            return data[at : at + length], at + length
        case 3:
            return b"", _skip_group(data, at, number, depth)
        case _:
            raise WireError(f"field {number}: wire type {wire_type} at byte {at} does not exist here")


def fields(data: bytes) -> Iterator[WireField]:
    """Every field of one message, in the order written (repeated fields appear once per value)."""
    at = 0
    while at < len(data):
        key, at = read_varint(data, at)
        number, wire_type = key >> 3, key & 7
        if number == 0:
            raise WireError(f"field number 0 at byte {at}")
        value, at = _value(data, at, wire_type, number, 0)
        yield WireField(number, wire_type, value)
