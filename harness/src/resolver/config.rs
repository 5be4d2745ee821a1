//! Turns a Corefile into the resolver's configuration: which plugins answer
//! which zones, in which order, with which options.
//!
//! The chain order is CoreDNS's: the order of `plugin.cfg` at build time, not
//! the order of lines in the Corefile. Stock CoreDNS runs `header` before
//! `kubernetes`, and the multicluster plugin's README adds `multicluster`
//! after `kubernetes`; [`ResolverConfig::plugin_order`] changes that, as a
//! custom build would.

use std::fmt;
use std::path::Path;
use std::str::FromStr;

use hickory_proto::rr::Name;

use super::corefile::{Corefile, CorefileError, Directive, Token};

/// Which behaviour the MCS zone follows.
#[derive(
    Clone,
    Copy,
    Debug,
    Default,
    PartialEq,
    Eq,
    Hash,
    serde::Serialize,
    serde::Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Profile {
    /// The MCS DNS specification (KEP-1645), with documented choices where it is silent.
    #[default]
    Kep1645,
    /// The CoreDNS multicluster plugin as it really behaves, quirks included.
    Coredns,
}

impl fmt::Display for Profile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Profile::Kep1645 => "kep1645",
            Profile::Coredns => "coredns",
        })
    }
}

impl FromStr for Profile {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "kep1645" => Ok(Profile::Kep1645),
            "coredns" => Ok(Profile::Coredns),
            other => Err(format!(
                "unknown profile {other:?} (expected kep1645 or coredns)"
            )),
        }
    }
}

/// The plugins the resolver simulates.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PluginKind {
    /// `cache`: caches answers (before `header` in plugin.cfg).
    Cache,
    /// `header`: sets or clears response flags.
    Header,
    /// `kubernetes`: cluster.local (and, with its `multicluster` option, clusterset.local).
    Kubernetes,
    /// `multicluster`: the standalone plugin answering from ServiceImports.
    Multicluster,
}

impl PluginKind {
    /// The directive name.
    pub fn as_str(self) -> &'static str {
        match self {
            PluginKind::Cache => "cache",
            PluginKind::Header => "header",
            PluginKind::Kubernetes => "kubernetes",
            PluginKind::Multicluster => "multicluster",
        }
    }
}

impl FromStr for PluginKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "cache" => Ok(PluginKind::Cache),
            "header" => Ok(PluginKind::Header),
            "kubernetes" => Ok(PluginKind::Kubernetes),
            "multicluster" => Ok(PluginKind::Multicluster),
            other => Err(format!(
                "unknown plugin {other:?} (expected cache, header, kubernetes or multicluster)"
            )),
        }
    }
}

/// The chain order of a stock CoreDNS build with the multicluster plugin
/// added after `kubernetes`, as its README says.
pub const STOCK_ORDER: [PluginKind; 3] = [
    PluginKind::Header,
    PluginKind::Kubernetes,
    PluginKind::Multicluster,
];

/// A DNS header flag the `header` plugin can change.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flag {
    /// Authoritative answer.
    Aa,
    /// Recursion available.
    Ra,
    /// Recursion desired.
    Rd,
}

/// One `header` action on responses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FlagAction {
    /// Set (true) or clear (false).
    pub set: bool,
    /// The flag.
    pub flag: Flag,
}

/// How the `kubernetes` plugin answers `<ip>.<ns>.pod.<zone>`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum PodsMode {
    /// NXDOMAIN (the default).
    #[default]
    Disabled,
    /// Answer any well-formed dashed IP.
    Insecure,
    /// Answer only addresses of endpoints in that namespace.
    Verified,
}

/// Where `fallthrough` applies.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Fallthrough {
    /// No fallthrough: a name error is final.
    #[default]
    Off,
    /// Every zone of the plugin.
    All,
    /// Only names in these zones.
    Zones(Vec<Name>),
}

impl Fallthrough {
    /// Whether a name error for `qname` is passed to the next plugin.
    pub fn covers(&self, qname: &Name) -> bool {
        match self {
            Fallthrough::Off => false,
            Fallthrough::All => true,
            Fallthrough::Zones(z) => z.iter().any(|z| z.zone_of(qname)),
        }
    }
}

