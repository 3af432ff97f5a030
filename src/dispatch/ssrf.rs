//! Callback URLs must not point the platform at its own network (SSRF): only
//! `https://` URLs, and every address the host resolves to must be public
//! unless the operator allow-listed its network
//! (`terugkoppeling.toegestane_netwerken`). The dispatcher resolves again at
//! every send and connects to the address it checked, so a DNS change after
//! registration cannot bypass the rule.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use ipnet::IpNet;
use reqwest::Url;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum UrlError {
    #[error("de URL is niet te lezen: {0}")]
    Unparsable(String),
    #[error("alleen https://-URL's zijn toegestaan")]
    NotHttps,
    #[error("de URL heeft geen hostnaam")]
    NoHost,
    #[error("gebruikersnaam of wachtwoord in de URL is niet toegestaan")]
    Credentials,
    #[error("de URL mag geen fragment (#) hebben")]
    Fragment,
    #[error("de host {0} is niet op te zoeken in DNS")]
    Unresolvable(String),
    #[error(
        "{host} verwijst naar {addr}, een intern adres ({kind}) dat callbacks niet mogen bereiken"
    )]
    Forbidden {
        host: String,
        addr: IpAddr,
        kind: &'static str,
    },
}

/// Checks the form of a callback URL (no network).
pub fn parse_url(s: &str) -> Result<Url, UrlError> {
    let url = Url::parse(s.trim()).map_err(|e| UrlError::Unparsable(e.to_string()))?;
    if url.scheme() != "https" {
        return Err(UrlError::NotHttps);
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(UrlError::NoHost);
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(UrlError::Credentials);
    }
    if url.fragment().is_some() {
        return Err(UrlError::Fragment);
    }
    Ok(url)
}

/// Why an address is internal, or `None` for a public address.
pub fn internal_kind(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => v4_kind(v4),
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return v4_kind(v4);
            }
            v6_kind(v6)
        }
    }
}

fn v4_kind(ip: Ipv4Addr) -> Option<&'static str> {
    let o = ip.octets();
    if ip.is_loopback() {
        Some("loopback")
    } else if ip.is_unspecified() || o[0] == 0 {
        Some("unspecified")
    } else if ip.is_private() || (o[0] == 100 && (o[1] & 0xc0) == 64) {
        // 100.64.0.0/10 is carrier-grade NAT: private in practice.
        Some("private")
    } else if ip.is_link_local() {
        Some("link-local")
    } else if ip.is_multicast() || ip.is_broadcast() || o[0] >= 240 {
        Some("multicast or reserved")
    } else {
        None
    }
}

fn v6_kind(ip: Ipv6Addr) -> Option<&'static str> {
    let s = ip.segments();
    if ip.is_loopback() {
        Some("loopback")
    } else if ip.is_unspecified() {
        Some("unspecified")
    } else if (s[0] & 0xfe00) == 0xfc00 {
        Some("private")
    } else if (s[0] & 0xffc0) == 0xfe80 {
        Some("link-local")
    } else if ip.is_multicast() {
        Some("multicast or reserved")
    } else {
        None
    }
}

/// Allowed: public, or inside an allow-listed network.
pub fn check_ip(ip: IpAddr, allow: &[IpNet]) -> Result<(), &'static str> {
    let canonical = match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
        v4 => v4,
    };
    match internal_kind(canonical) {
        None => Ok(()),
        Some(_) if allow.iter().any(|n| n.contains(&canonical)) => Ok(()),
        Some(kind) => Err(kind),
    }
}

/// Resolves the URL's host and checks every address; returns the address to
/// connect to.
pub async fn resolve(url: &Url, allow: &[IpNet]) -> Result<SocketAddr, UrlError> {
    let host = url.host_str().ok_or(UrlError::NoHost)?.to_owned();
    let port = url.port_or_known_default().unwrap_or(443);
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    let addrs: Vec<SocketAddr> = match bare.parse::<IpAddr>() {
        Ok(ip) => vec![SocketAddr::new(ip, port)],
        Err(_) => tokio::net::lookup_host((bare, port))
            .await
            .map_err(|_| UrlError::Unresolvable(host.clone()))?
            .collect(),
    };
    if addrs.is_empty() {
        return Err(UrlError::Unresolvable(host));
    }
    for a in &addrs {
        check_ip(a.ip(), allow).map_err(|kind| UrlError::Forbidden {
            host: host.clone(),
            addr: a.ip(),
            kind,
        })?;
    }
    Ok(addrs[0])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn internal_addresses_are_refused_unless_allow_listed() {
        for (a, kind) in [
            ("127.0.0.1", "loopback"),
            ("10.1.2.3", "private"),
            ("172.16.0.1", "private"),
            ("192.168.1.1", "private"),
            ("100.64.0.1", "private"),
            ("169.254.169.254", "link-local"),
            ("0.0.0.0", "unspecified"),
            ("224.0.0.1", "multicast or reserved"),
            ("::1", "loopback"),
            ("::", "unspecified"),
            ("fd00::1", "private"),
            ("fe80::1", "link-local"),
            ("::ffff:127.0.0.1", "loopback"),
            ("ff02::1", "multicast or reserved"),
        ] {
            assert_eq!(check_ip(ip(a), &[]), Err(kind), "{a}");
        }
        assert!(check_ip(ip("8.8.8.8"), &[]).is_ok());
        assert!(check_ip(ip("2001:4860::8888"), &[]).is_ok());
        let allow: Vec<IpNet> = vec!["127.0.0.0/8".parse().unwrap()];
        assert!(check_ip(ip("127.0.0.1"), &allow).is_ok());
        assert!(check_ip(ip("::ffff:127.0.0.1"), &allow).is_ok());
        assert!(check_ip(ip("10.0.0.1"), &allow).is_err());
    }

    #[test]
    fn only_plain_https_urls() {
        assert!(parse_url("https://zorg.example.nl/terugkoppeling").is_ok());
        assert_eq!(
            parse_url("http://zorg.example.nl/"),
            Err(UrlError::NotHttps)
        );
        assert_eq!(
            parse_url("https://u:p@zorg.example.nl/"),
            Err(UrlError::Credentials)
        );
        assert_eq!(
            parse_url("https://zorg.example.nl/#x"),
            Err(UrlError::Fragment)
        );
        assert!(matches!(
            parse_url("not a url"),
            Err(UrlError::Unparsable(_))
        ));
    }
}
