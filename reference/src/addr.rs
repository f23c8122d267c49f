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
    /// Joins a peer multiaddr (which must end in `/p2p/<peer-id>`) and a log [ADDR-1], [ADDR-2],
    /// [ADDR-3].
    pub fn new(peer_addr: Multiaddr, log: LogId) -> Result<LogAddr> {
        check_subset(&peer_addr)?;
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

/// Parses the text form, rejecting every case of [ADDR-2], [ADDR-3] and [ADDR-4].
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
        check_subset(&peer_addr)?;
        // One text per address [ADDR-4]: the parser accepts spellings (`/ipfs/`, `+80`, `080`,
        // uncompressed IPv6, a trailing `/`) that re-encode differently.
        if peer_addr.to_string() != peer {
            return Err(bad(format!(
                "peer multiaddr is not in its canonical text {peer_addr}"
            )));
        }
        LogAddr::new(peer_addr, log)
    }
}

/// Checks the grammar and values of [ADDR-3] on a parsed peer multiaddr (the values' canonical
/// text is [ADDR-4]'s re-encoding check).
fn check_subset(addr: &Multiaddr) -> Result<()> {
    let bad = |why: String| Error::new(ErrorCode::AddrInvalid, why);
    let parts: Vec<Protocol<'_>> = addr.iter().collect();
    let (last, network) = parts
        .split_last()
        .ok_or_else(|| bad("empty peer multiaddr".into()))?;
    if !matches!(last, Protocol::P2p(_)) {
        return Err(bad("peer multiaddr must end in /p2p/<peer-id>".into()));
    }
    let host_ok = |p: &Protocol<'_>| -> Result<bool> {
        Ok(match p {
            Protocol::Ip4(_) => true,
            Protocol::Ip6(ip) => {
                if ip.to_ipv4_mapped().is_some() {
                    return Err(bad(format!("{ip} is IPv4-mapped: use /ip4/")));
                }
                true
            }
            Protocol::Dns(name) | Protocol::Dns4(name) | Protocol::Dns6(name) => {
                check_name(name)?;
                true
            }
            _ => false,
        })
    };
    let ok = match network {
        [] => true,
        [Protocol::Dnsaddr(name)] => {
            check_name(name)?;
            true
        }
        [host, Protocol::Tcp(_)] => host_ok(host)?,
        [
            host,
            Protocol::Tcp(_),
            Protocol::Ws(path) | Protocol::Wss(path),
        ] => path == "/" && host_ok(host)?,
        [host, Protocol::Udp(_), Protocol::QuicV1] => host_ok(host)?,
        _ => false,
    };
    if !ok {
        return Err(bad(format!(
            "{addr} is not a peer multiaddr ADDR-3 accepts (ip4, ip6, dns, dns4, dns6 with tcp [ws|wss] \
             or udp quic-v1, or dnsaddr, then p2p)"
        )));
    }
    Ok(())
}

/// A host name as [ADDR-3] allows it: lower-case LDH labels of 1 to 63 characters, 253 in all.
fn check_name(name: &str) -> Result<()> {
    let label_ok = |label: &str| {
        (1..=63).contains(&label.len())
            && label
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && !label.starts_with('-')
            && !label.ends_with('-')
    };
    if (1..=253).contains(&name.len()) && name.split('.').all(label_ok) {
        Ok(())
    } else {
        Err(Error::new(
            ErrorCode::AddrInvalid,
            format!("{name:?} is not a lower-case host name"),
        ))
    }
}
