//! client-core against the real reference server on loopback, over HTTP and WebSocket.

mod api;
mod faults;
mod proxy;
mod support;
