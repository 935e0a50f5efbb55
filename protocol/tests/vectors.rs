//! Runs the language-neutral test vectors of `protocol/vectors/` (format: `vectors/README.md`)
//! against the Rust wire types.
//!
//! - Round-trip cases: the case's JSON decodes, re-encodes to the same JSON and encodes to the
//!   case's protobuf hex; the hex decodes, re-encodes to the same bytes and to the case's JSON;
//!   both decoded values are equal.
//! - Decode-only cases: the input decodes to the same value as `expect_json`, and encodes back
//!   to `expect_json` (unless that contains an unknown union member, which has no encoding).
//! - Must-fail cases: the input does not decode.
//!
//! JSON is compared as data: object key order does not matter, numbers compare by value, and
//! floats bit for bit (so `-0.0` differs from `0.0`).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::{Debug, Write as _};
use std::path::{Path, PathBuf};

use serde_json::{Map, Value as Json};
use tidepool_protocol::codec::{self, Wire};
use tidepool_protocol::{
    http, ws, Batch, BatchCond, BatchResult, CursorEntry, DescribeResult, Encoding, Error, Stmt,
    StmtResult, Value,
};

/// Every type name a case may use, and the Rust type it names.
macro_rules! with_type {
    ($name:expr, $f:ident($($arg:expr),*)) => {
        match $name {
            "Value" => $f::<Value>($($arg),*),
            "Stmt" => $f::<Stmt>($($arg),*),
            "StmtResult" => $f::<StmtResult>($($arg),*),
            "Error" => $f::<Error>($($arg),*),
            "DescribeResult" => $f::<DescribeResult>($($arg),*),
            "Batch" => $f::<Batch>($($arg),*),
            "BatchCond" => $f::<BatchCond>($($arg),*),
            "BatchResult" => $f::<BatchResult>($($arg),*),
            "CursorEntry" => $f::<CursorEntry>($($arg),*),
            "http.PipelineReqBody" => $f::<http::PipelineReqBody>($($arg),*),
            "http.PipelineRespBody" => $f::<http::PipelineRespBody>($($arg),*),
            "http.CursorReqBody" => $f::<http::CursorReqBody>($($arg),*),
            "http.CursorRespBody" => $f::<http::CursorRespBody>($($arg),*),
            "http.StreamRequest" => $f::<http::StreamRequest>($($arg),*),
            "http.StreamResult" => $f::<http::StreamResult>($($arg),*),
            "ws.ClientMsg" => $f::<ws::ClientMsg>($($arg),*),
            "ws.ServerMsg" => $f::<ws::ServerMsg>($($arg),*),
            other => Err(format!("unknown type {other:?}")),
        }
    };
}

const TYPES: &[&str] = &[
    "Value",
    "Stmt",
    "StmtResult",
    "Error",
    "DescribeResult",
    "Batch",
    "BatchCond",
    "BatchResult",
    "CursorEntry",
    "http.PipelineReqBody",
    "http.PipelineRespBody",
    "http.CursorReqBody",
    "http.CursorRespBody",
    "http.StreamRequest",
    "http.StreamResult",
    "ws.ClientMsg",
    "ws.ServerMsg",
];

const FILES: &[&str] = &[
    "values.json",
    "statements.json",
    "batches.json",
    "cursor.json",
    "http.json",
    "ws.json",
];

/// The marker `expect_json` uses for a union member the decoder does not know.
const UNKNOWN_TAG: &str = "$unknown";

const CASE_KEYS: &[&str] = &[
    "name",
    "type",
    "json",
    "protobuf",
    "decode",
    "input",
    "input_text",
    "expect_json",
    "error",
    "note",
    "json_only",
];

// ------------------------------------------------------------------------------------------------
// Helpers.

