"""JWT auth (--auth-jwt-key-file) as seen by libsql-client: rw works, missing/bad tokens fail, ro can't write."""

from __future__ import annotations

import time
import uuid

import aiohttp
import pytest

import libsql_client

# How a denied client fails: LibsqlError (HTTP 401, or the server's hello_error
# over ws). Over ws the server answers hello_error and then closes with 1008;
# libsql-client 0.3.1 sometimes sees the close on its send task first and then
# raises aiohttp's ClientConnectionResetError instead: still a refusal.
DENIED = (libsql_client.LibsqlError, aiohttp.ClientError)
from conftest import gen_keys, mint_token


@pytest.fixture
def rw_token(jwt_keys):
    return mint_token(jwt_keys.private_key, {"a": "rw"})


@pytest.fixture
def ro_token(jwt_keys):
    return mint_token(jwt_keys.private_key, {"a": "ro", "exp": int(time.time()) + 3600})


@pytest.fixture
def auth_url(auth_server, proto):
    return auth_server.url(proto)


@pytest.fixture
def rw(auth_url, rw_token):
    c = libsql_client.create_client_sync(auth_url, auth_token=rw_token)
    yield c
    c.close()


@pytest.fixture
def secured(rw):
    name = "sec_" + uuid.uuid4().hex[:12]
    rw.execute(f"CREATE TABLE {name} (v TEXT)")
    return name


def values(c, table):
    return [r[0] for r in c.execute(f"SELECT v FROM {table} ORDER BY v")]


def test_rw_token_reads_and_writes(rw, secured):
    assert rw.execute(f"INSERT INTO {secured} VALUES (?)", ["w1"]).rows_affected == 1
    results = rw.batch([(f"INSERT INTO {secured} VALUES (?)", ["w2"]), f"SELECT count(*) FROM {secured}"])
    assert results[1][0][0] == 2
    assert values(rw, secured) == ["w1", "w2"]


def test_rw_token_in_url(auth_url, rw_token):
    with libsql_client.create_client_sync(f"{auth_url}?authToken={rw_token}") as c:
        assert c.execute("SELECT 40 + 2")[0][0] == 42


def _denied_tokens(jwt_keys):
    stranger = gen_keys()
    now = int(time.time())
    return {
        "none": None,
        "garbage": "not-a-jwt",
        "foreign key": mint_token(stranger.private_key, {"a": "rw"}),
        "expired": mint_token(jwt_keys.private_key, {"a": "rw", "exp": now - 3600}),
    }


@pytest.mark.parametrize("kind", ["none", "garbage", "foreign key", "expired"])
def test_bad_token_rejected(auth_url, jwt_keys, rw, secured, kind):
    token = _denied_tokens(jwt_keys)[kind]
    with libsql_client.create_client_sync(auth_url, auth_token=token) as c:
        with pytest.raises(DENIED):
            c.execute("SELECT 1")
    with libsql_client.create_client_sync(auth_url, auth_token=token) as c:
        with pytest.raises(DENIED):
            c.execute(f"INSERT INTO {secured} VALUES (?)", [kind])
    assert values(rw, secured) == []


def test_ro_token_reads_but_cannot_write(auth_url, ro_token, rw, secured):
    rw.execute(f"INSERT INTO {secured} VALUES ('seed')")
    with libsql_client.create_client_sync(auth_url, auth_token=ro_token) as ro:
        assert values(ro, secured) == ["seed"]
        with pytest.raises(libsql_client.LibsqlError):
            ro.execute(f"INSERT INTO {secured} VALUES ('ro-insert')")
        with pytest.raises(libsql_client.LibsqlError):
            ro.batch([(f"INSERT INTO {secured} VALUES (?)", ["ro-batch"])])
        with pytest.raises(libsql_client.LibsqlError):
            ro.execute(f"DELETE FROM {secured}")
        assert values(ro, secured) == ["seed"]
    assert values(rw, secured) == ["seed"]
