//! Properties over real loopback sockets: the server answers exactly what
//! the pure engine answers, echoes id and question, sets TC when it cuts,
//! answers a burst taken in by the batch query by query, and survives any
//! bytes.

use std::time::Duration;

use crate::common::lines;
use hickory_proto::op::{Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::{Name, RecordType};
use mcsdns::resolver::server::{SharedSnapshot, Snapshot, serve};
use mcsdns::resolver::{ClusterView, Profile, Question, ResolverConfig, answer};
use proptest::prelude::*;

use crate::worlds::{QTYPES, arb_world, cases, names, recase};

pub async fn udp(addr: std::net::SocketAddr, bytes: &[u8]) -> Option<Vec<u8>> {
    exchange_udp(addr, bytes).await
}

async fn exchange_udp(addr: std::net::SocketAddr, bytes: &[u8]) -> Option<Vec<u8>> {
    let sock = tokio::net::UdpSocket::bind("127.0.0.1:0").await.ok()?;
    sock.send_to(bytes, addr).await.ok()?;
    let mut buf = vec![0u8; 65535];
    let (n, _) = tokio::time::timeout(Duration::from_secs(2), sock.recv_from(&mut buf))
        .await
        .ok()?
        .ok()?;
    buf.truncate(n);
    Some(buf)
}

async fn exchange_tcp(addr: std::net::SocketAddr, bytes: &[u8]) -> Option<Vec<u8>> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(addr).await.ok()?;
    let mut framed = (bytes.len() as u16).to_be_bytes().to_vec();
    framed.extend_from_slice(bytes);
    s.write_all(&framed).await.ok()?;
    let mut len = [0u8; 2];
    tokio::time::timeout(Duration::from_secs(2), s.read_exact(&mut len))
        .await
        .ok()?
        .ok()?;
    let mut buf = vec![0u8; u16::from_be_bytes(len) as usize];
    s.read_exact(&mut buf).await.ok()?;
    Some(buf)
}

