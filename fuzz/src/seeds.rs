//! Seed inputs for every target, drawn from the language-neutral vectors in `protocol/vectors/`
//! (every case's JSON and protobuf, including the inputs that must be refused) plus a few
//! hand-made batons and tokens. `src/bin/seed-corpus.rs` writes them out for libFuzzer; the
//! stable smoke mutates them directly.
//!
//! Cases of inner types (a `Stmt`, a `Batch`, a `Value`...) are wrapped into the top-level
//! messages that carry them: as JSON text, so even a malformed inner input reaches the decoder
//! in context, and, when the case decodes, as protobuf built from the decoded value.

use std::path::{Path, PathBuf};

use serde_json::Value as Json;
use tidepool_protocol::codec::{self, Wire};
use tidepool_protocol::http::{
    BatchStreamReq, CursorReqBody, ExecuteStreamReq, PipelineReqBody, PipelineRespBody,
    StreamRequest, StreamResult,
};
use tidepool_protocol::ws::ClientMsg;
use tidepool_protocol::{Batch, BatchStep, CursorEntry, Encoding, Stmt, Value};

/// The vector corpus, beside the protocol crate.
pub fn vectors_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../protocol/vectors")
}

/// Where kept crash inputs live: `regressions/<target>/`.
pub fn regressions_dir(target: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("regressions")
        .join(target)
}