/// Expands the generator objects `{"$repeat": s, "count": n}` and `{"$concat": [..]}` to strings.
fn expand(v: &Json) -> Result<Json, String> {
    Ok(match v {
        Json::Object(m) if m.len() == 2 && m.contains_key("$repeat") && m.contains_key("count") => {
            let unit = expand(&m["$repeat"])?;
            let unit = unit.as_str().ok_or("$repeat needs a string")?;
            let count = m["count"]
                .as_u64()
                .ok_or("count needs a non-negative integer")?;
            Json::String(unit.repeat(count as usize))
        }
        Json::Object(m) if m.len() == 1 && m.contains_key("$concat") => {
            let parts = m["$concat"].as_array().ok_or("$concat needs an array")?;
            let mut out = String::new();
            for p in parts {
                out.push_str(expand(p)?.as_str().ok_or("$concat parts must be strings")?);
            }
            Json::String(out)
        }
        Json::Object(m) => {
            let mut out = Map::new();
            for (k, x) in m {
                out.insert(k.clone(), expand(x)?);
            }
            Json::Object(out)
        }
        Json::Array(a) => Json::Array(a.iter().map(expand).collect::<Result<_, _>>()?),
        other => other.clone(),
    })
}

fn from_hex(text: &str) -> Result<Vec<u8>, String> {
    if text.len() % 2 != 0
        || text
            .bytes()
            .any(|b| !matches!(b, b'0'..=b'9' | b'a'..=b'f'))
    {
        return Err(format!("not lowercase hex: {}", short(text)));
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).map_err(|e| e.to_string()))
        .collect()
}

fn to_hex(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(out, "{b:02x}");
    }
    out
}

/// Shortens long text (the 1 MiB cases) for messages.
fn short(text: &str) -> String {
    const MAX: usize = 300;
    if text.len() <= MAX {
        return text.to_owned();
    }
    let mut end = MAX;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}… ({} bytes)", &text[..end], text.len())
}

fn short_json(v: &Json) -> String {
    short(&v.to_string())
}

/// Compares JSON as data; `Err` names the first difference.
fn same_json(got: &Json, want: &Json, path: &str) -> Result<(), String> {
    let differ = || {
        Err(format!(
            "at {path}: got {}, want {}",
            short_json(got),
            short_json(want)
        ))
    };
    match (got, want) {
        (Json::Null, Json::Null) => Ok(()),
        (Json::Bool(a), Json::Bool(b)) if a == b => Ok(()),
        (Json::String(a), Json::String(b)) if a == b => Ok(()),
        (Json::Number(a), Json::Number(b)) => {
            let int = |n: &serde_json::Number| {
                n.as_i64()
                    .map(i128::from)
                    .or_else(|| n.as_u64().map(i128::from))
            };
            let equal = match (int(a), int(b)) {
                (Some(x), Some(y)) => x == y,
                // At least one is a float: compare as doubles, bit for bit.
                _ => match (a.as_f64(), b.as_f64()) {
                    (Some(x), Some(y)) => x.to_bits() == y.to_bits(),
                    _ => false,
                },
            };
            if equal {
                Ok(())
            } else {
                differ()
            }
        }
        (Json::Array(a), Json::Array(b)) => {
            if a.len() != b.len() {
                return Err(format!(
                    "at {path}: got {} items, want {}",
                    a.len(),
                    b.len()
                ));
            }
            for (i, (x, y)) in a.iter().zip(b).enumerate() {
                same_json(x, y, &format!("{path}[{i}]"))?;
            }
            Ok(())
        }
        (Json::Object(a), Json::Object(b)) => {
            let ka: BTreeSet<&String> = a.keys().collect();
            let kb: BTreeSet<&String> = b.keys().collect();
            if ka != kb {
                return Err(format!("at {path}: got keys {ka:?}, want {kb:?}"));
            }
            for (k, x) in a {
                same_json(x, &b[k], &format!("{path}.{k}"))?;
            }
            Ok(())
        }
        _ => differ(),
    }
}

