//! Runs real CoreDNS as a peer: a stock build (the `multicluster` option of its
//! `kubernetes` plugin, since v1.12.2) started per scenario on loopback,
//! reading the API emulator through a kubeconfig as the resolver's service
//! account, so RBAC applies to it exactly as in a cluster.
//!
//! The scenario's Corefile is rendered for the peer ([`render`]): every
//! server block listens on the peer's loopback port, every `kubernetes`
//! block gets the emulator's kubeconfig, and what would leave loopback or
//! bind more ports (`forward`, `prometheus`, `health`, `ready`, ...) is
//! dropped. A stock build has no standalone `multicluster` plugin (the
//! external one the field report used), so its zones are rendered as the
//! in-tree option of `kubernetes`.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::{Peer, PeerSetup};
use crate::resolver::corefile::config::default_corefile;
use crate::resolver::corefile::print::{word, write_directive};
use crate::resolver::corefile::{Corefile, Directive};
use crate::target::TargetError;

/// The CoreDNS version the project is tested with (`go install
/// github.com/coredns/coredns@v1.15.0`).
pub const PINNED_VERSION: &str = "v1.15.0";

/// Directives dropped from a rendered Corefile, and why.
pub(crate) const DROPPED: &[(&str, &str)] = &[
    ("forward", "would send queries off loopback"),
    ("prometheus", "binds its own port"),
    ("health", "binds its own port"),
    ("ready", "binds its own port"),
    ("pprof", "binds its own port"),
    ("reload", "the peer is restarted instead"),
    ("loop", "probes through forward, which is dropped"),
    ("bind", "the peer binds 127.0.0.1"),
];

/// Real CoreDNS.
pub struct CoreDnsPeer {
    /// The binary.
    pub exe: PathBuf,
}

