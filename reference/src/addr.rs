//! Log addresses (spec/identifiers.md, [ADDR-1], [ADDR-2]): where a log can be fetched from.
//!
//! A log address is a peer's multiaddr (ending in `/p2p/<peer-id>`) with `/ipel/<log-id>` appended.
//! `/ipel` is not a registered multiaddr protocol, so the address is kept as its two halves and only
//! joined in the text form.

use std::fmt;
use std::str::FromStr;

use multiaddr::{Multiaddr, Protocol};

use crate::error::{Error, ErrorCode, Result};
use crate::id::LogId;

/// The component that separates the peer address from the log ID [ADDR-1].
const IPEL: &str = "/ipel/";

/// A log address: a peer that serves the log, and the log [ADDR-1].
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub struct LogAddr {
    peer_addr: Multiaddr,
    peer: LogId,
    log: LogId,
}

impl LogAddr {
    /// Joins a peer multiaddr (which must end in `/p2p/<peer-id>`) and a log [ADDR-1], [ADDR-2].
    pub fn new(peer_addr: Multiaddr, log: LogId) -> Result<LogAddr> {
        let peer = match peer_addr.iter().last() {
            Some(Protocol::P2p(peer)) => LogId::try_from(peer).ok(),
            _ => None,
        };
        let peer = peer.ok_or_else(|| {
            Error::new(
                ErrorCode::AddrInvalid,
                "peer address must end in /p2p/<Ed25519 peer ID>",
            )
        })?;
        Ok(LogAddr {
            peer_addr,
            peer,
            log,
        })
    }

    /// The peer's multiaddr, ending in `/p2p/<peer-id>`.
    pub fn peer_addr(&self) -> &Multiaddr {
        &self.peer_addr
    }

    /// The peer that serves the log [LOGID-4].
    pub fn peer(&self) -> LogId {
        self.peer
    }

    /// The log this address serves.
    pub fn log(&self) -> LogId {
        self.log
    }
}

/// `<peer multiaddr>/ipel/<log-id>` [ADDR-1].
impl fmt::Display for LogAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{IPEL}{}", self.peer_addr, self.log)
    }
}

/// Parses the text form, rejecting every case of [ADDR-2].
impl FromStr for LogAddr {
    type Err = Error;

    fn from_str(text: &str) -> Result<LogAddr> {
        let bad = |why: String| Error::new(ErrorCode::AddrInvalid, why);
        // The log ID is the value of the last component; `ipel` may also appear as a value earlier
        // (e.g. `/dns4/ipel/…`), so split at the last occurrence and let the multiaddr parser judge
        // the rest: it rejects `/ipel` as an unknown protocol anywhere else.
        let (peer, log) = text
            .rsplit_once(IPEL)
            .ok_or_else(|| bad("no /ipel/ component".into()))?;
        if log.contains('/') {
            return Err(bad("/ipel/<log-id> must be the last component".into()));
        }
        let log = LogId::from_str(log).map_err(|e| bad(format!("log ID: {}", e.detail)))?;
        let peer_addr =
            Multiaddr::from_str(peer).map_err(|e| bad(format!("peer multiaddr: {e}")))?;
        LogAddr::new(peer_addr, log)
    }
}
