//! Runs a Submariner Lighthouse build as a peer: its own CoreDNS with the
//! `lighthouse` plugin (submariner-io/lighthouse, folder `coredns/`),
//! started per scenario on loopback as Lighthouse's deployment starts it.
//!
//! Lighthouse is not installable from the Go module proxy as a command, so
//! there is no default: the target needs `lighthouse=PATH`
//! (peers/lighthouse/build.sh builds one; docs/lighthouse.md). Per scenario
//! it gets:
//! - `-conf DIR/Corefile`: the scenario's Corefile rendered for loopback
//!   (every block on the peer's port with `bind 127.0.0.1`; what would
//!   leave loopback or bind more ports dropped, as for CoreDNS), or the
//!   measured `clusterset.local { errors; lighthouse }` when it has none;
//! - `-kubeconfig DIR/kubeconfig`: the API's kubeconfig with
//!   `current-context` set to the resolver's context, since Lighthouse's
//!   flag takes no context;
//! - `SUBMARINER_CLUSTERID` set to the resolver's cluster.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::coredns::DROPPED;
use super::{Peer, PeerSetup};
use crate::resolver::corefile::Corefile;
use crate::resolver::corefile::print::write_directive;
use crate::target::TargetError;

/// The environment variable Lighthouse reads its cluster id from
/// (gateway/controller.go:64).
pub const CLUSTER_ID_ENV: &str = "SUBMARINER_CLUSTERID";

/// How to get a Lighthouse build, for the usage error.
const BUILD: &str = "Lighthouse is not on the Go module proxy: clone github.com/submariner-io/lighthouse (measured at 9d3c39e8), run `peers/lighthouse/build.sh SRC_DIR` (docs/lighthouse.md) and give --target lighthouse=PATH with the path it prints";

/// A Lighthouse build.
pub struct LighthousePeer {
    /// The binary.
    pub exe: PathBuf,
}

impl LighthousePeer {
    /// The build at `path`; with none, or one that is not a file, a
    /// [`TargetError::Missing`] that says how to build it.
    pub fn find(path: Option<&Path>) -> Result<LighthousePeer, TargetError> {
        match path {
            Some(p) if p.is_file() => Ok(LighthousePeer { exe: p.to_owned() }),
            Some(p) => Err(TargetError::Missing {
                what: "Lighthouse".into(),
                looked: format!("{} is not a file", p.display()),
                install: BUILD.into(),
            }),
            None => Err(TargetError::Missing {
                what: "Lighthouse".into(),
                looked: "no path was given (lighthouse needs =PATH)".into(),
                install: BUILD.into(),
            }),
        }
    }
}

impl Peer for LighthousePeer {
    fn name(&self) -> String {
        "lighthouse".into()
    }

    fn version(&self) -> String {
        // `-subm-version` prints Submariner's version (setup.go).
        Command::new(&self.exe)
            .arg("-subm-version")
            .output()
            .ok()
            .and_then(|o| String::from_utf8(o.stdout).ok())
            .and_then(|s| s.lines().find(|l| !l.trim().is_empty()).map(str::to_owned))
            .unwrap_or_else(|| format!("Lighthouse ({})", self.exe.display()))
    }

    fn command(&self, setup: &PeerSetup<'_>) -> Result<Command, TargetError> {
        let write = |path: &Path, text: &str| {
            crate::files::write_private(path, text.as_bytes())
                .map_err(|e| TargetError::failed(format!("cannot write {}: {e}", path.display())))
        };
        let corefile = setup.dir.join("Corefile");
        write(&corefile, &render(setup.corefile, setup.listen.port()))?;
        let original = crate::files::read_to_string(setup.kubeconfig).map_err(|e| {
            TargetError::failed(format!("cannot read {}: {e}", setup.kubeconfig.display()))
        })?;
        let kubeconfig = setup.dir.join("kubeconfig");
        write(&kubeconfig, &with_context(&original, &setup.context)?)?;
        let mut c = Command::new(&self.exe);
        c.arg("-conf")
            .arg(corefile)
            .arg("-kubeconfig")
            .arg(kubeconfig)
            .env(CLUSTER_ID_ENV, setup.cluster);
        Ok(c)
    }

