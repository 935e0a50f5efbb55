"""The PEP 249 (DB-API 2.0) connection and cursor.

Transactions work as in the standard library's ``sqlite3`` with its default
(``isolation_level=""``) behaviour: a connection opens a transaction by itself before an
``INSERT``, ``UPDATE``, ``DELETE`` or ``REPLACE`` and keeps it open until ``commit()`` or
``rollback()``; other statements (queries, DDL) run in autocommit unless a transaction is open.
``isolation_level=None`` (or ``autocommit=True``) turns that off: every statement commits by
itself unless the SQL opens a transaction with ``BEGIN``. Closing a connection rolls back what
was not committed.
"""

from __future__ import annotations

import weakref
from typing import Any, Callable, Iterable, Iterator, List, Optional, Union

from . import _common, _native, _offline
from ._offline import Conflict, Resolution, Subscription, SyncReport, SyncStatus, TableChange
from .exceptions import (
    DataError,
    DatabaseError,
    Error,
    IntegrityError,
    InterfaceError,
    InternalError,
    NotSupportedError,
    OperationalError,
    ProgrammingError,
    Warning,
)

_PREFETCH = 256
_CHUNK = 1024


class Connection:
    """A connection (PEP 249). Use ``tidepool.connect()`` to make one."""

    Warning = Warning
    Error = Error
    InterfaceError = InterfaceError
    DatabaseError = DatabaseError
    DataError = DataError
    OperationalError = OperationalError
    IntegrityError = IntegrityError
    InternalError = InternalError
    ProgrammingError = ProgrammingError
    NotSupportedError = NotSupportedError

    def __init__(
        self, database: _native.Database, native: _native.Connection, isolation_level: Optional[str]
    ) -> None:
        self._database = database
        self._native = native
        self._isolation_level = _common.check_isolation_level(isolation_level)
        self._closed = False
        # The cursor whose rows are still streaming; the connection is busy until they are read.
        self._streaming: Optional["weakref.ref[Cursor]"] = None

    # -- settings ---------------------------------------------------------------------------

    @property
    def isolation_level(self) -> Optional[str]:
        """``""`` (default), ``"DEFERRED"``, ``"IMMEDIATE"`` or ``"EXCLUSIVE"``: the ``BEGIN``
        issued before a write; ``None``: autocommit."""
        return self._isolation_level

    @isolation_level.setter
    def isolation_level(self, level: Optional[str]) -> None:
        level = _common.check_isolation_level(level)
        if level is None and self.in_transaction:
            self.commit()
        self._isolation_level = level

    @property
    def autocommit(self) -> bool:
        """Whether statements commit by themselves (``isolation_level is None``)."""
        return self._isolation_level is None

    @autocommit.setter
    def autocommit(self, value: bool) -> None:
        self.isolation_level = None if value else ""

    @property
    def in_transaction(self) -> bool:
        self._check()
        return self._native.in_transaction()

    @property
    def url(self) -> str:
        """The server URL (without credentials) or the local ``file:`` URL."""
        return self._database.url

    @property
    def closed(self) -> bool:
        return self._closed

    # -- PEP 249 ----------------------------------------------------------------------------

    def cursor(self) -> "Cursor":
        self._check()
        return Cursor(self)

    def commit(self) -> None:
        self._claim(None)
        if self._native.in_transaction():
            self._native.execute("COMMIT")

    def rollback(self) -> None:
        self._claim(None)
        if self._native.in_transaction():
            self._native.execute("ROLLBACK")

    def close(self) -> None:
        """Closes the connection; an open transaction is rolled back. Idempotent."""
        self._drop_stream()
        self._closed = True
        self._native.close()

    def __enter__(self) -> "Connection":
        self._check()
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        """Commits if the block succeeded, rolls back if it raised; does not close."""
        if self.closed:
            return
        if exc_type is None:
            self.commit()
        else:
            self.rollback()

    # -- sqlite3-style shortcuts --------------------------------------------------------------

    def execute(self, sql: str, parameters: Any = ()) -> "Cursor":
        return self.cursor().execute(sql, parameters)

    def executemany(self, sql: str, seq_of_parameters: Any) -> "Cursor":
        return self.cursor().executemany(sql, seq_of_parameters)

    def executescript(self, script: str) -> "Cursor":
        return self.cursor().executescript(script)

    # -- replicas and offline databases -------------------------------------------------------

    @property
    def is_replica(self) -> bool:
        """Whether the connection is to a replica (offline databases are replicas too)."""
        return self._database.is_replica

    @property
    def is_offline(self) -> bool:
        """Whether the database takes writes on the device (``offline=True``)."""
        return self._database.is_offline

    def sync(self) -> SyncReport:
        """Replica or offline: pushes the device's committed changes (offline), then pulls what
        changed on the server (the first sync copies everything); returns what it did.
        ``NotSupportedError`` when the connection is not to a replica. Commit or roll back
        first: an open transaction holds the writer the sync needs."""
        self._idle("sync()")
        return SyncReport._from_native(self._database.sync())

    def sync_status(self) -> Optional[SyncStatus]:
        """Replica or offline: where the last sync got to; ``None`` when not a replica."""
        status = self._database.sync_status()
        return None if status is None else SyncStatus._from_native(status)

    def wait_for_sync(self, timeout: Optional[float] = None) -> SyncStatus:
        """Replica or offline: waits for the next sync to finish (a background one, or one
        another thread runs) and returns the status; its ``last_error`` says whether it
        succeeded. ``OperationalError`` (code ``TIMEOUT``) after ``timeout`` seconds."""
        self._idle("wait_for_sync()")
        return SyncStatus._from_native(self._database.wait_for_sync(timeout))

    def pending_changes(self) -> int:
        """Offline: how many committed local changes wait to be pushed."""
        self._check()
        return self._database.pending_changes()

    def conflicts(self) -> List[Conflict]:
        """Offline: the conflicts and refused changes syncs recorded, oldest first, until
        they are resolved."""
        self._check()
        return [Conflict._from_native(c) for c in self._database.conflicts()]

    def resolve_conflict(self, conflict: Union[int, Conflict], resolution: Resolution) -> None:
        """Offline: settles a recorded conflict (by id or as given by ``conflicts()``).
        ``"remote"`` accepts the row as it is; ``"local"`` writes the device's version again
        and a dict writes that merged row (columns left out keep their value), as a new local
        change the next sync pushes. ``ProgrammingError`` (``INVALID_ARGUMENT``) for an unknown
        id."""
        cid = _offline.conflict_id(conflict)
        checked = _offline.check_resolution(resolution)
        self._idle("resolve_conflict()")
        self._database.resolve_conflict(cid, checked)

    def subscribe(
        self, callback: Callable[[TableChange], Any], tables: Optional[Iterable[str]] = None
    ) -> Subscription:
        """Replica or offline: calls ``callback(TableChange)`` after each local commit
        (``origin == "local"``) and each sync that changed rows (``"remote"``), only for
        ``tables`` when given. It runs on a thread of the package's with the GIL held, and may
        use the database; what it raises is logged. Returns the handle that stops it."""
        self._check()
        _offline.check_callback(callback)
        wanted = _offline.check_tables(tables)
        return Subscription(self._database.subscribe(_offline.dispatcher(callback, wanted)))

    def _idle(self, what: str) -> None:
        """Refuses a call that needs the local writer while this connection's transaction
        holds it (it would wait for itself)."""
        self._claim(None)
        if self._database.is_offline and self._native.in_transaction():
            raise ProgrammingError(
                f"{what} inside a transaction: commit() or rollback() first (the transaction "
                "holds the database's writer)",
                "INVALID_ARGUMENT",
            )

    def interrupt(self) -> None:
        """Stops the statement running on a local connection (it fails with
        ``OperationalError``, code ``SQLITE_INTERRUPT``); ``NotSupportedError`` remote."""
        self._native.interrupt()

    # -- internals ----------------------------------------------------------------------------

    def _drop_stream(self) -> None:
        """Discards the rows still streaming (they hold the connection)."""
        ref, self._streaming = self._streaming, None
        cursor = ref() if ref is not None else None
        if cursor is not None:
            cursor._discard()

    def _check(self) -> None:
        if self._closed:
            raise ProgrammingError("Cannot operate on a closed database.", "CLOSED")

    def _claim(self, cursor: Optional["Cursor"]) -> None:
        """Frees the connection for a new statement: a cursor still streaming rows reads the
        rest into memory (its own earlier result is discarded instead)."""
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
            other._buffer_rest()

    def _begin_if_needed(self, sql: str) -> None:
        if (
            self._isolation_level is not None
            and _common.is_dml(sql)
            and not self._native.in_transaction()
        ):
            self._native.execute(_common.begin_sql(self._isolation_level))