/// The seeds of `target`, deduplicated, in a stable order.
pub fn for_target(target: &str) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    match target {
        "baton" => {
            out.push(b"AAAAAAAAAAcAAAAAAAAAA2pvYmJlcnNlY3JldGJhdG9udGFn".to_vec());
            out.push((0u8..48).collect());
            out.push(Vec::new());
        }
        "token" => {
            for (header, payload) in [
                (
                    r#"{"alg":"EdDSA","typ":"JWT"}"#,
                    r#"{"a":"ro","exp":1800000000}"#,
                ),
                (r#"{"alg":"EdDSA"}"#, r#"{"a":"rw","nbf":1.5e9}"#),
                (r#"{"alg":"HS256"}"#, r#"{}"#),
                (r#"{"alg":"EdDSA","crit":["x"]}"#, r#"{"exp":-1}"#),
            ] {
                out.push(format!("{header}\n{payload}").into_bytes());
            }
            out.push(b"Bearer eyJhbGciOiJFZERTQSJ9.e30.AAAA".to_vec());
            out.push(b"bearer\t a.b.c".to_vec());
        }
        "http_pipeline" => {
            out.push(
                br#"{"requests":[{"type":"execute","stmt":{"sql":"BEGIN"}},{"type":"sequence","sql":"CREATE TABLE t(id INTEGER PRIMARY KEY, v); INSERT INTO t(v) VALUES (1)"},{"type":"get_autocommit"}]}"#
                    .to_vec(),
            );
            for case in cases() {
                seeds_of_case(target, &case, &mut out);
            }
        }
        "ws_session" => ws_session_seeds(&mut out),
        _ => {
            for case in cases() {
                seeds_of_case(target, &case, &mut out);
            }
        }
    }
    out.sort();
    out.dedup();
    out
}

/// Sessions: a whole conversation per subprotocol, and hello + `open_stream` + each client
/// message of the corpus under the encoding it is written in.
fn ws_session_seeds(out: &mut Vec<Vec<u8>>) {
    let json = |text: &str| text.as_bytes().to_vec();
    let script = [
        r#"{"type":"hello","jwt":null}"#,
        r#"{"type":"request","request_id":1,"request":{"type":"open_stream","stream_id":1}}"#,
        r#"{"type":"request","request_id":2,"request":{"type":"execute","stream_id":1,"stmt":{"sql":"CREATE TABLE t(id INTEGER PRIMARY KEY, v)"}}}"#,
        r#"{"type":"request","request_id":3,"request":{"type":"execute","stream_id":1,"stmt":{"sql":"INSERT INTO t(v) VALUES (?)","args":[{"type":"text","value":"a"}]}}}"#,
        r#"{"type":"request","request_id":4,"request":{"type":"store_sql","sql_id":1,"sql":"SELECT * FROM t"}}"#,
        r#"{"type":"request","request_id":5,"request":{"type":"execute","stream_id":1,"stmt":{"sql_id":1}}}"#,
        r#"{"type":"request","request_id":6,"request":{"type":"open_cursor","stream_id":1,"cursor_id":1,"batch":{"steps":[{"stmt":{"sql":"SELECT v FROM t"}}]}}}"#,
        r#"{"type":"request","request_id":7,"request":{"type":"fetch_cursor","cursor_id":1,"max_count":10}}"#,
        r#"{"type":"request","request_id":8,"request":{"type":"close_cursor","cursor_id":1}}"#,
        r#"{"type":"request","request_id":9,"request":{"type":"batch","stream_id":1,"batch":{"steps":[{"stmt":{"sql":"BEGIN"}},{"condition":{"type":"ok","step":0},"stmt":{"sql":"DELETE FROM t"}},{"stmt":{"sql":"ROLLBACK"}}]}}}"#,
        r#"{"type":"request","request_id":10,"request":{"type":"sequence","stream_id":1,"sql":"BEGIN; UPDATE t SET v = 1"}}"#,
        r#"{"type":"request","request_id":11,"request":{"type":"get_autocommit","stream_id":1}}"#,
        r#"{"type":"request","request_id":12,"request":{"type":"describe","stream_id":1,"sql":"SELECT ?1"}}"#,
        r#"{"type":"request","request_id":13,"request":{"type":"close_sql","sql_id":1}}"#,
        r#"{"type":"request","request_id":14,"request":{"type":"close_stream","stream_id":1}}"#,
    ];
    let messages: Vec<Vec<u8>> = script.iter().map(|m| json(m)).collect();
    for selector in 0..3 {
        out.push(crate::ws::frame(selector, &messages));
    }
    // The same conversation in protobuf, re-encoded from the JSON.
    let protobuf: Vec<Vec<u8>> = script
        .iter()
        .filter_map(|m| codec::decode::<ClientMsg>(Encoding::Json, m.as_bytes()).ok())
        .map(|m| codec::encode(Encoding::Protobuf, &m))
        .collect();
    out.push(crate::ws::frame(3, &protobuf));

    let hello = |encoding| codec::encode(encoding, &ClientMsg::Hello(Default::default()));
    let open =
        r#"{"type":"request","request_id":1000,"request":{"type":"open_stream","stream_id":1}}"#;
    for case in cases().iter().filter(|c| c.ty == "ws.ClientMsg") {
        if let Some(text) = &case.json {
            out.push(crate::ws::frame(
                2,
                &[hello(Encoding::Json), json(open), json(text)],
            ));
        }
        if let (Some(bytes), Some(open)) = (
            &case.protobuf,
            codec::decode::<ClientMsg>(Encoding::Json, open.as_bytes()).ok(),
        ) {
            let open = codec::encode(Encoding::Protobuf, &open);
            out.push(crate::ws::frame(
                3,
                &[hello(Encoding::Protobuf), open, bytes.clone()],
            ));
        }
    }
}

/// One vector case's inputs: its type and the JSON text and/or protobuf bytes it holds.
struct Case {
    ty: String,
    json: Option<String>,
    protobuf: Option<Vec<u8>>,
}

fn cases() -> Vec<Case> {
    let mut out = Vec::new();
    let Ok(dir) = std::fs::read_dir(vectors_dir()) else {
        return out;
    };
    let mut files: Vec<PathBuf> = dir.filter_map(|e| e.ok().map(|e| e.path())).collect();
    files.sort();
    for file in files {
        if file.extension().and_then(|e| e.to_str()) != Some("json") {
            continue;
        }
        let Ok(text) = std::fs::read_to_string(&file) else {
            continue;
        };
        let Ok(doc) = serde_json::from_str::<Json>(&text) else {
            continue;
        };
        for case in doc["cases"].as_array().into_iter().flatten() {
            let Some(ty) = case["type"].as_str() else {
                continue;
            };
            let protobuf_input = case["decode"] == "protobuf";
            let json = if let Some(text) = case["input_text"].as_str() {
                Some(text.to_owned())
            } else if !case["json"].is_null() {
                Some(case["json"].to_string())
            } else if case["decode"] == "json" {
                Some(case["input"].to_string())
            } else {
                None
            };
            let hex = if protobuf_input {
                case["input"].as_str()
            } else {
                case["protobuf"].as_str()
            };
            out.push(Case {
                ty: ty.to_owned(),
                json,
                protobuf: hex.and_then(unhex),
            });
        }
    }
    out
}

fn unhex(hex: &str) -> Option<Vec<u8>> {
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(hex.get(i..i + 2)?, 16).ok())
        .collect()
}

fn seeds_of_case(target: &str, case: &Case, out: &mut Vec<Vec<u8>>) {
    let direct = match target {
        "ws_client_msg" => "ws.ClientMsg",
        "ws_server_msg" => "ws.ServerMsg",
        "pipeline_req" | "http_pipeline" => "http.PipelineReqBody",
        "pipeline_resp" => "http.PipelineRespBody",
        "cursor_req" | "http_cursor" => "http.CursorReqBody",
        "cursor_stream" => return stream_seeds(case, out),
        _ => return,
    };
    if case.ty == direct {
        out.extend(case.json.iter().map(|j| j.clone().into_bytes()));
        out.extend(case.protobuf.iter().cloned());
        return;
    }
    let Some(template) = template(direct, &case.ty) else {
        return;
    };
    if let Some(json) = &case.json {
        out.push(template.replace("@", json).into_bytes());
    }
    if let Some(bytes) = wrapped_protobuf(direct, case) {
        out.push(bytes);
    }
}

/// JSON text of a top-level message carrying an inner value at `@`.
fn template(direct: &str, inner: &str) -> Option<&'static str> {
    Some(match (direct, inner) {
        ("http.PipelineReqBody", "http.StreamRequest") => r#"{"requests":[@]}"#,
        ("http.PipelineReqBody", "Stmt") => r#"{"requests":[{"type":"execute","stmt":@}]}"#,
        ("http.PipelineReqBody", "Batch") => r#"{"requests":[{"type":"batch","batch":@}]}"#,
        ("http.PipelineReqBody", "BatchCond") => {
            r#"{"requests":[{"type":"batch","batch":{"steps":[{"stmt":{"sql":"SELECT 1"}},{"condition":@,"stmt":{"sql":"SELECT 2"}}]}}]}"#
        }
        ("http.PipelineReqBody", "Value") => {
            r#"{"requests":[{"type":"execute","stmt":{"sql":"SELECT ?","args":[@]}}]}"#
        }
        ("http.CursorReqBody", "Batch") => r#"{"batch":@}"#,
        ("http.CursorReqBody", "Stmt") => r#"{"batch":{"steps":[{"stmt":@}]}}"#,
        ("http.PipelineRespBody", "http.StreamResult") => r#"{"results":[@]}"#,
        ("http.PipelineRespBody", "StmtResult") => {
            r#"{"results":[{"type":"ok","response":{"type":"execute","result":@}}]}"#
        }
        ("http.PipelineRespBody", "BatchResult") => {
            r#"{"results":[{"type":"ok","response":{"type":"batch","result":@}}]}"#
        }
        ("http.PipelineRespBody", "Error") => r#"{"results":[{"type":"error","error":@}]}"#,
        ("ws.ClientMsg", "Stmt") => {
            r#"{"type":"request","request_id":1,"request":{"type":"execute","stream_id":0,"stmt":@}}"#
        }
        ("ws.ClientMsg", "Batch") => {
            r#"{"type":"request","request_id":1,"request":{"type":"batch","stream_id":0,"batch":@}}"#
        }
        ("ws.ServerMsg", "StmtResult") => {
            r#"{"type":"response_ok","request_id":1,"response":{"type":"execute","result":@}}"#
        }
        ("ws.ServerMsg", "Error") => r#"{"type":"response_error","request_id":1,"error":@}"#,
        _ => return None,
    })
}