    fn closed_on_purpose(&self, _log: &str, timed_out: bool) -> bool {
        // Its port stays closed until every informer has synced (admiral's
        // WaitForCacheSync); it retries a forbidden list without saying so
        // in a way worth matching. Still running at the start timeout: it
        // is waiting, and its questions meet the closed port.
        timed_out
    }

    fn log_events(&self, log: &str) -> Vec<String> {
        log.lines()
            .filter(|l| l.contains("[ERROR]") || l.contains("[WARNING]") || l.contains("panic:"))
            .map(|l| format!("lighthouse: {}", l.trim()))
            .collect()
    }
}

/// `kubeconfig` (YAML or JSON) with its `current-context` set to `context`.
pub fn with_context(kubeconfig: &str, context: &str) -> Result<String, TargetError> {
    let mut doc: serde_json::Value = serde_saphyr::from_str(kubeconfig)
        .map_err(|e| TargetError::failed(format!("cannot read the kubeconfig: {e}")))?;
    let Some(map) = doc.as_object_mut() else {
        return Err(TargetError::failed("the kubeconfig is not a mapping"));
    };
    map.insert("current-context".into(), context.into());
    serde_saphyr::to_string(&doc)
        .map_err(|e| TargetError::failed(format!("cannot write the kubeconfig: {e}")))
}

/// Renders `corefile` (or the measured one) for Lighthouse on
/// 127.0.0.1:`port`.
pub fn render(corefile: Option<&Corefile>, port: u16) -> String {
    let mut out = String::from("# Rendered by mcsdns for a Lighthouse peer on loopback.\n");
    let Some(corefile) = corefile else {
        out.push_str(&format!(
            "clusterset.local:{port} {{\n    bind 127.0.0.1\n    errors\n    lighthouse\n}}\n"
        ));
        return out;
    };
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
        for d in &block.directives {
            let name = d.name.text.as_str();
            if let Some((_, why)) = DROPPED.iter().find(|(n, _)| *n == name) {
                out.push_str(&format!("    # {name}: dropped ({why})\n"));
                continue;
            }
            write_directive(&mut out, d, 1);
        }
        out.push_str("}\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_measured_corefile_renders_for_loopback() {
        let text = "clusterset.local:53 {\n    errors\n    forward . 8.8.8.8\n    lighthouse {\n        ttl 30\n    }\n}\n";
        let cf = Corefile::parse(Path::new("Corefile"), text).unwrap();
        let out = render(Some(&cf), 5399);
        assert!(
            out.contains("clusterset.local:5399 {\n    bind 127.0.0.1\n    errors\n"),
            "{out}"
        );
        assert!(
            out.contains("    lighthouse {\n        ttl 30\n    }\n"),
            "{out}"
        );
        assert!(out.contains("# forward: dropped"), "{out}");
        assert!(
            render(None, 7).contains(
                "clusterset.local:7 {\n    bind 127.0.0.1\n    errors\n    lighthouse\n}"
            )
        );
    }

    #[test]
    fn the_kubeconfig_gets_the_resolvers_context() {
        let k = "apiVersion: v1\nkind: Config\ncurrent-context: c1\ncontexts: []\n";
        let out = with_context(k, "resolver@c1").unwrap();
        let doc: serde_json::Value = serde_saphyr::from_str(&out).unwrap();
        assert_eq!(doc["current-context"], "resolver@c1");
        assert_eq!(doc["kind"], "Config");
    }

    #[test]
    fn without_a_build_it_says_how_to_make_one() {
        let e = LighthousePeer::find(None).err().unwrap().to_string();
        assert!(e.contains("not on the Go module proxy"), "{e}");
        assert!(e.contains("lighthouse=PATH"), "{e}");
        let e = LighthousePeer::find(Some(Path::new("/nonexistent/lh")))
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("/nonexistent/lh is not a file"), "{e}");
    }
}
