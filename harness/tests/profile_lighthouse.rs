//! The `lighthouse` profile: one test per row of Lighthouse's measured
//! behaviour (docs/lighthouse.md), on the world of fixtures/lighthouse/c1
//! and the Corefile the measured build ran with.

mod common;

use std::path::Path;

use common::{rdata, repo};
use hickory_proto::op::ResponseCode;
use hickory_proto::rr::RecordType::{self, *};
use imbl::OrdSet;
use mcsdns::model::World;
use mcsdns::resolver::config::STOCK_ORDER;
use mcsdns::resolver::view::{Connectivity, Sync};
use mcsdns::resolver::{ClusterView, Outcome, Profile, Question, Reply, ResolverConfig, answer};

const Z: &str = "svc.clusterset.local";

fn world_view(cluster: &str) -> ClusterView {
    let path = repo().join("fixtures/lighthouse/c1/world.yaml");
    let text = std::fs::read_to_string(&path).unwrap();
    let state = World::parse_cluster(cluster, &path, &text, 1).unwrap();
    ClusterView::from_state(&state)
}

fn view() -> ClusterView {
    world_view("c1")
}

fn config() -> ResolverConfig {
    ResolverConfig::read(
        &repo().join("fixtures/lighthouse/Corefile"),
        Profile::Lighthouse,
        &STOCK_ORDER,
    )
    .unwrap()
}

fn outcome(view: &ClusterView, name: &str, qtype: RecordType) -> Outcome {
    let q = Question::parse(name, qtype).unwrap();
    answer(&config(), view, &q)
}

fn ask_in(view: &ClusterView, name: &str, qtype: RecordType) -> Reply {
    match outcome(view, name, qtype) {
        Outcome::Reply(r) => r,
        Outcome::Silent(why) => panic!("no reply for {name}: {why}"),
    }
}

fn ask(name: &str, qtype: RecordType) -> Reply {
    ask_in(&view(), name, qtype)
}

fn svc(name: &str) -> String {
    format!("{name}.lh.{Z}")
}

#[track_caller]
fn assert_nxdomain(r: &Reply) {
    assert_eq!(r.rcode, ResponseCode::NXDomain, "{r:#?}");
    assert!(r.answers.is_empty() && r.authorities.is_empty(), "{r:#?}");
    assert!(r.authoritative);
}

#[track_caller]
fn assert_nodata(r: &Reply) {
    assert_eq!(r.rcode, ResponseCode::NoError, "{r:#?}");
    assert!(r.answers.is_empty() && r.authorities.is_empty(), "{r:#?}");
}

/// The answers of `n` queries in a row on one view.
fn sequence(view: &ClusterView, name: &str, n: usize) -> Vec<String> {
    (0..n)
        .map(|_| rdata(&ask_in(view, name, A)).join(","))
        .collect()
}

fn set_ready(view: &mut ClusterView, slice: &str, ready: bool) {
    let path = repo().join("fixtures/lighthouse/c1/world.yaml");
    let text = std::fs::read_to_string(&path).unwrap();
    let state = World::parse_cluster("c1", &path, &text, 1).unwrap();
    let mut r = state
        .resources()
        .find(|r| r.metadata().name.as_deref() == Some(slice))
        .unwrap()
        .clone();
    if let mcsdns::model::Resource::EndpointSlice(s) = &mut r {
        for ep in std::sync::Arc::make_mut(s).endpoints.iter_mut().flatten() {
            ep.conditions.get_or_insert_default().ready = Some(ready);
        }
    }
    view.apply(&r);
}

#[test]
fn spec_ips_answers_its_first_ip_only_and_needs_no_slice() {
    assert_eq!(rdata(&ask(&svc("withip"), A)), ["10.42.0.10"]);
    assert_eq!(rdata(&ask(&svc("dual"), A)), ["10.42.0.20"]);
}

#[test]
fn the_local_cluster_answers_every_query() {
    let v = view();
    assert!(
        sequence(&v, &svc("web"), 20)
            .iter()
            .all(|a| a == "10.1.0.7")
    );
}

#[test]
fn without_a_ready_local_endpoint_the_others_alternate() {
    let mut v = view();
    set_ready(&mut v, "web-x7k2p", false);
    let seq = sequence(&v, &svc("web"), 20);
    assert_eq!(seq.iter().filter(|a| *a == "10.2.0.7").count(), 10);
    assert_eq!(seq.iter().filter(|a| *a == "10.3.0.7").count(), 10);
    assert!(seq.windows(2).all(|w| w[0] != w[1]), "{seq:?}");
}

