//! cluster.local per the Kubernetes DNS specification 1.1.0: what the
//! resolver needs to simulate `derived-serve` and local shadowing.

mod common;

use common::*;
use hickory_proto::rr::RecordType::*;
use mcsdns::resolver::Profile::Kep1645;

#[test]
fn clusterip_service_a_and_named_port_srv() {
    assert_eq!(
        rdata(&ask(Kep1645, "web.team.svc.cluster.local", A)),
        ["10.96.0.5"]
    );
    let r = ask(Kep1645, "_http._tcp.web.team.svc.cluster.local", SRV);
    assert_eq!(rdata(&r), ["0 100 80 web.team.svc.cluster.local."]);
    assert_eq!(additional(&r), ["web.team.svc.cluster.local. 10.96.0.5"]);
}

#[test]
fn a_local_service_and_an_import_of_the_same_name_answer_in_their_own_zones() {
    // The shadowing the field report describes: `web.team.svc` expands to the
    // cluster.local name first, which exists, so the import is never reached.
    assert_eq!(
        rdata(&ask(Kep1645, "web.team.svc.cluster.local", A)),
        ["10.96.0.5"]
    );
    assert_eq!(
        rdata(&ask(Kep1645, "web.team.svc.clusterset.local", A)),
        ["10.42.0.1"]
    );
}

#[test]
fn headless_service_answers_ready_endpoints_and_hostnames() {
    assert_eq!(
        rdata(&ask(Kep1645, "hl.team.svc.cluster.local", A)),
        ["10.244.0.7"]
    );
    assert_eq!(
        rdata(&ask(Kep1645, "hl-0.hl.team.svc.cluster.local", A)),
        ["10.244.0.7"]
    );
    assert_eq!(
        rdata(&ask(Kep1645, "_http._tcp.hl.team.svc.cluster.local", SRV)),
        ["0 100 8080 hl-0.hl.team.svc.cluster.local."]
    );
}

#[test]
fn external_name_is_a_cname() {
    assert_eq!(
        rdata(&ask(Kep1645, "ext.team.svc.cluster.local", CNAME)),
        ["db.example.com."]
    );
}

#[test]
fn ptr_for_cluster_ips_and_headless_endpoints() {
    assert_eq!(
        rdata(&ask(Kep1645, "5.0.96.10.in-addr.arpa", PTR)),
        ["web.team.svc.cluster.local."]
    );
    assert_eq!(
        rdata(&ask(Kep1645, "7.0.244.10.in-addr.arpa", PTR)),
        ["hl-0.hl.team.svc.cluster.local."]
    );
}

#[test]
fn namespaces_pods_and_version() {
    assert_nodata(&ask(Kep1645, "team.svc.cluster.local", A));
    assert_nxdomain(&ask(Kep1645, "nowhere.svc.cluster.local", A));
    // The default Corefile has `pods insecure`.
    assert_eq!(
        rdata(&ask(Kep1645, "10-1-2-3.team.pod.cluster.local", A)),
        ["10.1.2.3"]
    );
    assert_eq!(
        rdata(&ask(Kep1645, "dns-version.cluster.local", TXT)),
        ["\"1.1.0\""]
    );
}

#[test]
fn unknown_service_is_nxdomain_with_soa() {
    assert_nxdomain(&ask(Kep1645, "nope.team.svc.cluster.local", A));
}
