"""Values through the binding: the protocol corpus's value vectors (protocol/vectors/values.json)
that describe a value — every round-trip case — each bound as a parameter and read back, on a
server over HTTP and WebSocket and on a local file; and the Python types the binding takes."""

from __future__ import annotations

import base64
import json
import math
import struct

import pytest

import tidepool


def expand(node):
    """The corpus's string generators ($repeat, $concat)."""
    if isinstance(node, dict):
        if set(node) == {"$repeat", "count"}:
            return expand(node["$repeat"]) * node["count"]
        if set(node) == {"$concat"}:
            return "".join(expand(p) for p in node["$concat"])
        return {k: expand(v) for k, v in node.items()}
    if isinstance(node, list):
        return [expand(v) for v in node]
    return node


def python_value(wire: dict):
    kind = wire["type"]
    if kind == "null":
        return None
    if kind == "integer":
        return int(wire["value"])
    if kind == "float":
        v = wire["value"]
        return {"Infinity": math.inf, "-Infinity": -math.inf}.get(v, v) if isinstance(v, str) else float(v)
    if kind == "text":
        return wire["value"]
    if kind == "blob":
        return base64.b64decode(wire["base64"])
    raise AssertionError(kind)


def value_cases(vectors_dir):
    corpus = json.loads((vectors_dir / "values.json").read_text())
    return [
        (case["name"], python_value(expand(case["json"])))
        for case in corpus["cases"]
        if case["type"] == "Value" and "json" in case
    ]


def same(a, b) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return struct.pack("<d", a) == struct.pack("<d", b)  # bit for bit: -0.0 differs from 0.0
    return type(a) is type(b) and a == b


def test_every_round_trip_value_vector(target, vectors_dir):
    cases = value_cases(vectors_dir)
    assert len(cases) >= 35
    conn = tidepool.connect(target)
    for name, value in cases:
        (got,) = conn.execute("SELECT ?", (value,)).fetchone()
        assert same(got, value), name
    # And stored in a table, then read back in one result.
    conn.execute("CREATE TABLE IF NOT EXISTS vectors (name TEXT, v)")
    conn.execute("DELETE FROM vectors")
    conn.executemany("INSERT INTO vectors VALUES (?, ?)", cases)
    conn.commit()
    back = dict(conn.execute("SELECT name, v FROM vectors").fetchall())
    for name, value in cases:
        assert same(back[name], value), name
    conn.close()


def test_python_types_in_and_out(target):
    conn = tidepool.connect(target)
    row = conn.execute(
        "SELECT ?, ?, ?, ?, ?, ?, typeof(?), ?",
        (True, False, bytearray(b"\x00\x01"), memoryview(b"mv"), 2**63 - 1, -(2**63), 1.0, float("nan")),
    ).fetchone()
    assert row[:6] == (1, 0, b"\x00\x01", b"mv", 2**63 - 1, -(2**63))
    assert row[6] == "real"
    assert row[7] is None  # SQLite has no NaN
    assert conn.execute("SELECT :a || @b || $c", {"a": "x", "b": "y", "c": "z"}).fetchone() == ("xyz",)
    assert conn.execute("SELECT ? || ?", ["list", "params"]).fetchone() == ("listparams",)
    assert conn.execute("SELECT ?2, ?1", (1, 2)).fetchone() == (2, 1)
    big = bytes(range(256)) * 4096
    assert conn.execute("SELECT ?", (big,)).fetchone() == (big,)
    conn.close()


@pytest.mark.parametrize("value", [2**63, -(2**63) - 1, 10**30])
def test_integers_beyond_64_bits_are_data_errors(target, value):
    conn = tidepool.connect(target)
    with pytest.raises(tidepool.DataError) as e:
        conn.execute("SELECT ?", (value,))
    assert e.value.code == "INVALID_ARGUMENT"
    conn.close()
