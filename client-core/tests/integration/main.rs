//! client-core against the real reference server on loopback, over HTTP and WebSocket, and
//! against local SQLite files.

mod api;
mod convergence;
mod faults;
mod local;
mod offline;
mod proxy;
mod replica;
mod support;
mod tls;
