//! The stable driver: every target runs its seeds (from `protocol/vectors/`), its kept crash
//! inputs (`regressions/<target>/`) and then mutants of them from a fixed-seed mutator, for
//! `FUZZ_SMOKE_ITERS` iterations (default 2,000) or `FUZZ_SMOKE_SECS` seconds (default 10),
//! whichever ends first. No nightly, no sanitizers, no coverage feedback: it catches what the
//! seeds' neighbourhood holds and keeps the targets building and passing on every CI run, while
//! libFuzzer (`cargo +nightly fuzz run <target>`) does the searching.
//!
//! A failing input is written to `$CARGO_TARGET_TMPDIR/fuzz-smoke/<target>-<iteration>` and its
//! path printed: copy it to `regressions/<target>/` once fixed.

use std::panic::{self, AssertUnwindSafe};
use std::time::{Duration, Instant};

use tidepool_fuzz::mutate::{mutate, Rng};
use tidepool_fuzz::{seeds, TARGETS};

const MAX_LEN: usize = 4096;

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn smoke(name: &str) {
    let target = TARGETS
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, f)| *f)
        .expect("target exists");
    let iters = env_or("FUZZ_SMOKE_ITERS", 2_000);
    let deadline = Instant::now() + Duration::from_secs(env_or("FUZZ_SMOKE_SECS", 10));

    let mut inputs = seeds::for_target(name);
    assert!(!inputs.is_empty(), "{name}: no seeds");
    let seed_count = inputs.len();
    if let Ok(dir) = std::fs::read_dir(seeds::regressions_dir(name)) {
        let mut kept: Vec<_> = dir.filter_map(|e| e.ok().map(|e| e.path())).collect();
        kept.sort();
        inputs.extend(kept.iter().filter_map(|p| std::fs::read(p).ok()));
    }
    for (i, input) in inputs.iter().enumerate() {
        run_one(name, target, input, &format!("input{i}"));
    }

    let mut rng = Rng::new(0x7469_6465_706f_6f6c ^ name.len() as u64);
    let mut done = 0;
    while done < iters && Instant::now() < deadline {
        let mut input = inputs[rng.below(inputs.len())].clone();
        let other = &inputs[rng.below(inputs.len())];
        mutate(&mut rng, &mut input, other, MAX_LEN);
        run_one(name, target, &input, &format!("iter{done}"));
        done += 1;
    }
    println!(
        "{name}: {seed_count} seeds, {} kept inputs, {done} mutants",
        inputs.len() - seed_count
    );
}

fn run_one(name: &str, target: fn(&[u8]), input: &[u8], label: &str) {
    if panic::catch_unwind(AssertUnwindSafe(|| target(input))).is_err() {
        let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("fuzz-smoke");
        let _ = std::fs::create_dir_all(&dir);
        let path = dir.join(format!("{name}-{label}"));
        let _ = std::fs::write(&path, input);
        panic!("{name} failed on {label}; input kept at {}", path.display());
    }
}

macro_rules! smoke_tests {
    ($($name:ident),* $(,)?) => {
        $(#[test] fn $name() { smoke(stringify!($name)); })*

        #[test]
        fn every_target_has_a_smoke_test() {
            let names = [$(stringify!($name)),*];
            for (name, _) in TARGETS {
                assert!(names.contains(name), "{name} has no smoke test");
            }
        }
    };
}

smoke_tests!(
    ws_client_msg,
    ws_server_msg,
    pipeline_req,
    pipeline_resp,
    cursor_req,
    cursor_stream,
    baton,
    token,
    http_pipeline,
    http_cursor,
    ws_session,
);

/// The `ws_session` target's invariants are not vacuous: its scripted seed conversation is
/// answered in full, without a close, by the harness it drives.
#[test]
fn ws_session_seed_conversation_is_answered() {
    use axum::extract::ws::Message;
    use tidepool_protocol::ws::ServerMsg;

    let seed = seeds::for_target("ws_session")
        .into_iter()
        .find(|s| s[0] == 3 && s.len() > 200)
        .expect("the protobuf conversation seed");
    let mut messages = Vec::new();
    let mut rest = &seed[1..];
    while rest.len() >= 2 {
        let len = usize::from(u16::from_le_bytes([rest[0], rest[1]]));
        messages.push(Message::Binary(rest[2..2 + len].to_vec().into()));
        rest = &rest[2 + len..];
    }
    let asked = messages.len() - 1;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let dir = tempfile::tempdir().expect("tempdir");
        let config = tidepool_server::Config::new(dir.path().join("t.db"));
        let harness = tidepool_server::WsHarness::new(config).expect("harness");
        let sent = harness
            .session(Some("hrana3-protobuf"), messages)
            .await
            .expect("subprotocol");
        let mut ok = 0;
        for message in &sent {
            let Message::Binary(bytes) = message else {
                panic!("unexpected frame {message:?}");
            };
            let msg: ServerMsg =
                tidepool_protocol::codec::decode(tidepool_protocol::Encoding::Protobuf, bytes)
                    .expect("decodes");
            match msg {
                ServerMsg::ResponseOk(_) => ok += 1,
                ServerMsg::HelloOk(_) => {}
                other => panic!("unexpected {other:?}"),
            }
        }
        assert_eq!(ok, asked, "every request of the conversation succeeded");
        assert_eq!(harness.stats().ws_streams, 0);
    });
}
