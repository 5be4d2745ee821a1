//! The server over real loopback sockets: it answers exactly what the pure
//! engine answers, over UDP and TCP, truncates on UDP, swaps snapshots
//! without restarting, survives garbage, and matches dig's reading.

mod common;

use std::net::SocketAddr;
use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use common::*;
use hickory_net::client::{Client, ClientHandle};
use hickory_net::runtime::TokioRuntimeProvider;
use hickory_net::tcp::TcpClientStream;
use hickory_net::udp::UdpClientStream;
use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::{DNSClass, Name, RecordType};
use mcsdns::model::World;
use mcsdns::resolver::server::{Running, SharedSnapshot, Snapshot, serve};
use mcsdns::resolver::{ClusterView, Profile, Question, ResolverConfig, answer};

async fn start(view: ClusterView, config: ResolverConfig) -> Running {
    let snapshot = SharedSnapshot::new(Snapshot {
        config: config.into(),
        view,
    });
    serve("127.0.0.1:0".parse().unwrap(), snapshot)
        .await
        .expect("binds loopback")
}

async fn udp(addr: SocketAddr, edns: bool) -> Client<TokioRuntimeProvider> {
    let conn = UdpClientStream::builder(addr, TokioRuntimeProvider::default()).build();
    let (mut client, bg) = Client::<TokioRuntimeProvider>::from_sender(conn);
    tokio::spawn(bg);
    if !edns {
        client.disable_edns();
    }
    client
}

async fn tcp(addr: SocketAddr) -> Client<TokioRuntimeProvider> {
    let (fut, sender) = TcpClientStream::new(addr, None, None, TokioRuntimeProvider::default());
    let stream = fut.await.expect("tcp connects");
    let (client, bg) = Client::<TokioRuntimeProvider>::new(stream, sender);
    tokio::spawn(bg);
    client
}

async fn query(client: &mut Client<TokioRuntimeProvider>, name: &str, t: RecordType) -> Message {
    let response = client
        .query(Name::from_str(name).unwrap(), DNSClass::IN, t)
        .await
        .expect("answered");
    response.into_message()
}

const QUESTIONS: [(&str, RecordType); 12] = [
    ("web.team.svc.clusterset.local.", RecordType::A),
    ("web.team.svc.clusterset.local.", RecordType::AAAA),
    ("_http._tcp.web.team.svc.clusterset.local.", RecordType::SRV),
    ("db.team.svc.clusterset.local.", RecordType::SRV),
    (
        "db-0.east.prod.db.team.svc.clusterset.local.",
        RecordType::A,
    ),
    ("gone.team.svc.clusterset.local.", RecordType::A),
    ("team.svc.clusterset.local.", RecordType::A),
    ("dns-version.clusterset.local.", RecordType::TXT),
    ("clusterset.local.", RecordType::SOA),
    ("web.team.svc.cluster.local.", RecordType::A),
    ("Web.TEAM.svc.clusterset.local.", RecordType::A),
    ("example.com.", RecordType::A),
];

#[tokio::test]
async fn udp_and_tcp_answer_exactly_what_the_engine_answers() {
    for profile in [Profile::Kep1645, Profile::Coredns] {
        let config = config(profile);
        let running = start(view(), config.clone()).await;
        let mut u = udp(running.addr, true).await;
        let mut t = tcp(running.addr).await;
        for (name, qtype) in QUESTIONS {
            let expected = answer(&config, &view(), &Question::parse(name, qtype).unwrap());
            let expected = expected.reply().expect("engine replies");
            for (proto, msg) in [
                ("udp", query(&mut u, name, qtype).await),
                ("tcp", query(&mut t, name, qtype).await),
            ] {
                let what = format!("{profile} {proto} {name} {qtype}");
                assert_eq!(msg.metadata.response_code, expected.rcode, "{what}");
                assert_eq!(msg.metadata.authoritative, expected.authoritative, "{what}");
                assert_eq!(
                    msg.metadata.recursion_available, expected.recursion_available,
                    "{what}"
                );
                assert!(!msg.metadata.truncation, "{what}");
                assert_eq!(lines(&msg.answers), lines(&expected.answers), "{what}");
                assert_eq!(
                    lines(&msg.authorities),
                    lines(&expected.authorities),
                    "{what}"
                );
                assert_eq!(
                    lines(&msg.additionals),
                    lines(&expected.additionals),
                    "{what}"
                );
            }
        }
        running.shutdown().await;
    }
}

