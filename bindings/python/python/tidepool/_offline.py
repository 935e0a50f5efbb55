"""Sync results, conflicts and change notifications as Python objects, and the wrappers that
put a Python resolver and change callbacks in front of the native module.

A resolver and a subscriber run on threads of the package's, with the GIL held. What they
raise is logged on the ``tidepool`` logger and never reaches the sync: a resolver that raises,
or returns something that is not ``"local"``, ``"remote"`` or a dict of column values, keeps the
server's version.
"""

from __future__ import annotations

import datetime as _dt
import logging
from dataclasses import dataclass
from typing import Any, Callable, Dict, Iterable, Mapping, Optional, Tuple, Union

from . import _native
from .exceptions import Error, InterfaceError, ProgrammingError

logger = logging.getLogger("tidepool")

POLICIES = ("column_lww", "server_wins", "client_wins")

Row = Dict[str, Any]
Resolution = Union[str, Mapping[str, Any]]
ConflictPolicy = Union[str, Mapping[str, str]]


def _time(seconds: Optional[float]) -> Optional[_dt.datetime]:
    if seconds is None:
        return None
    return _dt.datetime.fromtimestamp(seconds, _dt.timezone.utc)


@dataclass(frozen=True)
class SyncReport:
    """What one ``sync()`` did."""

    #: Local changes pushed to the server (offline databases).
    changes_pushed: int
    #: Conflicts and refused changes this sync recorded (see ``conflicts()``).
    conflicts: int
    #: Changes pulled from the server and applied.
    changes_applied: int
    #: Tables whose rows this sync changed on the device, sorted.
    tables_changed: Tuple[str, ...]
    #: Rows and tables copied whole (the first sync, new or changed tables).
    rows_copied: int
    tables_copied: int
    #: Copies an interrupted sync had begun, continued.
    copies_resumed: int
    #: Tables the server no longer has, dropped from the device.
    tables_dropped: int
    #: The device's position in the server's change stream after the sync, and the server's
    #: when it began.
    position: int
    server_position: int

    @classmethod
    def _from_native(cls, d: Dict[str, Any]) -> "SyncReport":
        return cls(
            changes_pushed=d["changes_pushed"],
            conflicts=d["conflicts"],
            changes_applied=d["changes_applied"],
            tables_changed=tuple(d["tables_changed"]),
            rows_copied=d["rows_copied"],
            tables_copied=d["tables_copied"],
            copies_resumed=d["copies_resumed"],
            tables_dropped=d["tables_dropped"],
            position=d["position"],
            server_position=d["server_position"],
        )


@dataclass(frozen=True)
class SyncStatus:
    """Where a replica or offline database is, as of its last sync."""

    #: Whether the first copy has completed (reads before it see an empty database).
    bootstrapped: bool
    position: int
    server_position: int
    #: When the last successful sync ended (UTC), and how long it took in seconds.
    last_synced_at: Optional[_dt.datetime]
    last_duration: Optional[float]
    #: The exception the last sync failed with; ``None`` when it succeeded.
    last_error: Optional[Error]
    #: Whether a sync is running now; successful syncs since the database was opened.
    syncing: bool
    syncs: int
    #: Offline: local changes waiting to be pushed, and unresolved conflicts, as of the last
    #: sync (``pending_changes()`` and ``conflicts()`` give the current ones).
    pending_changes: int
    conflicts: int

    @classmethod
    def _from_native(cls, d: Dict[str, Any]) -> "SyncStatus":
        return cls(
            bootstrapped=d["bootstrapped"],
            position=d["position"],
            server_position=d["server_position"],
            last_synced_at=_time(d["last_synced_at"]),
            last_duration=d["last_duration"],
            last_error=d["last_error"],
            syncing=d["syncing"],
            syncs=d["syncs"],
            pending_changes=d["pending_changes"],
            conflicts=d["conflicts"],
        )