class Cursor:
    """A cursor (PEP 249): runs statements on its connection and reads their rows."""

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
        """Per result column, ``(name, None, None, None, None, None, None)``; ``None`` when
        the last statement returned no columns."""
        if self._description is None and self._columns:
            self._description = _common.description(self._columns)
        return self._description

    def execute(self, sql: str, parameters: Any = ()) -> "Cursor":
        # The hot path of point reads: kept to attribute checks around one native call.
        if type(sql) is not str:
            sql = _common.check_sql(sql)
        conn = self.connection
        if self._closed or conn._closed:
            self._check()
        if conn._streaming is not None:
            conn._claim(self)
        dml = _common.is_dml(sql)
        if dml and conn._isolation_level is not None and not conn._native.in_transaction():
            conn._native.execute(_common.begin_sql(conn._isolation_level))
        columns, rows, affected, rowid, stream = conn._native.execute(sql, parameters, _PREFETCH)
        self._columns = columns
        self._description = None
        self._rows = rows
        self._pos = 0
        self._stream = stream
        if stream is not None:
            conn._streaming = weakref.ref(self)
        self.rowcount = -1 if columns and not affected else affected
        if dml and rowid is not None:
            self.lastrowid = rowid
        return self

    def executemany(self, sql: str, seq_of_parameters: Any) -> "Cursor":
        """Runs a DML statement once per parameter set, atomically: all of them or none."""
        sql = _common.check_sql(sql)
        self._check()
        if not _common.is_dml(sql):
            raise ProgrammingError("executemany() can only execute DML statements.", "INVALID_ARGUMENT")
        conn = self.connection
        conn._claim(self)
        conn._begin_if_needed(sql)
        affected, rowid = conn._native.execute_many(sql, seq_of_parameters)
        self._reset()
        self.rowcount = affected
        if rowid is not None:
            self.lastrowid = rowid
        return self

    def executescript(self, script: str) -> "Cursor":
        """Runs ``;``-separated statements; commits a pending transaction first (unless in
        autocommit mode), as sqlite3 does."""
        script = _common.check_sql(script)
        self._check()
        conn = self.connection
        conn._claim(self)
        if conn._isolation_level is not None and conn._native.in_transaction():
            conn._native.execute("COMMIT")
        conn._native.execute_script(script)
        self._reset()
        return self

    def fetchone(self) -> Optional[tuple]:
        if self._closed or self.connection._closed:
            self._check()
        pos = self._pos
        if pos >= len(self._rows):
            if not self._more(_CHUNK):
                return None
            pos = self._pos
        self._pos = pos + 1
        return self._rows[pos]

    def fetchmany(self, size: Optional[int] = None) -> List[tuple]:
        self._check()
        size = self.arraysize if size is None else size
        while len(self._rows) - self._pos < size and self._more(max(size, _CHUNK)):
            pass
        out = self._rows[self._pos : self._pos + size]
        self._pos += len(out)
        return out

    def fetchall(self) -> List[tuple]:
        self._check()
        while self._more(_CHUNK):
            pass
        out = self._rows[self._pos :]
        self._rows = []
        self._pos = 0
        return out

    def close(self) -> None:
        if self._closed:
            return
        self._discard()
        self._closed = True

    def setinputsizes(self, sizes: Any) -> None:
        """Does nothing (PEP 249 allows it)."""

    def setoutputsize(self, size: Any, column: Any = None) -> None:
        """Does nothing (PEP 249 allows it)."""

    def __iter__(self) -> Iterator[tuple]:
        return self

    def __next__(self) -> tuple:
        row = self.fetchone()
        if row is None:
            raise StopIteration
        return row

    def __enter__(self) -> "Cursor":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    # -- internals ----------------------------------------------------------------------------

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

    def _more(self, n: int) -> bool:
        """Reads up to ``n`` more rows from the stream; False when there are none."""
        stream = self._stream
        if stream is None:
            return False
        rows, done, affected, _rowid = stream.fetch(n)
        if done:
            self._stream = None
            self.rowcount = _common.rowcount(self._columns, affected)
        if self._pos:
            del self._rows[: self._pos]
            self._pos = 0
        self._rows.extend(rows)
        return bool(rows)

    def _buffer_rest(self) -> None:
        while self._more(_CHUNK):
            pass

    def _discard(self) -> None:
        stream = self._stream
        self._stream = None
        if stream is not None:
            stream.close()
        self._rows = []
        self._pos = 0


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
) -> Connection:
    """Opens a connection.

    ``database`` is a server URL (``http://``, ``https://``, ``ws://``, ``wss://``,
    ``libsql://``; an ``authToken`` query parameter is taken as the token), a local
    ``file:`` URL or ``:memory:``, or a filesystem path. ``timeout`` is a local database's busy
    timeout in seconds (default 5); ``connect_timeout`` and ``request_timeout`` apply to a
    server; ``ca_pem`` trusts a private CA. No I/O happens until the first statement.

    With ``sync_url``, ``database`` is the file of an embedded replica of that server: reads
    run on the file, writes and transactions on the server (the replica catches up after each
    write, so reads see it); ``Connection.sync()`` pulls what changed, ``sync_interval``
    (seconds) does so in the background, ``Connection.sync_status()`` says where it got to.
    Connections in one process to the same replica share it.

    With ``sync_url`` and ``offline=True``, ``database`` is an offline-first database: every
    statement runs on the file, so writes commit with or without the server, and
    ``Connection.sync()`` pushes them (then pulls the server's changes). The first sync must
    reach the server (it copies its tables). Conflicts are decided per column by the later
    write (``conflict_policy="column_lww"``, the default), or by ``"server_wins"`` or
    ``"client_wins"``, for all tables or per table (``{"notes": "server_wins", "default":
    "column_lww"}``), or by ``resolver``, a function ``(Conflict) -> "local" | "remote" |
    dict`` called during sync on a thread of the package's (it must not use the database, and
    should be a pure function: a push that is retried asks it again about the same conflict).
    ``Connection.conflicts()`` lists what syncs recorded, ``resolve_conflict()`` settles it,
    ``subscribe()`` announces changed tables. An offline file is opened once per process: its
    connections share it, and opening it with other settings is an ``InterfaceError``.
    """
    if autocommit is not None:
        isolation_level = None if autocommit else (isolation_level or "")
    level = _common.check_isolation_level(isolation_level)
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


__all__ = ["Connection", "Cursor", "connect"]
