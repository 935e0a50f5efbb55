//! `POST /v3/cursor` (JSON lines) and `/v3-protobuf/cursor` (length-delimited protobuf).

use tidepool_protocol::http::{
    CursorReqBody, GetAutocommitStreamReq, StreamRequest, StreamResponse,
};
use tidepool_protocol::{codec, BatchCond, CursorEntry, Encoding, Value};

use crate::both_encodings;
use crate::support::*;

both_encodings!(
    cursor_entries_for_each_step,
    cursor_streams_100k_rows,
    cursor_baton_continues_the_stream,
);

async fn cursor_entries_for_each_step(enc: Encoding) {
    let server = TestServer::start().await;
    let http = server.http(enc);
    let mut s = http.stream();
    s.exec_sql("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)")
        .await;
    s.exec_sql("INSERT INTO t (v) VALUES ('a'), ('b'), ('c')")
        .await;
    let baton = s.baton.take();

    let steps = vec![
        step("SELECT id, v FROM t ORDER BY id", None),                 // 0: 3 rows
        step("SELEC nonsense", None),                                  // 1: prepare error
        step("SELECT 'skipped'", Some(ok(1))),                         // 2: skipped
        step("INSERT INTO t (v) VALUES ('d')", Some(BatchCond::Error { step: 1 })), // 3
        // 4: fails after two rows: abs() of the smallest integer overflows.
        step(
            "SELECT CASE WHEN id < 3 THEN id ELSE abs(-9223372036854775807 - 1) END FROM t ORDER BY id",
            None,
        ),
        step("SELECT 'last'", None), // 5
    ];
    let (head, entries) = http.cursor(baton, batch(steps)).await;
    assert!(head.baton.is_some());
    assert_eq!(head.base_url, None);

    let mut it = entries.into_iter();
    let mut next = || it.next().expect("another entry");
    match next() {
        CursorEntry::StepBegin(b) => {
            assert_eq!(b.step, 0);
            let names: Vec<_> = b
                .cols
                .iter()
                .map(|c| c.name.clone().unwrap_or_default())
                .collect();
            assert_eq!(names, ["id", "v"]);
            assert_eq!(b.cols[1].decltype.as_deref(), Some("TEXT"));
        }
        other => panic!("{other:?}"),
    }
    for (id, v) in [(1, "a"), (2, "b"), (3, "c")] {
        match next() {
            CursorEntry::Row { row } => assert_eq!(row.values, vec![int(id), text(v)]),
            other => panic!("{other:?}"),
        }
    }
    assert!(matches!(next(), CursorEntry::StepEnd(e) if e.affected_row_count == 0));
    match next() {
        CursorEntry::StepError(e) => {
            assert_eq!(e.step, 1);
            assert_eq!(e.error.code.as_deref(), Some("SQLITE_ERROR"));
        }
        other => panic!("{other:?}"),
    }
    // Step 2 was skipped: nothing for it.
    assert!(matches!(next(), CursorEntry::StepBegin(b) if b.step == 3 && b.cols.is_empty()));
    match next() {
        CursorEntry::StepEnd(e) => {
            assert_eq!(e.affected_row_count, 1);
            assert_eq!(e.last_insert_rowid, Some(4));
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(next(), CursorEntry::StepBegin(b) if b.step == 4));
    for id in [1, 2] {
        assert!(matches!(next(), CursorEntry::Row { row } if row.values == vec![int(id)]));
    }
    match next() {
        CursorEntry::StepError(e) => {
            assert_eq!(e.step, 4);
            assert_eq!(e.error.code.as_deref(), Some("SQLITE_ERROR"));
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(next(), CursorEntry::StepBegin(b) if b.step == 5));
    assert!(matches!(next(), CursorEntry::Row { row } if row.values == vec![text("last")]));
    assert!(matches!(next(), CursorEntry::StepEnd(_)));
    assert!(it.next().is_none(), "nothing after the last step");
}

async fn cursor_streams_100k_rows(enc: Encoding) {
    const N: i64 = 100_000;
    let server = TestServer::start().await;
    let http = server.http(enc);
    let sql = format!(
        "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < {N}) \
         SELECT x, 'row ' || x FROM c"
    );
    let body = codec::encode(
        enc,
        &CursorReqBody {
            baton: None,
            batch: batch(vec![step(&sql, None)]),
        },
    );
    let resp = http.post_raw(http.cursor_path(), body).await;
    assert_eq!(resp.status().as_u16(), 200);
    assert_eq!(
        resp.headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok()),
        Some(enc.content_type())
    );
    let mut reader = CursorReader::new(enc, resp);
    let head = reader.head().await;
    assert!(head.baton.is_some());
    assert!(matches!(reader.next().await, Some(CursorEntry::StepBegin(b)) if b.step == 0));
    let mut count = 0i64;
    let end = loop {
        match reader.next().await.expect("entry") {
            CursorEntry::Row { row } => {
                count += 1;
                assert_eq!(row.values[0], Value::Integer(count));
                if count == N {
                    assert_eq!(row.values[1], text(&format!("row {N}")));
                }
            }
            other => break other,
        }
    };
    assert!(matches!(end, CursorEntry::StepEnd(_)), "{end:?}");
    assert_eq!(count, N);
    assert!(reader.next().await.is_none());
}

async fn cursor_baton_continues_the_stream(enc: Encoding) {
    let server = TestServer::start().await;
    let http = server.http(enc);
    // A pipeline's baton opens the cursor, and the cursor's baton continues the stream.
    let mut s = http.stream();
    s.exec_sql("CREATE TABLE t (x)").await;
    let (head, entries) = http
        .cursor(
            s.baton.take(),
            batch(vec![
                step("BEGIN", None),
                step("INSERT INTO t VALUES (1)", Some(ok(0))),
            ]),
        )
        .await;
    assert!(entries
        .iter()
        .all(|e| !matches!(e, CursorEntry::StepError(_) | CursorEntry::Error { .. })));
    assert_eq!(entries.len(), 4);
    let baton = head.baton.expect("cursor baton");

    // Another stream does not see the uncommitted row.
    let mut other = http.stream();
    assert_eq!(
        scalar(&other.exec_sql("SELECT count(*) FROM t").await),
        &int(0)
    );

    let resp = http
        .pipeline(
            Some(baton.clone()),
            vec![
                StreamRequest::GetAutocommit(GetAutocommitStreamReq {}),
                execute("SELECT count(*) FROM t"),
                execute("COMMIT"),
            ],
        )
        .await;
    assert!(matches!(
        ok_response(&resp.results[0]),
        StreamResponse::GetAutocommit(a) if !a.is_autocommit
    ));
    assert_eq!(scalar(exec_result(&resp.results[1])), &int(1));
    exec_result(&resp.results[2]);
    assert_eq!(
        scalar(&other.exec_sql("SELECT count(*) FROM t").await),
        &int(1)
    );

    // The cursor's baton was used up by that pipeline.
    let (status, error) = http.pipeline_refused(Some(baton), vec![]).await;
    assert_eq!(status, 400);
    assert_eq!(error.code.as_deref(), Some("BATON_REUSED"));

    // A cursor after a cursor on the same stream.
    let (head, _) = http
        .cursor(resp.baton, batch(vec![step("SELECT 1", None)]))
        .await;
    let (_, entries) = http
        .cursor(
            head.baton,
            batch(vec![step("SELECT count(*) FROM t", None)]),
        )
        .await;
    assert!(entries
        .iter()
        .any(|e| matches!(e, CursorEntry::Row { row } if row.values == vec![int(1)])));
}

both_encodings!(cursor_stream_is_busy_until_its_body_ends);

async fn cursor_stream_is_busy_until_its_body_ends(enc: Encoding) {
    let server = TestServer::start().await;
    let http = server.http(enc);
    // Far more output than the socket buffers hold, so the server is still writing.
    let sql = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 1000000) \
               SELECT x, printf('%0100d', x) FROM c";
    let body = codec::encode(
        enc,
        &CursorReqBody {
            baton: None,
            batch: batch(vec![step(sql, None)]),
        },
    );
    let resp = http.post_raw(http.cursor_path(), body).await;
    let mut reader = CursorReader::new(enc, resp);
    let baton = reader.head().await.baton.expect("baton");
    assert!(matches!(
        reader.next().await,
        Some(CursorEntry::StepBegin(_))
    ));

    let (status, error) = http
        .pipeline_refused(Some(baton.clone()), vec![execute("SELECT 1")])
        .await;
    assert_eq!(
        (status, error.code.as_deref()),
        (400, Some("STREAM_BUSY")),
        "{error:?}"
    );

    // Abandoning the body frees the stream, and the baton is still good.
    drop(reader);
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        let resp = http
            .pipeline_at(
                http.pipeline_path(),
                Some(baton.clone()),
                vec![execute("SELECT 7")],
            )
            .await;
        if resp.status().as_u16() == 200 {
            let body = decode_pipeline(enc, resp).await;
            assert_eq!(scalar(exec_result(&body.results[0])), &int(7));
            break;
        }
        let (_, error) = http_error(resp).await;
        assert_eq!(error.code.as_deref(), Some("STREAM_BUSY"));
        assert!(
            tokio::time::Instant::now() < deadline,
            "the stream stays busy"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}
