"""Fixtures for the libsql-client (PyPI) compatibility suite.

Starts tidepool-server on a temp database (one plain server and one with JWT
auth per session), mints Ed25519 JWTs, and parametrizes tests over http:// and
ws:// URLs.
"""

from __future__ import annotations

import base64
import json
import os
import queue
import re
import shutil
import subprocess
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Optional

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

import libsql_client

REPO_ROOT = Path(__file__).resolve().parents[3]
LISTEN_RE = re.compile(r"^tidepool-server listening on http://127\.0\.0\.1:(\d+)$")
PROTOCOLS = ["http", "ws"]


def server_bin() -> Path:
    env = os.environ.get("TIDEPOOL_SERVER_BIN")
    if env:
        return Path(env)
    target = Path(os.environ.get("CARGO_TARGET_DIR") or REPO_ROOT / "target")
    if not target.is_absolute():
        target = REPO_ROOT / target
    return target / "debug" / "tidepool-server"


@dataclass
class Server:
    port: int
    dir: Path
    proc: subprocess.Popen
    stderr_lines: list

    @property
    def http_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    def url(self, proto: str) -> str:
        return {"http": self.http_url, "ws": self.ws_url}[proto]

    def stderr(self) -> str:
        return "".join(self.stderr_lines[-200:])

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        shutil.rmtree(self.dir, ignore_errors=True)


def start_server(jwt_public_key_pem: Optional[bytes] = None) -> Server:
    bin_path = server_bin()
    if not bin_path.exists():
        raise RuntimeError(
            f"tidepool-server binary not found at {bin_path} "
            "(set TIDEPOOL_SERVER_BIN or build it with 'cargo build -p tidepool-server')"
        )
    tmp = Path(tempfile.mkdtemp(prefix="tidepool-peer-py-"))
    args = [str(bin_path), "--http-listen-addr", "127.0.0.1:0", "--db-path", str(tmp / "test.db")]
    if jwt_public_key_pem is not None:
        key_file = tmp / "jwt_key.pem"
        key_file.write_bytes(jwt_public_key_pem)
        args += ["--auth-jwt-key-file", str(key_file)]
    # the server also reads TIDEPOOL_* settings from the environment: keep the caller's out
    env = {k: v for k, v in os.environ.items() if not k.startswith("TIDEPOOL_")}
    env["NO_COLOR"] = "1"
    proc = subprocess.Popen(
        args, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    stderr_lines: list = []
    lines: "queue.Queue[Optional[str]]" = queue.Queue()

    def pump_stdout() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.put(line)
        lines.put(None)

    def pump_stderr() -> None:
        assert proc.stderr is not None
        for line in proc.stderr:
            stderr_lines.append(line)
            if len(stderr_lines) > 2000:
                del stderr_lines[:1000]

    threading.Thread(target=pump_stdout, daemon=True).start()
    threading.Thread(target=pump_stderr, daemon=True).start()

    deadline = time.monotonic() + 30
    while True:
        remaining = deadline - time.monotonic()
        try:
            line = lines.get(timeout=max(remaining, 0.01))
        except queue.Empty:
            line = ""
            if time.monotonic() >= deadline:
                proc.kill()
                raise RuntimeError(
                    "tidepool-server did not print its listening line within 30 s\n"
                    + "".join(stderr_lines)
                )
            continue
        if line is None:
            proc.wait()
            time.sleep(0.1)
            raise RuntimeError(
                f"tidepool-server exited early with code {proc.returncode}\n" + "".join(stderr_lines)
            )
        m = LISTEN_RE.match(line.strip())
        if m:
            return Server(int(m.group(1)), tmp, proc, stderr_lines)


@pytest.fixture(scope="session")
def server() -> Iterator[Server]:
    s = start_server()
    yield s
    s.stop()


@dataclass
class Keys:
    private_key: Ed25519PrivateKey
    public_pem: bytes


def gen_keys() -> Keys:
    priv = Ed25519PrivateKey.generate()
    pub = priv.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return Keys(priv, pub)


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def mint_token(private_key: Ed25519PrivateKey, claims: dict) -> str:
    header = _b64url(json.dumps({"alg": "EdDSA", "typ": "JWT"}).encode())
    payload = _b64url(json.dumps(claims).encode())
    signing_input = f"{header}.{payload}"
    sig = private_key.sign(signing_input.encode())
    return f"{signing_input}.{_b64url(sig)}"


@pytest.fixture(scope="session")
def jwt_keys() -> Keys:
    return gen_keys()


@pytest.fixture(scope="session")
def auth_server(jwt_keys: Keys) -> Iterator[Server]:
    s = start_server(jwt_keys.public_pem)
    yield s
    s.stop()


@pytest.fixture(params=PROTOCOLS)
def proto(request) -> str:
    return request.param


@pytest.fixture
def url(server: Server, proto: str) -> str:
    return server.url(proto)


@pytest.fixture
def client(url: str) -> Iterator[libsql_client.ClientSync]:
    c = libsql_client.create_client_sync(url)
    yield c
    c.close()


@pytest.fixture
def other(url: str) -> Iterator[libsql_client.ClientSync]:
    """A second, independent client on the same server and protocol."""
    c = libsql_client.create_client_sync(url)
    yield c
    c.close()


@pytest.fixture
def table() -> str:
    """A table name unique to this test."""
    return "t_" + uuid.uuid4().hex[:12]
