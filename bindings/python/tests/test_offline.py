"""Offline databases (connect(path, sync_url=server, offline=True)) through the sync API: writes
commit on the device with the server away and sync pushes them once; two devices writing the
same column conflict and the later write wins; the losing device records the conflict, shows
the server's row and can keep its own; a resolver written in Python decides; a change the
server refuses is recorded and the rest goes through; subscriptions hear local commits and
synced changes. Each test has a reference server of its own (over HTTP and WebSocket)."""

from __future__ import annotations

import datetime as dt
import logging
import queue
import threading
import time
from typing import List

import pytest

import tidepool
from conftest import start_server

ITEMS = "SELECT id, name, qty FROM items ORDER BY id"
WAIT = 30  # seconds a test waits for a delivery before failing (never a timing assertion)


@pytest.fixture
def fresh_server(tmp_path):
    home = tmp_path / "server-dir"
    home.mkdir()
    s = start_server(home)
    yield s
    s.stop()


@pytest.fixture(params=["http", "ws"])
def url(request, fresh_server) -> str:
    return fresh_server.url(request.param)


@pytest.fixture
def primary(fresh_server):
    conn = tidepool.connect(fresh_server.url(), autocommit=True)
    conn.executescript(
        "CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT NOT NULL, qty INTEGER, code TEXT UNIQUE);"
        "INSERT INTO items (id, name, qty) VALUES (1, 'apple', 1), (2, 'pear', 2);"
        "CREATE TABLE notes (id TEXT PRIMARY KEY, body TEXT);"
    )
    yield conn
    conn.close()


def device(url: str, tmp_path, name: str, **kw) -> tidepool.Connection:
    conn = tidepool.connect(tmp_path / f"{name}.db", sync_url=url, offline=True, **kw)
    report = conn.sync()
    assert report.tables_copied >= 2 and report.rows_copied >= 2
    return conn


def later() -> None:
    """Lets the clock move on, so the next write is stamped later than the last one."""
    time.sleep(0.005)


def test_writes_commit_with_the_server_away_and_sync_once_it_is_back(tmp_path):
    home = tmp_path / "server"
    home.mkdir()
    server = start_server(home)
    try:
        primary = tidepool.connect(server.url(), autocommit=True)
        primary.executescript(
            "CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT NOT NULL, qty INTEGER);"
            "INSERT INTO items VALUES (1, 'apple', 1), (2, 'pear', 2)"
        )
        primary.close()
        conn = tidepool.connect(
            tmp_path / "a.db", sync_url=server.url(), offline=True, connect_timeout=2, request_timeout=5
        )
        assert conn.is_offline and conn.is_replica
        assert conn.sync_status().bootstrapped is False
        conn.sync()
        server.stop()

        # PEP 249 as usual: an implicit transaction, rolled back or committed.
        conn.execute("INSERT INTO items VALUES (3, 'plum', 3)")
        assert conn.in_transaction
        conn.rollback()
        assert conn.pending_changes() == 0
        conn.execute("INSERT INTO items VALUES (3, 'plum', 3)")
        conn.execute("UPDATE items SET qty = qty + 10 WHERE id = 1")
        conn.execute("DELETE FROM items WHERE id = 2")
        conn.commit()
        assert conn.pending_changes() == 3
        with pytest.raises(tidepool.OperationalError) as e:
            conn.sync()
        assert e.value.code in ("CONNECT_FAILED", "NETWORK", "TIMEOUT")
        status = conn.sync_status()
        assert isinstance(status.last_error, tidepool.OperationalError)
        assert conn.execute(ITEMS).fetchall() == [(1, "apple", 11), (3, "plum", 3)]

        server = start_server(home, port=server.port)
        report = conn.sync()
        assert isinstance(report, tidepool.SyncReport)
        assert (report.changes_pushed, report.conflicts) == (3, 0)
        assert conn.pending_changes() == 0
        status = conn.sync_status()
        assert isinstance(status, tidepool.SyncStatus)
        assert status.last_error is None and status.pending_changes == 0 and status.conflicts == 0
        assert isinstance(status.last_synced_at, dt.datetime)
        check = tidepool.connect(server.url())
        assert check.execute(ITEMS).fetchall() == [(1, "apple", 11), (3, "plum", 3)]
        check.close()
        conn.close()
    finally:
        server.stop()