/// A zone plugin as configured in one server block.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ZonePlugin {
    /// Which plugin.
    pub kind: PluginKind,
    /// The zones it answers (lower-cased, fully qualified).
    pub zones: Vec<Name>,
    /// Zones answered from ServiceImports: all of them for `multicluster`, the
    /// `multicluster` option's zones for `kubernetes`.
    pub mcs_zones: Vec<Name>,
    /// Its `fallthrough`.
    pub fallthrough: Fallthrough,
    /// The TTL of its records.
    pub ttl: u32,
    /// Its `pods` mode (`kubernetes` only).
    pub pods: PodsMode,
    /// The Corefile line of the directive, for diagnoses.
    pub line: usize,
}

impl ZonePlugin {
    /// The most specific of its zones that contains `qname`.
    pub fn zone_for(&self, qname: &Name) -> Option<&Name> {
        self.zones
            .iter()
            .filter(|z| z.zone_of(qname))
            .max_by_key(|z| z.num_labels())
    }

    /// The first forward (non-reverse, non-MCS) zone: PTR targets are named there.
    pub fn forward_zone(&self) -> Option<&Name> {
        self.zones
            .iter()
            .find(|z| !super::zone::is_reverse(z) && !self.mcs_zones.contains(z))
    }
}

/// The `cache` plugin's settings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CachePolicy {
    /// Zones it caches (the block's by default).
    pub zones: Vec<Name>,
    /// Largest TTL for positive answers (3600, or `cache TTL`).
    pub success_max: u32,
    /// Smallest TTL for positive answers (5).
    pub success_min: u32,
    /// Largest TTL for NXDOMAIN/NODATA (1800, or `cache TTL`).
    pub denial_max: u32,
    /// Smallest TTL for NXDOMAIN/NODATA (5).
    pub denial_min: u32,
    /// Whether positive answers are cached (`disable success` turns it off).
    pub success: bool,
    /// Whether NXDOMAIN/NODATA are cached (`disable denial` turns it off).
    pub denial: bool,
    /// How long SERVFAIL is cached (5 s; `servfail 0` disables).
    pub servfail: u32,
    /// Corefile line.
    pub line: usize,
}

/// A plugin of the server block's chain.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Plugin {
    /// `header` with its response actions.
    Header {
        /// Actions on responses.
        actions: Vec<FlagAction>,
        /// Corefile line.
        line: usize,
    },
    /// `kubernetes` or `multicluster`.
    Zone(ZonePlugin),
    /// `cache`: simulated by the scenario runner on its virtual clock.
    Cache(CachePolicy),
}

impl Plugin {
    fn kind(&self) -> PluginKind {
        match self {
            Plugin::Header { .. } => PluginKind::Header,
            Plugin::Zone(z) => z.kind,
            Plugin::Cache(_) => PluginKind::Cache,
        }
    }
}

/// One server block: the zones it serves and its chain.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServerConfig {
    /// The block's zones (`.` serves everything).
    pub zones: Vec<Name>,
    /// Its plugins, in chain order.
    pub chain: Vec<Plugin>,
}

/// A directive the resolver does not simulate, listed for the user.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ignored {
    /// The directive (or option) name.
    pub name: String,
    /// Corefile line.
    pub line: usize,
    /// Why it does not matter here, or what is not simulated.
    pub note: &'static str,
}

/// The whole resolver configuration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResolverConfig {
    /// MCS behaviour.
    pub profile: Profile,
    /// Server blocks.
    pub servers: Vec<ServerConfig>,
    /// Directives and options not simulated.
    pub ignored: Vec<Ignored>,
    /// The Corefile's path, if one was read.
    pub corefile: Option<std::path::PathBuf>,
}

/// The Corefile used when none is given: cluster.local by `kubernetes`,
/// clusterset.local by `multicluster`, no `header` (so RA is off, as in CoreDNS).
pub const DEFAULT_COREFILE: &str = "\
.:53 {
    kubernetes cluster.local in-addr.arpa ip6.arpa {
        pods insecure
        fallthrough in-addr.arpa ip6.arpa
    }
    multicluster clusterset.local
}
";

impl ResolverConfig {
    /// The default configuration for a profile.
    pub fn default_for(profile: Profile) -> Self {
        let corefile = Corefile::parse(Path::new("<default Corefile>"), DEFAULT_COREFILE)
            .expect("the default Corefile parses");
        let mut config = ResolverConfig::from_corefile(&corefile, profile, &STOCK_ORDER)
            .expect("the default Corefile is valid");
        config.corefile = None;
        config
    }

