//! Real Kubernetes control planes on loopback: per cluster an etcd, a
//! kube-apiserver (RBAC, client-certificate and token authentication) and a
//! kube-controller-manager with the few controllers a DNS world needs,
//! built from the Go modules pinned in `peers/control-plane`.
//!
//! The emulator in [`super::emulator`] is fast and can be broken on
//! purpose; this is the real thing it is held to, and what the outside
//! targets run against with `--api real`. Every cluster shares one CA, so
//! one kubeconfig holds a context per cluster with the emulator's names
//! (`NAME` for the administrator, `resolver@NAME` for the resolver's
//! identity). Dropping a [`ControlPlane`] stops every program and removes
//! its folder unless it was asked to keep it.

pub mod binaries;
mod cluster;
pub mod faults;
mod pki;
mod process;
pub mod state;
mod tls;
pub mod world;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use serde_json::json;

pub use self::binaries::{Binaries, KUBERNETES_VERSION, NotBuilt};
pub use self::cluster::{CONTROLLERS, RealCluster, SERVICE_RANGE};
use self::pki::{CertPair, Pki};
pub use self::process::kill_all;

/// The kubeconfig user of the administrator (a client certificate in
/// `system:masters`).
pub const ADMIN_USER: &str = "admin";

/// Why a control plane could not be started or used.
#[derive(Debug, thiserror::Error)]
pub enum ControlPlaneError {
    /// The programs are not built.
    #[error(transparent)]
    NotBuilt(#[from] NotBuilt),
    /// A file or process operation failed.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// The cause.
        source: std::io::Error,
    },
    /// A program stopped, or never got ready.
    #[error("{name} {why}; its log ends:\n{log}")]
    Died {
        /// The program.
        name: String,
        /// What happened.
        why: String,
        /// The end of its log.
        log: String,
    },
    /// No loopback port was free.
    #[error("no loopback port below 32768 is free")]
    NoPort,
    /// Certificates could not be made.
    #[error("cannot generate certificates: {0}")]
    Pki(#[from] rcgen::Error),
    /// A request to a cluster's API failed.
    #[error("cluster {cluster}: {what}: {why}")]
    Api {
        /// The cluster.
        cluster: String,
        /// What was being done.
        what: String,
        /// The API's answer.
        why: String,
    },
    /// The cluster is not part of this control plane.
    #[error("no cluster {0} in this control plane")]
    NoCluster(String),
}

/// How often a cluster starts again when a port chosen for it was taken
/// before its daemon bound it.
const PORT_RETRIES: u32 = 2;

impl ControlPlaneError {
    /// Whether a daemon died because a port chosen for it was taken in the
    /// meantime (its log says so, as etcd's and kube-apiserver's do).
    pub fn port_taken(&self) -> bool {
        matches!(self, ControlPlaneError::Died { log, .. } if log.contains("address already in use"))
    }
}

impl ControlPlaneError {
    fn api(cluster: &str, what: impl Into<String>, why: impl std::fmt::Display) -> Self {
        ControlPlaneError::Api {
            cluster: cluster.to_owned(),
            what: what.into(),
            why: why.to_string(),
        }
    }
}

/// The files every cluster's API server reads.
pub struct Files {
    /// The CA certificate.
    pub ca: PathBuf,
    /// The CA certificate, PEM (for probes).
    pub ca_pem: String,
    /// The serving certificate.
    pub serving_cert: PathBuf,
    /// Its key.
    pub serving_key: PathBuf,
    /// The static token file (`token,user,uid,"groups"`).
    pub tokens: PathBuf,
}

/// How the resolver's identity authenticates to one cluster.
#[derive(Clone, Debug)]
pub enum Credentials {
    /// A service account's token (from the TokenRequest API).
    Token(String),
    /// A client certificate (a user).
    Cert(CertPair),
}

/// A set of running clusters.
pub struct ControlPlane {
    dir: PathBuf,
    keep: bool,
    binaries: Binaries,
    pki: Pki,
    files: Files,
    admin: CertPair,
    serving: CertPair,
    admin_token: String,
    /// Where `resolver@NAME` reaches cluster NAME, when not directly (a
    /// fault proxy).
    routes: BTreeMap<String, SocketAddr>,
    clusters: BTreeMap<String, RealCluster>,
    resolver: BTreeMap<String, Credentials>,
    identity: Option<String>,
    kubeconfig: PathBuf,
    taken: Vec<u16>,
}

impl Drop for ControlPlane {
    fn drop(&mut self) {
        // Every program first (each cluster stops its own in reverse
        // order), then the folder.
        self.clusters.clear();
        if !self.keep {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

fn io(what: String) -> impl FnOnce(std::io::Error) -> ControlPlaneError {
    move |source| ControlPlaneError::Io { what, source }
}

/// Writes a file of the control plane's folder: keys, tokens and
/// kubeconfigs, so 0600 whatever was there.
fn write(path: &Path, text: &str) -> Result<(), ControlPlaneError> {
    crate::files::write_private(path, text.as_bytes())
        .map_err(io(format!("cannot write {}", path.display())))
}

impl ControlPlane {
    /// Starts one cluster per name in `dir` (created; removed again when
    /// the control plane is dropped unless `keep`), installs the CRDs and
    /// writes the kubeconfig. `progress` hears each cluster as it is ready.
    pub fn start(
        names: &[String],
        dir: &Path,
        keep: bool,
        binaries: Binaries,
        progress: &(dyn Fn(&str) + Sync),
    ) -> Result<ControlPlane, ControlPlaneError> {
        crate::files::private_dir(dir).map_err(io(format!("cannot use {}", dir.display())))?;
        let dir = dir
            .canonicalize()
            .map_err(io(format!("cannot resolve {}", dir.display())))?;
        let pki = Pki::generate()?;
        let serving = pki.serving()?;
        let admin = pki.client("mcsdns-admin", Some("system:masters"))?;
        let admin_token = random_token();
        let files = Files {
            ca: dir.join("ca.crt"),
            ca_pem: pki.ca_pem(),
            serving_cert: dir.join("apiserver.crt"),
            serving_key: dir.join("apiserver.key"),
            tokens: dir.join("tokens.csv"),
        };
        write(&files.ca, &files.ca_pem)?;
        write(&files.serving_cert, &serving.cert)?;
        write(&files.serving_key, &serving.key)?;
        write(
            &files.tokens,
            &format!("{admin_token},mcsdns-admin,mcsdns-admin,\"system:masters\"\n"),
        )?;
        let mut cp = ControlPlane {
            kubeconfig: dir.join("kubeconfig"),
            dir,
            keep,
            binaries,
            pki,
            files,
            admin,
            serving,
            admin_token,
            routes: BTreeMap::new(),
            clusters: BTreeMap::new(),
            resolver: BTreeMap::new(),
            identity: None,
            taken: Vec::new(),
        };
        cp.add_clusters(names, progress)?;
        Ok(cp)
    }

    /// Starts more clusters (side by side: most of an API server's start
    /// is waiting), installs the CRDs in them and rewrites the kubeconfig.
    pub fn add_clusters(
        &mut self,
        names: &[String],
        progress: &(dyn Fn(&str) + Sync),
    ) -> Result<(), ControlPlaneError> {
        let names: Vec<&String> = names
            .iter()
            .filter(|n| !self.clusters.contains_key(*n))
            .collect();
        let taken = Mutex::new(std::mem::take(&mut self.taken));
        let started: Vec<Result<RealCluster, ControlPlaneError>> = std::thread::scope(|s| {
            let handles: Vec<_> = names
                .iter()
                .map(|name| {
                    let dir = self.dir.join(name.as_str());
                    let (bin, files, taken) = (&self.binaries, &self.files, &taken);
                    s.spawn(move || {
                        // Ports are chosen under the lock, then released
                        // to the others.
                        let mut mine = taken.lock().map(|t| t.clone()).unwrap_or_default();
                        let before = mine.len();
                        let reserve = (0..3)
                            .map(|_| process::free_port(&mine).inspect(|p| mine.push(*p)))
                            .collect::<Result<Vec<u16>, _>>();
                        if let Ok(mut t) = taken.lock() {
                            t.extend_from_slice(&mine[before..]);
                        }
                        reserve?;
                        // Another program choosing ports at the same time
                        // (another control plane, say) can bind one between
                        // our choice and our daemon's bind: start again on
                        // other ports, from a clean data folder.
                        let mut tries = 0;
                        loop {
                            match RealCluster::start(name, &dir, bin, files, &mut mine) {
                                Err(e) if e.port_taken() && tries < PORT_RETRIES => {
                                    tries += 1;
                                    let _ = std::fs::remove_dir_all(dir.join("etcd"));
                                }
                                started => return started,
                            }
                        }
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| {
                    h.join().unwrap_or_else(|_| {
                        Err(ControlPlaneError::Died {
                            name: "a start-up thread".into(),
                            why: "panicked".into(),
                            log: String::new(),
                        })
                    })
                })
                .collect()
        });
        self.taken = taken.into_inner().unwrap_or_default();
        let mut failure = None;
        for c in started {
            match c {
                Ok(c) => {
                    self.taken.extend([c.server.port(), c.etcd.port()]);
                    self.clusters.insert(c.name.clone(), c);
                }
                Err(e) => failure = failure.or(Some(e)),
            }
        }
        if let Some(e) = failure {
            return Err(e);
        }
        self.write_kubeconfig()?;
        let admin = self.dir.join("admin.kubeconfig");
        write(&admin, &self.kubeconfig_text(false))?;
        for name in &names {
            let c = self
                .clusters
                .get_mut(name.as_str())
                .ok_or_else(|| ControlPlaneError::NoCluster((*name).clone()))?;
            let own = c.dir.join("admin.kubeconfig");
            write(
                &own,
                &single_admin_kubeconfig(&self.files.ca_pem, c.server, &self.admin),
            )?;
            c.start_controllers(&self.binaries, &self.files, &own, &mut self.taken)?;
        }
        let runtime = runtime()?;
        for name in &names {
            runtime.block_on(self.install_crds(name))?;
            if let Some(identity) = self.identity.clone() {
                let creds = runtime.block_on(self.credentials_for(name, &identity))?;
                self.resolver.insert((*name).clone(), creds);
            }
            progress(name);
        }
        self.write_state()?;
        self.write_kubeconfig()
    }

    /// The running clusters.
    pub fn clusters(&self) -> &BTreeMap<String, RealCluster> {
        &self.clusters
    }

    /// The control plane's folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The kubeconfig with every context.
    pub fn kubeconfig(&self) -> &Path {
        &self.kubeconfig
    }

    /// The CA certificate (PEM) every cluster's serving certificate is signed by.
    pub fn ca_pem(&self) -> &str {
        &self.files.ca_pem
    }

    /// The administrator's bearer token (the same on every cluster).
    pub fn admin_token(&self) -> &str {
        &self.admin_token
    }

    /// A kube client for `cluster` as the administrator.
    pub async fn admin_client(&self, cluster: &str) -> Result<kube::Client, ControlPlaneError> {
        if !self.clusters.contains_key(cluster) {
            return Err(ControlPlaneError::NoCluster(cluster.to_owned()));
        }
        super::follow::client(&self.kubeconfig, Some(cluster), None)
            .await
            .map_err(|e| ControlPlaneError::api(cluster, "cannot build a client", e))
    }

    /// Gives the kubeconfig's `resolver@NAME` contexts this identity on
    /// every cluster: a service account (`system:serviceaccount:NS:NAME`)
    /// gets a real token from the TokenRequest API (the account is created
    /// if needed), any other name a client certificate.
    pub async fn set_resolver_identity(&mut self, identity: &str) -> Result<(), ControlPlaneError> {
        if self.identity.as_deref() == Some(identity) {
            return Ok(());
        }
        let names: Vec<String> = self.clusters.keys().cloned().collect();
        for name in names {
            let creds = self.credentials_for(&name, identity).await?;
            self.resolver.insert(name, creds);
        }
        self.identity = Some(identity.to_owned());
        self.write_kubeconfig()
    }

    async fn credentials_for(
        &self,
        cluster: &str,
        identity: &str,
    ) -> Result<Credentials, ControlPlaneError> {
        match service_account(identity) {
            Some((ns, name)) => {
                let client = self.admin_client(cluster).await?;
                world::ensure_service_account(&client, cluster, ns, name).await?;
                let token = world::request_token(&client, cluster, ns, name).await?;
                Ok(Credentials::Token(token))
            }
            None => Ok(Credentials::Cert(self.pki.client(identity, None)?)),
        }
    }

    /// Installs the mcs-api CRDs in `cluster` (again) and waits until they
    /// are served.
    pub async fn install_crds(&self, cluster: &str) -> Result<(), ControlPlaneError> {
        let client = self.admin_client(cluster).await?;
        world::install_crds(&client, cluster, &self.binaries.crd_files()).await
    }

    /// Deletes the mcs-api CRDs from `cluster` (and with them every
    /// ServiceImport and ServiceExport) and waits until they are gone.
    pub async fn remove_crds(&self, cluster: &str) -> Result<(), ControlPlaneError> {
        let client = self.admin_client(cluster).await?;
        world::remove_crds(&client, cluster, &self.binaries.crd_files()).await
    }

    /// Starts a fault proxy in front of `cluster`'s API server and sends the
    /// `resolver@NAME` context through it. Must run in a tokio runtime
    /// that outlives the proxy.
    pub async fn start_fault_proxy(
        &mut self,
        cluster: &str,
    ) -> Result<faults::FaultProxy, ControlPlaneError> {
        let c = self
            .clusters
            .get(cluster)
            .ok_or_else(|| ControlPlaneError::NoCluster(cluster.to_owned()))?;
        let proxy =
            faults::FaultProxy::start(c.server, &self.files.ca_pem, &self.serving, &self.admin)
                .await?;
        if let (Some(Credentials::Cert(cert)), Some(id)) =
            (self.resolver.get(cluster), &self.identity)
        {
            proxy.know(&cert.cert, faults::CertUser::User(id.clone()));
        }
        self.routes.insert(cluster.to_owned(), proxy.addr);
        self.write_kubeconfig()?;
        Ok(proxy)
    }

    /// The client certificate `resolver@NAME` uses on `cluster`, if its
    /// identity is a user rather than a service account.
    pub fn resolver_cert(&self, cluster: &str) -> Option<(&str, &str)> {
        match (self.resolver.get(cluster), &self.identity) {
            (Some(Credentials::Cert(c)), Some(id)) => Some((c.cert.as_str(), id.as_str())),
            _ => None,
        }
    }

    fn write_kubeconfig(&self) -> Result<(), ControlPlaneError> {
        write(&self.kubeconfig, &self.kubeconfig_text(true))
    }

    /// The kubeconfig: per cluster a context `NAME` (administrator) and,
    /// once an identity is set, `resolver@NAME`.
    fn kubeconfig_text(&self, with_resolver: bool) -> String {
        use base64::Engine;
        let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s.as_bytes());
        let mut clusters = Vec::new();
        let mut contexts = Vec::new();
        let mut users = vec![json!({"name": ADMIN_USER, "user": {
            "client-certificate-data": b64(&self.admin.cert),
            "client-key-data": b64(&self.admin.key)}})];
        for (name, c) in &self.clusters {
            clusters.push(json!({"name": name, "cluster": {
                "server": format!("https://{}", c.server),
                "certificate-authority-data": b64(&self.files.ca_pem)}}));
            contexts.push(json!({"name": name, "context": {"cluster": name, "user": ADMIN_USER}}));
            let user = format!("resolver@{name}");
            let mut via = name.clone();
            if let Some(route) = self.routes.get(name) {
                via = user.clone();
                clusters.push(json!({"name": via, "cluster": {
                    "server": format!("https://{route}"),
                    "certificate-authority-data": b64(&self.files.ca_pem)}}));
            }
            if let (true, Some(creds)) = (with_resolver, self.resolver.get(name)) {
                let u = match creds {
                    Credentials::Token(t) => json!({"token": t}),
                    Credentials::Cert(c) => json!({
                        "client-certificate-data": b64(&c.cert),
                        "client-key-data": b64(&c.key)}),
                };
                users.push(json!({"name": user, "user": u}));
                contexts.push(json!({"name": user, "context": {"cluster": via, "user": user}}));
            }
        }
        let doc = json!({
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": clusters,
            "contexts": contexts,
            "current-context": self.clusters.keys().next().cloned().unwrap_or_default(),
            "users": users,
        });
        serde_saphyr::to_string(&doc).unwrap_or_else(|_| doc.to_string())
    }

    fn write_state(&self) -> Result<(), ControlPlaneError> {
        let s = state::State {
            dir: self.dir.clone(),
            kubeconfig: self.kubeconfig.clone(),
            clusters: self
                .clusters
                .iter()
                .map(|(n, c)| {
                    (
                        n.clone(),
                        state::ClusterRecord {
                            server: c.server,
                            etcd: c.etcd,
                            programs: c.pids(),
                        },
                    )
                })
                .collect(),
        };
        s.write(&self.dir)
    }

    /// Fails if any program of any cluster has stopped.
    pub fn check_running(&mut self) -> Result<(), ControlPlaneError> {
        self.clusters
            .values_mut()
            .try_for_each(RealCluster::check_running)
    }
}

/// `system:serviceaccount:NS:NAME` → `(NS, NAME)`.
pub fn service_account(identity: &str) -> Option<(&str, &str)> {
    let rest = identity.strip_prefix("system:serviceaccount:")?;
    let (ns, name) = rest.split_once(':')?;
    (!ns.is_empty() && !name.is_empty()).then_some((ns, name))
}

/// A kubeconfig for one cluster as the administrator (for the controller
/// manager).
fn single_admin_kubeconfig(ca_pem: &str, server: SocketAddr, admin: &CertPair) -> String {
    use base64::Engine;
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s.as_bytes());
    let doc = json!({
        "apiVersion": "v1", "kind": "Config",
        "clusters": [{"name": "c", "cluster": {"server": format!("https://{server}"),
            "certificate-authority-data": b64(ca_pem)}}],
        "users": [{"name": "admin", "user": {"client-certificate-data": b64(&admin.cert),
            "client-key-data": b64(&admin.key)}}],
        "contexts": [{"name": "c", "context": {"cluster": "c", "user": "admin"}}],
        "current-context": "c",
    });
    serde_saphyr::to_string(&doc).unwrap_or_else(|_| doc.to_string())
}

fn random_token() -> String {
    let mut b = [0u8; 24];
    let _ = getrandom::fill(&mut b);
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn runtime() -> Result<tokio::runtime::Runtime, ControlPlaneError> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(io("cannot start a runtime".into()))
}

/// How long to wait for an API change to show (a CRD established, a
/// namespace gone).
pub const SETTLE_TIMEOUT: Duration = Duration::from_secs(60);

#[cfg(test)]
mod tests {
    use super::*;

    fn died(log: &str) -> ControlPlaneError {
        ControlPlaneError::Died {
            name: "etcd".into(),
            why: "exited with status 1".into(),
            log: log.into(),
        }
    }

    #[test]
    fn a_daemon_that_lost_its_port_is_told_from_other_deaths() {
        // etcd 3.6's line when its client port is bound by another program.
        assert!(died(r#"{"level":"fatal","msg":"discovery failed","error":"listen tcp 127.0.0.1:23456: bind: address already in use"}"#).port_taken());
        assert!(!died("panic: runtime error").port_taken());
        assert!(!ControlPlaneError::NoPort.port_taken());
    }
}