impl CoreDnsPeer {
    /// `PATH` when given, else `coredns` on the PATH, else
    /// `$GOBIN`/`$GOPATH/bin`/`~/go/bin` (where `go install` puts it).
    pub fn find(path: Option<&Path>) -> Result<CoreDnsPeer, TargetError> {
        let mut candidates: Vec<PathBuf> = Vec::new();
        match path {
            Some(p) => candidates.push(p.to_owned()),
            None => {
                candidates.push("coredns".into());
                if let Some(bin) = std::env::var_os("GOBIN") {
                    candidates.push(Path::new(&bin).join("coredns"));
                }
                if let Some(gopath) = std::env::var_os("GOPATH") {
                    candidates.push(Path::new(&gopath).join("bin/coredns"));
                }
                if let Some(home) = std::env::var_os("HOME") {
                    candidates.push(Path::new(&home).join("go/bin/coredns"));
                }
            }
        }
        for c in &candidates {
            if Command::new(c)
                .arg("-version")
                .output()
                .is_ok_and(|o| o.status.success())
            {
                return Ok(CoreDnsPeer { exe: c.clone() });
            }
        }
        Err(TargetError::Missing {
            what: "CoreDNS".into(),
            looked: format!(
                "tried {}",
                candidates
                    .iter()
                    .map(|c| c.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            install: format!(
                "install it with `go install github.com/coredns/coredns@{PINNED_VERSION}` or give --target coredns=PATH"
            ),
        })
    }
}

impl Peer for CoreDnsPeer {
    fn name(&self) -> String {
        "coredns".into()
    }

    fn version(&self) -> String {
        Command::new(&self.exe)
            .arg("-version")
            .output()
            .ok()
            .and_then(|o| String::from_utf8(o.stdout).ok())
            .and_then(|s| s.lines().next().map(str::to_owned))
            .unwrap_or_else(|| "CoreDNS (unknown version)".into())
    }

    fn command(&self, setup: &PeerSetup<'_>) -> Result<Command, TargetError> {
        let text = render(
            setup.corefile.unwrap_or_else(|| default_corefile()),
            setup.listen.port(),
            setup.kubeconfig,
            &setup.context,
        );
        let path = setup.dir.join("Corefile");
        crate::files::replace_file(&path, &text)
            .map_err(|e| TargetError::failed(format!("cannot write {}: {e}", path.display())))?;
        let mut c = Command::new(&self.exe);
        c.arg("-conf").arg(path);
        Ok(c)
    }

    fn log_events(&self, log: &str) -> Vec<String> {
        log_events(log)
    }
}

/// CoreDNS's own words about the API in its log (RBAC denials, missing
/// CRDs), for transcripts.
pub fn log_events(log: &str) -> Vec<String> {
    log.lines()
        .filter(|l| l.contains("[ERROR]") || l.contains("[WARNING]"))
        .map(|l| format!("coredns: {}", l.trim()))
        .collect()
}

/// Renders `corefile` for a peer listening on 127.0.0.1:`port` and reading
/// the API through `kubeconfig` and `context`.
pub fn render(corefile: &Corefile, port: u16, kubeconfig: &Path, context: &str) -> String {
    let mut out = String::from("# Rendered by mcsdns for a CoreDNS peer on loopback.\n");
    for block in &corefile.blocks {
        let keys: Vec<String> = block
            .keys
            .iter()
            .map(|k| {
                let key = k.text.trim_start_matches("dns://");
                let zone = key.rsplit_once(':').map_or(key, |(z, _)| z);
                format!("{zone}:{port}")
            })
            .collect();
        out.push_str(&format!("{} {{\n    bind 127.0.0.1\n", keys.join(" ")));
        // The standalone plugin's zones become the in-tree option.
        let mc_zones: Vec<String> = block
            .directives
            .iter()
            .filter(|d| d.name.text == "multicluster")
            .flat_map(|d| d.args.iter().map(|a| a.text.clone()))
            .collect();
        let mut kubernetes_seen = false;
        for d in &block.directives {
            let name = d.name.text.as_str();
            if let Some((_, why)) = DROPPED.iter().find(|(n, _)| *n == name) {
                out.push_str(&format!("    # {name}: dropped ({why})\n"));
                continue;
            }
            if name == "multicluster" {
                out.push_str("    # multicluster: rendered as the kubernetes plugin's option\n");
                continue;
            }
            if name == "kubernetes" {
                kubernetes_seen = true;
                out.push_str(&kubernetes(d, &mc_zones, kubeconfig, context));
                continue;
            }
            write_directive(&mut out, d, 1);
        }
        if !kubernetes_seen && !mc_zones.is_empty() {
            let d = Directive {
                name: crate::resolver::corefile::Token {
                    text: "kubernetes".into(),
                    line: 0,
                    column: 0,
                },
                args: Vec::new(),
                block: Vec::new(),
            };
            out.push_str(&kubernetes(&d, &mc_zones, kubeconfig, context));
        }
        out.push_str("}\n");
    }
    out
}

fn kubernetes(d: &Directive, mc_zones: &[String], kubeconfig: &Path, context: &str) -> String {
    let mut zones: Vec<String> = d.args.iter().map(|a| a.text.clone()).collect();
    for z in mc_zones {
        if !zones.contains(z) {
            zones.push(z.clone());
        }
    }
    let mut out = format!(
        "    kubernetes {} {{\n",
        zones.iter().map(|z| word(z)).collect::<Vec<_>>().join(" ")
    );
    out.push_str(&format!(
        "        kubeconfig {} {}\n",
        word(&kubeconfig.display().to_string()),
        word(context)
    ));
    let has_option = d.block.iter().any(|o| o.name.text == "multicluster");
    for option in &d.block {
        if option.name.text == "kubeconfig" || option.name.text == "endpoint" {
            continue;
        }
        if option.name.text == "multicluster" && !mc_zones.is_empty() {
            let mut merged: Vec<String> = option.args.iter().map(|a| a.text.clone()).collect();
            merged.extend(
                mc_zones
                    .iter()
                    .filter(|z| !merged.contains(z))
                    .cloned()
                    .collect::<Vec<_>>(),
            );
            out.push_str(&format!("        multicluster {}\n", merged.join(" ")));
            continue;
        }
        write_directive(&mut out, option, 2);
    }
    if !has_option && !mc_zones.is_empty() {
        out.push_str(&format!("        multicluster {}\n", mc_zones.join(" ")));
    }
    out.push_str("    }\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_seed_corefile_renders_for_loopback_with_the_in_tree_option() {
        let text = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../fixtures/seed/Corefile"
        ))
        .unwrap();
        let cf = Corefile::parse(Path::new("Corefile"), &text).unwrap();
        let out = render(&cf, 5399, Path::new("/tmp/k"), "resolver@member2");
        assert!(out.contains(".:5399 {\n    bind 127.0.0.1\n"), "{out}");
        assert!(out.contains("    kubernetes cluster.local in-addr.arpa ip6.arpa clusterset.local {\n        kubeconfig /tmp/k resolver@member2\n"), "{out}");
        assert!(
            out.contains("        multicluster clusterset.local\n"),
            "{out}"
        );
        assert!(
            out.contains("    header {\n        response set ra\n    }\n"),
            "{out}"
        );
        assert!(out.contains("    cache 30\n"), "{out}");
        for gone in [
            "forward .",
            "prometheus :9153",
            "health {",
            "ready\n",
            "reload\n",
        ] {
            assert!(!out.contains(gone), "{gone} survived:\n{out}");
        }
        // What was dropped is said in the file.
        assert!(out.contains("# forward: dropped (would send queries off loopback)"));
    }
}