#[test]
fn without_a_cluster_id_all_three_rotate_strictly() {
    // No SUBMARINER_CLUSTERID: no local cluster; 7/7/6 over 20 (the
    // measured 7/7/7 was over 21), in cluster-id order.
    let v = world_view("");
    let seq = sequence(&v, &svc("web"), 21);
    for ip in ["10.1.0.7", "10.2.0.7", "10.3.0.7"] {
        assert_eq!(seq.iter().filter(|a| *a == ip).count(), 7, "{seq:?}");
    }
    assert_eq!(&seq[..3], ["10.1.0.7", "10.2.0.7", "10.3.0.7"]);
}

#[test]
fn two_remote_exporters_alternate() {
    let v = view();
    let seq = sequence(&v, &svc("rr"), 20);
    assert_eq!(seq.iter().filter(|a| *a == "10.2.0.8").count(), 10);
    assert!(seq.windows(2).all(|w| w[0] != w[1]));
}

#[test]
fn no_slice_or_no_ready_exporter_is_nodata() {
    assert_nodata(&ask(&svc("empty"), A));
    assert_nodata(&ask(&svc("lonely"), A));
}

#[test]
fn clusterid_form_answers_that_cluster_ready_or_not_connected_or_not() {
    assert_eq!(rdata(&ask(&format!("c2.{}", svc("web")), A)), ["10.2.0.7"]);
    assert_eq!(
        rdata(&ask(&format!("c2.{}", svc("lonely")), A)),
        ["10.2.0.9"]
    );
    let mut v = view();
    v.connectivity = Connectivity::Tracked {
        local: Some("c1".into()),
        connected: OrdSet::new(),
    };
    assert_eq!(
        rdata(&ask_in(&v, &format!("c3.{}", svc("rr")), A)),
        ["10.3.0.8"]
    );
}

#[test]
fn unknown_cluster_or_no_managed_slice_is_nxdomain() {
    assert_nxdomain(&ask(&format!("c9.{}", svc("web")), A));
    assert_nxdomain(&ask(&format!("c2.{}", svc("withip")), A));
}

#[test]
fn aaaa_is_always_nodata() {
    for name in ["dual", "v6", "web", "db"] {
        assert_nodata(&ask(&svc(name), AAAA));
    }
}

#[test]
fn an_ipv6_slice_gives_an_a_record_without_rdata() {
    let r = ask(&svc("v6"), A);
    assert_eq!(r.answers.len(), 1);
    assert_eq!(rdata(&r), ["<empty: malformed>"]);
}

#[test]
fn srv_has_priority_0_weight_50() {
    let r = ask(&format!("_http._tcp.{}", svc("web")), SRV);
    assert_eq!(rdata(&r), [format!("0 50 80 web.lh.{Z}.")]);
}

#[test]
fn bare_name_srv_lists_every_port_unnamed_ones_too() {
    let r = ask(&svc("rr"), SRV);
    assert_eq!(
        rdata(&r),
        [format!("0 50 53 rr.lh.{Z}."), format!("0 50 80 rr.lh.{Z}.")]
    );
}

#[test]
fn srv_without_a_matching_port_is_nodata() {
    assert_nodata(&ask(&format!("_http._udp.{}", svc("web")), SRV));
    assert_nodata(&ask(&format!("_nope._tcp.{}", svc("web")), SRV));
}

#[test]
fn srv_labels_are_case_folded_and_the_underscore_optional() {
    for prefix in ["_HTTP._TCP", "http._tcp", "_http.tcp"] {
        let r = ask(&format!("{prefix}.{}", svc("web")), SRV);
        assert_eq!(rdata(&r), [format!("0 50 80 web.lh.{Z}.")], "{prefix}");
    }
}

#[test]
fn srv_of_the_clusterid_form_targets_that_cluster() {
    let want = [format!("0 50 80 c2.web.lh.{Z}.")];
    assert_eq!(
        rdata(&ask(&format!("_http._tcp.c2.{}", svc("web")), SRV)),
        want
    );
    assert_eq!(rdata(&ask(&format!("c2.{}", svc("web")), SRV)), want);
}

#[test]
fn headless_answers_ready_ips_of_every_connected_cluster() {
    assert_eq!(
        rdata(&ask(&svc("db"), A)),
        ["10.2.1.1", "10.2.1.5", "10.2.1.6", "10.3.1.1"]
    );
}

#[test]
fn headless_clusterid_and_hostname_forms() {
    assert_eq!(
        rdata(&ask(&format!("c2.{}", svc("db")), A)),
        ["10.2.1.1", "10.2.1.5", "10.2.1.6"]
    );
    assert_eq!(
        rdata(&ask(&format!("db-0.c2.{}", svc("db")), A)),
        ["10.2.1.1"]
    );
}

