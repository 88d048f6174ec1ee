//! The client's IP address when the gateway stands behind reverse proxies (a load balancer,
//! nginx, an ingress).
//!
//! The TCP peer of such a request is the proxy; the client is named in a header the proxy
//! adds. Anyone can send that header too, so it is read only when the peer is one of
//! `gateway.trusted_proxies`, and then only from the right: each trusted proxy appends the
//! address it received the request from, so the rightmost hop that is not a trusted proxy is
//! the client as far as anyone trustworthy can tell. Hops further left may have been written by
//! the client and are ignored. A header that does not parse, a hop that is
//! `unknown` or obfuscated, or a request without the header count as the peer itself.
//!
//! Only one header is read (`gateway.client_ip_header`): if both were, a client could send the
//! one the proxies do not overwrite and choose its own address.
//!
//! The middleware `resolve` puts the result in the request's extensions as [`ClientIp`], read
//! by the rate limiter, and on the response for the access log
//! (`platform::http::track_requests`).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;

use axum::extract::{ConnectInfo, Request, State};
use axum::middleware::Next;
use axum::response::Response;
use http::HeaderMap;
use http::header::FORWARDED;
pub use innkeeper_platform::http::ClientIp;
use ipnet::IpNet;
use serde::{Deserialize, Serialize};

/// `gateway.trusted_proxies`: the networks of reverse proxies whose forwarding header is
/// believed. Written as CIDRs (`10.0.0.0/8`, `fd00::/8`) or single addresses (`192.0.2.10`).
/// Empty (the default): forwarding headers are ignored and the peer is the client.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "Vec<String>", into = "Vec<String>")]
pub struct TrustedProxies(Vec<IpNet>);

impl TrustedProxies {
    /// Whether `ip` belongs to a trusted proxy (IPv4-mapped IPv6 addresses count as IPv4).
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        self.0.iter().any(|net| net.contains(&ip))
    }

    /// Whether no proxy is trusted.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl TryFrom<Vec<String>> for TrustedProxies {
    type Error = String;

    fn try_from(entries: Vec<String>) -> Result<Self, String> {
        entries
            .iter()
            .map(|entry| {
                let entry = entry.trim();
                entry
                    .parse::<IpNet>()
                    .map(|net| net.trunc())
                    .or_else(|_| entry.parse::<IpAddr>().map(IpNet::from))
                    .map_err(|_| {
                        format!("{entry:?} is not a network (10.0.0.0/8, fd00::/8) or an address")
                    })
            })
            .collect::<Result<_, _>>()
            .map(Self)
    }
}

impl From<TrustedProxies> for Vec<String> {
    fn from(proxies: TrustedProxies) -> Self {
        proxies.0.iter().map(ToString::to_string).collect()
    }
}

/// `gateway.client_ip_header`: which header trusted proxies name the client in.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ClientIpHeader {
    /// `X-Forwarded-For: client, proxy1, proxy2` (nginx, HAProxy, most load balancers).
    #[default]
    XForwardedFor,
    /// RFC 7239 `Forwarded: for=client;proto=https, for="[2001:db8::1]:4711"`.
    Forwarded,
}

/// Finds the client address of requests: the trusted proxies and the header they write.
#[derive(Debug, Clone, Default)]
pub struct ClientIpResolver {
    proxies: TrustedProxies,
    header: ClientIpHeader,
}

impl ClientIpResolver {
    /// A resolver believing `header` from `proxies`.
    pub fn new(proxies: TrustedProxies, header: ClientIpHeader) -> Self {
        Self { proxies, header }
    }

    /// The client of a request that arrived from `peer` with `headers` (see the module docs).
    pub fn client(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        let peer = peer.to_canonical();
        if !self.proxies.contains(peer) {
            return peer;
        }
        let hops = match self.header {
            ClientIpHeader::XForwardedFor => header_hops(headers, "x-forwarded-for", parse_xff_hop),
            ClientIpHeader::Forwarded => header_hops(headers, FORWARDED.as_str(), parse_forwarded),
        };
        let Some(hops) = hops else {
            return peer;
        };
        let mut client = peer;
        for hop in hops.into_iter().rev() {
            client = hop.to_canonical();
            if !self.proxies.contains(client) {
                break;
            }
        }
        client
    }
}

/// The hops of every `name` header line, in order; `None` when there is none or any hop does
/// not parse.
fn header_hops(
    headers: &HeaderMap,
    name: &str,
    parse: fn(&str) -> Option<IpAddr>,
) -> Option<Vec<IpAddr>> {
    let mut hops = Vec::new();
    for value in headers.get_all(name) {
        for hop in value.to_str().ok()?.split(',') {
            hops.push(parse(hop.trim())?);
        }
    }
    (!hops.is_empty()).then_some(hops)
}

