//! Loads the ordered steps: each becomes an action, and each `expect` is
//! folded into the step before it as that step's checks.

use std::time::Duration;

use hickory_proto::rr::{Name, RecordType};

use super::ScenarioError;
use super::expect::checks;
use super::file::Ctx;
use super::resolver::{fqdn, inline_corefile};
use super::world::{Clusters, inline_manifests, load_path};
use crate::error::did_you_mean;
use crate::model::{Kind, ObjectKey};
use crate::resolver::ResolverConfig;
use crate::resolver::corefile::Corefile;
use crate::scenario::format::{
    ApplySpec, CorefileSpec, FaultSpec, ObjectRef, PatchSpec, ScenarioFile, Step,
};
use crate::scenario::located::Located;
use crate::scenario::{Action, Fault, PlannedStep, ResolverSetup};

/// Every step of the file, its expectation folded in.
pub(super) fn steps(
    cx: &Ctx<'_>,
    file: &ScenarioFile,
    clusters: &Clusters,
    resolver: &ResolverSetup,
) -> Result<Vec<PlannedStep>, ScenarioError> {
    let mut steps: Vec<PlannedStep> = Vec::new();
    for located in &file.steps {
        let step = &located.value;
        if let Step::Expect(spec) = step {
            let Some(prev) = steps.last_mut() else {
                return Err(cx
                    .at(located, "expect has no step before it to check")
                    .with_hint("put `expect` right after a query, resolve or connect step"));
            };
            if !prev.action.is_checkable() {
                return Err(cx
                    .at(
                        located,
                        format!(
                            "expect follows a {} step, which has no result to check",
                            prev.action.kind()
                        ),
                    )
                    .with_hint("expectations check query, resolve and connect steps"));
            }
            if prev.expect_line.is_some() {
                return Err(cx
                    .at(located, "a second expect for the same step")
                    .with_hint("merge the two expect steps into one"));
            }
            prev.checks = checks(cx, located, spec, &prev.action)?;
            prev.expect_line = Some(located.line);
            continue;
        }
        steps.push(PlannedStep {
            line: located.line,
            action: action(cx, located, clusters, resolver)?,
            checks: Vec::new(),
            expect_line: None,
        });
    }
    if steps.is_empty() {
        return Err(cx.err(1, 1, "the scenario has no steps").with_hint(
            "add at least one query, resolve or connect step, with an expect after it",
        ));
    }
    Ok(steps)
}

/// What one step (not an `expect`) does.
fn action(
    cx: &Ctx<'_>,
    located: &Located<Step>,
    clusters: &Clusters,
    resolver: &ResolverSetup,
) -> Result<Action, ScenarioError> {
    Ok(match &located.value {
        Step::Apply(a) => apply(cx, located, clusters, a)?,
        Step::Delete(o) => delete(cx, clusters, o)?,
        Step::Patch(p) => patch(cx, located, clusters, p)?,
        Step::Query(q) => {
            let (name, qtype) = name_and_type(cx, located, q)?;
            let name =
                fqdn(&name).map_err(|e| cx.at(located, format!("invalid name {name:?}: {e}")))?;
            Action::Query { name, qtype }
        }
        Step::Resolve(q) => {
            let (name, qtype) = name_and_type(cx, located, q)?;
            Name::from_ascii(&name)
                .map_err(|e| cx.at(located, format!("invalid name {name:?}: {e}")))?;
            Action::Resolve { name, qtype }
        }
        Step::Connect(target) => connect(cx, located, target)?,
        Step::Advance(d) => Action::Advance(step_duration(cx, located, d)?),
        Step::Corefile(c) => corefile(cx, located, resolver, c)?,
        Step::Fault(f) => fault(cx, located, clusters, f)?,
        Step::Expect(_) => unreachable!("expect is folded into the step before it"),
    })
}

