//! Emulates the Kubernetes API of a whole world: each cluster served over
//! HTTPS and HTTP on its own loopback ports, and a kubeconfig with one
//! context per cluster and identity, so that real clients (kubectl, CoreDNS,
//! a vendor's resolver, `mcsdns serve --kubeconfig`) run against a scenario
//! with no kind cluster.
//!
//! Contexts, for a cluster named `member2`:
//! - `member2`: the admin over HTTPS (`kubectl --context member2 apply ...`);
//! - `resolver@member2`: the resolver's service account over HTTPS, so RBAC
//!   applies to a resolver exactly as in a cluster;
//! - `member2-http` and `resolver@member2-http`, only when plain HTTP is
//!   asked for ([`Emulator::serve_insecure_http`]): the same over plain
//!   HTTP, on two ports (clients send no token over plain HTTP, so the port
//!   says who is asking). Any local process that reaches the admin's port
//!   is the admin: it is for tools that cannot use TLS, on machines where
//!   every local user is trusted.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use serde_json::json;
use tokio::net::TcpListener;

use super::http::{self, Listener, Tls, TlsError, Tokens};
use super::store::{ADMIN, ApiStore, SharedApi};
use crate::model::ClusterState;

/// The kubeconfig user of the admin.
pub const ADMIN_USER: &str = "admin";
/// The kubeconfig user of the resolver's service account.
pub const RESOLVER_USER: &str = "resolver";

/// Why the emulator could not start.
#[derive(Debug, thiserror::Error)]
pub enum EmulatorError {
    /// TLS set-up failed.
    #[error(transparent)]
    Tls(#[from] TlsError),
    /// A listener could not be bound, or a file written.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// The cause.
        source: std::io::Error,
    },
    /// No randomness for tokens.
    #[error("cannot generate tokens: {0}")]
    Random(String),
}

/// One cluster's API and where it listens.
pub struct Endpoint {
    /// The cluster's objects.
    pub api: SharedApi,
    /// The HTTPS address.
    pub https: SocketAddr,
    /// The plain HTTP address of the admin, when plain HTTP is served.
    pub http: Option<SocketAddr>,
    /// The plain HTTP address of the resolver's service account, likewise.
    pub http_resolver: Option<SocketAddr>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Drop for Endpoint {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
        if let Ok(mut api) = self.api.lock() {
            api.drop_watches();
        }
    }
}

/// The emulator: clusters, tokens and the CA that signs its certificate.
pub struct Emulator {
    clusters: BTreeMap<String, Endpoint>,
    tls: Tls,
    admin_token: String,
    resolver_token: String,
    resolver_identity: String,
    tokens: Tokens,
    insecure_http: bool,
    /// The next fixed port to listen on (`None`: ports the system picks).
    next_port: Option<u32>,
}

