//! Declares the scenario file format: the world, the resolver, the client
//! and the ordered steps. The JSON Schema in `scenarios/scenario.schema.json`
//! is generated from these types (`mcsdns schema`).

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::located::Located;
use crate::resolver::Profile;

/// A scenario file.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ScenarioFile {
    /// A title; the file name is used when absent.
    #[serde(default)]
    pub name: Option<String>,
    /// What the scenario shows, in a sentence or two.
    #[serde(default)]
    pub description: Option<String>,
    /// Labels for `mcsdns run --tag`.
    #[serde(default)]
    pub tags: Vec<String>,
    /// The requirement this scenario checks, e.g. `R2` (see docs/semantics.md).
    #[serde(default)]
    pub clause: Option<String>,
    /// The requirement's level.
    #[serde(default)]
    pub level: Option<Level>,
    /// The controllers that act on the world, as the real ones would:
    /// `karmada-1.6` (needs a `karmada` cluster, its control plane),
    /// `mcs-api`, `submariner` (needs a `broker` cluster). None: the world
    /// is as written.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub controllers: Vec<Located<String>>,
    /// The clusters and their objects: manifest files or folders, or inline YAML.
    pub world: BTreeMap<String, Vec<ManifestSource>>,
    /// Where the resolver under test runs and how it is configured.
    pub resolver: ResolverSpec,
    /// The client that looks names up (for `resolve` and `connect`).
    #[serde(default)]
    pub client: Option<ClientSpec>,
    /// What happens, in order.
    pub steps: Vec<Located<Step>>,
}

/// A requirement level (RFC 2119).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
pub enum Level {
    /// Required.
    MUST,
    /// Recommended.
    SHOULD,
    /// Optional.
    MAY,
    /// Forbidden.
    #[serde(rename = "MUST NOT")]
    MustNot,
}

impl std::fmt::Display for Level {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Level::MUST => "MUST",
            Level::SHOULD => "SHOULD",
            Level::MAY => "MAY",
            Level::MustNot => "MUST NOT",
        })
    }
}

/// Manifests for one cluster: a file or folder path, or inline YAML.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ManifestSource {
    /// A YAML file, or a folder of them, relative to the scenario or to a
    /// folder above it up to the scenario's project root (so
    /// `fixtures/seed/member1` works from `scenarios/`); never outside it.
    #[serde(default)]
    pub path: Option<Located<String>>,
    /// Multi-document Kubernetes YAML.
    #[serde(default)]
    pub inline: Option<Located<String>>,
}

/// The resolver under test.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ResolverSpec {
    /// The cluster it runs in.
    pub cluster: Located<String>,
    /// A Corefile path (relative like manifest paths).
    #[serde(default)]
    pub corefile: Option<Located<String>>,
    /// An inline Corefile.
    #[serde(default)]
    pub corefile_inline: Option<Located<String>>,
    /// `kep1645` (default) or `coredns`.
    #[serde(default)]
    pub profile: Option<Profile>,
    /// The CoreDNS build's plugin order, e.g. `[multicluster, kubernetes]`.
    #[serde(default)]
    pub plugin_order: Option<Located<Vec<String>>>,
    /// The Kubernetes identity the resolver lists objects as
    /// (default `system:serviceaccount:kube-system:coredns`).
    #[serde(default)]
    pub identity: Option<String>,
}

/// The C library's stub resolver.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Libc {
    /// glibc: a search-list walk goes on past NXDOMAIN, NODATA and SERVFAIL.
    #[default]
    Glibc,
    /// musl: a search-list walk stops at the first answer that is not NXDOMAIN.
    Musl,
}

/// The client: a Pod in some cluster and namespace.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ClientSpec {
    /// Its cluster (default: the resolver's).
    #[serde(default)]
    pub cluster: Option<Located<String>>,
    /// Its namespace (default `default`).
    #[serde(default)]
    pub namespace: Option<Located<String>>,
    /// resolv.conf `search` (default ClusterFirst's: `<ns>.svc.cluster.local svc.cluster.local cluster.local`).
    #[serde(default)]
    pub search: Option<Located<Vec<String>>>,
    /// resolv.conf `options ndots` (default 5).
    #[serde(default)]
    pub ndots: Option<u8>,
    /// `glibc` (default) or `musl`.
    #[serde(default)]
    pub libc: Option<Libc>,
}

/// One step.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Step {
    /// Create or replace objects in a cluster.
    Apply(ApplySpec),
    /// Delete one object.
    Delete(ObjectRef),
    /// JSON-merge-patch one object.
    Patch(PatchSpec),
    /// Ask the resolver one question: `NAME [TYPE]` (type A by default).
    Query(String),
    /// Look a name up as the client's libc would, through its search list: `NAME [TYPE]`.
    Resolve(String),
    /// Simulate a connection from the client to `NAME:PORT`; nothing is dialled.
    Connect(String),
    /// Move the virtual clock: `500ms`, `30s`, `5m`.
    Advance(String),
    /// Replace the resolver's Corefile (a fix applied as a step).
    Corefile(CorefileSpec),
    /// Make a cluster's Kubernetes API misbehave.
    Fault(FaultSpec),
    /// Check the result of the step before.
    Expect(ExpectSpec),
}

