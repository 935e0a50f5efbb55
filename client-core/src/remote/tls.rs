//! TLS settings for remote connections: rustls, certificates always verified, against the
//! bundled webpki roots, the platform's roots, or a custom CA.

use std::path::PathBuf;
use std::sync::Arc;

use crate::error::{code, Error, Result};

/// Which certificate authorities a TLS connection trusts.
#[derive(Clone, Debug, Default)]
pub enum RootCerts {
    /// Mozilla's roots, bundled (webpki-roots). The default: works the same everywhere.
    #[default]
    Webpki,
    /// The operating system's trust store.
    Native,
    /// Only these PEM certificates (a private CA, a self-signed test server).
    CustomPem(Vec<u8>),
    /// Only the PEM certificates in this file.
    CustomPemFile(PathBuf),
}

/// Builds the rustls client configuration. It names no ALPN protocols: the HTTP connector
/// adds `h2` and `http/1.1` itself, and WebSocket needs none.
pub fn client_config(roots: &RootCerts) -> Result<Arc<rustls::ClientConfig>> {
    let mut store = rustls::RootCertStore::empty();
    match roots {
        RootCerts::Webpki => store.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
        RootCerts::Native => {
            let found = rustls_native_certs::load_native_certs();
            for cert in found.certs {
                // A platform certificate rustls cannot parse is skipped, as browsers do.
                let _ = store.add(cert);
            }
            if store.is_empty() {
                return Err(config_error(
                    "no usable certificates in the platform trust store",
                ));
            }
        }
        RootCerts::CustomPem(pem) => add_pem(&mut store, pem)?,
        RootCerts::CustomPemFile(path) => {
            let pem = std::fs::read(path).map_err(|e| {
                config_error(format!("reading CA certificates {}: {e}", path.display()))
            })?;
            add_pem(&mut store, &pem)?;
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| config_error(format!("TLS setup failed: {e}")))?
        .with_root_certificates(store)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

fn add_pem(store: &mut rustls::RootCertStore, pem: &[u8]) -> Result<()> {
    let certs = rustls_pemfile::certs(&mut &pem[..])
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|e| config_error(format!("invalid PEM CA certificate: {e}")))?;
    if certs.is_empty() {
        return Err(config_error("no certificate in the custom CA PEM"));
    }
    for cert in certs {
        store
            .add(cert)
            .map_err(|e| config_error(format!("unusable CA certificate: {e}")))?;
    }
    Ok(())
}

fn config_error(message: impl Into<String>) -> Error {
    Error::usage(code::INVALID_CONFIG, message)
}
