//! Explains what is wrong with a live multi-cluster DNS set-up: finds the
//! cluster DNS, reads what it reads, checks each known failure and asks
//! the live server, every finding with its object, rule and fix.
//!
//! Read-only: every API call is a get, a list or a SubjectAccessReview.

mod answers;
mod corefile;
mod imports;
mod output;
mod rbac;
mod setup;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::AtomicUsize;
use std::time::{Duration, Instant};

use hickory_proto::rr::Name;
use serde::Serialize;

pub use answers::Difference;
pub use output::{human, json};
pub use setup::DnsSetup;

use super::LiveError;
use super::read::{Narrow, Reader, Snapshot, read_cluster};
use crate::scenario::Libc;

/// How bad a finding is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Worth changing; DNS works for most clients.
    Warning,
    /// DNS gives wrong or no answers.
    Error,
}

/// One thing wrong, in the user's terms.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// The check (`rbac-serviceimports`, `ra-flag-off`, ...).
    pub id: String,
    /// How bad it is.
    pub severity: Severity,
    /// The context it is about.
    pub context: String,
    /// The object (`ServiceImport default/serve`, `ClusterRole system:coredns`).
    pub object: String,
    /// What is wrong, in a line.
    pub title: String,
    /// The rule or Corefile line involved, and why it matters.
    pub rule: String,
    /// The fix: commands or a Corefile diff.
    pub fix: String,
}

/// What doctor is asked to look at.
#[derive(Clone, Debug)]
pub struct DoctorOptions {
    /// The kubeconfig.
    pub kubeconfig: PathBuf,
    /// The consumer's context (whose cluster DNS is checked).
    pub consumer: String,
    /// Contexts of the other clusters (exporters).
    pub others: Vec<String>,
    /// Where the cluster DNS runs.
    pub dns_namespace: String,
    /// The ConfigMap holding the Corefile (`None`: from the Deployment's volumes, else `coredns`).
    pub corefile_configmap: Option<String>,
    /// The MCS zone.
    pub zone: Name,
    /// A live DNS server to ask (the cluster DNS, reachable from here).
    pub dns: Option<SocketAddr>,
    /// The clients' search list (`None`: the ClusterFirst default plus nothing else).
    pub search: Option<Vec<Name>>,
    /// Namespaces and labels to narrow to.
    pub narrow: Narrow,
    /// How long to wait for each DNS answer.
    pub dns_timeout: Duration,
}

impl DoctorOptions {
    /// Options with the defaults: kube-system, clusterset.local.
    pub fn new(kubeconfig: PathBuf, consumer: String) -> Self {
        DoctorOptions {
            kubeconfig,
            consumer,
            others: Vec::new(),
            dns_namespace: "kube-system".into(),
            corefile_configmap: None,
            zone: Name::from_ascii("clusterset.local.").expect("a valid name"),
            dns: None,
            search: None,
            narrow: Narrow::default(),
            dns_timeout: Duration::from_secs(2),
        }
    }
}

/// What doctor found.
#[derive(Clone, Debug, Serialize)]
pub struct Report {
    /// The consumer's context.
    pub consumer: String,
    /// The cluster DNS found.
    pub dns: DnsSetup,
    /// Every finding, most severe first.
    pub findings: Vec<Finding>,
    /// What could not be checked, and why.
    pub unchecked: Vec<String>,
    /// Live answers that differ from the reference resolver's.
    pub differences: Vec<Difference>,
    /// Names asked of the live server.
    pub asked: usize,
    /// ServiceImports checked.
    pub imports: usize,
    /// API calls made (all get, list or access reviews).
    pub api_calls: usize,
    /// Wall time, in milliseconds.
    pub millis: u128,
}

/// The least severity that fails (`--fail-on`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum FailOn {
    /// Any finding fails.
    #[default]
    Warning,
    /// Only errors fail.
    Error,
}

impl Report {
    /// 0 healthy, 1 findings, 2 could not check.
    pub fn exit_code(&self, fail_on: FailOn) -> u8 {
        let least = match fail_on {
            FailOn::Warning => Severity::Warning,
            FailOn::Error => Severity::Error,
        };
        if self.findings.iter().any(|f| f.severity >= least) {
            1
        } else if !self.unchecked.is_empty() {
            2
        } else {
            0
        }
    }
}

