#!/usr/bin/env python3
"""Checks the protobuf side of the wire-protocol test vectors with the official protobuf runtime.

The vectors in this directory were checked against the Rust implementation
(`protocol/tests/vectors.rs`); this script checks them against an implementation that shares no
code with it: `protoc` (from grpcio-tools) compiles `hrana.proto`, the official Python runtime
parses the bytes, and a hand-written mapping (below) turns the parsed message into Hrana JSON.

For every round-trip case (`json` + `protobuf`):
  1. parse the hex with the official runtime, map the message to Hrana JSON, compare it with the
     case's `json` (floats bit-exactly, so -0.0 != 0.0);
  2. map the case's `json` to a message, serialize it (deterministic) and compare with the hex
     byte for byte, so the hex is the encoding the official runtime itself produces.
For every decode-only case, the input is mapped (JSON) or parsed (protobuf) and compared with
`expect_json`. For every must-fail case the script reports, for information, inputs that the
official runtime or this mapping accepts; those are not failures, because the Tidepool profile is
stricter than stock protobuf in places (see README.md, "Known divergences").

Usage:
    pip install -r protocol/vectors/requirements.txt
    python3 protocol/vectors/check_protobuf.py [-v] [FILE.json ...]
    python3 protocol/vectors/check_protobuf.py --encode TYPE 'JSON'   # prints the canonical hex

Exit status 0 when every check passes, 1 otherwise.
"""

import argparse
import atexit
import base64
import binascii
import glob
import importlib
import json
import math
import os
import shutil
import struct
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))

pb = None  # the module protoc generates from hrana.proto


class MappingError(Exception):
    """A JSON value or message that does not map (the Hrana rules reject it)."""


def compile_schema():
    global pb
    if pb is not None:
        return pb
    try:
        import grpc_tools
        from grpc_tools import protoc
    except ImportError:
        sys.exit("grpcio-tools is missing: pip install -r protocol/vectors/requirements.txt")
    out = tempfile.mkdtemp(prefix="hrana_pb_")
    atexit.register(shutil.rmtree, out, ignore_errors=True)
    include = os.path.join(os.path.dirname(grpc_tools.__file__), "_proto")
    rc = protoc.main(["protoc", f"-I{HERE}", f"-I{include}", f"--python_out={out}", "hrana.proto"])
    if rc != 0:
        sys.exit(f"protoc failed on hrana.proto (exit {rc})")
    sys.path.insert(0, out)
    pb = importlib.import_module("hrana_pb2")
    return pb


# ------------------------------------------------------------------------------------------------
# Generator specs (README.md, "Generated strings").


def expand(v):
    if isinstance(v, dict):
        if set(v) == {"$repeat", "count"}:
            return expand(v["$repeat"]) * v["count"]
        if set(v) == {"$concat"}:
            return "".join(expand(p) for p in v["$concat"])
        return {k: expand(x) for k, x in v.items()}
    if isinstance(v, list):
        return [expand(x) for x in v]
    return v


# ------------------------------------------------------------------------------------------------
# Scalar rules.

I32 = (-(2**31), 2**31 - 1)
U32 = (0, 2**32 - 1)
I64 = (-(2**63), 2**63 - 1)
U64 = (0, 2**64 - 1)


def is_int(v):
    return isinstance(v, int) and not isinstance(v, bool)


def json_int(v, rng, strings):
    """An integer from a JSON number, or (if `strings`) from a decimal string."""
    if is_int(v):
        n = v
    elif strings and isinstance(v, str):
        s = v[1:] if v[:1] in "+-" else v
        if not s.isascii() or not s.isdigit():
            raise MappingError(f"{v!r} is not a decimal integer")
        n = int(v)
    else:
        raise MappingError(f"{v!r} is not an integer")
    if not rng[0] <= n <= rng[1]:
        raise MappingError(f"{n} out of range {rng}")
    return n


def json_str(v):
    if not isinstance(v, str):
        raise MappingError(f"{v!r} is not a string")
    return v


def json_bool(v):
    if not isinstance(v, bool):
        raise MappingError(f"{v!r} is not a boolean")
    return v


B64 = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")