#[test]
fn a_pod_name_stands_in_for_a_missing_hostname() {
    assert_eq!(
        rdata(&ask(&format!("podname-1.c2.{}", svc("db")), A)),
        ["10.2.1.5"]
    );
}

#[test]
fn a_dashed_ip_or_a_not_ready_endpoint_is_nxdomain() {
    assert_nxdomain(&ask(&format!("10-2-1-6.c2.{}", svc("db")), A));
    assert_nxdomain(&ask(&format!("db-9.c2.{}", svc("db")), A));
}

#[test]
fn publish_not_ready_keeps_not_ready_endpoints() {
    assert_eq!(
        rdata(&ask(&format!("db-1.c2.{}", svc("db2")), A)),
        ["10.2.2.2"]
    );
}

#[test]
fn headless_srv_with_a_nameless_endpoint_is_servfail_without_aa() {
    let r = ask(&svc("db"), SRV);
    assert_eq!(r.rcode, ResponseCode::ServFail);
    assert!(!r.authoritative && r.authorities.is_empty());
}

#[test]
fn headless_srv_has_one_record_per_endpoint_and_port() {
    assert_eq!(
        rdata(&ask(&svc("db2"), SRV)),
        [
            format!("0 50 5432 db-0.c2.db2.lh.{Z}."),
            format!("0 50 5432 db-1.c2.db2.lh.{Z}."),
        ]
    );
}

#[test]
fn srv_of_an_endpoint_name_is_read_as_port_and_proto() {
    assert_nodata(&ask(&format!("db-0.c2.{}", svc("db2")), SRV));
}

#[test]
fn every_other_type_is_notimp_with_aa() {
    for (name, qtype) in [
        ("clusterset.local", SOA),
        ("clusterset.local", NS),
        ("dns-version.clusterset.local", TXT),
        ("web.lh.svc.clusterset.local", PTR),
        ("web.lh.svc.clusterset.local", ANY),
        ("web.lh.svc.clusterset.local", CNAME),
        ("web.lh.svc.clusterset.local", MX),
    ] {
        let r = ask(name, qtype);
        assert_eq!(r.rcode, ResponseCode::NotImp, "{name} {qtype}");
        assert!(r.authoritative, "{name} {qtype}");
    }
}

#[test]
fn names_that_are_not_a_service_are_nxdomain() {
    for name in [
        "clusterset.local".to_owned(),
        Z.to_owned(),
        format!("lh.{Z}"),
        svc("nope"),
        format!("web.other.{Z}"),
        "web.lh.pod.clusterset.local".to_owned(),
        "web.lh.foo.clusterset.local".to_owned(),
        format!("x.db-0.c2.{}", svc("db")),
    ] {
        assert_nxdomain(&ask(&name, A));
    }
}

#[test]
fn negative_answers_carry_no_soa() {
    assert!(ask(&svc("nope"), A).authorities.is_empty());
    assert!(ask(&svc("empty"), A).authorities.is_empty());
}

#[test]
fn flags_are_aa_never_ra_and_failures_lack_aa() {
    let r = ask(&svc("withip"), A);
    assert!(r.authoritative && !r.recursion_available);
    let r = ask("example.com", A);
    assert_eq!(r.rcode, ResponseCode::Refused);
    assert!(!r.authoritative);
}

#[test]
fn every_record_has_ttl_5() {
    for r in [ask(&svc("web"), A), ask(&svc("db2"), SRV)] {
        assert!(r.answers.iter().all(|a| a.ttl == 5));
    }
}

#[test]
fn the_owner_name_echoes_the_questions_case() {
    let r = ask("WEB.LH.SVC.ClusterSet.Local", A);
    assert_eq!(
        r.answers[0].name.to_string(),
        "WEB.LH.SVC.ClusterSet.Local."
    );
}

#[test]
fn out_of_zone_names_are_refused() {
    for name in [
        "web.lh.svc.cluster.local",
        "example.com",
        "7.0.1.10.in-addr.arpa",
    ] {
        assert_eq!(ask(name, A).rcode, ResponseCode::Refused, "{name}");
    }
}

#[test]
fn an_import_labelled_with_a_service_name_is_ignored() {
    assert_nxdomain(&ask(&svc("copy"), A));
}

