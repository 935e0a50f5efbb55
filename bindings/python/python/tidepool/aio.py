"""The asyncio API: the shape of the DB-API one, with awaitable methods.

Calls run on a tokio runtime the package owns (with the GIL released) and resolve asyncio
futures of the running loop, so many connections make progress at once on one thread.
Cancelling a call cancels its request.

    async with tidepool.aio.connect("ws://127.0.0.1:8080") as conn:   # closed at the end
        async with conn:                                             # commit or rollback
            await conn.execute("INSERT INTO t VALUES (?)", (1,))
        cur = await conn.execute("SELECT x FROM t")
        async for row in cur:
            ...

Transactions work as in the sync API (``tidepool.dbapi``): a ``BEGIN`` before the first write
unless ``isolation_level`` is ``None``.
"""

from __future__ import annotations

import asyncio
import inspect
import weakref
from typing import Any, AsyncIterator, Callable, Generator, Iterable, List, Optional, Union

from . import _common, _native, _offline
from ._offline import Conflict, Resolution, Subscription, SyncReport, SyncStatus, TableChange
from .exceptions import ProgrammingError


def _log_failure(task: "asyncio.Future[Any]") -> None:
    if not task.cancelled() and task.exception() is not None:
        _offline.logger.error(
            "a change subscriber's coroutine raised", exc_info=task.exception()
        )

_PREFETCH = 256
_CHUNK = 1024


class Connection:
    """An asyncio connection. Use ``tidepool.aio.connect()`` to make one."""

    def __init__(
        self, database: _native.Database, native: _native.Connection, isolation_level: Optional[str]
    ) -> None:
        self._database = database
        self._native = native
        self._isolation_level = _common.check_isolation_level(isolation_level)
        self._streaming: Optional["weakref.ref[Cursor]"] = None

    @property
    def isolation_level(self) -> Optional[str]:
        return self._isolation_level

    async def set_isolation_level(self, level: Optional[str]) -> None:
        level = _common.check_isolation_level(level)
        if level is None and await self.in_transaction():
            await self.commit()
        self._isolation_level = level

    @property
    def autocommit(self) -> bool:
        return self._isolation_level is None

    async def in_transaction(self) -> bool:
        self._check()
        return await self._native.in_transaction_async()

    @property
    def url(self) -> str:
        return self._database.url

    @property
    def closed(self) -> bool:
        return self._native.closed

    def cursor(self) -> "Cursor":
        self._check()
        return Cursor(self)

    async def execute(self, sql: str, parameters: Any = ()) -> "Cursor":
        return await self.cursor().execute(sql, parameters)

    async def executemany(self, sql: str, seq_of_parameters: Any) -> "Cursor":
        return await self.cursor().executemany(sql, seq_of_parameters)

    async def executescript(self, script: str) -> "Cursor":
        return await self.cursor().executescript(script)

    async def commit(self) -> None:
        await self._claim(None)
        if await self._native.in_transaction_async():
            await self._native.execute_async("COMMIT")

    async def rollback(self) -> None:
        await self._claim(None)
        if await self._native.in_transaction_async():
            await self._native.execute_async("ROLLBACK")

    async def close(self) -> None:
        self._drop_stream()
        await self._native.close_async()

    # -- replicas and offline databases -------------------------------------------------------
    # As in the sync API (tidepool.dbapi.Connection), awaitable.

    @property
    def is_replica(self) -> bool:
        return self._database.is_replica

    @property
    def is_offline(self) -> bool:
        return self._database.is_offline

    async def sync(self) -> SyncReport:
        """Replica or offline: pushes the device's committed changes (offline), then pulls
        what changed on the server; returns what it did."""
        await self._idle("sync()")
        return SyncReport._from_native(await self._database.sync_async())

    def sync_status(self) -> Optional[SyncStatus]:
        """Replica or offline: where the last sync got to; ``None`` when not a replica."""
        status = self._database.sync_status()
        return None if status is None else SyncStatus._from_native(status)

    async def wait_for_sync(self, timeout: Optional[float] = None) -> SyncStatus:
        """Replica or offline: waits for the next sync to finish; ``OperationalError``
        (``TIMEOUT``) after ``timeout`` seconds."""
        await self._idle("wait_for_sync()")
        return SyncStatus._from_native(await self._database.wait_for_sync_async(timeout))

    async def pending_changes(self) -> int:
        self._check()
        return await self._database.pending_changes_async()

    async def conflicts(self) -> List[Conflict]:
        self._check()
        return [Conflict._from_native(c) for c in await self._database.conflicts_async()]

    async def resolve_conflict(self, conflict: Union[int, Conflict], resolution: Resolution) -> None:
        cid = _offline.conflict_id(conflict)
        checked = _offline.check_resolution(resolution)
        await self._idle("resolve_conflict()")
        await self._database.resolve_conflict_async(cid, checked)

    def subscribe(
        self, callback: Callable[[TableChange], Any], tables: Optional[Iterable[str]] = None
    ) -> Subscription:
        """Replica or offline: calls ``callback(TableChange)`` on this event loop's thread
        after each local commit (``origin == "local"``) and each sync that changed rows
        (``"remote"``), only for ``tables`` when given. A coroutine function's coroutine runs
        as a task. What it raises is logged. Returns the handle that stops it."""
        self._check()
        _offline.check_callback(callback)
        wanted = _offline.check_tables(tables)
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            raise ProgrammingError(
                "subscribe() delivers on the running event loop: call it from a coroutine",
                "INVALID_ARGUMENT",
            ) from None

        def run(change: TableChange) -> None:
            try:
                result = callback(change)
                if inspect.isawaitable(result):
                    task = asyncio.ensure_future(result)
                    task.add_done_callback(_log_failure)
            except Exception:
                _offline.logger.exception("a change subscriber raised; it stays subscribed")

        def deliver(change: TableChange) -> None:
            try:
                loop.call_soon_threadsafe(run, change)
            except RuntimeError:
                pass  # the loop is closed: nobody is listening

        return Subscription(self._database.subscribe(_offline.dispatcher(deliver, wanted)))

    async def _idle(self, what: str) -> None:
        await self._claim(None)
        if self._database.is_offline and await self._native.in_transaction_async():
            raise ProgrammingError(
                f"{what} inside a transaction: commit() or rollback() first (the transaction "
                "holds the database's writer)",
                "INVALID_ARGUMENT",
            )

    def interrupt(self) -> None:
        self._native.interrupt()

    async def __aenter__(self) -> "Connection":
        self._check()
        return self

    async def __aexit__(self, exc_type, exc, tb) -> None:
        """Commits if the block succeeded, rolls back if it raised; does not close."""
        if self.closed:
            return
        if exc_type is None:
            await self.commit()
        else:
            await self.rollback()

    def _drop_stream(self) -> None:
        """Discards the rows still streaming (they hold the connection)."""
        ref, self._streaming = self._streaming, None
        cursor = ref() if ref is not None else None
        if cursor is not None:
            cursor._discard()

    def _check(self) -> None:
        if self._native.closed:
            raise ProgrammingError("Cannot operate on a closed database.", "CLOSED")

    async def _claim(self, cursor: Optional["Cursor"]) -> None:
        self._check()
        ref = self._streaming
        if ref is None:
            return
        self._streaming = None
        other = ref()
        if other is None:
            return
        if other is cursor:
            other._discard()
        else:
            await other._buffer_rest()

    async def _begin_if_needed(self, sql: str) -> None:
        if (
            self._isolation_level is not None
            and _common.is_dml(sql)
            and not await self._native.in_transaction_async()
        ):
            await self._native.execute_async(_common.begin_sql(self._isolation_level))


