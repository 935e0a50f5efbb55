"""SQLAlchemy 2.x dialects for Tidepool, sync (``tidepool://``) and asyncio
(``tidepool+aio://``), built on SQLAlchemy's SQLite dialect: Core and the ORM compile SQLite
SQL and run it through ``tidepool`` (sync) or ``tidepool.aio`` (async).

URLs::

    tidepool://127.0.0.1:8080                  # a server over HTTP
    tidepool://127.0.0.1:8080?scheme=ws        # over WebSocket (also https, wss)
    tidepool://host?scheme=https&authToken=... # with a token (or connect_args={"auth_token": ...})
    tidepool:///relative/app.db                # a local file
    tidepool:////absolute/app.db
    tidepool://                                # a local in-memory database
    tidepool+aio://127.0.0.1:8080?scheme=ws    # the same with asyncio (create_async_engine)
    tidepool:////abs/app.db?sync_url=https://host&offline=true   # an offline database
                                               # (also sync_interval, conflict_policy; a
                                               # resolver goes in connect_args)

On an offline database, sync through the driver's connection:
``engine.raw_connection().driver_connection.sync()``.

The package registers both names as ``sqlalchemy.dialects`` entry points; without installing
it, ``tidepool.sqlalchemy.register()`` does the same.
"""

from __future__ import annotations

import os
from typing import Any, Optional

from sqlalchemy import pool
from sqlalchemy.connectors.asyncio import (
    AsyncAdapt_dbapi_connection,
    AsyncAdapt_dbapi_cursor,
    AsyncAdapt_dbapi_module,
    AsyncAdapt_dbapi_ss_cursor,
)
from sqlalchemy.dialects.sqlite.base import SQLiteExecutionContext
from sqlalchemy.dialects.sqlite.pysqlite import SQLiteDialect_pysqlite
from sqlalchemy.engine.url import URL
from sqlalchemy.util.concurrency import await_

_SCHEMES = ("http", "https", "ws", "wss")
_OPTIONS = {
    "authToken": ("auth_token", str),
    "auth_token": ("auth_token", str),
    "timeout": ("timeout", float),
    "connect_timeout": ("connect_timeout", float),
    "request_timeout": ("request_timeout", float),
    "read_connections": ("read_connections", int),
    "sync_url": ("sync_url", str),
    "sync_interval": ("sync_interval", float),
    "offline": ("offline", lambda v: _flag("offline", v)),
    "conflict_policy": ("conflict_policy", str),
}


def _flag(name: str, value: str) -> bool:
    if value.lower() in ("1", "true", "yes", "on"):
        return True
    if value.lower() in ("0", "false", "no", "off"):
        return False
    raise ValueError(f"{name} must be true or false, not {value!r}")


def _connect_args(url: URL) -> tuple:
    query = dict(url.query)
    scheme = query.pop("scheme", "http")
    if scheme not in _SCHEMES:
        raise ValueError(f"scheme must be one of {', '.join(_SCHEMES)}, not {scheme!r}")
    opts: dict = {}
    for key, value in query.items():
        if key not in _OPTIONS:
            raise ValueError(f"unknown tidepool URL parameter {key!r}")
        name, kind = _OPTIONS[key]
        opts[name] = kind(value)
    if url.host:
        if url.database:
            raise ValueError("a server URL takes no database path")
        netloc = url.host if url.port is None else f"{url.host}:{url.port}"
        return [f"{scheme}://{netloc}"], opts
    database = url.database or ":memory:"
    if database != ":memory:":
        database = os.path.abspath(database)
    return [database], opts


def _is_file(url: URL) -> bool:
    return bool(url.host) or bool(url.database and url.database != ":memory:")


class TidepoolDialect(SQLiteDialect_pysqlite):
    """Sync dialect: ``tidepool://``."""

    driver = "tidepool"
    supports_statement_cache = True

    @classmethod
    def import_dbapi(cls):
        import tidepool

        return tidepool

    def retrieve_dbapi_version(self, dbapi):
        from sqlalchemy import util

        return util.parse_version_string(dbapi.__version__)

    @classmethod
    def get_pool_class(cls, url: URL):
        return pool.QueuePool if _is_file(url) else pool.SingletonThreadPool

    def on_connect(self):
        # The SQLite dialect registers Python functions (regexp, floor) on each connection;
        # a Tidepool connection may be a server, where there is no Python to call.
        return None

    def create_connect_args(self, url: URL):
        return _connect_args(url)

    def is_disconnect(self, e, connection, cursor) -> bool:
        code = getattr(e, "code", None)
        return code in ("CLOSED", "CONNECT_FAILED", "NETWORK", "TRANSACTION_LOST") or (
            code is not None and code.startswith("STREAM_")
        )


class _AsyncCursor(AsyncAdapt_dbapi_cursor):
    __slots__ = ()


class _AsyncSSCursor(AsyncAdapt_dbapi_ss_cursor):
    __slots__ = ()


class _AsyncConnection(AsyncAdapt_dbapi_connection):
    __slots__ = ()
    _cursor_cls = _AsyncCursor
    _ss_cursor_cls = _AsyncSSCursor

    @property
    def isolation_level(self) -> Optional[str]:
        return self._connection.isolation_level

    @isolation_level.setter
    def isolation_level(self, value: Optional[str]) -> None:
        try:
            await_(self._connection.set_isolation_level(value))
        except Exception as error:
            self._handle_exception(error)

    def close(self) -> None:
        await_(self._connection.close())


class _AsyncDBAPI(AsyncAdapt_dbapi_module):
    def __init__(self) -> None:
        import tidepool
        import tidepool.aio

        super().__init__(tidepool.aio, dbapi_module=tidepool)
        self.aio = tidepool.aio
        self.paramstyle = "qmark"
        self.__version__ = tidepool.__version__
        for name in (
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
            "sqlite_version",
            "sqlite_version_info",
        ):
            setattr(self, name, getattr(tidepool, name))

    def connect(self, *args: Any, **kw: Any) -> _AsyncConnection:
        creator = kw.pop("async_creator_fn", None)
        connecting = creator(*args, **kw) if creator else self.aio.connect(*args, **kw)
        return _AsyncConnection(self, await_(connecting))


class _AsyncExecutionContext(SQLiteExecutionContext):
    def create_server_side_cursor(self):
        return self._dbapi_connection.cursor(server_side=True)


class AsyncTidepoolDialect(TidepoolDialect):
    """asyncio dialect: ``tidepool+aio://``, for ``create_async_engine``. Results streamed
    with ``AsyncConnection.stream()`` are read from the server as they are consumed."""

    driver = "aio"
    is_async = True
    supports_statement_cache = True
    supports_server_side_cursors = True
    execution_ctx_cls = _AsyncExecutionContext

    @classmethod
    def import_dbapi(cls):
        return _AsyncDBAPI()

    @classmethod
    def get_pool_class(cls, url: URL):
        return pool.AsyncAdaptedQueuePool if _is_file(url) else pool.StaticPool

    def get_driver_connection(self, connection):
        return connection._connection


def register() -> None:
    """Registers ``tidepool://`` and ``tidepool+aio://`` with SQLAlchemy (the package's entry
    points do this when it is installed)."""
    from sqlalchemy.dialects import registry

    registry.register("tidepool", "tidepool.sqlalchemy", "TidepoolDialect")
    registry.register("tidepool.aio", "tidepool.sqlalchemy", "AsyncTidepoolDialect")


dialect = TidepoolDialect
