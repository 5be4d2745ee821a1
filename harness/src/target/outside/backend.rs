//! Where an outside server's world lives: the API emulator, or real control
//! planes started for the run. The target changes the world, breaks the
//! API and reads it back only through [`Backend`], so every outside server
//! runs the same scenarios on either.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::cluster::control_plane::faults::{CertUser, FaultProxy};
use crate::cluster::control_plane::world::WorldWriter;
use crate::cluster::control_plane::{Binaries, ControlPlane, KUBERNETES_VERSION};
use crate::cluster::emulator::{Emulator, RESOLVER_USER};
use crate::model::ClusterState;
use crate::resolver::ClusterView;
use crate::scenario::{Change, Fault, Scenario};
use crate::target::{TargetError, interrupt};

/// The world's cluster that always holds the current scenario's resolver
/// cluster, for a server started once for the whole run.
pub const CURRENT: &str = "current";

/// Which API serves the world.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Api {
    /// mcsdns's API emulator, in process.
    #[default]
    Emulator,
    /// Real kube-apiservers (with etcd and kube-controller-manager).
    Real,
}

/// Whether the real control plane is built (`--api real`).
pub fn real_available() -> Result<(), TargetError> {
    Binaries::find().map(|_| ()).map_err(not_built)
}

fn not_built(e: crate::cluster::control_plane::NotBuilt) -> TargetError {
    TargetError::Missing {
        what: "the real control plane".into(),
        looked: e.missing,
        install: format!(
            "build it with {}",
            crate::cluster::control_plane::binaries::BUILD_COMMAND
        ),
    }
}

fn failed(what: &str, why: impl std::fmt::Display) -> TargetError {
    TargetError::failed(format!("{what}: {why}"))
}

/// The world's API.
pub enum Backend {
    /// The emulator.
    Emulator(Emulator),
    /// Real control planes.
    Real(Box<RealApi>),
}

/// Real control planes, started when the first scenario names its clusters.
pub struct RealApi {
    dir: PathBuf,
    /// Whether a `current` cluster follows the resolver's (fixed servers).
    current: bool,
    plane: Option<ControlPlane>,
    writers: BTreeMap<String, WorldWriter>,
    /// The proxy in front of each cluster's API server, through which the
    /// resolver's context goes (and its faults are made).
    proxies: BTreeMap<String, FaultProxy>,
    /// What each cluster holds, as the model sees it (for judging cached
    /// answers).
    mirror: BTreeMap<String, ClusterState>,
    /// The scenario's resolver cluster.
    resolver: String,
}

impl Backend {
    /// The emulator with the `current` cluster, its kubeconfig in `dir`.
    pub fn emulator(
        runtime: &tokio::runtime::Runtime,
        dir: &Path,
    ) -> Result<(Backend, PathBuf), TargetError> {
        let mut emulator = Emulator::new(crate::scenario::load::DEFAULT_IDENTITY)
            .map_err(|e| failed("cannot start the API emulator", e))?;
        runtime
            .block_on(emulator.add_cluster(CURRENT, &ClusterState::new(CURRENT)))
            .map_err(|e| failed("cannot start the API emulator", e))?;
        let kubeconfig = emulator
            .write(dir, Some(&format!("{RESOLVER_USER}@{CURRENT}")))
            .map_err(|e| failed("cannot write the kubeconfig", e))?;
        Ok((Backend::Emulator(emulator), kubeconfig))
    }

    /// Real control planes in `dir/control-plane`, started with the first
    /// scenario; `current` adds the cluster that follows the resolver's.
    /// Fails at once if they are not built.
    pub fn real(dir: &Path, current: bool) -> Result<(Backend, PathBuf), TargetError> {
        Binaries::find().map_err(not_built)?;
        let dir = dir.join("control-plane");
        let kubeconfig = dir.join("kubeconfig");
        Ok((
            Backend::Real(Box::new(RealApi {
                dir,
                current,
                plane: None,
                writers: BTreeMap::new(),
                proxies: BTreeMap::new(),
                mirror: BTreeMap::new(),
                resolver: String::new(),
            })),
            kubeconfig,
        ))
    }

    /// How reports name the API.
    pub fn describe(&self) -> String {
        match self {
            Backend::Emulator(_) => "the mcsdns API emulator".into(),
            Backend::Real(_) => format!("kube-apiserver {KUBERNETES_VERSION}"),
        }
    }

    /// Puts the scenario's world in place (clusters of earlier scenarios
    /// emptied), with the resolver's identity; returns whether the
    /// kubeconfig was rewritten.
    pub fn reset(
        &mut self,
        runtime: &tokio::runtime::Runtime,
        scenario: &Scenario,
        dir: &Path,
    ) -> Result<Option<PathBuf>, TargetError> {
        let resolver = scenario
            .world
            .clusters
            .get(&scenario.resolver.cluster)
            .ok_or_else(|| {
                TargetError::failed(format!("no cluster {}", scenario.resolver.cluster))
            })?;
        match self {
            Backend::Emulator(e) => reset_emulator(e, runtime, scenario, resolver, dir),
            Backend::Real(r) => {
                let missing = r.start_clusters(scenario)?;
                runtime.block_on(r.reset(scenario, resolver, &missing))
            }
        }
    }

