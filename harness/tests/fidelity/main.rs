//! The API emulator held to a real kube-apiserver v1.34.3: the same
//! exchanges (fixtures/fidelity/cases.yaml) go to both, and every
//! difference in what clients read must be listed, with its reason, in
//! fixtures/known/emulator-fidelity.yaml; a listed difference that no
//! longer happens fails too. Needs the control plane (`just
//! control-plane`); skips without it, fails without it under CI.

mod cases;
mod compare;
mod server;

#[path = "../common/mod.rs"]
mod common;

use std::collections::BTreeMap;
use std::path::PathBuf;

use mcsdns::cluster::control_plane::{Binaries, ControlPlane};
use mcsdns::cluster::emulator::Emulator;
use mcsdns::cluster::follow;
use mcsdns::model::World;
use serde::Deserialize;
use serde_json::Value;

use cases::Cases;
use server::Server;

/// The identity `as: reader` exchanges send.
const READER: &str = "system:serviceaccount:kube-system:reader";

/// What a real cluster has from its first second and the case needs: the
/// bootstrap role that makes `system:masters` the administrator (so RBAC
/// is in force in the emulator too).
const BOOTSTRAP_RBAC: &str = "
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: cluster-admin}
rules: [{apiGroups: ['*'], resources: ['*'], verbs: ['*']}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: cluster-admin}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: cluster-admin}
subjects: [{apiGroup: rbac.authorization.k8s.io, kind: Group, name: 'system:masters'}]
";

/// One listed difference.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Known {
    case: String,
    exchange: String,
    /// A path in the reply's view (`code`, `message`, `object/status`); a
    /// difference under it matches.
    field: String,
    cause: Cause,
    why: String,
    /// Happens in some runs only (timing).
    #[serde(default)]
    intermittent: bool,
}

#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq, PartialOrd, Ord)]
#[serde(rename_all = "kebab-case")]
enum Cause {
    /// The emulator does not do this yet.
    EmulatorGap,
    /// The emulator differs on purpose.
    Accepted,
}

#[derive(Deserialize)]
struct KnownFile {
    differences: Vec<Known>,
}

impl Known {
    fn matches(&self, case: &str, exchange: &str, path: &str) -> bool {
        self.case == case
            && self.exchange == exchange
            && (path == self.field || path.starts_with(&format!("{}/", self.field)))
    }
}

fn binaries() -> Option<Binaries> {
    match Binaries::find() {
        Ok(b) => Some(b),
        Err(e) if std::env::var_os("CI").is_some() => panic!("{e}"),
        Err(e) => {
            eprintln!("skipped: {e}");
            None
        }
    }
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("mcsdns-fidelity-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

/// A difference seen in this run.
struct Seen {
    case: String,
    exchange: String,
    path: String,
    emulator: Value,
    real: Value,
}

#[test]
fn the_emulator_answers_as_kube_apiserver_but_for_the_listed_differences() {
    let Some(bin) = binaries() else { return };
    let repo = common::repo();
    let cases = Cases::load(&repo.join("fixtures/fidelity/cases.yaml"));
    let known_text = std::fs::read_to_string(repo.join("fixtures/known/emulator-fidelity.yaml"))
        .expect("the known differences are readable");
    let known: KnownFile =
        serde_saphyr::from_str(&known_text).expect("the known differences are valid");

    let real_dir = temp_dir("real");
    let mut cp = ControlPlane::start(&["fid".to_owned()], &real_dir, false, bin, &|_: &str| {})
        .expect("the control plane starts");
    let rt = tokio::runtime::Runtime::new().expect("a runtime");
    rt.block_on(cp.set_resolver_identity(READER))
        .expect("the reader's token");
    let etcd = cp.clusters()["fid"].etcd;

    let emulator_dir = temp_dir("emulator");
    let state = World::parse_cluster("fid", &emulator_dir.join("world.yaml"), BOOTSTRAP_RBAC, 1)
        .expect("the bootstrap objects load");
    let (_emulator, emulator_kubeconfig) = rt.block_on(async {
        let mut e = Emulator::new(READER).expect("the emulator");
        e.add_cluster("fid", &state)
            .await
            .expect("the emulator serves");
        let kc = e.write(&emulator_dir, None).expect("its kubeconfig");
        (e, kc)
    });
    let connect = |kubeconfig: PathBuf, context: &'static str| {
        rt.block_on(follow::client(&kubeconfig, Some(context), None))
            .expect("a client")
    };
    let servers = [
        Server {
            name: "emulator",
            admin: connect(emulator_kubeconfig.clone(), "fid"),
            reader: connect(emulator_kubeconfig.clone(), "resolver@fid"),
            etcd: None,
        },
        Server {
            name: "kube-apiserver",
            admin: connect(cp.kubeconfig().to_owned(), "fid"),
            reader: connect(cp.kubeconfig().to_owned(), "resolver@fid"),
            etcd: Some(etcd),
        },
    ];

    let mut seen: Vec<Seen> = Vec::new();
    let mut compared = 0;
    for case in &cases.cases {
        let mut saved: [BTreeMap<String, String>; 2] = Default::default();
        for x in &case.exchanges {
            let replies: Vec<_> = servers
                .iter()
                .zip(saved.iter_mut())
                .map(|(s, saved)| rt.block_on(s.send(x, saved)))
                .collect();
            let (Some(a), Some(b)) = (&replies[0], &replies[1]) else {
                continue;
            };
            compared += 1;
            for (path, emulator, real) in compare::differences(&compare::view(a), &compare::view(b))
            {
                seen.push(Seen {
                    case: case.name.clone(),
                    exchange: x.id.clone(),
                    path,
                    emulator,
                    real,
                });
            }
        }
    }
    drop(servers);
    drop(cp);

    let unlisted: Vec<&Seen> = seen
        .iter()
        .filter(|s| {
            !known
                .differences
                .iter()
                .any(|k| k.matches(&s.case, &s.exchange, &s.path))
        })
        .collect();
    let stale: Vec<&Known> = known
        .differences
        .iter()
        .filter(|k| !k.intermittent)
        .filter(|k| {
            !seen
                .iter()
                .any(|s| k.matches(&s.case, &s.exchange, &s.path))
        })
        .collect();
    let mut by_cause: BTreeMap<Cause, (usize, usize)> = BTreeMap::new();
    for k in &known.differences {
        let n = seen
            .iter()
            .filter(|s| k.matches(&s.case, &s.exchange, &s.path))
            .count();
        let e = by_cause.entry(k.cause).or_default();
        e.0 += 1;
        e.1 += n;
    }
    eprintln!(
        "{compared} exchanges compared in {} cases; {} differences; by cause (entries, differences): {by_cause:?}",
        cases.cases.len(),
        seen.len()
    );
    for s in &unlisted {
        eprintln!(
            "unlisted: {} / {} / {}\n    emulator: {}\n    kube-apiserver: {}",
            s.case, s.exchange, s.path, s.emulator, s.real
        );
    }
    for k in &stale {
        eprintln!(
            "no longer happens: {} / {} / {} ({:?}: {})",
            k.case, k.exchange, k.field, k.cause, k.why
        );
    }
    assert!(
        unlisted.is_empty() && stale.is_empty(),
        "{} unlisted differences, {} listed differences that no longer happen (see above)",
        unlisted.len(),
        stale.len()
    );
}
