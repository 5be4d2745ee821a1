//! The `coredns` profile: each documented quirk of CoreDNS's multicluster
//! plugin (docs/semantics.md), beside what `kep1645` answers instead.

mod common;

use common::*;
use hickory_proto::op::ResponseCode;
use hickory_proto::rr::RecordType::*;
use mcsdns::resolver::Profile::{Coredns, Kep1645};
use mcsdns::resolver::config::STOCK_ORDER;
use mcsdns::resolver::corefile::Corefile;
use mcsdns::resolver::view::Sync;
use mcsdns::resolver::{Outcome, Question, ResolverConfig, answer};

#[test]
fn dns_version_is_1_1_0_not_1_0_0() {
    assert_eq!(
        rdata(&ask(Coredns, "dns-version.clusterset.local", TXT)),
        ["\"1.1.0\""]
    );
    assert_eq!(
        rdata(&ask(Kep1645, "dns-version.clusterset.local", TXT)),
        ["\"1.0.0\""]
    );
}

#[test]
fn bare_name_srv_includes_unnamed_ports_with_per_item_weight() {
    // ips(2) x ports(3) = 6 items: weight floor(100/6) = 16, deduplicated on (target, port).
    let r = ask(Coredns, "web.team.svc.clusterset.local", SRV);
    assert_eq!(
        rdata(&r),
        [
            "0 16 53 web.team.svc.clusterset.local.",
            "0 16 80 web.team.svc.clusterset.local.",
            "0 16 8080 web.team.svc.clusterset.local."
        ]
    );
}

#[test]
fn dual_stack_port_srv_weight_is_50_not_100() {
    let r = ask(Coredns, "_http._tcp.web.team.svc.clusterset.local", SRV);
    assert_eq!(rdata(&r), ["0 50 80 web.team.svc.clusterset.local."]);
    assert_eq!(
        rdata(&ask(
            Kep1645,
            "_http._tcp.web.team.svc.clusterset.local",
            SRV
        )),
        ["0 100 80 web.team.svc.clusterset.local."]
    );
}

#[test]
fn pod_label_is_answered_like_svc() {
    assert_eq!(
        rdata(&ask(Coredns, "web.team.pod.clusterset.local", A)),
        ["10.42.0.1"]
    );
    assert_nxdomain(&ask(Kep1645, "web.team.pod.clusterset.local", A));
}

#[test]
fn ns_at_the_apex_gets_no_reply_from_the_standalone_plugin() {
    // Measured on the real standalone plugin: nothing is written (UDP and
    // TCP time out), though its log records NXDOMAIN.
    let q = Question::parse("clusterset.local", NS).unwrap();
    match answer(&config(Coredns), &view(), &q) {
        Outcome::Silent(why) => assert!(why.contains("apex NS"), "{why}"),
        Outcome::Reply(r) => panic!("expected no reply, got {r:?}"),
    }
    // An apex SOA on the same server is answered.
    assert_eq!(ask(Coredns, "clusterset.local", SOA).answers.len(), 1);
    assert_eq!(ask(Kep1645, "clusterset.local", NS).answers.len(), 1);
}

#[test]
fn wildcard_labels_are_literal_and_nxdomain() {
    assert_nxdomain(&ask(Coredns, "*.team.svc.clusterset.local", A));
    assert_nxdomain(&ask(Kep1645, "*.team.svc.clusterset.local", A));
}

#[test]
fn empty_ips_is_nodata_for_a_and_for_port_srv() {
    assert_nodata(&ask(Coredns, "noips.team.svc.clusterset.local", A));
    assert_nodata(&ask(
        Coredns,
        "_http._tcp.noips.team.svc.clusterset.local",
        SRV,
    ));
    assert_nxdomain(&ask(
        Kep1645,
        "_http._tcp.noips.team.svc.clusterset.local",
        SRV,
    ));
}

#[test]
fn empty_ports_is_nxdomain_even_for_a() {
    assert_nxdomain(&ask(Coredns, "noports.team.svc.clusterset.local", A));
    assert_eq!(
        rdata(&ask(Kep1645, "noports.team.svc.clusterset.local", A)),
        ["10.42.0.3"]
    );
}

#[test]
fn hostname_clusterid_is_answered_even_on_a_clustersetip_import() {
    assert_eq!(
        rdata(&ask(
            Coredns,
            "web-0.cluster-a.web.team.svc.clusterset.local",
            A
        )),
        ["10.1.0.50"]
    );
}

#[test]
fn two_label_cluster_ids_cannot_be_addressed() {
    assert_nxdomain(&ask(
        Coredns,
        "db-0.east.prod.db.team.svc.clusterset.local",
        A,
    ));
}

#[test]
fn clusterid_svc_form_is_nxdomain_even_for_headless() {
    assert_nxdomain(&ask(Coredns, "cluster-a.db.team.svc.clusterset.local", A));
    assert_nodata(&ask(Kep1645, "cluster-a.db.team.svc.clusterset.local", A));
}

