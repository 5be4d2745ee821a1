//! Reads scenario files: the world, the resolver, the client and the steps,
//! checked and resolved into a [`Scenario`] ready to run.

pub mod format;
pub mod lint;
pub mod load;
pub mod located;
pub mod print;
pub mod root;
pub mod step;

use hickory_proto::rr::Name;
use std::path::PathBuf;

pub use format::{Level, Libc};
pub use load::{ScenarioError, load_scenario};
pub use located::Located;
pub use root::ProjectRoot;
pub use step::{
    Action, Change, Check, DiagnosisId, Fault, HeaderFlag, PlannedStep, Section, humanize,
};

use crate::model::World;
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
    /// The controllers that act on the world (none: it is as written).
    pub controllers: Vec<crate::controller::ControllerKind>,
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
    /// The same scenario with `corefile` instead of its own (`--corefile`);
    /// its `corefile` steps still replace it.
    pub fn with_corefile(
        &self,
        corefile: &crate::resolver::corefile::Corefile,
    ) -> Result<Scenario, crate::resolver::corefile::CorefileError> {
        let mut s = self.clone();
        s.resolver.config = ResolverConfig::from_corefile(
            corefile,
            self.resolver.config.profile,
            &self.resolver.order,
        )?;
        s.resolver.corefile = Some(corefile.clone());
        Ok(s)
    }

    /// The same scenario with the reference resolver in another profile
    /// (its Corefiles read again under it), for differential runs.
    pub fn with_profile(&self, profile: crate::resolver::Profile) -> Result<Scenario, String> {
        use crate::resolver::corefile::Corefile;
        let config_of = |corefile: Option<&Corefile>| -> Result<ResolverConfig, String> {
            match corefile {
                Some(cf) => ResolverConfig::from_corefile(cf, profile, &self.resolver.order)
                    .map_err(|e| e.to_string()),
                None => Ok(ResolverConfig::default_for(profile)),
            }
        };
        let mut s = self.clone();
        s.resolver.config = config_of(self.resolver.corefile.as_ref())?;
        for step in &mut s.steps {
            if let Action::Reconfigure {
                config, corefile, ..
            } = &mut step.action
            {
                **config = config_of(Some(corefile))?;
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
    /// The Corefile, if one was given (an inline one parsed at the
    /// scenario's own lines), for targets that run a real server.
    pub corefile: Option<crate::resolver::corefile::Corefile>,
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
