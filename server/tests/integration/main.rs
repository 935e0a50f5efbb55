//! Integration tests of the reference server: a real server on a loopback port and a real
//! SQLite file per test, driven over HTTP and WebSocket in every encoding.

mod support;

mod auth;
mod errors;
mod http_cursor;
mod http_pipeline;
mod limits;
mod soak;
mod timeouts;
mod tls;
mod ws;
