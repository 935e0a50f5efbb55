"""Offline databases through tidepool.aio: the two-device scenario of test_offline.py with
awaitable calls, a Python resolver during an awaited sync, and subscriptions delivered on the
event loop (plain and coroutine callbacks)."""

from __future__ import annotations

import asyncio
import logging
import threading
import time

import pytest

import tidepool
import tidepool.aio
from test_offline import ITEMS, WAIT, fresh_server, later, primary, url  # noqa: F401 (fixtures)


async def device(url: str, tmp_path, name: str, **kw) -> tidepool.aio.Connection:
    conn = await tidepool.aio.connect(tmp_path / f"{name}.db", sync_url=url, offline=True, **kw)
    report = await conn.sync()
    assert report.tables_copied >= 2
    return conn


async def rows(conn, sql: str):
    return await (await conn.execute(sql)).fetchall()


@pytest.mark.asyncio
async def test_two_devices_conflict_resolve_and_converge(url, primary, tmp_path):
    a = await device(url, tmp_path, "a")
    b = await device(url, tmp_path, "b")
    assert a.is_offline and a.is_replica

    # The later write wins a column; the loser records it with the server's row shown.
    async with a:
        await a.execute("UPDATE items SET qty = 20 WHERE id = 2")
        await a.execute("UPDATE items SET name = 'b-apple' WHERE id = 1")
    later()
    async with b:
        await b.execute("UPDATE items SET qty = 30 WHERE id = 2")
    later()
    async with a:
        await a.execute("UPDATE items SET name = 'a-apple' WHERE id = 1")
    assert await a.pending_changes() == 3
    assert (await a.sync()).conflicts == 0
    report = await b.sync()
    assert (report.changes_pushed, report.conflicts) == (1, 1)
    [c] = await b.conflicts()
    assert (c.kind, c.rule, c.outcome, c.key) == ("update_update", "column_lww", "local", (2,))
    assert c.remote["qty"] == 20
    await a.sync()
    assert await rows(a, ITEMS) == [(1, "a-apple", 1), (2, "pear", 30)]

    # b wrote name of 1 before a's last write: it lost that one.
    async with b:
        await b.execute("UPDATE items SET name = 'mine' WHERE id = 1")
    later()
    async with a:
        await a.execute("UPDATE items SET name = 'theirs' WHERE id = 1")
    await a.sync()
    assert (await b.sync()).conflicts == 1
    lost = [c for c in await b.conflicts() if c.outcome == "remote"]
    assert len(lost) == 1 and lost[0].local["name"] == "mine"
    assert await rows(b, "SELECT name FROM items WHERE id = 1") == [("theirs",)]
    with pytest.raises(tidepool.ProgrammingError) as e:
        await b.resolve_conflict(424242, "local")
    assert e.value.code == "INVALID_ARGUMENT"
    await b.resolve_conflict(lost[0].id, "local")
    await b.resolve_conflict(c.id, "remote")
    assert await b.conflicts() == []
    await b.sync()
    await a.sync()
    expected = [(1, "mine", 1), (2, "pear", 30)]
    assert await rows(a, ITEMS) == expected
    assert primary.execute(ITEMS).fetchall() == expected
    await a.close()
    await b.close()


@pytest.mark.asyncio
async def test_a_resolver_during_an_awaited_sync_and_a_refused_change(url, primary, tmp_path):
    loop_thread = threading.current_thread()
    called_on = []

    def resolver(conflict):
        called_on.append(threading.current_thread())
        return {"qty": conflict.local["qty"] + conflict.remote["qty"]}

    a = await device(url, tmp_path, "a")
    b = await device(url, tmp_path, "b", resolver=resolver)
    async with a:
        await a.execute("UPDATE items SET qty = 100 WHERE id = 1")
        await a.execute("INSERT INTO items VALUES (10, 'ten', 1, 'X')")
    async with b:
        await b.execute("UPDATE items SET qty = 5 WHERE id = 1")
    async with b:
        await b.execute("INSERT INTO items VALUES (20, 'twenty', 1, 'X')")
    await a.sync()
    report = await b.sync()
    assert (report.changes_pushed, report.conflicts) == (2, 2)
    # Called off the loop's thread. Not necessarily once: the refused change makes the core
    # decide the page again one transaction at a time, asking the resolver again.
    assert called_on and all(t is not loop_thread for t in called_on)
    merged, refused = sorted(await b.conflicts(), key=lambda c: c.kind != "update_update")
    assert (merged.rule, merged.outcome) == ("resolver", "merged")
    assert (refused.kind, refused.rule) == ("rejected", "rejected")
    assert refused.error[0].startswith("SQLITE_CONSTRAINT")
    assert primary.execute("SELECT qty FROM items WHERE id = 1").fetchone() == (105,)
    assert primary.execute("SELECT count(*) FROM items WHERE id = 20").fetchone() == (0,)
    assert await rows(b, ITEMS) == primary.execute(ITEMS).fetchall()