def b64decode(text):
    """Standard alphabet; padding optional, but if present it must be complete and final."""
    text = json_str(text)
    body = text.rstrip("=")
    pad = len(text) - len(body)
    if any(c not in B64 for c in body) or len(body) % 4 == 1:
        raise MappingError(f"invalid base64 {text[:16]!r}")
    if pad and (len(body) + pad) % 4 != 0:
        raise MappingError(f"invalid base64 padding {text[-4:]!r}")
    try:
        return base64.b64decode(body + "=" * (-len(body) % 4), validate=True)
    except binascii.Error as e:
        raise MappingError(f"invalid base64: {e}") from None


def b64encode(data):
    return base64.b64encode(data).decode("ascii")


def getkey(j, key, default=None):
    if not isinstance(j, dict):
        raise MappingError(f"expected an object, got {j!r:.40}")
    return j.get(key, default)


# ------------------------------------------------------------------------------------------------
# Hand-written mapping between Hrana JSON and the protobuf messages. `to_*` reads JSON the way a
# lenient decoder does (numbers for integers, unpadded base64, unknown keys ignored, unknown union
# tags left unset); `from_*` writes the canonical JSON of README.md, "Canonical JSON".


def value_to(j, m):
    t = getkey(j, "type")
    if t == "null":
        m.null.SetInParent()
    elif t == "integer":
        m.integer = json_int(getkey(j, "value"), I64, strings=True)
    elif t == "float":
        v = getkey(j, "value")
        if v == "Infinity":
            m.float = math.inf
        elif v == "-Infinity":
            m.float = -math.inf
        elif isinstance(v, (int, float)) and not isinstance(v, bool):
            m.float = float(v)
        else:
            raise MappingError(f"float value {v!r}")
    elif t == "text":
        m.text = json_str(getkey(j, "value"))
    elif t == "blob":
        m.blob = b64decode(getkey(j, "base64"))
    else:
        raise MappingError(f"unknown value type {t!r}")
    return m


def value_from(m):
    which = m.WhichOneof("value")
    if which == "null":
        return {"type": "null"}
    if which == "integer":
        return {"type": "integer", "value": str(m.integer)}
    if which == "float":
        f = m.float
        if math.isnan(f):
            return {"type": "null"}  # NaN travels as NULL
        if math.isinf(f):
            return {"type": "float", "value": "Infinity" if f > 0 else "-Infinity"}
        return {"type": "float", "value": f}
    if which == "text":
        return {"type": "text", "value": m.text}
    if which == "blob":
        return {"type": "blob", "base64": b64encode(m.blob)}
    return {"type": "null"}  # no member it recognises: NULL (SPEC.md 2.3)


def row_to(j, m):
    if not isinstance(j, list):
        raise MappingError("a row is an array of values")
    for v in j:
        value_to(v, m.values.add())
    return m


def row_from(m):
    return [value_from(v) for v in m.values]


def cond_to(j, m):
    t = getkey(j, "type")
    if t == "ok":
        m.step_ok = json_int(getkey(j, "step"), U32, strings=False)
    elif t == "error":
        m.step_error = json_int(getkey(j, "step"), U32, strings=False)
    elif t == "not":
        cond_to(getkey(j, "cond"), getattr(m, "not"))
    elif t in ("and", "or"):
        lst = getattr(m, t)
        lst.SetInParent()
        conds = getkey(j, "conds")
        if not isinstance(conds, list):
            raise MappingError("conds must be an array")
        for c in conds:
            cond_to(c, lst.conds.add())
    elif t == "is_autocommit":
        m.is_autocommit.SetInParent()
    else:
        raise MappingError(f"unknown condition type {t!r}")
    return m


def cond_from(m):
    which = m.WhichOneof("cond")
    if which == "step_ok":
        return {"type": "ok", "step": m.step_ok}
    if which == "step_error":
        return {"type": "error", "step": m.step_error}
    if which == "not":
        return {"type": "not", "cond": cond_from(getattr(m, "not"))}
    if which in ("and", "or"):
        return {"type": which, "conds": [cond_from(c) for c in getattr(m, which).conds]}
    if which == "is_autocommit":
        return {"type": "is_autocommit"}
    raise MappingError("BatchCond with no member set")