fn query_bytes(id: u16, name: &Name, t: RecordType, edns: bool) -> Vec<u8> {
    let mut m = Message::new(id, MessageType::Query, OpCode::Query);
    m.metadata.recursion_desired = true;
    m.add_query(Query::query(name.clone(), t));
    if edns {
        m.edns = Some(hickory_proto::op::Edns::new());
    }
    m.to_vec().expect("encodes")
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), ..ProptestConfig::default() })]

    /// Over UDP and TCP the server sends what the engine answers, with the
    /// query's id and question (case kept); a cut UDP answer sets TC.
    #[test]
    fn the_server_answers_exactly_what_the_engine_answers(
        g in arb_world(), pick in any::<prop::sample::Index>(), mask in any::<u64>(),
        t in prop::sample::select(QTYPES.to_vec()), id in any::<u16>(), edns in any::<bool>(),
    ) {
        let view = ClusterView::from_state(&g.state);
        let config = ResolverConfig::default_for(Profile::Kep1645);
        let all = names(&g);
        let name = Name::from_ascii(format!("{}.", recase(&all[pick.index(all.len())], mask))).unwrap();
        let engine = answer(&config, &view, &Question::new(name.clone(), t)).reply().cloned().unwrap();
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(async {
            let running = serve("127.0.0.1:0".parse().unwrap(), SharedSnapshot::new(Snapshot { config: config.clone().into(), view })).await.unwrap();
            let bytes = query_bytes(id, &name, t, edns);
            for (proto, got) in [("udp", exchange_udp(running.addr, &bytes).await), ("tcp", exchange_tcp(running.addr, &bytes).await)] {
                let m = Message::from_vec(&got.expect("answered")).unwrap();
                assert_eq!(m.metadata.id, id, "{proto}");
                assert_eq!(m.queries[0].name().to_string(), name.to_string(), "{proto}: question echoed");
                assert_eq!(m.metadata.response_code, engine.rcode, "{proto} {name} {t}");
                assert_eq!(m.metadata.authoritative, engine.authoritative);
                if m.metadata.truncation {
                    assert_eq!(proto, "udp", "only UDP truncates");
                    assert!(m.answers.len() <= engine.answers.len());
                } else {
                    assert_eq!(lines(&m.answers), lines(&engine.answers), "{proto} {name} {t}");
                    assert_eq!(lines(&m.authorities), lines(&engine.authorities), "{proto}");
                }
                assert_eq!(m.edns.is_some(), edns, "EDNS answered with EDNS");
            }
            running.shutdown().await;
        });
    }

    /// A burst from several clients, sent before any answer is read, so
    /// that the server takes queries in by the batch: every query gets its
    /// own answer, at its own socket, with its id and question, and that
    /// answer is the engine's. Each query is asked twice, the second time
    /// by another client: the two answers are the same bytes but the id,
    /// whether the second came from the engine or from the kept bytes of
    /// the first.
    #[test]
    fn a_burst_is_answered_query_by_query(
        g in arb_world(),
        asks in prop::collection::vec(
            (any::<prop::sample::Index>(), prop::sample::select(QTYPES.to_vec()), any::<u64>(), 0..4usize),
            1..24,
        ),
    ) {
        let view = ClusterView::from_state(&g.state);
        let config = ResolverConfig::default_for(Profile::Kep1645);
        let all = names(&g);
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let running = rt.block_on(serve("127.0.0.1:0".parse().unwrap(), SharedSnapshot::new(Snapshot { config: config.clone().into(), view: view.clone() }))).unwrap();
        let clients: Vec<std::net::UdpSocket> = (0..4)
            .map(|_| {
                let s = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
                s.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
                s
            })
            .collect();
        // Each query: its client, id, name as sent and type; the second
        // round asks the same again from the next client, id + 0x4000.
        let first: Vec<(usize, u16, Name, RecordType)> = asks
            .iter()
            .enumerate()
            .map(|(i, (pick, t, mask, client))| {
                let name = Name::from_ascii(format!("{}.", recase(&all[pick.index(all.len())], *mask))).unwrap();
                (*client, 1000 + i as u16, name, *t)
            })
            .collect();
        let again = first.iter().map(|(c, id, name, t)| ((c + 1) % 4, id + 0x4000, name.clone(), *t));
        let sent: Vec<(usize, u16, Name, RecordType)> = first.iter().cloned().chain(again).collect();
        for (client, id, name, t) in &sent {
            clients[*client].send_to(&query_bytes(*id, name, *t, false), running.addr).unwrap();
        }
        let mut got = std::collections::HashMap::new();
        for (k, client) in clients.iter().enumerate() {
            let mut waiting: Vec<u16> = sent.iter().filter(|q| q.0 == k).map(|q| q.1).collect();
            let mut buf = vec![0u8; 65535];
            while !waiting.is_empty() {
                let (n, from) = client.recv_from(&mut buf).expect("every query of the burst answered");
                assert_eq!(from, running.addr);
                let id = u16::from_be_bytes([buf[0], buf[1]]);
                let at = waiting.iter().position(|w| *w == id).expect("an answer to a query this client sent, once");
                waiting.swap_remove(at);
                got.insert(id, buf[..n].to_vec());
            }
        }
        rt.block_on(running.shutdown());
        for (_, id, name, t) in &first {
            let bytes = &got[id];
            let m = Message::from_vec(bytes).unwrap();
            let engine = answer(&config, &view, &Question::new(name.clone(), *t)).reply().cloned().unwrap();
            assert_eq!(m.queries[0].name().to_string(), name.to_string(), "question echoed");
            assert_eq!(m.metadata.response_code, engine.rcode, "{name} {t}");
            if !m.metadata.truncation {
                assert_eq!(lines(&m.answers), lines(&engine.answers), "{name} {t}");
                assert_eq!(lines(&m.authorities), lines(&engine.authorities), "{name} {t}");
            }
            let second = &got[&(id + 0x4000)];
            assert_eq!(&second[2..], &bytes[2..], "asked again: {name} {t}");
        }
    }

    /// No bytes stop the server: what parses as a query is answered (with
    /// its id), what does not gets FORMERR or, under 12 bytes, nothing.
    #[test]
    fn arbitrary_bytes_never_stop_the_server(junk in prop::collection::vec(any::<u8>(), 0..300)) {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(async {
            let view = ClusterView::new("c");
            let config = ResolverConfig::default_for(Profile::Kep1645);
            let running = serve("127.0.0.1:0".parse().unwrap(), SharedSnapshot::new(Snapshot { config: config.into(), view })).await.unwrap();
            let reply = exchange_udp(running.addr, &junk).await;
            let parsed = Message::from_vec(&junk).ok().filter(|m| m.metadata.message_type == MessageType::Query);
            match (&parsed, &reply) {
                (Some(q), Some(r)) => {
                    let r = Message::from_vec(r).expect("a well-formed reply");
                    assert_eq!(r.metadata.id, q.metadata.id);
                }
                (Some(q), None) => panic!("query {:?} left unanswered", q.metadata),
                (None, Some(r)) => {
                    let r = Message::from_vec(r).expect("a well-formed reply");
                    assert!(matches!(r.metadata.response_code, ResponseCode::FormErr | ResponseCode::NotImp | ResponseCode::Refused | ResponseCode::NoError | ResponseCode::NXDomain), "{:?}", r.metadata.response_code);
                }
                (None, None) => assert!(junk.len() < 12 || junk[2] & 0x80 != 0, "a {}-byte message went unanswered", junk.len()),
            }
            // Still serving.
            let name = Name::from_ascii("x.clusterset.local.").unwrap();
            let again = exchange_udp(running.addr, &query_bytes(7, &name, RecordType::A, false)).await.expect("still answering");
            assert_eq!(Message::from_vec(&again).unwrap().metadata.id, 7);
            running.shutdown().await;
        });
    }
}