@dataclass(frozen=True)
class Conflict:
    """A conflict or a change the server refused, recorded by a sync and kept until it is
    resolved (``resolve_conflict``)."""

    id: int
    table: str
    #: The row's key: its primary key's values, or its rowid.
    key: Tuple[Any, ...]
    #: ``"update_update"``, ``"insert_insert"``, ``"update_deleted"``, ``"delete_updated"``
    #: or ``"rejected"`` (the server refused the change; ``error`` says why).
    kind: str
    #: What decided it: ``"column_lww"``, ``"server_wins"``, ``"client_wins"``,
    #: ``"resolver"`` or ``"rejected"``.
    rule: str
    #: Whose version the row has now: ``"local"``, ``"remote"`` or ``"merged"``.
    outcome: str
    #: The columns both sides wrote.
    columns: Tuple[str, ...]
    #: The device's version (``None`` for a delete), the server's (``None`` if it had no such
    #: row) and the row before the device's write (``None`` for an insert).
    local: Optional[Row]
    remote: Optional[Row]
    base: Optional[Row]
    #: For a refused change: the server's ``(code, message)``, such as
    #: ``("SQLITE_CONSTRAINT_UNIQUE", "...")``.
    error: Optional[Tuple[str, str]]
    #: When the device made its write (UTC).
    written_at: _dt.datetime

    @classmethod
    def _from_native(cls, d: Dict[str, Any]) -> "Conflict":
        error = d["error"]
        return cls(
            id=d["id"],
            table=d["table"],
            key=tuple(d["key"]),
            kind=d["kind"],
            rule=d["rule"],
            outcome=d["outcome"],
            columns=tuple(d["columns"]),
            local=d["local"],
            remote=d["remote"],
            base=d["base"],
            error=tuple(error) if error is not None else None,  # type: ignore[arg-type]
            written_at=_time(d["written_at"]),  # type: ignore[arg-type]
        )


@dataclass(frozen=True)
class TableChange:
    """Tables changed by a local commit (``origin == "local"``) or by a sync that changed rows
    (``origin == "remote"``)."""

    tables: Tuple[str, ...]
    origin: str


class Subscription:
    """A change subscription: delivers until ``close()`` (or the end of its ``with`` block), or
    until the database is gone. Dropping the handle does not stop it."""

    def __init__(self, native: _native.Subscription) -> None:
        self._native = native

    def close(self) -> None:
        """Stops deliveries: none starts after this returns. Idempotent; callable from the
        callback itself."""
        self._native.close()

    @property
    def closed(self) -> bool:
        return self._native.closed

    def __enter__(self) -> "Subscription":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    async def __aenter__(self) -> "Subscription":
        return self

    async def __aexit__(self, *exc: Any) -> None:
        self.close()


# -- arguments ---------------------------------------------------------------------------------


def offline_settings(
    offline: Optional[bool],
    sync_url: Optional[str],
    conflict_policy: Optional[ConflictPolicy],
    resolver: Optional[Callable[[Conflict], Resolution]],
) -> Optional[Tuple[Optional[str], Dict[str, str], Optional[Callable[[Conflict], Resolution]]]]:
    """Checks the offline arguments of ``connect()``: ``(default_policy, policies, resolver)``
    for an offline database, ``None`` otherwise."""
    if not offline:
        if conflict_policy is not None or resolver is not None:
            raise InterfaceError(
                "conflict_policy and resolver apply to offline databases (offline=True)",
                "INVALID_CONFIG",
            )
        return None
    if sync_url is None:
        raise InterfaceError(
            "offline=True needs sync_url (the server the device syncs with)", "INVALID_CONFIG"
        )
    if resolver is not None and not callable(resolver):
        raise InterfaceError(
            f"resolver must be callable, not {type(resolver).__name__}", "INVALID_CONFIG"
        )
    default: Optional[str] = None
    tables: Dict[str, str] = {}
    if isinstance(conflict_policy, str):
        default = _policy(conflict_policy)
    elif isinstance(conflict_policy, Mapping):
        for table, name in conflict_policy.items():
            if not isinstance(table, str):
                raise InterfaceError("conflict_policy's keys are table names", "INVALID_CONFIG")
            if table == "default":
                default = _policy(name)
            else:
                tables[table] = _policy(name)
    elif conflict_policy is not None:
        raise InterfaceError(
            "conflict_policy is a policy name or a dict of table to policy name, not "
            f"{type(conflict_policy).__name__}",
            "INVALID_CONFIG",
        )
    return default, tables, resolver


