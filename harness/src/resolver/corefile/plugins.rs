//! Reads each simulated plugin's directive (`kubernetes`, `multicluster`, `header`, `cache`).

use hickory_proto::rr::Name;

use super::config::{
    CachePolicy, Fallthrough, Flag, FlagAction, Ignored, Plugin, PluginKind, PodsMode, ZonePlugin,
};
use super::{Corefile, CorefileError, Directive, Token};

pub(super) fn ignored_note(name: &str) -> &'static str {
    match name {
        "forward" | "proxy" | "grpc" => {
            "never simulated: mcsdns does not recurse; names outside the served zones are REFUSED"
        }
        "errors" | "log" | "health" | "ready" | "prometheus" | "reload" | "loop" | "debug"
        | "pprof" | "trace" => "no effect on answers",
        "loadbalance" => {
            "not simulated: record order is left as the engine builds it (expectations ignore order)"
        }
        _ => "not simulated",
    }
}

pub(super) fn server_zone(cf: &Corefile, key: &Token, part: &str) -> Result<Name, CorefileError> {
    let mut s = part;
    for scheme in ["dns://", "tls://", "https://", "grpc://", "quic://"] {
        s = s.strip_prefix(scheme).unwrap_or(s);
    }
    if let Some((host, port)) = s.rsplit_once(':') {
        if port.parse::<u16>().is_ok() {
            s = host;
        } else if !port.is_empty() {
            return Err(cf.error_at(key, format!("invalid port {port:?} in server address")));
        }
    }
    if s.is_empty() {
        s = ".";
    }
    zone_name(cf, key, s)
}

fn zone_name(cf: &Corefile, t: &Token, s: &str) -> Result<Name, CorefileError> {
    let mut name =
        Name::from_ascii(s).map_err(|e| cf.error_at(t, format!("invalid zone {s:?}: {e}")))?;
    name.set_fqdn(true);
    Ok(name.to_lowercase())
}

fn zones_of(
    cf: &Corefile,
    args: &[Token],
    block_zones: &[Name],
) -> Result<Vec<Name>, CorefileError> {
    if args.is_empty() {
        return Ok(block_zones.to_vec());
    }
    args.iter()
        .map(|t| {
            if t.text.contains('/') {
                Err(cf
                    .error_at(
                        t,
                        format!("CIDR reverse zone {:?} is not supported", t.text),
                    )
                    .with_hint("write the reverse zone as a name, e.g. in-addr.arpa"))
            } else {
                zone_name(cf, t, &t.text)
            }
        })
        .collect()
}

fn fallthrough(cf: &Corefile, d: &Directive) -> Result<Fallthrough, CorefileError> {
    if d.args.is_empty() {
        Ok(Fallthrough::All)
    } else {
        Ok(Fallthrough::Zones(zones_of(cf, &d.args, &[])?))
    }
}

pub(super) fn header(cf: &Corefile, d: &Directive) -> Result<Plugin, CorefileError> {
    let mut actions = Vec::new();
    for line in &d.block {
        let selector = line.name.text.as_str();
        if selector != "response" && selector != "query" {
            return Err(cf
                .error_at(&line.name, format!("unknown header selector {selector:?}"))
                .with_hint("write `response set ra` or `query clear rd`"));
        }
        let mut words = line.args.iter();
        let Some(op) = words.next() else {
            return Err(cf.error_at(&line.name, "expected `set` or `clear`"));
        };
        let set = match op.text.as_str() {
            "set" => true,
            "clear" => false,
            other => {
                return Err(cf.error_at(op, format!("expected `set` or `clear`, found {other:?}")));
            }
        };
        let flags: Vec<&Token> = words.collect();
        if flags.is_empty() {
            return Err(cf
                .error_at(op, "no flag named")
                .with_hint("flags: aa, ra, rd"));
        }
        for f in flags {
            let flag = match f.text.to_ascii_lowercase().as_str() {
                "aa" => Flag::Aa,
                "ra" => Flag::Ra,
                "rd" => Flag::Rd,
                other => {
                    return Err(cf
                        .error_at(f, format!("unknown flag {other:?}"))
                        .with_hint("flags: aa, ra, rd"));
                }
            };
            if selector == "response" {
                actions.push(FlagAction { set, flag });
            }
        }
    }
    Ok(Plugin::Header {
        actions,
        line: d.name.line,
    })
}

