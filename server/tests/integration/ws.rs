//! Hrana over WebSocket under every subprotocol: requests, cursors, multiplexing, negotiation.

use tidepool_protocol::ws::{ClientMsg, HelloMsg, Response};
use tidepool_protocol::{CursorEntry, Stmt};
use tokio_tungstenite::tungstenite;

use crate::all_subprotocols;
use crate::support::*;

all_subprotocols!(
    every_request_type,
    stored_sql_is_connection_scoped,
    cursor_fetches_until_done,
    many_streams_multiplexed,
    requests_on_a_stream_run_in_order,
    hello_may_be_followed_by_requests_without_waiting,
);

async fn every_request_type(proto: &str) {
    let server = TestServer::start().await;
    let mut ws = server.ws(proto).await;
    assert!(matches!(
        ws.ok(wsreq::open(1)).await,
        Response::OpenStream(_)
    ));
    ws.ok(wsreq::exec_sql(
        1,
        "CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT NOT NULL)",
    ))
    .await;
    let r = ws
        .ok(wsreq::execute(
            1,
            stmt_args(
                "INSERT INTO t (v) VALUES (?), (?)",
                vec![text("a"), text("🌊")],
            ),
        ))
        .await;
    assert_eq!(ws_exec(&r).affected_row_count, 2);
    assert_eq!(ws_exec(&r).last_insert_rowid, Some(2));
    let r = ws
        .ok(wsreq::execute(
            1,
            stmt_named("SELECT v FROM t WHERE id = :id", &[("id", int(2))]),
        ))
        .await;
    assert_eq!(scalar(ws_exec(&r)), &text("🌊"));

    let r = ws
        .ok(wsreq::batch(
            1,
            transactional(&[
                "INSERT INTO t (v) VALUES ('b')",
                "INSERT INTO t (v) VALUES (NULL)",
            ]),
        ))
        .await;
    let b = ws_batch(&r);
    assert_eq!(
        step_error(b, 2).and_then(|e| e.extended_code.as_deref()),
        Some("SQLITE_CONSTRAINT_NOTNULL")
    );
    assert!(step_result(b, 3).is_none(), "COMMIT skipped");
    assert!(step_result(b, 4).is_some(), "ROLLBACK ran");

    assert!(matches!(
        ws.ok(wsreq::sequence(
            1,
            "INSERT INTO t (v) VALUES ('c'); INSERT INTO t (v) VALUES ('d')"
        ))
        .await,
        Response::Sequence(_)
    ));
    match ws
        .ok(wsreq::describe(1, "SELECT v FROM t WHERE id > ?"))
        .await
    {
        Response::Describe(d) => {
            assert_eq!(d.result.params.len(), 1);
            assert_eq!(d.result.cols[0].name, "v");
            assert!(d.result.is_readonly && !d.result.is_explain);
        }
        other => panic!("{other:?}"),
    }
    let r = ws.ok(wsreq::exec_sql(1, "SELECT count(*) FROM t")).await;
    assert_eq!(scalar(ws_exec(&r)), &int(4));

    let autocommit = |r: Response| match r {
        Response::GetAutocommit(a) => a.is_autocommit,
        other => panic!("{other:?}"),
    };
    assert!(autocommit(ws.ok(wsreq::autocommit(1)).await));
    ws.ok(wsreq::exec_sql(1, "BEGIN")).await;
    assert!(!autocommit(ws.ok(wsreq::autocommit(1)).await));
    ws.ok(wsreq::exec_sql(1, "DELETE FROM t")).await;

    // Closing the stream rolls its transaction back and frees the id.
    assert!(matches!(
        ws.ok(wsreq::close(1)).await,
        Response::CloseStream(_)
    ));
    assert_eq!(
        ws.err_code(wsreq::exec_sql(1, "SELECT 1")).await,
        "STREAM_NOT_FOUND"
    );
    ws.ok(wsreq::open(1)).await;
    assert!(autocommit(ws.ok(wsreq::autocommit(1)).await));
    let r = ws.ok(wsreq::exec_sql(1, "SELECT count(*) FROM t")).await;
    assert_eq!(scalar(ws_exec(&r)), &int(4));
    // Closing an id that is not open succeeds.
    ws.ok(wsreq::close(99)).await;
}