#[test]
fn an_import_needs_a_local_namespace_object() {
    assert_nxdomain(&ask(Coredns, "orphan.other.svc.clusterset.local", A));
    assert_eq!(
        rdata(&ask(Kep1645, "orphan.other.svc.clusterset.local", A)),
        ["10.42.0.9"]
    );
}

#[test]
fn namespace_name_is_nodata_when_the_namespace_object_exists() {
    assert_nodata(&ask(Coredns, "empty-ns.svc.clusterset.local", A));
    assert_nxdomain(&ask(Kep1645, "empty-ns.svc.clusterset.local", A));
}

#[test]
fn txt_is_nodata_only_where_addresses_exist() {
    assert_nodata(&ask(Coredns, "web.team.svc.clusterset.local", TXT));
    assert_nxdomain(&ask(Coredns, "team.svc.clusterset.local", TXT));
    assert_nxdomain(&ask(Coredns, "clusterset.local", TXT));
    assert_nodata(&ask(Kep1645, "clusterset.local", TXT));
}

#[test]
fn soa_on_any_non_apex_name_is_nodata_even_if_missing() {
    assert_nodata(&ask(Coredns, "nope.team.svc.clusterset.local", SOA));
    assert_nxdomain(&ask(Kep1645, "nope.team.svc.clusterset.local", SOA));
}

#[test]
fn other_types_probe_with_an_a_lookup() {
    assert_nodata(&ask(Coredns, "web.team.svc.clusterset.local", MX));
    assert_nxdomain(&ask(Coredns, "nope.team.svc.clusterset.local", MX));
    assert_nodata(&ask(Coredns, "clusterset.local", AXFR));
}

#[test]
fn headless_portless_slices_answer_a_but_not_srv() {
    let r = ask(Coredns, "db.team.svc.clusterset.local", SRV);
    // 3 ready IPv4 endpoints with 2 ports (pg, 9000) in slice db-a, 1 in db-b, 1 v6 in db-a-v6.
    assert!(rdata(&r).iter().any(|s| s.contains(" 9000 ")), "{r:#?}");
}

#[test]
fn standalone_plugin_serves_nothing_until_imports_are_listed() {
    let mut v = view();
    v.sync.service_imports = Sync::Failed("forbidden".into());
    let q = Question::parse("web.team.svc.cluster.local", A).unwrap();
    assert!(matches!(
        answer(&config(Coredns), &v, &q),
        Outcome::Silent(_)
    ));
}

#[test]
fn in_tree_option_turns_name_errors_into_servfail_when_not_synced() {
    let cf = Corefile::parse(
        std::path::Path::new("in-tree"),
        ".:53 {\n kubernetes cluster.local clusterset.local {\n  multicluster clusterset.local\n }\n}\n",
    )
    .unwrap();
    let config = ResolverConfig::from_corefile(&cf, Coredns, &STOCK_ORDER).unwrap();
    let mut v = view();
    v.sync.service_imports = Sync::Pending;
    let r = ask_with(&config, &v, "nope.team.svc.cluster.local", A);
    assert_eq!(r.rcode, ResponseCode::ServFail);
    let r = ask_with(&config, &v, "nope.team.svc.clusterset.local", A);
    assert_eq!(r.rcode, ResponseCode::ServFail);
}

#[test]
fn noendpoints_fails_headless_and_endpoint_names_as_the_real_plugin_does() {
    // Measured: SERVFAIL (a recovered nil-pointer panic), no AA, no SOA; the
    // plugin's README promises NXDOMAIN. ClusterSetIP names are answered.
    let cf = Corefile::parse(
        std::path::Path::new("noendpoints"),
        ".:53 {\n multicluster clusterset.local {\n  noendpoints\n }\n}\n",
    )
    .unwrap();
    let config = ResolverConfig::from_corefile(&cf, Coredns, &STOCK_ORDER).unwrap();
    let v = view();
    for (name, qtype) in [
        ("db.team.svc.clusterset.local", A),
        ("db.team.svc.clusterset.local", SRV),
        ("_pg._tcp.db.team.svc.clusterset.local", SRV),
        ("db-0.cluster-a.db.team.svc.clusterset.local", A),
        ("host.cluster-a.web.team.svc.clusterset.local", A),
    ] {
        let r = ask_with(&config, &v, name, qtype);
        assert_eq!(r.rcode, ResponseCode::ServFail, "{name} {qtype}");
        assert!(!r.authoritative && r.authorities.is_empty(), "{name}");
    }
    assert_eq!(
        rdata(&ask_with(
            &config,
            &v,
            "v4only.team.svc.clusterset.local",
            A
        )),
        ["10.42.0.2"]
    );
    // Unknown names still get the plugin's own NXDOMAIN.
    assert_nxdomain(&ask_with(&config, &v, "nope.team.svc.clusterset.local", A));
    // Without the option, the same names are answered.
    assert_eq!(
        rdata(&ask(
            Coredns,
            "db-0.cluster-a.db.team.svc.clusterset.local",
            A
        )),
        ["10.1.0.10"]
    );
}