pub(super) fn kubernetes(
    cf: &Corefile,
    d: &Directive,
    block_zones: &[Name],
    ignored: &mut Vec<Ignored>,
) -> Result<ZonePlugin, CorefileError> {
    let mut p = ZonePlugin {
        kind: PluginKind::Kubernetes,
        zones: zones_of(cf, &d.args, block_zones)?,
        mcs_zones: Vec::new(),
        fallthrough: Fallthrough::Off,
        ttl: 5,
        pods: PodsMode::Disabled,
        noendpoints: false,
        line: d.name.line,
    };
    for opt in &d.block {
        match opt.name.text.as_str() {
            "fallthrough" => p.fallthrough = fallthrough(cf, opt)?,
            "ttl" => p.ttl = ttl(cf, opt)?,
            "pods" => {
                p.pods = match opt.args.first().map(|t| t.text.as_str()) {
                    Some("disabled") => PodsMode::Disabled,
                    Some("insecure") => PodsMode::Insecure,
                    Some("verified") => PodsMode::Verified,
                    _ => {
                        return Err(
                            cf.error_at(&opt.name, "pods takes disabled, insecure or verified")
                        );
                    }
                }
            }
            "multicluster" => {
                let zones = zones_of(cf, &opt.args, &[])?;
                if zones.is_empty() {
                    return Err(cf.error_at(&opt.name, "multicluster needs at least one zone"));
                }
                for z in &zones {
                    if !p.zones.contains(z) {
                        return Err(cf
                            .error_at(
                                &opt.name,
                                format!(
                                    "multicluster zone {z} is not a zone of this kubernetes block"
                                ),
                            )
                            .with_hint(format!(
                                "list it after `kubernetes` too: kubernetes {} {z}",
                                p.zones
                                    .iter()
                                    .map(|z| z.to_string())
                                    .collect::<Vec<_>>()
                                    .join(" ")
                            )));
                    }
                }
                p.mcs_zones = zones;
            }
            "endpoint"
            | "tls"
            | "kubeconfig"
            | "namespaces"
            | "labels"
            | "namespace_labels"
            | "noendpoints"
            | "endpoint_pod_names"
            | "ignore"
            | "apiserver_qps"
            | "apiserver_burst"
            | "apiserver_max_inflight"
            | "startup_timeout" => ignored.push(Ignored {
                name: format!("kubernetes/{}", opt.name.text),
                line: opt.name.line,
                note: "option accepted, not simulated",
            }),
            other => {
                return Err(cf
                    .error_at(&opt.name, format!("unknown property '{other}'"))
                    .with_hint("CoreDNS refuses to start with this Corefile"));
            }
        }
    }
    Ok(p)
}

pub(super) fn multicluster(
    cf: &Corefile,
    d: &Directive,
    block_zones: &[Name],
    ignored: &mut Vec<Ignored>,
) -> Result<ZonePlugin, CorefileError> {
    let zones = zones_of(cf, &d.args, block_zones)?;
    let mut p = ZonePlugin {
        kind: PluginKind::Multicluster,
        mcs_zones: zones.clone(),
        zones,
        fallthrough: Fallthrough::Off,
        ttl: 5,
        pods: PodsMode::Disabled,
        noendpoints: false,
        line: d.name.line,
    };
    for opt in &d.block {
        match opt.name.text.as_str() {
            "fallthrough" => p.fallthrough = fallthrough(cf, opt)?,
            "noendpoints" => p.noendpoints = true,
            "kubeconfig" => ignored.push(Ignored {
                name: format!("multicluster/{}", opt.name.text),
                line: opt.name.line,
                note: "option accepted, not simulated",
            }),
            other => {
                return Err(cf
                    .error_at(&opt.name, format!("unknown property '{other}'"))
                    .with_hint(
                        "the multicluster plugin takes kubeconfig, noendpoints and fallthrough",
                    ));
            }
        }
    }
    Ok(p)
}

