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

/// A query as bytes, with EDNS of `edns_version` when given.
fn query_bytes(id: u16, name: &str, t: RecordType, edns_version: Option<u8>) -> Vec<u8> {
    use hickory_proto::op::{Edns, MessageType, OpCode, Query};
    let mut m = Message::new(id, MessageType::Query, OpCode::Query);
    m.metadata.recursion_desired = true;
    m.add_query(Query::query(Name::from_str(name).unwrap(), t));
    if let Some(v) = edns_version {
        let mut e = Edns::new();
        e.set_version(v);
        m.edns = Some(e);
    }
    m.to_vec().unwrap()
}

async fn exchange_udp(addr: SocketAddr, bytes: &[u8], wait: Duration) -> Option<Vec<u8>> {
    let sock = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    sock.send_to(bytes, addr).await.unwrap();
    let mut buf = vec![0u8; 65535];
    let (n, _) = tokio::time::timeout(wait, sock.recv_from(&mut buf))
        .await
        .ok()?
        .ok()?;
    buf.truncate(n);
    Some(buf)
}

/// One TCP exchange: the answer's bytes as framed, or `None` if nothing
/// came within `wait`.
async fn exchange_tcp(addr: SocketAddr, bytes: &[u8], wait: Duration) -> Option<Vec<u8>> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    let mut framed = (bytes.len() as u16).to_be_bytes().to_vec();
    framed.extend_from_slice(bytes);
    s.write_all(&framed).await.unwrap();
    let mut len = [0u8; 2];
    tokio::time::timeout(wait, s.read_exact(&mut len))
        .await
        .ok()?
        .ok()?;
    let mut buf = vec![0u8; u16::from_be_bytes(len) as usize];
    s.read_exact(&mut buf).await.ok()?;
    Some(buf)
}

/// Decodes a whole message, failing on bytes left after it.
fn whole(bytes: &[u8]) -> Message {
    use hickory_proto::serialize::binary::{BinDecodable, BinDecoder};
    let mut d = BinDecoder::new(bytes);
    let m = Message::read(&mut d).expect("a message");
    assert_eq!(
        d.len(),
        0,
        "{} stray bytes after the message",
        bytes.len() - d.index()
    );
    m
}

#[tokio::test]
async fn an_unknown_edns_version_gets_badvers() {
    let running = start(view(), config(Profile::Kep1645)).await;
    let name = "web.team.svc.clusterset.local.";
    for tcp in [false, true] {
        let bytes = query_bytes(0x1234, name, RecordType::A, Some(1));
        let got = if tcp {
            exchange_tcp(running.addr, &bytes, Duration::from_secs(2)).await
        } else {
            exchange_udp(running.addr, &bytes, Duration::from_secs(2)).await
        };
        let m = whole(&got.expect("answered"));
        assert_eq!(m.metadata.id, 0x1234);
        // 16 is BADVERS in a message (hickory decodes it by its TSIG name, BADSIG).
        assert_eq!(
            u16::from(m.metadata.response_code),
            u16::from(ResponseCode::BADVERS),
            "tcp={tcp}"
        );
        assert!(m.answers.is_empty());
        let edns = m.edns.expect("BADVERS comes with an OPT");
        assert_eq!(edns.version(), 0, "the server's own version");
    }
    // Version 0 is answered as usual.
    let bytes = query_bytes(7, name, RecordType::A, Some(0));
    let m = whole(
        &exchange_udp(running.addr, &bytes, Duration::from_secs(2))
            .await
            .unwrap(),
    );
    assert_eq!(m.metadata.response_code, ResponseCode::NoError);
    assert_eq!(m.answers.len(), 1);
    running.shutdown().await;
}

#[tokio::test]
async fn a_tcp_answer_over_64_kib_is_cut_whole_with_tc() {
    let running = start(big_world(6000), config(Profile::Kep1645)).await;
    let name = "many.big.svc.clusterset.local.";
    let bytes = query_bytes(9, name, RecordType::A, None);
    let got = exchange_tcp(running.addr, &bytes, Duration::from_secs(5))
        .await
        .expect("answered");
    assert!(got.len() <= 65535);
    let m = whole(&got);
    assert!(m.metadata.truncation, "6000 A records exceed 64 KiB");
    assert!(!m.answers.is_empty() && m.answers.len() < 6000);
    // UDP too: cut at a record, nothing after the message.
    for edns in [None, Some(0)] {
        let bytes = query_bytes(10, name, RecordType::A, edns);
        let got = exchange_udp(running.addr, &bytes, Duration::from_secs(2))
            .await
            .expect("answered");
        let m = whole(&got);
        assert!(m.metadata.truncation);
    }
    running.shutdown().await;
}