def _policy(name: Any) -> str:
    if name not in POLICIES:
        raise InterfaceError(
            f"unknown conflict policy {name!r} (column_lww, server_wins or client_wins)",
            "INVALID_CONFIG",
        )
    return name


def conflict_id(conflict: Any) -> int:
    if isinstance(conflict, Conflict):
        return conflict.id
    if isinstance(conflict, bool) or not isinstance(conflict, int):
        raise ProgrammingError(
            f"a conflict is given by its id (int) or as a Conflict, not {type(conflict).__name__}",
            "INVALID_ARGUMENT",
        )
    return conflict


_VALUE_TYPES = (type(None), int, float, str, bytes, bytearray, memoryview)


def _valid_resolution(answer: Any) -> Optional[Resolution]:
    if isinstance(answer, str) and answer in ("local", "remote"):
        return answer
    if isinstance(answer, Mapping):
        row = dict(answer)
        if all(isinstance(k, str) and isinstance(v, _VALUE_TYPES) for k, v in row.items()):
            return row
    return None


def check_resolution(resolution: Any) -> Resolution:
    checked = _valid_resolution(resolution)
    if checked is None:
        raise ProgrammingError(
            'a resolution is "local", "remote" or a dict of column values (None, int, float, '
            f"str, bytes), not {resolution!r}",
            "INVALID_ARGUMENT",
        )
    return checked


def wrap_resolver(resolver: Callable[[Conflict], Resolution]) -> Callable[[Dict[str, Any]], Resolution]:
    """What the native resolver calls: never raises, answers ``"remote"`` when in doubt."""

    def call(native_conflict: Dict[str, Any]) -> Resolution:
        conflict = Conflict._from_native(native_conflict)
        try:
            answer = resolver(conflict)
        except Exception:
            logger.exception(
                "the resolver raised on conflict %d in %r; keeping the server's version",
                conflict.id,
                conflict.table,
            )
            return "remote"
        checked = _valid_resolution(answer)
        if checked is None:
            close = getattr(answer, "close", None)
            if hasattr(answer, "__await__") and callable(close):
                close()  # a coroutine: resolvers are plain functions
            logger.error(
                'the resolver returned %r for conflict %d in %r (not "local", "remote" or a '
                "dict of column values); keeping the server's version",
                answer,
                conflict.id,
                conflict.table,
            )
            return "remote"
        return checked

    return call


def check_tables(tables: Optional[Iterable[str]]) -> Optional[frozenset]:
    if tables is None:
        return None
    if isinstance(tables, str):
        return frozenset((tables,))
    out = frozenset(tables)
    if not all(isinstance(t, str) for t in out):
        raise ProgrammingError("tables is a table name or an iterable of them", "INVALID_ARGUMENT")
    return out


def check_callback(callback: Any) -> None:
    if not callable(callback):
        raise ProgrammingError(
            f"the callback must be callable, not {type(callback).__name__}", "INVALID_ARGUMENT"
        )


def dispatcher(
    deliver: Callable[[TableChange], None], tables: Optional[frozenset]
) -> Callable[[list, str], None]:
    """What the native subscription calls: filters by table, never raises."""

    def call(changed: list, origin: str) -> None:
        if tables is not None:
            changed = [t for t in changed if t in tables]
            if not changed:
                return
        try:
            deliver(TableChange(tuple(changed), origin))
        except Exception:
            logger.exception("a change subscriber raised; it stays subscribed")

    return call