fn big_world(endpoints: usize) -> ClusterView {
    let mut yaml = String::from(
        "apiVersion: v1\nkind: Namespace\nmetadata: {name: big}\n---\napiVersion: multicluster.x-k8s.io/v1alpha1\nkind: ServiceImport\nmetadata: {name: many, namespace: big}\nspec: {type: Headless}\n---\napiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata:\n  name: many-a\n  namespace: big\n  labels: {multicluster.kubernetes.io/service-name: many, multicluster.kubernetes.io/source-cluster: a}\naddressType: IPv4\nendpoints:\n",
    );
    for i in 0..endpoints {
        yaml.push_str(&format!(
            "  - addresses: [\"10.9.{}.{}\"]\n",
            i / 250,
            i % 250 + 1
        ));
    }
    ClusterView::from_state(&World::parse_cluster("c", Path::new("big.yaml"), &yaml, 1).unwrap())
}

#[tokio::test]
async fn large_answers_set_tc_on_udp_and_come_whole_over_tcp() {
    let running = start(big_world(60), config(Profile::Kep1645)).await;
    let name = "many.big.svc.clusterset.local.";
    let plain = query(&mut udp(running.addr, false).await, name, RecordType::A).await;
    assert!(
        plain.metadata.truncation,
        "60 A records do not fit 512 bytes"
    );
    assert!(plain.answers.len() < 60);
    let edns = query(&mut udp(running.addr, true).await, name, RecordType::A).await;
    assert!(edns.edns.is_some(), "EDNS is answered with EDNS");
    assert!(
        !edns.metadata.truncation,
        "60 A records fit the {} byte EDNS payload",
        mcsdns::resolver::server::EDNS_PAYLOAD
    );
    let whole = query(&mut tcp(running.addr).await, name, RecordType::A).await;
    assert!(!whole.metadata.truncation);
    assert_eq!(whole.answers.len(), 60);
    let big = start(big_world(300), config(Profile::Kep1645)).await;
    let edns = query(&mut udp(big.addr, true).await, name, RecordType::A).await;
    assert!(
        edns.metadata.truncation,
        "300 A records exceed the EDNS payload"
    );
    assert_eq!(
        query(&mut tcp(big.addr).await, name, RecordType::A)
            .await
            .answers
            .len(),
        300
    );
    running.shutdown().await;
    big.shutdown().await;
}

#[tokio::test]
async fn many_clients_at_once_all_get_their_answer() {
    let running = start(view(), config(Profile::Kep1645)).await;
    let mut tasks = Vec::new();
    for i in 0..16 {
        let addr = running.addr;
        tasks.push(tokio::spawn(async move {
            let mut c = if i % 2 == 0 {
                udp(addr, true).await
            } else {
                tcp(addr).await
            };
            for _ in 0..25 {
                let m = query(&mut c, "web.team.svc.clusterset.local.", RecordType::A).await;
                assert_eq!(
                    lines(&m.answers),
                    ["web.team.svc.clusterset.local.\t5\tIN\tA\t10.42.0.1"]
                );
            }
        }));
    }
    for t in tasks {
        t.await.expect("client task");
    }
    running.shutdown().await;
}

#[tokio::test]
async fn a_new_snapshot_is_served_without_restart() {
    let running = start(view(), config(Profile::Kep1645)).await;
    let mut c = udp(running.addr, true).await;
    assert_eq!(
        query(&mut c, "web.team.svc.clusterset.local.", RecordType::A)
            .await
            .answers
            .len(),
        1
    );
    running.snapshot.update(|v| {
        v.remove(&mcsdns::model::ObjectKey::new(
            mcsdns::model::Kind::ServiceImport,
            "team",
            "web",
        ))
    });
    let m = query(&mut c, "web.team.svc.clusterset.local.", RecordType::A).await;
    assert_eq!(m.metadata.response_code, ResponseCode::NXDomain);
    running.shutdown().await;
}