#[tokio::test]
async fn a_packet_with_qr_set_is_never_answered() {
    let running = start(view(), config(Profile::Kep1645)).await;
    let name = "web.team.svc.clusterset.local.";
    let mut well_formed = query_bytes(0x5151, name, RecordType::A, Some(0));
    well_formed[2] |= 0x80;
    // A header claiming one question, then junk, QR set.
    let mut malformed = vec![0x51, 0x52, 0x81, 0x00, 0x00, 0x01, 0, 0, 0, 0, 0, 0];
    malformed.extend([0xff; 7]);
    let header_only = vec![0x51, 0x53, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0];
    for packet in [&well_formed, &malformed, &header_only] {
        let wait = Duration::from_millis(500);
        assert_eq!(
            exchange_udp(running.addr, packet, wait).await,
            None,
            "UDP reflected {packet:02x?}"
        );
        assert_eq!(
            exchange_tcp(running.addr, packet, wait).await,
            None,
            "TCP reflected {packet:02x?}"
        );
    }
    // The same malformed packet as a query gets FORMERR.
    malformed[2] &= 0x7f;
    let m = whole(
        &exchange_udp(running.addr, &malformed, Duration::from_secs(2))
            .await
            .expect("answered"),
    );
    assert_eq!(m.metadata.response_code, ResponseCode::FormErr);
    running.shutdown().await;
}

/// The binary at its default log level under a flood of 20,000 garbage
/// datagrams logs a count per second, not a line per packet.
#[test]
fn a_flood_of_garbage_is_logged_as_counts() {
    use std::io::Read;
    let (mut child, addr) = serve_seed(&[], std::process::Stdio::piped());
    let sock = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    sock.set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    assert!(
        answered_within(&sock, addr, Duration::from_secs(20)),
        "never served"
    );
    let mut buf = [0u8; 4096];
    let mut x: u32 = 0x1234_5678;
    for i in 0..20_000u32 {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        let len = 4 + (x % 60) as usize;
        let mut junk: Vec<u8> = (0..len).map(|k| (x >> (k % 24)) as u8).collect();
        if len >= 3 && i % 3 == 0 {
            junk[2] |= 0x80;
        }
        let _ = sock.send_to(&junk, addr);
    }
    // Drain answers (FORMERR) so the socket does not fill, then let a log
    // interval pass.
    let until = std::time::Instant::now() + Duration::from_millis(1500);
    while std::time::Instant::now() < until {
        let _ = sock.recv_from(&mut buf);
    }
    let _ = rustix::process::kill_process(
        rustix::process::Pid::from_raw(child.id() as i32).unwrap(),
        rustix::process::Signal::INT,
    );
    let _ = child.wait();
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    let lines = stderr.lines().count();
    assert!(
        lines < 40,
        "{lines} lines for 20,000 garbage datagrams:\n{}",
        stderr.lines().take(20).collect::<Vec<_>>().join("\n")
    );
    assert!(
        stderr.contains("dropped"),
        "the flood is counted:\n{stderr}"
    );
}

/// `--udp-workers N` starts N threads answering UDP (counted by name in
/// `/proc`; N is not the default, one per core), and 0 is refused naming
/// the flag.
#[test]
fn udp_workers_sets_the_threads_answering_udp() {
    let seed = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/seed");
    let refused = std::process::Command::new(env!("CARGO_BIN_EXE_mcsdns"))
        .args(["serve", "--manifests"])
        .arg(&seed)
        .args(["--cluster", "member2", "--udp-workers", "0"])
        .output()
        .unwrap();
    assert!(!refused.status.success());
    let why = String::from_utf8_lossy(&refused.stderr);
    assert!(why.contains("--udp-workers"), "{why}");

    let workers = mcsdns::resolver::server::udp_workers() + 1;
    let (mut child, addr) = serve_seed(
        &["--udp-workers", &workers.to_string()],
        std::process::Stdio::null(),
    );
    let sock = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    sock.set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let answered = answered_within(&sock, addr, Duration::from_secs(20));
    let running = std::fs::read_dir(format!("/proc/{}/task", child.id()))
        .unwrap()
        .filter_map(|t| std::fs::read_to_string(t.ok()?.path().join("comm")).ok())
        .filter(|name| name.starts_with("mcsdns-udp-"))
        .count();
    let _ = child.kill();
    let _ = child.wait();
    assert!(answered, "never served");
    assert_eq!(running, workers);
}

/// Starts the binary serving the seed world as `member2` (with `args`) on a
/// free loopback port, its stderr to `stderr`, at the default log level.
fn serve_seed(args: &[&str], stderr: std::process::Stdio) -> (std::process::Child, SocketAddr) {
    let port = {
        let s = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        s.local_addr().unwrap().port()
    };
    let seed = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/seed");
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_mcsdns"))
        .args(["serve", "--manifests"])
        .arg(&seed)
        .args(["--cluster", "member2", "--listen"])
        .arg(format!("127.0.0.1:{port}"))
        .args(args)
        .env_remove("MCSDNS_LOG")
        .env_remove("RUST_LOG")
        .stdout(std::process::Stdio::null())
        .stderr(stderr)
        .spawn()
        .unwrap();
    (child, SocketAddr::from(([127, 0, 0, 1], port)))
}

/// Whether the server at `addr` answers a probe from `sock` within `limit`.
fn answered_within(sock: &std::net::UdpSocket, addr: SocketAddr, limit: Duration) -> bool {
    let probe = query_bytes(
        1,
        "serve.default.svc.clusterset.local.",
        RecordType::A,
        None,
    );
    let started = std::time::Instant::now();
    let mut buf = [0u8; 4096];
    while started.elapsed() < limit {
        sock.send_to(&probe, addr).unwrap();
        if sock.recv_from(&mut buf).is_ok() {
            return true;
        }
    }
    false
}
