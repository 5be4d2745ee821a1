//! Runs scenarios on real clusters: a scenario's objects are applied through
//! a kubeconfig's contexts and its questions go to the cluster's DNS.
//!
//! Nothing the run did not create is touched. Every namespace a scenario
//! uses is created under a run-unique name (`demo` becomes `demo-<run>-<n>`)
//! and every object carries the label `mcsdns.io/run=<run>`; cluster-scoped
//! objects get the same suffix. Questions are rewritten into the run's
//! namespaces and answers back, so scenarios need no edits. Everything is
//! deleted when the scenario ends, when the run ends and on Ctrl-C.
//!
//! The same kube-rs code path works against the API emulator, which is how
//! this target is tested.

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use hickory_proto::rr::{Name, RData, Record};
use kube::api::{DeleteParams, Patch, PatchParams};
use kube::core::DynamicObject;
use serde_json::{Value, json};

use super::{Answer, Capabilities, Events, Operation, Target, TargetError};
use crate::client::wire;
use crate::model::kinds::ApiResource;
use crate::model::{ClusterState, Kind, ObjectKey, Resource};
use crate::resolver::{Outcome, Question};
use crate::scenario::Change;
use crate::scenario::Scenario;

/// The label every object the run creates carries.
pub const RUN_LABEL: &str = "mcsdns.io/run";

/// The field manager of the run's server-side applies.
const MANAGER: &str = "mcsdns";

/// Options of the kube target.
#[derive(Clone, Debug)]
pub struct KubeOptions {
    /// Scenario cluster → kubeconfig context.
    pub contexts: Vec<(String, String)>,
    /// The kubeconfig (default: `$KUBECONFIG`, then `~/.kube/config`).
    pub kubeconfig: Option<PathBuf>,
    /// The resolver cluster's DNS address.
    pub dns: Option<SocketAddr>,
    /// How long a failed check is retried while the cluster catches up.
    pub settle: Duration,
    /// How long to wait for one DNS reply.
    pub query_timeout: Duration,
}

/// How a scenario's names map into the run's.
#[derive(Clone, Debug, Default)]
pub struct Rename {
    suffix: String,
    run: String,
    namespaces: BTreeSet<String>,
    cluster_scoped: BTreeSet<(Kind, String)>,
}

impl Rename {
    /// The renaming for one scenario of a run: namespaces used by its
    /// objects, and its cluster-scoped objects.
    pub fn new(run: &str, index: usize, world: &crate::model::World) -> Rename {
        let mut r = Rename {
            suffix: format!("{run}-{index}"),
            run: run.to_owned(),
            ..Default::default()
        };
        for state in world.clusters.values() {
            for (key, stored) in &state.objects {
                if key.kind.is_namespaced() {
                    r.namespaces.insert(key.namespace.clone());
                } else if key.kind == Kind::Namespace {
                    if stored.origin.is_some() {
                        r.namespaces.insert(key.name.clone());
                    }
                } else {
                    r.cluster_scoped.insert((key.kind, key.name.clone()));
                }
            }
        }
        r
    }

    /// A namespace's name in the run.
    pub fn namespace(&self, ns: &str) -> String {
        format!("{ns}-{}", self.suffix)
    }

    fn cluster_scoped_name(&self, kind: Kind, name: &str) -> String {
        if self.cluster_scoped.contains(&(kind, name.to_owned())) {
            format!("{name}-{}", self.suffix)
        } else {
            name.to_owned()
        }
    }

    /// The namespaces the run creates, as named in the run.
    pub fn run_namespaces(&self) -> Vec<String> {
        self.namespaces.iter().map(|n| self.namespace(n)).collect()
    }

    /// An object as the run creates it: renamed, labelled, without the
    /// fields the server sets.
    pub fn object(&self, r: &Resource) -> Value {
        let mut v = r.to_json();
        if let Some(meta) = v["metadata"].as_object_mut() {
            for f in ["resourceVersion", "uid", "creationTimestamp"] {
                meta.remove(f);
            }
        }
        let key = r.key();
        match key.kind {
            Kind::Namespace => v["metadata"]["name"] = json!(self.namespace(&key.name)),
            k if k.is_namespaced() => {
                v["metadata"]["namespace"] = json!(self.namespace(&key.namespace))
            }
            k => v["metadata"]["name"] = json!(self.cluster_scoped_name(k, &key.name)),
        }
        if key.kind == Kind::ClusterRoleBinding
            && let Some(role) = v["roleRef"]["name"].as_str().map(str::to_owned)
        {
            v["roleRef"]["name"] = json!(self.cluster_scoped_name(Kind::ClusterRole, &role));
        }
        v["metadata"]["labels"][RUN_LABEL] = json!(self.run);
        v
    }

