//! The server under test, when `--url` does not name one.
//!
//! The default is a child process (`tidepool-server --http-listen-addr 127.0.0.1:0 --db-path
//! <tmp>`): the server then has its own tokio runtime and blocking pool, exactly as deployed,
//! and the load generator's runtime never schedules server work (nor the reverse). It is also how
//! the Node @libsql/client script measures it, so the two sets of figures compare. The
//! in-process mode (`--server in-process`) gives the server a separate multi-thread runtime on
//! its own threads; it is there for profiling one process, not for headline figures. On a
//! 2-core box, one server worker thread lost about a third of the HTTP 64-concurrent throughput
//! against two, and two threads matched the child process within run-to-run noise, so the
//! in-process default is 2 (what `Runtime::new()` in the server binary picks there). Either way
//! client and server share the machine's cores, which the report states.

use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, Stdio};

use anyhow::{bail, Context as _};
use tempfile::TempDir;

/// A server the benchmark started; stopped when dropped.
#[derive(Debug)]
pub struct Server {
    url: String,
    kind: Kind,
    _dir: TempDir,
}

#[derive(Debug)]
enum Kind {
    Child {
        child: Child,
        _stdout: BufReader<ChildStdout>,
    },
    InProcess {
        stop: Option<tokio::sync::oneshot::Sender<()>>,
        thread: Option<std::thread::JoinHandle<()>>,
    },
}

impl Server {
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Starts `bin` on 127.0.0.1:0 with a fresh database in a temporary directory, and waits for
    /// its `tidepool-server listening on <url>` line.
    pub fn child(bin: &Path) -> anyhow::Result<Self> {
        Self::child_with_args(bin, &[])
    }

    /// [`Server::child`] with extra command-line arguments (e.g. `--max-response-bytes`).
    pub fn child_with_args(bin: &Path, args: &[&str]) -> anyhow::Result<Self> {
        let dir = tempfile::tempdir()?;
        let db = dir.path().join("bench.db");
        let mut child = Command::new(bin)
            .arg("--http-listen-addr")
            .arg("127.0.0.1:0")
            .arg("--db-path")
            .arg(&db)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .with_context(|| format!("starting {}", bin.display()))?;
        let stdout = child.stdout.take().context("child stdout")?;
        let mut stdout = BufReader::new(stdout);
        let mut line = String::new();
        stdout.read_line(&mut line)?;
        let Some(url) = line.trim().strip_prefix("tidepool-server listening on ") else {
            let _ = child.kill();
            let _ = child.wait();
            bail!("unexpected first line from the server: {line:?}");
        };
        Ok(Server {
            url: url.to_owned(),
            kind: Kind::Child {
                child,
                _stdout: stdout,
            },
            _dir: dir,
        })
    }

    /// Runs the server in this process on its own runtime with `threads` worker threads.
    pub fn in_process(threads: usize) -> anyhow::Result<Self> {
        let dir = tempfile::tempdir()?;
        let mut config = tidepool_server::Config::new(dir.path().join("bench.db"));
        config.listen_addr = ([127, 0, 0, 1], 0).into();
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(threads.max(1))
            .thread_name("server")
            .enable_all()
            .build()?;
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let (ready_tx, ready) = std::sync::mpsc::channel::<anyhow::Result<String>>();
        let thread = std::thread::spawn(move || {
            runtime.block_on(async move {
                match tidepool_server::serve(config).await {
                    Ok(server) => {
                        let _ = ready_tx.send(Ok(server.url()));
                        let _ = stopped.await;
                        server.shutdown().await;
                    }
                    Err(e) => {
                        let _ = ready_tx.send(Err(e));
                    }
                }
            });
        });
        let url = ready.recv().context("server thread ended")??;
        Ok(Server {
            url,
            kind: Kind::InProcess {
                stop: Some(stop),
                thread: Some(thread),
            },
            _dir: dir,
        })
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        match &mut self.kind {
            Kind::Child { child, .. } => {
                let _ = child.kill();
                let _ = child.wait();
            }
            Kind::InProcess { stop, thread } => {
                if let Some(stop) = stop.take() {
                    let _ = stop.send(());
                }
                if let Some(thread) = thread.take() {
                    let _ = thread.join();
                }
            }
        }
    }
}

/// `tidepool-server` next to this executable (both are built into the same target directory).
pub fn default_server_bin() -> PathBuf {
    std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(|dir| dir.join("tidepool-server")))
        .unwrap_or_else(|| PathBuf::from("tidepool-server"))
}
