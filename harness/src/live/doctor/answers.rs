//! Asks the live cluster DNS for every imported name and compares each
//! answer with the reference resolver's (profile `coredns`, the same
//! objects and Corefile); each difference is explained by a finding or a
//! diagnosis, or listed as unexplained.

use std::net::SocketAddr;

use hickory_proto::rr::{Name, RecordType};
use serde::Serialize;

use super::{Finding, Inputs, Severity, cluster_first};
use crate::check::compare::{answer_set, summary};
use crate::check::diagnose::{self, Context};
use crate::client::wire;
use crate::model::{Resource, World};
use crate::resolver::config::STOCK_ORDER;
use crate::resolver::{ClusterView, Outcome, Profile, Question, ResolverConfig, answer};
use crate::scenario::{Client, Libc, ResolverSetup};

/// One name the live server answers differently from the reference.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Difference {
    /// The name asked.
    pub name: String,
    /// The type asked.
    pub qtype: String,
    /// What the live server said.
    pub live: String,
    /// What the reference resolver says.
    pub reference: String,
    /// The findings or diagnoses that explain it (empty: unexplained).
    pub explained_by: Vec<String>,
}

/// How many silent answers in a row end the asking.
const SILENT_LIMIT: usize = 3;

fn words(o: &Outcome) -> String {
    match o {
        Outcome::Reply(r) => summary(r),
        Outcome::Silent(_) => "no answer".into(),
    }
}

fn same(a: &Outcome, b: &Outcome) -> bool {
    match (a, b) {
        (Outcome::Reply(x), Outcome::Reply(y)) => {
            x.rcode == y.rcode && answer_set(&x.answers) == answer_set(&y.answers)
        }
        (Outcome::Silent(_), Outcome::Silent(_)) => true,
        _ => false,
    }
}

/// The findings that explain any answer about `ns/name`.
fn explaining(findings: &[Finding], ns: &str, name: &str) -> Vec<String> {
    const SERVER: [&str; 6] = [
        "rbac-serviceimports",
        "rbac-endpointslices",
        "rbac-namespaces",
        "zone-not-served",
        "mcs-zone-shadowed",
        "multicluster-not-in-build",
    ];
    let mut out: Vec<String> = Vec::new();
    for f in findings {
        let about = f.object == format!("ServiceImport {ns}/{name}")
            && f.id != "local-shadowing"
            && f.id != "export-missing";
        if (SERVER.contains(&f.id.as_str()) || f.id == "coredns-too-old" || about)
            && !out.contains(&f.id)
        {
            out.push(f.id.clone());
        }
    }
    out
}

/// Compares live and reference answers for every import; returns the
/// differences and how many questions were asked.
pub(super) fn compare(
    inputs: &Inputs<'_>,
    addr: SocketAddr,
    findings: &[Finding],
) -> (Vec<Difference>, usize) {
    let state = &inputs.consumer.state;
    let config = inputs
        .config
        .cloned()
        .unwrap_or_else(|| ResolverConfig::default_for(Profile::Coredns));
    let view = ClusterView::from_state(state);
    let mut world = World::default();
    world.clusters.insert(state.name.clone(), state.clone());
    for (c, s) in inputs.others {
        world.clusters.insert(c.clone(), s.state.clone());
    }
    let setup = ResolverSetup {
        cluster: state.name.clone(),
        config: config.clone(),
        order: STOCK_ORDER.to_vec(),
        identity: inputs.dns.identity(),
        corefile: inputs.corefile.cloned(),
    };
    let mut out = Vec::new();
    let mut asked = 0;
    let mut silent_run = 0;
    let zone = &inputs.options.zone;
    for r in state.resources() {
        let Resource::ServiceImport(si) = r else {
            continue;
        };
        let ns = si.metadata.namespace.as_deref().unwrap_or("default");
        let name = si.metadata.name.as_deref().unwrap_or_default();
        let Ok(qname) = Name::from_ascii(format!("{name}.{ns}.svc.{zone}")) else {
            continue;
        };
        let client = Client {
            cluster: state.name.clone(),
            namespace: ns.to_owned(),
            search: cluster_first(ns, &[]),
            ndots: 5,
            libc: Libc::Glibc,
        };
        let cx = Context {
            world: &world,
            resolver: &setup,
            client: &client,
            // A live cluster set: no controller is simulated here.
            controllers: &[],
            overwritten: &[],
        };
        for qtype in [RecordType::A, RecordType::SRV] {
            if silent_run >= SILENT_LIMIT {
                return (out, asked);
            }
            let q = Question::new(qname.clone(), qtype);
            asked += 1;
            let live = match wire::ask(addr, &q, inputs.options.dns_timeout) {
                Ok(o) => o,
                Err(e) => Outcome::Silent(e.to_string()),
            };
            silent_run = if matches!(live, Outcome::Silent(_)) {
                silent_run + 1
            } else {
                0
            };
            let reference = answer(&config, &view, &q);
            if same(&live, &reference) {
                continue;
            }
            let mut explained_by = explaining(findings, ns, name);
            for d in diagnose::query(&cx, &q, &live) {
                let id = d.id.to_string();
                if !explained_by.contains(&id) && d.id != crate::scenario::DiagnosisId::RaFlagOff {
                    explained_by.push(id);
                }
            }
            out.push(Difference {
                name: qname.to_string(),
                qtype: qtype.to_string(),
                live: words(&live),
                reference: words(&reference),
                explained_by,
            });
        }
    }
    (out, asked)
}

/// A difference nothing explains, as a finding.
pub(super) fn unexplained(inputs: &Inputs<'_>, d: &Difference) -> Finding {
    Finding {
        id: "answer-differs".into(),
        severity: Severity::Error,
        context: inputs.options.consumer.clone(),
        object: format!("{} {}", d.name, d.qtype),
        title: format!(
            "the live DNS answers {} {} with {}, the reference resolver with {}",
            d.name, d.qtype, d.live, d.reference
        ),
        rule: "unexplained: no finding or diagnosis accounts for it (a cache, a controller lagging, or a CoreDNS behaviour mcsdns does not model)".into(),
        fix: format!(
            "mcsdns capture --kubeconfig KUBECONFIG --context {} -o report/ and attach `mcsdns bundle` of it to a bug report",
            inputs.options.consumer
        ),
    }
}
