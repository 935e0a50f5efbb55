"""PEP 249 behaviour of connections and cursors, on a server (HTTP, WebSocket) and a local
file."""

from __future__ import annotations

import threading

import pytest

import tidepool


def test_module_globals():
    assert tidepool.apilevel == "2.0"
    assert tidepool.threadsafety == 1
    assert tidepool.paramstyle == "qmark"
    assert tidepool.sqlite_version_info >= (3, 35, 0)
    for name in (
        "Warning", "Error", "InterfaceError", "DatabaseError", "DataError", "OperationalError",
        "IntegrityError", "InternalError", "ProgrammingError", "NotSupportedError",
    ):
        assert issubclass(getattr(tidepool, name), Exception)
    assert issubclass(tidepool.Error, Exception) and not issubclass(tidepool.Warning, tidepool.Error)
    assert issubclass(tidepool.InterfaceError, tidepool.Error)
    assert issubclass(tidepool.DatabaseError, tidepool.Error)
    for name in ("DataError", "OperationalError", "IntegrityError", "InternalError",
                 "ProgrammingError", "NotSupportedError"):
        assert issubclass(getattr(tidepool, name), tidepool.DatabaseError)
    assert tidepool.Binary(b"x") == b"x"
    assert tidepool.STRING == "TEXT" and tidepool.NUMBER == "INTEGER" and tidepool.BINARY == "BLOB"


def test_execute_fetch_and_describe(target, table):
    conn = tidepool.connect(target)
    cur = conn.cursor()
    assert cur.description is None and cur.rowcount == -1 and cur.arraysize == 1
    cur.execute(f"CREATE TABLE {table} (id INTEGER PRIMARY KEY, name TEXT, score REAL)")
    cur.execute(f"INSERT INTO {table} (name, score) VALUES (?, ?)", ("ada", 1.5))
    assert cur.rowcount == 1 and cur.lastrowid == 1
    cur.execute(f"INSERT INTO {table} (name, score) VALUES (:name, :score)", {"name": "bob", "score": 2.5})
    assert cur.lastrowid == 2
    conn.commit()
    cur.execute(f"SELECT id, name, score FROM {table} ORDER BY id")
    assert [d[0] for d in cur.description] == ["id", "name", "score"]
    assert all(len(d) == 7 for d in cur.description)
    assert cur.rowcount == -1
    assert cur.fetchone() == (1, "ada", 1.5)
    assert cur.fetchone() == (2, "bob", 2.5)
    assert cur.fetchone() is None
    cur.execute(f"SELECT name FROM {table} ORDER BY id")
    assert cur.fetchmany() == [("ada",)]
    cur.arraysize = 5
    assert cur.fetchmany() == [("bob",)]
    assert cur.fetchmany() == []
    assert [r for r in cur.execute(f"SELECT id FROM {table} ORDER BY id")] == [(1,), (2,)]
    cur.execute(f"UPDATE {table} SET score = score + 1")
    assert cur.rowcount == 2 and cur.description is None
    cur.execute(f"DELETE FROM {table} WHERE id = 42")
    assert cur.rowcount == 0
    conn.commit()
    conn.close()


def test_returning_gives_rows_and_counts(target, table):
    conn = tidepool.connect(target)
    conn.execute(f"CREATE TABLE {table} (id INTEGER PRIMARY KEY, v TEXT)")
    cur = conn.execute(f"INSERT INTO {table} (v) VALUES ('a'), ('b') RETURNING id, v")
    assert cur.fetchall() == [(1, "a"), (2, "b")]
    assert cur.rowcount == 2 and cur.lastrowid == 2
    conn.commit()