def test_the_later_write_wins_and_the_loser_records_the_conflict(url, primary, tmp_path):
    a = device(url, tmp_path, "a")
    b = device(url, tmp_path, "b")
    with a:
        a.execute("UPDATE items SET name = 'green apple' WHERE id = 1")  # another column
        a.execute("UPDATE items SET qty = 20 WHERE id = 2")
    later()
    with b:
        b.execute("UPDATE items SET qty = 5 WHERE id = 1")
        b.execute("UPDATE items SET qty = 30 WHERE id = 2")
    assert a.sync().conflicts == 0
    report = b.sync()
    assert report.conflicts == 1 and report.changes_pushed == 2
    assert "items" in a.sync().tables_changed
    expected = [(1, "green apple", 5), (2, "pear", 30)]
    assert primary.execute(ITEMS).fetchall() == expected
    assert a.execute(ITEMS).fetchall() == expected
    assert b.execute(ITEMS).fetchall() == expected
    assert a.conflicts() == []
    [c] = b.conflicts()
    assert isinstance(c, tidepool.Conflict)
    assert (c.table, c.key, c.kind, c.rule, c.outcome) == ("items", (2,), "update_update", "column_lww", "local")
    assert c.columns == ("qty",)
    assert c.remote["qty"] == 20 and c.local["qty"] == 30 and c.base["qty"] == 2
    assert c.error is None
    assert abs(c.written_at - dt.datetime.now(dt.timezone.utc)) < dt.timedelta(minutes=5)
    with pytest.raises(dataclass_frozen_error()):
        c.outcome = "remote"  # type: ignore[misc]
    assert b.sync_status().conflicts == 1


def dataclass_frozen_error():
    import dataclasses

    return dataclasses.FrozenInstanceError


def test_the_earlier_write_loses_and_can_be_kept(url, primary, tmp_path):
    a = device(url, tmp_path, "a")
    b = device(url, tmp_path, "b")
    with b:
        b.execute("UPDATE items SET name = 'b-pear' WHERE id = 2")
    later()
    with a:
        a.execute("UPDATE items SET name = 'a-pear' WHERE id = 2")
    a.sync()
    assert b.sync().conflicts == 1
    name_of_2 = "SELECT name FROM items WHERE id = 2"
    assert b.execute(name_of_2).fetchone() == ("a-pear",)
    [c] = b.conflicts()
    assert (c.outcome, c.rule) == ("remote", "column_lww")
    assert c.local["name"] == "b-pear" and c.remote["name"] == "a-pear"
    assert c.base == {"id": 2, "name": "pear", "qty": 2, "code": None}

    with pytest.raises(tidepool.ProgrammingError) as e:
        b.resolve_conflict(c.id + 1000, "local")
    assert e.value.code == "INVALID_ARGUMENT"
    b.resolve_conflict(c, "local")
    assert b.conflicts() == []
    assert b.execute(name_of_2).fetchone() == ("b-pear",)
    assert b.pending_changes() == 1
    assert b.sync().conflicts == 0
    a.sync()
    assert a.execute(name_of_2).fetchone() == ("b-pear",)
    assert primary.execute(name_of_2).fetchone() == ("b-pear",)


def test_a_conflict_resolved_with_a_merged_row_or_remote(url, primary, tmp_path):
    a = device(url, tmp_path, "a")
    b = device(url, tmp_path, "b")
    with b:
        b.execute("UPDATE items SET name = 'b1', qty = 10 WHERE id = 1")
        b.execute("UPDATE items SET name = 'b2' WHERE id = 2")
    later()
    with a:
        a.execute("UPDATE items SET name = 'a1', qty = 11 WHERE id = 1")
        a.execute("UPDATE items SET name = 'a2' WHERE id = 2")
    a.sync()
    b.sync()
    first, second = sorted(b.conflicts(), key=lambda c: c.key)
    b.resolve_conflict(first.id, {"name": "merged", "qty": 99})
    b.resolve_conflict(second.id, "remote")
    assert b.conflicts() == []
    b.sync()
    a.sync()
    expected = [(1, "merged", 99), (2, "a2", 2)]
    assert primary.execute(ITEMS).fetchall() == expected
    assert a.execute(ITEMS).fetchall() == expected