def batch_result_to(j, m):
    results = getkey(j, "step_results")
    errors = getkey(j, "step_errors")
    if not isinstance(results, list) or not isinstance(errors, list):
        raise MappingError("step_results and step_errors must be arrays")
    for i, r in enumerate(results):
        if r is not None:
            to_msg("StmtResult", r, m.step_results[i])
    for i, e in enumerate(errors):
        if e is not None:
            to_msg("Error", e, m.step_errors[i])
    ri = getkey(j, "replication_index")
    if ri is not None:
        m.replication_index = json_int(ri, U64, strings=True)
    return m


def batch_result_from(m):
    keys = list(m.step_results.keys()) + list(m.step_errors.keys())
    n = max(keys) + 1 if keys else 0
    out = {
        "step_results": [
            from_msg("StmtResult", m.step_results[i]) if i in m.step_results else None
            for i in range(n)
        ],
        "step_errors": [
            from_msg("Error", m.step_errors[i]) if i in m.step_errors else None for i in range(n)
        ],
    }
    if m.HasField("replication_index"):
        out["replication_index"] = str(m.replication_index)
    return out


# Plain messages: (json key, kind, argument). Field names are the same in JSON and protobuf.
#   int32/uint32/uint64: JSON number;  bool; string: required in JSON
#   opt_string/opt_int32: optional; "omit" = key left out when unset, "null" = written as null
#   u64_str: optional uint64 written as a decimal string, left out when unset
#   i64_str: optional sint64 written as a decimal string, null when unset
#   double: JSON number
#   msg/list: nested message / repeated message (always written); list_omit: left out when empty
#   union: a tagged union whose members are the oneof `arg` of this same message
FIELDS = {
    "Error": [("message", "string"), ("code", "opt_string", "omit"),
              ("extended_code", "opt_string", "omit")],
    "Stmt": [("sql", "opt_string", "omit"), ("sql_id", "opt_int32", "omit"),
             ("args", "list_omit", "Value"), ("named_args", "list_omit", "NamedArg"),
             ("want_rows", "opt_bool", "omit"), ("replication_index", "u64_str")],
    "NamedArg": [("name", "string"), ("value", "msg", "Value")],
    "StmtResult": [("cols", "list", "Col"), ("rows", "list", "Row"),
                   ("affected_row_count", "uint64"), ("last_insert_rowid", "i64_str"),
                   ("replication_index", "u64_str"), ("rows_read", "uint64"),
                   ("rows_written", "uint64"), ("query_duration_ms", "double")],
    "Col": [("name", "opt_string", "null"), ("decltype", "opt_string", "null")],
    "Batch": [("steps", "list", "BatchStep"), ("replication_index", "u64_str")],
    "BatchStep": [("condition", "opt_msg", "BatchCond"), ("stmt", "msg", "Stmt")],
    "StepBeginEntry": [("step", "uint32"), ("cols", "list", "Col")],
    "StepEndEntry": [("affected_row_count", "uint64"), ("last_insert_rowid", "i64_str")],
    "StepErrorEntry": [("step", "uint32"), ("error", "msg", "Error")],
    "DescribeResult": [("params", "list", "DescribeParam"), ("cols", "list", "DescribeCol"),
                       ("is_explain", "bool"), ("is_readonly", "bool")],
    "DescribeParam": [("name", "opt_string", "null")],
    "DescribeCol": [("name", "string"), ("decltype", "opt_string", "null")],
    # HTTP
    "PipelineReqBody": [("baton", "opt_string", "null"), ("requests", "list", "http.StreamRequest")],
    "PipelineRespBody": [("baton", "opt_string", "null"), ("base_url", "opt_string", "null"),
                         ("results", "list", "http.StreamResult")],
    "CursorReqBody": [("baton", "opt_string", "null"), ("batch", "msg", "Batch")],
    "CursorRespBody": [("baton", "opt_string", "null"), ("base_url", "opt_string", "null")],
    "HttpCloseStreamReq": [], "HttpCloseStreamResp": [],
    "ExecuteStreamReq": [("stmt", "msg", "Stmt")],
    "ExecuteStreamResp": [("result", "msg", "StmtResult")],
    "BatchStreamReq": [("batch", "msg", "Batch")],
    "BatchStreamResp": [("result", "msg", "BatchResult")],
    "SequenceStreamReq": [("sql", "opt_string", "omit"), ("sql_id", "opt_int32", "omit")],
    "SequenceStreamResp": [],
    "DescribeStreamReq": [("sql", "opt_string", "omit"), ("sql_id", "opt_int32", "omit")],
    "DescribeStreamResp": [("result", "msg", "DescribeResult")],
    "StoreSqlStreamReq": [("sql_id", "int32"), ("sql", "string")],
    "StoreSqlStreamResp": [],
    "CloseSqlStreamReq": [("sql_id", "int32")],
    "CloseSqlStreamResp": [],
    "GetAutocommitStreamReq": [],
    "GetAutocommitStreamResp": [("is_autocommit", "bool")],
    # WebSocket
    "HelloMsg": [("jwt", "opt_string", "null")],
    "HelloOkMsg": [],
    "HelloErrorMsg": [("error", "msg", "Error")],
    "RequestMsg": [("request_id", "int32"), ("request", "union", "ws.Request")],
    "ResponseOkMsg": [("request_id", "int32"), ("response", "union", "ws.Response")],
    "ResponseErrorMsg": [("request_id", "int32"), ("error", "msg", "Error")],
    "OpenStreamReq": [("stream_id", "int32")], "OpenStreamResp": [],
    "CloseStreamReq": [("stream_id", "int32")], "CloseStreamResp": [],
    "ExecuteReq": [("stream_id", "int32"), ("stmt", "msg", "Stmt")],
    "ExecuteResp": [("result", "msg", "StmtResult")],
    "BatchReq": [("stream_id", "int32"), ("batch", "msg", "Batch")],
    "BatchResp": [("result", "msg", "BatchResult")],
    "OpenCursorReq": [("stream_id", "int32"), ("cursor_id", "int32"), ("batch", "msg", "Batch")],
    "OpenCursorResp": [],
    "CloseCursorReq": [("cursor_id", "int32")], "CloseCursorResp": [],
    "FetchCursorReq": [("cursor_id", "int32"), ("max_count", "uint32")],
    "FetchCursorResp": [("entries", "list", "CursorEntry"), ("done", "bool")],
    "SequenceReq": [("stream_id", "int32"), ("sql", "opt_string", "omit"),
                    ("sql_id", "opt_int32", "omit")],
    "SequenceResp": [],
    "DescribeReq": [("stream_id", "int32"), ("sql", "opt_string", "omit"),
                    ("sql_id", "opt_int32", "omit")],
    "DescribeResp": [("result", "msg", "DescribeResult")],
    "StoreSqlReq": [("sql_id", "int32"), ("sql", "string")], "StoreSqlResp": [],
    "CloseSqlReq": [("sql_id", "int32")], "CloseSqlResp": [],
    "GetAutocommitReq": [("stream_id", "int32")],
    "GetAutocommitResp": [("is_autocommit", "bool")],
}

