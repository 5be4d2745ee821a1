//! The API emulator under load, on a shared machine: credentials are
//! required, bodies are bounded, churn does not grow memory without end,
//! a watch from a forgotten version gets 410, and many unread watches
//! neither grow memory without bound nor stall other clients. Counts and
//! times are bounded; everything is on loopback. The figures are printed
//! (`cargo test --release --test emulator_load -- --nocapture`).

use std::path::PathBuf;
use std::time::{Duration, Instant};

use http_body_util::BodyExt;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{DeleteParams, PostParams};
use kube::{Api, Client};
use mcsdns::cluster::emulator::Emulator;
use mcsdns::cluster::http::MAX_BODY;
use mcsdns::cluster::store::{ADMIN, HISTORY_EVENTS, WATCH_QUEUE};
use mcsdns::cluster::{follow, mock};
use mcsdns::model::ClusterState;
use serde_json::json;

fn rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

async fn emulator(name: &str) -> (Emulator, PathBuf) {
    let mut e = Emulator::new("system:serviceaccount:kube-system:coredns").unwrap();
    e.add_cluster("c1", &ClusterState::new("c1")).await.unwrap();
    let dir = std::env::temp_dir().join(format!("mcsdns-load-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let kc = e.write(&dir, None).unwrap();
    (e, kc)
}

fn config_map(i: usize) -> ConfigMap {
    serde_json::from_value(
        json!({"metadata": {"name": format!("cm-{i}")}, "data": {"k": "v".repeat(512)}}),
    )
    .unwrap()
}

async fn churn(api: &Api<ConfigMap>, n: usize) {
    for i in 0..n {
        api.create(&PostParams::default(), &config_map(i))
            .await
            .unwrap();
        api.delete(&format!("cm-{i}"), &DeleteParams::default())
            .await
            .unwrap();
    }
}

/// Churn leaves a bounded history: memory stops growing, and a watch from
/// before the window gets 410 Gone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn churn_keeps_a_bounded_history_and_old_watches_get_gone() {
    let (e, _kc) = emulator("churn").await;
    let store = e.api("c1").unwrap();
    let client = mock::client(store.clone(), ADMIN);
    let api: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    let before = rss_mib();
    let started = Instant::now();
    churn(&api, 5_000).await;
    let first = rss_mib();
    churn(&api, 5_000).await;
    let second = rss_mib();
    eprintln!(
        "churn: 2 x 5000 create+delete in {:.1?}; RSS {before:.0} -> {first:.0} -> {second:.0} MiB",
        started.elapsed()
    );
    assert!(
        second - first < 24.0,
        "a second churn grew RSS from {first:.0} to {second:.0} MiB"
    );
    let mut watch = store.lock().unwrap().watch(
        mcsdns::cluster::scope::route("/api/v1/namespaces/default/configmaps").unwrap(),
        &mcsdns::cluster::store::WatchOptions {
            from: 1,
            ..Default::default()
        },
    );
    let first_event = watch.0.try_recv().expect("an event at once");
    assert_eq!(first_event["type"], "ERROR");
    assert_eq!(first_event["object"]["code"], 410);
    // A watch from inside the window replays it.
    let rv = store.lock().unwrap().resource_version();
    let from = rv - (HISTORY_EVENTS as u64) / 2;
    let (mut rx, _) = store.lock().unwrap().watch(
        mcsdns::cluster::scope::route("/api/v1/namespaces/default/configmaps").unwrap(),
        &mcsdns::cluster::store::WatchOptions {
            from,
            ..Default::default()
        },
    );
    let mut n = 0;
    while let Ok(ev) = rx.try_recv() {
        assert_ne!(ev["type"], "ERROR");
        n += 1;
    }
    assert_eq!(n, HISTORY_EVENTS / 2);
}

async fn raw(client: &Client, method: &str, uri: &str, body: Vec<u8>) -> (u16, Duration) {
    let started = Instant::now();
    let req = http::Request::builder()
        .method(method)
        .uri(uri)
        .header("content-type", "application/json")
        .body(kube::client::Body::from(body))
        .unwrap();
    let r = client.send(req).await.unwrap();
    let code = r.status().as_u16();
    let _ = r.into_body().collect().await;
    (code, started.elapsed())
}

/// Over HTTPS: no credential (or a broken one) is 401 before the body is
/// read; a body over the limit is 413 without being stored; the admin's
/// token on the resolver's plain port is no admin.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn credentials_and_body_limits_hold_over_the_wire() {
    let (mut e, kc) = emulator("limits").await;
    let admin = follow::client(&kc, Some("c1"), None).await.unwrap();
    let path = "/api/v1/namespaces/default/configmaps";
    let big = json!({"metadata": {"name": "big"}, "data": {"k": "x".repeat(MAX_BODY)}});
    let (code, _) = raw(&admin, "POST", path, big.to_string().into_bytes()).await;
    assert_eq!(code, 413);
    let (code, _) = raw(&admin, "GET", &format!("{path}/big"), Vec::new()).await;
    assert_eq!(code, 404, "nothing was stored");

    let https = e.clusters()["c1"].https;
    for header in [
        None,
        Some(&b"Bearer nope"[..]),
        Some(&b"Bearer \xff\xfe"[..]),
    ] {
        let code = tokio::task::spawn_blocking(move || anonymous_post(https, header))
            .await
            .unwrap();
        assert_eq!(code, 401, "{header:?}");
    }

    // Plain HTTP only when asked for; there a foreign token is refused.
    assert!(e.clusters()["c1"].http.is_none());
    e.serve_insecure_http(true);
    e.add_cluster("c2", &ClusterState::new("c2")).await.unwrap();
    let resolver_port = e.clusters()["c2"].http_resolver.expect("plain HTTP");
    let admin_token = std::fs::read_to_string(&kc)
        .unwrap()
        .lines()
        .find_map(|l| l.trim().strip_prefix("token: ").map(str::to_owned))
        .unwrap();
    let code = tokio::task::spawn_blocking(move || {
        plain_get(resolver_port, "/api/v1/namespaces", Some(&admin_token))
    })
    .await
    .unwrap();
    assert_eq!(code, 401, "the admin's token on the resolver's port");
}