#[tokio::test]
async fn garbage_never_stops_the_server() {
    let running = start(view(), config(Profile::Kep1645)).await;
    let sock = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    // A header claiming one question, then junk: FORMERR with the same id.
    let mut junk = vec![0xbe, 0xef, 0x01, 0x00, 0x00, 0x01, 0, 0, 0, 0, 0, 0];
    junk.extend([0xff; 7]);
    sock.send_to(&junk, running.addr).await.unwrap();
    let mut buf = [0u8; 512];
    let (n, _) = tokio::time::timeout(Duration::from_secs(2), sock.recv_from(&mut buf))
        .await
        .expect("answered")
        .unwrap();
    let m = Message::from_vec(&buf[..n]).unwrap();
    assert_eq!(m.metadata.id, 0xbeef);
    assert_eq!(m.metadata.response_code, ResponseCode::FormErr);
    for len in [0usize, 3, 11] {
        sock.send_to(&vec![0x42; len], running.addr).await.unwrap();
    }
    let m = query(
        &mut udp(running.addr, true).await,
        "web.team.svc.clusterset.local.",
        RecordType::A,
    )
    .await;
    assert_eq!(m.answers.len(), 1, "still serving");
    running.shutdown().await;
}

/// dig is the tool users paste into bug reports: its reading must match.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dig_reads_the_spec_answer() {
    if std::process::Command::new("dig")
        .arg("-v")
        .output()
        .is_err()
    {
        eprintln!(
            "SKIP dig_reads_the_spec_answer: dig is not installed (apt-get install dnsutils)"
        );
        return;
    }
    let world =
        World::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/seed")).unwrap();
    let corefile =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/corefiles/seed-no-ra.Corefile");
    let config = ResolverConfig::read(
        &corefile,
        Profile::Kep1645,
        &mcsdns::resolver::config::STOCK_ORDER,
    )
    .unwrap();
    let running = start(ClusterView::from_state(&world.clusters["member2"]), config).await;
    let dig = |args: &[&str]| {
        let mut cmd = std::process::Command::new("dig");
        cmd.args([
            "@127.0.0.1",
            "-p",
            &running.addr.port().to_string(),
            "+time=2",
            "+tries=1",
        ])
        .args(args);
        let out = String::from_utf8(cmd.output().unwrap().stdout).unwrap();
        // dig mixes tabs and spaces: compare with single spaces.
        out.lines()
            .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
            .collect::<Vec<_>>()
            .join("\n")
    };
    let out = dig(&["serve.default.svc.clusterset.local", "A"]);
    assert!(out.contains("status: NOERROR"), "{out}");
    assert!(out.contains("flags: qr aa rd;"), "{out}");
    assert!(
        out.contains("WARNING: recursion requested but not available"),
        "{out}"
    );
    assert!(
        out.contains("serve.default.svc.clusterset.local. 5 IN A 10.10.0.5"),
        "{out}"
    );
    // The field report's capture: NXDOMAIN for the cluster.local name, qr aa rd, no ra.
    let out = dig(&["serve.default.svc.cluster.local", "A"]);
    assert!(
        out.contains("status: NXDOMAIN") && out.contains("flags: qr aa rd;"),
        "{out}"
    );
    assert!(out.contains("AUTHORITY: 1"), "{out}");
    let out = dig(&["Serve.DEFAULT.svc.clusterset.local", "A"]);
    assert!(
        out.contains("Serve.DEFAULT.svc.clusterset.local. 5 IN A 10.10.0.5"),
        "case echoed: {out}"
    );
    let out = dig(&[
        "+tcp",
        "_http._tcp.serve.default.svc.clusterset.local",
        "SRV",
    ]);
    assert!(
        out.contains("IN SRV 0 100 80 serve.default.svc.clusterset.local."),
        "{out}"
    );
    let out = dig(&["example.com", "A"]);
    assert!(out.contains("status: REFUSED"), "{out}");
    running.shutdown().await;
}