/// The protobuf of a top-level message carrying the case's decoded inner value.
fn wrapped_protobuf(direct: &str, case: &Case) -> Option<Vec<u8>> {
    let bytes = case.protobuf.as_deref()?;
    let pipeline = |requests: Vec<StreamRequest>| {
        codec::encode(
            Encoding::Protobuf,
            &PipelineReqBody {
                baton: None,
                requests,
            },
        )
    };
    Some(match (direct, case.ty.as_str()) {
        ("http.PipelineReqBody", "http.StreamRequest") => pipeline(vec![decode(bytes)?]),
        ("http.PipelineReqBody", "Stmt") => {
            let stmt = decode(bytes)?;
            pipeline(vec![StreamRequest::Execute(ExecuteStreamReq { stmt })])
        }
        ("http.PipelineReqBody", "Batch") => {
            let batch = decode(bytes)?;
            pipeline(vec![StreamRequest::Batch(BatchStreamReq { batch })])
        }
        ("http.PipelineReqBody", "Value") => {
            let mut stmt = Stmt::new("SELECT ?");
            stmt.args = vec![decode::<Value>(bytes)?];
            pipeline(vec![StreamRequest::Execute(ExecuteStreamReq { stmt })])
        }
        ("http.CursorReqBody", "Batch") => codec::encode(
            Encoding::Protobuf,
            &CursorReqBody {
                baton: None,
                batch: decode(bytes)?,
            },
        ),
        ("http.CursorReqBody", "Stmt") => codec::encode(
            Encoding::Protobuf,
            &CursorReqBody {
                baton: None,
                batch: Batch {
                    steps: vec![BatchStep {
                        condition: None,
                        stmt: decode(bytes)?,
                    }],
                    replication_index: None,
                },
            },
        ),
        ("http.PipelineRespBody", "http.StreamResult") => codec::encode(
            Encoding::Protobuf,
            &PipelineRespBody {
                baton: None,
                base_url: None,
                results: vec![decode::<StreamResult>(bytes)?],
            },
        ),
        _ => return None,
    })
}