fn apply(
    cx: &Ctx<'_>,
    located: &Located<Step>,
    clusters: &Clusters,
    a: &ApplySpec,
) -> Result<Action, ScenarioError> {
    let cluster = clusters.check(cx, &a.cluster)?;
    let docs = match (&a.manifest, &a.path) {
        (Some(m), None) => inline_manifests(cx, m)?,
        (None, Some(p)) => load_path(cx, p)?,
        _ => return Err(cx.at(located, "apply needs either manifest or path")),
    };
    Ok(Action::Apply { cluster, docs })
}

fn delete(cx: &Ctx<'_>, clusters: &Clusters, o: &ObjectRef) -> Result<Action, ScenarioError> {
    let k = kind(cx, &o.kind)?;
    Ok(Action::Delete {
        cluster: clusters.check(cx, &o.cluster)?,
        key: ObjectKey::new(k, o.namespace.as_deref().unwrap_or("default"), &o.name),
    })
}

/// A JSON merge patch that keeps the object what and where it is.
fn patch(
    cx: &Ctx<'_>,
    located: &Located<Step>,
    clusters: &Clusters,
    p: &PatchSpec,
) -> Result<Action, ScenarioError> {
    let k = kind(cx, &p.kind)?;
    if !p.merge.is_object() {
        return Err(cx.at(
            located,
            "patch.merge must be a mapping (a JSON merge patch)",
        ));
    }
    for field in ["kind", "apiVersion"] {
        if p.merge.get(field).is_some() {
            return Err(cx
                .at(located, format!("a patch cannot change {field}"))
                .with_hint("delete the object and apply the new one"));
        }
    }
    if let Some(meta) = p.merge.get("metadata")
        && (meta.get("name").is_some() || meta.get("namespace").is_some())
    {
        return Err(cx.at(
            located,
            "a patch cannot change an object's name or namespace",
        ));
    }
    Ok(Action::Patch {
        cluster: clusters.check(cx, &p.cluster)?,
        key: ObjectKey::new(k, p.namespace.as_deref().unwrap_or("default"), &p.name),
        merge: p.merge.clone(),
    })
}

/// `NAME:PORT`; nothing is dialled.
fn connect(cx: &Ctx<'_>, located: &Located<Step>, target: &str) -> Result<Action, ScenarioError> {
    let Some((name, port)) = target.rsplit_once(':') else {
        return Err(cx
            .at(
                located,
                format!("connect needs NAME:PORT, found {target:?}"),
            )
            .with_hint("e.g. `connect: serve.default.svc.clusterset.local:80`"));
    };
    let port: u16 = port
        .parse()
        .map_err(|_| cx.at(located, format!("invalid port {port:?}")))?;
    if name.is_empty() {
        return Err(cx
            .at(located, "connect needs a name or address before the port")
            .with_hint("e.g. `connect: serve.default.svc.clusterset.local:80`"));
    }
    Name::from_ascii(name).map_err(|e| cx.at(located, format!("invalid name {name:?}: {e}")))?;
    Ok(Action::Connect {
        name: name.to_owned(),
        port,
    })
}

/// A new Corefile, read under the scenario's profile and plugin order.
fn corefile(
    cx: &Ctx<'_>,
    located: &Located<Step>,
    resolver: &ResolverSetup,
    c: &CorefileSpec,
) -> Result<Action, ScenarioError> {
    let (cf, source) = match (&c.path, &c.inline) {
        (Some(p), None) => {
            let path = cx.find(p)?;
            let text = cx.read(p, &p.value, &path)?;
            (Corefile::parse(&path, &text)?, p.value.clone())
        }
        (None, Some(inline)) => {
            let (cf, start) = inline_corefile(cx, inline)?;
            (cf, format!("inline at line {start}"))
        }
        _ => return Err(cx.at(located, "corefile needs either path or inline")),
    };
    let config = ResolverConfig::from_corefile(&cf, resolver.config.profile, &resolver.order)?;
    Ok(Action::Reconfigure {
        config: Box::new(config),
        source,
        corefile: cf,
    })
}

