//! The Kubernetes side: the in-process API as kube's own client sees it,
//! the watcher-fed view under random event sequences and faults, and the
//! determinism of the whole suite.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use k8s_openapi::api::core::v1::Service;
use kube::Api;
use kube::api::ListParams;
use mcsdns::cluster::mock::client;
use mcsdns::cluster::store::ApiStore;
use mcsdns::model::{Kind, ObjectKey, Resource, ServiceImport, World};
use mcsdns::resolver::{ClusterView, Profile, Question, ResolverConfig, answer};
use mcsdns::run::{run_scenario, suite};
use mcsdns::scenario::load_scenario;
use mcsdns::scenario::{Change, Fault};
use mcsdns::target::Operation;
use mcsdns::target::{ReferenceTarget, Target};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn seed_member2() -> mcsdns::model::ClusterState {
    World::load(&repo().join("fixtures/seed")).unwrap().clusters["member2"].clone()
}

#[tokio::test]
async fn kube_lists_with_resource_versions_and_label_selectors() {
    let api = Arc::new(Mutex::new(ApiStore::new(&seed_member2())));
    let admin = client(api.clone(), "system:serviceaccount:kube-system:coredns");
    let services: Api<Service> = Api::all(admin.clone());
    let list = services.list(&ListParams::default()).await.unwrap();
    let names: Vec<String> = list
        .items
        .iter()
        .filter_map(|s| s.metadata.name.clone())
        .collect();
    assert_eq!(names, ["derived-serve", "kubernetes", "kube-dns"]);
    assert_eq!(
        list.metadata.resource_version.as_deref(),
        Some(api.lock().unwrap().resource_version().to_string().as_str())
    );
    let selected = services
        .list(&ListParams::default().labels("k8s-app=kube-dns"))
        .await
        .unwrap();
    assert_eq!(selected.items.len(), 1);
    let imports: Api<ServiceImport> = Api::namespaced(admin, "default");
    assert_eq!(
        imports.list(&ListParams::default()).await.unwrap().items[0]
            .spec
            .ips,
        ["10.10.0.5"]
    );
}

#[tokio::test]
async fn denials_and_missing_crds_are_the_api_servers_own_errors() {
    let api = Arc::new(Mutex::new(ApiStore::new(&seed_member2())));
    let stranger = client(api.clone(), "system:serviceaccount:default:stranger");
    let err = Api::<ServiceImport>::all(stranger)
        .list(&ListParams::default())
        .await
        .unwrap_err();
    let kube::Error::Api(status) = err else {
        panic!("expected an API error")
    };
    assert_eq!(status.code, 403);
    assert_eq!(status.reason, "Forbidden");
    assert_eq!(
        status.message,
        "serviceimports.multicluster.x-k8s.io is forbidden: User \"system:serviceaccount:default:stranger\" cannot list resource \"serviceimports\" in API group \"multicluster.x-k8s.io\" at the cluster scope"
    );
    api.lock().unwrap().faults.crds_missing = true;
    let coredns = client(api, "system:serviceaccount:kube-system:coredns");
    let kube::Error::Api(status) = Api::<ServiceImport>::all(coredns)
        .list(&ListParams::default())
        .await
        .unwrap_err()
    else {
        panic!("expected an API error")
    };
    assert_eq!((status.code, status.reason.as_str()), (404, "NotFound"));
}

#[test]
fn a_watch_from_a_forgotten_version_gets_410() {
    let mut store = ApiStore::new(&seed_member2());
    let old = store.resource_version();
    store.expire_history();
    let target = mcsdns::cluster::scope::route("/api/v1/services").unwrap();
    let (mut rx, _) = store.watch(target, &watch_from("", old - 1));
    let event = rx.try_recv().unwrap();
    assert_eq!(event["type"], "ERROR");
    assert_eq!(event["object"]["code"], 410);
    assert_eq!(event["object"]["reason"], "Expired");
}

/// A small deterministic generator (no dependency needed for a sequence).
struct Lcg(u64);
impl Lcg {
    fn next(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) % n
    }
}

