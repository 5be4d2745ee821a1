//! Names what a scenario step does and what its expectation checks: the
//! vocabulary shared by the loader, the targets and the judge.

use std::time::Duration;

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::{Name, RecordType};

use crate::cluster::store::ApiStore;
use crate::model::{Kind, Loaded, ObjectKey, Resource};
use crate::resolver::ResolverConfig;
use crate::resolver::corefile::Corefile;

/// One step and its checks.
#[derive(Clone, Debug)]
pub struct PlannedStep {
    /// Its line in the scenario file.
    pub line: usize,
    /// What it does.
    pub action: Action,
    /// What must hold afterwards (from the `expect` step that follows).
    pub checks: Vec<Check>,
    /// The `expect` step's line, if there is one.
    pub expect_line: Option<usize>,
}

/// What a step does.
#[derive(Clone, Debug)]
pub enum Action {
    /// Create or replace objects.
    Apply {
        /// The cluster.
        cluster: String,
        /// The objects.
        docs: Vec<Loaded>,
    },
    /// Delete an object.
    Delete {
        /// The cluster.
        cluster: String,
        /// The object.
        key: ObjectKey,
    },
    /// Merge-patch an object.
    Patch {
        /// The cluster.
        cluster: String,
        /// The object.
        key: ObjectKey,
        /// The patch.
        merge: serde_json::Value,
    },
    /// One question to the resolver.
    Query {
        /// The name.
        name: Name,
        /// The type.
        qtype: RecordType,
    },
    /// A lookup through the client's search list.
    Resolve {
        /// The name as the application gives it.
        name: String,
        /// The type.
        qtype: RecordType,
    },
    /// A simulated connection.
    Connect {
        /// The name as the application gives it.
        name: String,
        /// The port.
        port: u16,
    },
    /// Move the virtual clock.
    Advance(Duration),
    /// Make a cluster's API misbehave.
    Fault {
        /// The cluster.
        cluster: String,
        /// What goes wrong.
        fault: Fault,
    },
    /// Replace the resolver's configuration.
    Reconfigure {
        /// The new configuration.
        config: Box<ResolverConfig>,
        /// Where it came from, for reports.
        source: String,
        /// The Corefile itself, for targets that run a real server.
        corefile: Corefile,
    },
}

impl Action {
    /// The step's kind, as scenario files spell it.
    pub fn kind(&self) -> &'static str {
        match self {
            Action::Apply { .. } => "apply",
            Action::Delete { .. } => "delete",
            Action::Patch { .. } => "patch",
            Action::Query { .. } => "query",
            Action::Resolve { .. } => "resolve",
            Action::Connect { .. } => "connect",
            Action::Advance(_) => "advance",
            Action::Reconfigure { .. } => "corefile",
            Action::Fault { .. } => "fault",
        }
    }

    /// Whether the step produces a result an `expect` can check.
    pub fn is_checkable(&self) -> bool {
        matches!(
            self,
            Action::Query { .. } | Action::Resolve { .. } | Action::Connect { .. }
        )
    }

    /// A one-line description (`query serve.default.svc.clusterset.local. A`).
    pub fn describe(&self) -> String {
        match self {
            Action::Apply { cluster, docs } => {
                format!("apply {} object(s) to {cluster}", docs.len())
            }
            Action::Delete { cluster, key } => format!("delete {key} in {cluster}"),
            Action::Patch { cluster, key, .. } => format!("patch {key} in {cluster}"),
            Action::Query { name, qtype } => format!("query {name} {qtype}"),
            Action::Resolve { name, qtype } => format!("resolve {name} {qtype}"),
            Action::Connect { name, port } => format!("connect {name}:{port}"),
            Action::Advance(d) => format!("advance {}", humanize(*d)),
            Action::Reconfigure { source, .. } => format!("corefile {source}"),
            Action::Fault { cluster, fault } => format!("fault in {cluster}: {fault}"),
        }
    }
}

/// A duration as scenario files write it.
pub fn humanize(d: Duration) -> String {
    let ms = d.as_millis();
    if !ms.is_multiple_of(1000) {
        format!("{ms}ms")
    } else if !ms.is_multiple_of(60_000) || ms == 0 {
        format!("{}s", ms / 1000)
    } else {
        format!("{}m", ms / 60_000)
    }
}

/// A response section.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Section {
    /// Answer.
    Answer,
    /// Authority.
    Authority,
    /// Additional.
    Additional,
}

/// A header flag an expectation can name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HeaderFlag {
    /// AA.
    Aa,
    /// RA.
    Ra,
    /// RD.
    Rd,
}

