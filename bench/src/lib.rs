//! Shared pieces of the Tidepool benchmarks: the server under test (a child process or an
//! in-process server), exact-percentile statistics, and this process's memory figures. Used by
//! `tidepool-loadgen`, `client-compare` and `stream-memory`.

pub mod memory;
pub mod server;
pub mod stats;
