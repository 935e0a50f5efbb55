//! Batons: the unforgeable, single-use tokens that tie HTTP requests to a stream.
//!
//! A baton is base64url (no padding) of `stream id (u64 BE) | sequence (u64 BE) | tag`, where
//! the tag is HMAC-SHA256 of the first 16 bytes, truncated to 16 bytes, under a key drawn at
//! start-up. Each response carries the next sequence number, so a replayed baton is detected.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use hmac::digest::KeyInit;
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

const BODY: usize = 16;
const TAG: usize = 16;

/// Signs and checks batons with one process-wide key.
#[derive(Clone)]
pub struct BatonKey([u8; 64]);

impl std::fmt::Debug for BatonKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("BatonKey(..)")
    }
}

impl BatonKey {
    /// A fresh random key.
    pub fn random() -> Self {
        let mut key = [0u8; 64];
        rand::thread_rng().fill_bytes(&mut key);
        BatonKey(key)
    }

    fn mac(&self) -> HmacSha256 {
        <HmacSha256 as KeyInit>::new(&self.0.into())
    }

    fn tag(&self, body: &[u8]) -> [u8; TAG] {
        let mut mac = self.mac();
        mac.update(body);
        let full = mac.finalize().into_bytes();
        let mut tag = [0u8; TAG];
        tag.copy_from_slice(&full[..TAG]);
        tag
    }

    /// The baton for request number `seq` of stream `id`.
    pub fn issue(&self, id: u64, seq: u64) -> String {
        let mut bytes = [0u8; BODY + TAG];
        bytes[..8].copy_from_slice(&id.to_be_bytes());
        bytes[8..BODY].copy_from_slice(&seq.to_be_bytes());
        let tag = self.tag(&bytes[..BODY]);
        bytes[BODY..].copy_from_slice(&tag);
        URL_SAFE_NO_PAD.encode(bytes)
    }

    /// The stream id and sequence number of a baton this key issued, or `None` for anything else.
    pub fn check(&self, baton: &str) -> Option<(u64, u64)> {
        if baton.len() > 64 {
            return None;
        }
        let bytes = URL_SAFE_NO_PAD.decode(baton).ok()?;
        let bytes: [u8; BODY + TAG] = bytes.try_into().ok()?;
        let mut mac = self.mac();
        mac.update(&bytes[..BODY]);
        mac.verify_truncated_left(&bytes[BODY..]).ok()?;
        let id = u64::from_be_bytes(bytes[..8].try_into().ok()?);
        let seq = u64::from_be_bytes(bytes[8..BODY].try_into().ok()?);
        Some((id, seq))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issued_batons_check_and_forgeries_do_not() {
        let key = BatonKey::random();
        let baton = key.issue(7, 3);
        assert_eq!(key.check(&baton), Some((7, 3)));
        assert_eq!(BatonKey::random().check(&baton), None, "another key");
        let mut forged = baton.clone().into_bytes();
        forged[2] = if forged[2] == b'A' { b'B' } else { b'A' };
        assert_eq!(
            key.check(std::str::from_utf8(&forged).expect("ascii")),
            None
        );
        for junk in ["", "abc", "!!!!", &"A".repeat(1000)] {
            assert_eq!(key.check(junk), None, "{junk}");
        }
    }
}