fn contains_unknown_tag(v: &Json) -> bool {
    match v {
        Json::Object(m) => {
            m.get("type").and_then(Json::as_str) == Some(UNKNOWN_TAG)
                || m.values().any(contains_unknown_tag)
        }
        Json::Array(a) => a.iter().any(contains_unknown_tag),
        _ => false,
    }
}

fn to_json<T: Wire>(msg: &T) -> Result<Json, String> {
    let bytes = serde_json::to_vec(msg).map_err(|e| format!("JSON encoding failed: {e}"))?;
    serde_json::from_slice(&bytes).map_err(|e| format!("JSON encoding is not JSON: {e}"))
}

fn decode<T: Wire>(encoding: Encoding, bytes: &[u8]) -> Result<T, String> {
    codec::decode(encoding, bytes).map_err(|e| e.to_string())
}

fn get<'a>(case: &'a Map<String, Json>, key: &str) -> Result<&'a Json, String> {
    case.get(key).ok_or_else(|| format!("case has no {key:?}"))
}

fn get_str<'a>(case: &'a Map<String, Json>, key: &str) -> Result<&'a str, String> {
    get(case, key)?
        .as_str()
        .ok_or_else(|| format!("{key:?} must be a string"))
}

// ------------------------------------------------------------------------------------------------
// Case runners.

fn round_trip<T: Wire + Debug + PartialEq>(case: &Map<String, Json>) -> Result<(), String> {
    let json = expand(get(case, "json")?)?;
    let hex = expand(get(case, "protobuf")?)?;
    let hex = hex.as_str().ok_or("protobuf must be a hex string")?;
    let bytes = from_hex(hex)?;

    let json_text = serde_json::to_vec(&json).map_err(|e| e.to_string())?;
    let from_json: T = decode(Encoding::Json, &json_text).map_err(|e| format!("JSON: {e}"))?;
    same_json(&to_json(&from_json)?, &json, "$")
        .map_err(|d| format!("JSON → value → JSON is not canonical: {d}"))?;
    let encoded = codec::encode(Encoding::Protobuf, &from_json);
    if encoded != bytes {
        return Err(format!(
            "JSON → value → protobuf:\n  got  {}\n  want {}",
            short(&to_hex(&encoded)),
            short(hex)
        ));
    }

    let from_pb: T = decode(Encoding::Protobuf, &bytes).map_err(|e| format!("protobuf: {e}"))?;
    same_json(&to_json(&from_pb)?, &json, "$")
        .map_err(|d| format!("protobuf → value → JSON: {d}"))?;
    if codec::encode(Encoding::Protobuf, &from_pb) != bytes {
        return Err("protobuf → value → protobuf changes the bytes".into());
    }
    if from_pb != from_json {
        return Err(format!(
            "the two decodings differ: {} vs {}",
            short(&format!("{from_pb:?}")),
            short(&format!("{from_json:?}"))
        ));
    }
    Ok(())
}

fn input_bytes(case: &Map<String, Json>) -> Result<(Encoding, Vec<u8>), String> {
    match get_str(case, "decode")? {
        "json" => match (case.get("input"), case.get("input_text")) {
            (Some(input), None) => Ok((
                Encoding::Json,
                serde_json::to_vec(&expand(input)?).map_err(|e| e.to_string())?,
            )),
            (None, Some(Json::String(text))) => Ok((Encoding::Json, text.as_bytes().to_vec())),
            _ => Err("a JSON case needs exactly one of input and input_text (a string)".into()),
        },
        "protobuf" => {
            let hex = expand(get(case, "input")?)?;
            Ok((
                Encoding::Protobuf,
                from_hex(hex.as_str().ok_or("input must be a hex string")?)?,
            ))
        }
        other => Err(format!(
            "decode must be \"json\" or \"protobuf\", not {other:?}"
        )),
    }
}

