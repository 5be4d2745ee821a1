//! Turns a Corefile into the resolver's configuration: which plugins answer
//! which zones, in which order, with which options.
//!
//! The chain order is CoreDNS's: the order of `plugin.cfg` at build time, not
//! the order of lines in the Corefile. Stock CoreDNS runs `header` before
//! `kubernetes`, and the multicluster plugin's README adds `multicluster`
//! after `kubernetes`; the `order` given to [`ResolverConfig::from_corefile`]
//! (a scenario's `plugin_order`) changes that, as a custom build would.

use std::fmt;
use std::path::Path;
use std::str::FromStr;

use hickory_proto::rr::Name;

use super::plugins::{
    cache, header, ignored_note, kubernetes, lighthouse, multicluster, server_zone,
};
use super::{Corefile, CorefileError};

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
    /// Submariner Lighthouse's CoreDNS plugin, as measured (docs/lighthouse.md).
    Lighthouse,
}

impl fmt::Display for Profile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Profile::Kep1645 => "kep1645",
            Profile::Coredns => "coredns",
            Profile::Lighthouse => "lighthouse",
        })
    }
}

impl FromStr for Profile {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "kep1645" => Ok(Profile::Kep1645),
            "coredns" => Ok(Profile::Coredns),
            "lighthouse" => Ok(Profile::Lighthouse),
            other => Err(format!(
                "unknown profile {other:?} (expected kep1645, coredns or lighthouse)"
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
    /// `lighthouse`: Submariner's plugin (its own CoreDNS build).
    Lighthouse,
}

impl PluginKind {
    /// The directive name.
    pub fn as_str(self) -> &'static str {
        match self {
            PluginKind::Cache => "cache",
            PluginKind::Header => "header",
            PluginKind::Kubernetes => "kubernetes",
            PluginKind::Multicluster => "multicluster",
            PluginKind::Lighthouse => "lighthouse",
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
            "lighthouse" => Ok(PluginKind::Lighthouse),
            other => Err(format!(
                "unknown plugin {other:?} (expected cache, header, kubernetes, multicluster or lighthouse)"
            )),
        }
    }
}

/// The chain order of a stock CoreDNS build with the multicluster plugin
/// added after `kubernetes`, as its README says.
pub const STOCK_ORDER: [PluginKind; 4] = [
    PluginKind::Header,
    PluginKind::Kubernetes,
    PluginKind::Multicluster,
    PluginKind::Lighthouse,
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
    /// `noendpoints` (`multicluster` only): endpoint names fail (SERVFAIL).
    pub noendpoints: bool,
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
            .find(|z| !crate::resolver::zone::is_reverse(z) && !self.mcs_zones.contains(z))
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

/// [`DEFAULT_COREFILE`], parsed once: what every target runs for a
/// scenario that gives no Corefile.
pub fn default_corefile() -> &'static Corefile {
    static PARSED: std::sync::LazyLock<Corefile> = std::sync::LazyLock::new(|| {
        Corefile::parse(Path::new("<default Corefile>"), DEFAULT_COREFILE)
            .expect("the default Corefile parses")
    });
    &PARSED
}

impl ResolverConfig {
    /// The default configuration for a profile.
    pub fn default_for(profile: Profile) -> Self {
        let corefile = default_corefile();
        let mut config = ResolverConfig::from_corefile(corefile, profile, &STOCK_ORDER)
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
                    "lighthouse" => chain.push(Plugin::Zone(lighthouse(corefile, d, &zones)?)),
                    other => {
                        super::directives::check(corefile, d)?;
                        ignored.push(Ignored {
                            name: other.to_owned(),
                            line: d.name.line,
                            note: ignored_note(other),
                        })
                    }
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