#[test]
fn a_deleted_import_is_answered_from_its_slices_until_they_go() {
    use mcsdns::model::{Kind, ObjectKey};
    let key = |kind, name: &str| ObjectKey {
        kind,
        namespace: "lh".into(),
        name: name.into(),
    };
    let mut v = view();
    v.remove(&key(Kind::ServiceImport, "web"));
    assert_eq!(rdata(&ask_in(&v, &svc("web"), A)), ["10.1.0.7"]);
    for s in ["web-x7k2p", "web-b9d4q", "web-m3n8r"] {
        v.remove(&key(Kind::EndpointSlice, s));
    }
    assert_nxdomain(&ask_in(&v, &svc("web"), A));
}

#[test]
fn a_slice_without_the_managed_by_label_drops_out() {
    let mut v = view();
    let path = repo().join("fixtures/lighthouse/c1/world.yaml");
    let text = std::fs::read_to_string(&path).unwrap();
    let state = World::parse_cluster("c1", &path, &text, 1).unwrap();
    let mut r = state
        .resources()
        .find(|r| r.metadata().name.as_deref() == Some("web-m3n8r"))
        .unwrap()
        .clone();
    if let mcsdns::model::Resource::EndpointSlice(s) = &mut r {
        std::sync::Arc::make_mut(s)
            .metadata
            .labels
            .as_mut()
            .unwrap()
            .remove("endpointslice.kubernetes.io/managed-by");
    }
    v.apply(&r);
    assert_nxdomain(&ask_in(&v, &format!("c3.{}", svc("web")), A));
}

#[test]
fn a_gateway_that_reports_a_cluster_in_error_takes_it_out() {
    // c1 local, c2 connected, c3 `error`: rr answers c2 only, db c2's IPs
    // only; the <clusterid> forms still answer c3.
    let mut v = view();
    v.connectivity = Connectivity::Tracked {
        local: Some("c1".into()),
        connected: OrdSet::unit("c2".into()),
    };
    assert!(sequence(&v, &svc("rr"), 20).iter().all(|a| a == "10.2.0.8"));
    assert_eq!(
        rdata(&ask_in(&v, &svc("db"), A)),
        ["10.2.1.1", "10.2.1.5", "10.2.1.6"]
    );
    assert_eq!(
        rdata(&ask_in(&v, &format!("c3.{}", svc("rr")), A)),
        ["10.3.0.8"]
    );
    assert_eq!(
        rdata(&ask_in(&v, &format!("c3.{}", svc("db")), A)),
        ["10.3.1.1"]
    );
}

#[test]
fn a_gateway_local_cluster_id_overrides_the_environment() {
    let mut v = world_view("c9");
    v.connectivity = Connectivity::Tracked {
        local: Some("c1".into()),
        connected: ["c2".to_owned(), "c3".to_owned()].into_iter().collect(),
    };
    assert!(sequence(&v, &svc("web"), 6).iter().all(|a| a == "10.1.0.7"));
}

#[test]
fn no_port_opens_until_every_informer_has_synced() {
    for (imports, slices) in [
        (Sync::Pending, Sync::Synced),
        (Sync::Synced, Sync::Pending),
        (
            Sync::Failed("serviceimports is forbidden".into()),
            Sync::Synced,
        ),
        (
            Sync::Failed("the server could not find the requested resource".into()),
            Sync::Synced,
        ),
    ] {
        let mut v = view();
        v.sync.service_imports = imports.clone();
        v.sync.mcs_endpoint_slices = slices;
        match outcome(&v, &svc("withip"), A) {
            Outcome::Silent(why) => assert!(why.contains("Lighthouse"), "{why}"),
            Outcome::Reply(r) => panic!("{imports:?}: expected silence, got {r:?}"),
        }
    }
}

#[test]
fn a_slice_port_without_a_number_kills_the_server() {
    let mut v = view();
    let slice = r#"
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: web-k9s2d
  namespace: lh
  labels:
    endpointslice.kubernetes.io/managed-by: lighthouse-agent.submariner.io
    multicluster.kubernetes.io/service-name: web
    multicluster.kubernetes.io/source-cluster: c4
    lighthouse.submariner.io/sourceNamespace: lh
    lighthouse.submariner.io/is-headless: "false"
addressType: IPv4
ports: [{name: http, protocol: TCP}]
endpoints: [{addresses: ["10.4.0.7"]}]
"#;
    let state = World::parse_cluster("c1", Path::new("crash.yaml"), slice, 1).unwrap();
    for r in state.resources() {
        v.apply(r);
    }
    match outcome(&v, &svc("withip"), A) {
        Outcome::Silent(why) => assert!(why.contains("mcsServicePortsFrom"), "{why}"),
        Outcome::Reply(r) => panic!("expected silence, got {r:?}"),
    }
}

