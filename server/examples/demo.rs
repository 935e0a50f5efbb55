//! The demo: starts the reference server on a temporary database and drives it through a short
//! scripted session over HTTP (JSON and protobuf) and WebSocket, printing what happens.
//!
//! Run it with `cargo run -p tidepool-server --example demo`.

use std::time::Instant;

use futures_util::{SinkExt as _, StreamExt as _};
use tidepool_protocol::http::{
    CursorReqBody, CursorRespBody, ExecuteStreamReq, PipelineReqBody, PipelineRespBody,
    StreamRequest, StreamResponse, StreamResult,
};
use tidepool_protocol::ws::{
    ClientMsg, ExecuteReq, HelloMsg, OpenStreamReq, Request, RequestMsg, Response, ServerMsg,
};
use tidepool_protocol::{codec, Batch, BatchStep, CursorEntry, Encoding, Stmt, StmtResult, Value};
use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;
use tokio_tungstenite::tungstenite::Message;

type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

fn stmt(sql: &str, args: Vec<Value>) -> Stmt {
    Stmt {
        args,
        ..Stmt::new(sql)
    }
}

fn show(result: &StmtResult) {
    let names: Vec<_> = result
        .cols
        .iter()
        .map(|c| c.name.clone().unwrap_or_default())
        .collect();
    println!("    {}", names.join(" | "));
    for row in &result.rows {
        let cells: Vec<String> = row.values.iter().map(render).collect();
        println!("    {}", cells.join(" | "));
    }
}

fn render(v: &Value) -> String {
    match v {
        Value::Null => "NULL".into(),
        Value::Integer(i) => i.to_string(),
        Value::Float(f) => f.to_string(),
        Value::Text(s) => s.clone(),
        Value::Blob(b) => format!("<{} bytes>", b.len()),
    }
}

/// One HTTP pipeline request; returns the response body.
async fn pipeline(
    http: &reqwest::Client,
    url: &str,
    encoding: Encoding,
    body: &PipelineReqBody,
) -> Result<PipelineRespBody> {
    let path = match encoding {
        Encoding::Json => "v3/pipeline",
        Encoding::Protobuf => "v3-protobuf/pipeline",
    };
    let bytes = http
        .post(format!("{url}/{path}"))
        .header("content-type", encoding.content_type())
        .body(codec::encode(encoding, body))
        .send()
        .await?
        .error_for_status()?
        .bytes()
        .await?;
    Ok(codec::decode(encoding, &bytes)?)
}

fn execute(sql: &str, args: Vec<Value>) -> StreamRequest {
    StreamRequest::Execute(ExecuteStreamReq {
        stmt: stmt(sql, args),
    })
}

fn executed(result: &StreamResult) -> Result<&StmtResult> {
    match result {
        StreamResult::Ok {
            response: StreamResponse::Execute(r),
        } => Ok(&r.result),
        StreamResult::Error { error } => Err(format!("server error: {}", error.message).into()),
        other => Err(format!("unexpected result {other:?}").into()),
    }
}