fn import(i: u64, ip: u64) -> Resource {
    let yaml = format!(
        "apiVersion: multicluster.x-k8s.io/v1alpha1\nkind: ServiceImport\nmetadata: {{name: s{i}, namespace: default}}\nspec:\n  type: ClusterSetIP\n  ips: [\"10.50.{}.{}\"]\n  ports: [{{name: http, port: 80}}]\n",
        ip / 250,
        ip % 250 + 1
    );
    match mcsdns::model::parse_manifests(Path::new("gen.yaml"), &yaml, 1)
        .unwrap()
        .remove(0)
    {
        mcsdns::model::Loaded::Resource(r, _) => r,
        other => panic!("{other:?}"),
    }
}

#[test]
fn after_any_sequence_of_changes_and_faults_the_view_equals_the_world() {
    let scenario = load_scenario(
        &repo().join("scenarios/spec/r2-clustersetip-a.yaml"),
        &repo().join("scenarios"),
    )
    .unwrap();
    let config = ResolverConfig::default_for(Profile::Kep1645);
    for seed in 1..=12u64 {
        let mut rng = Lcg(seed);
        let mut target = ReferenceTarget::new();
        target.start(&scenario).unwrap();
        let mut world = scenario.world.clusters["c1"].clone();
        for _ in 0..25 {
            let i = rng.next(6);
            match rng.next(10) {
                0..=4 => {
                    let r = import(i, rng.next(1000));
                    world.apply(r.clone(), None);
                    target
                        .perform(Operation::Apply {
                            cluster: "c1",
                            change: &Change::Upsert(r),
                        })
                        .unwrap();
                }
                5..=6 => {
                    let key = ObjectKey::new(Kind::ServiceImport, "default", &format!("s{i}"));
                    world.delete(&key);
                    target
                        .perform(Operation::Apply {
                            cluster: "c1",
                            change: &Change::Delete(key),
                        })
                        .unwrap();
                }
                7 => {
                    target
                        .perform(Operation::Fault {
                            cluster: "c1",
                            fault: &Fault::DropWatches,
                        })
                        .unwrap();
                }
                8 => {
                    target
                        .perform(Operation::Fault {
                            cluster: "c1",
                            fault: &Fault::ExpireHistory,
                        })
                        .unwrap();
                }
                _ => {
                    target
                        .perform(Operation::Fault {
                            cluster: "c1",
                            fault: &Fault::Unavailable(std::time::Duration::from_secs(3)),
                        })
                        .unwrap();
                    target
                        .perform(Operation::Advance(std::time::Duration::from_secs(3)))
                        .unwrap();
                }
            }
        }
        // Every name the world defines is answered exactly as a view built from the world answers it.
        let expected = ClusterView::from_state(&world);
        let seen = target.view().unwrap();
        for i in 0..6 {
            let q = Question::parse(
                &format!("s{i}.default.svc.clusterset.local"),
                hickory_proto::rr::RecordType::A,
            )
            .unwrap();
            let want = answer(&config, &expected, &q)
                .reply()
                .map(|r| (r.rcode, r.answers.clone()));
            let got = answer(&config, &seen, &q)
                .reply()
                .map(|r| (r.rcode, r.answers.clone()));
            assert_eq!(got, want, "seed {seed}, s{i}");
        }
    }
}

#[test]
fn the_rbac_denial_is_seen_by_the_watcher_and_recovers_when_fixed() {
    let root = repo().join("scenarios");
    let scenario = load_scenario(&root.join("seed/rbac-denied.yaml"), &root).unwrap();
    let mut target = ReferenceTarget::new();
    target.start(&scenario).unwrap();
    let errors = target.watch_errors();
    assert!(
        errors
            .iter()
            .any(|e| e.contains("cannot list resource \"serviceimports\"")),
        "{errors:?}"
    );
    assert!(!target.view().unwrap().sync.service_imports.is_synced());
    let result = run_scenario(&scenario, &mut ReferenceTarget::new());
    assert_eq!(
        result.status,
        mcsdns::run::Status::Passed,
        "{:#?}",
        result.failures()
    );
}

#[test]
fn the_whole_suite_gives_identical_answers_twenty_times() {
    let root = repo().join("scenarios");
    let files = suite::discover(&root).unwrap();
    let (scenarios, errors) = suite::load_all(&files, &root);
    assert!(errors.is_empty());
    let make = || -> Box<dyn Target> { Box::new(ReferenceTarget::new()) };
    let first: Vec<String> = suite::run_all(&scenarios, 2, &make, &|_| {})
        .scenarios
        .iter()
        .map(|s| s.transcript())
        .collect();
    for round in 1..20 {
        let again: Vec<String> = suite::run_all(&scenarios, 2, &make, &|_| {})
            .scenarios
            .iter()
            .map(|s| s.transcript())
            .collect();
        assert!(again == first, "round {round} differs");
    }
}