    /// A key as it is in the run.
    pub fn key(&self, key: &ObjectKey) -> ObjectKey {
        match key.kind {
            Kind::Namespace => ObjectKey::new(key.kind, "", &self.namespace(&key.name)),
            k if k.is_namespaced() => ObjectKey::new(k, &self.namespace(&key.namespace), &key.name),
            k => ObjectKey::new(k, "", &self.cluster_scoped_name(k, &key.name)),
        }
    }

    /// A DNS name in the run: the namespace label before `svc` is renamed.
    pub fn to_run(&self, name: &Name) -> Name {
        self.map_name(name, |label| {
            self.namespaces
                .contains(label)
                .then(|| self.namespace(label))
        })
    }

    /// A DNS name of the run, as the scenario knows it.
    pub fn to_scenario(&self, name: &Name) -> Name {
        let tail = format!("-{}", self.suffix);
        self.map_name(name, |label| {
            label
                .strip_suffix(&tail)
                .filter(|ns| self.namespaces.contains(*ns))
                .map(str::to_owned)
        })
    }

    fn map_name(&self, name: &Name, f: impl Fn(&str) -> Option<String>) -> Name {
        let labels: Vec<String> = name
            .iter()
            .map(|l| String::from_utf8_lossy(l).into_owned())
            .collect();
        let Some(svc) = labels.iter().position(|l| l.eq_ignore_ascii_case("svc")) else {
            return name.clone();
        };
        if svc == 0 {
            return name.clone();
        }
        let mut out = labels.clone();
        match f(&labels[svc - 1].to_ascii_lowercase()) {
            Some(new) => out[svc - 1] = new,
            None => return name.clone(),
        }
        let mut n =
            Name::from_labels(out.iter().map(String::as_bytes)).unwrap_or_else(|_| name.clone());
        n.set_fqdn(name.is_fqdn());
        n
    }

    fn record_to_scenario(&self, r: &Record) -> Record {
        let mut out = r.clone();
        out.name = self.to_scenario(&r.name);
        if let RData::SRV(srv) = &r.data {
            let mut srv = srv.clone();
            srv.target = self.to_scenario(&srv.target);
            out.data = RData::SRV(srv);
        }
        out
    }
}

/// One object the run created, to delete.
#[derive(Clone, Debug)]
struct Created {
    context: String,
    res: &'static ApiResource,
    namespace: Option<String>,
    name: String,
}

/// Real clusters through a kubeconfig.
pub struct KubeTarget {
    runtime: tokio::runtime::Runtime,
    clients: BTreeMap<String, kube::Client>,
    options: KubeOptions,
    run: String,
    index: usize,
    rename: Rename,
    created: Vec<Created>,
    resolver_cluster: String,
    /// A port-forward to the cluster DNS, when no address was given.
    forward: Option<Forward>,
}

/// An open port-forward to port 53 of a kube-dns Pod.
struct Forward {
    cluster: String,
    pod: String,
    _forwarder: kube::api::Portforwarder,
    stream: Box<dyn DuplexStream>,
}

trait DuplexStream: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send {}
impl<T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send> DuplexStream for T {}

