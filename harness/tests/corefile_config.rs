//! Corefile semantics: plugin order, fallthrough, header flags, server
//! blocks, ignored plugins and errors.

mod common;

use std::path::Path;

use common::*;
use hickory_proto::op::ResponseCode;
use hickory_proto::rr::RecordType::*;
use mcsdns::model::World;
use mcsdns::resolver::config::{PluginKind, STOCK_ORDER};
use mcsdns::resolver::corefile::Corefile;
use mcsdns::resolver::{ClusterView, Profile, ResolverConfig};

fn fixture(path: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(path)
}

fn seed_member2() -> ClusterView {
    let world = World::load(&fixture("fixtures/seed")).unwrap();
    ClusterView::from_state(&world.clusters["member2"])
}

fn read(path: &str, order: &[PluginKind]) -> ResolverConfig {
    ResolverConfig::read(&fixture(path), Profile::Kep1645, order).unwrap()
}

fn parse(text: &str) -> Result<ResolverConfig, mcsdns::resolver::corefile::CorefileError> {
    let cf = Corefile::parse(Path::new("test.Corefile"), text)?;
    ResolverConfig::from_corefile(&cf, Profile::Kep1645, &STOCK_ORDER)
}

#[test]
fn the_seed_corefile_is_read_as_it_is_and_lists_what_it_ignores() {
    let config = read("fixtures/seed/Corefile", &STOCK_ORDER);
    let ignored: Vec<&str> = config.ignored.iter().map(|i| i.name.as_str()).collect();
    assert_eq!(
        ignored,
        [
            "errors",
            "health",
            "ready",
            "prometheus",
            "forward",
            "loop",
            "reload",
            "loadbalance"
        ]
    );
    let r = ask_with(
        &config,
        &seed_member2(),
        "serve.default.svc.clusterset.local",
        A,
    );
    assert_eq!(rdata(&r), ["10.10.0.5"]);
    assert!(
        r.recursion_available,
        "header {{ response set ra }} sets RA"
    );
    // kubernetes' `ttl 30` applies to cluster.local; the standalone plugin has a fixed TTL of 5.
    assert_eq!(r.answers[0].ttl, 5);
    assert_eq!(
        ask_with(
            &config,
            &seed_member2(),
            "derived-serve.default.svc.cluster.local",
            A
        )
        .answers[0]
            .ttl,
        30
    );
}

#[test]
fn without_the_header_plugin_ra_is_off() {
    let config = read("fixtures/corefiles/seed-no-ra.Corefile", &STOCK_ORDER);
    let r = ask_with(
        &config,
        &seed_member2(),
        "serve.default.svc.cluster.local",
        A,
    );
    // The field report's capture: NXDOMAIN, flags qr aa rd, no ra.
    assert_eq!(r.rcode, ResponseCode::NXDomain);
    assert!(r.authoritative && !r.recursion_available);
}

#[test]
fn multicluster_on_cluster_local_after_kubernetes_never_answers() {
    let config = read(
        "fixtures/corefiles/mcs-on-cluster-local.Corefile",
        &STOCK_ORDER,
    );
    let r = ask_with(
        &config,
        &seed_member2(),
        "serve.default.svc.cluster.local",
        A,
    );
    assert_eq!(
        r.rcode,
        ResponseCode::NXDomain,
        "kubernetes answers first and does not fall through"
    );
    // A build with multicluster ordered first answers the import.
    let first = read(
        "fixtures/corefiles/mcs-on-cluster-local.Corefile",
        &[PluginKind::Multicluster, PluginKind::Kubernetes],
    );
    assert_eq!(
        rdata(&ask_with(
            &first,
            &seed_member2(),
            "serve.default.svc.cluster.local",
            A
        )),
        ["10.10.0.5"]
    );
}

