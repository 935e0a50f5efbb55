//! Snapshots of the JSON form of each top-level message type, so that any change to what goes on
//! the wire shows up as a reviewable diff. The text is what `serde_json` writes on the wire,
//! pretty-printed (same property order, same number formatting).
//!
//! After an intended change: `INSTA_UPDATE=always cargo test -p tidepool-protocol --test
//! snapshots`, then review the `.snap` diffs.

use serde::Serialize;
use tidepool_protocol::http::{
    BatchStreamReq, BatchStreamResp, CloseStreamReq, CursorReqBody, CursorRespBody,
    ExecuteStreamReq, ExecuteStreamResp, PipelineReqBody, PipelineRespBody, StreamRequest,
    StreamResponse, StreamResult,
};
use tidepool_protocol::ws::{
    BatchReq, ClientMsg, ExecuteResp, FetchCursorResp, HelloErrorMsg, HelloMsg, HelloOkMsg,
    RequestMsg, Response, ResponseErrorMsg, ResponseOkMsg, ServerMsg,
};
use tidepool_protocol::{
    Batch, BatchCond, BatchResult, BatchStep, Col, CursorEntry, DescribeCol, DescribeParam,
    DescribeResult, Error, NamedArg, Row, StepBeginEntry, StepEndEntry, StepErrorEntry, Stmt,
    StmtResult, Value,
};

fn json<T: Serialize>(msg: &T) -> String {
    serde_json::to_string_pretty(msg).expect("wire types always serialize")
}

fn values() -> Vec<Value> {
    vec![
        Value::Null,
        Value::Integer(i64::MIN),
        Value::Integer(i64::MAX),
        Value::Float(1.5),
        Value::Float(-0.0),
        Value::Float(f64::NAN),
        Value::Float(f64::INFINITY),
        Value::Float(f64::NEG_INFINITY),
        Value::Text("a\0b 🌊".into()),
        Value::Blob(vec![0, 1, 2, 0xfb, 0xff]),
    ]
}

fn stmt() -> Stmt {
    Stmt {
        sql: Some("INSERT INTO t (a, b) VALUES (?, :b)".into()),
        sql_id: None,
        args: vec![Value::Integer(1)],
        named_args: vec![NamedArg {
            name: ":b".into(),
            value: Value::Text("x".into()),
        }],
        want_rows: Some(false),
        replication_index: None,
    }
}

fn stmt_result() -> StmtResult {
    StmtResult {
        cols: vec![
            Col {
                name: Some("id".into()),
                decltype: Some("INTEGER".into()),
            },
            Col {
                name: Some("v".into()),
                decltype: None,
            },
        ],
        rows: vec![
            Row {
                values: vec![Value::Integer(1), Value::Text("a".into())],
            },
            Row {
                values: vec![Value::Integer(2), Value::Null],
            },
        ],
        affected_row_count: 0,
        last_insert_rowid: None,
        replication_index: None,
        rows_read: 2,
        rows_written: 0,
        query_duration_ms: 0.125,
    }
}

fn insert_result() -> StmtResult {
    StmtResult {
        affected_row_count: 1,
        last_insert_rowid: Some(7),
        rows_written: 1,
        ..StmtResult::default()
    }
}

fn constraint_error() -> Error {
    Error {
        message: "UNIQUE constraint failed: t.a".into(),
        code: Some("SQLITE_CONSTRAINT".into()),
        extended_code: Some("SQLITE_CONSTRAINT_UNIQUE".into()),
    }
}

/// BEGIN; INSERT if ok(0); COMMIT if ok(1); ROLLBACK if not ok(2) — with every condition kind.
fn batch() -> Batch {
    let step = |sql: &str, condition| BatchStep {
        condition,
        stmt: Stmt::new(sql),
    };
    Batch {
        steps: vec![
            step("BEGIN", None),
            BatchStep {
                condition: Some(BatchCond::Ok { step: 0 }),
                stmt: stmt(),
            },
            step(
                "COMMIT",
                Some(BatchCond::And {
                    conds: vec![
                        BatchCond::Ok { step: 1 },
                        BatchCond::Or {
                            conds: vec![
                                BatchCond::IsAutocommit {},
                                BatchCond::Not {
                                    cond: Box::new(BatchCond::Error { step: 0 }),
                                },
                            ],
                        },
                    ],
                }),
            ),
            step(
                "ROLLBACK",
                Some(BatchCond::Not {
                    cond: Box::new(BatchCond::Ok { step: 2 }),
                }),
            ),
        ],
        replication_index: None,
    }
}

/// Step 0 ok, step 1 ok, step 2 failed, step 3 skipped.
fn batch_result() -> BatchResult {
    BatchResult {
        step_results: vec![
            Some(StmtResult::default()),
            Some(insert_result()),
            None,
            None,
        ],
        step_errors: vec![None, None, Some(constraint_error()), None],
        replication_index: None,
    }
}

