"""The PEP 249 exception hierarchy.

Every exception raised by tidepool carries ``code``, the stable machine-readable code of the
failure (a SQLite code such as ``SQLITE_CONSTRAINT``, a server code such as ``AUTH_EXPIRED``, or
a client code such as ``CONNECT_FAILED``), and ``extended_code`` (such as
``SQLITE_CONSTRAINT_UNIQUE``) when there is one. The class follows from the code: SQLite codes
map as the standard library's ``sqlite3`` maps them (constraints are ``IntegrityError``, syntax
errors and locks ``OperationalError``...), network failures and timeouts are
``OperationalError``, misuse is ``ProgrammingError``, what the server cannot do is
``NotSupportedError``.
"""

from __future__ import annotations

from typing import Optional

__all__ = [
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
]


class Warning(Exception):  # noqa: A001 - the name PEP 249 requires
    """Important warnings (PEP 249). Tidepool raises none today."""


class Error(Exception):
    """Base class of every tidepool error."""

    code: Optional[str]
    extended_code: Optional[str]

    def __init__(
        self, message: str = "", code: Optional[str] = None, extended_code: Optional[str] = None
    ) -> None:
        super().__init__(message)
        self.code = code
        self.extended_code = extended_code

    @property
    def sqlite_errorname(self) -> Optional[str]:
        """The most specific code, as ``sqlite3.Error.sqlite_errorname`` names it."""
        return self.extended_code or self.code

    def __reduce__(self):  # keeps code and extended_code through pickling
        return (type(self), (str(self), self.code, self.extended_code))


class InterfaceError(Error):
    """The interface was misused or the peer broke the protocol."""


class DatabaseError(Error):
    """An error of the database."""


class DataError(DatabaseError):
    """A value does not fit (an integer beyond 64 bits, a result over the size limit)."""


class OperationalError(DatabaseError):
    """The database could not do it now: SQL errors, locks, network, timeouts, auth."""


class IntegrityError(DatabaseError):
    """A constraint failed."""


class InternalError(DatabaseError):
    """The database hit an internal error."""


class ProgrammingError(DatabaseError):
    """The call is wrong: bad parameters, a closed connection or cursor, bad SQL shape."""


class NotSupportedError(DatabaseError):
    """The database does not support what was asked."""