#[test]
fn a_watch_sees_objects_enter_and_leave_its_selector() {
    use mcsdns::model::parse_manifests;
    let mut store = ApiStore::new(&seed_member2());
    let target = mcsdns::cluster::scope::route("/apis/discovery.k8s.io/v1/endpointslices").unwrap();
    let from = store.resource_version();
    let (mut rx, _) = store.watch(
        target,
        &watch_from("multicluster.kubernetes.io/service-name", from),
    );
    assert!(
        rx.try_recv().is_err(),
        "no event yet, and no bookmark unasked"
    );
    let slice = |labels: &str| {
        let yaml = format!(
            "apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata:\n  name: s\n  namespace: default\n  labels: {{{labels}}}\naddressType: IPv4\nendpoints: []\n"
        );
        match parse_manifests(Path::new("s.yaml"), &yaml, 1)
            .unwrap()
            .remove(0)
        {
            mcsdns::model::Loaded::Resource(r, _) => r,
            other => panic!("{other:?}"),
        }
    };
    store.apply(slice("a: b"));
    assert!(rx.try_recv().is_err(), "not matching: nothing sent");
    store.apply(slice("multicluster.kubernetes.io/service-name: x"));
    assert_eq!(
        rx.try_recv().unwrap()["type"],
        "ADDED",
        "it starts matching"
    );
    store.apply(slice("multicluster.kubernetes.io/service-name: y"));
    assert_eq!(rx.try_recv().unwrap()["type"], "MODIFIED");
    store.apply(slice("a: b"));
    assert_eq!(
        rx.try_recv().unwrap()["type"],
        "DELETED",
        "it stops matching"
    );
}

#[test]
fn a_watch_from_the_oldest_kept_version_is_not_gone() {
    let mut store = ApiStore::new(&seed_member2());
    store.expire_history();
    let now = store.resource_version();
    let target = mcsdns::cluster::scope::route("/api/v1/services").unwrap();
    let (mut rx, _) = store.watch(target, &watch_from("", now));
    assert!(rx.try_recv().is_err(), "no 410, and no bookmark unasked");
    assert_eq!(store.open_watches(), 1);
}

/// Options of a watch from `from` with a label selector.
fn watch_from(labels: &str, from: u64) -> mcsdns::cluster::store::WatchOptions {
    mcsdns::cluster::store::WatchOptions {
        label_selector: labels.to_owned(),
        filter: mcsdns::cluster::selector::Filter {
            labels: mcsdns::cluster::selector::Selector::parse(labels).unwrap(),
            ..Default::default()
        },
        from,
        ..Default::default()
    }
}