impl KubeTarget {
    /// Connects to every context (nothing is changed yet).
    pub fn new(options: KubeOptions) -> Result<KubeTarget, TargetError> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| TargetError::failed(format!("cannot start a runtime: {e}")))?;
        let mut clients = BTreeMap::new();
        for (cluster, context) in &options.contexts {
            let client = runtime
                .block_on(async {
                    match &options.kubeconfig {
                        Some(path) => crate::cluster::follow::client(path, Some(context), None)
                            .await
                            .map_err(|e| e.to_string()),
                        None => {
                            let o = kube::config::KubeConfigOptions {
                                context: Some(context.clone()),
                                ..Default::default()
                            };
                            let c = kube::Config::from_kubeconfig(&o)
                                .await
                                .map_err(|e| e.to_string())?;
                            kube::Client::try_from(c).map_err(|e| e.to_string())
                        }
                    }
                })
                .map_err(|e| TargetError::failed(format!("context {context}: {e}")))?;
            clients.insert(cluster.clone(), client);
        }
        Ok(KubeTarget {
            runtime,
            clients,
            options,
            run: run_id(),
            index: 0,
            rename: Rename::default(),
            created: Vec::new(),
            resolver_cluster: String::new(),
            forward: None,
        })
    }

    /// The run's id (the value of its label).
    pub fn run_id(&self) -> &str {
        &self.run
    }

    fn client(&self, cluster: &str) -> Result<kube::Client, TargetError> {
        self.clients.get(cluster).cloned().ok_or_else(|| {
            TargetError::failed(format!(
                "the scenario's cluster {cluster} has no context: name it in --target kube={cluster}:CONTEXT"
            ))
        })
    }

    fn api(
        client: kube::Client,
        res: &'static ApiResource,
        namespace: Option<&str>,
    ) -> kube::Api<DynamicObject> {
        let ar = crate::cluster::control_plane::world::kube_resource(res);
        match namespace {
            Some(ns) => kube::Api::namespaced_with(client, ns, &ar),
            None => kube::Api::all_with(client, &ar),
        }
    }

    /// Applies one object (server-side apply), refusing to change an
    /// object the run did not create.
    fn put(&mut self, cluster: &str, r: &Resource) -> Result<(), TargetError> {
        let client = self.client(cluster)?;
        let body = self.rename.object(r);
        let key = self.rename.key(&r.key());
        let res = ApiResource::of(key.kind);
        let ns = res.namespaced.then_some(key.namespace.as_str());
        let api = Self::api(client, res, ns);
        let run = self.run.clone();
        let name = key.name.clone();
        let fresh = self.runtime.block_on(async {
            let fresh = match api.get_opt(&name).await {
                Ok(Some(existing)) => {
                    if existing.metadata.labels.as_ref().and_then(|l| l.get(RUN_LABEL)) != Some(&run) {
                        return Err(TargetError::failed(format!(
                            "{key} exists and was not created by this run (no {RUN_LABEL}={run} label): not touched"
                        )));
                    }
                    Ok(false)
                }
                Ok(None) => Ok(true),
                Err(e) => Err(TargetError::failed(format!("cannot read {key}: {e}"))),
            }?;
            let object: DynamicObject = serde_json::from_value(body)
                .map_err(|e| TargetError::failed(format!("cannot encode {key}: {e}")))?;
            api.patch(&name, &PatchParams::apply(MANAGER).force(), &Patch::Apply(&object))
                .await
                .map_err(|e| TargetError::failed(format!("cannot apply {key}: {e}")))?;
            Ok::<bool, TargetError>(fresh)
        })?;
        if fresh {
            self.created.push(Created {
                context: cluster.to_owned(),
                res,
                namespace: ns.map(str::to_owned),
                name,
            });
        }
        Ok(())
    }

    fn remove(&mut self, cluster: &str, key: &ObjectKey) -> Result<(), TargetError> {
        let client = self.client(cluster)?;
        let key = self.rename.key(key);
        let res = ApiResource::of(key.kind);
        let ns = res.namespaced.then_some(key.namespace.as_str());
        let api = Self::api(client, res, ns);
        let run = self.run.clone();
        self.runtime.block_on(async {
            match api.get_opt(&key.name).await {
                Ok(Some(o))
                    if o.metadata.labels.as_ref().and_then(|l| l.get(RUN_LABEL)) == Some(&run) =>
                {
                    api.delete(&key.name, &DeleteParams::default())
                        .await
                        .map(|_| ())
                        .map_err(|e| TargetError::failed(format!("cannot delete {key}: {e}")))
                }
                Ok(Some(_)) => Err(TargetError::failed(format!(
                    "{key} was not created by this run: not deleted"
                ))),
                Ok(None) => Ok(()),
                Err(e) => Err(TargetError::failed(format!("cannot read {key}: {e}"))),
            }
        })?;
        self.created.retain(|c| {
            !(c.context == cluster
                && std::ptr::eq(c.res, res)
                && c.name == key.name
                && c.namespace.as_deref() == ns)
        });
        Ok(())
    }

    /// Opens a port-forward to port 53 of a Pod labelled
    /// `k8s-app=kube-dns` in the resolver cluster's `kube-system`, over TCP.
    fn open_forward(&mut self) -> Result<(), TargetError> {
        use k8s_openapi::api::core::v1::Pod;
        let cluster = self.resolver_cluster.clone();
        let client = self.client(&cluster)?;
        let pods: kube::Api<Pod> = kube::Api::namespaced(client, "kube-system");
        let forward = self.runtime.block_on(async {
            let list = pods
                .list(&kube::api::ListParams::default().labels("k8s-app=kube-dns"))
                .await
                .map_err(|e| TargetError::failed(format!("cannot list the kube-dns Pods of {cluster}: {e}")))?;
            let pod = list
                .items
                .iter()
                .filter_map(|p| p.metadata.name.clone())
                .next()
                .ok_or_else(|| {
                    TargetError::failed(format!(
                        "cluster {cluster} has no Pod labelled k8s-app=kube-dns in kube-system to port-forward to; give --dns ADDR"
                    ))
                })?;
            let mut forwarder = pods
                .portforward(&pod, &[53])
                .await
                .map_err(|e| TargetError::failed(format!("cannot port-forward to {pod}:53: {e}")))?;
            let stream = forwarder
                .take_stream(53)
                .ok_or_else(|| TargetError::failed(format!("the port-forward to {pod} has no stream for port 53")))?;
            Ok::<_, TargetError>(Forward {
                cluster: cluster.clone(),
                pod,
                _forwarder: forwarder,
                stream: Box::new(stream),
            })
        })?;
        self.forward = Some(forward);
        Ok(())
    }

    /// Asks over the port-forward, opening it (again) as needed.
    fn ask_forwarded(&mut self, q: &Question) -> Result<Outcome, TargetError> {
        for attempt in 0..2 {
            if self
                .forward
                .as_ref()
                .is_none_or(|f| f.cluster != self.resolver_cluster)
            {
                self.open_forward()?;
            }
            let timeout = self.options.query_timeout;
            let Some(f) = self.forward.as_mut() else {
                continue;
            };
            match self
                .runtime
                .block_on(wire::ask_over(&mut f.stream, q, timeout))
            {
                Ok(o @ Outcome::Silent(_)) => {
                    // A reply may still come, or half of one: the next
                    // question gets a fresh stream.
                    self.forward = None;
                    return Ok(o);
                }
                Ok(o) => return Ok(o),
                Err(e) if attempt == 0 => {
                    tracing::debug!(pod = %f.pod, "port-forward broke ({e}); opening a new one");
                    self.forward = None;
                }
                Err(e) => return Err(TargetError::failed(e)),
            }
        }
        Err(TargetError::failed(
            "the port-forward could not be kept open",
        ))
    }

    /// Deletes everything the run created, newest first (namespaces last,
    /// so their contents go with them).
    pub fn clean_up(&mut self) -> Vec<String> {
        let mut problems = Vec::new();
        let created = std::mem::take(&mut self.created);
        for c in created.iter().rev() {
            let Some(client) = self.clients.get(&c.context).cloned() else {
                continue;
            };
            let api = Self::api(client, c.res, c.namespace.as_deref());
            let result = self
                .runtime
                .block_on(api.delete(&c.name, &DeleteParams::background()));
            match result {
                Ok(_) => {}
                Err(kube::Error::Api(s)) if s.code == 404 => {}
                Err(e) => problems.push(format!("cannot delete {} {}: {e}", c.res.kind, c.name)),
            }
        }
        problems
    }
}

