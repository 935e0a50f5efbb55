"""SQL errors surface as LibsqlError with the primary SQLite code."""

from __future__ import annotations

import pytest

import libsql_client


@pytest.fixture
def tbl(client, table):
    client.execute(
        f"CREATE TABLE {table} (id INTEGER PRIMARY KEY, email TEXT UNIQUE, name TEXT NOT NULL, "
        "age INTEGER CHECK (age >= 0))"
    )
    client.execute(f"INSERT INTO {table} (id, email, name) VALUES (1, 'a@example.com', 'A')")
    return table


CASES = [
    ("syntax", "SELEC 1", [], "SQLITE_ERROR", "syntax error"),
    ("no such table", "SELECT * FROM no_such_table_xyz", [], "SQLITE_ERROR", "no such table"),
    ("no such column", "SELECT nope FROM {t}", [], "SQLITE_ERROR", "no such column"),
    ("unique", "INSERT INTO {t} (email, name) VALUES (?, ?)", ["a@example.com", "B"], "SQLITE_CONSTRAINT", "UNIQUE constraint failed"),
    ("not null", "INSERT INTO {t} (email, name) VALUES (?, ?)", ["n@example.com", None], "SQLITE_CONSTRAINT", "NOT NULL constraint failed"),
    ("check", "INSERT INTO {t} (email, name, age) VALUES (?, ?, ?)", ["c@example.com", "C", -1], "SQLITE_CONSTRAINT", "CHECK constraint failed"),
]


@pytest.mark.parametrize("sql,args,code,message", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_sql_error_code(client, tbl, sql, args, code, message):
    with pytest.raises(libsql_client.LibsqlError) as exc_info:
        client.execute(sql.format(t=tbl), args)
    err = exc_info.value
    assert err.code == code, str(err)
    assert message.lower() in err.explanation.lower()
    # nothing was written, and the client still works
    assert client.execute(f"SELECT count(*) FROM {tbl}")[0][0] == 1


def test_async_error(url):
    import asyncio

    async def run():
        async with libsql_client.create_client(url) as c:
            with pytest.raises(libsql_client.LibsqlError) as exc_info:
                await c.execute("SELEC 1")
            assert exc_info.value.code == "SQLITE_ERROR"
            return (await c.execute("SELECT 5"))[0][0]

    assert asyncio.run(run()) == 5
