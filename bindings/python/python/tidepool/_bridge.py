"""Sets the outcome of a native call on its asyncio future, on the loop's own thread."""

from __future__ import annotations

import asyncio


def resolve(future: asyncio.Future, ok: bool, value: object) -> None:
    if future.cancelled():
        return
    if ok:
        future.set_result(value)
    else:
        future.set_exception(value)  # type: ignore[arg-type]