def test_a_python_resolver_decides(url, primary, tmp_path):
    seen: List[tidepool.Conflict] = []
    threads = []

    def resolver(conflict: tidepool.Conflict):
        seen.append(conflict)
        threads.append(threading.current_thread() is threading.main_thread())
        return {"name": f"{conflict.local['name']}+{conflict.remote['name']}"}

    a = device(url, tmp_path, "a")
    b = device(url, tmp_path, "b", resolver=resolver)
    with a:
        a.execute("UPDATE items SET name = 'mine' WHERE id = 1")
    with b:
        b.execute("UPDATE items SET name = 'yours' WHERE id = 1")
    a.sync()
    report = b.sync()
    assert report.conflicts == 1
    assert len(seen) == 1 and isinstance(seen[0], tidepool.Conflict)
    assert (seen[0].table, seen[0].key, seen[0].kind) == ("items", (1,), "update_update")
    [c] = b.conflicts()
    assert (c.rule, c.outcome) == ("resolver", "merged")
    assert b.execute("SELECT name FROM items WHERE id = 1").fetchone() == ("yours+mine",)
    b.sync()
    assert primary.execute("SELECT name FROM items WHERE id = 1").fetchone() == ("yours+mine",)
    a.sync()
    assert a.execute("SELECT name FROM items WHERE id = 1").fetchone() == ("yours+mine",)


@pytest.mark.parametrize("behaviour", ["raises", "bad value", "bad column value", "huge int", "coroutine"])
def test_a_failing_resolver_keeps_the_servers_version(behaviour, url, primary, tmp_path, caplog):
    def resolver(conflict):
        if behaviour == "raises":
            raise RuntimeError("resolver bug")
        if behaviour == "bad value":
            return "mine"
        if behaviour == "bad column value":
            return {"name": object()}
        if behaviour == "huge int":
            return {"qty": 2**70}  # passes the Python check, refused by the native conversion

        async def coro():
            return "local"

        return coro()

    a = device(url, tmp_path, "a")
    b = device(url, tmp_path, "b", resolver=resolver)
    with a:
        a.execute("UPDATE items SET name = 'server' WHERE id = 1")
    with b:
        b.execute("UPDATE items SET name = 'device' WHERE id = 1")
    a.sync()
    with caplog.at_level(logging.ERROR, logger="tidepool"):
        assert b.sync().conflicts == 1
    assert any("keeping the server's version" in r.getMessage() for r in caplog.records)
    [c] = b.conflicts()
    assert (c.rule, c.outcome) == ("resolver", "remote")
    assert b.execute("SELECT name FROM items WHERE id = 1").fetchone() == ("server",)


@pytest.mark.parametrize(
    "policy, outcome, qty",
    [
        ({"items": "server_wins"}, ("server_wins", "remote"), 7),
        ("client_wins", ("client_wins", "local"), 8),
        ({"default": "server_wins", "items": "client_wins"}, ("client_wins", "local"), 8),
    ],
)
def test_policies(policy, outcome, qty, url, primary, tmp_path):
    a = device(url, tmp_path, "a")
    # b writes first, so under column_lww it would lose.
    b = device(url, tmp_path, "b", conflict_policy=policy)
    with b:
        b.execute("UPDATE items SET qty = 8 WHERE id = 1")
    later()
    with a:
        a.execute("UPDATE items SET qty = 7 WHERE id = 1")
    a.sync()
    b.sync()
    [c] = b.conflicts()
    assert (c.rule, c.outcome) == outcome
    assert primary.execute("SELECT qty FROM items WHERE id = 1").fetchone() == (qty,)


def test_a_change_the_server_refuses_is_recorded_and_the_rest_goes_through(url, primary, tmp_path):
    a = device(url, tmp_path, "a")
    b = device(url, tmp_path, "b")
    with a:
        a.execute("INSERT INTO items VALUES (10, 'ten', 1, 'X')")
    with b:
        b.execute("INSERT INTO items VALUES (20, 'twenty', 1, 'X')")
    with b:
        b.execute("UPDATE items SET qty = 99 WHERE id = 1")
    a.sync()
    report = b.sync()
    assert (report.changes_pushed, report.conflicts) == (2, 1)
    [c] = b.conflicts()
    assert (c.kind, c.rule) == ("rejected", "rejected")
    code, message = c.error
    assert code.startswith("SQLITE_CONSTRAINT") and message
    assert c.local["id"] == 20
    on_server = primary.execute(ITEMS).fetchall()
    assert (1, "apple", 99) in on_server and not any(r[0] == 20 for r in on_server)
    assert b.execute(ITEMS).fetchall() == on_server
    # Settled by accepting the server's state.
    b.resolve_conflict(c.id, "remote")
    assert b.conflicts() == []