# Tagged unions: JSON {"type": tag, ...}. `oneof` is the protobuf oneof; each member maps a JSON
# tag to (oneof field, member message, wrap): wrap None = the member's fields sit beside "type";
# wrap "key" = the member message is the JSON property "key".
UNIONS = {
    "CursorEntry": ("entry", {
        "step_begin": ("step_begin", "StepBeginEntry", None),
        "step_end": ("step_end", "StepEndEntry", None),
        "step_error": ("step_error", "StepErrorEntry", None),
        "row": ("row", "Row", "row"),
        "error": ("error", "Error", "error"),
    }),
    "http.StreamResult": ("result", {
        "ok": ("ok", "http.StreamResponse", "response"),
        "error": ("error", "Error", "error"),
    }),
    "http.StreamRequest": ("request", {
        "close": ("close", "HttpCloseStreamReq", None),
        "execute": ("execute", "ExecuteStreamReq", None),
        "batch": ("batch", "BatchStreamReq", None),
        "sequence": ("sequence", "SequenceStreamReq", None),
        "describe": ("describe", "DescribeStreamReq", None),
        "store_sql": ("store_sql", "StoreSqlStreamReq", None),
        "close_sql": ("close_sql", "CloseSqlStreamReq", None),
        "get_autocommit": ("get_autocommit", "GetAutocommitStreamReq", None),
    }),
    "http.StreamResponse": ("response", {
        "close": ("close", "HttpCloseStreamResp", None),
        "execute": ("execute", "ExecuteStreamResp", None),
        "batch": ("batch", "BatchStreamResp", None),
        "sequence": ("sequence", "SequenceStreamResp", None),
        "describe": ("describe", "DescribeStreamResp", None),
        "store_sql": ("store_sql", "StoreSqlStreamResp", None),
        "close_sql": ("close_sql", "CloseSqlStreamResp", None),
        "get_autocommit": ("get_autocommit", "GetAutocommitStreamResp", None),
    }),
    "ws.ClientMsg": ("msg", {
        "hello": ("hello", "HelloMsg", None),
        "request": ("request", "RequestMsg", None),
    }),
    "ws.ServerMsg": ("msg", {
        "hello_ok": ("hello_ok", "HelloOkMsg", None),
        "hello_error": ("hello_error", "HelloErrorMsg", None),
        "response_ok": ("response_ok", "ResponseOkMsg", None),
        "response_error": ("response_error", "ResponseErrorMsg", None),
    }),
    "ws.Request": ("request", {t: (t, m, None) for t, m in [
        ("open_stream", "OpenStreamReq"), ("close_stream", "CloseStreamReq"),
        ("execute", "ExecuteReq"), ("batch", "BatchReq"), ("open_cursor", "OpenCursorReq"),
        ("close_cursor", "CloseCursorReq"), ("fetch_cursor", "FetchCursorReq"),
        ("sequence", "SequenceReq"), ("describe", "DescribeReq"), ("store_sql", "StoreSqlReq"),
        ("close_sql", "CloseSqlReq"), ("get_autocommit", "GetAutocommitReq")]}),
    "ws.Response": ("response", {t: (t, m, None) for t, m in [
        ("open_stream", "OpenStreamResp"), ("close_stream", "CloseStreamResp"),
        ("execute", "ExecuteResp"), ("batch", "BatchResp"), ("open_cursor", "OpenCursorResp"),
        ("close_cursor", "CloseCursorResp"), ("fetch_cursor", "FetchCursorResp"),
        ("sequence", "SequenceResp"), ("describe", "DescribeResp"), ("store_sql", "StoreSqlResp"),
        ("close_sql", "CloseSqlResp"), ("get_autocommit", "GetAutocommitResp")]}),
}