/// The watchers on `client`, waited on until every source has listed.
async fn watched(client: kube::Client) -> mcsdns::cluster::watch::SharedState {
    let state: mcsdns::cluster::watch::SharedState = Default::default();
    mcsdns::cluster::watch::spawn(&client, &state, mcsdns::cluster::watch::Retry::Steady);
    for _ in 0..500 {
        let synced = state
            .lock()
            .unwrap()
            .sync
            .values()
            .all(mcsdns::resolver::view::Sync::is_synced);
        if synced {
            return state;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    panic!(
        "the watchers did not list: {:?}",
        state.lock().unwrap().errors
    );
}

/// The SRV targets' ports the view answers for `name`, or the rcode.
fn srv_ports(view: &ClusterView, name: &str) -> Result<Vec<u16>, String> {
    let config = ResolverConfig::default_for(Profile::Kep1645);
    let q = Question::parse(name, hickory_proto::rr::RecordType::SRV).unwrap();
    let reply = answer(&config, view, &q).reply().cloned().ok_or("silent")?;
    if reply.rcode != hickory_proto::op::ResponseCode::NoError {
        return Err(reply.rcode.to_string());
    }
    Ok(reply
        .answers
        .iter()
        .filter_map(|r| match &r.data {
            hickory_proto::rr::RData::SRV(srv) => Some(srv.port),
            _ => None,
        })
        .collect())
}

fn world_of(yaml: &str) -> mcsdns::model::ClusterState {
    let mut state = mcsdns::model::ClusterState::new("c1");
    state
        .add_loaded(mcsdns::model::parse_manifests(Path::new("test.yaml"), yaml, 1).unwrap())
        .unwrap();
    state
}

const TWO_IMPORTS: &str = r#"
apiVersion: multicluster.x-k8s.io/v1beta1
kind: ServiceImport
metadata: {name: wide, namespace: default}
spec:
  type: ClusterSetIP
  ips: ["10.42.0.1"]
  ports: [{name: big, port: 70000}, {name: http, port: 80}]
---
apiVersion: multicluster.x-k8s.io/v1beta1
kind: ServiceImport
metadata: {name: web, namespace: default}
spec:
  type: ClusterSetIP
  ips: ["10.42.0.2"]
  ports: [{name: http, port: 8080}]
"#;

#[tokio::test]
async fn a_port_no_srv_record_can_hold_is_skipped_and_the_rest_is_served() {
    // The CRD stores port 70000; the import and its neighbour are served,
    // only the port that fits no SRV record is not.
    let api = Arc::new(Mutex::new(ApiStore::new(&world_of(TWO_IMPORTS))));
    let state = watched(client(api, "kubernetes-admin")).await;
    let view = state.lock().unwrap().view.clone();
    assert_eq!(
        srv_ports(&view, "_http._tcp.wide.default.svc.clusterset.local"),
        Ok(vec![80])
    );
    assert_eq!(
        srv_ports(&view, "_http._tcp.web.default.svc.clusterset.local"),
        Ok(vec![8080])
    );
    assert_eq!(
        srv_ports(&view, "_big._tcp.wide.default.svc.clusterset.local"),
        Err("Non-Existent Domain".into()),
        "a port no SRV record can hold has no name of its own"
    );
    assert_eq!(
        srv_ports(&view, "wide.default.svc.clusterset.local"),
        Ok(vec![80])
    );
}

/// The in-process API, with one ServiceImport added to every list of
/// them that the model cannot decode (its port is not a number): an object
/// some other writer put there, or a newer schema.
fn client_with_a_bad_import(api: mcsdns::cluster::store::SharedApi) -> kube::Client {
    use http_body_util::BodyExt;
    let service = tower::service_fn(move |req: http::Request<kube::client::Body>| {
        let api = api.clone();
        async move {
            let (parts, body) = req.into_parts();
            let bytes = body
                .collect()
                .await
                .map(|b| b.to_bytes())
                .unwrap_or_default();
            let req = http::Request::from_parts(parts, bytes);
            let listing = req.uri().path().ends_with("/serviceimports")
                && !req.uri().query().unwrap_or_default().contains("watch=true");
            let response = mcsdns::cluster::mock::handle(&api, "kubernetes-admin", &req);
            if !listing {
                return Ok::<_, std::convert::Infallible>(response);
            }
            let (parts, body) = response.into_parts();
            let bytes = body
                .collect()
                .await
                .map(|b| b.to_bytes())
                .unwrap_or_default();
            let mut list: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
            list["items"].as_array_mut().unwrap().push(serde_json::json!({
                "apiVersion": "multicluster.x-k8s.io/v1alpha1",
                "kind": "ServiceImport",
                "metadata": {"name": "odd", "namespace": "default", "resourceVersion": "1"},
                "spec": {"type": "ClusterSetIP", "ips": ["10.42.0.9"], "ports": [{"name": "http", "port": "eighty"}]}
            }));
            let body =
                http_body_util::Full::new(bytes::Bytes::from(list.to_string())).boxed_unsync();
            Ok(http::Response::from_parts(parts, body))
        }
    });
    kube::Client::new(service, "default")
}

#[tokio::test]
async fn an_object_that_does_not_decode_is_skipped_by_name_and_the_others_are_served() {
    let api = Arc::new(Mutex::new(ApiStore::new(&world_of(TWO_IMPORTS))));
    let state = watched(client_with_a_bad_import(api)).await;
    let st = state.lock().unwrap();
    assert!(st.view.import("default", "web").is_some());
    assert!(st.view.import("default", "wide").is_some());
    assert!(st.view.import("default", "odd").is_none());
    assert!(
        st.errors
            .iter()
            .any(|e| e.contains("skipping ServiceImport default/odd: it does not decode")),
        "{:?}",
        st.errors
    );
}