impl Drop for KubeTarget {
    fn drop(&mut self) {
        for p in self.clean_up() {
            eprintln!("mcsdns: {p}");
        }
    }
}

/// A short id for a run: six hex digits.
fn run_id() -> String {
    let mut b = [0u8; 3];
    let _ = getrandom::fill(&mut b);
    format!("r{:02x}{:02x}{:02x}", b[0], b[1], b[2])
}

/// What the run would create for `scenario`, one line each, in order.
pub fn plan(
    scenario: &Scenario,
    contexts: &[(String, String)],
    run: &str,
    index: usize,
) -> Vec<String> {
    let rename = Rename::new(run, index, &scenario.world);
    let mut lines = Vec::new();
    for (cluster, state) in &scenario.world.clusters {
        let context = contexts
            .iter()
            .find(|(c, _)| c == cluster)
            .map_or("(no context)", |(_, ctx)| ctx.as_str());
        for r in ordered(state, &rename) {
            let key = rename.key(&r.key());
            lines.push(format!("{context}: apply {key} (label {RUN_LABEL}={run})"));
        }
    }
    lines.push(format!(
        "then delete each of them; namespaces: {}",
        rename.run_namespaces().join(", ")
    ));
    lines
}

/// A cluster's objects in the order they can be created: namespaces, then
/// cluster-scoped objects, then the rest. Built-in namespaces that no object
/// uses are left out.
fn ordered<'a>(state: &'a ClusterState, rename: &Rename) -> Vec<&'a Resource> {
    let mut out: Vec<&Resource> = Vec::new();
    let rank = |r: &Resource| match r.kind() {
        Kind::Namespace => 0,
        k if !k.is_namespaced() => 1,
        _ => 2,
    };
    for s in state.objects.values() {
        let r = &s.resource;
        if r.kind() == Kind::Namespace && !rename.namespaces.contains(&r.key().name) {
            continue;
        }
        out.push(r);
    }
    out.sort_by_key(|r| rank(r));
    out
}