def test_large_results_stream_and_cursors_interleave(target, table):
    conn = tidepool.connect(target)
    conn.execute(f"CREATE TABLE {table} (n INTEGER)")
    conn.executemany(f"INSERT INTO {table} VALUES (?)", [(i,) for i in range(3000)])
    conn.commit()
    a = conn.execute(f"SELECT n FROM {table} ORDER BY n")
    first = [a.fetchone() for _ in range(10)]
    assert first == [(i,) for i in range(10)]
    # Another statement on the connection while `a` still has rows: `a` keeps them.
    b = conn.execute(f"SELECT count(*) FROM {table}")
    assert b.fetchone() == (3000,)
    rest = a.fetchall()
    assert len(rest) == 2990 and rest[-1] == (2999,)
    # A cursor re-executed mid-stream drops its old rows.
    a.execute(f"SELECT n FROM {table}")
    a.fetchmany(3)
    a.execute("SELECT 7")
    assert a.fetchall() == [(7,)]
    big = conn.execute(f"SELECT n FROM {table}").fetchmany(2500)
    assert len(big) == 2500
    conn.close()


def test_executemany_and_executescript(target, table):
    conn = tidepool.connect(target)
    conn.executescript(
        f"CREATE TABLE {table} (k TEXT PRIMARY KEY, v INTEGER); INSERT INTO {table} VALUES ('z', 0);"
    )
    cur = conn.executemany(f"INSERT INTO {table} VALUES (?, ?)", [("a", 1), ("b", 2), ("c", 3)])
    assert cur.rowcount == 3
    cur = conn.executemany(f"UPDATE {table} SET v = v * 10 WHERE k = :k", iter([{"k": "a"}, {"k": "b"}]))
    assert cur.rowcount == 2
    conn.commit()
    # Atomic: a failing set leaves none of the others.
    with pytest.raises(tidepool.IntegrityError):
        conn.executemany(f"INSERT INTO {table} VALUES (?, ?)", [("d", 4), ("a", 5)])
    conn.rollback()
    assert conn.execute(f"SELECT k, v FROM {table} ORDER BY k").fetchall() == [
        ("a", 10), ("b", 20), ("c", 3), ("z", 0)
    ]
    with pytest.raises(tidepool.ProgrammingError):
        conn.executemany("SELECT ?", [(1,)])
    assert conn.executemany(f"DELETE FROM {table} WHERE k = ?", []).rowcount == 0
    conn.close()


def test_implicit_transactions_commit_and_rollback(target, table):
    a = tidepool.connect(target)
    b = tidepool.connect(target)
    a.execute(f"CREATE TABLE {table} (x INTEGER)")
    assert not a.in_transaction
    a.execute(f"INSERT INTO {table} VALUES (1)")
    assert a.in_transaction
    # Not visible to another connection until committed.
    assert b.execute(f"SELECT count(*) FROM {table}").fetchone() == (0,)
    a.commit()
    assert not a.in_transaction
    assert b.execute(f"SELECT count(*) FROM {table}").fetchone() == (1,)
    a.execute(f"INSERT INTO {table} VALUES (2)")
    a.rollback()
    assert a.execute(f"SELECT x FROM {table}").fetchall() == [(1,)]
    # Commit and rollback with no transaction are no-ops.
    a.commit()
    a.rollback()
    # Closing rolls back what was not committed.
    a.execute(f"INSERT INTO {table} VALUES (3)")
    a.close()
    assert b.execute(f"SELECT count(*) FROM {table}").fetchone() == (1,)
    b.close()


def test_context_manager_commits_or_rolls_back(target, table):
    conn = tidepool.connect(target)
    conn.execute(f"CREATE TABLE {table} (x INTEGER)")
    with conn:
        conn.execute(f"INSERT INTO {table} VALUES (1)")
    assert not conn.in_transaction
    with pytest.raises(ZeroDivisionError):
        with conn:
            conn.execute(f"INSERT INTO {table} VALUES (2)")
            1 / 0
    assert conn.execute(f"SELECT x FROM {table}").fetchall() == [(1,)]
    with conn.cursor() as cur:
        cur.execute("SELECT 1")
    with pytest.raises(tidepool.ProgrammingError):
        cur.execute("SELECT 1")
    conn.close()


