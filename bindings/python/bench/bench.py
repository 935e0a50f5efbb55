"""Side-by-side benchmark of the Python binding, one run, reported as ratios.

1. Local point reads by primary key: tidepool vs the standard library's sqlite3 on the same
   file (``SELECT * FROM items WHERE id = ?`` then ``fetchone()``; target: at least 0.9x).
2. Remote sequential queries: tidepool vs libsql-client (PyPI) against the same reference
   server, over HTTP and over WebSocket (``SELECT ?`` with one argument, each awaited before
   the next; target: at least 2x).

The two sides alternate in rounds and each side's median round is reported, so drift in a
loaded machine's speed hits both. Usage:

    python bench.py --server-url http://127.0.0.1:8080 [--rounds 5] [--json out.json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable, Dict, List

import tidepool

ROWS = 10_000


def ops_per_sec(fn: Callable[[int], None], n: int) -> float:
    start = time.perf_counter()
    fn(n)
    return n / (time.perf_counter() - start)


def rounds(sides: Dict[str, Callable[[int], None]], n: int, count: int) -> Dict[str, float]:
    """Median ops/s of each side over `count` alternating rounds (after one warm-up)."""
    for fn in sides.values():
        fn(max(n // 10, 1))
    results: Dict[str, List[float]] = {name: [] for name in sides}
    for _ in range(count):
        for name, fn in sides.items():
            results[name].append(ops_per_sec(fn, n))
    return {name: statistics.median(v) for name, v in results.items()}


def local_point_reads(n: int, count: int) -> Dict[str, float]:
    tmp = Path(tempfile.mkdtemp(prefix="tidepool-py-bench-"))
    path = tmp / "bench.db"
    setup = sqlite3.connect(path)
    setup.execute("PRAGMA journal_mode=WAL")
    setup.execute("CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT, price REAL, data BLOB)")
    setup.executemany(
        "INSERT INTO items VALUES (?, ?, ?, ?)",
        ((i, f"item {i}", i * 0.5, os.urandom(16)) for i in range(ROWS)),
    )
    setup.commit()
    setup.close()
    keys = [random.randrange(ROWS) for _ in range(1024)]
    sql = "SELECT * FROM items WHERE id = ?"

    std = sqlite3.connect(path)
    tp = tidepool.connect(path)

    def run_std(n: int) -> None:
        cur = std.cursor()
        for i in range(n):
            row = cur.execute(sql, (keys[i & 1023],)).fetchone()
            assert row is not None

    def run_tp(n: int) -> None:
        cur = tp.cursor()
        for i in range(n):
            row = cur.execute(sql, (keys[i & 1023],)).fetchone()
            assert row is not None

    out = rounds({"sqlite3": run_std, "tidepool": run_tp}, n, count)
    std.close()
    tp.close()
    return out


def remote_sequential(url: str, n: int, count: int) -> Dict[str, float]:
    import libsql_client

    peer = libsql_client.create_client_sync(url)
    tp = tidepool.connect(url)

    def run_peer(n: int) -> None:
        for i in range(n):
            rs = peer.execute("SELECT ?", [i])
            assert rs.rows[0][0] == i

    def run_tp(n: int) -> None:
        cur = tp.cursor()
        for i in range(n):
            assert cur.execute("SELECT ?", (i,)).fetchone()[0] == i

    out = rounds({"libsql-client": run_peer, "tidepool": run_tp}, n, count)
    peer.close()
    tp.close()
    return out


def remote_sequential_async(url: str, n: int, count: int) -> Dict[str, float]:
    import libsql_client
    import tidepool.aio

    async def main() -> Dict[str, float]:
        peer = libsql_client.create_client(url)
        tp = await tidepool.aio.connect(url)

        async def run_peer(n: int) -> None:
            for i in range(n):
                rs = await peer.execute("SELECT ?", [i])
                assert rs.rows[0][0] == i

        async def run_tp(n: int) -> None:
            cur = tp.cursor()
            for i in range(n):
                await cur.execute("SELECT ?", (i,))
                assert (await cur.fetchone())[0] == i

        sides = {"libsql-client": run_peer, "tidepool": run_tp}
        for fn in sides.values():
            await fn(max(n // 10, 1))
        results: Dict[str, List[float]] = {name: [] for name in sides}
        for _ in range(count):
            for name, fn in sides.items():
                start = time.perf_counter()
                await fn(n)
                results[name].append(n / (time.perf_counter() - start))
        await peer.close()
        await tp.close()
        return {name: statistics.median(v) for name, v in results.items()}

    return asyncio.run(main())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--server-url", required=True, help="http://host:port of a tidepool-server")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--local-ops", type=int, default=50_000)
    parser.add_argument("--remote-ops", type=int, default=2_000)
    parser.add_argument("--json", help="also write the results here")
    args = parser.parse_args()
    base = args.server_url.rstrip("/")
    ws = "ws" + base[len("http"):]

    results = {
        "load_average": os.getloadavg(),
        "local point reads (sync)": local_point_reads(args.local_ops, args.rounds),
        "remote sequential, HTTP (sync)": remote_sequential(base, args.remote_ops, args.rounds),
        "remote sequential, WebSocket (sync)": remote_sequential(ws, args.remote_ops, args.rounds),
        "remote sequential, HTTP (asyncio)": remote_sequential_async(base, args.remote_ops, args.rounds),
        "remote sequential, WebSocket (asyncio)": remote_sequential_async(ws, args.remote_ops, args.rounds),
    }
    results["load_average_after"] = os.getloadavg()
    print(f"load average before: {results['load_average'][0]:.2f}, after: {results['load_average_after'][0]:.2f}")
    print(f"{'scenario':42} {'peer ops/s':>12} {'tidepool ops/s':>15} {'ratio':>7}  target")
    for name, r in results.items():
        if not isinstance(r, dict):
            continue
        peer_name = "sqlite3" if "sqlite3" in r else "libsql-client"
        target = "0.9x" if peer_name == "sqlite3" else "2x"
        ratio = r["tidepool"] / r[peer_name]
        r["ratio"] = ratio
        print(f"{name:42} {r[peer_name]:12.0f} {r['tidepool']:15.0f} {ratio:6.2f}x  >= {target} vs {peer_name}")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