fn decode<T: Wire>(bytes: &[u8]) -> Option<T> {
    codec::decode(Encoding::Protobuf, bytes).ok()
}

/// Cursor bodies: a head, then the case's entry (JSON line or length-delimited protobuf). The
/// first byte of a `cursor_stream` input picks the chunking.
fn stream_seeds(case: &Case, out: &mut Vec<Vec<u8>>) {
    if case.ty != "CursorEntry" && case.ty != "http.CursorRespBody" {
        return;
    }
    let head_json = br#"{"baton":"b","base_url":null}"#;
    if let Some(json) = &case.json {
        let mut body = vec![3];
        if case.ty == "CursorEntry" {
            body.extend_from_slice(head_json);
            body.push(b'\n');
        }
        body.extend_from_slice(json.as_bytes());
        body.push(b'\n');
        out.push(body);
    }
    if let Some(bytes) = &case.protobuf {
        let mut body = vec![7];
        if case.ty == "CursorEntry" {
            body.push(0);
        }
        body.extend(varint(bytes.len()));
        body.extend_from_slice(bytes);
        if let Some(entry) = decode::<CursorEntry>(bytes) {
            codec::encode_stream_item(Encoding::Protobuf, &entry, &mut body);
        }
        out.push(body);
    }
}

fn varint(mut n: usize) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let byte = (n & 0x7f) as u8;
        n >>= 7;
        if n == 0 {
            out.push(byte);
            return out;
        }
        out.push(byte | 0x80);
    }
}