# The protobuf message of each vector type (unions stored inline in an envelope have none).
MESSAGE_OF = {
    "http.PipelineReqBody": "PipelineReqBody", "http.PipelineRespBody": "PipelineRespBody",
    "http.CursorReqBody": "CursorReqBody", "http.CursorRespBody": "CursorRespBody",
    "http.StreamRequest": "StreamRequest", "http.StreamResponse": "StreamResponse",
    "http.StreamResult": "StreamResult", "ws.ClientMsg": "ClientMsg", "ws.ServerMsg": "ServerMsg",
}

SPECIAL = {
    "Value": (value_to, value_from),
    "Row": (row_to, row_from),
    "BatchCond": (cond_to, cond_from),
    "BatchResult": (batch_result_to, batch_result_from),
}

UNKNOWN = {"type": "$unknown"}  # an unknown union member (README.md, "Unknown union members")


def message_class(tname):
    return getattr(pb, MESSAGE_OF.get(tname, tname))


def union_to(tname, j, m):
    oneof, members = UNIONS[tname]
    tag = getkey(j, "type")
    if not isinstance(tag, str):
        raise MappingError(f"{tname}: missing type")
    if tag not in members:
        return m  # an unknown member: the oneof stays unset
    field, member_type, wrap = members[tag]
    sub = getattr(m, field)
    sub.SetInParent()
    to_msg(member_type, getkey(j, wrap) if wrap else j, sub)
    return m


def union_from(tname, m):
    oneof, members = UNIONS[tname]
    which = m.WhichOneof(oneof)
    for tag, (field, member_type, wrap) in members.items():
        if field == which:
            inner = from_msg(member_type, getattr(m, field))
            return {"type": tag, wrap: inner} if wrap else {"type": tag, **inner}
    return dict(UNKNOWN)


