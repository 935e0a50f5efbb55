//! Offline-first: two devices edit the same rows without a connection, sync, and converge; the
//! one conflict that needs a person is shown and resolved through the API.
//!
//! ```text
//! cargo run -p tidepool-examples --bin offline             # the tour, on a server of its own
//! TIDEPOOL_URL=http://127.0.0.1:8080 cargo run -p tidepool-examples --bin offline
//! cargo run -p tidepool-examples --bin offline -- sync     # one sync of TIDEPOOL_OFFLINE, then exit
//! ```
//!
//! Without `TIDEPOOL_URL` the tour starts the reference server in-process on a temporary
//! database; with it, it uses that server (`TIDEPOOL_AUTH_TOKEN` when auth is on). `sync`
//! syncs the offline database in `TIDEPOOL_OFFLINE` with the server at `TIDEPOOL_URL` and prints
//! the report (the crash tests run it as a child process and kill it).

use std::process::ExitCode;
use std::time::Duration;

use tidepool::{Builder, ChangeOrigin, Connection, Database, Resolution, Value};

/// Why the tour stopped.
#[derive(Debug)]
struct Failure(String);

impl From<tidepool::Error> for Failure {
    fn from(e: tidepool::Error) -> Self {
        Failure(format!("[{}] {}", e.code(), e.message()))
    }
}

fn device(path: &std::path::Path, url: &str) -> tidepool::Result<Database> {
    let mut builder = Builder::offline(path, url);
    if let Ok(token) = std::env::var("TIDEPOOL_AUTH_TOKEN") {
        builder = builder.auth_token(token);
    }
    builder.build()
}

fn show(value: &Value) -> String {
    match value {
        Value::Null => "NULL".into(),
        Value::Integer(i) => i.to_string(),
        Value::Float(f) => f.to_string(),
        Value::Text(t) => format!("{t:?}"),
        Value::Blob(b) => format!("<{} bytes>", b.len()),
    }
}

async fn tasks(conn: &Connection) -> tidepool::Result<Vec<Vec<Value>>> {
    let rows = conn
        .query("SELECT id, title, done FROM tasks ORDER BY id", ())
        .await?
        .collect_all()
        .await?;
    Ok(rows.into_iter().map(|r| r.into_values()).collect())
}

async fn print_tasks(who: &str, conn: &Connection) -> tidepool::Result<()> {
    println!("  {who}:");
    for row in tasks(conn).await? {
        let cells: Vec<String> = row.iter().map(show).collect();
        println!("    {}", cells.join(" | "));
    }
    Ok(())
}