async fn stored_sql_is_connection_scoped(proto: &str) {
    let server = TestServer::start().await;
    let mut ws = server.ws(proto).await;
    ws.ok(wsreq::store_sql(7, "SELECT ? * 2")).await;
    ws.ok(wsreq::open(1)).await;
    ws.ok(wsreq::open(2)).await;
    for (stream, n) in [(1, 21), (2, 50)] {
        let r = ws
            .ok(wsreq::execute(
                stream,
                Stmt {
                    sql: None,
                    sql_id: Some(7),
                    args: vec![int(n)],
                    ..Default::default()
                },
            ))
            .await;
        assert_eq!(scalar(ws_exec(&r)), &int(n * 2));
    }
    assert_eq!(
        ws.err_code(wsreq::store_sql(7, "SELECT 1")).await,
        "SQL_EXISTS"
    );
    assert!(matches!(
        ws.ok(wsreq::close_sql(7)).await,
        Response::CloseSql(_)
    ));
    let code = ws
        .err_code(wsreq::execute(
            2,
            Stmt {
                sql: None,
                sql_id: Some(7),
                args: vec![int(1)],
                ..Default::default()
            },
        ))
        .await;
    assert_eq!(code, "SQL_NOT_FOUND");
    // Another connection has its own texts.
    let mut other = server.ws(proto).await;
    other.ok(wsreq::store_sql(7, "SELECT 'mine'")).await;
    other.ok(wsreq::open(1)).await;
    let r = other
        .ok(wsreq::execute(
            1,
            Stmt {
                sql: None,
                sql_id: Some(7),
                ..Default::default()
            },
        ))
        .await;
    assert_eq!(scalar(ws_exec(&r)), &text("mine"));
}

