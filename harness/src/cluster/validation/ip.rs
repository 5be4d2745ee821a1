//! Checks IP addresses as kube-apiserver does, which is not what Rust's
//! parser alone says: Go's "sloppy" parser (k8s.io/utils/net) takes IPv4
//! parts with leading zeros and treats IPv4-mapped IPv6 as IPv4, and the
//! strict checks (`IsValidIP`) then want the canonical form.
//!
//! Messages are those of apimachinery's `validation/ip.go` and
//! `ValidateEndpointIP` in kubernetes' core validation.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::field::{FieldError, Path};

/// Go's `ParseIPSloppy`: IPv4 parts may have leading zeros ("010" is 10).
pub fn sloppy(s: &str) -> Option<IpAddr> {
    if let Ok(ip) = s.parse::<IpAddr>() {
        return Some(ip);
    }
    if !s.contains(':') {
        return sloppy_v4(s).map(IpAddr::V4);
    }
    // An IPv6 address whose embedded IPv4 tail has leading zeros.
    let (head, tail) = s.rsplit_once(':')?;
    let v4 = sloppy_v4(tail)?;
    format!("{head}:{v4}")
        .parse::<Ipv6Addr>()
        .ok()
        .map(IpAddr::V6)
}

fn sloppy_v4(s: &str) -> Option<Ipv4Addr> {
    let parts: Vec<&str> = s.split('.').collect();
    if parts.len() != 4 {
        return None;
    }
    let mut octets = [0u8; 4];
    for (o, p) in octets.iter_mut().zip(parts) {
        if p.is_empty() || !p.bytes().all(|c| c.is_ascii_digit()) {
            return None;
        }
        *o = p.trim_start_matches('0').parse::<u8>().ok().or_else(|| {
            // All zeros ("000") trims to "".
            p.bytes().all(|c| c == b'0').then_some(0)
        })?;
    }
    Some(Ipv4Addr::from(octets))
}

/// The address as Go sees it: an IPv4-mapped IPv6 address is IPv4.
fn as_go(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6
            .to_ipv4_mapped()
            .map(IpAddr::V4)
            .unwrap_or(IpAddr::V6(v6)),
        v4 => v4,
    }
}

/// Go's `net.IP.String()`.
fn go_string(ip: IpAddr) -> String {
    as_go(ip).to_string()
}

/// `netutils.IsIPv4String`: parses, and is IPv4 (or IPv4-mapped).
pub fn is_ipv4(s: &str) -> bool {
    sloppy(s).is_some_and(|ip| as_go(ip).is_ipv4())
}

/// `netutils.IsIPv6String`: parses, and is not IPv4.
pub fn is_ipv6(s: &str) -> bool {
    sloppy(s).is_some_and(|ip| as_go(ip).is_ipv6())
}

const NOT_AN_IP: &str = "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)";

/// `IsValidIPForLegacyField` with strict validation off (its default in
/// 1.34): anything the sloppy parser reads.
pub fn legacy(field: &Path, value: &str) -> Vec<FieldError> {
    match sloppy(value) {
        Some(_) => Vec::new(),
        None => vec![FieldError::invalid(field, value, NOT_AN_IP)],
    }
}

/// `IsValidIP`: a strict, canonical address.
pub fn strict(field: &Path, value: &str) -> Vec<FieldError> {
    let Some(ip) = sloppy(value) else {
        return vec![FieldError::invalid(field, value, NOT_AN_IP)];
    };
    let mut errs = Vec::new();
    match value.parse::<IpAddr>() {
        Err(_) => errs.push(FieldError::invalid(
            field,
            value,
            "must not have leading 0s",
        )),
        Ok(IpAddr::V6(v6)) if v6.to_ipv4_mapped().is_some() => errs.push(FieldError::invalid(
            field,
            value,
            "must not be an IPv4-mapped IPv6 address",
        )),
        Ok(_) => {}
    }
    if errs.is_empty() && go_string(ip) != value {
        errs.push(FieldError::invalid(
            field,
            value,
            format!("must be in canonical form (\"{}\")", go_string(ip)),
        ));
    }
    errs
}

