"""execute(): arguments, value types, result metadata (libsql-client, sync and async)."""

from __future__ import annotations

import asyncio

import pytest

import libsql_client


def test_select_without_args(client):
    rs = client.execute("SELECT 1 AS one, 'two' AS two")
    assert rs.columns == ("one", "two")
    assert len(rs) == 1
    row = rs[0]
    assert row[0] == 1 and row["one"] == 1
    assert row[1] == "two" and row["two"] == "two"
    assert row.asdict() == {"one": 1, "two": "two"}


def test_positional_args(client):
    rs = client.execute("SELECT ?, ?, ? - ?", [10, "x", 7, 2])
    assert rs[0].astuple() == (10, "x", 5)


def test_positional_args_as_tuple_statement(client):
    rs = client.execute(("SELECT ? || ?", ("a", "b")))
    assert rs[0][0] == "ab"


def test_numbered_args(client):
    rs = client.execute("SELECT ?2, ?1, ?2", ["first", "second"])
    assert rs[0].astuple() == ("second", "first", "second")


@pytest.mark.parametrize("prefix", [":", "@", "$"])
def test_named_args_with_prefix(client, prefix):
    rs = client.execute(
        f"SELECT {prefix}a AS a, {prefix}b AS b, {prefix}a + 1 AS c",
        {f"{prefix}a": 41, f"{prefix}b": "bee"},
    )
    assert rs[0].astuple() == (41, "bee", 42)


@pytest.mark.parametrize("prefix", [":", "@", "$"])
def test_named_args_without_prefix(client, prefix):
    rs = client.execute(f"SELECT {prefix}a AS a, {prefix}b AS b", {"a": 7, "b": None})
    assert rs[0].astuple() == (7, None)


def test_statement_object(client, table):
    client.execute(f"CREATE TABLE {table} (id INTEGER PRIMARY KEY, name TEXT)")
    stmt = libsql_client.Statement(f"INSERT INTO {table} (name) VALUES (:name)", {":name": "stmt"})
    ins = client.execute(stmt)
    assert ins.rows_affected == 1
    rs = client.execute(f"SELECT name FROM {table} WHERE id = ?", [ins.last_insert_rowid])
    assert rs[0][0] == "stmt"


ROUND_TRIPS = [
    ("null", None, None, "null"),
    ("integer", 42, 42, "integer"),
    ("negative integer", -7, -7, "integer"),
    ("2^53+1", 2**53 + 1, 2**53 + 1, "integer"),
    ("max int64", 2**63 - 1, 2**63 - 1, "integer"),
    ("min int64", -(2**63), -(2**63), "integer"),
    ("float", 3.25, 3.25, "real"),
    ("integral float", 42.0, 42.0, "real"),
    ("tiny float", 1e-300, 1e-300, "real"),
    ("huge float", -1.7976931348623157e308, -1.7976931348623157e308, "real"),
    ("bool true", True, 1, "integer"),
    ("bool false", False, 0, "integer"),
    ("empty text", "", "", "text"),
    ("unicode text", "héllo wörld 🌊 日本語 ∑", "héllo wörld 🌊 日本語 ∑", "text"),
    ("text with NUL", "a\x00b\x00", "a\x00b\x00", "text"),
    ("long text", "x" * 100_000, "x" * 100_000, "text"),
    ("blob", bytes([0, 1, 2, 127, 128, 254, 255, 0]), bytes([0, 1, 2, 127, 128, 254, 255, 0]), "blob"),
    ("bytearray blob", bytearray(b"\x00\xffab"), b"\x00\xffab", "blob"),
    ("empty blob", b"", b"", "blob"),
    ("large blob", bytes(range(256)) * 64, bytes(range(256)) * 64, "blob"),
]


