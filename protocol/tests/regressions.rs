//! Replays the inputs kept by the fuzz targets (`fuzz/regressions/<target>/`, see
//! `fuzz/README.md`) through the decoders, on stable and without the fuzz crate: every input
//! decodes or is refused without a panic, and what decodes survives an encode/decode round trip
//! unchanged. Inputs that once broke a decoder also have a named test below.

use std::fmt::Debug;
use std::path::{Path, PathBuf};

use bytes::BytesMut;
use tidepool_protocol::codec::{self, Wire};
use tidepool_protocol::http::{CursorReqBody, CursorRespBody, PipelineReqBody, PipelineRespBody};
use tidepool_protocol::ws::{ClientMsg, ServerMsg};
use tidepool_protocol::{CursorEntry, Encoding};

const ENCODINGS: [Encoding; 2] = [Encoding::Json, Encoding::Protobuf];

/// The kept inputs of one fuzz target.
fn kept(target: &str) -> Vec<(PathBuf, Vec<u8>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fuzz/regressions")
        .join(target);
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    files.sort();
    files
        .into_iter()
        .filter_map(|p| std::fs::read(&p).ok().map(|bytes| (p, bytes)))
        .collect()
}

fn round_trip<T: Wire + Debug>(encoding: Encoding, msg: &T) {
    let bytes = codec::encode(encoding, msg);
    if encoding == Encoding::Json && bytes.is_empty() {
        // An `Unknown` union member: no JSON form.
        return;
    }
    let back: T = codec::decode(encoding, &bytes).expect("re-encoding decodes");
    assert_eq!(format!("{msg:?}"), format!("{back:?}"));
    assert_eq!(bytes, codec::encode(encoding, &back));
}

fn decodes_or_refuses<T: Wire + Debug>(bytes: &[u8]) {
    for encoding in ENCODINGS {
        if let Ok(msg) = codec::decode::<T>(encoding, bytes) {
            round_trip(encoding, &msg);
        }
    }
}

fn replay<T: Wire + Debug>(target: &str) {
    for (path, bytes) in kept(target) {
        eprintln!("{}", path.display());
        decodes_or_refuses::<T>(&bytes);
    }
}

#[test]
fn ws_client_msg() {
    replay::<ClientMsg>("ws_client_msg");
}

#[test]
fn ws_server_msg() {
    replay::<ServerMsg>("ws_server_msg");
}

#[test]
fn pipeline_req() {
    replay::<PipelineReqBody>("pipeline_req");
}

#[test]
fn pipeline_resp() {
    replay::<PipelineRespBody>("pipeline_resp");
}

#[test]
fn cursor_req() {
    replay::<CursorReqBody>("cursor_req");
}

/// A cursor body (after the fuzz input's first byte, which picks the chunking) frames into a
/// head and entries, or stops at an error, without a panic.
fn split_stream(encoding: Encoding, body: &[u8]) {
    let mut buf = BytesMut::from(body);
    match codec::decode_stream_item::<CursorRespBody>(encoding, &mut buf) {
        Ok(Some(head)) => round_trip(encoding, &head),
        Ok(None) | Err(_) => return,
    }
    while let Ok(Some(entry)) = codec::decode_stream_item::<CursorEntry>(encoding, &mut buf) {
        round_trip(encoding, &entry);
    }
}

#[test]
fn cursor_stream() {
    for (path, bytes) in kept("cursor_stream") {
        eprintln!("{}", path.display());
        for encoding in ENCODINGS {
            split_stream(encoding, bytes.get(1..).unwrap_or_default());
        }
    }
}