/// An `X-Forwarded-For` hop: an address, or (as some proxies write) an address with a port.
fn parse_xff_hop(hop: &str) -> Option<IpAddr> {
    hop.parse::<IpAddr>()
        .ok()
        .or_else(|| hop.parse::<SocketAddr>().ok().map(|a| a.ip()))
}

/// The `for=` node of a `Forwarded` element (`for=192.0.2.60;proto=http;by=203.0.113.43`).
fn parse_forwarded(element: &str) -> Option<IpAddr> {
    let node = element.split(';').find_map(|pair| {
        let (key, value) = pair.split_once('=')?;
        key.trim()
            .eq_ignore_ascii_case("for")
            .then_some(value.trim())
    })?;
    let node = node
        .strip_prefix('"')
        .and_then(|n| n.strip_suffix('"'))
        .unwrap_or(node);
    // `[2001:db8::1]` or `[2001:db8::1]:4711`; `192.0.2.60` or `192.0.2.60:4711`. `unknown`
    // and obfuscated (`_hidden`) nodes name no address.
    if let Some(rest) = node.strip_prefix('[') {
        let (v6, port) = rest.split_once(']')?;
        if !(port.is_empty() || port.strip_prefix(':').is_some_and(is_port)) {
            return None;
        }
        return v6.parse::<Ipv6Addr>().ok().map(IpAddr::V6);
    }
    let (v4, port) = match node.split_once(':') {
        Some((v4, port)) => (v4, Some(port)),
        None => (node, None),
    };
    if port.is_some_and(|p| !is_port(p)) {
        return None;
    }
    v4.parse::<Ipv4Addr>().ok().map(IpAddr::V4)
}

fn is_port(port: &str) -> bool {
    port.parse::<u16>().is_ok()
}

/// Middleware: puts the request's [`ClientIp`] in its extensions and on its response. Without
/// `ConnectInfo` (in-process calls) nothing is known and nothing is added.
pub(crate) async fn resolve(
    State(resolver): State<Arc<ClientIpResolver>>,
    mut request: Request,
    next: Next,
) -> Response {
    let Some(ConnectInfo(peer)) = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .copied()
    else {
        return next.run(request).await;
    };
    let client = ClientIp(resolver.client(peer.ip(), request.headers()));
    request.extensions_mut().insert(client);
    let mut response = next.run(request).await;
    response.extensions_mut().insert(client);
    response
}

#[cfg(test)]
mod tests {
    use http::HeaderValue;

    use super::*;

    fn resolver(proxies: &[&str], header: ClientIpHeader) -> ClientIpResolver {
        let proxies = proxies.iter().map(|p| (*p).to_owned()).collect::<Vec<_>>();
        ClientIpResolver::new(
            TrustedProxies::try_from(proxies).expect("valid networks"),
            header,
        )
    }

    fn headers(name: &str, values: &[&str]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for v in values {
            headers.append(
                http::HeaderName::from_bytes(name.as_bytes()).expect("a name"),
                HeaderValue::from_str(v).expect("a value"),
            );
        }
        headers
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("an address")
    }

    #[test]
    fn forwarding_headers_from_an_untrusted_peer_are_ignored() {
        let r = resolver(&["10.0.0.0/8"], ClientIpHeader::XForwardedFor);
        let spoofed = headers("x-forwarded-for", &["198.51.100.1"]);
        assert_eq!(r.client(ip("192.0.2.7"), &spoofed), ip("192.0.2.7"));
        // Nothing trusted: the peer, whatever is sent.
        let none = ClientIpResolver::default();
        assert_eq!(none.client(ip("10.0.0.1"), &spoofed), ip("10.0.0.1"));
    }

    #[test]
    fn x_forwarded_for_yields_the_rightmost_untrusted_hop() {
        let r = resolver(&["10.0.0.0/8", "192.0.2.10"], ClientIpHeader::XForwardedFor);
        let proxy = ip("10.1.2.3");
        for (values, client) in [
            (&["203.0.113.5"][..], "203.0.113.5"),
            // The client's own (spoofed) entries stand left of what the proxies appended.
            (&["1.1.1.1, 203.0.113.5"], "203.0.113.5"),
            (
                &["1.1.1.1, 203.0.113.5, 10.9.9.9, 192.0.2.10"],
                "203.0.113.5",
            ),
            // Several header lines are one list.
            (&["1.1.1.1", "203.0.113.5, 10.9.9.9"], "203.0.113.5"),
            (&[" 2001:db8::7 "], "2001:db8::7"),
            (&["203.0.113.5:41234"], "203.0.113.5"),
            (&["[2001:db8::7]:443"], "2001:db8::7"),
            (&["::ffff:203.0.113.5"], "203.0.113.5"),
            // Only proxies: the leftmost, the farthest one known.
            (&["10.0.0.9, 10.0.0.8"], "10.0.0.9"),
        ] {
            let h = headers("x-forwarded-for", values);
            assert_eq!(r.client(proxy, &h), ip(client), "{values:?}");
        }
    }