    /// Makes a change in `cluster` (and in `current` when it is the
    /// resolver's).
    pub fn change(
        &mut self,
        runtime: &tokio::runtime::Runtime,
        resolver: &str,
        cluster: &str,
        change: &Change,
    ) -> Result<(), TargetError> {
        match self {
            Backend::Emulator(e) => {
                for api in emulator_stores(e, resolver, cluster) {
                    if let Ok(mut a) = api.lock() {
                        change.apply_to(&mut a);
                    }
                }
                Ok(())
            }
            Backend::Real(r) => runtime.block_on(r.change(cluster, change)),
        }
    }

    /// Breaks `cluster`'s API.
    pub fn fault(
        &mut self,
        runtime: &tokio::runtime::Runtime,
        resolver: &str,
        cluster: &str,
        fault: &Fault,
    ) -> Result<(), TargetError> {
        match self {
            Backend::Emulator(e) => {
                for api in emulator_stores(e, resolver, cluster) {
                    if let Ok(mut a) = api.lock() {
                        fault.apply_to(&mut a);
                    }
                }
                Ok(())
            }
            Backend::Real(r) => runtime.block_on(r.fault(cluster, fault)),
        }
    }

    /// Ends an outage on every cluster.
    pub fn end_outage(&mut self) {
        match self {
            Backend::Emulator(e) => {
                for c in e.clusters().values() {
                    if let Ok(mut a) = c.api.lock() {
                        a.faults.unavailable = false;
                    }
                }
            }
            Backend::Real(r) => r.end_outage(),
        }
    }

    /// Waits (bounded) until the server has been handed every change.
    pub fn settle(&self) {
        match self {
            Backend::Emulator(e) => {
                let deadline = Instant::now() + Duration::from_secs(2);
                while Instant::now() < deadline {
                    let pending = e
                        .clusters()
                        .values()
                        .any(|c| c.api.lock().is_ok_and(|a| a.has_undelivered()));
                    if !pending || interrupt::requested() {
                        break;
                    }
                    std::thread::sleep(Duration::from_millis(2));
                }
                std::thread::sleep(Duration::from_millis(5));
            }
            // A real API server's watch delivers in a few milliseconds; what
            // is still on its way is caught by the checks' settle retries.
            Backend::Real(_) => std::thread::sleep(Duration::from_millis(50)),
        }
    }

    /// The resolver cluster's world as the model sees it.
    pub fn view(&self, resolver: &str) -> Option<ClusterView> {
        match self {
            Backend::Emulator(e) => e
                .api(CURRENT)
                .and_then(|a| a.lock().ok().map(|a| ClusterView::from_state(a.state()))),
            Backend::Real(r) => r.mirror.get(resolver).map(ClusterView::from_state),
        }
    }
}

fn emulator_stores(
    e: &Emulator,
    resolver: &str,
    cluster: &str,
) -> Vec<crate::cluster::store::SharedApi> {
    let mut out: Vec<_> = e.api(cluster).into_iter().collect();
    if resolver == cluster
        && let Some(c) = e.api(CURRENT)
    {
        out.push(c);
    }
    out
}

fn reset_emulator(
    emulator: &mut Emulator,
    runtime: &tokio::runtime::Runtime,
    scenario: &Scenario,
    resolver: &ClusterState,
    dir: &Path,
) -> Result<Option<PathBuf>, TargetError> {
    emulator.set_resolver_identity(&scenario.resolver.identity);
    let mut added = false;
    for (name, state) in &scenario.world.clusters {
        match emulator.api(name) {
            Some(api) => {
                if let Ok(mut a) = api.lock() {
                    a.reset_to(state);
                }
            }
            None => {
                runtime
                    .block_on(emulator.add_cluster(name, state))
                    .map_err(|e| failed("cannot serve a cluster", e))?;
                added = true;
            }
        }
    }
    // Clusters of earlier scenarios are emptied, not left behind.
    let names: Vec<String> = emulator.clusters().keys().cloned().collect();
    for name in names {
        if name != CURRENT
            && !scenario.world.clusters.contains_key(&name)
            && let Some(api) = emulator.api(&name)
            && let Ok(mut a) = api.lock()
        {
            a.reset_to(&ClusterState::new(&name));
        }
    }
    if let Some(api) = emulator.api(CURRENT)
        && let Ok(mut a) = api.lock()
    {
        a.reset_to(resolver);
    }
    if !added {
        return Ok(None);
    }
    emulator
        .write(dir, Some(&format!("{RESOLVER_USER}@{CURRENT}")))
        .map(Some)
        .map_err(|e| failed("cannot write the kubeconfig", e))
}

