//! Malformed scenario files: each gives an error with file, line, column and
//! a hint where one helps; none panics, none half-loads.

use std::path::{Path, PathBuf};

use mcsdns::scenario::load::parse_scenario;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios")
}

const HEAD: &str = "world:\n  c1:\n    - path: fixtures/spec/c1\nresolver:\n  cluster: c1\n";

struct Bad {
    what: &'static str,
    text: String,
    line: usize,
    column: usize,
    message: &'static str,
    hint: Option<&'static str>,
}

fn with_steps(steps: &str) -> String {
    format!("{HEAD}steps:\n{steps}")
}

#[test]
fn malformed_scenarios_are_reported_where_they_go_wrong() {
    let cases = vec![
        Bad { what: "broken YAML", text: "world: {c1: [\n".into(), line: 1, column: 13, message: "unclosed bracket", hint: None },
        Bad { what: "unknown top-level key", text: format!("{HEAD}stpes:\n  - query: a A\n"), line: 6, column: 1, message: "unknown key `stpes`", hint: Some("did you mean `steps`?") },
        Bad { what: "unknown step", text: with_steps("  - qurey: web.team.svc.clusterset.local A\n"), line: 7, column: 5, message: "unknown step `qurey`", hint: Some("did you mean `query`?") },
        Bad { what: "wrong type", text: format!("{HEAD}client:\n  ndots: five\nsteps:\n  - query: a A\n"), line: 7, column: 10, message: "client.ndots", hint: None },
        Bad { what: "missing fixture", text: "world:\n  c1:\n    - path: fixtures/nowhere\nresolver:\n  cluster: c1\nsteps:\n  - query: a A\n".into(), line: 3, column: 13, message: "fixture \"fixtures/nowhere\" not found", hint: Some("paths are looked up") },
        Bad { what: "expectation on nothing", text: with_steps("  - expect:\n      rcode: NOERROR\n"), line: 7, column: 5, message: "expect has no step before it", hint: Some("right after a query") },
        Bad { what: "expectation after apply", text: with_steps("  - advance: 5s\n  - expect:\n      rcode: NOERROR\n"), line: 8, column: 5, message: "expect follows a advance step", hint: None },
        Bad { what: "unknown cluster", text: "world:\n  c1:\n    - path: fixtures/spec/c1\nresolver:\n  cluster: c2\nsteps:\n  - query: a A\n".into(), line: 5, column: 12, message: "no cluster \"c2\"", hint: Some("did you mean \"c1\"?") },
        Bad { what: "unknown record type", text: with_steps("  - query: web.team.svc.clusterset.local AAA\n"), line: 7, column: 5, message: "unknown record type \"AAA\"", hint: None },
        Bad { what: "misspelt rcode", text: with_steps("  - query: a A\n  - expect:\n      rcode: NXDOMIAN\n"), line: 9, column: 14, message: "unknown rcode", hint: Some("did you mean NXDOMAIN?") },
        Bad { what: "unknown diagnosis", text: with_steps("  - query: a A\n  - expect:\n      diagnosis: rbac-serviceimport\n"), line: 9, column: 18, message: "unknown diagnosis", hint: Some("did you mean \"rbac-serviceimports\"?") },
        Bad { what: "candidate on a query", text: with_steps("  - query: a A\n  - expect:\n      candidate: a.\n"), line: 8, column: 5, message: "`candidate` checks a resolve step", hint: None },
        Bad { what: "reachable on a query", text: with_steps("  - query: a A\n  - expect:\n      reachable: true\n"), line: 8, column: 5, message: "`reachable` checks a connect step", hint: None },
        Bad { what: "contradiction", text: with_steps("  - query: a A\n  - expect:\n      nodata: true\n      answer: [10.0.0.1]\n"), line: 8, column: 5, message: "contradict", hint: None },
        Bad { what: "bad duration", text: with_steps("  - advance: 5 seconds\n"), line: 7, column: 5, message: "invalid duration", hint: Some("30s") },
        Bad { what: "connect without port", text: with_steps("  - connect: web.team.svc.clusterset.local\n"), line: 7, column: 5, message: "connect needs NAME:PORT", hint: None },
        Bad { what: "bad inline manifest", text: "world:\n  c1:\n    - inline: |\n        apiVersion: v1\n        kind: Service\n        metadata: {name: s}\n        spec:\n          ports: [{port: http}]\nresolver:\n  cluster: c1\nsteps:\n  - query: a A\n".into(), line: 8, column: 26, message: "Service s: field spec.ports[0].port", hint: None },
        Bad { what: "empty expect", text: with_steps("  - query: a A\n  - expect: {}\n"), line: 8, column: 5, message: "checks nothing", hint: None },
        Bad { what: "unknown kind", text: with_steps("  - delete: {cluster: c1, kind: ServiceImprot, name: web}\n"), line: 7, column: 33, message: "unknown kind \"ServiceImprot\"", hint: Some("did you mean \"ServiceImport\"?") },
        Bad { what: "two expects", text: with_steps("  - query: a A\n  - expect: {rcode: NOERROR}\n  - expect: {nodata: true}\n"), line: 9, column: 5, message: "a second expect", hint: Some("merge") },
        Bad { what: "ttl that can never pass", text: with_steps("  - query: a A\n  - expect:\n      ttl: {min: 30, max: 5}\n"), line: 8, column: 5, message: "can never pass", hint: None },
        Bad { what: "missing resolver", text: "world:\n  c1: []\nsteps:\n  - query: a A\n".into(), line: 3, column: 1, message: "missing field `resolver`", hint: None },
        Bad { what: "bad inline Corefile", text: "world:\n  c1:\n    - path: fixtures/spec/c1\nresolver:\n  cluster: c1\n  corefile_inline: |\n    .:53 {\n        kubernetes cluster.local {\n            tll 5\n        }\n    }\nsteps:\n  - query: a A\n".into(), line: 9, column: 13, message: "unknown property 'tll'", hint: None },
        Bad { what: "no steps", text: format!("{HEAD}steps: []\n"), line: 1, column: 1, message: "no steps", hint: None },
        Bad { what: "flag without sign", text: with_steps("  - query: a A\n  - expect:\n      flags: aa\n"), line: 9, column: 14, message: "must start with + or -", hint: None },
        Bad { what: "patch changes kind", text: with_steps("  - patch: {cluster: c1, kind: Service, namespace: team, name: web, merge: {kind: Namespace}}\n"), line: 7, column: 5, message: "a patch cannot change kind", hint: Some("delete the object") },
        Bad { what: "nodata false", text: with_steps("  - query: a A\n  - expect:\n      nodata: false\n"), line: 8, column: 5, message: "`nodata: false` checks nothing", hint: None },
        Bad { what: "rd clear", text: with_steps("  - query: a A\n  - expect:\n      flags: -rd\n"), line: 9, column: 14, message: "`-rd` can never pass", hint: Some("drop it") },
        Bad { what: "unknown level", text: format!("level: MAYBE\n{HEAD}steps:\n  - query: a A\n"), line: 1, column: 8, message: "level: unknown value `MAYBE`", hint: None },
        Bad { what: "tc flag", text: with_steps("  - query: a A\n  - expect:\n      flags: +tc\n"), line: 9, column: 14, message: "tc cannot be observed", hint: None },
        Bad { what: "bad namespace", text: format!("{HEAD}client:\n  namespace: Team_A\nsteps:\n  - query: a A\n"), line: 7, column: 14, message: "not a valid namespace", hint: None },
        Bad { what: "bad plugin order", text: "world:\n  c1:\n    - path: fixtures/spec/c1\nresolver:\n  cluster: c1\n  plugin_order: [kubernetes, multicluser]\nsteps:\n  - query: a A\n".into(), line: 6, column: 17, message: "unknown plugin \"multicluser\"", hint: None },
        Bad { what: "connect without a name", text: with_steps("  - connect: \":80\"\n"), line: 7, column: 5, message: "needs a name", hint: None },
        Bad { what: "endless advance", text: with_steps("  - advance: 99999999999999h\n"), line: 7, column: 5, message: "invalid duration", hint: Some("a week at most") },
        Bad { what: "misspelt controller", text: format!("controllers: [karmda-1.6]\n{HEAD}steps:\n  - query: a A\n"), line: 1, column: 15, message: "unknown controller \"karmda-1.6\"", hint: Some("did you mean \"karmada-1.6\"?") },
        Bad { what: "unknown controller", text: format!("controllers: [cilium]\n{HEAD}steps:\n  - query: a A\n"), line: 1, column: 15, message: "unknown controller \"cilium\"", hint: Some("karmada-1.6, mcs-api, submariner") },
        Bad { what: "controllers not a list", text: format!("controllers: mcs-api\n{HEAD}steps:\n  - query: a A\n"), line: 1, column: 14, message: "controllers: expected sequence", hint: Some("a list of names, e.g. `controllers: [karmada-1.6, mcs-api, submariner]`") },
        Bad { what: "controller not a name", text: format!("controllers:\n  - name: mcs-api\n{HEAD}steps:\n  - query: a A\n"), line: 2, column: 5, message: "controllers[0]: expected string", hint: Some("a list of names") },
        Bad { what: "controller named twice", text: format!("controllers: [mcs-api, mcs-api]\n{HEAD}steps:\n  - query: a A\n"), line: 1, column: 24, message: "controller mcs-api is named twice", hint: Some("drop the second") },
        Bad { what: "karmada without its control plane", text: format!("controllers: [karmada-1.6]\n{HEAD}steps:\n  - query: a A\n"), line: 1, column: 15, message: "controller karmada-1.6 needs a cluster named \"karmada\"", hint: Some("add `karmada:` to the world") },
        Bad { what: "submariner without its broker", text: format!("controllers: [submariner]\n{HEAD}steps:\n  - query: a A\n"), line: 1, column: 15, message: "controller submariner needs a cluster named \"broker\"", hint: Some("broker: []") },
    ];
    assert!(cases.len() >= 15);
    let path = root().join("bad/case.yaml");
    let mut wrong = Vec::new();
    for case in cases {
        let err = match parse_scenario(&path, &root(), &case.text) {
            Ok(_) => {
                wrong.push(format!("{}: loaded, but should fail", case.what));
                continue;
            }
            Err(e) => e,
        };
        if (err.line, err.column) != (case.line, case.column) || !err.message.contains(case.message)
        {
            wrong.push(format!(
                "{}: expected {}:{} {:?}, got {err}",
                case.what, case.line, case.column, case.message
            ));
        }
        if err.hint.is_none() {
            wrong.push(format!("{}: no hint ({err})", case.what));
        }
        if let Some(h) = case.hint
            && !err.hint.as_deref().unwrap_or_default().contains(h)
        {
            wrong.push(format!(
                "{}: expected hint {h:?}, got {:?}",
                case.what, err.hint
            ));
        }
        assert!(
            err.to_string().starts_with(&format!(
                "{}:{}:{}: ",
                path.display(),
                err.line,
                err.column
            )),
            "{err}"
        );
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}