/// The build reads a slice's ports only where PutEndpointSlices takes it
/// (endpoint_slice.go:42-128): a slice without the is-headless label of a
/// ClusterSetIP import is a legacy slice, and one whose import it has not
/// seen is requeued; neither kills it.
#[test]
fn a_portless_slice_the_build_never_reads_ports_from_is_harmless() {
    for (labels, what) in [
        ("", "a legacy slice (no is-headless label)"),
        (
            "\n    lighthouse.submariner.io/is-headless: \"false\"",
            "a slice of an import never seen",
        ),
    ] {
        let svc_name = if labels.is_empty() { "web" } else { "nosuch" };
        let mut v = view();
        let slice = format!(
            r#"
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: {svc_name}-k9s2d
  namespace: lh
  labels:
    endpointslice.kubernetes.io/managed-by: lighthouse-agent.submariner.io
    multicluster.kubernetes.io/service-name: {svc_name}
    multicluster.kubernetes.io/source-cluster: c4
    lighthouse.submariner.io/sourceNamespace: lh{labels}
addressType: IPv4
ports: [{{name: http, protocol: TCP}}]
endpoints: [{{addresses: ["10.4.0.7"]}}]
"#
        );
        let state = World::parse_cluster("c1", Path::new("crash.yaml"), &slice, 1).unwrap();
        for r in state.resources() {
            v.apply(r);
        }
        if let Outcome::Silent(why) = outcome(&v, &svc("withip"), A) {
            panic!("{what}: expected an answer, got silence: {why}");
        }
    }
}

#[test]
fn the_ttl_option_and_fallthrough_are_read() {
    let cf = mcsdns::resolver::corefile::Corefile::parse(
        Path::new("Corefile"),
        "clusterset.local:53 {\n lighthouse {\n  ttl 30\n  fallthrough\n }\n}\n",
    )
    .unwrap();
    let config = ResolverConfig::from_corefile(&cf, Profile::Lighthouse, &STOCK_ORDER).unwrap();
    let zp = config.zone_plugins().next().unwrap();
    assert_eq!(zp.ttl, 30);
    let q = Question::parse(&svc("withip"), A).unwrap();
    let Outcome::Reply(r) = answer(&config, &view(), &q) else {
        panic!("no reply")
    };
    assert_eq!(r.answers[0].ttl, 30);
    let bad = mcsdns::resolver::corefile::Corefile::parse(
        Path::new("Corefile"),
        "clusterset.local:53 {\n lighthouse {\n  ttl 3601\n }\n}\n",
    )
    .unwrap();
    assert!(ResolverConfig::from_corefile(&bad, Profile::Lighthouse, &STOCK_ORDER).is_err());
}

/// The specification (`kep1645`) and Lighthouse disagree on the spec and
/// lighthouse scenarios only as fixtures/known/lighthouse-vs-kep1645.yaml
/// says, each disagreement with its reason: one not listed fails, and so
/// does a listed one that no longer happens (`mcsdns diff --target
/// reference=kep1645 --target reference=lighthouse`).
#[test]
fn every_difference_from_the_spec_is_explained() {
    use mcsdns::run::diff::{Variants, diff, read_known};
    use mcsdns::target::{ReferenceTarget, Target};
    let scenarios: Vec<_> = common::suite_scenarios("")
        .into_iter()
        .filter(|s| s.id.starts_with("spec/") || s.id.starts_with("lighthouse/"))
        .collect();
    let known = read_known(&repo().join("fixtures/known/lighthouse-vs-kep1645.yaml")).unwrap();
    let mut targets: Vec<Box<dyn Target>> = vec![
        Box::new(ReferenceTarget::in_profile(Profile::Kep1645)),
        Box::new(ReferenceTarget::in_profile(Profile::Lighthouse)),
    ];
    let variants = Variants {
        plain: &scenarios,
        profiled: None,
        uses_profile: vec![false, false],
    };
    let report = diff(&variants, &mut targets, &known, false, &|_| {});
    assert_eq!(
        report.targets,
        ["reference=kep1645", "reference=lighthouse"]
    );
    assert!(report.compared >= 90, "{}", report.compared);
    let unexplained: Vec<_> = report.unexplained().collect();
    assert!(
        unexplained.is_empty(),
        "{}",
        mcsdns::report::diff::markdown(&report)
    );
    let stale: Vec<_> = report.stale().collect();
    assert!(
        stale.is_empty(),
        "known differences no longer seen: {stale:#?}"
    );
    // Unstable would mean the reference disagrees with itself.
    assert!(report.disagreements.iter().all(|d| !d.unstable));
}