class Cursor:
    """An asyncio cursor."""

    arraysize: int = 1

    def __init__(self, connection: Connection) -> None:
        self.connection = connection
        self._closed = False
        self._columns: tuple = ()
        self._rows: List[tuple] = []
        self._pos = 0
        self._stream: Optional[_native.Stream] = None
        self._description = None
        self.rowcount = -1
        self.lastrowid: Optional[int] = None

    @property
    def description(self):
        if self._description is None and self._columns:
            self._description = _common.description(self._columns)
        return self._description

    async def execute(self, sql: str, parameters: Any = ()) -> "Cursor":
        sql = _common.check_sql(sql)
        self._check()
        conn = self.connection
        await conn._claim(self)
        await conn._begin_if_needed(sql)
        columns, rows, affected, rowid, stream = await conn._native.execute_async(
            sql, parameters, _PREFETCH
        )
        self._columns = columns
        self._description = None
        self._rows = rows
        self._pos = 0
        self._stream = stream
        if stream is not None:
            conn._streaming = weakref.ref(self)
        self.rowcount = _common.rowcount(columns, affected)
        if rowid is not None and _common.is_dml(sql):
            self.lastrowid = rowid
        return self

    async def executemany(self, sql: str, seq_of_parameters: Any) -> "Cursor":
        sql = _common.check_sql(sql)
        self._check()
        if not _common.is_dml(sql):
            raise ProgrammingError("executemany() can only execute DML statements.", "INVALID_ARGUMENT")
        conn = self.connection
        await conn._claim(self)
        await conn._begin_if_needed(sql)
        affected, rowid = await conn._native.execute_many_async(sql, seq_of_parameters)
        self._reset()
        self.rowcount = affected
        if rowid is not None:
            self.lastrowid = rowid
        return self

    async def executescript(self, script: str) -> "Cursor":
        script = _common.check_sql(script)
        self._check()
        conn = self.connection
        await conn._claim(self)
        if conn._isolation_level is not None and await conn._native.in_transaction_async():
            await conn._native.execute_async("COMMIT")
        await conn._native.execute_script_async(script)
        self._reset()
        return self

    async def fetchone(self) -> Optional[tuple]:
        self._check()
        if self._pos >= len(self._rows) and not await self._more(_CHUNK):
            return None
        row = self._rows[self._pos]
        self._pos += 1
        return row

    async def fetchmany(self, size: Optional[int] = None) -> List[tuple]:
        self._check()
        size = self.arraysize if size is None else size
        while len(self._rows) - self._pos < size and await self._more(max(size, _CHUNK)):
            pass
        out = self._rows[self._pos : self._pos + size]
        self._pos += len(out)
        return out

    async def fetchall(self) -> List[tuple]:
        self._check()
        while await self._more(_CHUNK):
            pass
        out = self._rows[self._pos :]
        self._rows = []
        self._pos = 0
        return out

    async def close(self) -> None:
        if self._closed:
            return
        self._discard()
        self._closed = True

    async def setinputsizes(self, *sizes: Any) -> None:
        """Does nothing (PEP 249 allows it)."""

    def setoutputsize(self, size: Any, column: Any = None) -> None:
        """Does nothing (PEP 249 allows it)."""

    async def nextset(self) -> None:
        return None

    def __aiter__(self) -> AsyncIterator[tuple]:
        return self

    async def __anext__(self) -> tuple:
        row = await self.fetchone()
        if row is None:
            raise StopAsyncIteration
        return row

    async def __aenter__(self) -> "Cursor":
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.close()

    def _check(self) -> None:
        if self._closed:
            raise ProgrammingError("Cannot operate on a closed cursor.", "CLOSED")
        self.connection._check()

    def _reset(self) -> None:
        self._columns = ()
        self._description = None
        self._rows = []
        self._pos = 0
        self._stream = None

    async def _more(self, n: int) -> bool:
        stream = self._stream
        if stream is None:
            return False
        rows, done, affected, _rowid = await stream.fetch_async(n)
        if done:
            self._stream = None
            self.rowcount = _common.rowcount(self._columns, affected)
        if self._pos:
            del self._rows[: self._pos]
            self._pos = 0
        self._rows.extend(rows)
        return bool(rows)

    async def _buffer_rest(self) -> None:
        while await self._more(_CHUNK):
            pass

    def _discard(self) -> None:
        stream = self._stream
        self._stream = None
        if stream is not None:
            stream.close()
        self._rows = []
        self._pos = 0


