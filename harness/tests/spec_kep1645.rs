//! The `kep1645` profile against every requirement of the MCS DNS spec
//! (KEP-1645 specification.md), one test per clause, named after it.

mod common;

use common::*;
use hickory_proto::op::ResponseCode;
use hickory_proto::rr::RecordType::{self, *};
use mcsdns::resolver::Profile::Kep1645;
use mcsdns::resolver::view::Sync;

fn kep(name: &str, t: RecordType) -> mcsdns::resolver::Reply {
    ask(Kep1645, name, t)
}

#[test]
fn r1_schema_version_txt_is_1_0_0_with_ttl_28800() {
    let r = kep("dns-version.clusterset.local", TXT);
    assert_eq!(rdata(&r), ["\"1.0.0\""]);
    assert_eq!(r.answers[0].ttl, 28800);
}

#[test]
fn r2_clustersetip_a_comes_from_spec_ips_of_that_family() {
    assert_eq!(
        rdata(&kep("web.team.svc.clusterset.local", A)),
        ["10.42.0.1"]
    );
    assert_eq!(
        rdata(&kep("web.team.svc.clusterset.local", AAAA)),
        ["fd00::1"]
    );
}

#[test]
fn r2_ipv4_only_import_gives_nodata_for_aaaa() {
    assert_nodata(&kep("v4only.team.svc.clusterset.local", AAAA));
}

#[test]
fn r3_srv_for_each_named_port_targets_the_service_with_glue() {
    let r = kep("_http._tcp.web.team.svc.clusterset.local", SRV);
    assert_eq!(rdata(&r), ["0 100 80 web.team.svc.clusterset.local."]);
    assert_eq!(
        additional(&r),
        [
            "web.team.svc.clusterset.local. 10.42.0.1",
            "web.team.svc.clusterset.local. fd00::1"
        ]
    );
    let udp = kep("_dns._udp.web.team.svc.clusterset.local", SRV);
    assert_eq!(rdata(&udp), ["0 100 53 web.team.svc.clusterset.local."]);
}

#[test]
fn r3_unnamed_ports_have_no_srv_record() {
    let r = kep("web.team.svc.clusterset.local", SRV);
    let ports: Vec<String> = rdata(&r);
    assert_eq!(
        ports,
        [
            "0 50 53 web.team.svc.clusterset.local.",
            "0 50 80 web.team.svc.clusterset.local."
        ]
    );
}

#[test]
fn r3_srv_with_the_wrong_protocol_is_nxdomain() {
    assert_nxdomain(&kep("_http._udp.web.team.svc.clusterset.local", SRV));
}

#[test]
fn r4_no_ptr_records_in_the_clusterset_zone() {
    assert_nodata(&kep("web.team.svc.clusterset.local", PTR));
    // 10.42.0.1 is a clusterset IP, not a ClusterIP: no reverse record points into clusterset.local.
    let r = kep("1.0.42.10.in-addr.arpa", PTR);
    assert!(r.answers.is_empty());
}

#[test]
fn r5_clusterid_svc_form_does_not_exist_for_clustersetip() {
    assert_nxdomain(&kep("cluster-a.web.team.svc.clusterset.local", A));
    // Even with an MCS EndpointSlice behind the import, no per-endpoint name exists.
    assert_nxdomain(&kep("web-0.cluster-a.web.team.svc.clusterset.local", A));
}

#[test]
fn r6_headless_a_is_the_union_of_ready_endpoints_of_all_clusters() {
    assert_eq!(
        rdata(&kep("db.team.svc.clusterset.local", A)),
        ["10.1.0.10", "10.1.0.11", "10.2.0.10"]
    );
    assert_eq!(
        rdata(&kep("db.team.svc.clusterset.local", AAAA)),
        ["fd00::10"]
    );
}

#[test]
fn r7_hostname_clusterid_names_each_ready_endpoint() {
    assert_eq!(
        rdata(&kep("db-0.cluster-a.db.team.svc.clusterset.local", A)),
        ["10.1.0.10"]
    );
    assert_eq!(
        rdata(&kep("db-1.cluster-a.db.team.svc.clusterset.local", AAAA)),
        ["fd00::10"]
    );
}

#[test]
fn r7_endpoint_without_hostname_is_named_by_its_dashed_ip() {
    assert_eq!(
        rdata(&kep("10-1-0-11.cluster-a.db.team.svc.clusterset.local", A)),
        ["10.1.0.11"]
    );
}

#[test]
fn r7_two_label_cluster_ids_are_addressable() {
    assert_eq!(
        rdata(&kep("db-0.east.prod.db.team.svc.clusterset.local", A)),
        ["10.2.0.10"]
    );
    assert_nodata(&kep("east.prod.db.team.svc.clusterset.local", A));
    assert_nodata(&kep("prod.db.team.svc.clusterset.local", A));
}

#[test]
fn r7_not_ready_endpoints_get_no_record() {
    assert_nxdomain(&kep("db-9.cluster-a.db.team.svc.clusterset.local", A));
}

#[test]
fn r8_headless_without_ready_endpoints_is_nxdomain() {
    assert_nxdomain(&kep("gone.team.svc.clusterset.local", A));
    assert_nxdomain(&kep("gone.team.svc.clusterset.local", AAAA));
}