/// One thing an expectation checks.
#[derive(Clone, Debug, PartialEq)]
pub enum Check {
    /// The response code.
    Rcode(ResponseCode),
    /// The answer section's rdata, in any order.
    Answer(Vec<String>),
    /// The answer section is one of these sets.
    AnswerAnyOf(Vec<Vec<String>>),
    /// Over `queries` askings, exactly these answer sets are seen.
    RotatesOver {
        /// How many times the question is asked.
        queries: u32,
        /// The sets.
        answers: Vec<Vec<String>>,
    },
    /// The additional section's rdata, in any order.
    Additional(Vec<String>),
    /// NOERROR and no answer.
    NoData,
    /// No response at all.
    NoResponse,
    /// A header flag is set (true) or clear (false).
    Flag(HeaderFlag, bool),
    /// The authority section holds an SOA (true) or not (false).
    AuthoritySoa(bool),
    /// A section has exactly this many records.
    Count(Section, usize),
    /// Every answer's TTL is at least this.
    TtlMin(u32),
    /// Every answer's TTL is at most this.
    TtlMax(u32),
    /// The search candidate that answered (`None`: no candidate did).
    Candidate(Option<Name>),
    /// Whether the connection reaches a backend.
    Reachable(bool),
    /// The result carries this diagnosis.
    Diagnosis(DiagnosisId),
    /// The result carries no diagnosis.
    NoDiagnosis,
}

/// A fault of a cluster's Kubernetes API.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Fault {
    /// Every open watch is cut; clients re-watch from their resourceVersion.
    DropWatches,
    /// The event history is forgotten: re-watches get 410 Gone and relist.
    ExpireHistory,
    /// The API answers 503 for this long (virtual time).
    Unavailable(Duration),
    /// The MCS CRDs are removed (true) or installed again (false).
    CrdsMissing(bool),
}

impl std::fmt::Display for Fault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Fault::DropWatches => f.write_str("watches dropped"),
            Fault::ExpireHistory => f.write_str("history expired (410 Gone)"),
            Fault::Unavailable(d) => {
                write!(f, "API unavailable for {}", humanize(*d))
            }
            Fault::CrdsMissing(true) => f.write_str("MCS CRDs removed"),
            Fault::CrdsMissing(false) => f.write_str("MCS CRDs installed"),
        }
    }
}

impl Fault {
    /// Breaks a cluster's API this way. An outage starts here; when it ends
    /// is the caller's clock's business.
    pub fn apply_to(&self, api: &mut ApiStore) {
        match self {
            Fault::DropWatches => api.drop_watches(),
            Fault::ExpireHistory => api.expire_history(),
            Fault::Unavailable(_) => {
                api.faults.unavailable = true;
                api.drop_watches();
            }
            // As on a real server: deleting a CRD deletes every object of
            // it first (watchers see them go), then its path answers 404;
            // installed again, it starts empty.
            Fault::CrdsMissing(missing) => {
                if *missing {
                    let keys: Vec<_> = api
                        .state()
                        .resources()
                        .map(|r| r.key())
                        .filter(|k| matches!(k.kind, Kind::ServiceImport | Kind::ServiceExport))
                        .collect();
                    for key in keys {
                        api.delete(&key);
                    }
                }
                api.faults.crds_missing = *missing;
                api.drop_watches();
            }
        }
    }
}

/// A change of one object in one cluster.
#[derive(Clone, Debug)]
pub enum Change {
    /// Create or replace.
    Upsert(Resource),
    /// Delete.
    Delete(ObjectKey),
}

impl Change {
    /// Makes the change in a cluster's API.
    pub fn apply_to(&self, api: &mut ApiStore) {
        match self {
            Change::Upsert(r) => api.apply(r.clone()),
            Change::Delete(key) => {
                api.delete(key);
            }
        }
    }
}

/// A known failure pattern, as `expect: diagnosis:` names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DiagnosisId {
    /// The resolver may not list and watch ServiceImports.
    RbacServiceImports,
    /// The resolver may not list and watch EndpointSlices.
    RbacEndpointSlices,
    /// The resolver may not list and watch Services.
    RbacServices,
    /// The resolver may not list and watch Namespaces.
    RbacNamespaces,
    /// The resolver may not list and watch Pods (`pods verified`).
    RbacPods,
    /// Answers lack the RA flag.
    RaFlagOff,
    /// The ServiceImport has no ips.
    ImportWithoutIps,
    /// The mcs-api controller replaced a hand-set `spec.ips`.
    ImportIpsOverwritten,
    /// No ServiceImport for this name in the resolver's cluster.
    ImportMissing,
    /// The headless import has no ready endpoints.
    HeadlessNoReadyEndpoints,
    /// A same-named local Service shadows the import.
    LocalShadowing,
    /// The search list has no clusterset zone.
    SearchListMissingClusterset,
    /// The port is not where the backends listen.
    PortMismatch,
    /// The kubernetes plugin answers the multicluster zone first.
    McsZoneShadowed,
    /// The answer comes from the cache; the resolver now answers otherwise.
    StaleCache,
    /// Lighthouse skips an EndpointSlice of the service (a label it needs).
    LighthouseSliceSkipped,
    /// Lighthouse ignores the ServiceImport (an agent or broker copy).
    LighthouseImportIgnored,
    /// The exporting clusters' slices share no port Lighthouse can answer SRV with.
    LighthousePortMismatch,
}