/// `GetWarningsForIP`: what a legacy field accepts but should not hold.
pub fn warnings(field: &Path, value: &str) -> Vec<String> {
    let Some(ip) = sloppy(value) else {
        return Vec::new();
    };
    match value.parse::<IpAddr>() {
        Err(_) => vec![format!(
            "{field}: non-standard IP address {value:?} will be considered invalid in a future Kubernetes release: use {:?}",
            go_string(ip)
        )],
        Ok(IpAddr::V6(v6)) if v6.to_ipv4_mapped().is_some() => vec![format!(
            "{field}: non-standard IP address {value:?} will be considered invalid in a future Kubernetes release: use {:?}",
            go_string(ip)
        )],
        Ok(IpAddr::V6(v6)) if v6.to_string() != value => vec![format!(
            "{field}: IPv6 address {value:?} should be in RFC 5952 canonical format ({:?})",
            v6.to_string()
        )],
        Ok(_) => Vec::new(),
    }
}

/// `ValidateEndpointIP`: not unspecified, loopback or link-local, which
/// no endpoint can be reached at.
pub fn endpoint(field: &Path, value: &str) -> Vec<FieldError> {
    let Some(ip) = sloppy(value).map(as_go) else {
        return vec![FieldError::invalid(
            field,
            value,
            "must be a valid IP address",
        )];
    };
    let mut errs = Vec::new();
    if ip.is_unspecified() {
        errs.push(FieldError::invalid(
            field,
            value,
            format!("may not be unspecified ({value})"),
        ));
    }
    if ip.is_loopback() {
        errs.push(FieldError::invalid(
            field,
            value,
            "may not be in the loopback range (127.0.0.0/8, ::1/128)",
        ));
    }
    let (link_local, link_local_multicast) = match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            (v4.is_link_local(), o[0] == 224 && o[1] == 0 && o[2] == 0)
        }
        IpAddr::V6(v6) => {
            let o = v6.octets();
            (
                o[0] == 0xfe && o[1] & 0xc0 == 0x80,
                o[0] == 0xff && o[1] & 0x0f == 0x02,
            )
        }
    };
    if link_local {
        errs.push(FieldError::invalid(
            field,
            value,
            "may not be in the link-local range (169.254.0.0/16, fe80::/10)",
        ));
    }
    if link_local_multicast {
        errs.push(FieldError::invalid(
            field,
            value,
            "may not be in the link-local multicast range (224.0.0.0/24, ff02::/10)",
        ));
    }
    errs
}

#[cfg(test)]
mod tests {
    use super::*;

    fn details(errs: Vec<FieldError>) -> Vec<String> {
        errs.into_iter().map(|e| e.detail).collect()
    }

    #[test]
    fn the_sloppy_parser_reads_what_go_reads() {
        assert_eq!(sloppy("010.0.0.1"), Some("10.0.0.1".parse().unwrap()));
        assert_eq!(sloppy("10.0.0.000"), Some("10.0.0.0".parse().unwrap()));
        assert!(sloppy("10.0.0.256").is_none() && sloppy("10.0.0").is_none());
        assert!(sloppy("fe80::1%eth0").is_none());
        assert!(is_ipv4("::ffff:10.0.0.1") && !is_ipv6("::ffff:10.0.0.1"));
        assert!(is_ipv6("fd00::10") && !is_ipv4("fd00::10"));
    }

    #[test]
    fn strict_addresses_are_canonical() {
        let f = Path::new("x");
        assert!(strict(&f, "fd00::10").is_empty());
        assert_eq!(
            details(strict(&f, "FD00:0::10")),
            [r#"must be in canonical form ("fd00::10")"#]
        );
        assert_eq!(
            details(strict(&f, "010.0.0.1")),
            ["must not have leading 0s"]
        );
        assert_eq!(
            details(strict(&f, "::ffff:10.0.0.1")),
            ["must not be an IPv4-mapped IPv6 address"]
        );
        assert_eq!(details(strict(&f, "nope")), [NOT_AN_IP]);
        assert!(legacy(&f, "010.0.0.1").is_empty());
        assert_eq!(
            warnings(&f, "010.0.0.1"),
            [
                r#"x: non-standard IP address "010.0.0.1" will be considered invalid in a future Kubernetes release: use "10.0.0.1""#
            ]
        );
        assert!(warnings(&f, "10.0.0.1").is_empty());
    }

    #[test]
    fn endpoints_may_not_be_special() {
        let f = Path::new("x");
        for (ip, want) in [
            ("127.0.0.5", "loopback"),
            ("::1", "loopback"),
            ("169.254.1.1", "link-local range"),
            ("fe80::1", "link-local range"),
            ("224.0.0.9", "link-local multicast"),
            ("ff02::1", "link-local multicast"),
            ("0.0.0.0", "unspecified"),
        ] {
            let d = details(endpoint(&f, ip));
            assert!(d.len() == 1 && d[0].contains(want), "{ip}: {d:?}");
        }
        assert!(endpoint(&f, "10.1.2.3").is_empty());
    }
}