#[test]
fn kubernetes_fallthrough_hands_name_errors_to_multicluster() {
    let config = parse(".:53 {\n  multicluster cluster.local\n  kubernetes cluster.local {\n    fallthrough\n  }\n}\n").unwrap();
    let v = seed_member2();
    assert_eq!(
        rdata(&ask_with(&config, &v, "serve.default.svc.cluster.local", A)),
        ["10.10.0.5"]
    );
    // A local Service still wins: kubernetes answers it before multicluster sees it.
    assert_eq!(
        rdata(&ask_with(
            &config,
            &v,
            "derived-serve.default.svc.cluster.local",
            A
        )),
        ["10.13.166.120"]
    );
}

#[test]
fn the_in_tree_multicluster_option_serves_clusterset_local() {
    let config = read("fixtures/corefiles/in-tree.Corefile", &STOCK_ORDER);
    let r = ask_with(
        &config,
        &seed_member2(),
        "serve.default.svc.clusterset.local",
        A,
    );
    assert_eq!(rdata(&r), ["10.10.0.5"]);
    assert!(r.recursion_available);
}

#[test]
fn a_server_block_only_serves_its_zones() {
    let config = parse("clusterset.local:53 {\n  multicluster\n}\n").unwrap();
    let v = seed_member2();
    assert_eq!(
        rdata(&ask_with(
            &config,
            &v,
            "serve.default.svc.clusterset.local",
            A
        )),
        ["10.10.0.5"]
    );
    assert_eq!(
        ask_with(&config, &v, "derived-serve.default.svc.cluster.local", A).rcode,
        ResponseCode::Refused
    );
}

#[test]
fn reverse_lookups_of_cluster_ips_point_into_cluster_local() {
    let config = read("fixtures/seed/Corefile", &STOCK_ORDER);
    let r = ask_with(&config, &seed_member2(), "120.166.13.10.in-addr.arpa", PTR);
    assert_eq!(rdata(&r), ["derived-serve.default.svc.cluster.local."]);
}

#[test]
fn header_can_clear_aa() {
    let config =
        parse(".:53 {\n header {\n  response clear aa\n }\n multicluster clusterset.local\n}\n")
            .unwrap();
    let r = ask_with(
        &config,
        &seed_member2(),
        "serve.default.svc.clusterset.local",
        A,
    );
    assert!(!r.authoritative);
}

#[test]
fn errors_point_at_line_and_column() {
    let cases = [
        (
            ".:53 {\n  kubernetes cluster.local {\n    tll 30\n  }\n}\n",
            3,
            5,
            "unknown property 'tll'",
        ),
        (
            ".:53 {\n  multicluster clusterset.local\n",
            1,
            6,
            "unclosed",
        ),
        (
            ".:53 {\n  header {\n    response set xx\n  }\n}\n",
            3,
            18,
            "unknown flag",
        ),
        (
            ".:53 {\n  kubernetes cluster.local {\n    ttl 99999\n  }\n}\n",
            3,
            9,
            "ttl must be",
        ),
        (
            ".:53 {\n  kubernetes cluster.local {\n    multicluster clusterset.local\n  }\n}\n",
            3,
            5,
            "not a zone of this kubernetes block",
        ),
        (".:53\n", 1, 1, "expected `{`"),
        ("\"unterminated\n", 1, 1, "unterminated quote"),
    ];
    for (text, line, column, msg) in cases {
        let e = parse(text).expect_err(text);
        assert_eq!((e.line, e.column), (line, column), "{text}: {e}");
        assert!(e.message.contains(msg), "{text}: {e}");
        assert!(
            e.to_string()
                .starts_with(&format!("test.Corefile:{line}:{column}: ")),
            "{e}"
        );
    }
}

#[test]
fn every_fixture_corefile_parses() {
    for entry in std::fs::read_dir(fixture("fixtures/corefiles")).unwrap() {
        let path = entry.unwrap().path();
        ResolverConfig::read(&path, Profile::Coredns, &STOCK_ORDER)
            .unwrap_or_else(|e| panic!("{e}"));
    }
}
