//! The search-list model against the real stubs: glibc (`getent
//! ahostsv4`) and musl (a static `getaddrinfo` program built with
//! musl-gcc), each run in a private mount namespace whose resolv.conf
//! points at a test server on 127.0.0.1:53. The model must pick the
//! candidate the stub picks, and so return the addresses the stub prints.
//!
//! Needs root, `unshare`, a free port 53 on 127.0.0.1 and, for musl,
//! `musl-gcc` (`.ci/run` installs musl-tools); otherwise it says what is
//! missing and skips.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use hickory_proto::rr::{Name, RecordType};
use mcsdns::client::resolve::walk;
use mcsdns::resolver::server::{SharedSnapshot, Snapshot, serve};
use mcsdns::resolver::{ClusterView, Outcome, Profile, Question, ResolverConfig, answer};
use mcsdns::scenario::{Client, Libc};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};

use crate::worlds::{arb_world, cases};

const DOMAINS: [&str; 6] = [
    "team.svc.cluster.local",
    "svc.cluster.local",
    "cluster.local",
    "team.svc.clusterset.local",
    "svc.clusterset.local",
    "clusterset.local",
];

fn missing_requirement() -> Option<String> {
    let root = Command::new("id")
        .arg("-u")
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0");
    if root != Some(true) {
        return Some("not root (a private mount namespace needs it)".into());
    }
    if !Command::new("unshare")
        .args(["-m", "true"])
        .status()
        .is_ok_and(|s| s.success())
    {
        return Some("`unshare -m` does not work here".into());
    }
    if Command::new("getent").arg("--version").output().is_err() {
        return Some("getent is not installed".into());
    }
    None
}

fn build_musl_probe(dir: &Path) -> Option<PathBuf> {
    let out = dir.join("getaddr-musl");
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/properties/getaddr.c");
    let ok = Command::new("musl-gcc")
        .args(["-static", "-O1", "-o"])
        .arg(&out)
        .arg(&src)
        .status()
        .is_ok_and(|s| s.success());
    ok.then_some(out)
}

/// Runs `program args` with `resolv` as /etc/resolv.conf; the IPv4 addresses it printed, or None on failure.
fn stub(resolv: &Path, program: &str, args: &[&str]) -> Option<BTreeSet<String>> {
    let mut script = format!(
        "mount --bind {} /etc/resolv.conf && exec {program}",
        resolv.display()
    );
    for a in args {
        script.push_str(&format!(" '{a}'"));
    }
    let out = Command::new("unshare")
        .args(["-m", "sh", "-c", &script])
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    let text = String::from_utf8_lossy(&out.stdout);
    Some(
        text.lines()
            .filter_map(|l| l.split_whitespace().next())
            .map(str::to_owned)
            .collect(),
    )
}

#[test]
fn the_search_list_model_picks_what_glibc_and_musl_pick() {
    if let Some(why) = missing_requirement() {
        eprintln!("SKIP the_search_list_model_picks_what_glibc_and_musl_pick: {why}");
        return;
    }
    let dir = std::env::temp_dir().join(format!("mcsdns-libc-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let musl = build_musl_probe(&dir);
    if musl.is_none() {
        eprintln!(
            "note: musl-gcc is not installed (apt-get install musl-tools): checking glibc only"
        );
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let config = ResolverConfig::default_for(Profile::Kep1645);
    let shared = SharedSnapshot::new(Snapshot {
        config: config.clone().into(),
        view: ClusterView::new("c1"),
    });
    let running = match rt.block_on(serve("127.0.0.1:53".parse().unwrap(), shared.clone())) {
        Ok(r) => r,
        Err(e) => {
            eprintln!(
                "SKIP the_search_list_model_picks_what_glibc_and_musl_pick: cannot listen on 127.0.0.1:53: {e}"
            );
            return;
        }
    };
    let strategy = (
        arb_world(),
        prop::sample::subsequence(DOMAINS.to_vec(), 0..=6),
        1u8..6,
        prop::sample::select(vec!["web", "db", "api", "q", "nope"]),
        0usize..5,
    );
    // Each case runs two real stubs (musl waits out its 1 s timeout on
    // REFUSED), so this property runs a quarter of the usual cases.
    let mut runner = TestRunner::new(Config {
        cases: (cases() / 4).max(8),
        ..Config::default()
    });
    let result = runner.run(&strategy, |(g, search, ndots, svc, form)| {
        let name = match form {
            0 => svc.to_owned(),
            1 => format!("{svc}.team"),
            2 => format!("{svc}.team.svc"),
            3 => format!("{svc}.team.svc.clusterset.local"),
            _ => format!("{svc}.team.svc.clusterset.local."),
        };
        let view = ClusterView::from_state(&g.state);
        shared.store_view(view.clone());
        let resolv = dir.join("resolv.conf");
        let search_line = if search.is_empty() {
            String::new()
        } else {
            format!("search {}\n", search.join(" "))
        };
        std::fs::write(
            &resolv,
            format!(
                "nameserver 127.0.0.1\n{search_line}options ndots:{ndots} attempts:1 timeout:1\n"
            ),
        )
        .unwrap();
        for (libc, program) in [
            (Libc::Glibc, Some("getent".to_owned())),
            (Libc::Musl, musl.as_ref().map(|p| p.display().to_string())),
        ] {
            let Some(program) = program else { continue };
            let client = Client {
                cluster: "c1".into(),
                namespace: "team".into(),
                search: search
                    .iter()
                    .map(|d| Name::from_ascii(format!("{d}.")).unwrap())
                    .collect(),
                ndots,
                libc,
            };
            let model = walk(&name, &client, |c| {
                answer(&config, &view, &Question::new(c.clone(), RecordType::A))
            });
            let want: Option<BTreeSet<String>> =
                model.answered.map(|i| match &model.attempts[i].outcome {
                    Outcome::Reply(r) => r
                        .answers
                        .iter()
                        .filter_map(|a| a.data.ip_addr())
                        .map(|ip| ip.to_string())
                        .collect(),
                    Outcome::Silent(_) => BTreeSet::new(),
                });
            let args: Vec<&str> = if libc == Libc::Glibc {
                vec!["ahostsv4", &name]
            } else {
                vec![&name]
            };
            let started = std::time::Instant::now();
            let got = stub(&resolv, &program, &args);
            if std::env::var("MCSDNS_DEBUG_LIBC").is_ok() {
                eprintln!(
                    "{:?} {} {:?} ndots {} -> {:?} in {:?}",
                    libc,
                    name,
                    search,
                    ndots,
                    got,
                    started.elapsed()
                );
            }
            prop_assert_eq!(
                &got,
                &want,
                "{:?} name {} search {:?} ndots {}: model tried {:?}",
                libc,
                name,
                search,
                ndots,
                model
                    .attempts
                    .iter()
                    .map(|a| a.name.to_string())
                    .collect::<Vec<_>>()
            );
        }
        Ok(())
    });
    rt.block_on(running.shutdown());
    let _ = std::fs::remove_dir_all(&dir);
    if let Err(e) = result {
        panic!("{e}");
    }
}