def to_msg(tname, j, m=None):
    """Fills message `m` (a new one if None) from the Hrana JSON `j` of type `tname`."""
    if m is None:
        m = message_class(tname)()
    if tname in SPECIAL:
        return SPECIAL[tname][0](j, m)
    if tname in UNIONS:
        return union_to(tname, j, m)
    if not isinstance(j, dict):
        raise MappingError(f"{tname}: expected an object")
    for key, kind, *arg in FIELDS[MESSAGE_OF.get(tname, tname)]:
        arg = arg[0] if arg else None
        v = j.get(key)
        if kind in OPTIONAL_KINDS:
            if v is None:
                continue  # absent or null
        elif key not in j and (tname, key) in DEFAULTED:
            continue  # left at the protobuf default
        elif v is None:
            raise MappingError(f"{tname}.{key} is required")
        if kind == "union":
            union_to(arg, v, m)
        elif kind in ("msg", "opt_msg"):
            sub = getattr(m, key)
            sub.SetInParent()
            to_msg(arg, v, sub)
        elif kind in ("list", "list_omit"):
            if not isinstance(v, list):
                raise MappingError(f"{tname}.{key} must be an array")
            for x in v:
                to_msg(arg, x, getattr(m, key).add())
        elif kind in ("string", "opt_string"):
            setattr(m, key, json_str(v))
        elif kind in ("int32", "opt_int32"):
            setattr(m, key, json_int(v, I32, strings=False))
        elif kind == "uint32":
            setattr(m, key, json_int(v, U32, strings=False))
        elif kind == "uint64":
            setattr(m, key, json_int(v, U64, strings=False))
        elif kind in ("bool", "opt_bool"):
            setattr(m, key, json_bool(v))
        elif kind == "double":
            if isinstance(v, bool) or not isinstance(v, (int, float)):
                raise MappingError(f"{tname}.{key} must be a number")
            setattr(m, key, float(v))
        elif kind == "u64_str":
            setattr(m, key, json_int(v, U64, strings=True))
        elif kind == "i64_str":
            setattr(m, key, json_int(v, I64, strings=True))
        else:
            raise AssertionError(kind)
    return m


# Kinds that may be absent or null in JSON.
OPTIONAL_KINDS = {"opt_msg", "list_omit", "opt_string", "opt_int32", "opt_bool", "u64_str",
                  "i64_str"}

# Fields a decoder defaults when absent: Hrana 1 and 2 peers do not send the newer counters.
DEFAULTED = {("StmtResult", "affected_row_count"), ("StmtResult", "rows_read"),
             ("StmtResult", "rows_written"), ("StmtResult", "query_duration_ms")}


def from_msg(tname, m):
    """The canonical Hrana JSON of message `m` of type `tname`."""
    if tname in SPECIAL:
        return SPECIAL[tname][1](m)
    if tname in UNIONS:
        return union_from(tname, m)
    out = {}
    for key, kind, *arg in FIELDS[MESSAGE_OF.get(tname, tname)]:
        arg = arg[0] if arg else None
        if kind == "union":
            out[key] = union_from(arg, m)
        elif kind == "msg":
            out[key] = from_msg(arg, getattr(m, key))
        elif kind == "opt_msg":
            if m.HasField(key):
                out[key] = from_msg(arg, getattr(m, key))
        elif kind in ("list", "list_omit"):
            items = [from_msg(arg, x) for x in getattr(m, key)]
            if items or kind == "list":
                out[key] = items
        elif kind in ("string", "int32", "uint32", "uint64", "bool", "double"):
            out[key] = getattr(m, key)
        elif kind in ("opt_string", "opt_int32", "opt_bool"):
            if m.HasField(key):
                out[key] = getattr(m, key)
            elif arg == "null":
                out[key] = None
        elif kind == "u64_str":
            if m.HasField(key):
                out[key] = str(getattr(m, key))
        elif kind == "i64_str":
            out[key] = str(getattr(m, key)) if m.HasField(key) else None
        else:
            raise AssertionError(kind)
    return out


# ------------------------------------------------------------------------------------------------
# Comparison: numbers by value, floats bit-exactly (-0.0 != 0.0), bools never equal to numbers.


