"""tidepool.aio: the same shapes with awaitables, on the package's own runtime; many calls in
flight at once, cancellation, and a runtime that survives fork()."""

from __future__ import annotations

import asyncio
import os
import sys

import pytest

import tidepool
import tidepool.aio

pytestmark = pytest.mark.asyncio


async def test_execute_fetch_and_iterate(target, table):
    async with tidepool.aio.connect(target) as conn:
        cur = conn.cursor()
        async with cur:
            await cur.execute(f"CREATE TABLE {table} (id INTEGER PRIMARY KEY, v TEXT)")
            await cur.executemany(f"INSERT INTO {table} (v) VALUES (?)", [(str(i),) for i in range(1000)])
            assert cur.rowcount == 1000 and cur.lastrowid == 1000
            await conn.commit()
            await cur.execute(f"SELECT id, v FROM {table} ORDER BY id")
            assert [d[0] for d in cur.description] == ["id", "v"]
            assert await cur.fetchone() == (1, "0")
            assert len(await cur.fetchmany(10)) == 10
            rest = [row async for row in cur]
            assert len(rest) == 989 and rest[-1] == (1000, "999")
            cur = await conn.execute(f"UPDATE {table} SET v = v || '!' WHERE id <= ?", (5,))
            assert cur.rowcount == 5 and cur.description is None
            assert await conn.in_transaction()
            await conn.rollback()
            cur = await conn.execute(f"SELECT count(*) FROM {table} WHERE v LIKE '%!'")
            assert await cur.fetchall() == [(0,)]
    assert conn.closed


async def test_transactions_and_context_managers(target, table):
    conn = await tidepool.aio.connect(target)
    other = await tidepool.aio.connect(target)
    await conn.execute(f"CREATE TABLE {table} (x INTEGER)")
    async with conn:
        await conn.execute(f"INSERT INTO {table} VALUES (1)")
        assert await conn.in_transaction()
        cur = await other.execute(f"SELECT count(*) FROM {table}")
        assert await cur.fetchone() == (0,)
    assert not await conn.in_transaction()
    with pytest.raises(KeyError):
        async with conn:
            await conn.execute(f"INSERT INTO {table} VALUES (2)")
            raise KeyError("abort")
    cur = await other.execute(f"SELECT x FROM {table}")
    assert await cur.fetchall() == [(1,)]
    auto = await tidepool.aio.connect(target, autocommit=True)
    await auto.execute(f"INSERT INTO {table} VALUES (3)")
    assert not await auto.in_transaction()
    await auto.set_isolation_level("")
    await auto.execute(f"INSERT INTO {table} VALUES (4)")
    assert await auto.in_transaction()
    await auto.set_isolation_level(None)  # commits
    cur = await other.execute(f"SELECT count(*) FROM {table}")
    assert await cur.fetchone() == (3,)
    for c in (conn, other, auto):
        await c.close()


async def test_many_connections_run_concurrently(target, table):
    setup = await tidepool.aio.connect(target)
    await setup.execute(f"CREATE TABLE {table} (k INTEGER)")

    async def worker(k: int) -> int:
        async with tidepool.aio.connect(target, timeout=30) as conn:
            async with conn:
                await conn.execute(f"INSERT INTO {table} VALUES (?)", (k,))
            cur = await conn.execute("SELECT ?", (k,))
            (v,) = await cur.fetchone()
            return v

    got = await asyncio.gather(*(worker(k) for k in range(16)))
    assert got == list(range(16))
    cur = await setup.execute(f"SELECT count(*), sum(k) FROM {table}")
    assert await cur.fetchone() == (16, sum(range(16)))
    await setup.close()


async def test_errors_are_the_same_classes(target):
    async with tidepool.aio.connect(target) as conn:
        with pytest.raises(tidepool.OperationalError) as e:
            await conn.execute("SELEC 1")
        assert e.value.code == "SQLITE_ERROR"
        with pytest.raises(tidepool.ProgrammingError):
            await conn.execute("SELECT ?", (object(),))
        with pytest.raises(tidepool.DataError):
            await conn.execute("SELECT ?", (2**70,))
        with pytest.raises(tidepool.ProgrammingError):
            await conn.executemany("SELECT 1", [()])
        cur = await conn.execute("SELECT 1")
        await cur.close()
        with pytest.raises(tidepool.ProgrammingError):
            await cur.fetchone()
    with pytest.raises(tidepool.ProgrammingError) as e:
        await conn.execute("SELECT 1")
    assert e.value.code == "CLOSED"


async def test_cancelling_a_call_cancels_it(tmp_path):
    conn = await tidepool.aio.connect(tmp_path / "c.db")
    endless = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT max(x) FROM c"
    task = asyncio.ensure_future(conn.execute(endless))
    await asyncio.sleep(0.2)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    # The connection is free again: the statement was stopped, not left running.
    cur = await asyncio.wait_for(conn.execute("SELECT 42"), timeout=30)
    assert await cur.fetchone() == (42,)
    await conn.close()


async def test_timeouts_from_asyncio_cancel_remote_calls(server):
    conn = await tidepool.aio.connect(server.url("ws"))
    slow = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 300000) SELECT sum(x) FROM c"
    with pytest.raises(asyncio.TimeoutError):
        await asyncio.wait_for(conn.execute(slow), timeout=0.1)
    other = await tidepool.aio.connect(server.url("ws"))
    cur = await other.execute("SELECT 1")
    assert await cur.fetchone() == (1,)
    await other.close()


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork()")
async def test_a_forked_child_gets_a_runtime_of_its_own(target, table):
    conn = await tidepool.aio.connect(target)
    await conn.execute(f"CREATE TABLE {table} (who TEXT)")
    await conn.commit()
    # The parent's runtime is up (threads running) when it forks.
    sync_conn = tidepool.connect(target)
    sync_conn.execute(f"INSERT INTO {table} VALUES ('parent')")
    sync_conn.commit()
    pid = os.fork()
    if pid == 0:  # the child: new connections, sync and async, on a fresh runtime
        code = 1
        try:
            child = tidepool.connect(target)
            child.execute(f"INSERT INTO {table} VALUES ('child')")
            child.commit()

            async def in_child() -> None:
                async with tidepool.aio.connect(target) as c:
                    async with c:
                        await c.execute(f"INSERT INTO {table} VALUES ('child-aio')")

            asyncio.run(in_child())
            code = 0
        finally:
            sys.stdout.flush()
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    cur = await conn.execute(f"SELECT who FROM {table} ORDER BY who")
    assert await cur.fetchall() == [("child",), ("child-aio",), ("parent",)]
    # The parent's connections made before the fork go on working.
    assert sync_conn.execute(f"SELECT count(*) FROM {table}").fetchone() == (3,)
    await conn.close()
    sync_conn.close()


async def test_close_with_rows_still_streaming(target):
    conn = await tidepool.aio.connect(target)
    cur = await conn.execute(
        "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 5000) SELECT x FROM c"
    )
    assert await cur.fetchone() == (1,)
    await asyncio.wait_for(conn.close(), timeout=30)
    with pytest.raises(tidepool.ProgrammingError):
        await cur.fetchone()
