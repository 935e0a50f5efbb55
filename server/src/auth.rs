//! JWT authentication for the Tidepool reference server.
//!
//! The server can be started with `--auth-jwt-key-file`, in which case every request must carry
//! a bearer token, exactly like sqld does it: a compact JWS signed with Ed25519 (`alg: EdDSA`)
//! whose claims say whether the holder may write (`"a": "rw"`, the default) or only read
//! (`"a": "ro"`), optionally bounded in time by `exp` and `nbf`. This module holds the whole of
//! that logic so the HTTP and WebSocket front ends share one implementation: loading the public
//! keys, parsing the `Authorization` header, verifying tokens and mapping failures to stable
//! error codes. It also carries a small [`SigningKey`] helper that developers and tests use to
//! mint keys and tokens.
//!
//! Everything here treats tokens, headers and key files as untrusted input: nothing panics, sizes
//! are bounded before decoding, and neither error messages nor `Debug` output ever contain a
//! token or key material.

use std::fmt;
use std::path::Path;
use std::sync::Arc;

use anyhow::{anyhow, bail, Context as _};
use base64::alphabet;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig, URL_SAFE_NO_PAD};
use base64::engine::DecodePaddingMode;
use base64::Engine as _;
// `zeroize` is not a direct dependency; the copy the pkcs8 stack already uses is reached here.
use ed25519_dalek::pkcs8::spki::der::zeroize::Zeroizing;
use ed25519_dalek::pkcs8::{DecodePrivateKey as _, DecodePublicKey as _};
use ed25519_dalek::{Signature, Signer as _, VerifyingKey};
use serde_json::{Map, Value};

/// Longest token accepted, in bytes; anything longer is rejected before being decoded.
const MAX_TOKEN_LEN: usize = 8 * 1024;

/// Largest key file read by [`Auth::from_key_file`].
const MAX_KEY_FILE_LEN: u64 = 1024 * 1024;

/// DER prefix of a PKCS#8 v1 `PrivateKeyInfo` for Ed25519 (RFC 8410), followed by the 32-byte
/// seed. This is the form `openssl genpkey -algorithm ed25519` writes.
const PKCS8_ED25519_PREFIX: [u8; 16] = [
    0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20,
];

/// DER prefix of an Ed25519 `SubjectPublicKeyInfo` (RFC 8410), followed by the 32-byte key.
const SPKI_ED25519_PREFIX: [u8; 12] = [
    0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
];

/// Standard and URL-safe base64 decoders that accept input with or without padding.
const STANDARD_LENIENT: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);
const URL_SAFE_LENIENT: GeneralPurpose = GeneralPurpose::new(
    &alphabet::URL_SAFE,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// What an authenticated request may do (`"a": "ro"` or `"rw"`).
pub use tidepool_engine::Access;

/// Why a request was refused. Messages never contain the token.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AuthError {
    /// No token was supplied although authentication is enabled.
    #[error("authentication required: no bearer token was provided")]
    Missing,
    /// The header or token could not be parsed.
    #[error("malformed authentication token: {0}")]
    Malformed(&'static str),
    /// The token's signature does not verify with any configured key.
    #[error("invalid authentication token: signature does not match any configured key")]
    InvalidSignature,
    /// The token's `exp` claim is in the past.
    #[error("authentication token has expired")]
    Expired,
    /// The token's `nbf` claim is in the future.
    #[error("authentication token is not valid yet (its nbf claim is in the future)")]
    NotYetValid,
    /// The token header names an algorithm other than `EdDSA`.
    #[error("invalid authentication token: unsupported algorithm (only EdDSA is accepted)")]
    UnsupportedAlgorithm,
}

impl AuthError {
    /// Stable machine-readable code for protocol error responses.
    pub fn code(&self) -> &'static str {
        match self {
            AuthError::Missing => "AUTH_MISSING",
            AuthError::Malformed(_) => "AUTH_MALFORMED",
            AuthError::InvalidSignature | AuthError::UnsupportedAlgorithm => "AUTH_INVALID",
            AuthError::Expired | AuthError::NotYetValid => "AUTH_EXPIRED",
        }
    }
}

/// Authentication policy: either disabled (everyone may read and write) or a non-empty set of
/// Ed25519 public keys, any of which may sign a valid token.
#[derive(Clone)]
pub struct Auth {
    /// `None` when authentication is disabled; otherwise never empty.
    keys: Option<Arc<[VerifyingKey]>>,
}

