"""Interactive transactions. libsql-client 0.3.1 supports them only over ws://
(its HTTP client raises TRANSACTIONS_NOT_SUPPORTED by design), so these run on ws."""

from __future__ import annotations

import time

import pytest

import libsql_client


@pytest.fixture
def ws_url(server):
    return server.ws_url


@pytest.fixture
def wsc(ws_url):
    c = libsql_client.create_client_sync(ws_url)
    yield c
    c.close()


@pytest.fixture(params=["http", "ws"])
def observer(server, request):
    """An independent client that watches from outside the transaction, over either protocol."""
    c = libsql_client.create_client_sync(server.url(request.param))
    yield c
    c.close()


def names(c, table):
    return [r[0] for r in c.execute(f"SELECT name FROM {table} ORDER BY name")]


def test_commit_visible_only_after_commit(wsc, observer, table):
    wsc.execute(f"CREATE TABLE {table} (id INTEGER PRIMARY KEY, name TEXT UNIQUE NOT NULL)")
    with wsc.transaction() as tx:
        ins = tx.execute(f"INSERT INTO {table} (name) VALUES (?)", ["c1"])
        assert ins.rows_affected == 1
        tx.execute(f"INSERT INTO {table} (name) VALUES (:n)", {":n": "c2"})
        assert [r[0] for r in tx.execute(f"SELECT name FROM {table} ORDER BY name")] == ["c1", "c2"]
        assert names(observer, table) == []
        tx.commit()
        assert tx.closed
    assert names(observer, table) == ["c1", "c2"]


def test_rollback_leaves_no_trace(wsc, observer, table):
    wsc.execute(f"CREATE TABLE {table} (id INTEGER PRIMARY KEY, name TEXT UNIQUE NOT NULL)")
    wsc.execute(f"INSERT INTO {table} (name) VALUES ('existing')")
    with wsc.transaction() as tx:
        tx.execute(f"INSERT INTO {table} (name) VALUES ('new')")
        tx.execute(f"DELETE FROM {table} WHERE name = 'existing'")
        assert [r[0] for r in tx.execute(f"SELECT name FROM {table}")] == ["new"]
        tx.rollback()
    assert names(observer, table) == ["existing"]


def test_error_inside_transaction_does_not_abort_it(wsc, observer, table):
    wsc.execute(f"CREATE TABLE {table} (id INTEGER PRIMARY KEY, name TEXT UNIQUE NOT NULL)")
    with wsc.transaction() as tx:
        tx.execute(f"INSERT INTO {table} (name) VALUES ('ok1')")
        with pytest.raises(libsql_client.LibsqlError) as exc_info:
            tx.execute(f"INSERT INTO {table} (name) VALUES ('ok1')")
        assert exc_info.value.code == "SQLITE_CONSTRAINT"
        tx.execute(f"INSERT INTO {table} (name) VALUES ('ok2')")
        tx.commit()
    assert names(observer, table) == ["ok1", "ok2"]


def test_closed_transaction_is_rolled_back(wsc, observer, table):
    wsc.execute(f"CREATE TABLE {table} (id INTEGER PRIMARY KEY, name TEXT UNIQUE NOT NULL)")
    tx = wsc.transaction()
    tx.execute(f"INSERT INTO {table} (name) VALUES ('abandoned')")
    tx.close()
    # the server must roll the closed stream's transaction back and release the write lock
    last_err = None
    for _ in range(50):
        try:
            observer.execute(f"INSERT INTO {table} (name) VALUES ('after')")
            break
        except libsql_client.LibsqlError as e:
            last_err = e
            time.sleep(0.1)
    else:
        pytest.fail(f"write lock never released after closing the transaction: {last_err}")
    assert names(observer, table) == ["after"]


def test_transaction_with_args_and_types(wsc, observer, table):
    wsc.execute(f"CREATE TABLE {table} (id INTEGER PRIMARY KEY, name TEXT, v)")
    with wsc.transaction() as tx:
        for i, v in enumerate([None, 2**53 + 1, 1.5, "ü", b"\x00\x01"]):
            tx.execute(f"INSERT INTO {table} (name, v) VALUES (?, ?)", [f"n{i}", v])
        tx.commit()
    rs = observer.execute(f"SELECT v FROM {table} ORDER BY id")
    assert [r[0] for r in rs] == [None, 2**53 + 1, 1.5, "ü", b"\x00\x01"]
