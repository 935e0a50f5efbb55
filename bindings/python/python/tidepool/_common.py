"""What the sync and asyncio APIs share: opening databases, statement classification for
implicit transactions, and result bookkeeping."""

from __future__ import annotations

import os
import re
import threading
import weakref
from typing import Any, Optional, Tuple, Union

from . import _native, _offline
from .exceptions import InterfaceError, ProgrammingError

Target = Union[str, "os.PathLike[str]"]

# Statements before which a connection in the default (non-autocommit) mode opens a
# transaction, as the standard library's sqlite3 does.
_DML = re.compile(r"\s*(?:--[^\n]*\n\s*|/\*.*?\*/\s*)*(INSERT|UPDATE|DELETE|REPLACE)\b", re.I | re.S)
_ISOLATION_LEVELS = ("", "DEFERRED", "IMMEDIATE", "EXCLUSIVE")
_dml_cache: dict = {}


def is_dml(sql: str) -> bool:
    hit = _dml_cache.get(sql)
    if hit is None:
        hit = _DML.match(sql) is not None
        if len(_dml_cache) < 4096:
            _dml_cache[sql] = hit
    return hit


def check_isolation_level(level: Optional[str]) -> Optional[str]:
    if level is None:
        return None
    if not isinstance(level, str) or level.upper() not in _ISOLATION_LEVELS:
        raise ProgrammingError(
            f"isolation_level must be None, '', 'DEFERRED', 'IMMEDIATE' or 'EXCLUSIVE', not {level!r}",
            "INVALID_ARGUMENT",
        )
    return level.upper()


def begin_sql(level: str) -> str:
    return f"BEGIN {level}" if level else "BEGIN"


def check_sql(sql: Any) -> str:
    if not isinstance(sql, str):
        raise ProgrammingError(
            f"the statement must be a str, not {type(sql).__name__}", "INVALID_ARGUMENT"
        )
    return sql


def is_remote(target: str) -> bool:
    return "://" in target


def is_url(target: str) -> bool:
    return is_remote(target) or target.startswith("file:") or target == ":memory:"


# Remote databases are shared by the connections to the same server with the same settings
# (one HTTP pool or one set of WebSockets); a forked child opens its own.
_shared: "weakref.WeakValueDictionary[tuple, _native.Database]" = weakref.WeakValueDictionary()
_shared_lock = threading.Lock()


def open_database(
    target: Target,
    *,
    auth_token: Optional[str],
    sync_url: Optional[str],
    offline: Optional[bool],
    conflict_policy: Optional[_offline.ConflictPolicy],
    resolver: Any,
    sync_interval: Optional[float],
    timeout: Optional[float],
    read_connections: Optional[int],
    connect_timeout: Optional[float],
    request_timeout: Optional[float],
    ca_pem: Optional[bytes],
    force_json: bool,
) -> _native.Database:
    settings = _offline.offline_settings(offline, sync_url, conflict_policy, resolver)
    if isinstance(target, os.PathLike):
        target = os.fspath(target)
    if not isinstance(target, str):
        raise InterfaceError(
            f"connect() takes a URL or a path, not {type(target).__name__}", "INVALID_CONFIG"
        )
    if sync_url is not None:
        return _replica(target, sync_url, settings, auth_token, sync_interval, timeout,
                        connect_timeout, request_timeout, ca_pem, force_json)
    if is_remote(target):
        key = (os.getpid(), target, auth_token, connect_timeout, request_timeout, ca_pem, force_json)
        with _shared_lock:
            db = _shared.get(key)
            if db is None:
                db = _native.Database(
                    target,
                    auth_token=auth_token,
                    connect_timeout=connect_timeout,
                    request_timeout=request_timeout,
                    ca_pem=ca_pem,
                    force_json=force_json,
                )
                _shared[key] = db
        return db
    # A local database of its own per connection, as sqlite3 has: its writer is this
    # connection's, so two connections in one thread wait on SQLite's busy timeout rather
    # than on each other forever. One reader beside the writer: the core runs a short read
    # on an idle reader inline, on the calling thread (with the GIL released).
    return _native.Database(
        target,
        local=not is_url(target),
        read_connections=1 if read_connections is None else read_connections,
        busy_timeout=5.0 if timeout is None else timeout,
    )


def _replica(target: str, sync_url: str, settings, auth_token, sync_interval, timeout,
             connect_timeout, request_timeout, ca_pem, force_json) -> _native.Database:
    """A replica (or with `settings`, an offline database) of the server at `sync_url` in the
    file `target`, shared by the connections of this process that name the same file and
    server. An offline file is one database per process: opening it again with other
    settings is an error."""
    what = "an offline database" if settings is not None else "a replica"
    if is_remote(target) or target in (":memory:", "file::memory:"):
        raise InterfaceError(f"{what} needs a file path (and the server as sync_url)", "INVALID_CONFIG")
    if target.startswith("file:"):
        target = target[len("file:"):]
    path = os.path.abspath(target)
    if settings is None:
        key: tuple = (os.getpid(), "replica", path, sync_url, auth_token, sync_interval)
        options: dict = {}
    else:
        default, policies, resolver = settings
        key = (os.getpid(), "offline", path)
        wanted = (sync_url, auth_token, sync_interval, default, policies, resolver)
        options = {
            "offline": True,
            "default_policy": default,
            "policies": policies,
            "resolver": _offline.wrap_resolver(resolver) if resolver is not None else None,
        }
    with _shared_lock:
        db = _shared.get(key)
        if db is not None and settings is not None and _offline_settings.get(key) != wanted:
            raise InterfaceError(
                f"{path} is already open as an offline database with other settings (sync_url, "
                "auth_token, sync_interval, conflict_policy, resolver); connections in one "
                "process share it",
                "INVALID_CONFIG",
            )
        if db is None:
            db = _native.Database(
                path,
                sync_url=sync_url,
                **options,
                sync_interval=sync_interval,
                auth_token=auth_token,
                busy_timeout=timeout,
                connect_timeout=connect_timeout,
                request_timeout=request_timeout,
                ca_pem=ca_pem,
                force_json=force_json,
            )
            _shared[key] = db
            if settings is not None:
                _offline_settings[key] = wanted
    return db


# The settings each offline database was opened with (compared when it is opened again).
_offline_settings: dict = {}


def description(columns: Tuple[Tuple[str, Optional[str]], ...]):
    if not columns:
        return None
    return tuple((name, None, None, None, None, None, None) for name, _ in columns)


def rowcount(columns: tuple, affected: int) -> int:
    """PEP 249: -1 when there is no count, as for a query."""
    if columns and affected == 0:
        return -1
    return affected