def test_subscriptions_hear_local_commits_and_synced_changes(url, primary, tmp_path, caplog):
    a = device(url, tmp_path, "a")
    events: "queue.Queue[tidepool.TableChange]" = queue.Queue()
    threads = queue.Queue()

    def on_change(change):
        threads.put(threading.current_thread() is threading.main_thread())
        events.put(change)

    sub = a.subscribe(on_change)
    a.execute("INSERT INTO notes VALUES ('n1', 'hi')")
    a.commit()
    change = events.get(timeout=WAIT)
    assert isinstance(change, tidepool.TableChange)
    assert (change.tables, change.origin) == (("notes",), "local")
    assert threads.get(timeout=WAIT) is False  # a thread of the package's

    # A rolled-back transaction is not announced: the next event is the sync's.
    a.execute("INSERT INTO items (id, name) VALUES (50, 'x')")
    a.rollback()
    primary.execute("UPDATE items SET qty = 3 WHERE id = 2")
    a.sync()
    change = events.get(timeout=WAIT)
    assert change.origin == "remote" and "items" in change.tables

    # Only the tables asked for; a callback that raises is logged and stays subscribed.
    only_items: "queue.Queue[tidepool.TableChange]" = queue.Queue()
    calls = []

    def failing(change):
        calls.append(change)
        raise ValueError("subscriber bug")

    with caplog.at_level(logging.ERROR, logger="tidepool"):
        with a.subscribe(only_items.put, tables=["items"]) as items_sub, a.subscribe(failing):
            with a:
                a.execute("INSERT INTO notes VALUES ('n2', 'x')")
            with a:
                a.execute("UPDATE items SET qty = 4 WHERE id = 1")
            assert only_items.get(timeout=WAIT) == tidepool.TableChange(("items",), "local")
            assert events.get(timeout=WAIT).tables == ("notes",)
            assert events.get(timeout=WAIT).tables == ("items",)
            deadline = time.monotonic() + WAIT
            while len(calls) < 2 and time.monotonic() < deadline:
                time.sleep(0.01)
        assert items_sub.closed
    assert len(calls) == 2
    assert any("subscriber raised" in r.getMessage() for r in caplog.records)

    # Closed: nothing more, while a newer subscriber still hears the next write.
    sub.close()
    sub.close()
    assert sub.closed
    after: "queue.Queue[tidepool.TableChange]" = queue.Queue()
    with a.subscribe(after.put):
        with a:
            a.execute("INSERT INTO notes VALUES ('n3', 'x')")
        assert after.get(timeout=WAIT).tables == ("notes",)
    assert events.empty() and only_items.empty()


def test_a_subscriber_may_use_the_database(url, primary, tmp_path):
    a = device(url, tmp_path, "a")
    counts: "queue.Queue[int]" = queue.Queue()
    reader = tidepool.connect(tmp_path / "a.db", sync_url=url, offline=True)
    sub = a.subscribe(lambda change: counts.put(reader.execute("SELECT count(*) FROM notes").fetchone()[0]))
    with a:
        a.execute("INSERT INTO notes VALUES ('n1', 'hi')")
    assert counts.get(timeout=WAIT) == 1
    sub.close()


def synced(conn, done) -> "tidepool.SyncStatus":
    """Waits sync by sync until `done(status)`; the status is looked at before each wait, so a
    sync that finished before the first wait is not waited for."""
    deadline = time.monotonic() + WAIT
    status = conn.sync_status()
    while not done(status):
        assert time.monotonic() < deadline, status
        try:
            status = conn.wait_for_sync(timeout=1)
            assert isinstance(status, tidepool.SyncStatus)
        except tidepool.OperationalError as e:
            assert e.code == "TIMEOUT"
            status = conn.sync_status()
    return status


def test_background_sync_and_wait_for_sync(url, primary, tmp_path):
    conn = tidepool.connect(tmp_path / "a.db", sync_url=url, offline=True, sync_interval=3600)
    status = synced(conn, lambda s: s.bootstrapped)
    assert status.last_error is None
    with conn:
        conn.execute("UPDATE items SET qty = 77 WHERE id = 2")
    # Woken by the write, not by the hour-long interval.
    synced(conn, lambda s: conn.pending_changes() == 0)
    assert primary.execute("SELECT qty FROM items WHERE id = 2").fetchone() == (77,)
    with pytest.raises(tidepool.OperationalError) as e:
        conn.wait_for_sync(timeout=0.05)
    assert e.value.code == "TIMEOUT"


def test_connections_share_an_offline_file(url, primary, tmp_path):
    a = device(url, tmp_path, "a")
    other = tidepool.connect(tmp_path / "a.db", sync_url=url, offline=True)
    with a:
        a.execute("INSERT INTO notes VALUES ('n1', 'hi')")
    assert other.execute("SELECT body FROM notes").fetchall() == [("hi",)]
    assert other.pending_changes() == 1
    other.sync()
    assert a.pending_changes() == 0
    with pytest.raises(tidepool.InterfaceError) as e:
        tidepool.connect(tmp_path / "a.db", sync_url=url, offline=True, conflict_policy="server_wins")
    assert e.value.code == "INVALID_CONFIG"


