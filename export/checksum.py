"""Checksum of an ONNX file's weights: SHA-256 of its top-level ``graph`` field, byte for byte as in the file.

Why: a flipped bit inside an initializer still parses as ONNX and still runs; the predictions just move. The
exporter records the checksum in the metadata (key ``weights_sha256``) and every loader (``surrogate info``,
``surrogate infer``, :class:`export.runtime.Surrogate`, the C wrapper's ``surrogate_create``) recomputes it.

What is hashed: the payload of field 7 (``graph``: nodes and initializers, i.e. the weights) of the serialized
``ModelProto``, found by walking the file's top-level protobuf fields, so no re-serialization (whose bytes could
differ between protobuf versions) is involved. The metadata (field 14) lies outside the graph, so recording the
checksum does not change it. The C twin is ``export/c/surrogate_checksum.c``; both hash the same bytes.
"""

from __future__ import annotations

import hashlib

WEIGHTS_KEY = "weights_sha256"
GRAPH_FIELD = 7
VARINT, FIXED64, LENGTH_DELIMITED, FIXED32 = 0, 1, 2, 5


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    """The base-128 varint at `pos` and the position after it; ValueError when it runs past the end."""
    value = shift = 0
    while shift < 64:
        if pos >= len(data):
            raise ValueError("truncated varint")
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, pos
        shift += 7
    raise ValueError("varint longer than 64 bits")


def graph_field(data: bytes) -> memoryview | None:
    """The payload of the one top-level ``graph`` field of a serialized ModelProto; None when the bytes are not
    well-formed top-level fields or hold no graph or more than one (protobuf would merge a second one)."""
    view, pos, found = memoryview(data), 0, []
    try:
        while pos < len(data):
            key, pos = _varint(data, pos)
            field, wire = key >> 3, key & 7
            if wire == VARINT:
                pos = _varint(data, pos)[1]
            elif wire in (FIXED64, FIXED32):
                pos += 8 if wire == FIXED64 else 4
            elif wire == LENGTH_DELIMITED:
                length, pos = _varint(data, pos)
                if field == GRAPH_FIELD:
                    found.append(view[pos:pos + length])
                pos += length
            else:  # groups (3, 4) are not in onnx.proto; 6, 7 are not wire types
                return None
    except ValueError:
        return None
    return found[0] if pos == len(data) and len(found) == 1 else None


def weights_sha256(data: bytes) -> str | None:
    """Lower-case hex SHA-256 of the graph field of the serialized model `data`; None when it has no one graph."""
    graph = graph_field(data)
    return None if graph is None else hashlib.sha256(graph).hexdigest()
