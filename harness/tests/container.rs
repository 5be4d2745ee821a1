//! DNS server images as targets, started with testcontainers on the host
//! network (feature `container`). `.ci/run` starts a Docker engine and
//! builds the images from files (`images/build.sh`: `mcsdns:dev` from a
//! static build, `coredns:1.15.0` from the static `go install` binary);
//! elsewhere these tests skip and say what is missing.
#![cfg(feature = "container")]

mod common;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use common::suite_scenarios;
use mcsdns::run::{Status, run_scenario};
use mcsdns::scenario::Scenario;
use mcsdns::target::outside::{OutsideOptions, OutsideTarget, Server};
use mcsdns::target::peer::Peer;
use mcsdns::target::peer::container::{ContainerOptions, ContainerPeer};
use mcsdns::target::peer::coredns::CoreDnsPeer;
use mcsdns::target::{ReferenceTarget, Target};

/// A peer for `image`, or why the test cannot run here.
fn image(image: &str) -> Option<ContainerPeer> {
    let options = ContainerOptions::new(image, Duration::from_secs(30));
    let peer = match ContainerPeer::new(options) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("skipped: {e}");
            return None;
        }
    };
    let present = Command::new("docker")
        .args(["image", "inspect", image])
        .output()
        .is_ok_and(|o| o.status.success());
    if !present {
        eprintln!("skipped: no image {image} (build it with images/build.sh)");
        return None;
    }
    Some(peer)
}

fn statuses(target: &mut dyn Target, scenarios: &[Scenario]) -> BTreeMap<String, Status> {
    scenarios
        .iter()
        .map(|s| {
            let r = run_scenario(s, target);
            (r.id, r.status)
        })
        .collect()
}

fn external(peer: Box<dyn Peer>, settle: Duration) -> OutsideTarget {
    OutsideTarget::new(
        Server::Managed(peer),
        OutsideOptions {
            settle,
            ..Default::default()
        },
    )
    .unwrap()
}

fn running_containers() -> usize {
    Command::new("docker")
        .args(["ps", "-aq"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).lines().count())
        .unwrap_or(0)
}

/// The whole built-in suite on the mcsdns image ends as in process, and no
/// container is left behind.
#[test]
fn the_suite_in_the_mcsdns_image_ends_as_in_process() {
    let Some(peer) = image("mcsdns:dev") else {
        return;
    };
    let all = suite_scenarios("");
    let before = running_containers();
    let reference = statuses(&mut ReferenceTarget::new(), &all);
    let mut t = external(Box::new(peer), Duration::from_secs(5));
    assert_eq!(t.name(), "container=mcsdns:dev");
    let got = statuses(&mut t, &all);
    drop(t);
    assert_eq!(got, reference);
    assert_eq!(running_containers(), before, "containers left behind");
}

/// Real CoreDNS in its image answers the spec scenarios as the CoreDNS
/// program does.
#[test]
fn the_coredns_image_answers_as_the_coredns_program() {
    let Some(peer) = image("coredns:1.15.0") else {
        return;
    };
    let program = match CoreDnsPeer::find(
        std::env::var_os("MCSDNS_COREDNS")
            .map(PathBuf::from)
            .as_deref(),
    ) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("skipped: {e}");
            return;
        }
    };
    let spec = suite_scenarios("spec/");
    let in_container = statuses(&mut external(Box::new(peer), Duration::from_secs(1)), &spec);
    let as_program = statuses(
        &mut external(Box::new(program), Duration::from_secs(1)),
        &spec,
    );
    assert_eq!(in_container, as_program);
    // The image is not the reference: some requirements fail, as documented.
    assert!(in_container.values().any(|s| *s == Status::Failed));
}