@pytest.mark.asyncio
async def test_subscriptions_run_on_the_event_loop(url, primary, tmp_path, caplog):
    a = await device(url, tmp_path, "a")
    loop_thread = threading.current_thread()
    heard: "asyncio.Queue[tuple]" = asyncio.Queue()

    def on_change(change):
        heard.put_nowait((change, threading.current_thread() is loop_thread))

    async def on_items(change):
        await asyncio.sleep(0)
        heard.put_nowait(("coroutine", change))

    sub = a.subscribe(on_change)
    async with a.subscribe(on_items, tables="items"):
        async with a:
            await a.execute("INSERT INTO notes VALUES ('n1', 'hi')")
        change, on_loop = await asyncio.wait_for(heard.get(), WAIT)
        assert change == tidepool.TableChange(("notes",), "local") and on_loop
        primary.execute("UPDATE items SET qty = 9 WHERE id = 2")
        await a.sync()
        got = [await asyncio.wait_for(heard.get(), WAIT) for _ in range(2)]
        assert ("coroutine", tidepool.TableChange(("items",), "remote")) in got
        assert any(
            isinstance(c, tidepool.TableChange) and c.origin == "remote" and "items" in c.tables and on_loop
            for c, on_loop in got
        )
    sub.close()

    # A coroutine callback that raises is logged.
    async def failing(change):
        raise ValueError("async subscriber bug")

    done: "asyncio.Queue[tidepool.TableChange]" = asyncio.Queue()
    with caplog.at_level(logging.ERROR, logger="tidepool"):
        with a.subscribe(failing), a.subscribe(done.put_nowait):
            async with a:
                await a.execute("INSERT INTO notes VALUES ('n2', 'x')")
            await asyncio.wait_for(done.get(), WAIT)
            for _ in range(100):
                if any("coroutine raised" in r.getMessage() for r in caplog.records):
                    break
                await asyncio.sleep(0.01)
    assert any("coroutine raised" in r.getMessage() for r in caplog.records)
    assert heard.empty()


@pytest.mark.asyncio
async def test_wait_for_sync_and_misuse(url, primary, tmp_path):
    async with tidepool.aio.connect(
        tmp_path / "a.db", sync_url=url, offline=True, sync_interval=3600
    ) as conn:
        async def synced(done):
            deadline = time.monotonic() + WAIT
            status = conn.sync_status()
            while not await done(status):
                assert time.monotonic() < deadline, status
                try:
                    status = await conn.wait_for_sync(timeout=1)
                    assert isinstance(status, tidepool.SyncStatus)
                except tidepool.OperationalError as e:
                    assert e.code == "TIMEOUT"
                    status = conn.sync_status()

        async def bootstrapped(status):
            return status.bootstrapped

        async def pushed(status):
            return await conn.pending_changes() == 0

        await synced(bootstrapped)
        async with conn:
            await conn.execute("UPDATE items SET qty = 77 WHERE id = 2")
        await synced(pushed)
        assert primary.execute("SELECT qty FROM items WHERE id = 2").fetchone() == (77,)
        with pytest.raises(tidepool.OperationalError) as e:
            await conn.wait_for_sync(timeout=0.05)
        assert e.value.code == "TIMEOUT"
        # Cancelling a wait is fine.
        waiting = asyncio.ensure_future(conn.wait_for_sync())
        await asyncio.sleep(0.01)
        waiting.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiting

        await conn.execute("INSERT INTO notes VALUES ('n', 'x')")
        with pytest.raises(tidepool.ProgrammingError):
            await conn.sync()
        await conn.rollback()
        with pytest.raises(tidepool.ProgrammingError):
            await conn.resolve_conflict("1", "local")  # type: ignore[arg-type]
        with pytest.raises(tidepool.ProgrammingError):
            await conn.resolve_conflict(1, "neither")
        with pytest.raises(tidepool.ProgrammingError):
            conn.subscribe(None)  # type: ignore[arg-type]

    async with tidepool.aio.connect(tmp_path / "plain.db") as local:
        for call in (local.conflicts, local.pending_changes, lambda: local.resolve_conflict(1, "local")):
            with pytest.raises(tidepool.NotSupportedError) as e:
                await call()
            assert e.value.code == "UNSUPPORTED"
        with pytest.raises(tidepool.NotSupportedError):
            local.subscribe(print)
    with pytest.raises(tidepool.InterfaceError) as e:
        await tidepool.aio.connect(tmp_path / "x.db", sync_url=url, offline=True, conflict_policy="last")
    assert e.value.code == "INVALID_CONFIG"


def test_an_asyncio_subscription_needs_a_running_loop(url, primary, tmp_path):
    async def open_device():
        return await device(url, tmp_path, "a")

    conn = asyncio.run(open_device())
    with pytest.raises(tidepool.ProgrammingError) as e:
        conn.subscribe(print)
    assert e.value.code == "INVALID_ARGUMENT"