fn token() -> Result<String, EmulatorError> {
    let mut bytes = [0u8; 24];
    getrandom::fill(&mut bytes).map_err(|e| EmulatorError::Random(e.to_string()))?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

impl Emulator {
    /// An emulator with no clusters yet. The resolver's token authenticates
    /// as `resolver_identity` (`system:serviceaccount:kube-system:coredns`).
    pub fn new(resolver_identity: &str) -> Result<Emulator, EmulatorError> {
        let tls = Tls::generate()?;
        let admin_token = token()?;
        let resolver_token = token()?;
        let tokens: Tokens = Arc::new(std::sync::RwLock::new(BTreeMap::from([
            (admin_token.clone(), ADMIN.to_owned()),
            (resolver_token.clone(), resolver_identity.to_owned()),
        ])));
        Ok(Emulator {
            clusters: BTreeMap::new(),
            tls,
            admin_token,
            resolver_token,
            resolver_identity: resolver_identity.to_owned(),
            tokens,
            insecure_http: false,
            next_port: None,
        })
    }

    /// Also serves each cluster added from now on over plain HTTP, without
    /// authentication: one port for the admin and one for the resolver.
    pub fn serve_insecure_http(&mut self, on: bool) {
        self.insecure_http = on;
    }

    /// Listens on fixed ports from `first` on, three per cluster in the
    /// order clusters are added (HTTPS, then HTTP and HTTP as the resolver,
    /// kept free when plain HTTP is not served), so a kubeconfig written
    /// once stays valid across restarts.
    pub fn with_ports(mut self, first: u16) -> Emulator {
        self.next_port = Some(u32::from(first));
        self
    }

    /// The address of the next listener: a fixed port, or one the system picks.
    fn next_addr(&mut self) -> Result<String, EmulatorError> {
        match self.next_port {
            None => Ok("127.0.0.1:0".into()),
            Some(p) => {
                let port = u16::try_from(p).map_err(|_| EmulatorError::Io {
                    what: "no port is left above 65535".into(),
                    source: std::io::Error::from(std::io::ErrorKind::AddrNotAvailable),
                })?;
                self.next_port = Some(p + 1);
                Ok(format!("127.0.0.1:{port}"))
            }
        }
    }

    /// Serves a cluster on a new loopback port (HTTPS; two more for plain
    /// HTTP when asked). Must be called within a tokio runtime, which then
    /// runs the servers.
    pub async fn add_cluster(
        &mut self,
        name: &str,
        state: &ClusterState,
    ) -> Result<SharedApi, EmulatorError> {
        let api: SharedApi = Arc::new(Mutex::new(ApiStore::new(state)));
        let bind = |what: &str| {
            let what = format!("cannot listen for cluster {name}'s {what} API on 127.0.0.1");
            move |source| EmulatorError::Io { what, source }
        };
        let secure = TcpListener::bind(self.next_addr()?)
            .await
            .map_err(bind("HTTPS"))?;
        let https = secure.local_addr().map_err(bind("HTTPS"))?;
        let mut tasks = vec![http::spawn(
            secure,
            api.clone(),
            self.tokens.clone(),
            Some(self.tls.acceptor.clone()),
            Listener::Tokens,
        )];
        let (mut http_addr, mut http_resolver) = (None, None);
        let plain_addrs = [self.next_addr()?, self.next_addr()?];
        if self.insecure_http {
            for ((token, addr), at) in [
                (self.admin_token.clone(), &mut http_addr),
                (self.resolver_token.clone(), &mut http_resolver),
            ]
            .into_iter()
            .zip(plain_addrs)
            {
                let plain = TcpListener::bind(at).await.map_err(bind("HTTP"))?;
                *addr = Some(plain.local_addr().map_err(bind("HTTP"))?);
                tasks.push(http::spawn(
                    plain,
                    api.clone(),
                    self.tokens.clone(),
                    None,
                    Listener::Fixed(token),
                ));
            }
        }
        self.clusters.insert(
            name.to_owned(),
            Endpoint {
                api: api.clone(),
                https,
                http: http_addr,
                http_resolver,
                tasks,
            },
        );
        Ok(api)
    }

    /// The clusters served.
    pub fn clusters(&self) -> &BTreeMap<String, Endpoint> {
        &self.clusters
    }

    /// One cluster's API.
    pub fn api(&self, cluster: &str) -> Option<SharedApi> {
        self.clusters.get(cluster).map(|e| e.api.clone())
    }

    /// Makes the resolver's token authenticate as another identity (each
    /// scenario names its resolver's).
    pub fn set_resolver_identity(&mut self, identity: &str) {
        if let Ok(mut m) = self.tokens.write() {
            m.insert(self.resolver_token.clone(), identity.to_owned());
        }
        self.resolver_identity = identity.to_owned();
    }

    /// The CA certificate (PEM) that signs the HTTPS endpoints.
    pub fn ca_pem(&self) -> &str {
        &self.tls.ca_pem
    }

    /// The kubeconfig, as YAML. The CA is embedded, so the file stands alone.
    pub fn kubeconfig(&self, current: Option<&str>) -> String {
        use base64::Engine;
        let ca = base64::engine::general_purpose::STANDARD.encode(self.tls.ca_pem.as_bytes());
        let mut clusters = Vec::new();
        let mut contexts = Vec::new();
        for (name, e) in &self.clusters {
            clusters.push(json!({"name": name, "cluster": {
                "server": format!("https://{}", e.https), "certificate-authority-data": ca}}));
            let mut context = |ctx: String, cluster: String, user: &str| {
                contexts.push(json!({"name": ctx, "context": {"cluster": cluster, "user": user}}));
            };
            context(name.clone(), name.clone(), ADMIN_USER);
            context(
                format!("{RESOLVER_USER}@{name}"),
                name.clone(),
                RESOLVER_USER,
            );
            if let (Some(admin), Some(resolver)) = (e.http, e.http_resolver) {
                clusters.push(json!({"name": format!("{name}-http"), "cluster": {
                    "server": format!("http://{admin}")}}));
                clusters.push(
                    json!({"name": format!("{name}-http-{RESOLVER_USER}"), "cluster": {
                    "server": format!("http://{resolver}")}}),
                );
                context(format!("{name}-http"), format!("{name}-http"), ADMIN_USER);
                context(
                    format!("{RESOLVER_USER}@{name}-http"),
                    format!("{name}-http-{RESOLVER_USER}"),
                    RESOLVER_USER,
                );
            }
        }
        let current = current
            .map(str::to_owned)
            .or_else(|| self.clusters.keys().next().cloned())
            .unwrap_or_default();
        let doc = json!({
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": clusters,
            "contexts": contexts,
            "current-context": current,
            "users": [
                {"name": ADMIN_USER, "user": {"token": self.admin_token}},
                {"name": RESOLVER_USER, "user": {"token": self.resolver_token}},
            ],
        });
        serde_saphyr::to_string(&doc).unwrap_or_else(|_| doc.to_string())
    }

    /// Writes `kubeconfig` and `ca.crt` into `dir` and returns the
    /// kubeconfig's path. The folder is made 0700 if missing and refused if
    /// another user could change it; both files are 0600, replacing
    /// whatever was there (a link is replaced, never followed), whatever
    /// the umask.
    pub fn write(&self, dir: &Path, current: Option<&str>) -> Result<PathBuf, EmulatorError> {
        let io = |what: String| move |source| EmulatorError::Io { what, source };
        crate::files::private_dir(dir).map_err(io(format!("cannot use {}", dir.display())))?;
        let path = dir.join("kubeconfig");
        crate::files::write_private(&path, self.kubeconfig(current).as_bytes())
            .map_err(io(format!("cannot write {}", path.display())))?;
        let ca = dir.join("ca.crt");
        crate::files::write_private(&ca, self.tls.ca_pem.as_bytes())
            .map_err(io(format!("cannot write {}", ca.display())))?;
        Ok(path)
    }
}
