//! A tour of the `tidepool` client against a running server.
//!
//! ```text
//! cargo run -p tidepool-server                    # in one terminal: http://127.0.0.1:8080
//! cargo run -p tidepool-examples --bin remote     # in another
//! TIDEPOOL_URL=ws://127.0.0.1:8080 cargo run -p tidepool-examples --bin remote
//! ```
//!
//! It connects to `TIDEPOOL_URL` (default `http://127.0.0.1:8080`; `ws://` for WebSocket,
//! `TIDEPOOL_AUTH_TOKEN` for a server with auth on), creates a table, inserts with positional
//! and named parameters, runs a transaction and an atomic batch, streams a query, decodes rows
//! into a serde struct, and shows how a failure reads: every error has a stable code.

use std::process::ExitCode;

use serde::Deserialize;
use tidepool::{params, IntoValue as _, Statement};

/// A row of `tide_pools`, decoded by column name.
#[derive(Debug, Deserialize)]
struct TidePool {
    id: i64,
    name: String,
    depth_m: f64,
    species: i64,
    notes: Option<String>,
}

async fn run(url: &str) -> tidepool::Result<()> {
    let mut builder = tidepool::Builder::new(url);
    if let Ok(token) = std::env::var("TIDEPOOL_AUTH_TOKEN") {
        builder = builder.auth_token(token);
    }
    let db = builder.build()?;
    let conn = db.connect();

    // Schema, with a fresh table each run.
    conn.execute_batch(
        "DROP TABLE IF EXISTS tide_pools;
         CREATE TABLE tide_pools (
             id INTEGER PRIMARY KEY,
             name TEXT NOT NULL UNIQUE,
             depth_m REAL NOT NULL,
             species INTEGER NOT NULL DEFAULT 0,
             notes TEXT
         )",
    )
    .await?;
    println!(
        "connected to {} ({})",
        db.url(),
        db.negotiated_protocol().unwrap_or_else(|| "?".into())
    );

    // Positional parameters: a tuple binds `?` in order.
    let inserted = conn
        .execute(
            "INSERT INTO tide_pools (name, depth_m, species) VALUES (?, ?, ?)",
            ("Rockpool", 0.4, 12),
        )
        .await?;
    println!(
        "positional insert: {} row, rowid {:?}",
        inserted.rows_affected, inserted.last_insert_rowid
    );

    // Named parameters: `:name`, `@name` or `$name` in the SQL.
    let inserted = conn
        .execute(
            "INSERT INTO tide_pools (name, depth_m, species, notes) \
             VALUES (:name, :depth, :species, :notes)",
            params::named([
                (":name", "Kelp Hollow".into_value()),
                (":depth", 1.8.into_value()),
                (":species", 31.into_value()),
                (":notes", "anemones on the north wall".into_value()),
            ]),
        )
        .await?;
    println!(
        "named insert: {} row, rowid {:?}",
        inserted.rows_affected, inserted.last_insert_rowid
    );

    // An interactive transaction: both updates or neither. Dropping it uncommitted rolls back.
    let tx = conn.transaction().await?;
    tx.execute(
        "UPDATE tide_pools SET species = species + ? WHERE name = ?",
        (3, "Rockpool"),
    )
    .await?;
    tx.execute(
        "UPDATE tide_pools SET notes = ? WHERE name = ?",
        ("three new limpets", "Rockpool"),
    )
    .await?;
    tx.commit().await?;
    println!("transaction committed");

    // An atomic batch: one round trip, all statements or none.
    let results = conn
        .batch([
            Statement::new(
                "INSERT INTO tide_pools (name, depth_m, species) VALUES (?, ?, ?)",
                ("Barnacle Shelf", 0.2, 5),
            ),
            Statement::new(
                "INSERT INTO tide_pools (name, depth_m) VALUES (?, ?)",
                ("Urchin Basin", 2.6),
            ),
            Statement::new("SELECT count(*) AS pools FROM tide_pools", ()),
        ])
        .await?;
    let pools: i64 = results[2].rows[0].get("pools")?;
    println!("batch: {} statements, {pools} pools now", results.len());

    // A batch that fails part-way changes nothing; its error has a code.
    let failed = conn
        .batch([
            Statement::new(
                "INSERT INTO tide_pools (name, depth_m) VALUES (?, ?)",
                ("Sea Star Cove", 0.9),
            ),
            Statement::new(
                "INSERT INTO tide_pools (name, depth_m) VALUES (?, ?)",
                ("Rockpool", 0.1),
            ),
        ])
        .await;
    match failed {
        Err(e) => println!(
            "batch rolled back: {} ({}): {}",
            e.code(),
            e.extended_code().unwrap_or("-"),
            e.message()
        ),
        Ok(_) => println!("unexpected: the duplicate name was accepted"),
    }

    // Streaming: rows arrive through a cursor as they are read.
    let mut rows = conn
        .query(
            "SELECT name, depth_m FROM tide_pools WHERE depth_m > ? ORDER BY depth_m",
            (0.3,),
        )
        .await?;
    println!("pools deeper than 0.3 m:");
    while let Some(row) = rows.next().await? {
        let name: String = row.get("name")?;
        let depth: f64 = row.get(1)?;
        println!("  {name:<16} {depth:>4.1} m");
    }

    // Rows into a serde struct, fields matched to columns by name.
    let rows = conn
        .query(
            "SELECT id, name, depth_m, species, notes FROM tide_pools ORDER BY id",
            (),
        )
        .await?
        .collect_all()
        .await?;
    for row in rows {
        let pool: TidePool = row.deserialize()?;
        let line = format!(
            "  #{} {:<16} {:>4.1} m {:>3} species  {}",
            pool.id,
            pool.name,
            pool.depth_m,
            pool.species,
            pool.notes.as_deref().unwrap_or("")
        );
        println!("{}", line.trim_end());
    }

    conn.close().await
}

#[tokio::main]
async fn main() -> ExitCode {
    let url = std::env::var("TIDEPOOL_URL").unwrap_or_else(|_| "http://127.0.0.1:8080".into());
    match run(&url).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error {}: {}", e.code(), e.message());
            if e.code() == tidepool::error::code::CONNECT_FAILED {
                eprintln!("is a server running at {url}? try: cargo run -p tidepool-server");
            }
            ExitCode::FAILURE
        }
    }
}