impl fmt::Debug for Auth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.keys {
            None => f.debug_struct("Auth").field("enabled", &false).finish(),
            Some(keys) => f
                .debug_struct("Auth")
                .field("enabled", &true)
                .field("keys", &keys.len())
                .finish(),
        }
    }
}

impl Auth {
    /// No authentication: every request gets [`Access::ReadWrite`], whatever it sends.
    pub fn disabled() -> Self {
        Auth { keys: None }
    }

    /// Loads the public keys from a key file (see [`Auth::from_key_text`] for the format).
    pub fn from_key_file(path: &Path) -> anyhow::Result<Self> {
        let meta = std::fs::metadata(path)
            .with_context(|| format!("cannot read JWT key file {}", path.display()))?;
        if meta.len() > MAX_KEY_FILE_LEN {
            bail!(
                "JWT key file {} is too large ({} bytes; at most {MAX_KEY_FILE_LEN})",
                path.display(),
                meta.len()
            );
        }
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read JWT key file {}", path.display()))?;
        Self::from_key_text(&text)
            .with_context(|| format!("invalid JWT key file {}", path.display()))
    }

    /// Parses Ed25519 public keys from text. The text may hold any number of
    /// `-----BEGIN PUBLIC KEY-----` PEM blocks (SubjectPublicKeyInfo), and/or lines each holding a
    /// raw 32-byte public key in base64 (URL-safe or standard alphabet, padding optional). Blank
    /// lines and lines starting with `#` are ignored. At least one key is required.
    pub fn from_key_text(text: &str) -> anyhow::Result<Self> {
        let keys = parse_public_keys(text)?;
        if keys.is_empty() {
            bail!("no public key found (expected PEM \"PUBLIC KEY\" blocks or base64 raw keys)");
        }
        Ok(Auth {
            keys: Some(keys.into()),
        })
    }

    /// Whether tokens are checked at all.
    pub fn is_enabled(&self) -> bool {
        self.keys.is_some()
    }

    /// Authenticates a bare JWT (no `Bearer ` prefix). `None` or an empty token is
    /// [`AuthError::Missing`]. When authentication is disabled this always succeeds with
    /// [`Access::ReadWrite`].
    pub fn authenticate(
        &self,
        token: Option<&str>,
        now_unix_secs: u64,
    ) -> Result<Access, AuthError> {
        let Some(keys) = &self.keys else {
            return Ok(Access::ReadWrite);
        };
        match token {
            None | Some("") => Err(AuthError::Missing),
            Some(token) => verify_token(keys, token, now_unix_secs),
        }
    }

    /// Parses an HTTP `Authorization` header value (`Bearer <jwt>`, scheme case-insensitive,
    /// surrounding whitespace tolerated) and authenticates the token. When authentication is
    /// disabled this always succeeds with [`Access::ReadWrite`], whatever the header holds.
    pub fn authenticate_header(
        &self,
        header: Option<&str>,
        now_unix_secs: u64,
    ) -> Result<Access, AuthError> {
        if !self.is_enabled() {
            return Ok(Access::ReadWrite);
        }
        let Some(header) = header else {
            return Err(AuthError::Missing);
        };
        let header = header.trim();
        if header.is_empty() {
            return Err(AuthError::Missing);
        }
        let (scheme, rest) = match header.split_once(|c: char| c.is_ascii_whitespace()) {
            Some((scheme, rest)) => (scheme, rest.trim()),
            None => (header, ""),
        };
        if !scheme.eq_ignore_ascii_case("bearer") {
            return Err(if rest.is_empty() {
                AuthError::Malformed("Authorization header must be `Bearer <token>`")
            } else {
                AuthError::Malformed("unsupported authorization scheme (expected Bearer)")
            });
        }
        if rest.contains(|c: char| c.is_ascii_whitespace()) {
            return Err(AuthError::Malformed(
                "bearer token must not contain whitespace",
            ));
        }
        self.authenticate(Some(rest), now_unix_secs)
    }
}

