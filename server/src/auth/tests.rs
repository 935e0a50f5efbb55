//! Tests of token verification, key files and key tooling.

use super::*;
use ed25519_dalek::pkcs8::spki::der::pem::LineEnding;
use ed25519_dalek::pkcs8::{EncodePrivateKey as _, EncodePublicKey as _};

const NOW: u64 = 1_700_000_000;
const EDDSA: &str = r#"{"alg":"EdDSA","typ":"JWT"}"#;

fn setup() -> (SigningKey, Auth) {
    let key = SigningKey::generate();
    let auth = Auth::from_key_text(&key.public_key_pem()).expect("own public key parses");
    (key, auth)
}

fn raw_public(key: &SigningKey) -> [u8; 32] {
    key.0.verifying_key().to_bytes()
}

fn code(result: Result<Access, AuthError>) -> &'static str {
    match result {
        Ok(_) => "OK",
        Err(e) => e.code(),
    }
}

#[test]
fn valid_read_write_and_read_only_tokens() {
    let (key, auth) = setup();
    assert!(auth.is_enabled());
    let rw = key.token(Access::ReadWrite, None);
    let ro = key.token(Access::ReadOnly, Some(NOW + 60));
    assert_eq!(
        auth.authenticate(Some(&rw), NOW).ok(),
        Some(Access::ReadWrite)
    );
    assert_eq!(
        auth.authenticate(Some(&ro), NOW).ok(),
        Some(Access::ReadOnly)
    );
    assert!(Access::ReadWrite.can_write());
    assert!(!Access::ReadOnly.can_write());
}

#[test]
fn missing_access_claim_is_read_write() {
    let (key, auth) = setup();
    for payload in [r#"{}"#, r#"{"a":null,"sub":"x","extra":[1,2]}"#] {
        let token = key.sign_json(EDDSA, payload);
        assert_eq!(
            auth.authenticate(Some(&token), NOW).ok(),
            Some(Access::ReadWrite)
        );
    }
}

#[test]
fn invalid_access_claim_is_malformed() {
    let (key, auth) = setup();
    for payload in [r#"{"a":"admin"}"#, r#"{"a":1}"#, r#"{"a":"RO"}"#] {
        let token = key.sign_json(EDDSA, payload);
        assert_eq!(code(auth.authenticate(Some(&token), NOW)), "AUTH_MALFORMED");
    }
}

