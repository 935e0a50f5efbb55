"""Fixtures: the reference server (tidepool-server) on a loopback port with a temporary
database, one plain and one requiring JWTs; and `target`, a database URL or path to run a test
against: the server over HTTP, over WebSocket, and a local SQLite file."""

from __future__ import annotations

import base64
import json
import os
import re
import subprocess
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator, List, Optional

import pytest

REPO = Path(__file__).resolve().parents[3]
LISTENING = re.compile(r"listening on http://127\.0\.0\.1:(\d+)")
TARGETS = ["http", "ws", "local"]


def server_binary() -> Path:
    explicit = os.environ.get("TIDEPOOL_SERVER_BIN")
    if explicit:
        return Path(explicit)
    target = Path(os.environ.get("CARGO_TARGET_DIR") or REPO / "target")
    return target / "debug" / "tidepool-server"


@dataclass
class Server:
    port: int
    dir: Path
    proc: subprocess.Popen
    log: List[str] = field(default_factory=list)

    def url(self, scheme: str = "http") -> str:
        return f"{scheme}://127.0.0.1:{self.port}"

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def start_server(tmp: Path, key_pem: Optional[bytes] = None, port: int = 0) -> Server:
    """Starts the server on `port` (0: any free one) with its database in `tmp`; starting it
    again on the same directory and port brings the same server back."""
    binary = server_binary()
    if not binary.exists():
        raise RuntimeError(f"no server binary at {binary}: cargo build -p tidepool-server")
    args = [str(binary), "--http-listen-addr", f"127.0.0.1:{port}", "--db-path", str(tmp / "server.db")]
    if key_pem is not None:
        (tmp / "key.pem").write_bytes(key_pem)
        args += ["--auth-jwt-key-file", str(tmp / "key.pem")]
    env = {k: v for k, v in os.environ.items() if not k.startswith("TIDEPOOL_")}
    env["NO_COLOR"] = "1"
    proc = subprocess.Popen(
        args, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    found: dict = {}
    ready = threading.Event()
    log: List[str] = []

    def pump() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            log.append(line)
            m = LISTENING.search(line)
            if m and not ready.is_set():
                found["port"] = int(m.group(1))
                ready.set()
        ready.set()

    threading.Thread(target=pump, daemon=True).start()
    if not ready.wait(30) or "port" not in found:
        proc.kill()
        raise RuntimeError("tidepool-server did not start:\n" + "".join(log))
    return Server(found["port"], tmp, proc, log)


@pytest.fixture(scope="session")
def server(tmp_path_factory) -> Iterator[Server]:
    s = start_server(tmp_path_factory.mktemp("server"))
    yield s
    s.stop()


@dataclass
class Keys:
    private: object
    public_pem: bytes

    def token(self, **claims) -> str:
        def b64(data: bytes) -> str:
            return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

        signing_input = b64(json.dumps({"alg": "EdDSA", "typ": "JWT"}).encode()) + "." + b64(
            json.dumps(claims).encode()
        )
        return signing_input + "." + b64(self.private.sign(signing_input.encode()))


@pytest.fixture(scope="session")
def keys() -> Keys:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    private = Ed25519PrivateKey.generate()
    public = private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return Keys(private, public)


@pytest.fixture(scope="session")
def auth_server(tmp_path_factory, keys: Keys) -> Iterator[Server]:
    s = start_server(tmp_path_factory.mktemp("auth-server"), keys.public_pem)
    yield s
    s.stop()


@pytest.fixture(params=TARGETS)
def target(request, tmp_path) -> str:
    """Where the test's database is: a server URL (http or ws) or a local file path."""
    if request.param == "local":
        return str(tmp_path / "local.db")
    return request.getfixturevalue("server").url(request.param)


@pytest.fixture
def table() -> str:
    return "t_" + uuid.uuid4().hex[:12]


@pytest.fixture
def vectors_dir() -> Path:
    return REPO / "protocol" / "vectors"
