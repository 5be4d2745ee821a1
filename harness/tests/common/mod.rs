//! Test fixtures: a small cluster set covering every MCS shape, and helpers
//! to ask the engine and read its replies.
#![allow(dead_code)]

use std::path::Path;

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::RecordType;
use mcsdns::model::World;
use mcsdns::resolver::text::rdata_text;
use mcsdns::resolver::{ClusterView, Outcome, Profile, Question, Reply, ResolverConfig, answer};

/// The repository's root.
pub fn repo() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The built-in suite's scenarios whose id contains `filter`.
pub fn suite_scenarios(filter: &str) -> Vec<mcsdns::scenario::Scenario> {
    let root = repo().join("scenarios");
    let files = mcsdns::run::suite::discover(&root).expect("scenarios/ is readable");
    let (ok, errors) = mcsdns::run::suite::load_all(&files, &root);
    assert!(errors.is_empty(), "{errors:?}");
    ok.into_iter().filter(|s| s.id.contains(filter)).collect()
}

/// The world file of the spec suite: cluster `c1`, imports of every shape.
pub fn world_path() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/spec/c1/world.yaml")
}

/// The view of the spec world.
pub fn view() -> ClusterView {
    let text = std::fs::read_to_string(world_path()).expect("fixture world exists");
    let cluster = World::parse_cluster("c1", &world_path(), &text, 1).expect("fixture world loads");
    ClusterView::from_state(&cluster)
}

/// The default configuration of a profile.
pub fn config(profile: Profile) -> ResolverConfig {
    ResolverConfig::default_for(profile)
}

/// Asks the engine; panics if it sends nothing.
pub fn ask_with(
    config: &ResolverConfig,
    view: &ClusterView,
    name: &str,
    qtype: RecordType,
) -> Reply {
    let q = Question::parse(name, qtype).expect("valid name");
    match answer(config, view, &q) {
        Outcome::Reply(r) => r,
        Outcome::Silent(why) => panic!("no reply for {name} {qtype}: {why}"),
    }
}

/// Asks the fixture world under the default configuration of `profile`.
pub fn ask(profile: Profile, name: &str, qtype: RecordType) -> Reply {
    ask_with(&config(profile), &view(), name, qtype)
}

/// The answer section's rdata, sorted.
pub fn rdata(reply: &Reply) -> Vec<String> {
    let mut v: Vec<String> = reply.answers.iter().map(rdata_text).collect();
    v.sort();
    v
}

/// The additional section's owner and rdata, sorted.
pub fn additional(reply: &Reply) -> Vec<String> {
    let mut v: Vec<String> = reply
        .additionals
        .iter()
        .map(|r| format!("{} {}", r.name, rdata_text(r)))
        .collect();
    v.sort();
    v
}

/// Asserts NXDOMAIN with the zone's SOA in authority.
#[track_caller]
pub fn assert_nxdomain(reply: &Reply) {
    assert_eq!(reply.rcode, ResponseCode::NXDomain, "{reply:#?}");
    assert!(reply.answers.is_empty());
    assert_soa(reply);
}

/// Asserts NODATA (NOERROR, empty answer) with the SOA in authority.
#[track_caller]
pub fn assert_nodata(reply: &Reply) {
    assert_eq!(reply.rcode, ResponseCode::NoError, "{reply:#?}");
    assert!(reply.answers.is_empty(), "{reply:#?}");
    assert_soa(reply);
}

/// Asserts the authority section holds exactly one SOA.
#[track_caller]
pub fn assert_soa(reply: &Reply) {
    assert_eq!(reply.authorities.len(), 1, "{reply:#?}");
    assert_eq!(reply.authorities[0].record_type(), RecordType::SOA);
}

/// Records as dig lines with owner names lower-cased (hickory's client folds
/// owner case), sorted: for comparing what two servers sent.
pub fn lines(records: &[hickory_proto::rr::Record]) -> Vec<String> {
    let mut v: Vec<String> = records
        .iter()
        .map(|r| {
            let mut r = r.clone();
            r.name = r.name.to_lowercase();
            mcsdns::resolver::text::record_line(&r)
        })
        .collect();
    v.sort();
    v
}

/// The mcs-api v0.5.2 CRDs, for tests of their validation: where the
/// emulator looks for them (`$MCSDNS_CRDS`, the control-plane cache), else
/// the Go module cache (`go mod download sigs.k8s.io/mcs-api@v0.5.2` puts
/// them under `config/crd/`). `None`, with a note, when there are none.
pub fn crds() -> Option<std::sync::Arc<mcsdns::cluster::validation::Crds>> {
    use mcsdns::cluster::validation::Crds;
    let env = |k: &str| {
        std::env::var_os(k)
            .filter(|v| !v.is_empty())
            .map(std::path::PathBuf::from)
    };
    let module_cache = env("GOMODCACHE")
        .or_else(|| env("GOPATH").map(|p| p.join("pkg/mod")))
        .or_else(|| env("HOME").map(|h| h.join("go/pkg/mod")));
    let candidates = Crds::dir()
        .into_iter()
        .chain(module_cache.map(|m| m.join("sigs.k8s.io/mcs-api@v0.5.2/config/crd")));
    for dir in candidates {
        if let Ok(crds) = Crds::load(&dir) {
            return Some(std::sync::Arc::new(crds));
        }
    }
    eprintln!(
        "note: no mcs-api CRDs (set MCSDNS_CRDS, or `go mod download sigs.k8s.io/mcs-api@v0.5.2`); CRD validation is not tested"
    );
    None
}
