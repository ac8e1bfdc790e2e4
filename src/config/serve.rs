//! `[serve]`: where `recon serve` listens, whom it believes (an authenticating proxy's header
//! from the proxy's addresses only, or per-user tokens) and what each person may do.

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};

use serde::Deserialize;

/// What a person may do on the triage page.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Role {
    /// Reads everything, changes nothing.
    Viewer,
    /// Acknowledges and assigns findings, except a sealed day's (`closed_period_modified`).
    Analyst,
    /// What an analyst may, and acknowledges a sealed day's findings too.
    Approver,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Analyst => "analyst",
            Role::Approver => "approver",
        }
    }

    pub fn parse(text: &str) -> Option<Role> {
        [Role::Viewer, Role::Analyst, Role::Approver]
            .into_iter()
            .find(|r| r.as_str() == text)
    }
}

/// How a request says who sends it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Identity {
    /// The authenticating proxy's header, believed only from `addresses`.
    Proxy {
        header: String,
        addresses: Vec<IpNet>,
    },
    /// `Authorization: Bearer <token>`, looked up by its SHA-256 in the store.
    Tokens,
}

/// An address block: an address and how many leading bits of it a peer must share.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpNet {
    address: IpAddr,
    prefix: u8,
}

impl IpNet {
    /// `10.0.0.0/8`, `::1/128`, or an address alone (all its bits).
    pub fn parse(text: &str) -> Result<IpNet, String> {
        let (address, prefix) = match text.split_once('/') {
            Some((address, prefix)) => (address, Some(prefix)),
            None => (text, None),
        };
        let address: IpAddr = address
            .trim()
            .parse()
            .map_err(|_| format!("{text:?} is not an IP address or CIDR block"))?;
        let bits = if address.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => bits,
            Some(p) => p
                .trim()
                .parse::<u8>()
                .ok()
                .filter(|p| *p <= bits)
                .ok_or_else(|| format!("{text:?}: the prefix length must be 0 to {bits}"))?,
        };
        Ok(IpNet { address, prefix })
    }

    /// True when `peer` is inside the block (an IPv4 peer written as IPv6 counts as IPv4).
    pub fn contains(&self, peer: IpAddr) -> bool {
        let peer = match peer {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(peer, IpAddr::V4),
            v4 => v4,
        };
        if self.prefix == 0 {
            return self.address.is_ipv4() == peer.is_ipv4();
        }
        let (net, peer, bits) = match (self.address, peer) {
            (IpAddr::V4(n), IpAddr::V4(p)) => {
                (u128::from(n.to_bits()), u128::from(p.to_bits()), 32)
            }
            (IpAddr::V6(n), IpAddr::V6(p)) => (n.to_bits(), p.to_bits(), 128),
            _ => return false,
        };
        let shift = bits - u32::from(self.prefix);
        (net >> shift) == (peer >> shift)
    }
}

/// `[serve]` validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServeSettings {
    pub listen: SocketAddr,
    pub identity: Identity,
    /// The role of each person the proxy names; a person not here is refused.
    pub users: BTreeMap<String, Role>,
}

/// `[serve]` as written.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ServeFile {
    listen: Option<String>,
    identity: Option<String>,
    proxy_header: Option<String>,
    #[serde(default)]
    proxy_addresses: Vec<String>,
    #[serde(default)]
    users: BTreeMap<String, String>,
}

const DEFAULT_LISTEN: &str = "127.0.0.1:8080";

impl ServeFile {
    /// The settings, or the first thing wrong with them.
    pub(crate) fn settings(&self) -> Result<ServeSettings, String> {
        let listen = self.listen.as_deref().unwrap_or(DEFAULT_LISTEN);
        let listen: SocketAddr = listen
            .parse()
            .map_err(|_| format!("serve.listen: {listen:?} is not an address:port"))?;
        let identity = match self.identity.as_deref() {
            Some("proxy") => {
                let header = self
                    .proxy_header
                    .clone()
                    .filter(|h| axum::http::HeaderName::from_bytes(h.as_bytes()).is_ok())
                    .ok_or("serve.proxy_header: give the header the proxy names the person in (e.g. \"X-Forwarded-User\")")?;
                if self.proxy_addresses.is_empty() {
                    return Err("serve.proxy_addresses: give the proxy's addresses (IPs or CIDR blocks); the header is believed from them only".to_string());
                }
                let addresses = self
                    .proxy_addresses
                    .iter()
                    .map(|a| IpNet::parse(a).map_err(|m| format!("serve.proxy_addresses: {m}")))
                    .collect::<Result<Vec<_>, _>>()?;
                Identity::Proxy { header, addresses }
            }
            Some("tokens") => Identity::Tokens,
            Some(other) => {
                return Err(format!(
                    "serve.identity: {other:?} is neither \"proxy\" nor \"tokens\""
                ));
            }
            None => {
                return Err(
                    "serve.identity: say how people are identified: \"proxy\" or \"tokens\""
                        .to_string(),
                );
            }
        };
        let users = self
            .users
            .iter()
            .map(|(user, role)| {
                Role::parse(role).map(|r| (user.clone(), r)).ok_or_else(|| {
                    format!("serve.users.{user}: {role:?} is not viewer, analyst or approver")
                })
            })
            .collect::<Result<BTreeMap<_, _>, _>>()?;
        Ok(ServeSettings {
            listen,
            identity,
            users,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_address_block_holds_exactly_its_addresses() {
        let net = IpNet::parse("10.1.0.0/16").unwrap();
        assert!(net.contains("10.1.255.7".parse().unwrap()));
        assert!(!net.contains("10.2.0.1".parse().unwrap()));
        assert!(net.contains("::ffff:10.1.0.9".parse().unwrap()));
        let one = IpNet::parse("127.0.0.1").unwrap();
        assert!(one.contains("127.0.0.1".parse().unwrap()));
        assert!(!one.contains("127.0.0.2".parse().unwrap()));
        assert!(!one.contains("::1".parse().unwrap()));
        assert!(
            IpNet::parse("0.0.0.0/0")
                .unwrap()
                .contains("8.8.8.8".parse().unwrap())
        );
        assert!(
            IpNet::parse("fd00::/8")
                .unwrap()
                .contains("fd12::1".parse().unwrap())
        );
        assert_eq!(
            IpNet::parse("10.0.0.0/33"),
            Err("\"10.0.0.0/33\": the prefix length must be 0 to 32".to_string())
        );
        assert!(IpNet::parse("proxy.local").is_err());
    }

    #[test]
    fn a_proxy_identity_needs_its_header_and_addresses() {
        let file = ServeFile {
            identity: Some("proxy".into()),
            proxy_header: Some("X-Forwarded-User".into()),
            ..ServeFile::default()
        };
        assert_eq!(
            file.settings(),
            Err("serve.proxy_addresses: give the proxy's addresses (IPs or CIDR blocks); the header is believed from them only".to_string())
        );
        let file = ServeFile {
            proxy_addresses: vec!["127.0.0.1".into()],
            users: [("ana".to_string(), "approver".to_string())].into(),
            ..file
        };
        let settings = file.settings().unwrap();
        assert_eq!(settings.listen, "127.0.0.1:8080".parse().unwrap());
        assert_eq!(settings.users["ana"], Role::Approver);
    }
}