fn cursor_entries() -> Vec<CursorEntry> {
    vec![
        CursorEntry::StepBegin(StepBeginEntry {
            step: 0,
            cols: vec![Col {
                name: Some("id".into()),
                decltype: Some("INTEGER".into()),
            }],
        }),
        CursorEntry::Row {
            row: Row {
                values: vec![Value::Integer(1)],
            },
        },
        CursorEntry::StepEnd(StepEndEntry {
            affected_row_count: 0,
            last_insert_rowid: None,
        }),
        CursorEntry::StepError(StepErrorEntry {
            step: 1,
            error: constraint_error(),
        }),
        CursorEntry::Error {
            error: Error::new("SQLITE_INTERRUPT", "interrupted"),
        },
    ]
}

#[test]
fn value() {
    let msg = values();
    insta::assert_snapshot!(json(&msg));
}

#[test]
fn error() {
    let msg = constraint_error();
    insta::assert_snapshot!(json(&msg));
}

#[test]
fn describe_result() {
    let msg = DescribeResult {
        params: vec![
            DescribeParam {
                name: Some(":a".into()),
            },
            DescribeParam { name: None },
        ],
        cols: vec![DescribeCol {
            name: "n".into(),
            decltype: None,
        }],
        is_explain: false,
        is_readonly: true,
    };
    insta::assert_snapshot!(json(&msg));
}

#[test]
fn cursor_entry() {
    let msg = cursor_entries();
    insta::assert_snapshot!(json(&msg));
}

#[test]
fn ws_client_msg_hello() {
    let msg = ClientMsg::Hello(HelloMsg {
        jwt: Some("eyJ.e30.c2ln".into()),
    });
    insta::assert_snapshot!(json(&msg));
}

#[test]
fn ws_client_msg_request() {
    let msg = ClientMsg::Request(RequestMsg {
        request_id: 3,
        request: tidepool_protocol::ws::Request::Batch(BatchReq {
            stream_id: 1,
            batch: batch(),
        }),
    });
    insta::assert_snapshot!(json(&msg));
}

#[test]
fn ws_server_msg_hello_ok() {
    let msg = ServerMsg::HelloOk(HelloOkMsg {});
    insta::assert_snapshot!(json(&msg));
}

#[test]
fn ws_server_msg_hello_error() {
    let msg = ServerMsg::HelloError(HelloErrorMsg {
        error: Error::new("AUTH_EXPIRED", "the JWT has expired"),
    });
    insta::assert_snapshot!(json(&msg));
}

#[test]
fn ws_server_msg_response_ok() {
    let msg = ServerMsg::ResponseOk(ResponseOkMsg {
        request_id: 4,
        response: Response::Execute(ExecuteResp {
            result: stmt_result(),
        }),
    });
    insta::assert_snapshot!(json(&msg));
}

#[test]
fn ws_server_msg_response_ok_fetch_cursor() {
    let msg = ServerMsg::ResponseOk(ResponseOkMsg {
        request_id: 5,
        response: Response::FetchCursor(FetchCursorResp {
            entries: cursor_entries(),
            done: true,
        }),
    });
    insta::assert_snapshot!(json(&msg));
}

#[test]
fn ws_server_msg_response_error() {
    let msg = ServerMsg::ResponseError(ResponseErrorMsg {
        request_id: 6,
        error: Error::new("STREAM_NOT_FOUND", "stream 9 is not open"),
    });
    insta::assert_snapshot!(json(&msg));
}

#[test]
fn http_pipeline_req_body() {
    let msg = PipelineReqBody {
        baton: None,
        requests: vec![
            StreamRequest::Execute(ExecuteStreamReq { stmt: stmt() }),
            StreamRequest::Batch(BatchStreamReq { batch: batch() }),
            StreamRequest::Close(CloseStreamReq {}),
        ],
    };
    insta::assert_snapshot!(json(&msg));
}

#[test]
fn http_pipeline_resp_body() {
    let msg = PipelineRespBody {
        baton: Some("b4t0n".into()),
        base_url: Some("https://db-2.example.com".into()),
        results: vec![
            StreamResult::Ok {
                response: StreamResponse::Execute(ExecuteStreamResp {
                    result: insert_result(),
                }),
            },
            StreamResult::Ok {
                response: StreamResponse::Batch(BatchStreamResp {
                    result: batch_result(),
                }),
            },
            StreamResult::Error {
                error: Error::new("SQLITE_ERROR", "no such table: u"),
            },
        ],
    };
    insta::assert_snapshot!(json(&msg));
}

#[test]
fn http_cursor_req_body() {
    let msg = CursorReqBody {
        baton: Some("b4t0n".into()),
        batch: batch(),
    };
    insta::assert_snapshot!(json(&msg));
}

#[test]
fn http_cursor_resp_body() {
    let msg = CursorRespBody {
        baton: Some("n3xt".into()),
        base_url: None,
    };
    insta::assert_snapshot!(json(&msg));
}
