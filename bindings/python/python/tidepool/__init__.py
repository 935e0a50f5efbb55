"""Tidepool for Python: a DB-API 2.0 (PEP 249) driver for Tidepool servers and local SQLite
files, with an asyncio API (``tidepool.aio``) and SQLAlchemy dialects
(``tidepool.sqlalchemy``), on the Tidepool Rust client.

>>> import tidepool
>>> conn = tidepool.connect(":memory:")
>>> conn.execute("SELECT ? + 1", (41,)).fetchone()
(42,)
"""

from __future__ import annotations

import datetime as _datetime
import os as _os
import time as _time

from . import _native
from ._offline import Conflict, Subscription, SyncReport, SyncStatus, TableChange
from .dbapi import Connection, Cursor, connect
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

__version__ = "0.1.0"

if hasattr(_os, "register_at_fork"):
    # The runtime's threads must not be running when the process forks (see runtime.rs).
    _os.register_at_fork(before=_native.before_fork)

#: PEP 249 module globals.
apilevel = "2.0"
#: Threads may share the module, but not connections.
threadsafety = 1
#: ``?`` placeholders; ``:name`` (``@name``, ``$name``) with a mapping works too.
paramstyle = "qmark"

#: The SQLite library the client is built with (local databases run on it).
sqlite_version: str = _native.sqlite_version
sqlite_version_info = tuple(int(p) for p in sqlite_version.split("."))

# PEP 249 type constructors and type objects. Dates and times have no SQLite type: bind them as
# text (ISO 8601), as SQLAlchemy does.
Binary = bytes
Date = _datetime.date
Time = _datetime.time
Timestamp = _datetime.datetime


def DateFromTicks(ticks: float) -> _datetime.date:
    return Date(*_time.localtime(ticks)[:3])


def TimeFromTicks(ticks: float) -> _datetime.time:
    return Time(*_time.localtime(ticks)[3:6])


def TimestampFromTicks(ticks: float) -> _datetime.datetime:
    return Timestamp(*_time.localtime(ticks)[:6])


class _TypeObject(frozenset):
    def __eq__(self, other: object) -> bool:
        return other in self if not isinstance(other, frozenset) else frozenset.__eq__(self, other)

    __hash__ = frozenset.__hash__


STRING = _TypeObject({"TEXT", str})
BINARY = _TypeObject({"BLOB", bytes})
NUMBER = _TypeObject({"INTEGER", "REAL", int, float})
DATETIME = _TypeObject({"DATETIME", "DATE", "TIME", "TIMESTAMP"})
ROWID = _TypeObject({"INTEGER"})

__all__ = [
    "apilevel",
    "threadsafety",
    "paramstyle",
    "connect",
    "Connection",
    "Cursor",
    "Conflict",
    "TableChange",
    "Subscription",
    "SyncReport",
    "SyncStatus",
    "Warning",
    "Error",
    "InterfaceError",
    "DatabaseError",
    "DataError",
    "OperationalError",
    "IntegrityError",
    "InternalError",
    "ProgrammingError",
    "NotSupportedError",
    "Binary",
    "Date",
    "Time",
    "Timestamp",
    "DateFromTicks",
    "TimeFromTicks",
    "TimestampFromTicks",
    "STRING",
    "BINARY",
    "NUMBER",
    "DATETIME",
    "ROWID",
    "sqlite_version",
    "sqlite_version_info",
]