async fn cursor_fetches_until_done(proto: &str) {
    const N: i64 = 3000;
    let server = TestServer::start().await;
    let mut ws = server.ws(proto).await;
    ws.ok(wsreq::open(1)).await;
    let sql = format!(
        "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < {N}) SELECT x FROM c"
    );
    let b = batch(vec![
        step(&sql, None),
        step("SELEC", None),
        step("SELECT 'skipped'", Some(ok(1))),
        step("SELECT 'end'", None),
    ]);
    assert!(matches!(
        ws.ok(wsreq::open_cursor(1, 10, b)).await,
        Response::OpenCursor(_)
    ));
    // The stream is busy while its cursor is open; the cursor id is taken.
    assert_eq!(
        ws.err_code(wsreq::exec_sql(1, "SELECT 1")).await,
        "STREAM_BUSY"
    );
    assert_eq!(
        ws.err_code(wsreq::open_cursor(1, 10, batch(vec![]))).await,
        "CURSOR_EXISTS"
    );
    let mut entries = Vec::new();
    let mut fetches = 0;
    loop {
        let r = ws.ok(wsreq::fetch(10, 1000)).await;
        let Response::FetchCursor(f) = r else {
            panic!("{r:?}")
        };
        fetches += 1;
        assert!(f.entries.len() <= 1000);
        entries.extend(f.entries);
        if f.done {
            break;
        }
        assert!(fetches < 1000, "cursor never finishes");
    }
    assert!(fetches >= 4, "{N} rows need several fetches of 1000");
    assert!(matches!(&entries[0], CursorEntry::StepBegin(b) if b.step == 0));
    let rows: Vec<_> = entries
        .iter()
        .take_while(|e| !matches!(e, CursorEntry::StepEnd(_)))
        .filter_map(|e| match e {
            CursorEntry::Row { row } => Some(row.values[0].clone()),
            _ => None,
        })
        .collect();
    assert_eq!(rows.len() as i64, N);
    assert!(rows
        .iter()
        .enumerate()
        .all(|(i, v)| *v == int(i as i64 + 1)));
    let tail = &entries[N as usize + 1..];
    assert!(matches!(tail[0], CursorEntry::StepEnd(_)));
    assert!(matches!(&tail[1], CursorEntry::StepError(e) if e.step == 1));
    assert!(matches!(&tail[2], CursorEntry::StepBegin(b) if b.step == 3));
    assert!(matches!(&tail[3], CursorEntry::Row { row } if row.values == vec![text("end")]));
    assert!(matches!(tail[4], CursorEntry::StepEnd(_)));
    assert_eq!(tail.len(), 5);
    // After done, fetches return nothing and done.
    match ws.ok(wsreq::fetch(10, 5)).await {
        Response::FetchCursor(f) => assert!(f.done && f.entries.is_empty()),
        other => panic!("{other:?}"),
    }
    // Still busy until closed.
    assert_eq!(
        ws.err_code(wsreq::exec_sql(1, "SELECT 1")).await,
        "STREAM_BUSY"
    );
    assert!(matches!(
        ws.ok(wsreq::close_cursor(10)).await,
        Response::CloseCursor(_)
    ));
    let r = ws.ok(wsreq::exec_sql(1, "SELECT 2")).await;
    assert_eq!(scalar(ws_exec(&r)), &int(2));
    assert_eq!(ws.err_code(wsreq::fetch(10, 1)).await, "CURSOR_NOT_FOUND");

    // Closing a cursor early stops it, and the stream works again.
    ws.ok(wsreq::open_cursor(1, 11, batch(vec![step(&sql, None)])))
        .await;
    match ws.ok(wsreq::fetch(11, 3)).await {
        Response::FetchCursor(f) => {
            assert!(!f.done && !f.entries.is_empty() && f.entries.len() <= 3)
        }
        other => panic!("{other:?}"),
    }
    ws.ok(wsreq::close_cursor(11)).await;
    ws.ok(wsreq::exec_sql(1, "SELECT 3")).await;
    // close_stream closes a stream together with its cursor.
    ws.ok(wsreq::open_cursor(1, 12, batch(vec![step(&sql, None)])))
        .await;
    ws.ok(wsreq::close(1)).await;
    assert_eq!(ws.err_code(wsreq::fetch(12, 1)).await, "CURSOR_NOT_FOUND");
}

async fn many_streams_multiplexed(proto: &str) {
    const STREAMS: i32 = 50;
    const PER_STREAM: i32 = 20;
    let server = TestServer::start().await;
    let mut ws = server.ws(proto).await;
    let mut expected = Vec::new();
    // Everything is sent before any response is read.
    let mut opens = Vec::new();
    for s in 0..STREAMS {
        opens.push(ws.send_request(wsreq::open(s)).await);
    }
    for s in 0..STREAMS {
        for i in 0..PER_STREAM {
            let n = i64::from(s * 1000 + i);
            let id = ws
                .send_request(wsreq::execute(
                    s,
                    stmt_args("SELECT ?, ?", vec![int(n), int(s.into())]),
                ))
                .await;
            expected.push((id, n, s));
        }
    }
    for id in opens {
        assert!(matches!(ws.response(id).await, Ok(Response::OpenStream(_))));
    }
    // Read in reverse order of sending: the client matches by request id.
    for (id, n, s) in expected.into_iter().rev() {
        let r = ws.response(id).await.expect("execute succeeds");
        assert_eq!(ws_exec(&r).rows[0].values, vec![int(n), int(s.into())]);
    }
}