    /// Interprets a parsed Corefile.
    pub fn from_corefile(
        corefile: &Corefile,
        profile: Profile,
        order: &[PluginKind],
    ) -> Result<Self, CorefileError> {
        let mut servers = Vec::new();
        let mut ignored = Vec::new();
        for block in &corefile.blocks {
            let mut zones = Vec::new();
            for key in &block.keys {
                for part in key.text.split(',').filter(|p| !p.is_empty()) {
                    zones.push(server_zone(corefile, key, part)?);
                }
            }
            let mut chain = Vec::new();
            for d in &block.directives {
                match d.name.text.as_str() {
                    "header" => chain.push(header(corefile, d)?),
                    "cache" => chain.push(Plugin::Cache(cache(corefile, d, &zones)?)),
                    "kubernetes" => {
                        chain.push(Plugin::Zone(kubernetes(corefile, d, &zones, &mut ignored)?))
                    }
                    "multicluster" => chain.push(Plugin::Zone(multicluster(
                        corefile,
                        d,
                        &zones,
                        &mut ignored,
                    )?)),
                    other => ignored.push(Ignored {
                        name: other.to_owned(),
                        line: d.name.line,
                        note: ignored_note(other),
                    }),
                }
            }
            let rank = |p: &Plugin| {
                order
                    .iter()
                    .position(|k| *k == p.kind())
                    .unwrap_or(usize::MAX)
            };
            chain.sort_by_key(rank);
            servers.push(ServerConfig { zones, chain });
        }
        Ok(ResolverConfig {
            profile,
            servers,
            ignored,
            corefile: Some(corefile.path.clone()),
        })
    }

    /// Reads a Corefile from disk.
    pub fn read(
        path: &Path,
        profile: Profile,
        order: &[PluginKind],
    ) -> Result<Self, CorefileError> {
        ResolverConfig::from_corefile(&Corefile::read(path)?, profile, order)
    }

    /// Overrides every zone plugin's TTL.
    pub fn with_ttl(mut self, ttl: u32) -> Self {
        for s in &mut self.servers {
            for p in &mut s.chain {
                if let Plugin::Zone(z) = p {
                    z.ttl = ttl;
                }
            }
        }
        self
    }

    /// Whether any server block runs the standalone `multicluster` plugin.
    pub fn has_standalone_multicluster(&self) -> bool {
        self.zone_plugins()
            .any(|z| z.kind == PluginKind::Multicluster)
    }

    /// The `cache` plugin of the block serving `qname`, if it caches that name.
    pub fn cache_for(&self, qname: &Name) -> Option<&CachePolicy> {
        self.server_for(qname)?.chain.iter().find_map(|p| match p {
            Plugin::Cache(c) if c.zones.iter().any(|z| z.zone_of(qname)) => Some(c),
            _ => None,
        })
    }

    /// Every zone plugin of every block.
    pub fn zone_plugins(&self) -> impl Iterator<Item = &ZonePlugin> {
        self.servers
            .iter()
            .flat_map(|s| s.chain.iter())
            .filter_map(|p| match p {
                Plugin::Zone(z) => Some(z),
                _ => None,
            })
    }

    /// The server block that serves `qname`: the one with the most specific zone.
    pub fn server_for(&self, qname: &Name) -> Option<&ServerConfig> {
        self.servers
            .iter()
            .filter_map(|s| {
                s.zones
                    .iter()
                    .filter(|z| z.zone_of(qname))
                    .map(|z| z.num_labels())
                    .max()
                    .map(|n| (n, s))
            })
            .max_by_key(|(n, _)| *n)
            .map(|(_, s)| s)
    }
}

fn ignored_note(name: &str) -> &'static str {
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

fn server_zone(cf: &Corefile, key: &Token, part: &str) -> Result<Name, CorefileError> {
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

fn header(cf: &Corefile, d: &Directive) -> Result<Plugin, CorefileError> {
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

fn kubernetes(
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

fn multicluster(
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
        line: d.name.line,
    };
    for opt in &d.block {
        match opt.name.text.as_str() {
            "fallthrough" => p.fallthrough = fallthrough(cf, opt)?,
            "kubeconfig" | "noendpoints" => ignored.push(Ignored {
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

fn cache(cf: &Corefile, d: &Directive, block_zones: &[Name]) -> Result<CachePolicy, CorefileError> {
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
