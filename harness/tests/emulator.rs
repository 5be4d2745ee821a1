//! The API emulator with real clients: kubectl (when installed), kube-rs
//! through a kubeconfig over HTTPS and HTTP, and `mcsdns serve --kubeconfig`
//! following changes made with kubectl.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use common::repo;
use hickory_proto::op::ResponseCode;
use hickory_proto::rr::RecordType;
use k8s_openapi::api::core::v1::Service;
use kube::api::{DeleteParams, Patch, PatchParams, PostParams};
use kube::{Api, Client};
use mcsdns::client::wire;
use mcsdns::cluster::emulator::Emulator;
use mcsdns::cluster::follow;
use mcsdns::model::{ServiceImport, World};
use mcsdns::resolver::{Outcome, Question};

/// The seed world served, with its kubeconfig written to a fresh folder.
async fn seed_emulator(name: &str) -> (Emulator, PathBuf) {
    let world = World::load(&repo().join("fixtures/seed")).unwrap();
    let mut emulator = Emulator::new("system:serviceaccount:kube-system:coredns").unwrap();
    emulator.serve_insecure_http(true);
    for (cluster, state) in &world.clusters {
        emulator.add_cluster(cluster, state).await.unwrap();
    }
    let dir = std::env::temp_dir().join(format!("mcsdns-test-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let kubeconfig = emulator.write(&dir, None).unwrap();
    (emulator, kubeconfig)
}

fn kubectl_available() -> bool {
    Command::new("kubectl")
        .args(["version", "--client"])
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Runs kubectl off the runtime's threads (it talks to the emulator the
/// runtime serves).
async fn kubectl(kubeconfig: &Path, args: &[&str]) -> (bool, String) {
    let kubeconfig = kubeconfig.to_owned();
    let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    tokio::task::spawn_blocking(move || {
        let out = Command::new("kubectl")
            .arg("--kubeconfig")
            .arg(&kubeconfig)
            .args(&args)
            .output()
            .expect("kubectl runs");
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        (out.status.success(), text)
    })
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_applies_the_seed_and_lists_serviceimports_across_namespaces() {
    if !kubectl_available() {
        eprintln!("skipped: kubectl is not installed (.ci/run installs it)");
        return;
    }
    let (emulator, kc) = seed_emulator("kubectl").await;
    // Apply member2's folder to member1 (which has no ServiceImport yet),
    // twice: the second time nothing changes.
    let (ok, out) = kubectl(
        &kc,
        &[
            "--context",
            "member1",
            "apply",
            "-R",
            "-f",
            repo().join("fixtures/seed/member2").to_str().unwrap(),
        ],
    )
    .await;
    assert!(ok, "{out}");
    assert!(
        out.contains("serviceimport.multicluster.x-k8s.io/serve created"),
        "{out}"
    );
    let (ok, again) = kubectl(
        &kc,
        &[
            "--context",
            "member1",
            "apply",
            "-R",
            "-f",
            repo().join("fixtures/seed/member2").to_str().unwrap(),
        ],
    )
    .await;
    assert!(
        ok && again.contains("serviceimport.multicluster.x-k8s.io/serve unchanged"),
        "{again}"
    );
    let (ok, list) = kubectl(
        &kc,
        &["--context", "member1", "get", "serviceimports", "-A"],
    )
    .await;
    assert!(ok, "{list}");
    let rows: Vec<&str> = list.lines().skip(1).collect();
    assert_eq!(rows.len(), 1, "{list}");
    assert!(
        rows[0].starts_with("default") && rows[0].contains("serve"),
        "{list}"
    );
    // The store kubectl wrote to is the one DNS reads.
    let api = emulator.api("member1").unwrap();
    let state = api.lock().unwrap().state().clone();
    assert!(
        state
            .objects
            .keys()
            .any(|k| k.kind == mcsdns::model::Kind::ServiceImport)
    );
    // A strategic merge patch keeps the other ports.
    let (ok, out) = kubectl(
        &kc,
        &[
            "--context",
            "member2",
            "patch",
            "service",
            "kube-dns",
            "-n",
            "kube-system",
            "-p",
            r#"{"metadata":{"labels":{"patched":"yes"}}}"#,
        ],
    )
    .await;
    assert!(ok, "{out}");
    let (_, labels) = kubectl(
        &kc,
        &[
            "--context",
            "member2",
            "get",
            "svc",
            "kube-dns",
            "-n",
            "kube-system",
            "-o",
            "jsonpath={.metadata.labels.patched} {.spec.ports[*].port}",
        ],
    )
    .await;
    assert_eq!(labels.trim(), "yes 53 53 9153", "{labels}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_as_the_resolver_meets_rbac_with_the_api_servers_words() {
    if !kubectl_available() {
        eprintln!("skipped: kubectl is not installed (.ci/run installs it)");
        return;
    }
    let (_emulator, kc) = seed_emulator("rbac").await;
    let (ok, out) = kubectl(
        &kc,
        &["--context", "resolver@member2", "get", "deployments", "-A"],
    )
    .await;
    assert!(!ok);
    assert!(
        out.contains(r#"Error from server (Forbidden): deployments.apps is forbidden: User "system:serviceaccount:kube-system:coredns" cannot list resource "deployments" in API group "apps" at the cluster scope"#),
        "{out}"
    );
    // Its ClusterRole grants serviceimports.
    let (ok, out) = kubectl(
        &kc,
        &[
            "--context",
            "resolver@member2",
            "get",
            "serviceimports",
            "-A",
        ],
    )
    .await;
    assert!(ok, "{out}");
    // Over plain HTTP too; a wrong token is 401.
    let (ok, out) = kubectl(&kc, &["--context", "member2-http", "get", "ns"]).await;
    assert!(ok && out.contains("kube-system"), "{out}");
    let (ok, out) = kubectl(
        &kc,
        &["--context", "member2", "--token", "wrong", "get", "ns"],
    )
    .await;
    assert!(!ok && out.contains("Unauthorized"), "{out}");
}

async fn client(kc: &Path, context: &str) -> Client {
    follow::client(kc, Some(context), None).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kube_rs_over_https_creates_patches_and_deletes_with_real_status_errors() {
    let (_emulator, kc) = seed_emulator("kube-rs").await;
    let admin = client(&kc, "member2").await;
    let services: Api<Service> = Api::namespaced(admin.clone(), "default");
    let svc: Service = serde_json::from_value(serde_json::json!({
        "metadata": {"name": "extra"},
        "spec": {"ports": [{"name": "http", "port": 80}, {"name": "https", "port": 443}]}
    }))
    .unwrap();
    let created = services.create(&PostParams::default(), &svc).await.unwrap();
    // The API allocates a ClusterIP, as a real one does.
    let ip = created.spec.as_ref().unwrap().cluster_ip.clone().unwrap();
    assert!(ip.starts_with("10.96."), "{ip}");
    let again = services
        .create(&PostParams::default(), &svc)
        .await
        .unwrap_err();
    assert!(
        matches!(&again, kube::Error::Api(s) if s.code == 409 && s.reason == "AlreadyExists"),
        "{again:?}"
    );
    // Strategic merge: one port changed, the other kept.
    let patched = services
        .patch(
            "extra",
            &PatchParams::default(),
            &Patch::Strategic(
                serde_json::json!({"spec": {"ports": [{"port": 443, "targetPort": 8443}]}}),
            ),
        )
        .await
        .unwrap();
    let ports = patched.spec.unwrap().ports.unwrap();
    assert_eq!(ports.len(), 2);
    // JSON patch and merge patch.
    services
        .patch(
            "extra",
            &PatchParams::default(),
            &Patch::Json::<()>(serde_json::from_value(serde_json::json!([{"op": "add", "path": "/metadata/labels", "value": {"a": "b"}}])).unwrap()),
        )
        .await
        .unwrap();
    let got = services.get("extra").await.unwrap();
    assert_eq!(got.metadata.labels.unwrap()["a"], "b");
    // A stale resourceVersion is a conflict.
    let mut stale = created.clone();
    stale.metadata.resource_version = Some("1".into());
    let conflict = services
        .replace("extra", &PostParams::default(), &stale)
        .await
        .unwrap_err();
    assert!(
        matches!(&conflict, kube::Error::Api(s) if s.code == 409 && s.reason == "Conflict"),
        "{conflict:?}"
    );
    services
        .delete("extra", &DeleteParams::default())
        .await
        .unwrap();
    let gone = services.get("extra").await.unwrap_err();
    assert!(
        matches!(&gone, kube::Error::Api(s) if s.code == 404 && s.message == r#"services "extra" not found"#),
        "{gone:?}"
    );
    // Objects in a namespace that does not exist are refused.
    let elsewhere: Api<Service> = Api::namespaced(admin.clone(), "nowhere");
    let e = elsewhere
        .create(&PostParams::default(), &svc)
        .await
        .unwrap_err();
    assert!(
        matches!(&e, kube::Error::Api(s) if s.code == 404 && s.message.contains(r#"namespaces "nowhere" not found"#)),
        "{e:?}"
    );
    // The resolver may read ServiceImports but not write them.
    let resolver = client(&kc, "resolver@member2").await;
    let imports: Api<ServiceImport> = Api::namespaced(resolver, "default");
    assert_eq!(
        imports.list(&Default::default()).await.unwrap().items.len(),
        1
    );
    let denied = imports
        .delete("serve", &DeleteParams::default())
        .await
        .unwrap_err();
    assert!(
        matches!(&denied, kube::Error::Api(s) if s.code == 403 && s.message.contains(r#"serviceimports.multicluster.x-k8s.io "serve" is forbidden"#)),
        "{denied:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streaming_lists_end_with_the_initial_events_bookmark() {
    let (emulator, kc) = seed_emulator("watchlist").await;
    let e = &emulator.clusters()["member2"];
    let token = std::fs::read_to_string(&kc)
        .unwrap()
        .lines()
        .find_map(|l| {
            l.trim()
                .strip_prefix("token: ")
                .map(|t| t.trim_matches('"').trim_matches('\'').to_owned())
        })
        .unwrap();
    // client-go's WatchList: sendInitialEvents, then a bookmark that says
    // the initial events are over. Read it off the wire over plain HTTP.
    let addr = e.http.expect("plain HTTP is served");
    let lines = tokio::task::spawn_blocking(move || {
        use std::io::{BufRead, BufReader, Write};
        let mut s = std::net::TcpStream::connect(addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        write!(
            s,
            "GET /api/v1/services?watch=true&sendInitialEvents=true&resourceVersionMatch=NotOlderThan&allowWatchBookmarks=true HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n\r\n"
        )
        .unwrap();
        let mut r = BufReader::new(s);
        let mut events = Vec::new();
        let mut line = String::new();
        while r.read_line(&mut line).unwrap_or(0) > 0 {
            if line.starts_with('{') {
                events.push(line.clone());
                if line.contains("BOOKMARK") {
                    break;
                }
            }
            line.clear();
        }
        events
    })
    .await
    .unwrap();
    let last: serde_json::Value = serde_json::from_str(lines.last().unwrap()).unwrap();
    assert_eq!(last["type"], "BOOKMARK");
    assert_eq!(
        last["object"]["metadata"]["annotations"]["k8s.io/initial-events-end"],
        "true"
    );
    assert_eq!(lines.len() - 1, 3, "member2 has three Services: {lines:?}");
}

/// `mcsdns serve --kubeconfig` answers from the emulator and follows kubectl.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_through_a_kubeconfig_follows_changes_made_with_kubectl() {
    if !kubectl_available() {
        eprintln!("skipped: kubectl is not installed (.ci/run installs it)");
        return;
    }
    let (_emulator, kc) = seed_emulator("serve").await;
    let listen = mcsdns::target::peer::free_port().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_mcsdns"))
        .args(["serve", "--kubeconfig"])
        .arg(&kc)
        .args([
            "--context",
            "resolver@member2",
            "--listen",
            &listen.to_string(),
        ])
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let q = Question::parse("serve.default.svc.clusterset.local", RecordType::A).unwrap();
    let ask = move |want: &'static str| {
        let q = q.clone();
        async move {
            tokio::task::spawn_blocking(move || {
                let started = Instant::now();
                loop {
                    let got = match wire::ask(listen, &q, Duration::from_millis(300)) {
                        Ok(Outcome::Reply(r)) if r.rcode == ResponseCode::NXDomain => {
                            "NXDOMAIN".to_owned()
                        }
                        Ok(Outcome::Reply(r)) => r
                            .answers
                            .iter()
                            .map(|a| a.data.to_string())
                            .collect::<Vec<_>>()
                            .join(","),
                        _ => "no answer".to_owned(),
                    };
                    if got == want || started.elapsed() > Duration::from_secs(10) {
                        return got;
                    }
                    std::thread::sleep(Duration::from_millis(20));
                }
            })
            .await
            .unwrap()
        }
    };
    assert_eq!(ask("10.10.0.5").await, "10.10.0.5");
    let (ok, out) = kubectl(
        &kc,
        &[
            "--context",
            "member2",
            "patch",
            "serviceimport",
            "serve",
            "--type",
            "merge",
            "-p",
            r#"{"spec":{"ips":["10.10.9.9"]}}"#,
        ],
    )
    .await;
    assert!(ok, "{out}");
    assert_eq!(ask("10.10.9.9").await, "10.10.9.9");
    let (ok, out) = kubectl(
        &kc,
        &["--context", "member2", "delete", "serviceimport", "serve"],
    )
    .await;
    assert!(ok, "{out}");
    assert_eq!(ask("NXDOMAIN").await, "NXDOMAIN");
    let _ = child.kill();
    let _ = child.wait();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_plain_http_the_port_says_who_is_asking() {
    let (_emulator, kc) = seed_emulator("http").await;
    let admin = client(&kc, "member2-http").await;
    let resolver = client(&kc, "resolver@member2-http").await;
    let deployments = |c: Client| Api::<k8s_openapi::api::apps::v1::Deployment>::all(c);
    // member2's world has no Deployment, but only the admin may list them.
    assert!(deployments(admin).list(&Default::default()).await.is_ok());
    let denied = deployments(resolver)
        .list(&Default::default())
        .await
        .unwrap_err();
    assert!(
        matches!(&denied, kube::Error::Api(s) if s.code == 403),
        "{denied:?}"
    );
}

/// client-go re-establishes a streaming list with the version it had: the
/// initial events must come again, whatever version it names.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_streaming_list_from_an_old_version_still_starts_with_every_object() {
    let (emulator, _kc) = seed_emulator("watchlist-again").await;
    let api = emulator.api("member2").unwrap();
    let reply = mcsdns::cluster::rest::handle(
        &api,
        mcsdns::cluster::store::ADMIN,
        &mcsdns::cluster::rest::ApiRequest {
            method: "GET",
            path: "/api/v1/services",
            query: "watch=true&sendInitialEvents=true&allowWatchBookmarks=true&resourceVersionMatch=NotOlderThan&resourceVersion=3",
            content_type: "",
            body: b"",
            user_agent: "test",
        },
    );
    let mcsdns::cluster::rest::ApiReply::Watch { mut events, .. } = reply else {
        panic!("a watch");
    };
    let mut kinds = Vec::new();
    while let Ok(e) = events.try_recv() {
        kinds.push(e["type"].as_str().unwrap().to_owned());
        if e["type"] == "BOOKMARK" {
            assert_eq!(
                e["object"]["metadata"]["annotations"]["k8s.io/initial-events-end"],
                "true"
            );
        }
    }
    assert_eq!(kinds, ["ADDED", "ADDED", "ADDED", "BOOKMARK"]);
}