/// Submariner Lighthouse's directive: `lighthouse [ZONES] { fallthrough
/// [ZONES]; ttl 0..3600 }` (plugin/setup.go), TTL 5 by default.
pub(super) fn lighthouse(
    cf: &Corefile,
    d: &Directive,
    block_zones: &[Name],
) -> Result<ZonePlugin, CorefileError> {
    let zones = zones_of(cf, &d.args, block_zones)?;
    let mut p = ZonePlugin {
        kind: PluginKind::Lighthouse,
        mcs_zones: zones.clone(),
        zones,
        fallthrough: Fallthrough::Off,
        ttl: 5,
        pods: PodsMode::Disabled,
        noendpoints: false,
        line: d.name.line,
    };
    for opt in &d.block {
        match opt.name.text.as_str() {
            "fallthrough" => p.fallthrough = fallthrough(cf, opt)?,
            "ttl" => p.ttl = ttl(cf, opt)?,
            other => {
                return Err(cf
                    .error_at(&opt.name, format!("unknown property '{other}'"))
                    .with_hint("the lighthouse plugin takes fallthrough and ttl"));
            }
        }
    }
    Ok(p)
}

fn ttl(cf: &Corefile, d: &Directive) -> Result<u32, CorefileError> {
    let t = d
        .args
        .first()
        .ok_or_else(|| cf.error_at(&d.name, "ttl needs a value"))?;
    match t.text.parse::<u32>() {
        Ok(v) if v <= 3600 => Ok(v),
        _ => Err(cf.error_at(
            t,
            format!("ttl must be a number from 0 to 3600, found {:?}", t.text),
        )),
    }
}

fn seconds(cf: &Corefile, t: &Token) -> Result<u32, CorefileError> {
    let text = t.text.trim_end_matches('s');
    text.parse::<u32>().map_err(|_| {
        cf.error_at(
            t,
            format!("expected a number of seconds, found {:?}", t.text),
        )
    })
}

pub(super) fn cache(
    cf: &Corefile,
    d: &Directive,
    block_zones: &[Name],
) -> Result<CachePolicy, CorefileError> {
    let mut args = d.args.iter();
    let mut policy = CachePolicy {
        zones: block_zones.to_vec(),
        success_max: 3600,
        success_min: 5,
        denial_max: 1800,
        denial_min: 5,
        success: true,
        denial: true,
        servfail: 5,
        line: d.name.line,
    };
    let rest: Vec<&Token> = match d.args.first() {
        Some(t) if t.text.parse::<u32>().is_ok() => {
            let ttl = seconds(cf, t)?;
            policy.success_max = ttl;
            policy.denial_max = ttl;
            args.next();
            args.collect()
        }
        _ => args.collect(),
    };
    if !rest.is_empty() {
        policy.zones = rest
            .iter()
            .map(|t| zone_name(cf, t, &t.text))
            .collect::<Result<_, _>>()?;
    }
    for opt in &d.block {
        match opt.name.text.as_str() {
            "success" | "denial" => {
                let max = opt.args.get(1).map(|t| seconds(cf, t)).transpose()?;
                let min = opt.args.get(2).map(|t| seconds(cf, t)).transpose()?;
                if let Some(max) = max {
                    if opt.name.text == "success" {
                        policy.success_max = max
                    } else {
                        policy.denial_max = max
                    }
                }
                if let Some(min) = min {
                    if opt.name.text == "success" {
                        policy.success_min = min
                    } else {
                        policy.denial_min = min
                    }
                }
            }
            "servfail" => {
                let t = opt
                    .args
                    .first()
                    .ok_or_else(|| cf.error_at(&opt.name, "servfail needs a duration"))?;
                policy.servfail = seconds(cf, t)?.min(300);
            }
            "disable" => match opt.args.first().map(|t| t.text.as_str()) {
                Some("success") => policy.success = false,
                Some("denial") => policy.denial = false,
                _ => return Err(cf.error_at(&opt.name, "disable takes success or denial")),
            },
            // Not simulated: they change when entries are refreshed, not what a fresh cache serves.
            "prefetch" | "serve_stale" | "keepttl" => {}
            other => return Err(cf.error_at(&opt.name, format!("unknown property '{other}'"))),
        }
    }
    Ok(policy)
}
