"""Bad input and failures raise the PEP 249 class their stable code maps to, with `code` and
`extended_code`."""

from __future__ import annotations

import pickle
import socket
import time

import pytest

import tidepool


def test_sql_errors_map_to_classes(target, table):
    conn = tidepool.connect(target)
    conn.execute(f"CREATE TABLE {table} (id INTEGER PRIMARY KEY, v TEXT NOT NULL UNIQUE)")
    conn.execute(f"INSERT INTO {table} (v) VALUES ('a')")
    conn.commit()
    with pytest.raises(tidepool.IntegrityError) as e:
        conn.execute(f"INSERT INTO {table} (v) VALUES ('a')")
    assert e.value.code == "SQLITE_CONSTRAINT"
    assert e.value.extended_code == "SQLITE_CONSTRAINT_UNIQUE"
    assert "UNIQUE" in str(e.value)
    with pytest.raises(tidepool.IntegrityError) as e:
        conn.execute(f"INSERT INTO {table} (v) VALUES (NULL)")
    assert e.value.extended_code == "SQLITE_CONSTRAINT_NOTNULL"
    conn.rollback()
    with pytest.raises(tidepool.OperationalError) as e:
        conn.execute("SELEC 1")
    assert e.value.code == "SQLITE_ERROR"
    with pytest.raises(tidepool.OperationalError) as e:
        conn.execute("SELECT * FROM no_such_table")
    assert e.value.code == "SQLITE_ERROR"
    assert isinstance(e.value, tidepool.DatabaseError) and isinstance(e.value, tidepool.Error)
    # The connection is still usable after errors.
    assert conn.execute("SELECT 1").fetchone() == (1,)
    conn.close()


def test_bad_parameters(target):
    conn = tidepool.connect(target)
    for bad in ({1, 2}.__class__, object(), [1, 2], {"a": 1}):
        with pytest.raises(tidepool.ProgrammingError) as e:
            conn.execute("SELECT ?", (bad,))
        assert e.value.code == "INVALID_ARGUMENT"
    with pytest.raises(tidepool.ProgrammingError):
        conn.execute("SELECT ?", "a string is not a parameter sequence")
    with pytest.raises(tidepool.ProgrammingError):
        conn.execute("SELECT :a", {1: "key is not a str"})
    with pytest.raises(tidepool.ProgrammingError):
        conn.execute(b"SELECT 1")  # type: ignore[arg-type]
    with pytest.raises(tidepool.ProgrammingError) as e:
        conn.execute("SELECT 1", 5)
    assert e.value.code == "INVALID_ARGUMENT"
    # Too few or too many arguments for the statement.
    with pytest.raises(tidepool.DatabaseError) as e:
        conn.execute("SELECT ?, ?", (1,))
    assert e.value.code is not None
    with pytest.raises(tidepool.DatabaseError):
        conn.execute("SELECT ?", (1, 2))
    with pytest.raises(tidepool.DatabaseError):
        conn.execute("")
    conn.close()


def test_bad_urls_and_settings():
    for url in ("ftp://example.com", "http://", "http://h?nope=1", "libsql://h?tls=2"):
        with pytest.raises(tidepool.InterfaceError) as e:
            tidepool.connect(url)
        assert e.value.code == "INVALID_CONFIG"
    with pytest.raises(tidepool.InterfaceError):
        tidepool.connect(42)  # type: ignore[arg-type]
    with pytest.raises(tidepool.ProgrammingError):
        tidepool.connect(":memory:", isolation_level="SOMETIMES")
    with pytest.raises(tidepool.ProgrammingError):
        tidepool.connect("http://127.0.0.1:1", request_timeout=-1)
    with pytest.raises(tidepool.InterfaceError):
        tidepool.connect("https://127.0.0.1:1", ca_pem=b"not a certificate")


def test_offline_needs_a_server(tmp_path):
    with pytest.raises(tidepool.InterfaceError) as e:
        tidepool.connect(tmp_path / "replica.db", offline=True)
    assert e.value.code == "INVALID_CONFIG"


def test_unreachable_server_is_operational_error():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    for scheme in ("http", "ws"):
        conn = tidepool.connect(f"{scheme}://127.0.0.1:{port}", connect_timeout=2, request_timeout=2)
        with pytest.raises(tidepool.OperationalError) as e:
            conn.execute("SELECT 1")
        assert e.value.code in ("CONNECT_FAILED", "TIMEOUT")


def test_remote_interrupt_is_not_supported(server):
    conn = tidepool.connect(server.url())
    with pytest.raises(tidepool.NotSupportedError) as e:
        conn.interrupt()
    assert e.value.code == "UNSUPPORTED"


def test_local_file_that_is_not_a_database(tmp_path):
    path = tmp_path / "junk.db"
    path.write_bytes(b"this is not a database" * 100)
    conn = tidepool.connect(path)
    with pytest.raises(tidepool.DatabaseError) as e:
        conn.execute("SELECT * FROM sqlite_master")
    assert e.value.code == "SQLITE_NOTADB"
    missing = tidepool.connect(tmp_path / "no" / "such" / "dir.db")
    with pytest.raises(tidepool.OperationalError) as e:
        missing.execute("SELECT 1")
    assert e.value.code == "SQLITE_CANTOPEN"


@pytest.mark.parametrize("scheme", ["http", "ws"])
def test_auth_failures(auth_server, keys, scheme, table):
    url = auth_server.url(scheme)
    with pytest.raises(tidepool.OperationalError) as e:
        tidepool.connect(url).execute("SELECT 1")
    assert e.value.code in ("AUTH_MISSING", "UNAUTHORIZED")
    with pytest.raises(tidepool.OperationalError) as e:
        tidepool.connect(url, auth_token="not.a.jwt").execute("SELECT 1")
    assert e.value.code in ("AUTH_MALFORMED", "AUTH_INVALID", "UNAUTHORIZED")
    expired = keys.token(a="rw", exp=int(time.time()) - 60)
    with pytest.raises(tidepool.OperationalError) as e:
        tidepool.connect(url, auth_token=expired).execute("SELECT 1")
    assert e.value.code == "AUTH_EXPIRED"
    rw = tidepool.connect(url, auth_token=keys.token(a="rw"))
    rw.execute(f"CREATE TABLE {table} (x)")
    assert rw.execute("SELECT 1").fetchone() == (1,)
    ro = tidepool.connect(f"{url}?authToken={keys.token(a='ro')}")
    assert ro.execute(f"SELECT count(*) FROM {table}").fetchone() == (0,)
    with pytest.raises(tidepool.OperationalError) as e:
        ro.execute(f"INSERT INTO {table} VALUES (1)")
    assert e.value.code == "FORBIDDEN"


def test_exceptions_pickle_with_their_codes(target):
    conn = tidepool.connect(target)
    with pytest.raises(tidepool.OperationalError) as e:
        conn.execute("SELEC")
    again = pickle.loads(pickle.dumps(e.value))
    assert type(again) is tidepool.OperationalError
    assert (again.code, str(again)) == (e.value.code, str(e.value))


def test_too_big_is_a_data_error(target):
    conn = tidepool.connect(target)
    with pytest.raises(tidepool.DataError) as e:
        conn.execute("SELECT zeroblob(?)", (2**31,)).fetchall()
    assert e.value.code == "SQLITE_TOOBIG"
    conn.close()