/// Verifies a compact JWS against `keys` and returns the access it grants.
fn verify_token(keys: &[VerifyingKey], token: &str, now: u64) -> Result<Access, AuthError> {
    if token.len() > MAX_TOKEN_LEN {
        return Err(AuthError::Malformed("token is too long"));
    }
    const THREE_PARTS: AuthError =
        AuthError::Malformed("token must have exactly three dot-separated parts");
    // The signing input is the ASCII text `header.payload`, exactly as it appears in the token.
    let (signed, signature_b64) = token.rsplit_once('.').ok_or(THREE_PARTS)?;
    let (header_b64, payload_b64) = signed.split_once('.').ok_or(THREE_PARTS)?;
    if payload_b64.contains('.') {
        return Err(THREE_PARTS);
    }

    let header = URL_SAFE_NO_PAD
        .decode(header_b64)
        .map_err(|_| AuthError::Malformed("token header is not valid base64url"))?;
    let payload = URL_SAFE_NO_PAD
        .decode(payload_b64)
        .map_err(|_| AuthError::Malformed("token payload is not valid base64url"))?;
    let signature = URL_SAFE_NO_PAD
        .decode(signature_b64)
        .map_err(|_| AuthError::Malformed("token signature is not valid base64url"))?;

    check_header(&header)?;

    let signature: [u8; 64] = signature
        .as_slice()
        .try_into()
        .map_err(|_| AuthError::Malformed("token signature is not 64 bytes long"))?;
    let signature = Signature::from_bytes(&signature);
    if !keys
        .iter()
        .any(|key| key.verify_strict(signed.as_bytes(), &signature).is_ok())
    {
        return Err(AuthError::InvalidSignature);
    }

    let claims = parse_object(
        &payload,
        "token payload is not JSON",
        "token payload is not a JSON object",
    )?;
    check_claims(&claims, now)
}

fn parse_object(
    bytes: &[u8],
    not_json: &'static str,
    not_object: &'static str,
) -> Result<Map<String, Value>, AuthError> {
    match serde_json::from_slice::<Value>(bytes) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(AuthError::Malformed(not_object)),
        Err(_) => Err(AuthError::Malformed(not_json)),
    }
}

fn check_header(header: &[u8]) -> Result<(), AuthError> {
    let header = parse_object(
        header,
        "token header is not JSON",
        "token header is not a JSON object",
    )?;
    match header.get("alg") {
        Some(Value::String(alg)) if alg == "EdDSA" => {}
        Some(Value::String(_)) => return Err(AuthError::UnsupportedAlgorithm),
        Some(_) => return Err(AuthError::Malformed("token header `alg` is not a string")),
        None => return Err(AuthError::Malformed("token header has no `alg`")),
    }
    // RFC 7515 §4.1.11: extensions listed in `crit` must be understood; we understand none.
    if header.contains_key("crit") {
        return Err(AuthError::Malformed(
            "token header has unsupported critical parameters",
        ));
    }
    Ok(())
}

fn check_claims(claims: &Map<String, Value>, now: u64) -> Result<Access, AuthError> {
    let access = match claims.get("a") {
        None | Some(Value::Null) => Access::ReadWrite,
        Some(Value::String(a)) if a == "rw" => Access::ReadWrite,
        Some(Value::String(a)) if a == "ro" => Access::ReadOnly,
        Some(_) => return Err(AuthError::Malformed("claim `a` must be \"ro\" or \"rw\"")),
    };
    if let Some(exp) = numeric_date(claims, "exp", "claim `exp` is not a number")? {
        if now_is_at_or_after(now, exp) {
            return Err(AuthError::Expired);
        }
    }
    if let Some(nbf) = numeric_date(claims, "nbf", "claim `nbf` is not a number")? {
        if !now_is_at_or_after(now, nbf) {
            return Err(AuthError::NotYetValid);
        }
    }
    Ok(access)
}

/// A JWT NumericDate: seconds since the epoch, possibly negative or fractional.
#[derive(Clone, Copy, Debug)]
enum NumericDate {
    Int(i128),
    Float(f64),
}

fn numeric_date(
    claims: &Map<String, Value>,
    name: &str,
    invalid: &'static str,
) -> Result<Option<NumericDate>, AuthError> {
    match claims.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => {
            if let Some(u) = n.as_u64() {
                Ok(Some(NumericDate::Int(i128::from(u))))
            } else if let Some(i) = n.as_i64() {
                Ok(Some(NumericDate::Int(i128::from(i))))
            } else if let Some(f) = n.as_f64().filter(|f| f.is_finite()) {
                Ok(Some(NumericDate::Float(f)))
            } else {
                Err(AuthError::Malformed(invalid))
            }
        }
        Some(_) => Err(AuthError::Malformed(invalid)),
    }
}

