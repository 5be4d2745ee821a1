//! Answers PTR questions in the reverse zones from Service and endpoint addresses.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use hickory_proto::rr::rdata::PTR;
use hickory_proto::rr::{Name, RData};

use super::records::{Lookup, child, finish};
use super::{Flow, ZoneCx, ZoneSource};
use crate::resolver::reply::{Question, record};
use crate::resolver::view::cluster_ips;

/// A reverse zone of a `kubernetes` plugin.
pub struct Reverse<'a> {
    /// The plugin's forward zone, in which PTR targets are named; a plugin
    /// with none has no name to point at, so every reverse name is missing.
    pub forward_zone: Option<&'a Name>,
}

impl ZoneSource for Reverse<'_> {
    fn lookup(&self, cx: &ZoneCx<'_>, q: &Question) -> Flow {
        let (Some(forward_zone), Some(ip)) = (self.forward_zone, reverse_ip(&q.name)) else {
            return Flow::NameError;
        };
        let records: Vec<_> = cx
            .view
            .ptr(ip)
            .filter(|t| {
                // Endpoint PTRs exist for headless services only.
                t.host.is_none()
                    || cx
                        .view
                        .service(&t.namespace, &t.service)
                        .is_some_and(|s| cluster_ips(s).is_empty())
            })
            .map(|t| {
                let mut labels: Vec<&str> = t.host.iter().map(String::as_str).collect();
                labels.extend([t.service.as_str(), t.namespace.as_str(), "svc"]);
                record(
                    &q.name,
                    cx.ttl,
                    RData::PTR(PTR(child(forward_zone, &labels))),
                )
            })
            .collect();
        finish(Lookup::of(records, Vec::new()), q.qtype)
    }
}

/// The address a reverse name (`4.3.2.1.in-addr.arpa.`, 32 nibbles of
/// `ip6.arpa.`) stands for.
pub fn reverse_ip(qname: &Name) -> Option<IpAddr> {
    let labels: Vec<String> = qname
        .iter()
        .map(|l| String::from_utf8_lossy(l).to_ascii_lowercase())
        .collect();
    let n = labels.len();
    if n == 6 && labels[4] == "in-addr" && labels[5] == "arpa" {
        let octets: Option<Vec<u8>> = labels[..4].iter().rev().map(|l| l.parse().ok()).collect();
        let o = octets?;
        return Some(IpAddr::V4(Ipv4Addr::new(o[0], o[1], o[2], o[3])));
    }
    if n == 34 && labels[32] == "ip6" && labels[33] == "arpa" {
        let mut value: u128 = 0;
        for l in labels[..32].iter().rev() {
            let d = u8::from_str_radix(l, 16).ok()?;
            if l.len() != 1 {
                return None;
            }
            value = (value << 4) | u128::from(d);
        }
        return Some(IpAddr::V6(Ipv6Addr::from(value)));
    }
    None
}

/// The reverse name of an address.
pub fn reverse_name(ip: IpAddr) -> Name {
    let text = match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            format!("{}.{}.{}.{}.in-addr.arpa.", o[3], o[2], o[1], o[0])
        }
        IpAddr::V6(v6) => {
            let mut s = String::new();
            for b in v6.octets().iter().rev() {
                s.push_str(&format!("{:x}.{:x}.", b & 0xf, b >> 4));
            }
            s.push_str("ip6.arpa.");
            s
        }
    };
    Name::from_ascii(text).expect("reverse names are valid")
}
