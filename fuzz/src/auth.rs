//! Batons and tokens: the two credentials a peer presents.

use std::sync::OnceLock;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use ed25519_dalek::Signer as _;
use tidepool_server::http::baton::BatonKey;
use tidepool_server::Auth;

/// A fixed "now" for token expiry, so a run does not depend on the clock.
const NOW: u64 = 1_700_000_000;

/// `BatonKey::check` on the input as text, and on an issued baton with the input XORed in: a
/// baton that differs from the issued one in any way must be refused, and the issued one must
/// check to the stream id and sequence number it was issued for.
pub fn baton(data: &[u8]) {
    static KEY: OnceLock<BatonKey> = OnceLock::new();
    let key = KEY.get_or_init(BatonKey::random);
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = key.check(text);
    }
    let mut words = [0u8; 16];
    for (w, d) in words.iter_mut().zip(data) {
        *w = *d;
    }
    let id = u64::from_le_bytes(words[..8].try_into().unwrap_or_default());
    let seq = u64::from_le_bytes(words[8..].try_into().unwrap_or_default());
    let issued = key.issue(id, seq);
    assert_eq!(key.check(&issued), Some((id, seq)), "issued baton refused");
    let mut forged = issued.clone().into_bytes();
    for (b, d) in forged.iter_mut().zip(data.iter().skip(16)) {
        *b ^= d;
    }
    forged.extend(data.iter().skip(16 + issued.len()));
    if let Ok(forged) = String::from_utf8(forged) {
        if forged != issued {
            assert_eq!(key.check(&forged), None, "forged baton {forged:?} accepted");
        }
    }
}

/// The signing key tokens are checked against, and the server's verifier for its public half.
fn keys() -> &'static (ed25519_dalek::SigningKey, Auth) {
    static KEYS: OnceLock<(ed25519_dalek::SigningKey, Auth)> = OnceLock::new();
    KEYS.get_or_init(|| {
        let signing = ed25519_dalek::SigningKey::from_bytes(&[7; 32]);
        let public = URL_SAFE_NO_PAD.encode(signing.verifying_key().as_bytes());
        let auth = Auth::from_key_text(&public).unwrap_or_else(|e| panic!("fixed key: {e}"));
        (signing, auth)
    })
}

/// `Auth::authenticate_header` on the input as an `Authorization` header; then, so the fuzzer
/// reaches the header and claim checks behind the signature, the input split at the first
/// newline into a JOSE header and a payload, signed with the trusted key. A token whose
/// signature was not made by the key must be refused.
pub fn token(data: &[u8]) {
    let (signing, auth) = keys();
    if let Ok(text) = std::str::from_utf8(data) {
        if auth.authenticate_header(Some(text), NOW).is_ok() {
            let token = text
                .trim()
                .split_once(|c: char| c.is_ascii_whitespace())
                .map_or("", |(_, t)| t.trim());
            assert!(
                signed_by(signing, token),
                "header accepted unsigned: {text:?}"
            );
        }
        if auth.authenticate(Some(text), NOW).is_ok() {
            assert!(
                signed_by(signing, text),
                "token accepted unsigned: {text:?}"
            );
        }
    }
    let Some(split) = data.iter().position(|&b| b == b'\n') else {
        return;
    };
    let (header, payload) = (&data[..split], &data[split + 1..]);
    let mut token = URL_SAFE_NO_PAD.encode(header);
    token.push('.');
    token.push_str(&URL_SAFE_NO_PAD.encode(payload));
    let signature = signing.sign(token.as_bytes());
    token.push('.');
    token.push_str(&URL_SAFE_NO_PAD.encode(signature.to_bytes()));
    let bare = auth.authenticate(Some(&token), NOW);
    let header = auth.authenticate_header(Some(&format!("Bearer {token}")), NOW);
    assert_eq!(
        format!("{bare:?}"),
        format!("{header:?}"),
        "a token and its Bearer header disagree"
    );
}

/// Whether `token`'s last part is the key's signature of the rest (checked independently of the
/// server's parser).
fn signed_by(signing: &ed25519_dalek::SigningKey, token: &str) -> bool {
    let Some((signed, signature)) = token.rsplit_once('.') else {
        return false;
    };
    let Ok(signature) = URL_SAFE_NO_PAD.decode(signature) else {
        return false;
    };
    let Ok(signature) = ed25519_dalek::Signature::from_slice(&signature) else {
        return false;
    };
    signing
        .verifying_key()
        .verify_strict(signed.as_bytes(), &signature)
        .is_ok()
}