#[test]
fn r9_headless_srv_is_ready_endpoints_times_named_ports() {
    let r = kep("_pg._tcp.db.team.svc.clusterset.local", SRV);
    assert_eq!(
        rdata(&r),
        [
            "0 25 5432 10-1-0-11.cluster-a.db.team.svc.clusterset.local.",
            "0 25 5432 db-0.cluster-a.db.team.svc.clusterset.local.",
            "0 25 5432 db-0.east.prod.db.team.svc.clusterset.local.",
            "0 25 5432 db-1.cluster-a.db.team.svc.clusterset.local.",
        ]
    );
    assert_eq!(r.additionals.len(), 4);
    // The unnamed port 9000 has no SRV.
    assert!(
        rdata(&kep("db.team.svc.clusterset.local", SRV))
            .iter()
            .all(|s| !s.contains(" 9000 "))
    );
}

#[test]
fn r10_clusterid_svc_of_headless_owns_no_record() {
    // An empty non-terminal (db-0.cluster-a.db... exists below it): NODATA, never a record.
    let r = kep("cluster-a.db.team.svc.clusterset.local", A);
    assert_nodata(&r);
    assert!(
        kep("cluster-a.db.team.svc.clusterset.local", ANY)
            .answers
            .is_empty()
    );
}

#[test]
fn d1_matching_is_case_insensitive_and_the_question_case_is_echoed() {
    let r = kep("WEB.Team.SVC.ClusterSet.LOCAL", A);
    assert_eq!(rdata(&r), ["10.42.0.1"]);
    assert_eq!(
        r.answers[0].name.to_string(),
        "WEB.Team.SVC.ClusterSet.LOCAL."
    );
}

#[test]
fn d3_names_outside_served_zones_are_refused_never_recursed() {
    let r = kep("example.com", A);
    assert_eq!(r.rcode, ResponseCode::Refused);
    assert!(!r.authoritative && !r.recursion_available);
}

#[test]
fn apex_has_soa_and_ns_with_glue_from_kube_dns() {
    let soa = kep("clusterset.local", SOA);
    assert_eq!(
        rdata(&soa),
        ["ns.dns.clusterset.local. hostmaster.clusterset.local. 1 7200 1800 86400 5"]
    );
    assert_eq!(
        rdata(&kep("clusterset.local", NS)),
        ["ns.dns.clusterset.local."]
    );
    assert_eq!(rdata(&kep("ns.dns.clusterset.local", A)), ["10.96.0.10"]);
}

#[test]
fn every_in_zone_answer_is_authoritative_and_ra_is_off_by_default() {
    for (name, t) in [
        ("web.team.svc.clusterset.local", A),
        ("nope.team.svc.clusterset.local", A),
    ] {
        let r = kep(name, t);
        assert!(r.authoritative, "{name}");
        assert!(!r.recursion_available, "{name}");
    }
}

#[test]
fn empty_non_terminals_are_nodata_rfc8020() {
    assert_nodata(&kep("team.svc.clusterset.local", A));
    assert_nodata(&kep("svc.clusterset.local", A));
    assert_nodata(&kep("_tcp.web.team.svc.clusterset.local", SRV));
}

#[test]
fn a_namespace_without_imports_does_not_exist_in_the_zone() {
    assert_nxdomain(&kep("empty-ns.svc.clusterset.local", A));
    assert_nxdomain(&kep("nope.nowhere.svc.clusterset.local", A));
}

#[test]
fn import_without_ips_exists_but_has_no_address_or_srv() {
    assert_nodata(&kep("noips.team.svc.clusterset.local", A));
    assert_nxdomain(&kep("_http._tcp.noips.team.svc.clusterset.local", SRV));
}

#[test]
fn import_without_ports_still_answers_its_address() {
    assert_eq!(
        rdata(&kep("noports.team.svc.clusterset.local", A)),
        ["10.42.0.3"]
    );
}

#[test]
fn pod_label_is_not_part_of_the_clusterset_zone() {
    assert_nxdomain(&kep("web.team.pod.clusterset.local", A));
}

#[test]
fn zone_transfers_are_refused() {
    assert_eq!(kep("clusterset.local", AXFR).rcode, ResponseCode::Refused);
}

#[test]
fn ttl_defaults_to_5_and_is_configurable() {
    assert_eq!(kep("web.team.svc.clusterset.local", A).answers[0].ttl, 5);
    let config = config(Kep1645).with_ttl(30);
    let r = ask_with(&config, &view(), "web.team.svc.clusterset.local", A);
    assert_eq!(r.answers[0].ttl, 30);
}

#[test]
fn not_synced_imports_answer_servfail_with_soa() {
    let mut v = view();
    v.sync.service_imports = Sync::Failed("forbidden".into());
    let r = ask_with(&config(Kep1645), &v, "web.team.svc.clusterset.local", A);
    assert_eq!(r.rcode, ResponseCode::ServFail);
    assert_soa(&r);
}

#[test]
fn the_soa_serial_follows_changes_of_the_view() {
    let before = kep("clusterset.local", SOA);
    let mut v = view();
    v.remove(&mcsdns::model::ObjectKey::new(
        mcsdns::model::Kind::ServiceImport,
        "team",
        "web",
    ));
    let after = ask_with(&config(Kep1645), &v, "clusterset.local", SOA);
    assert_ne!(rdata(&before), rdata(&after));
    assert_nxdomain(&ask_with(
        &config(Kep1645),
        &v,
        "web.team.svc.clusterset.local",
        A,
    ));
}