/// A POST over TLS with this Authorization header (or none), accepting
/// any certificate: the status code.
fn anonymous_post(addr: std::net::SocketAddr, auth: Option<&[u8]>) -> u16 {
    use std::io::{Read, Write};
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .dangerous()
        .with_custom_certificate_verifier(std::sync::Arc::new(AnyCert))
        .with_no_client_auth();
    let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
    let conn = rustls::ClientConnection::new(std::sync::Arc::new(config), name).unwrap();
    let tcp = std::net::TcpStream::connect(addr).unwrap();
    let mut tls = rustls::StreamOwned::new(conn, tcp);
    let body = br#"{"metadata":{"name":"x"}}"#;
    let mut req = format!(
        "POST /api/v1/namespaces HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n",
        body.len()
    )
    .into_bytes();
    if let Some(a) = auth {
        req.extend_from_slice(b"Authorization: ");
        req.extend_from_slice(a);
        req.extend_from_slice(b"\r\n");
    }
    req.extend_from_slice(b"\r\n");
    req.extend_from_slice(body);
    tls.write_all(&req).unwrap();
    let mut out = Vec::new();
    let _ = tls.read_to_end(&mut out);
    status_of(&out)
}

fn plain_get(addr: std::net::SocketAddr, path: &str, token: Option<&str>) -> u16 {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    let auth = token.map_or(String::new(), |t| format!("Authorization: Bearer {t}\r\n"));
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: x\r\n{auth}Connection: close\r\n\r\n"
    )
    .unwrap();
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    status_of(&out)
}

fn status_of(response: &[u8]) -> u16 {
    String::from_utf8_lossy(response)
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0)
}

#[derive(Debug)]
struct AnyCert;

