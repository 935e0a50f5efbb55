//! A reference server on a loopback port and a temporary database, per test.

use tidepool_server::{Config, RunningServer};

pub struct TestServer {
    pub server: Option<RunningServer>,
    /// Holds the database file for the server's lifetime.
    _dir: tempfile::TempDir,
}

impl TestServer {
    pub async fn start() -> Self {
        Self::start_with(|_| {}).await
    }

    pub async fn start_with(configure: impl FnOnce(&mut Config)) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut config = Config::new(dir.path().join("test.db"));
        config.listen_addr = "127.0.0.1:0".parse().expect("addr");
        configure(&mut config);
        let server = tidepool_server::serve(config).await.expect("server starts");
        TestServer {
            server: Some(server),
            _dir: dir,
        }
    }

    pub fn addr(&self) -> std::net::SocketAddr {
        self.server.as_ref().expect("running").local_addr()
    }

    /// The URL of this server for a transport: `http` or `ws`.
    pub fn url(&self, scheme: &str) -> String {
        format!("{scheme}://{}", self.addr())
    }

    pub fn db(&self, scheme: &str) -> tidepool::Database {
        self.db_with(scheme, false)
    }

    /// A database over `scheme`, speaking JSON instead of protobuf when `json`.
    pub fn db_with(&self, scheme: &str, json: bool) -> tidepool::Database {
        let builder = tidepool::Builder::new(self.url(scheme));
        let builder = if json { builder.force_json() } else { builder };
        builder.build().expect("build")
    }
}

/// Defines one test per transport and encoding: `name::http`, `name::ws` (protobuf, as
/// negotiated) and `name::http_json`, `name::ws_json`.
#[macro_export]
macro_rules! both_transports {
    ($name:ident, |$db:ident, $server:ident| $body:block) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            async fn run(scheme: &str, json: bool) {
                let $server = $crate::support::TestServer::start().await;
                let $db = $server.db_with(scheme, json);
                $body
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn http() {
                run("http", false).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn ws() {
                run("ws", false).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn http_json() {
                run("http", true).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn ws_json() {
                run("ws", true).await;
            }
        }
    };
}