async fn requests_on_a_stream_run_in_order(proto: &str) {
    let server = TestServer::start().await;
    let mut ws = server.ws(proto).await;
    let mut ids = vec![ws.send_request(wsreq::open(5)).await];
    ids.push(
        ws.send_request(wsreq::exec_sql(5, "CREATE TABLE o (x)"))
            .await,
    );
    for i in 0..100 {
        ids.push(
            ws.send_request(wsreq::execute(
                5,
                stmt_args("INSERT INTO o VALUES (?)", vec![int(i)]),
            ))
            .await,
        );
    }
    let select = ws
        .send_request(wsreq::exec_sql(
            5,
            "SELECT count(*), group_concat(x) FROM o",
        ))
        .await;
    let close = ws.send_request(wsreq::close(5)).await;
    let after = ws.send_request(wsreq::exec_sql(5, "SELECT 1")).await;
    for id in ids {
        ws.response(id).await.expect("ok");
    }
    let r = ws.response(select).await.expect("select");
    let expected: Vec<String> = (0..100).map(|i| i.to_string()).collect();
    assert_eq!(
        ws_exec(&r).rows[0].values,
        vec![int(100), text(&expected.join(","))]
    );
    ws.response(close).await.expect("close");
    let e = ws.response(after).await.expect_err("stream closed before");
    assert_eq!(e.code.as_deref(), Some("STREAM_NOT_FOUND"));
}

async fn hello_may_be_followed_by_requests_without_waiting(proto: &str) {
    let server = TestServer::start().await;
    let (mut ws, negotiated) = Ws::connect(&server.ws_url(), &[proto])
        .await
        .expect("connect");
    assert_eq!(negotiated.as_deref(), Some(proto));
    ws.send(&ClientMsg::Hello(HelloMsg { jwt: None })).await;
    let open = ws.send_request(wsreq::open(0)).await;
    let exec = ws.send_request(wsreq::exec_sql(0, "SELECT 'quick'")).await;
    assert!(matches!(
        ws.recv().await,
        tidepool_protocol::ws::ServerMsg::HelloOk(_)
    ));
    ws.response(open).await.expect("open");
    let r = ws.response(exec).await.expect("exec");
    assert_eq!(scalar(ws_exec(&r)), &text("quick"));
    // Negative ids are fine too.
    ws.ok(wsreq::open(-3)).await;
    ws.ok(wsreq::exec_sql(-3, "SELECT 1")).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn negotiation_picks_the_newest_offered_version() {
    let server = TestServer::start().await;
    let url = server.ws_url();
    for (offer, chosen) in [
        (&["hrana2", "hrana3"][..], "hrana3"),
        (&["hrana3", "hrana1"][..], "hrana3"),
        (
            &["hrana1", "hrana3-protobuf", "hrana2"][..],
            "hrana3-protobuf",
        ),
        (&["hrana9", "hrana2"][..], "hrana2"),
        (&["hrana1"][..], "hrana1"),
    ] {
        let (mut ws, negotiated) = Ws::connect(&url, offer).await.expect("connect");
        assert_eq!(negotiated.as_deref(), Some(chosen), "{offer:?}");
        assert!(matches!(
            ws.hello(None).await,
            tidepool_protocol::ws::ServerMsg::HelloOk(_)
        ));
        ws.ok(wsreq::open(1)).await;
        ws.ok(wsreq::exec_sql(1, "SELECT 1")).await;
    }
    // No header at all: Hrana 1, with no subprotocol in the answer.
    let (mut ws, negotiated) = Ws::connect(&url, &[]).await.expect("connect");
    assert_eq!(negotiated, None);
    assert!(matches!(
        ws.hello(None).await,
        tidepool_protocol::ws::ServerMsg::HelloOk(_)
    ));
    ws.ok(wsreq::open(1)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn unknown_subprotocol_is_refused_with_400() {
    let server = TestServer::start().await;
    for offer in [&["hrana9"][..], &["HRANA3"][..], &["tidepool1"][..]] {
        match Ws::connect(&server.ws_url(), offer).await {
            Err(tungstenite::Error::Http(resp)) => {
                assert_eq!(resp.status().as_u16(), 400, "{offer:?}");
                let body = resp.body().as_deref().unwrap_or_default();
                let error: tidepool_protocol::Error =
                    serde_json::from_slice(body).expect("JSON error");
                assert_eq!(error.code.as_deref(), Some("PROTOCOL_ERROR"));
            }
            Err(other) => panic!("unexpected error: {other}"),
            Ok(_) => panic!("{offer:?} was accepted"),
        }
    }
    // The server still serves.
    server.ws("hrana3").await;
}