@pytest.mark.parametrize(
    "value,expected,sql_type", [r[1:] for r in ROUND_TRIPS], ids=[r[0] for r in ROUND_TRIPS]
)
def test_value_round_trip(client, table, value, expected, sql_type):
    client.execute(f"CREATE TABLE {table} (id INTEGER PRIMARY KEY, v)")
    ins = client.execute(f"INSERT INTO {table} (v) VALUES (?)", [value])
    rs = client.execute(f"SELECT v, typeof(v) FROM {table} WHERE id = ?", [ins.last_insert_rowid])
    got, got_type = rs[0].astuple()
    assert got_type == sql_type
    assert type(got) is type(expected)
    assert got == expected
    direct = client.execute("SELECT ?, typeof(?)", [value, value])
    assert direct[0].astuple() == (expected, sql_type)


def test_sql_computed_values(client):
    rs = client.execute(
        "SELECT NULL, 9007199254740993, 0.5, 'txt', x'DEADBEEF', -9223372036854775808"
    )
    assert rs[0].astuple() == (None, 9007199254740993, 0.5, "txt", b"\xde\xad\xbe\xef", -(2**63))


def test_last_insert_rowid_and_rows_affected(client, table):
    client.execute(f"CREATE TABLE {table} (id INTEGER PRIMARY KEY, name TEXT, score REAL)")
    ins = client.execute(f"INSERT INTO {table} (id, name) VALUES (1000, ?)", ["thousand"])
    assert ins.rows_affected == 1
    assert ins.last_insert_rowid == 1000

    ins2 = client.execute(f"INSERT INTO {table} (name) VALUES ('a'), ('b'), ('c')")
    assert ins2.rows_affected == 3
    assert ins2.last_insert_rowid == 1003

    upd = client.execute(f"UPDATE {table} SET score = 1.0 WHERE id > 1000")
    assert upd.rows_affected == 3

    dele = client.execute(f"DELETE FROM {table} WHERE id IN (1001, 1002)")
    assert dele.rows_affected == 2

    sel = client.execute(f"SELECT id FROM {table} ORDER BY id")
    assert sel.rows_affected == 0
    assert [r[0] for r in sel] == [1000, 1003]


def test_columns(client, table):
    client.execute(f"CREATE TABLE {table} (id INTEGER PRIMARY KEY, name TEXT, data BLOB)")
    client.execute(f"INSERT INTO {table} VALUES (1, 'n', x'00')")
    rs = client.execute(f"SELECT id, name AS alias, data, 1 + 1 AS expr FROM {table}")
    assert rs.columns == ("id", "alias", "data", "expr")
    assert rs[0].asdict() == {"id": 1, "alias": "n", "data": b"\x00", "expr": 2}
    empty = client.execute(f"SELECT id, name FROM {table} WHERE 0")
    assert empty.columns == ("id", "name")
    assert len(empty) == 0


def test_large_result(client):
    rs = client.execute(
        "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 5000) "
        "SELECT x, 'row' || x FROM c"
    )
    assert len(rs) == 5000
    assert rs[0][0] == 1 and rs[4999][0] == 5000
    assert rs[1234][1] == "row1235"


def test_async_client(url, table):
    async def run():
        async with libsql_client.create_client(url) as c:
            await c.execute(f"CREATE TABLE {table} (id INTEGER PRIMARY KEY, v TEXT)")
            results = await asyncio.gather(
                *(c.execute(f"INSERT INTO {table} (v) VALUES (?)", [f"v{i}"]) for i in range(10))
            )
            assert all(r.rows_affected == 1 for r in results)
            assert sorted(r.last_insert_rowid for r in results) == list(range(1, 11))
            rs = await c.execute(f"SELECT count(*), min(v), max(v) FROM {table}")
            return rs[0].astuple()

    assert asyncio.run(run()) == (10, "v0", "v9")


def test_writes_visible_to_other_client(client, other, table):
    client.execute(f"CREATE TABLE {table} (v)")
    client.execute(f"INSERT INTO {table} VALUES (?)", ["shared"])
    rs = other.execute(f"SELECT v FROM {table}")
    assert [r[0] for r in rs] == ["shared"]
