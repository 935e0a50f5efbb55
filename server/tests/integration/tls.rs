//! TLS: the server speaks HTTPS/WSS with the certificate it is given (HTTP/2 by ALPN), and a
//! client that verifies certificates refuses one it does not trust.

use std::sync::Arc;

use futures_util::{SinkExt as _, StreamExt as _};
use tidepool_protocol::ws::{ClientMsg, HelloMsg, ServerMsg};
use tidepool_protocol::{codec, Encoding};
use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::Connector;

use crate::support::*;

struct TlsServer {
    server: TestServer,
    cert_pem: String,
}

async fn tls_server() -> TlsServer {
    let certified = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).expect("cert");
    let cert_pem = certified.cert.pem();
    let key_pem = certified.signing_key.serialize_pem();
    let dir = tempfile::tempdir().expect("tempdir");
    let (cert_file, key_file) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    std::fs::write(&cert_file, &cert_pem).expect("cert file");
    std::fs::write(&key_file, key_pem).expect("key file");
    let server = TestServer::start_with(false, |config| {
        config.tls_cert = Some(cert_file);
        config.tls_key = Some(key_file);
    })
    .await;
    // The files are read at start-up; the directory can go.
    drop(dir);
    TlsServer { server, cert_pem }
}

fn client_config(trusted: Option<&str>) -> rustls::ClientConfig {
    let mut roots = rustls::RootCertStore::empty();
    match trusted {
        Some(pem) => {
            for cert in rustls_pemfile::certs(&mut pem.as_bytes()) {
                roots.add(cert.expect("pem")).expect("root");
            }
        }
        None => roots.extend(unrelated_ca()),
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_root_certificates(roots)
        .with_no_client_auth()
}

/// A trust store holding only a CA the server's certificate does not chain to.
fn unrelated_ca() -> Vec<rustls::pki_types::TrustAnchor<'static>> {
    let other = rcgen::generate_simple_self_signed(vec!["example.com".to_owned()]).expect("cert");
    let der = other.cert.der().clone();
    let anchor = webpki_anchor(&der);
    vec![anchor]
}

fn webpki_anchor(
    der: &rustls::pki_types::CertificateDer<'_>,
) -> rustls::pki_types::TrustAnchor<'static> {
    let mut store = rustls::RootCertStore::empty();
    store.add(der.clone().into_owned()).expect("anchor");
    store.roots.into_iter().next().expect("one root")
}

fn wss_url(server: &TestServer) -> String {
    format!(
        "wss://localhost:{}/",
        server.url.rsplit(':').next().expect("port")
    )
}

#[tokio::test]
async fn wss_works_with_a_trusted_certificate() {
    let tls = tls_server().await;
    assert!(tls.server.url.starts_with("https://"), "{}", tls.server.url);
    let mut request = wss_url(&tls.server).into_client_request().expect("request");
    request.headers_mut().insert(
        "sec-websocket-protocol",
        "hrana3-protobuf".parse().expect("header"),
    );
    let connector = Connector::Rustls(Arc::new(client_config(Some(&tls.cert_pem))));
    let (mut socket, _) =
        tokio_tungstenite::connect_async_tls_with_config(request, None, false, Some(connector))
            .await
            .expect("TLS handshake with a trusted certificate");
    let hello = ClientMsg::Hello(HelloMsg { jwt: None });
    socket
        .send(Message::Binary(
            codec::encode(Encoding::Protobuf, &hello).into(),
        ))
        .await
        .expect("send");
    let Some(Ok(Message::Binary(reply))) = socket.next().await else {
        panic!("no reply")
    };
    let reply: ServerMsg = codec::decode(Encoding::Protobuf, &reply).expect("decode");
    assert!(matches!(reply, ServerMsg::HelloOk(_)), "{reply:?}");
}

#[tokio::test]
async fn an_untrusted_certificate_is_refused() {
    let tls = tls_server().await;
    let request = wss_url(&tls.server).into_client_request().expect("request");
    let connector = Connector::Rustls(Arc::new(client_config(None)));
    let refused =
        tokio_tungstenite::connect_async_tls_with_config(request, None, false, Some(connector))
            .await;
    let error = refused.expect_err("a certificate from an unknown issuer must be refused");
    assert!(error.to_string().contains("certificate"), "{error}");
}

#[tokio::test]
async fn plain_connections_to_a_tls_server_fail() {
    let tls = tls_server().await;
    let url = wss_url(&tls.server).replacen("wss://", "ws://", 1);
    assert!(tokio_tungstenite::connect_async(url).await.is_err());
}

#[tokio::test]
async fn alpn_offers_http2() {
    let tls = tls_server().await;
    let mut config = client_config(Some(&tls.cert_pem));
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let port: u16 = tls
        .server
        .url
        .rsplit(':')
        .next()
        .expect("port")
        .parse()
        .expect("port");
    let tcp = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .expect("tcp");
    let name = rustls::pki_types::ServerName::try_from("localhost").expect("name");
    let stream = connector.connect(name, tcp).await.expect("handshake");
    assert_eq!(stream.get_ref().1.alpn_protocol(), Some(&b"h2"[..]));
}