impl KubeTarget {
    fn change(&mut self, cluster: &str, change: &Change) -> Result<(), TargetError> {
        if !self.clients.contains_key(cluster) {
            return Ok(());
        }
        match change {
            Change::Upsert(r) => {
                if r.kind().is_namespaced() && !self.rename.namespaces.contains(&r.key().namespace)
                {
                    return Err(TargetError::failed(format!(
                        "{} is in namespace {}, which the scenario's world does not use: declare it in the world",
                        r.key(),
                        r.key().namespace
                    )));
                }
                self.put(cluster, r)
            }
            Change::Delete(k) => self.remove(cluster, k),
        }
    }
}

impl Target for KubeTarget {
    fn name(&self) -> String {
        let list: Vec<String> = self
            .options
            .contexts
            .iter()
            .map(|(_, c)| c.clone())
            .collect();
        format!("kube={}", list.join(","))
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            apply_state: true,
            settle: Some(self.options.settle),
            ..Capabilities::ANSWER_ONLY
        }
    }

    fn start(&mut self, scenario: &Scenario) -> Result<Events, TargetError> {
        for p in self.clean_up() {
            eprintln!("mcsdns: {p}");
        }
        self.index += 1;
        self.rename = Rename::new(&self.run, self.index, &scenario.world);
        self.resolver_cluster = scenario.resolver.cluster.clone();
        let mut namespaces_needed: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for (cluster, state) in &scenario.world.clusters {
            let mut declared = BTreeSet::new();
            for r in ordered(state, &self.rename) {
                if r.kind() == Kind::Namespace {
                    declared.insert(r.key().name);
                }
            }
            // Namespaces objects live in but the scenario does not declare.
            let used: Vec<String> = state
                .objects
                .keys()
                .filter(|k| k.kind.is_namespaced() && !declared.contains(&k.namespace))
                .map(|k| k.namespace.clone())
                .collect::<BTreeSet<_>>()
                .into_iter()
                .collect();
            namespaces_needed.insert(cluster.clone(), used);
        }
        for (cluster, state) in &scenario.world.clusters {
            if !self.clients.contains_key(cluster) {
                if *cluster == scenario.resolver.cluster {
                    return Err(TargetError::failed(format!(
                        "the resolver's cluster {cluster} has no context: name it in --target kube={cluster}:CONTEXT"
                    )));
                }
                continue;
            }
            for ns in namespaces_needed.get(cluster).into_iter().flatten() {
                let r = Resource::Namespace(Arc::new(k8s_openapi::api::core::v1::Namespace {
                    metadata: kube::api::ObjectMeta {
                        name: Some(ns.clone()),
                        ..Default::default()
                    },
                    ..Default::default()
                }));
                self.put(cluster, &r)?;
            }
            let objects: Vec<Resource> =
                ordered(state, &self.rename).into_iter().cloned().collect();
            for r in &objects {
                self.put(cluster, r)?;
            }
        }
        Ok(Vec::new())
    }

    fn perform(&mut self, operation: Operation<'_>) -> Result<Events, TargetError> {
        match operation {
            Operation::Apply { cluster, change } => self.change(cluster, change)?,
            other => {
                return Err(TargetError::Unsupported {
                    target: self.name(),
                    capability: other.needs(),
                });
            }
        }
        Ok(Vec::new())
    }

    fn ask(&mut self, question: &Question) -> Result<Answer, TargetError> {
        let asked = Question::new(self.rename.to_run(&question.name), question.qtype);
        let outcome = match self.options.dns {
            Some(addr) => wire::ask(addr, &asked, self.options.query_timeout)
                .map_err(|e| TargetError::failed(e.to_string()))?,
            None => self.ask_forwarded(&asked)?,
        };
        Ok(Answer::plain(match outcome {
            Outcome::Reply(mut r) => {
                for section in [&mut r.answers, &mut r.authorities, &mut r.additionals] {
                    *section = section
                        .iter()
                        .map(|x| self.rename.record_to_scenario(x))
                        .collect();
                }
                Outcome::Reply(r)
            }
            silent => silent,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn world() -> crate::model::World {
        let text = "
apiVersion: v1
kind: Namespace
metadata: {name: demo}
---
apiVersion: v1
kind: Service
metadata: {name: serve, namespace: demo}
spec: {clusterIP: 10.96.0.10, ports: [{port: 80}]}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: coredns}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: system:coredns}
subjects: [{kind: ServiceAccount, name: coredns, namespace: kube-system}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: system:coredns}
rules: []
";
        let mut w = crate::model::World::default();
        let c = crate::model::World::parse_cluster("c1", std::path::Path::new("w.yaml"), text, 1)
            .unwrap();
        w.clusters.insert("c1".into(), c);
        w
    }

    #[test]
    fn names_move_into_the_run_and_back() {
        let r = Rename::new("rabc123", 2, &world());
        let asked = Name::from_ascii("serve.demo.svc.clusterset.local.").unwrap();
        let run = r.to_run(&asked);
        assert_eq!(run.to_ascii(), "serve.demo-rabc123-2.svc.clusterset.local.");
        assert_eq!(r.to_scenario(&run), asked);
        // Names outside the scenario's namespaces are left alone.
        let other = Name::from_ascii("kube-dns.kube-system.svc.cluster.local.").unwrap();
        assert_eq!(r.to_run(&other), other);
    }

    #[test]
    fn objects_are_renamed_and_labelled_but_identities_are_not() {
        let w = world();
        let r = Rename::new("rabc123", 1, &w);
        let state = &w.clusters["c1"];
        let binding = state
            .objects
            .values()
            .find(|s| s.resource.kind() == Kind::ClusterRoleBinding)
            .unwrap();
        let v = r.object(&binding.resource);
        assert_eq!(v["metadata"]["name"], "coredns-rabc123-1");
        assert_eq!(v["roleRef"]["name"], "system:coredns-rabc123-1");
        assert_eq!(v["subjects"][0]["namespace"], "kube-system");
        assert_eq!(v["metadata"]["labels"][RUN_LABEL], "rabc123");
        let svc = state
            .objects
            .values()
            .find(|s| s.resource.kind() == Kind::Service)
            .unwrap();
        assert_eq!(
            r.object(&svc.resource)["metadata"]["namespace"],
            "demo-rabc123-1"
        );
        // Built-in namespaces nothing uses are not created.
        let kinds: Vec<String> = ordered(state, &r)
            .iter()
            .map(|x| x.key().to_string())
            .collect();
        assert!(
            !kinds.iter().any(|k| k.contains("kube-public")),
            "{kinds:?}"
        );
        assert_eq!(kinds[0], "Namespace demo");
    }
}