    #[test]
    fn a_malformed_or_missing_header_falls_back_to_the_peer() {
        let r = resolver(&["10.0.0.0/8"], ClientIpHeader::XForwardedFor);
        let proxy = ip("10.1.2.3");
        for values in [
            &[][..],
            &[""],
            &["not-an-ip"],
            &["203.0.113.5, "],
            &["203.0.113.5,,10.0.0.1"],
            &["unknown"],
            &["203.0.113.5 198.51.100.1"],
        ] {
            let h = headers("x-forwarded-for", values);
            assert_eq!(r.client(proxy, &h), proxy, "{values:?}");
        }
        // Not valid UTF-8 / visible ASCII.
        let mut h = HeaderMap::new();
        h.insert(
            "x-forwarded-for",
            HeaderValue::from_bytes(b"203.0.113.5\xff").expect("opaque bytes"),
        );
        assert_eq!(r.client(proxy, &h), proxy);
    }

    #[test]
    fn forwarded_is_read_only_when_configured() {
        let xff = resolver(&["10.0.0.0/8"], ClientIpHeader::XForwardedFor);
        let fwd = resolver(&["10.0.0.0/8"], ClientIpHeader::Forwarded);
        let proxy = ip("10.1.2.3");
        let both = {
            let mut h = headers("forwarded", &["for=198.51.100.9"]);
            h.insert("x-forwarded-for", HeaderValue::from_static("203.0.113.5"));
            h
        };
        assert_eq!(xff.client(proxy, &both), ip("203.0.113.5"));
        assert_eq!(fwd.client(proxy, &both), ip("198.51.100.9"));
    }

    #[test]
    fn forwarded_elements_are_parsed_per_rfc_7239() {
        let r = resolver(&["10.0.0.0/8"], ClientIpHeader::Forwarded);
        let proxy = ip("10.1.2.3");
        for (values, client) in [
            (&["for=203.0.113.5"][..], "203.0.113.5"),
            (&["For=\"203.0.113.5:4711\";proto=https"], "203.0.113.5"),
            (&["for=\"[2001:db8:cafe::17]:4711\""], "2001:db8:cafe::17"),
            (&["for=\"[2001:db8:cafe::17]\""], "2001:db8:cafe::17"),
            (
                &["for=1.1.1.1, proto=http;for=203.0.113.5;by=10.0.0.1, for=10.0.0.2"],
                "203.0.113.5",
            ),
            (&["for=1.1.1.1", "for=203.0.113.5"], "203.0.113.5"),
        ] {
            let h = headers("forwarded", values);
            assert_eq!(r.client(proxy, &h), ip(client), "{values:?}");
        }
        for values in [
            &["for=unknown"][..],
            &["for=_hidden"],
            &["proto=https"],
            &["for=2001:db8::1"],
            &["for=\"[2001:db8::1]:x\""],
            &["for=203.0.113.5:99999"],
            &["for=203.0.113.5, for=unknown"],
        ] {
            let h = headers("forwarded", values);
            assert_eq!(r.client(proxy, &h), proxy, "{values:?}");
        }
    }

    #[test]
    fn proxies_are_networks_or_addresses() {
        let parsed = TrustedProxies::try_from(vec![
            "10.0.0.0/8".to_owned(),
            "192.0.2.10".to_owned(),
            "fd00::/8".to_owned(),
            "172.16.5.4/12".to_owned(),
        ])
        .expect("valid");
        assert_eq!(
            Vec::<String>::from(parsed.clone()),
            ["10.0.0.0/8", "192.0.2.10/32", "fd00::/8", "172.16.0.0/12"]
        );
        assert!(parsed.contains(ip("10.200.0.1")));
        assert!(parsed.contains(ip("::ffff:10.200.0.1")));
        assert!(parsed.contains(ip("172.31.255.255")));
        assert!(!parsed.contains(ip("192.0.2.11")));
        assert!(!parsed.contains(ip("2001:db8::1")));
        let err = TrustedProxies::try_from(vec!["10.0.0.0/33".to_owned()]).expect_err("bad");
        assert!(err.contains("10.0.0.0/33"), "{err}");
        assert!(TrustedProxies::try_from(vec!["proxy.internal".to_owned()]).is_err());
    }
}