def same_json(a, b, path="$"):
    """None if equal, else a description of the first difference."""
    if isinstance(a, bool) or isinstance(b, bool):
        return None if a is b else f"{path}: {a!r} != {b!r}"
    num = (int, float)
    if isinstance(a, num) and isinstance(b, num):
        if is_int(a) and is_int(b):
            return None if a == b else f"{path}: {a} != {b}"
        fa, fb = float(a), float(b)
        if struct.pack(">d", fa) == struct.pack(">d", fb):
            return None
        return f"{path}: {a!r} != {b!r}"
    if type(a) is not type(b):
        return f"{path}: {a!r:.60} != {b!r:.60}"
    if isinstance(a, dict):
        if set(a) != set(b):
            return f"{path}: keys {sorted(a)} != {sorted(b)}"
        for k in a:
            d = same_json(a[k], b[k], f"{path}.{k}")
            if d:
                return d
        return None
    if isinstance(a, list):
        if len(a) != len(b):
            return f"{path}: length {len(a)} != {len(b)}"
        for i, (x, y) in enumerate(zip(a, b)):
            d = same_json(x, y, f"{path}[{i}]")
            if d:
                return d
        return None
    return None if a == b else f"{path}: {a!r:.60} != {b!r:.60}"


def load_text(text):
    """Parses JSON text; `-0` is read as negative zero (Python would read it as the integer 0)."""
    def reject(name):
        raise ValueError(f"{name} is not JSON")

    return json.loads(text, parse_int=lambda s: -0.0 if s == "-0" else int(s),
                      parse_constant=reject)


# ------------------------------------------------------------------------------------------------
# Map entry order. Protobuf leaves the order of map entries on the wire unspecified; upb writes
# them in descending key order even when asked to be deterministic, prost (and libSQL) in
# ascending step order. The vectors use ascending order, so the official runtime's bytes are put
# in that order before they are compared.


def read_varint(data, i):
    n = shift = 0
    while True:
        if i >= len(data) or shift > 63:
            raise MappingError("bad varint")
        b = data[i]
        i += 1
        n |= (b & 0x7F) << shift
        shift += 7
        if not b & 0x80:
            return n, i


def wire_fields(data):
    """Yields (field number, wire type, whole field bytes, payload of a LEN field)."""
    i = 0
    while i < len(data):
        start = i
        key, i = read_varint(data, i)
        num, wt = key >> 3, key & 7
        payload = None
        if wt == 0:
            _, i = read_varint(data, i)
        elif wt == 1:
            i += 8
        elif wt == 5:
            i += 4
        elif wt == 2:
            n, i = read_varint(data, i)
            payload = data[i:i + n]
            i += n
        else:
            raise MappingError(f"wire type {wt}")
        if i > len(data):
            raise MappingError("truncated")
        yield num, wt, data[start:i], payload


def sort_maps(desc, data):
    """`data` (a message of descriptor `desc`) with every map's entries in ascending key order."""
    chunks, maps = [], {}
    for num, wt, whole, payload in wire_fields(data):
        fd = desc.fields_by_number.get(num)
        if fd is None or wt != 2 or fd.type != fd.TYPE_MESSAGE:
            chunks.append(whole)
            continue
        inner = sort_maps(fd.message_type, payload)
        whole = whole[:len(whole) - len(payload)][:-len(varint_bytes(len(payload)))] \
            + varint_bytes(len(inner)) + inner
        if fd.message_type.GetOptions().map_entry:
            entry_key = next((read_varint(w, 1)[0] for n, t, w, _ in wire_fields(inner)
                              if n == 1 and t == 0), 0)
            if num not in maps:
                maps[num] = []
                chunks.append(num)  # placeholder: the map is written where it first appears
            maps[num].append((entry_key, whole))
        else:
            chunks.append(whole)
    out = b""
    for c in chunks:
        if isinstance(c, int):
            out += b"".join(w for _, w in sorted(maps[c], key=lambda e: e[0]))
        else:
            out += c
    return out


