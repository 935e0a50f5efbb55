//! What the server's logs may contain: everything the operator asks for (`RUST_LOG`), except
//! that the WebSocket and HTTP libraries stay at `info`, because at `trace` they print whole
//! frames and headers, which carry tokens. Request spans name the path without the query
//! string for the same reason (see `lib.rs`).

use tracing_subscriber::filter::Directive;
use tracing_subscriber::EnvFilter;

/// Libraries whose `debug`/`trace` output includes message payloads or headers.
const PAYLOAD_LOGGERS: [&str; 5] = [
    "tungstenite",
    "tokio_tungstenite",
    "hyper",
    "h2",
    "hyper_util",
];

/// The log filter for `spec` (a `RUST_LOG` value; `info` when empty or invalid), with the
/// payload-printing libraries capped at `info`.
pub fn filter(spec: Option<&str>) -> EnvFilter {
    let mut filter = spec
        .and_then(|s| EnvFilter::try_new(s).ok())
        .unwrap_or_else(|| EnvFilter::new("info"));
    for target in PAYLOAD_LOGGERS {
        if let Ok(directive) = format!("{target}=info").parse::<Directive>() {
            filter = filter.add_directive(directive);
        }
    }
    filter
}