fn now_is_at_or_after(now: u64, date: NumericDate) -> bool {
    match date {
        NumericDate::Int(d) => i128::from(now) >= d,
        // Precision loss only matters for dates near 2^53 seconds, hundreds of millions of years
        // away.
        #[allow(clippy::cast_precision_loss)]
        NumericDate::Float(d) => (now as f64) >= d,
    }
}

/// Parses the key text accepted by [`Auth::from_key_text`].
fn parse_public_keys(text: &str) -> anyhow::Result<Vec<VerifyingKey>> {
    let mut keys = Vec::new();
    let mut lines = (1usize..).zip(text.lines());
    while let Some((lineno, line)) = lines.next() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if let Some(label) = pem_begin_label(line) {
            let der = read_pem_body(&mut lines, label, lineno)?;
            match label {
                "PUBLIC KEY" => {
                    let key = VerifyingKey::from_public_key_der(&der).map_err(|e| {
                        anyhow!("PEM block at line {lineno} is not an Ed25519 public key: {e}")
                    })?;
                    keys.push(checked_key(key, lineno)?);
                }
                "PRIVATE KEY" | "ENCRYPTED PRIVATE KEY" | "OPENSSH PRIVATE KEY" => bail!(
                    "line {lineno}: this is a private key; the server needs the public key \
                     (PEM \"PUBLIC KEY\")"
                ),
                _ => bail!("line {lineno}: unsupported PEM block (expected \"PUBLIC KEY\")"),
            }
        } else if line.starts_with("-----") {
            bail!("line {lineno}: unexpected PEM boundary");
        } else {
            let bytes = decode_lenient_base64(line).ok_or_else(|| {
                anyhow!("line {lineno}: not a PEM block nor a base64-encoded public key")
            })?;
            let bytes: [u8; 32] = bytes.as_slice().try_into().map_err(|_| {
                anyhow!(
                    "line {lineno}: a raw Ed25519 public key is 32 bytes, this decodes to {}",
                    bytes.len()
                )
            })?;
            let key = VerifyingKey::from_bytes(&bytes)
                .map_err(|_| anyhow!("line {lineno}: not a valid Ed25519 public key"))?;
            keys.push(checked_key(key, lineno)?);
        }
    }
    Ok(keys)
}

/// Rejects small-order keys, which strict verification would never accept anyway.
fn checked_key(key: VerifyingKey, lineno: usize) -> anyhow::Result<VerifyingKey> {
    if key.is_weak() {
        bail!("key at line {lineno} is a weak (small-order) Ed25519 key");
    }
    Ok(key)
}

fn decode_lenient_base64(text: &str) -> Option<Vec<u8>> {
    URL_SAFE_LENIENT
        .decode(text)
        .or_else(|_| STANDARD_LENIENT.decode(text))
        .ok()
}

/// Returns the label of a `-----BEGIN LABEL-----` line.
fn pem_begin_label(line: &str) -> Option<&str> {
    line.strip_prefix("-----BEGIN ")?.strip_suffix("-----")
}

/// Reads the lines of a PEM block up to its END line and decodes the base64 body. The buffer is
/// wiped on drop since it may hold a private key.
fn read_pem_body<'a>(
    lines: &mut impl Iterator<Item = (usize, &'a str)>,
    label: &str,
    begin_lineno: usize,
) -> anyhow::Result<Zeroizing<Vec<u8>>> {
    let mut body = Zeroizing::new(String::new());
    for (_, line) in lines.by_ref() {
        let line = line.trim();
        if let Some(end) = line.strip_prefix("-----END ") {
            if end.strip_suffix("-----") != Some(label) {
                bail!("PEM block at line {begin_lineno}: END line does not match BEGIN");
            }
            let der = STANDARD_LENIENT
                .decode(body.as_bytes())
                .map_err(|_| anyhow!("PEM block at line {begin_lineno}: invalid base64"))?;
            return Ok(Zeroizing::new(der));
        }
        if line.contains(':') {
            bail!("PEM block at line {begin_lineno}: PEM headers (e.g. encryption) unsupported");
        }
        body.push_str(line);
    }
    bail!("PEM block at line {begin_lineno} has no END line")
}