def varint_bytes(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        out.append(b | 0x80 if n else b)
        if not n:
            return bytes(out)


def encode_hex(tname, j):
    """The official runtime's encoding of `j`, map entries in ascending key order."""
    msg = to_msg(tname, j)
    return sort_maps(msg.DESCRIPTOR, msg.SerializeToString(deterministic=True)).hex()


def decode_hex(tname, hexstr):
    from google.protobuf.message import DecodeError

    cls = message_class(tname)
    try:
        return cls.FromString(bytes.fromhex(hexstr))
    except DecodeError as e:
        raise MappingError(f"protobuf does not parse: {e}") from None


# ------------------------------------------------------------------------------------------------


def check_case(case):
    """Returns (failures, infos) for one case."""
    t = case["type"]
    if t not in SPECIAL and t not in UNIONS and MESSAGE_OF.get(t, t) not in FIELDS:
        return [f"unknown type {t!r}"], []
    fails, infos = [], []
    try:
        if "json" in case:
            j = expand(case["json"])
            hexstr = expand(case["protobuf"])
            got = from_msg(t, decode_hex(t, hexstr))
            d = same_json(got, j)
            if d:
                fails.append(f"official runtime decodes the hex to different JSON: {d}")
            mine = encode_hex(t, j)
            if mine != hexstr:
                fails.append(f"official runtime encodes the JSON as {mine[:200]}, vector has "
                             f"{hexstr[:200]}")
        elif "expect_json" in case and case.get("json_only"):
            pass  # the expected value has no exact protobuf form
        elif "expect_json" in case:
            expect = expand(case["expect_json"])
            if case["decode"] == "protobuf":
                got = from_msg(t, decode_hex(t, expand(case["input"])))
            else:
                j = load_text(case["input_text"]) if "input_text" in case else expand(case["input"])
                got = from_msg(t, to_msg(t, j))
            d = same_json(got, expect)
            if d:
                fails.append(f"decodes to different JSON: {d}")
        elif case.get("error") is True:
            try:
                if case["decode"] == "protobuf":
                    from_msg(t, decode_hex(t, expand(case["input"])))
                    infos.append("official protobuf runtime accepts this input")
                else:
                    j = load_text(case["input_text"]) if "input_text" in case \
                        else expand(case["input"])
                    from_msg(t, to_msg(t, j))
                    infos.append("this script's JSON mapping accepts this input")
            except (MappingError, ValueError, TypeError, KeyError, UnicodeError):
                pass
        else:
            fails.append("case has neither json, expect_json nor error")
    except MappingError as e:
        fails.append(str(e))
    return fails, infos


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("files", nargs="*", help="vector files (default: every *.json here)")
    ap.add_argument("-v", "--verbose", action="store_true", help="list every case")
    ap.add_argument("--encode", nargs=2, metavar=("TYPE", "JSON"),
                    help="print the canonical protobuf hex of a JSON value and exit")
    args = ap.parse_args()
    compile_schema()
    if args.encode:
        print(encode_hex(args.encode[0], json.loads(args.encode[1])))
        return 0

    from google.protobuf import __version__ as pb_version
    from google.protobuf.internal import api_implementation

    files = args.files or sorted(glob.glob(os.path.join(HERE, "*.json")))
    total = failed = 0
    counts = {"round-trip": 0, "decode": 0, "error": 0}
    for path in files:
        with open(path, encoding="utf-8") as f:
            doc = json.load(f)
        name = os.path.basename(path)
        for case in doc["cases"]:
            total += 1
            kind = "round-trip" if "json" in case else "decode" if "expect_json" in case \
                else "error"
            counts[kind] += 1
            fails, infos = check_case(case)
            label = f"{name}: {case['name']} ({case['type']}, {kind})"
            for msg in fails:
                print(f"FAIL {label}: {msg}")
            for msg in infos:
                print(f"INFO {label}: {msg}")
            if fails:
                failed += 1
            elif args.verbose:
                print(f"ok   {label}")
    print(f"{total} cases in {len(files)} files ({counts['round-trip']} round-trip, "
          f"{counts['decode']} decode-only, {counts['error']} must-fail) checked with protobuf "
          f"{pb_version} ({api_implementation.Type()}): "
          + ("all pass" if not failed else f"{failed} FAILED"))
    return 1 if failed or total == 0 else 0


if __name__ == "__main__":
    sys.exit(main())