/// Objects to apply.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ApplySpec {
    /// The cluster.
    pub cluster: Located<String>,
    /// Inline multi-document YAML.
    #[serde(default)]
    pub manifest: Option<Located<String>>,
    /// Or a file or folder.
    #[serde(default)]
    pub path: Option<Located<String>>,
}

/// One API fault; give exactly one of its kinds.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FaultSpec {
    /// The cluster whose API misbehaves.
    pub cluster: Located<String>,
    /// Cut every open watch; clients re-watch from where they were.
    #[serde(default)]
    pub drop_watches: Option<bool>,
    /// Forget the event history: re-watches get 410 Gone and relist.
    #[serde(default)]
    pub expire_history: Option<bool>,
    /// Answer every request with 503 for this long (virtual time: `30s`).
    #[serde(default)]
    pub unavailable: Option<String>,
    /// Remove (true) or reinstall (false) the MCS CRDs: their paths give 404.
    #[serde(default)]
    pub crds_missing: Option<bool>,
}

/// A new Corefile for the resolver.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CorefileSpec {
    /// A Corefile path (relative like manifest paths).
    #[serde(default)]
    pub path: Option<Located<String>>,
    /// An inline Corefile.
    #[serde(default)]
    pub inline: Option<Located<String>>,
}

/// One object of one cluster.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ObjectRef {
    /// The cluster.
    pub cluster: Located<String>,
    /// The kind (`ServiceImport`, `Service`, `EndpointSlice`, `ClusterRole`, ...).
    pub kind: Located<String>,
    /// The namespace (default `default`; ignored for cluster-scoped kinds).
    #[serde(default)]
    pub namespace: Option<String>,
    /// The name.
    pub name: String,
}

/// A JSON merge patch (RFC 7386) of one object.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PatchSpec {
    /// The cluster.
    pub cluster: Located<String>,
    /// The kind.
    pub kind: Located<String>,
    /// The namespace (default `default`).
    #[serde(default)]
    pub namespace: Option<String>,
    /// The name.
    pub name: String,
    /// The patch; `null` removes a field.
    pub merge: serde_json::Value,
}

/// What the step before must have produced. Every field is optional; TTL
/// and record order are ignored unless asked for.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ExpectSpec {
    /// The response code: NOERROR, NXDOMAIN, SERVFAIL, REFUSED, FORMERR, NOTIMP.
    #[serde(default)]
    pub rcode: Option<Located<String>>,
    /// The answer section's rdata, as text (`10.10.0.5`, `0 100 80 serve.default.svc.clusterset.local.`), in any order.
    #[serde(default)]
    pub answer: Option<Vec<String>>,
    /// The answer section is one of these sets (in any order): for a
    /// resolver that picks one cluster's address per query.
    #[serde(default)]
    pub answer_any_of: Option<Vec<Vec<String>>>,
    /// `query` only: ask the question `queries` times; the distinct answer
    /// sets seen are exactly `answers` (a round-robin proven without pinning its order).
    #[serde(default)]
    pub rotates_over: Option<RotationSpec>,
    /// NOERROR with an empty answer section.
    #[serde(default)]
    pub nodata: Option<bool>,
    /// The resolver sends nothing (the client times out).
    #[serde(default)]
    pub no_response: Option<bool>,
    /// Header flags that must be set (`+aa`) or clear (`-ra`), space separated: aa, ra, rd.
    #[serde(default)]
    pub flags: Option<Located<String>>,
    /// Whether the authority section holds the zone's SOA.
    #[serde(default)]
    pub authority_soa: Option<bool>,
    /// The additional section's rdata, in any order.
    #[serde(default)]
    pub additional: Option<Vec<String>>,
    /// Exact section sizes.
    #[serde(default)]
    pub count: Option<CountSpec>,
    /// Bounds on every answer record's TTL.
    #[serde(default)]
    pub ttl: Option<TtlSpec>,
    /// `resolve` only: the search candidate that answered (a fully qualified
    /// name), or `none` when no candidate did.
    #[serde(default)]
    pub candidate: Option<String>,
    /// `connect` only: whether the connection reaches a backend.
    #[serde(default)]
    pub reachable: Option<bool>,
    /// The diagnosis the result must carry (`rbac-serviceimports`, `rbac-endpointslices`, ...), or `none`.
    #[serde(default)]
    pub diagnosis: Option<Located<String>>,
}

/// What a round-robin must show over repeated queries.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RotationSpec {
    /// How many times the question is asked (2 to 1000), the step's own query included.
    pub queries: u32,
    /// The answer sets that must all be seen, and nothing else.
    pub answers: Vec<Vec<String>>,
}

/// Section sizes.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CountSpec {
    /// Answer records.
    #[serde(default)]
    pub answer: Option<usize>,
    /// Authority records.
    #[serde(default)]
    pub authority: Option<usize>,
    /// Additional records.
    #[serde(default)]
    pub additional: Option<usize>,
}

/// TTL bounds.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TtlSpec {
    /// Every answer's TTL is at least this.
    #[serde(default)]
    pub min: Option<u32>,
    /// Every answer's TTL is at most this.
    #[serde(default)]
    pub max: Option<u32>,
}