async fn tour(url: &str) -> Result<(), Failure> {
    let server = Builder::new(url).build()?.connect();
    server
        .execute_batch(
            "DROP TABLE IF EXISTS tasks;
             CREATE TABLE tasks (id TEXT PRIMARY KEY, title TEXT NOT NULL, done INTEGER NOT NULL DEFAULT 0);
             INSERT INTO tasks (id, title) VALUES ('t1', 'Buy milk'), ('t2', 'Fix the bike')",
        )
        .await?;
    let dir = std::env::temp_dir().join(format!("tidepool-offline-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| Failure(format!("{}: {e}", dir.display())))?;
    let phone = device(&dir.join("phone.db"), url)?;
    let laptop = device(&dir.join("laptop.db"), url)?;
    phone.sync().await?;
    laptop.sync().await?;
    println!("both devices synced once (online): they hold the server's two tasks");

    let mut changes = phone.subscribe()?;
    let (p, l) = (phone.connect(), laptop.connect());
    println!("\noffline, each device edits:");
    l.execute(
        "UPDATE tasks SET title = 'Buy oat milk' WHERE id = 't1'",
        (),
    )
    .await?;
    l.execute(
        "INSERT INTO tasks (id, title) VALUES ('t3', 'Call the plumber')",
        (),
    )
    .await?;
    tokio::time::sleep(Duration::from_millis(5)).await;
    p.execute(
        "UPDATE tasks SET title = 'Buy milk and eggs' WHERE id = 't1'",
        (),
    )
    .await?;
    p.execute("UPDATE tasks SET done = 1 WHERE id = 't2'", ())
        .await?;
    print_tasks("phone", &p).await?;
    print_tasks("laptop", &l).await?;
    if let Some(change) = changes.try_recv() {
        println!(
            "  (the phone's views heard: {:?} changed locally)",
            change.tables
        );
    }
    println!(
        "  pending: phone {}, laptop {}",
        phone.pending_changes().await?,
        laptop.pending_changes().await?
    );

    println!("\nback online, the phone syncs first, then the laptop:");
    let report = phone.sync().await?;
    println!(
        "  phone pushed {} changes, {} conflicts",
        report.changes_pushed, report.conflicts
    );
    let report = laptop.sync().await?;
    println!(
        "  laptop pushed {} changes, {} conflicts",
        report.changes_pushed, report.conflicts
    );
    phone.sync().await?;
    while let Some(change) = changes.try_recv() {
        if change.origin == ChangeOrigin::Remote {
            println!(
                "  (the phone's views heard: {:?} changed by sync)",
                change.tables
            );
        }
    }
    print_tasks("phone", &p).await?;
    print_tasks("laptop", &l).await?;

    println!("\nboth edited t1's title; the phone's edit was later, so it won (per column,");
    println!("last writer wins on hybrid logical clocks). The laptop kept the conflict as data:");
    let conflicts = laptop.conflicts().await?;
    for c in &conflicts {
        let image = |i: &Option<tidepool::RowImage>| match i {
            Some(i) => i
                .iter()
                .map(|(c, v)| format!("{c}={}", show(v)))
                .collect::<Vec<_>>()
                .join(", "),
            None => "(none)".into(),
        };
        println!(
            "  #{} {} {:?} kind={} rule={} outcome={} columns={:?}",
            c.id,
            c.table,
            c.key.iter().map(show).collect::<Vec<_>>(),
            c.kind.as_str(),
            c.rule.as_str(),
            c.outcome.as_str(),
            c.columns
        );
        println!("     local:  {}", image(&c.local));
        println!("     remote: {}", image(&c.remote));
        println!("     base:   {}", image(&c.base));
    }
    let Some(conflict) = conflicts.first() else {
        return Err(Failure("expected a conflict on the laptop".into()));
    };
    println!("\nthe laptop's user merges both titles; the resolution is a new local write:");
    laptop
        .resolve_conflict(
            conflict.id,
            Resolution::Merge(vec![(
                "title".into(),
                Value::Text("Buy oat milk and eggs".into()),
            )]),
        )
        .await?;
    laptop.sync().await?;
    phone.sync().await?;
    print_tasks("phone", &p).await?;
    print_tasks("laptop", &l).await?;
    let (a, b, s) = (tasks(&p).await?, tasks(&l).await?, tasks(&server).await?);
    if a != s || b != s {
        return Err(Failure("the devices did not converge".into()));
    }
    println!(
        "\nconverged: phone, laptop and server hold the same rows; no conflicts left ({})",
        laptop.conflicts().await?.len()
    );
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

async fn sync_once(url: &str) -> Result<(), Failure> {
    let path = std::env::var("TIDEPOOL_OFFLINE").unwrap_or_else(|_| {
        std::env::temp_dir()
            .join("offline.db")
            .to_string_lossy()
            .into_owned()
    });
    let db = device(std::path::Path::new(&path), url)?;
    let report = db.sync().await?;
    println!(
        "pushed {} changes ({} conflicts), applied {}, position {}",
        report.changes_pushed, report.conflicts, report.changes_applied, report.position
    );
    Ok(())
}

#[tokio::main]
async fn main() -> ExitCode {
    let given = std::env::var("TIDEPOOL_URL").ok();
    let sync = std::env::args().nth(1).as_deref() == Some("sync");
    let mut embedded = None;
    let url = match given {
        Some(url) => url,
        None if sync => "http://127.0.0.1:8080".into(),
        None => {
            let dir = std::env::temp_dir()
                .join(format!("tidepool-offline-server-{}", std::process::id()));
            let mut config = tidepool_server::Config::new(dir.join("server.db"));
            config.listen_addr = "127.0.0.1:0".parse().expect("a loopback address");
            if let Err(e) = std::fs::create_dir_all(&dir) {
                eprintln!("error: cannot create {}: {e}", dir.display());
                return ExitCode::FAILURE;
            }
            match tidepool_server::serve(config).await {
                Ok(server) => {
                    let url = format!("http://{}", server.local_addr());
                    println!("reference server on {url} (in-process, temporary database)\n");
                    embedded = Some((server, dir));
                    url
                }
                Err(e) => {
                    eprintln!("error: the server did not start: {e}");
                    return ExitCode::FAILURE;
                }
            }
        }
    };
    let result = if sync {
        sync_once(&url).await
    } else {
        tour(&url).await
    };
    if let Some((_, dir)) = embedded {
        let _ = std::fs::remove_dir_all(dir);
    }
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure(e)) => {
            eprintln!("error {e}");
            ExitCode::FAILURE
        }
    }
}
