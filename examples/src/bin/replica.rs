//! A local replica of a server's database: reads from the file, writes through the server,
//! and a sync that pulls only what changed.
//!
//! ```text
//! cargo run -p tidepool-server                      # in one terminal: http://127.0.0.1:8080
//! cargo run -p tidepool-examples --bin replica      # in another
//! cargo run -p tidepool-examples --bin replica -- sync   # one sync of the replica, then exit
//! ```
//!
//! It keeps the replica in `TIDEPOOL_REPLICA` (default `replica.db` in the system's temporary
//! directory) of the server at `TIDEPOOL_URL` (default `http://127.0.0.1:8080`; `ws://` for
//! WebSocket, `TIDEPOOL_AUTH_TOKEN` when auth is on). The tour creates a table on the server,
//! syncs, reads locally, writes through the replica and reads the write back at once, then
//! shows an incremental sync and the replica's status. `sync` only syncs and prints the report.

use std::process::ExitCode;
use std::time::Instant;

use tidepool::{Builder, Database};

fn open(url: &str, path: &str) -> tidepool::Result<Database> {
    let mut builder = Builder::replica(path, url);
    if let Ok(token) = std::env::var("TIDEPOOL_AUTH_TOKEN") {
        builder = builder.auth_token(token);
    }
    builder.build()
}

async fn sync_once(db: &Database) -> tidepool::Result<()> {
    let started = Instant::now();
    let report = db.sync().await?;
    println!(
        "synced in {:?}: {} tables and {} rows copied ({} copies resumed), {} changes applied, \
         position {}",
        started.elapsed(),
        report.tables_copied,
        report.rows_copied,
        report.copies_resumed,
        report.changes_applied,
        report.position
    );
    Ok(())
}

async fn tour(url: &str, db: &Database) -> tidepool::Result<()> {
    // Set up some data on the server directly, as another application would.
    let server = Builder::new(url).build()?.connect();
    server
        .execute_batch(
            "DROP TABLE IF EXISTS sightings;
             CREATE TABLE sightings (id INTEGER PRIMARY KEY, species TEXT NOT NULL, count INTEGER);
             INSERT INTO sightings (species, count) VALUES ('anemone', 12), ('hermit crab', 3)",
        )
        .await?;

    sync_once(db).await?;
    let conn = db.connect();
    let mut rows = conn
        .query("SELECT species, count FROM sightings ORDER BY id", ())
        .await?;
    while let Some(row) = rows.next().await? {
        println!(
            "  local read: {} x{}",
            row.get::<String>(0)?,
            row.get::<i64>(1)?
        );
    }

    // A write goes to the server; when it returns, the replica already has it.
    let written = conn
        .execute(
            "INSERT INTO sightings (species, count) VALUES (?, ?)",
            ("sea star", 1),
        )
        .await?;
    let id = written.last_insert_rowid.unwrap_or_default();
    let row = conn
        .query("SELECT species FROM sightings WHERE id = ?", (id,))
        .await?
        .next()
        .await?;
    println!(
        "  read back after the write: {:?}",
        row.map(|r| r.get::<String>(0)).transpose()?
    );

    // Someone else changes one row; the next sync pulls just that row.
    server
        .execute(
            "UPDATE sightings SET count = count + 5 WHERE species = 'anemone'",
            (),
        )
        .await?;
    sync_once(db).await?;
    let status = db.sync_status().unwrap_or_default();
    println!(
        "status: position {} of {}, last sync {:?} ago, last error {:?}",
        status.position,
        status.server_position,
        status.lag().unwrap_or_default(),
        status.last_error.map(|e| e.code().to_owned())
    );
    Ok(())
}

#[tokio::main]
async fn main() -> ExitCode {
    let url = std::env::var("TIDEPOOL_URL").unwrap_or_else(|_| "http://127.0.0.1:8080".into());
    let path = std::env::var("TIDEPOOL_REPLICA").unwrap_or_else(|_| {
        std::env::temp_dir()
            .join("replica.db")
            .to_string_lossy()
            .into_owned()
    });
    let result = match open(&url, &path) {
        Ok(db) if std::env::args().nth(1).as_deref() == Some("sync") => sync_once(&db).await,
        Ok(db) => tour(&url, &db).await,
        Err(e) => Err(e),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error [{}]: {}", e.code(), e.message());
            ExitCode::FAILURE
        }
    }
}