impl RealApi {
    /// Starts the clusters the scenario names that are not running yet
    /// (outside any async runtime: starting waits on processes), and
    /// returns their names.
    fn start_clusters(&mut self, scenario: &Scenario) -> Result<Vec<String>, TargetError> {
        let mut wanted: Vec<String> = scenario.world.clusters.keys().cloned().collect();
        if self.current {
            wanted.push(CURRENT.into());
        }
        let missing: Vec<String> = wanted
            .into_iter()
            .filter(|n| !self.writers.contains_key(n))
            .collect();
        if missing.is_empty() {
            return Ok(missing);
        }
        let say = |name: &str| tracing::info!("control plane for cluster {name} is ready");
        match &mut self.plane {
            Some(p) => p.add_clusters(&missing, &say),
            None => {
                let bin = Binaries::find().map_err(not_built)?;
                ControlPlane::start(&missing, &self.dir, false, bin, &say)
                    .map(|p| self.plane = Some(p))
            }
        }
        .map_err(|e| failed("cannot start the control plane", e))?;
        Ok(missing)
    }

    async fn reset(
        &mut self,
        scenario: &Scenario,
        resolver: &ClusterState,
        missing: &[String],
    ) -> Result<Option<PathBuf>, TargetError> {
        let plane = self.plane.as_mut().ok_or(TargetError::NotStarted)?;
        plane
            .set_resolver_identity(&scenario.resolver.identity)
            .await
            .map_err(|e| failed("cannot set the resolver's identity", e))?;
        for name in missing {
            let client = plane
                .admin_client(name)
                .await
                .map_err(|e| failed("cannot reach the control plane", e))?;
            self.writers
                .insert(name.clone(), WorldWriter::new(client, name));
            let proxy = plane
                .start_fault_proxy(name)
                .await
                .map_err(|e| failed("cannot start the fault proxy", e))?;
            self.proxies.insert(name.clone(), proxy);
        }
        // A user's certificate is new with each identity.
        for (name, proxy) in &self.proxies {
            if let Some((cert, user)) = plane.resolver_cert(name) {
                proxy.know(cert, CertUser::User(user.to_owned()));
            }
        }
        self.resolver = scenario.resolver.cluster.clone();
        self.mirror.clear();
        let identity = &scenario.resolver.identity;
        for (name, writer) in &mut self.writers {
            let state = if name == CURRENT {
                resolver.clone()
            } else {
                scenario
                    .world
                    .clusters
                    .get(name)
                    .cloned()
                    .unwrap_or_else(|| ClusterState::new(name))
            };
            writer
                .reset(&state, identity)
                .await
                .map_err(|e| failed("cannot put the world in place", e))?;
            self.mirror.insert(name.clone(), state);
        }
        // Rewritten for new clusters and for a new identity's token.
        Ok(Some(plane.kubeconfig().to_owned()))
    }

    fn targets_of(&self, cluster: &str) -> Vec<String> {
        let mut out = vec![cluster.to_owned()];
        if self.current && cluster == self.resolver {
            out.push(CURRENT.into());
        }
        out
    }

    async fn change(&mut self, cluster: &str, change: &Change) -> Result<(), TargetError> {
        for name in self.targets_of(cluster) {
            let writer = self
                .writers
                .get_mut(&name)
                .ok_or_else(|| TargetError::failed(format!("no cluster {name}")))?;
            match change {
                Change::Upsert(r) => writer.upsert(r).await,
                Change::Delete(key) => writer.delete(key).await,
            }
            .map_err(|e| failed("cannot change the world", e))?;
            if let Some(state) = self.mirror.get_mut(&name) {
                match change {
                    Change::Upsert(r) => state.apply(r.clone(), None),
                    Change::Delete(key) => {
                        state.delete(key);
                    }
                }
            }
        }
        Ok(())
    }

    async fn fault(&mut self, cluster: &str, fault: &Fault) -> Result<(), TargetError> {
        for name in self.targets_of(cluster) {
            let proxy = self
                .proxies
                .get(&name)
                .ok_or_else(|| TargetError::failed(format!("no cluster {name}")))?;
            match fault {
                Fault::DropWatches => proxy.drop_watches(),
                Fault::ExpireHistory => {
                    let writer = self.writers.get(&name).ok_or(TargetError::NotStarted)?;
                    let now = writer
                        .current_version()
                        .await
                        .map_err(|e| failed("cannot read the resourceVersion", e))?;
                    proxy.expire_history(now);
                }
                Fault::Unavailable(_) => proxy.set_unavailable(true),
                // The CRDs really go, and every ServiceImport and
                // ServiceExport with them; installed again, they start empty.
                Fault::CrdsMissing(missing) => {
                    let plane = self.plane.as_ref().ok_or(TargetError::NotStarted)?;
                    if *missing {
                        plane.remove_crds(&name).await
                    } else {
                        plane.install_crds(&name).await
                    }
                    .map_err(|e| failed("cannot change the CRDs", e))?;
                    if let (true, Some(state)) = (*missing, self.mirror.get_mut(&name)) {
                        state.objects.retain(|k, _| {
                            !matches!(
                                k.kind,
                                crate::model::Kind::ServiceImport
                                    | crate::model::Kind::ServiceExport
                            )
                        });
                    }
                }
            }
        }
        Ok(())
    }

    fn end_outage(&mut self) {
        for p in self.proxies.values() {
            p.set_unavailable(false);
        }
    }
}