fn decode_only<T: Wire + Debug + PartialEq>(case: &Map<String, Json>) -> Result<(), String> {
    let (encoding, bytes) = input_bytes(case)?;
    let expect = expand(get(case, "expect_json")?)?;
    let got: T = decode(encoding, &bytes).map_err(|e| format!("input does not decode: {e}"))?;
    let expect_text = serde_json::to_vec(&expect).map_err(|e| e.to_string())?;
    let want: T = decode(Encoding::Json, &expect_text)
        .map_err(|e| format!("expect_json does not decode: {e}"))?;
    if got != want {
        return Err(format!(
            "decoded {}, expected {}",
            short(&format!("{got:?}")),
            short(&format!("{want:?}"))
        ));
    }
    // Bitwise float comparison (PartialEq says -0.0 == 0.0).
    if codec::encode(Encoding::Protobuf, &got) != codec::encode(Encoding::Protobuf, &want) {
        return Err("decoded value and expect_json differ in their protobuf encoding".into());
    }
    if contains_unknown_tag(&expect) {
        // An unknown member decodes to `Unknown`, which has no JSON encoding.
        if serde_json::to_vec(&got).is_ok() {
            return Err("a value holding an unknown member encoded to JSON".into());
        }
    } else {
        same_json(&to_json(&got)?, &expect, "$")
            .map_err(|d| format!("decoded value encodes to other JSON: {d}"))?;
    }
    Ok(())
}

