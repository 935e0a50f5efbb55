//! TLS from the client's side: certificates are verified by default, so a server whose
//! certificate the client does not trust is refused, and trusting its CA (`custom_ca_pem`)
//! makes HTTPS and WSS work.

use tidepool::error::code;

use crate::support::TestServer;

/// A TLS server for `localhost` with a fresh self-signed certificate; returns it and the PEM.
async fn tls_server() -> (TestServer, String) {
    let certified = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).expect("cert");
    let cert_pem = certified.cert.pem();
    let dir = tempfile::tempdir().expect("tempdir");
    let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    std::fs::write(&cert, &cert_pem).expect("cert file");
    std::fs::write(&key, certified.signing_key.serialize_pem()).expect("key file");
    let server = TestServer::start_with(|config| {
        config.tls_cert = Some(cert);
        config.tls_key = Some(key);
    })
    .await;
    (server, cert_pem)
}

fn url(server: &TestServer, scheme: &str) -> String {
    format!("{scheme}://localhost:{}", server.addr().port())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trusted_certificates_work_over_https_and_wss() {
    let (server, cert_pem) = tls_server().await;
    for scheme in ["https", "wss"] {
        let db = tidepool::Builder::new(url(&server, scheme))
            .custom_ca_pem(cert_pem.clone())
            .build()
            .expect("build");
        let conn = db.connect();
        let row = conn
            .query("SELECT 6 * 7", ())
            .await
            .expect("query")
            .next()
            .await;
        let answer: i64 = row.expect("next").expect("row").get(0).expect("value");
        assert_eq!(answer, 42, "{scheme}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn untrusted_certificates_are_refused_by_default() {
    let (server, _) = tls_server().await;
    for scheme in ["https", "wss"] {
        let db = tidepool::Builder::new(url(&server, scheme))
            .max_attempts(1)
            .build()
            .expect("build");
        let e = db
            .connect()
            .execute("SELECT 1", ())
            .await
            .expect_err("untrusted");
        assert_eq!(e.code(), code::CONNECT_FAILED, "{scheme}: {e:?}");
        let mut chain = format!("{e}");
        let mut source = std::error::Error::source(&e);
        while let Some(s) = source {
            chain.push_str(&format!(" / {s}"));
            source = s.source();
        }
        assert!(
            chain.to_lowercase().contains("certificate"),
            "{scheme}: {chain}"
        );
    }
}
