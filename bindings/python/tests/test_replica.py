"""Embedded replicas (connect(path, sync_url=server)): the first sync copies the server's
database, later ones pull what changed, writes go to the server and are read back at once,
and the status says where the replica is. Against the reference server over HTTP and
WebSocket."""

from __future__ import annotations

import asyncio
import socket
import time

import pytest

import tidepool
import tidepool.aio


@pytest.fixture(params=["http", "ws"])
def server_url(request, server) -> str:
    return server.url(request.param)


def test_sync_copies_then_pulls_changes(server_url, tmp_path, table):
    primary = tidepool.connect(server_url)
    primary.execute(f"CREATE TABLE {table} (id INTEGER PRIMARY KEY, name TEXT, data BLOB)")
    primary.executemany(f"INSERT INTO {table} VALUES (?, ?, ?)", [(i, f"n{i}", bytes([i])) for i in range(50)])
    primary.commit()

    replica = tidepool.connect(tmp_path / "replica.db", sync_url=server_url)
    assert replica.is_replica
    status = replica.sync_status()
    assert status.bootstrapped is False and status.syncs == 0
    report = replica.sync()
    assert report.tables_copied >= 1 and report.rows_copied >= 50
    assert replica.execute(f"SELECT count(*), sum(id) FROM {table}").fetchone() == (50, sum(range(50)))
    assert replica.execute(f"SELECT data FROM {table} WHERE id = 7").fetchone() == (b"\x07",)
    status = replica.sync_status()
    assert status.bootstrapped is True and status.syncs == 1 and status.last_error is None
    assert status.position == status.server_position
    assert abs(status.last_synced_at.timestamp() - time.time()) < 120 and status.last_duration >= 0

    primary.execute(f"UPDATE {table} SET name = 'changed' WHERE id < 5")
    primary.execute(f"DELETE FROM {table} WHERE id >= 45")
    primary.commit()
    # Not there until the next sync.
    assert replica.execute(f"SELECT count(*) FROM {table}").fetchone() == (50,)
    report = replica.sync()
    assert report.changes_applied >= 10
    assert replica.execute(f"SELECT count(*) FROM {table}").fetchone() == (45,)
    assert replica.execute(f"SELECT count(*) FROM {table} WHERE name = 'changed'").fetchone() == (5,)
    assert replica.sync_status().syncs == 2
    replica.close()
    primary.close()


def test_writes_go_to_the_server_and_are_read_back(server_url, tmp_path, table):
    primary = tidepool.connect(server_url)
    primary.execute(f"CREATE TABLE {table} (k TEXT PRIMARY KEY, v INTEGER)")
    replica = tidepool.connect(tmp_path / "replica.db", sync_url=server_url)
    replica.sync()
    with replica:
        replica.execute(f"INSERT INTO {table} VALUES ('a', 1)")
        replica.execute(f"INSERT INTO {table} VALUES ('b', 2)")
    # Read your writes on the replica, and the server has them.
    assert replica.execute(f"SELECT k, v FROM {table} ORDER BY k").fetchall() == [("a", 1), ("b", 2)]
    assert primary.execute(f"SELECT count(*) FROM {table}").fetchone() == (2,)
    with pytest.raises(tidepool.IntegrityError):
        replica.execute(f"INSERT INTO {table} VALUES ('a', 3)")
    replica.rollback()
    # A second connection to the same replica shares it.
    other = tidepool.connect(tmp_path / "replica.db", sync_url=server_url)
    assert other.execute(f"SELECT sum(v) FROM {table}").fetchone() == (3,)
    other.close()
    replica.close()
    primary.close()


@pytest.mark.asyncio
async def test_async_sync(server_url, tmp_path, table):
    async with tidepool.aio.connect(server_url) as primary:
        await primary.execute(f"CREATE TABLE {table} (x INTEGER)")
        await primary.executemany(f"INSERT INTO {table} VALUES (?)", [(i,) for i in range(10)])
        await primary.commit()
        async with tidepool.aio.connect(tmp_path / "replica.db", sync_url=server_url) as replica:
            report = await replica.sync()
            assert report.rows_copied >= 10
            cur = await replica.execute(f"SELECT count(*) FROM {table}")
            assert await cur.fetchone() == (10,)
            await primary.execute(f"INSERT INTO {table} VALUES (10)")
            await primary.commit()
            await replica.sync()
            cur = await replica.execute(f"SELECT max(x) FROM {table}")
            assert await cur.fetchone() == (10,)
            assert replica.sync_status().syncs == 2


def test_background_sync_interval(server_url, tmp_path, table):
    primary = tidepool.connect(server_url)
    primary.execute(f"CREATE TABLE {table} (x INTEGER)")
    primary.execute(f"INSERT INTO {table} VALUES (1)")
    primary.commit()
    replica = tidepool.connect(tmp_path / "replica.db", sync_url=server_url, sync_interval=0.1)
    replica.execute("SELECT 1").fetchone()  # the first connection's use starts the syncing
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        status = replica.sync_status()
        if status.bootstrapped and replica.execute(
            f"SELECT count(*) FROM sqlite_master WHERE name = '{table}'"
        ).fetchone() == (1,):
            break
        time.sleep(0.05)
    assert replica.execute(f"SELECT x FROM {table}").fetchall() == [(1,)]
    replica.close()


def test_sync_failures_and_misuse(server, tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{s.getsockname()[1]}"
    replica = tidepool.connect(tmp_path / "dead.db", sync_url=dead, connect_timeout=2, request_timeout=2)
    with pytest.raises(tidepool.OperationalError) as e:
        replica.sync()
    assert e.value.code in ("CONNECT_FAILED", "TIMEOUT")
    status = replica.sync_status()
    assert isinstance(status.last_error, tidepool.OperationalError)
    assert status.last_error.code == e.value.code and status.bootstrapped is False
    plain = tidepool.connect(server.url())
    assert plain.sync_status() is None and not plain.is_replica
    with pytest.raises(tidepool.NotSupportedError) as e:
        plain.sync()
    assert e.value.code == "UNSUPPORTED"
    with pytest.raises(tidepool.InterfaceError):
        tidepool.connect(":memory:", sync_url=server.url())
