//! Loads who is asked and who asks: the resolver under test (cluster,
//! profile, plugin order, Corefile) and the client with its resolv.conf.

use hickory_proto::rr::Name;

use super::file::Ctx;
use super::world::Clusters;
use super::{DEFAULT_IDENTITY, ScenarioError};
use crate::resolver::config::{PluginKind, STOCK_ORDER};
use crate::resolver::corefile::Corefile;
use crate::resolver::{Profile, ResolverConfig};
use crate::scenario::format::ScenarioFile;
use crate::scenario::located::Located;
use crate::scenario::{Client, ResolverSetup};

/// The resolver under test: its cluster, profile, plugin order, identity
/// and Corefile (the default one when the file gives none).
pub(super) fn setup(
    cx: &Ctx<'_>,
    file: &ScenarioFile,
    clusters: &Clusters,
) -> Result<ResolverSetup, ScenarioError> {
    let spec = &file.resolver;
    let cluster = clusters.check(cx, &spec.cluster)?;
    let profile = spec.profile.unwrap_or(Profile::Kep1645);
    let order: Vec<PluginKind> = match &spec.plugin_order {
        None => STOCK_ORDER.to_vec(),
        Some(list) => list
            .value
            .iter()
            .map(|s| {
                s.parse().map_err(|e: String| {
                    cx.at(list, format!("resolver.plugin_order: {e}"))
                        .with_hint("the simulated plugins: cache, header, kubernetes, multicluster")
                })
            })
            .collect::<Result<_, _>>()?,
    };
    let (config, corefile) = match (&spec.corefile, &spec.corefile_inline) {
        (Some(_), Some(inline)) => {
            return Err(cx.at(inline, "give either corefile or corefile_inline, not both"));
        }
        (Some(p), None) => {
            let path = cx.find(p)?;
            let cf = Corefile::parse(&path, &cx.read(p, &p.value, &path)?)?;
            (
                ResolverConfig::from_corefile(&cf, profile, &order)?,
                Some(cf),
            )
        }
        (None, Some(inline)) => {
            let (cf, start) = inline_corefile(cx, inline)?;
            (
                ResolverConfig::from_corefile(&cf, profile, &order)
                    .map_err(|e| cx.relocate(e, start))?,
                Some(cf),
            )
        }
        (None, None) => (ResolverConfig::default_for(profile), None),
    };
    Ok(ResolverSetup {
        cluster,
        config,
        order,
        identity: spec
            .identity
            .clone()
            .unwrap_or_else(|| DEFAULT_IDENTITY.into()),
        corefile,
    })
}

/// The client and its resolv.conf: ClusterFirst in `default` unless the
/// file says otherwise.
pub(super) fn client(
    cx: &Ctx<'_>,
    file: &ScenarioFile,
    resolver: &ResolverSetup,
    clusters: &Clusters,
) -> Result<Client, ScenarioError> {
    let Some(c) = &file.client else {
        return Ok(Client {
            cluster: resolver.cluster.clone(),
            namespace: "default".into(),
            search: default_search("default"),
            ndots: 5,
            libc: Default::default(),
        });
    };
    let namespace = match &c.namespace {
        None => "default".to_owned(),
        Some(ns) => namespace(cx, ns)?,
    };
    let search = match &c.search {
        None => default_search(&namespace),
        Some(list) => list
            .value
            .iter()
            .map(|s| {
                fqdn(s)
                    .map_err(|e| cx.at(list, format!("client.search: invalid domain {s:?}: {e}")))
            })
            .collect::<Result<_, _>>()?,
    };
    Ok(Client {
        cluster: match &c.cluster {
            Some(l) => clusters.check(cx, l)?,
            None => resolver.cluster.clone(),
        },
        namespace,
        search,
        ndots: c.ndots.unwrap_or(5),
        libc: c.libc.unwrap_or_default(),
    })
}

/// A namespace name as Kubernetes allows it (an RFC 1123 label).
fn namespace(cx: &Ctx<'_>, ns: &Located<String>) -> Result<String, ScenarioError> {
    let valid = !ns.value.is_empty()
        && ns.value.len() <= 63
        && ns
            .value
            .chars()
            .all(|ch| ch.is_ascii_lowercase() || ch.is_ascii_digit() || ch == '-')
        && !ns.value.starts_with('-')
        && !ns.value.ends_with('-');
    if !valid {
        return Err(cx
            .at(
                ns,
                format!(
                    "client.namespace {:?} is not a valid namespace name",
                    ns.value
                ),
            )
            .with_hint("lower-case letters, digits and '-', at most 63 characters"));
    }
    Ok(ns.value.clone())
}

/// An inline Corefile, parsed against the scenario's own lines; and the
/// line its text starts on.
pub(super) fn inline_corefile(
    cx: &Ctx<'_>,
    inline: &Located<String>,
) -> Result<(Corefile, usize), ScenarioError> {
    let start = cx.block_start(inline);
    let padded = format!("{}{}", "\n".repeat(start - 1), inline.value);
    let cf = Corefile::parse(cx.path, &padded).map_err(|e| cx.relocate(e, start))?;
    Ok((cf, start))
}

/// ClusterFirst's search list for a Pod in `ns`.
pub fn default_search(ns: &str) -> Vec<Name> {
    [
        format!("{ns}.svc.cluster.local"),
        "svc.cluster.local".into(),
        "cluster.local".into(),
    ]
    .iter()
    .filter_map(|s| fqdn(s).ok())
    .collect()
}

/// A name as given, made fully qualified.
pub(super) fn fqdn(s: &str) -> Result<Name, hickory_proto::ProtoError> {
    let mut n = Name::from_ascii(s)?;
    n.set_fqdn(true);
    Ok(n)
}
