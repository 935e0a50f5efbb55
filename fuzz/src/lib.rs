//! Fuzz targets for Tidepool: every decoder a peer can reach (JSON and protobuf messages of both
//! transports, cursor-stream framing, batons, tokens) and the server's HTTP and WebSocket request
//! handling end to end, in-process.
//!
//! Each target is a plain function of the input bytes, so two drivers share them: libFuzzer
//! (`fuzz_targets/*.rs`, `cargo +nightly fuzz run <target>`) and the stable smoke
//! (`tests/smoke.rs`: the seeds, the kept regressions and a fixed-seed mutational loop), which
//! `scripts/fuzz-smoke.sh` runs in CI. A target panics when an invariant breaks; everything else
//! (a refused input) returns quietly.

#![forbid(unsafe_code)]

mod auth;
mod decode;
pub mod mutate;
pub mod seeds;
mod server;
pub mod ws;

/// The targets by name, for the drivers.
pub mod targets {
    pub use crate::auth::{baton, token};
    pub use crate::decode::{
        cursor_req, cursor_stream, pipeline_req, pipeline_resp, ws_client_msg, ws_server_msg,
    };
    pub use crate::server::{http_cursor, http_pipeline};
    pub use crate::ws::ws_session;
}

/// A target: its name (the `fuzz_targets/<name>.rs` binary) and its function.
pub type Target = (&'static str, fn(&[u8]));

/// Every target.
pub const TARGETS: &[Target] = &[
    ("ws_client_msg", targets::ws_client_msg),
    ("ws_server_msg", targets::ws_server_msg),
    ("pipeline_req", targets::pipeline_req),
    ("pipeline_resp", targets::pipeline_resp),
    ("cursor_req", targets::cursor_req),
    ("cursor_stream", targets::cursor_stream),
    ("baton", targets::baton),
    ("token", targets::token),
    ("http_pipeline", targets::http_pipeline),
    ("http_cursor", targets::http_cursor),
    ("ws_session", targets::ws_session),
];