impl DiagnosisId {
    /// Every diagnosis mcsdns knows, in the order the docs list them.
    pub const ALL: [DiagnosisId; 18] = [
        DiagnosisId::RbacServiceImports,
        DiagnosisId::RbacEndpointSlices,
        DiagnosisId::RbacServices,
        DiagnosisId::RbacNamespaces,
        DiagnosisId::RbacPods,
        DiagnosisId::RaFlagOff,
        DiagnosisId::ImportWithoutIps,
        DiagnosisId::ImportIpsOverwritten,
        DiagnosisId::ImportMissing,
        DiagnosisId::HeadlessNoReadyEndpoints,
        DiagnosisId::LocalShadowing,
        DiagnosisId::SearchListMissingClusterset,
        DiagnosisId::PortMismatch,
        DiagnosisId::McsZoneShadowed,
        DiagnosisId::StaleCache,
        DiagnosisId::LighthouseSliceSkipped,
        DiagnosisId::LighthouseImportIgnored,
        DiagnosisId::LighthousePortMismatch,
    ];

    /// The id as scenario files and reports spell it.
    pub fn as_str(self) -> &'static str {
        match self {
            DiagnosisId::RbacServiceImports => "rbac-serviceimports",
            DiagnosisId::RbacEndpointSlices => "rbac-endpointslices",
            DiagnosisId::RbacServices => "rbac-services",
            DiagnosisId::RbacNamespaces => "rbac-namespaces",
            DiagnosisId::RbacPods => "rbac-pods",
            DiagnosisId::RaFlagOff => "ra-flag-off",
            DiagnosisId::ImportWithoutIps => "import-without-ips",
            DiagnosisId::ImportIpsOverwritten => "import-ips-overwritten",
            DiagnosisId::ImportMissing => "import-missing",
            DiagnosisId::HeadlessNoReadyEndpoints => "headless-no-ready-endpoints",
            DiagnosisId::LocalShadowing => "local-shadowing",
            DiagnosisId::SearchListMissingClusterset => "search-list-missing-clusterset",
            DiagnosisId::PortMismatch => "port-mismatch",
            DiagnosisId::McsZoneShadowed => "mcs-zone-shadowed",
            DiagnosisId::StaleCache => "stale-cache",
            DiagnosisId::LighthouseSliceSkipped => "lighthouse-slice-skipped",
            DiagnosisId::LighthouseImportIgnored => "lighthouse-import-ignored",
            DiagnosisId::LighthousePortMismatch => "lighthouse-port-mismatch",
        }
    }

    /// One line saying what is wrong.
    pub fn title(self) -> &'static str {
        match self {
            DiagnosisId::RbacServiceImports => "the resolver may not list and watch ServiceImports",
            DiagnosisId::RbacEndpointSlices => "the resolver may not list and watch EndpointSlices",
            DiagnosisId::RbacServices => "the resolver may not list and watch Services",
            DiagnosisId::RbacNamespaces => "the resolver may not list and watch Namespaces",
            DiagnosisId::RbacPods => "the resolver may not list and watch Pods (pods verified)",
            DiagnosisId::RaFlagOff => "answers lack the RA flag",
            DiagnosisId::ImportWithoutIps => "the ServiceImport has no ips",
            DiagnosisId::ImportIpsOverwritten => {
                "the mcs-api controller replaced the hand-set ips of the ServiceImport"
            }
            DiagnosisId::ImportMissing => {
                "no ServiceImport for this name in the resolver's cluster"
            }
            DiagnosisId::HeadlessNoReadyEndpoints => "the headless import has no ready endpoints",
            DiagnosisId::LocalShadowing => "a same-named local Service shadows the import",
            DiagnosisId::SearchListMissingClusterset => "the search list has no clusterset zone",
            DiagnosisId::PortMismatch => "the port is not where the backends listen",
            DiagnosisId::McsZoneShadowed => {
                "the kubernetes plugin answers the multicluster zone first"
            }
            DiagnosisId::StaleCache => {
                "the answer comes from the cache; the resolver now answers otherwise"
            }
            DiagnosisId::LighthouseSliceSkipped => {
                "Lighthouse skips an EndpointSlice of the service (a label it needs)"
            }
            DiagnosisId::LighthouseImportIgnored => {
                "Lighthouse ignores the ServiceImport (an agent or broker copy)"
            }
            DiagnosisId::LighthousePortMismatch => {
                "the exporting clusters share no port, so Lighthouse's SRV is empty"
            }
        }
    }

    /// The diagnosis a scenario file names, if mcsdns knows it.
    pub fn parse(id: &str) -> Option<DiagnosisId> {
        DiagnosisId::ALL.into_iter().find(|d| d.as_str() == id)
    }
}

impl std::fmt::Display for DiagnosisId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl PartialEq<&str> for DiagnosisId {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl serde::Serialize for DiagnosisId {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}