/// Exactly one fault of one cluster's API.
fn fault(
    cx: &Ctx<'_>,
    located: &Located<Step>,
    clusters: &Clusters,
    f: &FaultSpec,
) -> Result<Action, ScenarioError> {
    let mut faults = Vec::new();
    if f.drop_watches == Some(true) {
        faults.push(Fault::DropWatches);
    }
    if f.expire_history == Some(true) {
        faults.push(Fault::ExpireHistory);
    }
    if let Some(d) = &f.unavailable {
        faults.push(Fault::Unavailable(step_duration(cx, located, d)?));
    }
    if let Some(m) = f.crds_missing {
        faults.push(Fault::CrdsMissing(m));
    }
    if faults.len() != 1 {
        return Err(cx.at(located, "a fault step names exactly one fault").with_hint(
            "drop_watches: true, expire_history: true, unavailable: 30s or crds_missing: true|false",
        ));
    }
    Ok(Action::Fault {
        cluster: clusters.check(cx, &f.cluster)?,
        fault: faults.remove(0),
    })
}

/// A kind mcsdns knows, or an error with the nearest name.
fn kind(cx: &Ctx<'_>, l: &Located<String>) -> Result<Kind, ScenarioError> {
    Kind::from_name(&l.value).ok_or_else(|| {
        let names = Kind::ALL.map(Kind::as_str);
        let mut e = cx.at(l, format!("unknown kind {:?}", l.value));
        if let Some(s) = did_you_mean(&l.value, names) {
            e = e.with_hint(format!("did you mean {s:?}?"));
        }
        e
    })
}

fn step_duration(
    cx: &Ctx<'_>,
    located: &Located<Step>,
    d: &str,
) -> Result<Duration, ScenarioError> {
    duration(d).ok_or_else(|| {
        cx.at(located, format!("invalid duration {d:?}"))
            .with_hint("write 500ms, 30s, 5m or 1h (a week at most)")
    })
}

fn name_and_type(
    cx: &Ctx<'_>,
    located: &Located<Step>,
    text: &str,
) -> Result<(String, RecordType), ScenarioError> {
    let mut words = text.split_whitespace();
    let name = words
        .next()
        .filter(|n| *n != ".")
        .ok_or_else(|| cx.at(located, "no name given"))?
        .to_owned();
    let qtype = match words.next() {
        None => RecordType::A,
        Some(t) => {
            let parsed: Result<RecordType, _> = t.to_ascii_uppercase().parse();
            match parsed {
                Ok(RecordType::Unknown(_)) | Err(_) => {
                    return Err(cx
                        .at(located, format!("unknown record type {t:?}"))
                        .with_hint("A, AAAA, SRV, TXT, SOA, NS, PTR, CNAME, MX, ANY, AXFR ..."));
                }
                Ok(t) => t,
            }
        }
    };
    if let Some(extra) = words.next() {
        return Err(cx
            .at(located, format!("unexpected {extra:?} after the type"))
            .with_hint("write `NAME TYPE`"));
    }
    Ok((name, qtype))
}

/// The longest single `advance`.
pub const MAX_ADVANCE: Duration = Duration::from_secs(7 * 24 * 3600);

/// Parses `500ms`, `30s`, `5m`, `1h` (at most a week).
pub fn duration(s: &str) -> Option<Duration> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit())?;
    let n: u64 = s[..split].parse().ok()?;
    // A day is already far beyond any TTL or timeout a scenario needs.
    let d = match &s[split..] {
        "ms" => Duration::from_millis(n),
        "s" => Duration::from_secs(n),
        "m" => Duration::from_secs(n.checked_mul(60)?),
        "h" => Duration::from_secs(n.checked_mul(3600)?),
        _ => return None,
    };
    (d <= MAX_ADVANCE).then_some(d)
}
