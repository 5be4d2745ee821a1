//! Knows every directive a CoreDNS build accepts, so that a typo is an
//! error as in CoreDNS (which refuses to start on an unknown directive)
//! and a directive mcsdns does not simulate is a note.

use super::{Corefile, CorefileError, Directive};
use crate::error::did_you_mean;

/// The directives of a stock CoreDNS v1.15.0 build, in its `plugin.cfg`
/// order (`go install github.com/coredns/coredns@v1.15.0`).
pub const STOCK: &[&str] = &[
    "root",
    "metadata",
    "geoip",
    "cancel",
    "proxyproto",
    "quic",
    "grpc_server",
    "https",
    "https3",
    "timeouts",
    "multisocket",
    "reload",
    "nsid",
    "bufsize",
    "bind",
    "debug",
    "trace",
    "ready",
    "health",
    "pprof",
    "shed",
    "prometheus",
    "errors",
    "log",
    "dnstap",
    "local",
    "dns64",
    "siit",
    "any",
    "chaos",
    "loadbalance",
    "tsig",
    "rewrite",
    "autopath",
    "acl",
    "cache",
    "header",
    "dnssec",
    "tls",
    "minimal",
    "template",
    "transfer",
    "dynupdate",
    "hosts",
    "route53",
    "azure",
    "clouddns",
    "k8s_external",
    "kubernetes",
    "file",
    "auto",
    "secondary",
    "etcd",
    "loop",
    "forward",
    "grpc",
    "erratic",
    "whoami",
    "on",
    "sign",
    "view",
    "nomad",
];

/// External plugins a build may add to `plugin.cfg`: the field report's
/// `multicluster:github.com/coredns/multicluster`; and `import`, which the
/// Corefile reader (Caddy's) knows without any plugin.
pub const EXTERNAL: &[&str] = &["multicluster", "import"];

/// Whether some CoreDNS build knows `name`.
pub fn known(name: &str) -> bool {
    STOCK.contains(&name) || EXTERNAL.contains(&name)
}

/// An unknown directive is an error at its line, as CoreDNS's own
/// (`Unknown directive 'mutlicluster'`), with the closest known name.
pub fn check(cf: &Corefile, d: &Directive) -> Result<(), CorefileError> {
    let name = d.name.text.as_str();
    if known(name) {
        return Ok(());
    }
    let error = cf.error_at(&d.name, format!("unknown directive '{name}'"));
    let candidates = STOCK.iter().chain(EXTERNAL).copied();
    Err(match did_you_mean(name, candidates) {
        Some(near) => error.with_hint(format!(
            "did you mean {near}? CoreDNS refuses to start on a directive its build does not know (plugin.cfg)"
        )),
        None => error.with_hint(
            "no CoreDNS build knows it: CoreDNS refuses to start on an unknown directive (plugin.cfg lists a build's directives)",
        ),
    })
}