fn must_fail<T: Wire + Debug>(case: &Map<String, Json>) -> Result<(), String> {
    let (encoding, bytes) = input_bytes(case)?;
    match decode::<T>(encoding, &bytes) {
        Err(_) => Ok(()),
        Ok(v) => Err(format!(
            "decoded, but must fail: {}",
            short(&format!("{v:?}"))
        )),
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    RoundTrip,
    DecodeJson,
    DecodeProtobuf,
    FailJson,
    FailProtobuf,
}

fn kind_of(case: &Map<String, Json>) -> Result<Kind, String> {
    for key in case.keys() {
        if !CASE_KEYS.contains(&key.as_str()) {
            return Err(format!("unknown case property {key:?}"));
        }
    }
    let protobuf = || case.get("decode").and_then(Json::as_str) == Some("protobuf");
    match (
        case.contains_key("json"),
        case.contains_key("expect_json"),
        case.get("error"),
    ) {
        (true, false, None) if !case.contains_key("decode") => Ok(Kind::RoundTrip),
        (false, true, None) if protobuf() => Ok(Kind::DecodeProtobuf),
        (false, true, None) => Ok(Kind::DecodeJson),
        (false, false, Some(Json::Bool(true))) if protobuf() => Ok(Kind::FailProtobuf),
        (false, false, Some(Json::Bool(true))) => Ok(Kind::FailJson),
        _ => Err("a case is json+protobuf, decode+input+expect_json, or decode+input+error".into()),
    }
}

fn run_case(case: &Map<String, Json>, kind: Kind) -> Result<(), String> {
    let ty = get_str(case, "type")?;
    match kind {
        Kind::RoundTrip => with_type!(ty, round_trip(case)),
        Kind::DecodeJson | Kind::DecodeProtobuf => with_type!(ty, decode_only(case)),
        Kind::FailJson | Kind::FailProtobuf => with_type!(ty, must_fail(case)),
    }
}

// ------------------------------------------------------------------------------------------------
// Coverage: what the round-trip cases must contain between them.

#[derive(Default)]
struct Coverage {
    tags: BTreeMap<&'static str, BTreeSet<String>>,
}

impl Coverage {
    fn add(&mut self, what: &'static str, v: Option<&Json>) {
        if let Some(tag) = v.and_then(|v| v.get("type")).and_then(Json::as_str) {
            self.tags.entry(what).or_default().insert(tag.to_owned());
        }
    }

    /// Records the union members found in a round-trip case's JSON.
    fn record(&mut self, ty: &str, json: &Json) {
        let items = |key: &str| {
            json.get(key)
                .and_then(Json::as_array)
                .cloned()
                .unwrap_or_default()
        };
        match ty {
            "Value" => self.add("Value", Some(json)),
            "BatchCond" => self.add("BatchCond", Some(json)),
            "CursorEntry" => self.add("CursorEntry", Some(json)),
            "http.StreamRequest" => self.add("StreamRequest", Some(json)),
            "http.PipelineReqBody" => {
                for r in items("requests") {
                    self.add("StreamRequest", Some(&r));
                }
            }
            "http.StreamResult" => {
                self.add("StreamResult", Some(json));
                self.add("StreamResponse", json.get("response"));
            }
            "http.PipelineRespBody" => {
                for r in items("results") {
                    self.add("StreamResult", Some(&r));
                    self.add("StreamResponse", r.get("response"));
                }
            }
            "ws.ClientMsg" => {
                self.add("ClientMsg", Some(json));
                self.add("Request", json.get("request"));
            }
            "ws.ServerMsg" => {
                self.add("ServerMsg", Some(json));
                self.add("Response", json.get("response"));
                if let Some(entries) = json.pointer("/response/entries").and_then(Json::as_array) {
                    for e in entries {
                        self.add("CursorEntry", Some(e));
                    }
                }
            }
            _ => {}
        }
        self.conditions(json);
        self.batch_results(ty, json);
    }

    /// Every condition kind, wherever it appears (batch steps, nested conditions).
    fn conditions(&mut self, v: &Json) {
        match v {
            Json::Object(m) => {
                for (k, x) in m {
                    match (k.as_str(), x) {
                        ("condition" | "cond", _) => self.add("BatchCond", Some(x)),
                        ("conds", Json::Array(a)) => {
                            a.iter().for_each(|c| self.add("BatchCond", Some(c)))
                        }
                        _ => {}
                    }
                    self.conditions(x);
                }
            }
            Json::Array(a) => a.iter().for_each(|x| self.conditions(x)),
            _ => {}
        }
    }

    /// Step outcomes in batch results: ok, failed and skipped.
    fn batch_results(&mut self, ty: &str, json: &Json) {
        if ty != "BatchResult" {
            return;
        }
        let (Some(results), Some(errors)) = (
            json.get("step_results").and_then(Json::as_array),
            json.get("step_errors").and_then(Json::as_array),
        ) else {
            return;
        };
        for (r, e) in results.iter().zip(errors) {
            let outcome = match (r.is_null(), e.is_null()) {
                (false, true) => "ok",
                (true, false) => "failed",
                (true, true) => "skipped",
                (false, false) => "both",
            };
            self.tags
                .entry("BatchResult step")
                .or_default()
                .insert(outcome.into());
        }
    }

    fn check(&self, failures: &mut Vec<String>) {
        let expected: &[(&str, &[&str])] = &[
            ("Value", &["null", "integer", "float", "text", "blob"]),
            (
                "BatchCond",
                &["ok", "error", "not", "and", "or", "is_autocommit"],
            ),
            (
                "CursorEntry",
                &["step_begin", "step_end", "step_error", "row", "error"],
            ),
            ("BatchResult step", &["ok", "failed", "skipped"]),
            (
                "StreamRequest",
                &[
                    "close",
                    "execute",
                    "batch",
                    "sequence",
                    "describe",
                    "store_sql",
                    "close_sql",
                    "get_autocommit",
                ],
            ),
            (
                "StreamResponse",
                &[
                    "close",
                    "execute",
                    "batch",
                    "sequence",
                    "describe",
                    "store_sql",
                    "close_sql",
                    "get_autocommit",
                ],
            ),
            ("StreamResult", &["ok", "error"]),
            ("ClientMsg", &["hello", "request"]),
            (
                "ServerMsg",
                &["hello_ok", "hello_error", "response_ok", "response_error"],
            ),
            (
                "Request",
                &[
                    "open_stream",
                    "close_stream",
                    "execute",
                    "batch",
                    "open_cursor",
                    "close_cursor",
                    "fetch_cursor",
                    "sequence",
                    "describe",
                    "store_sql",
                    "close_sql",
                    "get_autocommit",
                ],
            ),
            (
                "Response",
                &[
                    "open_stream",
                    "close_stream",
                    "execute",
                    "batch",
                    "open_cursor",
                    "close_cursor",
                    "fetch_cursor",
                    "sequence",
                    "describe",
                    "store_sql",
                    "close_sql",
                    "get_autocommit",
                ],
            ),
        ];
        for (what, tags) in expected {
            let seen = self.tags.get(what).cloned().unwrap_or_default();
            let missing: Vec<_> = tags.iter().filter(|t| !seen.contains(**t)).collect();
            if !missing.is_empty() {
                failures.push(format!(
                    "coverage: no round-trip case has {what} {missing:?}"
                ));
            }
        }
    }
}

// ------------------------------------------------------------------------------------------------

fn vector_files() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("vectors");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    files
}