def test_autocommit_mode(target, table):
    conn = tidepool.connect(target, autocommit=True)
    assert conn.isolation_level is None and conn.autocommit
    other = tidepool.connect(target)
    conn.execute(f"CREATE TABLE {table} (x INTEGER)")
    conn.execute(f"INSERT INTO {table} VALUES (1)")
    assert not conn.in_transaction
    assert other.execute(f"SELECT count(*) FROM {table}").fetchone() == (1,)
    # Explicit BEGIN still works.
    conn.execute("BEGIN")
    conn.execute(f"INSERT INTO {table} VALUES (2)")
    assert conn.in_transaction
    conn.rollback()
    assert other.execute(f"SELECT count(*) FROM {table}").fetchone() == (1,)
    # Leaving autocommit: writes open transactions again; returning to it commits.
    conn.isolation_level = "IMMEDIATE"
    conn.execute(f"INSERT INTO {table} VALUES (3)")
    assert conn.in_transaction
    conn.autocommit = True
    assert not conn.in_transaction
    assert other.execute(f"SELECT count(*) FROM {table}").fetchone() == (2,)
    with pytest.raises(tidepool.ProgrammingError):
        conn.isolation_level = "SOMETIMES"
    conn.close()
    other.close()


def test_closed_connection_and_cursor(target):
    conn = tidepool.connect(target)
    cur = conn.cursor()
    cur.close()
    cur.close()
    with pytest.raises(tidepool.ProgrammingError) as e:
        cur.fetchone()
    assert e.value.code == "CLOSED"
    conn.close()
    conn.close()
    assert conn.closed
    for call in (conn.cursor, conn.commit, lambda: conn.execute("SELECT 1")):
        with pytest.raises(tidepool.ProgrammingError) as e:
            call()
        assert e.value.code == "CLOSED"


def test_connections_work_from_threads(target, table):
    setup = tidepool.connect(target)
    setup.execute(f"CREATE TABLE {table} (t INTEGER, i INTEGER)")
    setup.close()
    errors = []

    def work(t: int) -> None:
        try:
            conn = tidepool.connect(target, timeout=30)
            for i in range(20):
                with conn:
                    conn.execute(f"INSERT INTO {table} VALUES (?, ?)", (t, i))
            conn.close()
        except Exception as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=work, args=(t,)) for t in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    check = tidepool.connect(target)
    assert check.execute(f"SELECT count(*) FROM {table}").fetchone() == (80,)
    check.close()


def test_local_paths_urls_and_memory(tmp_path):
    path = tmp_path / "p.db"
    conn = tidepool.connect(path)  # os.PathLike
    conn.execute("CREATE TABLE t (x)")
    conn.execute("INSERT INTO t VALUES (1)")
    conn.commit()
    conn.close()
    again = tidepool.connect(f"file:{path}")
    assert again.execute("SELECT x FROM t").fetchall() == [(1,)]
    assert again.url.startswith("file:")
    again.close()
    # Each in-memory connection is a database of its own, as with sqlite3.
    m1, m2 = tidepool.connect(":memory:"), tidepool.connect(":memory:")
    m1.execute("CREATE TABLE t (x)")
    with pytest.raises(tidepool.OperationalError):
        m2.execute("SELECT * FROM t")


def test_interrupt_stops_a_local_statement(tmp_path):
    # The statement never ends by itself: the other Python thread can interrupt it only
    # because execute() released the GIL.
    conn = tidepool.connect(tmp_path / "i.db")
    timer = threading.Timer(0.2, conn.interrupt)
    timer.start()
    with pytest.raises(tidepool.OperationalError) as e:
        conn.execute(
            "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT max(x) FROM c"
        ).fetchall()
    timer.join()
    assert e.value.code == "SQLITE_INTERRUPT"
    assert conn.execute("SELECT 1").fetchone() == (1,)


def test_close_with_rows_still_streaming(target):
    conn = tidepool.connect(target)
    cur = conn.execute("WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 5000) SELECT x FROM c")
    assert cur.fetchone() == (1,)
    conn.close()  # does not wait for the unread rows
    with pytest.raises(tidepool.ProgrammingError):
        cur.fetchone()
