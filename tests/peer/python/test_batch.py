"""batch(): all-or-nothing execution (the client wraps it in BEGIN/COMMIT, ROLLBACK on error)."""

from __future__ import annotations

import pytest

import libsql_client


def count(c, table):
    return c.execute(f"SELECT count(*) FROM {table}")[0][0]


def test_batch_commits_and_returns_each_result(client, other, table):
    client.execute(f"CREATE TABLE {table} (id INTEGER PRIMARY KEY, name TEXT UNIQUE NOT NULL, qty INTEGER)")
    results = client.batch(
        [
            (f"INSERT INTO {table} (name, qty) VALUES (?, ?)", ["a", 1]),
            libsql_client.Statement(f"INSERT INTO {table} (name, qty) VALUES (:name, :qty)", {":name": "b", ":qty": 2}),
            f"UPDATE {table} SET qty = qty * 10",
            (f"SELECT name, qty FROM {table} WHERE name LIKE ? ORDER BY name", ["%"]),
        ]
    )
    assert len(results) == 4
    assert results[0].rows_affected == 1
    assert results[1].rows_affected == 1
    assert results[1].last_insert_rowid == results[0].last_insert_rowid + 1
    assert results[2].rows_affected == 2
    assert results[3].columns == ("name", "qty")
    assert [r.astuple() for r in results[3]] == [("a", 10), ("b", 20)]
    assert count(other, table) == 2


def test_failing_batch_rolls_back(client, other, table):
    client.execute(f"CREATE TABLE {table} (id INTEGER PRIMARY KEY, name TEXT UNIQUE NOT NULL, qty INTEGER)")
    client.execute(f"INSERT INTO {table} (name, qty) VALUES ('dup', 0)")
    with pytest.raises(libsql_client.LibsqlError) as exc_info:
        client.batch(
            [
                (f"INSERT INTO {table} (name, qty) VALUES (?, 1)", ["rb1"]),
                f"UPDATE {table} SET qty = 999 WHERE name = 'dup'",
                (f"INSERT INTO {table} (name, qty) VALUES (?, 2)", ["dup"]),  # UNIQUE violation
                (f"INSERT INTO {table} (name, qty) VALUES (?, 3)", ["rb3"]),
            ]
        )
    assert exc_info.value.code == "SQLITE_CONSTRAINT"
    assert "UNIQUE" in exc_info.value.explanation
    rows = [r.astuple() for r in other.execute(f"SELECT name, qty FROM {table} ORDER BY name")]
    assert rows == [("dup", 0)]
    # the connection is not left inside a transaction
    client.execute(f"INSERT INTO {table} (name, qty) VALUES ('after', 4)")
    assert count(other, table) == 2


def test_batch_with_ddl(client, other, table):
    results = client.batch(
        [
            f"CREATE TABLE {table} (v)",
            f"INSERT INTO {table} VALUES (1), (2), (3)",
            f"SELECT sum(v) FROM {table}",
        ]
    )
    assert results[1].rows_affected == 3
    assert results[2][0][0] == 6
    assert count(other, table) == 3


def test_failing_batch_with_ddl_rolls_back_ddl(client, other, table):
    with pytest.raises(libsql_client.LibsqlError) as exc_info:
        client.batch(
            [
                f"CREATE TABLE {table} (v NOT NULL)",
                f"INSERT INTO {table} VALUES (1)",
                f"INSERT INTO {table} VALUES (NULL)",
            ]
        )
    assert exc_info.value.code == "SQLITE_CONSTRAINT"
    rs = other.execute("SELECT count(*) FROM sqlite_schema WHERE name = ?", [table])
    assert rs[0][0] == 0


def test_empty_batch(client):
    assert client.batch([]) == []