#[tokio::main]
async fn main() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let mut config = tidepool_server::Config::new(dir.path().join("demo.db"));
    config.listen_addr = "127.0.0.1:0".parse()?;
    let server = tidepool_server::serve(config).await?;
    let url = server.url();
    println!(
        "tidepool-server listening on {url} (database in {})",
        dir.path().display()
    );
    let http = reqwest::Client::new();

    println!("\n1. HTTP + JSON: an interactive transaction across two requests, tied by a baton");
    let first = PipelineReqBody {
        baton: None,
        requests: vec![
            execute(
                "CREATE TABLE pools (id INTEGER PRIMARY KEY, name TEXT NOT NULL, depth REAL)",
                vec![],
            ),
            execute("BEGIN", vec![]),
            execute(
                "INSERT INTO pools (name, depth) VALUES (?, ?), (?, ?)",
                vec![
                    Value::Text("Rockpool".into()),
                    Value::Float(0.4),
                    Value::Text("Lagoon 🌊".into()),
                    Value::Float(3.5),
                ],
            ),
        ],
    };
    let resp = pipeline(&http, &url, Encoding::Json, &first).await?;
    println!(
        "    inserted {} rows; baton {:?}",
        executed(&resp.results[2])?.affected_row_count,
        resp.baton
    );
    let second = PipelineReqBody {
        baton: resp.baton,
        requests: vec![
            execute("COMMIT", vec![]),
            StreamRequest::Close(Default::default()),
        ],
    };
    let resp = pipeline(&http, &url, Encoding::Json, &second).await?;
    executed(&resp.results[0])?;
    println!("    committed; stream closed (baton {:?})", resp.baton);

    println!("\n2. HTTP + protobuf: a stateless query with named arguments");
    let mut query = stmt(
        "SELECT name, depth FROM pools WHERE depth > :min ORDER BY depth",
        vec![],
    );
    query.named_args.push(tidepool_protocol::NamedArg {
        name: "min".into(),
        value: Value::Float(0.1),
    });
    let body = PipelineReqBody {
        baton: None,
        requests: vec![
            StreamRequest::Execute(ExecuteStreamReq { stmt: query }),
            StreamRequest::Close(Default::default()),
        ],
    };
    let started = Instant::now();
    let resp = pipeline(&http, &url, Encoding::Protobuf, &body).await?;
    show(executed(&resp.results[0])?);
    println!("    ({:?} round trip)", started.elapsed());

    println!("\n3. HTTP cursor: rows streamed as JSON lines");
    let batch = Batch {
        steps: vec![BatchStep {
            condition: None,
            stmt: stmt("WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 5) SELECT i, i * i FROM n", vec![]),
        }],
        replication_index: None,
    };
    let text = http
        .post(format!("{url}/v3/cursor"))
        .header("content-type", "application/json")
        .body(codec::encode(
            Encoding::Json,
            &CursorReqBody { baton: None, batch },
        ))
        .send()
        .await?
        .text()
        .await?;
    let mut lines = text.lines();
    let head: CursorRespBody = serde_json::from_str(lines.next().unwrap_or("{}"))?;
    println!("    cursor opened (baton issued: {})", head.baton.is_some());
    for line in lines {
        if let CursorEntry::Row { row } = serde_json::from_str::<CursorEntry>(line)? {
            println!(
                "    row: {}",
                row.values.iter().map(render).collect::<Vec<_>>().join(", ")
            );
        }
    }

    println!("\n4. WebSocket (hrana3-protobuf): hello, open a stream, query");
    let mut request = format!("{}/", url.replace("http://", "ws://")).into_client_request()?;
    request
        .headers_mut()
        .insert("sec-websocket-protocol", "hrana3-protobuf".parse()?);
    let (mut socket, response) = tokio_tungstenite::connect_async(request).await?;
    println!(
        "    negotiated {:?}",
        response.headers().get("sec-websocket-protocol")
    );
    let send = |msg: ClientMsg| Message::Binary(codec::encode(Encoding::Protobuf, &msg).into());
    socket
        .send(send(ClientMsg::Hello(HelloMsg { jwt: None })))
        .await?;
    socket
        .send(send(ClientMsg::Request(RequestMsg {
            request_id: 1,
            request: Request::OpenStream(OpenStreamReq { stream_id: 1 }),
        })))
        .await?;
    let count = stmt(
        "SELECT count(*) AS pools, sqlite_version() AS sqlite FROM pools",
        vec![],
    );
    socket
        .send(send(ClientMsg::Request(RequestMsg {
            request_id: 2,
            request: Request::Execute(ExecuteReq {
                stream_id: 1,
                stmt: count,
            }),
        })))
        .await?;
    while let Some(frame) = socket.next().await {
        let Message::Binary(bytes) = frame? else {
            continue;
        };
        match codec::decode::<ServerMsg>(Encoding::Protobuf, &bytes)? {
            ServerMsg::HelloOk(_) => println!("    hello_ok"),
            ServerMsg::ResponseOk(ok) => match ok.response {
                Response::OpenStream(_) => println!("    stream 1 open"),
                Response::Execute(r) => {
                    show(&r.result);
                    break;
                }
                other => println!("    {other:?}"),
            },
            other => return Err(format!("unexpected {other:?}").into()),
        }
    }
    socket.close(None).await?;

    server.shutdown().await;
    println!("\nDone. Stock libSQL clients work too: point @libsql/client at {url}.");
    Ok(())
}
