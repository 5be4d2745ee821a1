//! The `mcsdns zone` export, loaded into hickory's own in-memory authority
//! and served beside the engine, answers the static record types the same.

use std::sync::Arc;

use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::{Name, RecordType};
use hickory_proto::serialize::txt::Parser;
use hickory_server::Server;
use hickory_server::store::in_memory::InMemoryZoneHandler;
use hickory_server::zone_handler::{AxfrPolicy, Catalog, ZoneType};
use mcsdns::resolver::export::zone_file;
use mcsdns::resolver::server::{SharedSnapshot, Snapshot, serve};
use mcsdns::resolver::text::rdata_text;
use mcsdns::resolver::{ClusterView, Profile, ResolverConfig};
use proptest::prelude::*;

use crate::worlds::{arb_world, cases, names};

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), ..ProptestConfig::default() })]

    #[test]
    fn the_zone_export_served_by_hickory_answers_like_the_engine(g in arb_world()) {
        let view = ClusterView::from_state(&g.state);
        let config = ResolverConfig::default_for(Profile::Kep1645);
        let origin = Name::from_ascii("clusterset.local.").unwrap();
        let text = zone_file(&config, &view, &origin);
        let (zone_origin, records) = Parser::new(text.as_str(), None, Some(origin.clone())).parse().expect("the export parses as a zone file");
        let handler = InMemoryZoneHandler::<hickory_net::runtime::TokioRuntimeProvider>::new(zone_origin, records, ZoneType::Primary, AxfrPolicy::Deny).expect("hickory loads the zone");
        let mut catalog = Catalog::new();
        catalog.upsert(origin.clone().into(), vec![Arc::new(handler)]);
        // Names an import owns without any record (no ips yet) exist for the
        // engine (NODATA) but cannot be written in a zone file.
        let recordless: Vec<String> = g.imports.iter().filter(|i| !i.headless && i.ips.is_empty()).map(|i| format!("{}.{}.svc.clusterset.local", i.name, i.ns)).collect();
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(async {
            let ours = serve("127.0.0.1:0".parse().unwrap(), SharedSnapshot::new(Snapshot { config: config.into(), view })).await.unwrap();
            let udp = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
            let theirs_addr = udp.local_addr().unwrap();
            let mut server = Server::new(catalog);
            server.register_socket(udp);
            for name in names(&g) {
                // Skip those names and their ancestors (which exist through them).
                if recordless.iter().any(|r| *r == name || r.ends_with(&format!(".{name}"))) {
                    continue;
                }
                let n = Name::from_ascii(format!("{name}.")).unwrap();
                for t in [RecordType::A, RecordType::AAAA, RecordType::SRV, RecordType::TXT, RecordType::SOA, RecordType::NS] {
                    let bytes = {
                        let mut m = Message::new(1, hickory_proto::op::MessageType::Query, hickory_proto::op::OpCode::Query);
                        m.add_query(hickory_proto::op::Query::query(n.clone(), t));
                        m.to_vec().unwrap()
                    };
                    let a = Message::from_vec(&crate::wire::udp(ours.addr, &bytes).await.expect("mcsdns answers")).unwrap();
                    let b = Message::from_vec(&crate::wire::udp(theirs_addr, &bytes).await.expect("hickory answers")).unwrap();
                    let set = |m: &Message| { let mut v: Vec<String> = m.answers.iter().map(rdata_text).collect(); v.sort(); v };
                    assert_eq!(a.metadata.response_code, b.metadata.response_code, "{name} {t}\n{text}");
                    assert_eq!(set(&a), set(&b), "{name} {t}");
                    if a.metadata.response_code != ResponseCode::NoError {
                        assert!(a.answers.is_empty());
                    }
                }
            }
            let _ = server.shutdown_gracefully().await;
            ours.shutdown().await;
        });
    }
}
