//! Protocol versions and how a peer names them: WebSocket subprotocols and HTTP path prefixes.

use crate::Encoding;

/// The Tidepool protocol version this crate implements (SPEC.md).
pub const TIDEPOOL_PROTOCOL_VERSION: u32 = 1;

/// A Hrana version with its encoding, as negotiated on a WebSocket or named by an HTTP path.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Version {
    Hrana1,
    Hrana2,
    Hrana3,
}

/// A negotiated WebSocket subprotocol.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Subprotocol {
    pub version: Version,
    pub encoding: Encoding,
}

impl Subprotocol {
    /// Every subprotocol, in the server's order of preference.
    pub const ALL: [Subprotocol; 4] = [
        Subprotocol {
            version: Version::Hrana3,
            encoding: Encoding::Protobuf,
        },
        Subprotocol {
            version: Version::Hrana3,
            encoding: Encoding::Json,
        },
        Subprotocol {
            version: Version::Hrana2,
            encoding: Encoding::Json,
        },
        Subprotocol {
            version: Version::Hrana1,
            encoding: Encoding::Json,
        },
    ];

    /// The `Sec-WebSocket-Protocol` token.
    pub fn name(self) -> &'static str {
        match (self.version, self.encoding) {
            (Version::Hrana1, _) => "hrana1",
            (Version::Hrana2, _) => "hrana2",
            (Version::Hrana3, Encoding::Json) => "hrana3",
            (Version::Hrana3, Encoding::Protobuf) => "hrana3-protobuf",
        }
    }

    /// Parses a `Sec-WebSocket-Protocol` token.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.name() == name.trim())
    }

    /// Picks the server's most preferred subprotocol among those the client offered.
    pub fn negotiate<'a>(offered: impl IntoIterator<Item = &'a str>) -> Option<Self> {
        let offered: Vec<Subprotocol> = offered.into_iter().filter_map(Self::from_name).collect();
        Self::ALL.into_iter().find(|p| offered.contains(p))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn negotiation_prefers_the_newest_version() {
        let pick = |offer: &[&str]| Subprotocol::negotiate(offer.iter().copied()).map(|p| p.name());
        assert_eq!(pick(&["hrana2", "hrana3"]), Some("hrana3"));
        assert_eq!(
            pick(&["hrana3", "hrana3-protobuf"]),
            Some("hrana3-protobuf")
        );
        assert_eq!(pick(&["hrana1"]), Some("hrana1"));
        assert_eq!(pick(&["hrana4", "x"]), None);
        assert_eq!(pick(&[]), None);
    }
}
