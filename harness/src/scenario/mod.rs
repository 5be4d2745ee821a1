//! Reads scenario files: the world, the resolver, the client and the steps,
//! checked and resolved into a [`Scenario`] ready to run.

pub mod format;
pub mod lint;
pub mod load;
pub mod located;

use std::path::PathBuf;
use std::time::Duration;

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::{Name, RecordType};

pub use format::{Level, Libc};
pub use load::{ScenarioError, load_scenario};
pub use located::Located;

use crate::model::{Loaded, ObjectKey, World};
use crate::resolver::ResolverConfig;

/// The JSON Schema of the scenario format, for editors.
pub fn schema() -> String {
    let schema = schemars::schema_for!(format::ScenarioFile);
    serde_json::to_string_pretty(&schema).unwrap_or_default()
}

/// A scenario, checked and ready to run.
#[derive(Clone, Debug)]
pub struct Scenario {
    /// The file it was read from.
    pub path: PathBuf,
    /// Its id: the path below the suite root without extension (`seed/rbac`).
    pub id: String,
    /// Its title.
    pub name: String,
    /// What it shows.
    pub description: String,
    /// Its tags.
    pub tags: Vec<String>,
    /// The requirement it checks.
    pub clause: Option<String>,
    /// The requirement's level.
    pub level: Option<Level>,
    /// The world before the first step.
    pub world: World,
    /// The resolver under test.
    pub resolver: ResolverSetup,
    /// The client.
    pub client: Client,
    /// The steps, each with the checks of the `expect` that follows it.
    pub steps: Vec<PlannedStep>,
    /// The file's text (for bundles).
    pub text: String,
    /// Files it refers to: as written, and where they were found.
    pub files: Vec<(String, PathBuf)>,
}

impl Scenario {
    /// The same scenario with the reference resolver in another profile
    /// (its Corefiles read again under it), for differential runs.
    pub fn with_profile(&self, profile: crate::resolver::Profile) -> Result<Scenario, String> {
        use crate::resolver::corefile::Corefile;
        let config_of = |text: Option<&str>| -> Result<ResolverConfig, String> {
            match text {
                Some(t) => {
                    let cf = Corefile::parse(&self.path, t).map_err(|e| e.to_string())?;
                    ResolverConfig::from_corefile(&cf, profile, &self.resolver.order)
                        .map_err(|e| e.to_string())
                }
                None => Ok(ResolverConfig::default_for(profile)),
            }
        };
        let mut s = self.clone();
        s.resolver.config = config_of(self.resolver.corefile_text.as_deref())?;
        for step in &mut s.steps {
            if let Action::Reconfigure { config, text, .. } = &mut step.action {
                **config = config_of(Some(text))?;
            }
        }
        Ok(s)
    }
}

/// The resolver under test.
#[derive(Clone, Debug)]
pub struct ResolverSetup {
    /// Its cluster.
    pub cluster: String,
    /// Its configuration.
    pub config: ResolverConfig,
    /// The CoreDNS build's plugin order.
    pub order: Vec<crate::resolver::config::PluginKind>,
    /// The identity it lists objects as.
    pub identity: String,
    /// The Corefile's text, if one was given.
    pub corefile_text: Option<String>,
}

/// The client and its resolv.conf.
#[derive(Clone, Debug)]
pub struct Client {
    /// Its cluster.
    pub cluster: String,
    /// Its namespace.
    pub namespace: String,
    /// The search list.
    pub search: Vec<Name>,
    /// `options ndots`.
    pub ndots: u8,
    /// The stub resolver's flavour.
    pub libc: Libc,
}

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
        fault: crate::run::target::Fault,
    },
    /// Replace the resolver's configuration.
    Reconfigure {
        /// The new configuration.
        config: Box<ResolverConfig>,
        /// Where it came from, for reports.
        source: String,
        /// The Corefile's text, for targets that run a real server.
        text: String,
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
    /// TC.
    Tc,
}

/// One thing an expectation checks.
#[derive(Clone, Debug, PartialEq)]
pub enum Check {
    /// The response code.
    Rcode(ResponseCode),
    /// The answer section's rdata, in any order.
    Answer(Vec<String>),
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
    Diagnosis(String),
    /// The result carries no diagnosis.
    NoDiagnosis,
}