#[test]
fn expiry() {
    let (key, auth) = setup();
    let token = key.token(Access::ReadOnly, Some(NOW));
    assert!(matches!(
        auth.authenticate(Some(&token), NOW),
        Err(AuthError::Expired)
    ));
    assert!(matches!(
        auth.authenticate(Some(&token), NOW + 1),
        Err(AuthError::Expired)
    ));
    assert_eq!(
        auth.authenticate(Some(&token), NOW - 1).ok(),
        Some(Access::ReadOnly)
    );
    assert_eq!(code(auth.authenticate(Some(&token), NOW)), "AUTH_EXPIRED");

    let past = key.sign_json(EDDSA, r#"{"exp":-5}"#);
    assert!(matches!(
        auth.authenticate(Some(&past), NOW),
        Err(AuthError::Expired)
    ));
    let fractional = key.sign_json(EDDSA, &format!(r#"{{"exp":{}.5}}"#, NOW));
    assert!(auth.authenticate(Some(&fractional), NOW).is_ok());
    assert!(auth.authenticate(Some(&fractional), NOW + 1).is_err());
    let bad = key.sign_json(EDDSA, r#"{"exp":"tomorrow"}"#);
    assert_eq!(code(auth.authenticate(Some(&bad), NOW)), "AUTH_MALFORMED");
    let huge = key.sign_json(EDDSA, r#"{"exp":1e400}"#);
    assert!(auth.authenticate(Some(&huge), NOW).is_err());
}

#[test]
fn not_before_in_future() {
    let (key, auth) = setup();
    let token = key.sign_json(EDDSA, &format!(r#"{{"a":"ro","nbf":{}}}"#, NOW + 10));
    let err = auth
        .authenticate(Some(&token), NOW)
        .expect_err("nbf in future");
    assert!(matches!(err, AuthError::NotYetValid));
    assert_eq!(err.code(), "AUTH_EXPIRED");
    assert_eq!(
        auth.authenticate(Some(&token), NOW + 10).ok(),
        Some(Access::ReadOnly)
    );
    let bad = key.sign_json(EDDSA, r#"{"nbf":true}"#);
    assert_eq!(code(auth.authenticate(Some(&bad), NOW)), "AUTH_MALFORMED");
}

#[test]
fn wrong_key_is_rejected() {
    let (_, auth) = setup();
    let other = SigningKey::generate();
    let token = other.token(Access::ReadWrite, None);
    let err = auth.authenticate(Some(&token), NOW).expect_err("wrong key");
    assert!(matches!(err, AuthError::InvalidSignature));
    assert_eq!(err.code(), "AUTH_INVALID");
}

#[test]
fn any_configured_key_may_sign() {
    let (k1, k2) = (SigningKey::generate(), SigningKey::generate());
    let text = format!("{}{}", k1.public_key_pem(), k2.public_key_pem());
    let auth = Auth::from_key_text(&text).expect("two keys");
    for key in [&k1, &k2] {
        let token = key.token(Access::ReadOnly, None);
        assert_eq!(
            auth.authenticate(Some(&token), NOW).ok(),
            Some(Access::ReadOnly)
        );
    }
}

#[test]
fn tampered_payload_is_rejected() {
    let (key, auth) = setup();
    let token = key.token(Access::ReadOnly, Some(NOW + 60));
    let parts: Vec<&str> = token.split('.').collect();
    let forged_payload = URL_SAFE_NO_PAD.encode(r#"{"a":"rw"}"#);
    let forged = format!("{}.{}.{}", parts[0], forged_payload, parts[2]);
    assert!(matches!(
        auth.authenticate(Some(&forged), NOW),
        Err(AuthError::InvalidSignature)
    ));

    // Flipping one signature bit is also caught.
    let mut sig = URL_SAFE_NO_PAD.decode(parts[2]).expect("signature decodes");
    sig[0] ^= 1;
    let flipped = format!("{}.{}.{}", parts[0], parts[1], URL_SAFE_NO_PAD.encode(sig));
    assert!(matches!(
        auth.authenticate(Some(&flipped), NOW),
        Err(AuthError::InvalidSignature)
    ));
}

#[test]
fn other_algorithms_are_rejected() {
    let (key, auth) = setup();
    // `none` with an empty signature, as an attacker would send it.
    let none = format!(
        "{}.{}.",
        URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"JWT"}"#),
        URL_SAFE_NO_PAD.encode(r#"{"a":"rw"}"#)
    );
    // Even correctly signed tokens are refused if the header names another algorithm.
    let hs256 = key.sign_json(r#"{"alg":"HS256","typ":"JWT"}"#, r#"{"a":"rw"}"#);
    let lowercase = key.sign_json(r#"{"alg":"eddsa"}"#, r#"{"a":"rw"}"#);
    let none_signed = key.sign_json(r#"{"alg":"none"}"#, r#"{"a":"rw"}"#);
    for token in [&none, &hs256, &lowercase, &none_signed] {
        let err = auth
            .authenticate(Some(token), NOW)
            .expect_err("alg must be EdDSA");
        assert!(matches!(err, AuthError::UnsupportedAlgorithm), "{err:?}");
        assert_eq!(err.code(), "AUTH_INVALID");
    }
    let no_alg = key.sign_json(r#"{"typ":"JWT"}"#, "{}");
    assert_eq!(
        code(auth.authenticate(Some(&no_alg), NOW)),
        "AUTH_MALFORMED"
    );
    let crit = key.sign_json(r#"{"alg":"EdDSA","crit":["b64"],"b64":false}"#, "{}");
    assert_eq!(code(auth.authenticate(Some(&crit), NOW)), "AUTH_MALFORMED");
}

#[test]
fn malformed_tokens() {
    let (key, auth) = setup();
    let good = key.token(Access::ReadWrite, None);
    let parts: Vec<&str> = good.split('.').collect();
    let b64 = |s: &str| URL_SAFE_NO_PAD.encode(s);
    let cases = [
        "abc".to_owned(),
        parts[0].to_owned(),
        format!("{}.{}", parts[0], parts[1]),
        format!("{good}.{}", parts[2]),
        format!("{good}."),
        "..".to_owned(),
        "...".to_owned(),
        format!("{}!.{}.{}", parts[0], parts[1], parts[2]),
        format!("{}.{}==.{}", parts[0], parts[1], parts[2]),
        format!("{}.{}.{}+", parts[0], parts[1], parts[2]),
        format!("{}.{}.{}", parts[0], parts[1], b64("short")),
        format!("{}.{}.{}", b64("not json"), parts[1], parts[2]),
        format!("{}.{}.{}", b64(r#"["alg","EdDSA"]"#), parts[1], parts[2]),
        format!("{}.{}.{}", b64(r#"{"alg":5}"#), parts[1], parts[2]),
        format!(" {good}"),
        "é.ü.\u{0}".to_owned(),
        key.sign_json(EDDSA, "not json at all"),
        key.sign_json(EDDSA, ""),
        key.sign_json(EDDSA, r#""a string""#),
        key.sign_json(EDDSA, r#"[{"a":"rw"}]"#),
        key.sign_json(EDDSA, "null"),
        key.sign_json(EDDSA, &"[".repeat(1000)),
    ];
    for token in &cases {
        let err = auth.authenticate(Some(token), NOW).expect_err("malformed");
        assert!(matches!(err, AuthError::Malformed(_)), "{token:?}: {err:?}");
        assert_eq!(err.code(), "AUTH_MALFORMED");
    }
}

#[test]
fn huge_token_is_rejected_before_decoding() {
    let (key, auth) = setup();
    let padding = "x".repeat(MAX_TOKEN_LEN);
    let big = key.sign_json(EDDSA, &format!(r#"{{"a":"rw","pad":"{padding}"}}"#));
    assert!(matches!(
        auth.authenticate(Some(&big), NOW),
        Err(AuthError::Malformed("token is too long"))
    ));
    let garbage = "a".repeat(10 * 1024 * 1024);
    assert!(matches!(
        auth.authenticate(Some(&garbage), NOW),
        Err(AuthError::Malformed("token is too long"))
    ));
    // Just under the limit still works.
    let fill = "x".repeat(MAX_TOKEN_LEN / 2);
    let ok = key.sign_json(EDDSA, &format!(r#"{{"a":"ro","pad":"{fill}"}}"#));
    assert!(ok.len() <= MAX_TOKEN_LEN);
    assert_eq!(
        auth.authenticate(Some(&ok), NOW).ok(),
        Some(Access::ReadOnly)
    );
}

#[test]
fn missing_token() {
    let (_, auth) = setup();
    for token in [None, Some("")] {
        let err = auth.authenticate(token, NOW).expect_err("missing");
        assert!(matches!(err, AuthError::Missing));
        assert_eq!(err.code(), "AUTH_MISSING");
    }
}

#[test]
fn disabled_auth_allows_everything() {
    let auth = Auth::disabled();
    assert!(!auth.is_enabled());
    assert_eq!(auth.authenticate(None, NOW).ok(), Some(Access::ReadWrite));
    assert_eq!(
        auth.authenticate(Some("garbage"), NOW).ok(),
        Some(Access::ReadWrite)
    );
    assert_eq!(
        auth.authenticate_header(None, NOW).ok(),
        Some(Access::ReadWrite)
    );
    assert_eq!(
        auth.authenticate_header(Some("Basic x"), NOW).ok(),
        Some(Access::ReadWrite)
    );
}

#[test]
fn authorization_header_parsing() {
    let (key, auth) = setup();
    let token = key.token(Access::ReadOnly, None);
    for header in [
        format!("Bearer {token}"),
        format!("bearer {token}"),
        format!("BEARER {token}"),
        format!("BeArEr {token}"),
        format!("Bearer    {token}"),
        format!("  Bearer\t{token}  "),
        format!("Bearer {token}\r\n"),
    ] {
        assert_eq!(
            auth.authenticate_header(Some(&header), NOW).ok(),
            Some(Access::ReadOnly),
            "{header:?}"
        );
    }

    for header in [
        None,
        Some(""),
        Some("   "),
        Some("Bearer"),
        Some("bearer   "),
    ] {
        assert!(
            matches!(
                auth.authenticate_header(header, NOW),
                Err(AuthError::Missing)
            ),
            "{header:?}"
        );
    }

    let malformed = [
        token.clone(),
        format!("Basic {token}"),
        format!("Token {token}"),
        format!("Bearer{token}"),
        format!("Bearer {token} extra"),
        "Basic dXNlcjpwYXNz".to_owned(),
    ];
    for header in &malformed {
        assert_eq!(
            code(auth.authenticate_header(Some(header), NOW)),
            "AUTH_MALFORMED"
        );
    }

    let expired = key.token(Access::ReadWrite, Some(NOW - 1));
    let header = format!("Bearer {expired}");
    assert!(matches!(
        auth.authenticate_header(Some(&header), NOW),
        Err(AuthError::Expired)
    ));
}

#[test]
fn errors_and_debug_never_leak_tokens_or_keys() {
    let (key, auth) = setup();
    let token = key.token(Access::ReadWrite, Some(NOW - 1));
    let parts: Vec<&str> = token.split('.').collect();
    let errors = [
        auth.authenticate(Some(&token), NOW),
        auth.authenticate(Some(&token[1..]), NOW),
        auth.authenticate_header(Some(&format!("Basic {token}")), NOW),
        auth.authenticate_header(Some(&format!("Bearer {token}")), NOW),
    ];
    for result in errors {
        let err = result.expect_err("rejected");
        let shown = format!("{err} {err:?}");
        for part in &parts {
            assert!(!shown.contains(part), "{shown}");
        }
    }

    let pem = key.to_pem();
    let secret_b64 = URL_SAFE_NO_PAD.encode(key.0.to_bytes());
    let debug = format!("{key:?} {auth:?}");
    assert!(!debug.contains(&secret_b64));
    assert!(!debug.contains(&pem));
    assert_eq!(format!("{auth:?}"), "Auth { enabled: true, keys: 1 }");
    assert_eq!(format!("{:?}", Auth::disabled()), "Auth { enabled: false }");
    for err in [
        AuthError::Missing,
        AuthError::InvalidSignature,
        AuthError::Expired,
        AuthError::NotYetValid,
        AuthError::UnsupportedAlgorithm,
    ] {
        assert!(!err.to_string().is_empty());
    }
}

#[test]
fn key_text_single_and_multiple_pem_blocks() {
    let keys: Vec<SigningKey> = (0..3).map(|_| SigningKey::generate()).collect();
    let single = Auth::from_key_text(&keys[0].public_key_pem()).expect("one PEM");
    assert_eq!(format!("{single:?}"), "Auth { enabled: true, keys: 1 }");

    // Several blocks, with comments, blank lines and CRLF line endings.
    let text = format!(
        "# staging\n{}\n\n# prod\r\n{}{}",
        keys[0].public_key_pem(),
        keys[1].public_key_pem().replace('\n', "\r\n"),
        keys[2].public_key_pem()
    );
    let auth = Auth::from_key_text(&text).expect("three PEM blocks");
    assert_eq!(format!("{auth:?}"), "Auth { enabled: true, keys: 3 }");
    for key in &keys {
        let token = key.token(Access::ReadWrite, None);
        assert!(auth.authenticate(Some(&token), NOW).is_ok());
    }
}

#[test]
fn key_text_matches_other_encoders() {
    let key = SigningKey::generate();
    // Our hand-built DER must agree with the pkcs8 crate's encoders.
    let public = key
        .0
        .verifying_key()
        .to_public_key_pem(LineEnding::LF)
        .expect("encodes");
    assert_eq!(public, key.public_key_pem());
    let auth = Auth::from_key_text(&public).expect("parses");
    assert!(auth
        .authenticate(Some(&key.token(Access::ReadOnly, None)), NOW)
        .is_ok());

    // A PKCS#8 v2 document (with the public key) is read too.
    let v2 = key.0.to_pkcs8_pem(LineEnding::LF).expect("encodes");
    let back = SigningKey::from_pem(&v2).expect("v2 parses");
    assert_eq!(back.0.to_bytes(), key.0.to_bytes());
}

#[test]
fn key_text_raw_base64() {
    let keys: Vec<SigningKey> = (0..4).map(|_| SigningKey::generate()).collect();
    let raws: Vec<[u8; 32]> = keys.iter().map(raw_public).collect();
    let text = format!(
        "{}\n{}\n  {}  \n\n{}\n",
        URL_SAFE_NO_PAD.encode(raws[0]),
        base64::engine::general_purpose::URL_SAFE.encode(raws[1]),
        base64::engine::general_purpose::STANDARD.encode(raws[2]),
        base64::engine::general_purpose::STANDARD_NO_PAD.encode(raws[3]),
    );
    let auth = Auth::from_key_text(&text).expect("raw keys");
    assert_eq!(format!("{auth:?}"), "Auth { enabled: true, keys: 4 }");
    for key in &keys {
        let token = key.token(Access::ReadOnly, None);
        assert_eq!(
            auth.authenticate(Some(&token), NOW).ok(),
            Some(Access::ReadOnly)
        );
    }

    // Keys whose encoding uses the alphabet-specific characters load in either alphabet.
    let mut exercised = 0;
    for _ in 0..64 {
        let key = SigningKey::generate();
        let url = URL_SAFE_NO_PAD.encode(raw_public(&key));
        let std = base64::engine::general_purpose::STANDARD.encode(raw_public(&key));
        if url.contains(['-', '_']) {
            exercised += 1;
            assert!(Auth::from_key_text(&url).is_ok());
            assert!(Auth::from_key_text(&std).is_ok());
        }
    }
    assert!(exercised > 0);

    // Mixed: a raw key line next to a PEM block.
    let mixed = format!(
        "{}\n{}",
        URL_SAFE_NO_PAD.encode(raws[0]),
        keys[1].public_key_pem()
    );
    let auth = Auth::from_key_text(&mixed).expect("mixed");
    assert_eq!(format!("{auth:?}"), "Auth { enabled: true, keys: 2 }");
}

#[test]
fn key_text_errors() {
    let key = SigningKey::generate();
    let pem = key.public_key_pem();
    let raw = URL_SAFE_NO_PAD.encode(raw_public(&key));
    let unterminated = pem.replace("-----END PUBLIC KEY-----\n", "");
    let mismatched = pem.replace("END PUBLIC KEY", "END CERTIFICATE");
    let corrupt = pem.replacen("MCow", "M!ow", 1);
    let cases = [
        String::new(),
        "   \n\n\t\n".to_owned(),
        "# only a comment\n".to_owned(),
        "garbage".to_owned(),
        "not base64 at all!!".to_owned(),
        URL_SAFE_NO_PAD.encode([7u8; 31]),
        URL_SAFE_NO_PAD.encode([7u8; 33]),
        format!("{raw}\ngarbage"),
        key.to_pem(),
        unterminated,
        mismatched,
        corrupt,
        "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n".to_owned(),
        "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n".to_owned(),
        "-----END PUBLIC KEY-----\n".to_owned(),
        // The identity point: small order, so weak.
        URL_SAFE_NO_PAD.encode({
            let mut identity = [0u8; 32];
            identity[0] = 1;
            identity
        }),
    ];
    for text in &cases {
        let err = Auth::from_key_text(text).expect_err("must be rejected");
        assert!(!err.to_string().is_empty());
    }
    // A private key is refused with a hint, and its content is not echoed.
    let err = Auth::from_key_text(&key.to_pem()).expect_err("private key");
    let msg = format!("{err:#}");
    assert!(msg.contains("private key"), "{msg}");
    assert!(!msg.contains(&key.to_pem()[28..60]));
}

#[test]
fn key_file_loading() {
    let key = SigningKey::generate();
    let dir = std::env::temp_dir().join(format!(
        "tidepool-auth-test-{}-{}",
        std::process::id(),
        URL_SAFE_NO_PAD.encode(&raw_public(&key)[..6])
    ));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let good = dir.join("jwt.pem");
    std::fs::write(&good, key.public_key_pem()).expect("write");
    let auth = Auth::from_key_file(&good).expect("loads");
    assert!(auth
        .authenticate(Some(&key.token(Access::ReadWrite, None)), NOW)
        .is_ok());

    let empty = dir.join("empty.pem");
    std::fs::write(&empty, "").expect("write");
    let err = Auth::from_key_file(&empty).expect_err("empty file");
    assert!(format!("{err:#}").contains("empty.pem"));
    assert!(Auth::from_key_file(&dir.join("absent.pem")).is_err());
    std::fs::remove_dir_all(&dir).expect("cleanup");
}

#[test]
fn signing_key_pem_round_trip() {
    let key = SigningKey::generate();
    let pem = key.to_pem();
    assert!(pem.starts_with("-----BEGIN PRIVATE KEY-----\n"));
    assert!(pem.ends_with("-----END PRIVATE KEY-----\n"));
    let back = SigningKey::from_pem(&pem).expect("round trip");
    assert_eq!(back.0.to_bytes(), key.0.to_bytes());
    // With other blocks around it and CRLF endings.
    let bundle = format!("{}{}", key.public_key_pem(), pem.replace('\n', "\r\n"));
    let back = SigningKey::from_pem(&bundle).expect("bundle");
    assert_eq!(back.0.to_bytes(), key.0.to_bytes());

    assert!(SigningKey::from_pem("").is_err());
    assert!(SigningKey::from_pem(&key.public_key_pem()).is_err());
    assert!(SigningKey::from_pem("-----BEGIN PRIVATE KEY-----\nAAAA\n").is_err());

    let debug = format!("{key:?}");
    assert!(debug.starts_with("SigningKey"));
    assert!(!debug.contains(&URL_SAFE_NO_PAD.encode(key.0.to_bytes())));
}

/// A key and token produced by OpenSSL and an independent JWS implementation.
#[test]
fn interoperates_with_openssl_keys() {
    let key = SigningKey::from_pem(OPENSSL_PRIVATE).expect("openssl key");
    assert_eq!(key.to_pem(), OPENSSL_PRIVATE);
    assert_eq!(key.public_key_pem(), OPENSSL_PUBLIC);
    let auth = Auth::from_key_text(OPENSSL_PUBLIC).expect("openssl public key");
    assert_eq!(
        auth.authenticate(Some(EXTERNAL_TOKEN), NOW).ok(),
        Some(Access::ReadOnly)
    );
}

const OPENSSL_PRIVATE: &str = concat!(
    "-----BEGIN PRIVATE KEY-----\n",
    "MC4CAQAwBQYDK2VwBCIEIPgquQmUc8ibrGWW/LmFZYIOJ+yG3p7A3+ki7lQsT5xS\n",
    "-----END PRIVATE KEY-----\n",
);
const OPENSSL_PUBLIC: &str = concat!(
    "-----BEGIN PUBLIC KEY-----\n",
    "MCowBQYDK2VwAyEA2LO4qeF/NulLA9rAOU7A/evffrz9wxRr8zXtvlXxcaI=\n",
    "-----END PUBLIC KEY-----\n",
);
const EXTERNAL_TOKEN: &str = "eyJ0eXAiOiJKV1QiLCJhbGciOiJFZERTQSJ9.eyJpc3MiOiJvcGVuc3NsIiwiYSI6InJvIiwiZXhwIjoxNzAwMDAwMDYwLCJuYmYiOjE2OTk5OTkwMDB9.NZfqmh9Uhz8m2NkPwbEhMv6sMXVamclxvHyAz8mJFGZ-W_Zw5nnY8a6Bcqn-bYIDzReKP0Rzr-kDMrutBvH2Bg";