fn pem_encode(label: &str, der: &[u8]) -> String {
    let b64 = Zeroizing::new(base64::engine::general_purpose::STANDARD.encode(der));
    let mut out = format!("-----BEGIN {label}-----\n");
    let mut rest = b64.as_str();
    while !rest.is_empty() {
        let (line, tail) = rest.split_at(rest.len().min(64));
        out.push_str(line);
        out.push('\n');
        rest = tail;
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

/// An Ed25519 private key for minting tokens (developer tooling and tests).
pub struct SigningKey(ed25519_dalek::SigningKey);

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let public = URL_SAFE_NO_PAD.encode(self.0.verifying_key().as_bytes());
        f.debug_struct("SigningKey")
            .field("public", &public)
            .finish_non_exhaustive()
    }
}

impl SigningKey {
    /// A fresh random key from the operating system's generator.
    pub fn generate() -> Self {
        use rand::RngCore as _;
        let mut seed = Zeroizing::new([0u8; 32]);
        rand::rngs::OsRng.fill_bytes(seed.as_mut_slice());
        SigningKey(ed25519_dalek::SigningKey::from_bytes(&seed))
    }

    /// Reads a PKCS#8 PEM `PRIVATE KEY` block (as written by [`SigningKey::to_pem`] or
    /// `openssl genpkey -algorithm ed25519`). Other blocks in the text are ignored.
    pub fn from_pem(text: &str) -> anyhow::Result<Self> {
        let mut lines = (1usize..).zip(text.lines());
        while let Some((lineno, line)) = lines.next() {
            match pem_begin_label(line.trim()) {
                Some("PRIVATE KEY") => {
                    let der = read_pem_body(&mut lines, "PRIVATE KEY", lineno)?;
                    let key = ed25519_dalek::SigningKey::from_pkcs8_der(&der).map_err(|e| {
                        anyhow!("PEM block at line {lineno} is not an Ed25519 PKCS#8 key: {e}")
                    })?;
                    return Ok(SigningKey(key));
                }
                Some(label) => {
                    read_pem_body(&mut lines, label, lineno)?;
                }
                None => {}
            }
        }
        bail!("no PEM \"PRIVATE KEY\" block found")
    }

    /// The key as a PKCS#8 v1 PEM `PRIVATE KEY` block, the form OpenSSL writes.
    pub fn to_pem(&self) -> String {
        let mut der = Zeroizing::new(Vec::with_capacity(48));
        der.extend_from_slice(&PKCS8_ED25519_PREFIX);
        der.extend_from_slice(self.0.as_bytes());
        pem_encode("PRIVATE KEY", &der)
    }

    /// The public half as an SPKI PEM `PUBLIC KEY` block, suitable for `--auth-jwt-key-file`.
    pub fn public_key_pem(&self) -> String {
        let mut der = Vec::with_capacity(44);
        der.extend_from_slice(&SPKI_ED25519_PREFIX);
        der.extend_from_slice(self.0.verifying_key().as_bytes());
        pem_encode("PUBLIC KEY", &der)
    }

    /// Mints a token granting `access`, valid until `expires_at_unix_secs` (forever if `None`).
    pub fn token(&self, access: Access, expires_at_unix_secs: Option<u64>) -> String {
        let mut claims = Map::new();
        let a = match access {
            Access::ReadOnly => "ro",
            Access::ReadWrite => "rw",
        };
        claims.insert("a".to_owned(), Value::from(a));
        if let Some(exp) = expires_at_unix_secs {
            claims.insert("exp".to_owned(), Value::from(exp));
        }
        self.sign_json(
            r#"{"alg":"EdDSA","typ":"JWT"}"#,
            &Value::Object(claims).to_string(),
        )
    }

    /// Signs arbitrary header and payload JSON text as a compact JWS.
    fn sign_json(&self, header: &str, payload: &str) -> String {
        let mut token = URL_SAFE_NO_PAD.encode(header);
        token.push('.');
        token.push_str(&URL_SAFE_NO_PAD.encode(payload));
        let signature = self.0.sign(token.as_bytes());
        token.push('.');
        token.push_str(&URL_SAFE_NO_PAD.encode(signature.to_bytes()));
        token
    }
}

#[cfg(test)]
mod tests;