#[test]
fn vectors() {
    let mut failures = Vec::new();
    let mut counts: BTreeMap<Kind, usize> = BTreeMap::new();
    let mut per_file = Vec::new();
    let mut round_trip_types = BTreeSet::new();
    let mut coverage = Coverage::default();
    let files = vector_files();

    for path in &files {
        let file = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{file}: {e}"));
        let doc: Json = match serde_json::from_str(&text) {
            Ok(doc) => doc,
            Err(e) => {
                failures.push(format!("{file}: not JSON: {e}"));
                continue;
            }
        };
        if !doc.get("description").is_some_and(Json::is_string) {
            failures.push(format!("{file}: no description"));
        }
        let Some(cases) = doc.get("cases").and_then(Json::as_array) else {
            failures.push(format!("{file}: no cases array"));
            continue;
        };
        per_file.push((file.clone(), cases.len()));
        let mut names = BTreeSet::new();
        for (i, case) in cases.iter().enumerate() {
            let Some(case) = case.as_object() else {
                failures.push(format!("{file}: case #{i} is not an object"));
                continue;
            };
            let name = case
                .get("name")
                .and_then(Json::as_str)
                .unwrap_or("<unnamed>");
            let label = format!("{file}: case #{i} {name:?}");
            if !names.insert(name.to_owned()) {
                failures.push(format!("{label}: duplicate name"));
            }
            let result = kind_of(case).and_then(|kind| {
                *counts.entry(kind).or_default() += 1;
                run_case(case, kind)?;
                if kind == Kind::RoundTrip {
                    let ty = get_str(case, "type")?;
                    round_trip_types.insert(ty.to_owned());
                    coverage.record(ty, &expand(get(case, "json")?)?);
                }
                Ok(())
            });
            if let Err(e) = result {
                failures.push(format!("{label}: {e}"));
            }
        }
    }

    // The corpus must stay non-trivial.
    let total: usize = counts.values().sum();
    for name in FILES {
        if !per_file.iter().any(|(f, n)| f == name && *n >= 20) {
            failures.push(format!(
                "corpus: {name} is missing or has fewer than 20 cases"
            ));
        }
    }
    if total < 350 {
        failures.push(format!("corpus: only {total} cases"));
    }
    for kind in [
        Kind::RoundTrip,
        Kind::DecodeJson,
        Kind::DecodeProtobuf,
        Kind::FailJson,
    ] {
        if counts.get(&kind).copied().unwrap_or(0) < 30 {
            failures.push(format!("corpus: fewer than 30 {kind:?} cases"));
        }
    }
    if counts.get(&Kind::FailProtobuf).copied().unwrap_or(0) < 20 {
        failures.push("corpus: fewer than 20 FailProtobuf cases".into());
    }
    for ty in TYPES {
        if !round_trip_types.contains(*ty) {
            failures.push(format!("coverage: no round-trip case of type {ty}"));
        }
    }
    coverage.check(&mut failures);

    eprintln!("vector files: {per_file:?}; cases by kind: {counts:?}");
    assert!(
        failures.is_empty(),
        "{} vector failure(s):\n{}",
        failures.len(),
        failures.join("\n")
    );
}