/// Everything the checks read.
pub(crate) struct Inputs<'a> {
    pub options: &'a DoctorOptions,
    pub consumer: &'a Snapshot,
    /// Other clusters by context.
    pub others: &'a BTreeMap<String, Snapshot>,
    pub dns: &'a DnsSetup,
    /// The Corefile as the reference resolver reads it (profile coredns).
    pub config: Option<&'a crate::resolver::ResolverConfig>,
    pub corefile: Option<&'a crate::resolver::corefile::Corefile>,
}

/// Runs every check against the live clusters.
pub async fn doctor(options: &DoctorOptions) -> Result<Report, LiveError> {
    let started = Instant::now();
    let calls = Arc::new(AtomicUsize::new(0));
    let consumer_reader =
        Reader::connect(&options.kubeconfig, &options.consumer, calls.clone()).await?;
    let mut unchecked = Vec::new();
    let consumer = read_cluster(&consumer_reader, &options.consumer, &options.narrow, false).await;
    let (dns, corefile) = setup::find(&consumer_reader, options, &mut unchecked).await;
    let mut others = BTreeMap::new();
    for context in &options.others {
        let reader = Reader::connect(&options.kubeconfig, context, calls.clone()).await?;
        others.insert(
            context.clone(),
            read_cluster(&reader, context, &options.narrow, true).await,
        );
    }
    for (what, e) in &consumer.unread {
        if e.code == 403 || e.code == 0 {
            unchecked.push(format!("{}: cannot list {what}: {e}", options.consumer));
        }
    }
    for (context, s) in &others {
        for (what, e) in &s.unread {
            if e.code == 403 || e.code == 0 {
                unchecked.push(format!("{context}: cannot list {what}: {e}"));
            }
        }
    }
    let config = corefile.as_ref().and_then(|cf| {
        crate::resolver::ResolverConfig::from_corefile(
            cf,
            crate::resolver::Profile::Coredns,
            &crate::resolver::config::STOCK_ORDER,
        )
        .map_err(|e| unchecked.push(format!("the Corefile does not parse: {e}")))
        .ok()
    });
    let inputs = Inputs {
        options,
        consumer: &consumer,
        others: &others,
        dns: &dns,
        config: config.as_ref(),
        corefile: corefile.as_ref(),
    };
    let mut findings = Vec::new();
    findings.extend(corefile::version(&inputs));
    findings.extend(corefile::zone(&inputs));
    findings.extend(corefile::ra(&inputs));
    findings.extend(rbac::check(&consumer_reader, &inputs, &mut unchecked).await);
    findings.extend(imports::check(&inputs));
    let (differences, asked) = match options.dns {
        Some(addr) => answers::compare(&inputs, addr, &findings),
        None => (Vec::new(), 0),
    };
    for d in differences.iter().filter(|d| d.explained_by.is_empty()) {
        findings.push(answers::unexplained(&inputs, d));
    }
    findings.sort_by_key(|f| std::cmp::Reverse(f.severity));
    Ok(Report {
        consumer: options.consumer.clone(),
        imports: consumer
            .state
            .resources()
            .filter(|r| matches!(r, crate::model::Resource::ServiceImport(_)))
            .count(),
        dns,
        findings,
        unchecked,
        differences,
        asked,
        api_calls: consumer_reader.calls(),
        millis: started.elapsed().as_millis(),
    })
}

/// The search list a Pod in `ns` gets with `dnsPolicy: ClusterFirst`.
pub(crate) fn cluster_first(ns: &str, extra: &[Name]) -> Vec<Name> {
    let mut out: Vec<Name> = [
        format!("{ns}.svc.cluster.local."),
        "svc.cluster.local.".into(),
        "cluster.local.".into(),
    ]
    .iter()
    .filter_map(|s| Name::from_ascii(s).ok())
    .collect();
    out.extend(extra.iter().cloned());
    out
}

/// Both stub resolvers, for search-list checks.
pub(crate) const LIBCS: [Libc; 2] = [Libc::Glibc, Libc::Musl];