impl rustls::client::danger::ServerCertVerifier for AnyCert {
    fn verify_server_cert(
        &self,
        _: &rustls::pki_types::CertificateDer<'_>,
        _: &[rustls::pki_types::CertificateDer<'_>],
        _: &rustls::pki_types::ServerName<'_>,
        _: &[u8],
        _: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }
    fn verify_tls12_signature(
        &self,
        _: &[u8],
        _: &rustls::pki_types::CertificateDer<'_>,
        _: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        Ok(rustls::client::danger::HandshakeSignatureValid::assertion())
    }
    fn verify_tls13_signature(
        &self,
        _: &[u8],
        _: &rustls::pki_types::CertificateDer<'_>,
        _: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        Ok(rustls::client::danger::HandshakeSignatureValid::assertion())
    }
    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        rustls::crypto::ring::default_provider()
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// Hundreds of watches nobody reads: each is closed once its queue is
/// full, memory stays bounded, and GETs stay fast.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unread_watches_are_closed_and_do_not_stall_other_clients() {
    const WATCHES: usize = 300;
    const WRITES: usize = 1_500;
    let (e, kc) = emulator("watches").await;
    let admin = follow::client(&kc, Some("c1"), None).await.unwrap();
    let path = "/api/v1/namespaces/default/configmaps";
    let mut idle = Vec::new();
    for _ in 0..WATCHES {
        let req = http::Request::builder()
            .uri(format!("{path}?watch=true&timeoutSeconds=120"))
            .body(kube::client::Body::empty())
            .unwrap();
        idle.push(admin.send(req).await.unwrap());
    }
    let quiet = latencies(&admin, 100).await;
    let before = rss_mib();
    let api: Api<ConfigMap> = Api::namespaced(admin.clone(), "default");
    let started = Instant::now();
    for i in 0..WRITES {
        api.create(&PostParams::default(), &config_map(i))
            .await
            .unwrap();
    }
    let writes = started.elapsed();
    let busy = latencies(&admin, 100).await;
    let after = rss_mib();
    eprintln!(
        "{WATCHES} unread watches over HTTPS: GET p50/p99 {:.1?}/{:.1?} before, {:.1?}/{:.1?} after {WRITES} writes ({writes:.1?}); RSS {before:.0} -> {after:.0} MiB",
        quiet.0, quiet.1, busy.0, busy.1
    );
    assert!(busy.1 < Duration::from_millis(500), "GET p99 {:?}", busy.1);
    assert!(
        after - before < 256.0,
        "RSS grew from {before:.0} to {after:.0} MiB"
    );
    drop(idle);
    drop(e);
}

/// A watch whose reader takes nothing holds at most its queue, and is
/// closed when the queue is full (over HTTP the socket's buffers come
/// first, so this is held on the store's own channel).
#[test]
fn a_reader_that_falls_behind_is_cut_off_at_its_queue() {
    let api = mcsdns::cluster::store::ApiStore::new(&ClusterState::new("c1"));
    let store = std::sync::Arc::new(std::sync::Mutex::new(api));
    let (mut rx, _) = store.lock().unwrap().watch(
        mcsdns::cluster::scope::route("/api/v1/configmaps").unwrap(),
        &Default::default(),
    );
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let api: Api<ConfigMap> = Api::namespaced(mock::client(store.clone(), ADMIN), "default");
        for i in 0..WATCH_QUEUE + 50 {
            api.create(&PostParams::default(), &config_map(i))
                .await
                .unwrap();
        }
    });
    assert_eq!(
        store.lock().unwrap().open_watches(),
        0,
        "the watch was closed"
    );
    let mut queued = 0;
    while rx.try_recv().is_ok() {
        queued += 1;
    }
    assert_eq!(queued, WATCH_QUEUE, "what it held, and no more");
    assert!(rx.is_closed());
}

/// p50 and p99 of `n` GETs of one object.
async fn latencies(client: &Client, n: usize) -> (Duration, Duration) {
    let mut all = Vec::with_capacity(n);
    for _ in 0..n {
        let (code, took) = raw(client, "GET", "/api/v1/namespaces/default", Vec::new()).await;
        assert_eq!(code, 200);
        all.push(took);
    }
    all.sort();
    (all[n / 2], all[n * 99 / 100])
}