def test_misuse_is_a_typed_error(url, primary, fresh_server, tmp_path):
    a = device(url, tmp_path, "a")
    for bad in ("x", 1.5, True, None):
        with pytest.raises(tidepool.ProgrammingError) as e:
            a.resolve_conflict(bad, "local")  # type: ignore[arg-type]
        assert e.value.code == "INVALID_ARGUMENT"
    for bad in ("mine", 3, None, {"name": object()}, {1: "x"}):
        with pytest.raises(tidepool.ProgrammingError):
            a.resolve_conflict(1, bad)  # type: ignore[arg-type]
    with pytest.raises(tidepool.DataError):
        a.resolve_conflict(1, {"qty": 2**70})
    with pytest.raises(tidepool.ProgrammingError) as e:
        a.resolve_conflict(12345, "remote")
    assert e.value.code == "INVALID_ARGUMENT"
    with pytest.raises(tidepool.ProgrammingError):
        a.subscribe("not callable")  # type: ignore[arg-type]
    with pytest.raises(tidepool.ProgrammingError):
        a.wait_for_sync(timeout=-1)
    # The transaction holds the writer sync needs: refused rather than waiting for itself.
    a.execute("INSERT INTO notes VALUES ('n1', 'x')")
    with pytest.raises(tidepool.ProgrammingError) as e:
        a.sync()
    assert "commit" in str(e.value)
    with pytest.raises(tidepool.ProgrammingError):
        a.resolve_conflict(1, "local")
    a.commit()
    assert a.sync().changes_pushed == 1
    a.close()
    with pytest.raises(tidepool.ProgrammingError) as e:
        a.conflicts()
    assert e.value.code == "CLOSED"

    # Offline calls on databases that are not offline.
    local = tidepool.connect(tmp_path / "plain.db")
    replica = tidepool.connect(tmp_path / "replica.db", sync_url=url)
    remote = tidepool.connect(url)
    for conn in (local, replica, remote):
        assert not conn.is_offline
        for call in (conn.conflicts, conn.pending_changes, lambda: conn.resolve_conflict(1, "local")):
            with pytest.raises(tidepool.NotSupportedError) as e:
                call()
            assert e.value.code == "UNSUPPORTED"
    for conn in (local, remote):
        with pytest.raises(tidepool.NotSupportedError):
            conn.subscribe(print)
        with pytest.raises(tidepool.NotSupportedError):
            conn.wait_for_sync(timeout=1)
    replica.subscribe(print).close()  # replicas announce their syncs

    # Bad configuration.
    bad_configs = [
        dict(offline=True),  # no sync_url
        dict(offline=True, sync_url=url, conflict_policy="newest"),
        dict(offline=True, sync_url=url, conflict_policy={"items": "newest"}),
        dict(offline=True, sync_url=url, conflict_policy=3),
        dict(offline=True, sync_url=url, resolver="local"),
        dict(sync_url=url, conflict_policy="server_wins"),  # not offline
        dict(resolver=lambda c: "local"),
    ]
    for kw in bad_configs:
        with pytest.raises(tidepool.InterfaceError) as e:
            tidepool.connect(tmp_path / "bad.db", **kw)
        assert e.value.code == "INVALID_CONFIG", kw
    with pytest.raises(tidepool.InterfaceError):
        tidepool.connect(":memory:", sync_url=url, offline=True)
    with pytest.raises(tidepool.InterfaceError):
        tidepool.connect(url, sync_url=url, offline=True)


def test_a_process_leaving_an_offline_database_open_exits_cleanly(url, primary, tmp_path):
    """Background sync, a resolver and a subscription still live at exit: the interpreter
    shuts down without hanging or crashing."""
    import subprocess
    import sys
    import textwrap

    script = textwrap.dedent(
        f"""
        import tidepool
        conn = tidepool.connect({str(tmp_path / "a.db")!r}, sync_url={url!r}, offline=True,
                                sync_interval=0.05, resolver=lambda c: "local")
        conn.sync()
        heard = []
        conn.subscribe(heard.append)
        with conn:
            conn.execute("UPDATE items SET qty = 5 WHERE id = 1")
        while conn.pending_changes():
            try:
                conn.wait_for_sync(timeout=1)
            except tidepool.OperationalError:
                pass
        print("done", conn.pending_changes(), flush=True)
        """
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "done 0"
    assert primary.execute("SELECT qty FROM items WHERE id = 1").fetchone() == (5,)
