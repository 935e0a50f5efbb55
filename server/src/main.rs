//! `tidepool-server`: runs the reference server, or makes keys and tokens for its JWT auth.

use std::io::Write as _;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context as _;
use clap::{Args, Parser, Subcommand};
use tidepool_server::auth::{Access, SigningKey};
use tidepool_server::Config;

#[derive(Parser, Debug)]
#[command(
    name = "tidepool-server",
    version,
    about = "Tidepool reference server (Hrana 1/2/3 over HTTP and WebSocket on SQLite)"
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    serve: ServeArgs,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Writes a new Ed25519 key pair: jwt_key.pem (public, for --auth-jwt-key-file) and
    /// jwt_private.pem (keep it secret; signs tokens).
    GenKey {
        #[arg(long, default_value = ".")]
        out_dir: PathBuf,
    },
    /// Prints a token signed with a private key from gen-key.
    GenToken {
        #[arg(long)]
        private_key: PathBuf,
        /// The token may only read.
        #[arg(long)]
        read_only: bool,
        /// The token expires this many seconds from now (default: never).
        #[arg(long)]
        expires_in_secs: Option<u64>,
    },
}

#[derive(Args, Debug)]
struct ServeArgs {
    /// Address to listen on (HTTP and WebSocket share it). Loopback unless told otherwise.
    #[arg(long, env = "TIDEPOOL_LISTEN_ADDR", default_value = "127.0.0.1:8080")]
    http_listen_addr: SocketAddr,
    /// SQLite database file (created if missing).
    #[arg(long, env = "TIDEPOOL_DB_PATH", default_value = "tidepool.db")]
    db_path: PathBuf,
    /// Ed25519 public key(s) (PEM or base64url) that sign accepted JWTs. Without it, no auth.
    #[arg(long, env = "TIDEPOOL_AUTH_JWT_KEY_FILE")]
    auth_jwt_key_file: Option<PathBuf>,
    /// PEM certificate chain; with --tls-key the server speaks TLS only.
    #[arg(long, requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// PEM private key for --tls-cert.
    #[arg(long, requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// Seconds an idle HTTP stream lives.
    #[arg(long, default_value_t = 10)]
    stream_expiry_secs: u64,
    /// Seconds a transaction may stay open before it is rolled back.
    #[arg(long, default_value_t = 30)]
    txn_timeout_secs: u64,
    /// Largest HTTP request body, in bytes.
    #[arg(long, default_value_t = 16 << 20)]
    max_request_bytes: usize,
    /// Largest result of one execute or batch, in bytes.
    #[arg(long, default_value_t = 16 << 20)]
    max_response_bytes: usize,
    /// Stored SQL texts per WebSocket connection or HTTP stream.
    #[arg(long, default_value_t = 150)]
    max_sql_texts: usize,
    /// Page cache of each SQLite connection (one per open stream), in KiB; 0 keeps SQLite's
    /// default of 2,000 KiB.
    #[arg(long, default_value_t = 512)]
    cache_size_kib: u32,
    /// Microseconds a short read (SELECT or VALUES) may run on the async worker before it
    /// moves to the blocking pool; 0 sends every statement to the blocking pool.
    #[arg(long, default_value_t = 2000)]
    inline_budget_us: u64,
    /// Seconds one HTTP request may take before the server answers 408 and interrupts the
    /// SQLite statement it is running.
    #[arg(long, default_value_t = 60)]
    request_timeout_secs: u64,
}

impl ServeArgs {
    fn config(self) -> Config {
        let mut config = Config::new(self.db_path);
        config.listen_addr = self.http_listen_addr;
        config.auth_key_file = self.auth_jwt_key_file;
        config.tls_cert = self.tls_cert;
        config.tls_key = self.tls_key;
        config.stream_expiry = Duration::from_secs(self.stream_expiry_secs);
        config.txn_timeout = Duration::from_secs(self.txn_timeout_secs);
        config.max_request_bytes = self.max_request_bytes;
        config.max_response_bytes = self.max_response_bytes;
        config.max_sql_texts = self.max_sql_texts;
        config.cache_size_kib = (self.cache_size_kib > 0).then_some(self.cache_size_kib);
        config.inline_budget = Duration::from_micros(self.inline_budget_us);
        config.request_timeout = Duration::from_secs(self.request_timeout_secs);
        config
    }
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Some(Command::GenKey { out_dir }) => gen_key(&out_dir),
        Some(Command::GenToken {
            private_key,
            read_only,
            expires_in_secs,
        }) => {
            let pem = std::fs::read_to_string(&private_key)
                .with_context(|| format!("reading {}", private_key.display()))?;
            let key = SigningKey::from_pem(&pem)?;
            let access = if read_only {
                Access::ReadOnly
            } else {
                Access::ReadWrite
            };
            let expires = expires_in_secs.map(|s| tidepool_server::state::now_unix_secs() + s);
            println!("{}", key.token(access, expires));
            Ok(())
        }
        None => run(cli.serve.config()),
    }
}

fn gen_key(out_dir: &std::path::Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(out_dir)?;
    let key = SigningKey::generate();
    let public = out_dir.join("jwt_key.pem");
    let private = out_dir.join("jwt_private.pem");
    std::fs::write(&public, key.public_key_pem())?;
    write_secret(&private, key.to_pem().as_bytes())?;
    println!(
        "public key:  {} (pass to --auth-jwt-key-file)",
        public.display()
    );
    println!(
        "private key: {} (keep secret; use with gen-token)",
        private.display()
    );
    Ok(())
}

fn write_secret(path: &std::path::Path, bytes: &[u8]) -> anyhow::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path)?.write_all(bytes)?;
    Ok(())
}

fn run(config: Config) -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(tidepool_server::logging::filter(
            std::env::var("RUST_LOG").ok().as_deref(),
        ))
        .with_writer(std::io::stderr)
        .init();
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(async {
        let auth = config.auth_key_file.is_some();
        let server = tidepool_server::serve(config).await?;
        println!("tidepool-server listening on {}", server.url());
        std::io::stdout().flush()?;
        tracing::info!(addr = %server.local_addr(), auth, "serving");
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = terminate() => {}
        }
        tracing::info!("shutting down");
        server.shutdown().await;
        Ok(())
    })
}

#[cfg(unix)]
async fn terminate() {
    if let Ok(mut signal) =
        tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
    {
        signal.recv().await;
    } else {
        std::future::pending::<()>().await;
    }
}

#[cfg(not(unix))]
async fn terminate() {
    std::future::pending::<()>().await;
}