class _Connecting:
    """What ``connect()`` returns: await it for the connection, or use it with ``async with``
    to close the connection at the end of the block."""

    def __init__(self, make) -> None:
        self._make = make
        self._conn: Optional[Connection] = None

    def __await__(self) -> Generator[Any, None, Connection]:
        return self._open().__await__()

    async def _open(self) -> Connection:
        return self._make()

    async def __aenter__(self) -> Connection:
        self._conn = self._make()
        return self._conn

    async def __aexit__(self, *exc: Any) -> None:
        if self._conn is not None:
            await self._conn.close()


def connect(
    database: _common.Target,
    *,
    auth_token: Optional[str] = None,
    sync_url: Optional[str] = None,
    offline: Optional[bool] = None,
    conflict_policy: Optional[_offline.ConflictPolicy] = None,
    resolver: Optional[Callable[[Conflict], Resolution]] = None,
    sync_interval: Optional[float] = None,
    isolation_level: Optional[str] = "",
    autocommit: Optional[bool] = None,
    timeout: Optional[float] = None,
    read_connections: Optional[int] = None,
    connect_timeout: Optional[float] = None,
    request_timeout: Optional[float] = None,
    ca_pem: Optional[bytes] = None,
    force_json: bool = False,
) -> _Connecting:
    """Opens an asyncio connection; the arguments are those of ``tidepool.connect``."""

    def make() -> Connection:
        level = isolation_level
        if autocommit is not None:
            level = None if autocommit else (isolation_level or "")
        level = _common.check_isolation_level(level)
        db = _common.open_database(
            database,
            auth_token=auth_token,
            sync_url=sync_url,
            offline=offline,
            conflict_policy=conflict_policy,
            resolver=resolver,
            sync_interval=sync_interval,
            timeout=timeout,
            read_connections=read_connections,
            connect_timeout=connect_timeout,
            request_timeout=request_timeout,
            ca_pem=ca_pem,
            force_json=force_json,
        )
        return Connection(db, db.connect(), level)

    return _Connecting(make)


__all__ = ["Connection", "Cursor", "connect"]
