//! Loads a scenario file: YAML with spans, then every cross-check (clusters
//! exist, fixtures exist, expectations follow a step that has a result).
//! Errors name the file, line and column and suggest a fix.

use std::path::{Path, PathBuf};
use std::time::Duration;

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::{Name, RecordType};

use super::format::{ExpectSpec, ManifestSource, ScenarioFile, Step};
use super::located::Located;
use super::{
    Action, Check, Client, DiagnosisId, HeaderFlag, PlannedStep, ResolverSetup, Scenario, Section,
};
use crate::error::{SourceError, did_you_mean};
use crate::model::load::{load_file, parse_manifests};
use crate::model::{ClusterState, Kind, Loaded, ObjectKey, World};
use crate::resolver::config::{PluginKind, STOCK_ORDER};
use crate::resolver::corefile::Corefile;
use crate::resolver::{Profile, ResolverConfig};

/// A scenario that cannot be loaded.
pub type ScenarioError = SourceError;

/// The identity CoreDNS runs as.
pub const DEFAULT_IDENTITY: &str = "system:serviceaccount:kube-system:coredns";

struct Ctx<'a> {
    path: &'a Path,
    text: &'a str,
    /// Every file the scenario refers to, as written and as found (for bundles).
    files: std::cell::RefCell<Vec<(String, PathBuf)>>,
}

impl Ctx<'_> {
    fn err(&self, line: usize, column: usize, msg: impl Into<String>) -> ScenarioError {
        SourceError::at(self.path, self.text, line, column, msg)
    }

    fn at<T>(&self, l: &Located<T>, msg: impl Into<String>) -> ScenarioError {
        self.err(l.line, l.column, msg)
    }

    /// Finds a path relative to the scenario's folder or any folder above it.
    fn find(&self, rel: &Located<String>) -> Result<PathBuf, ScenarioError> {
        let p = Path::new(&rel.value);
        if p.is_absolute() {
            return if p.exists() {
                self.files
                    .borrow_mut()
                    .push((rel.value.clone(), p.to_owned()));
                Ok(p.to_owned())
            } else {
                Err(self.at(rel, format!("{} does not exist", rel.value)))
            };
        }
        let mut dir = self.path.parent();
        while let Some(d) = dir {
            let candidate = d.join(p);
            if candidate.exists() {
                self.files
                    .borrow_mut()
                    .push((rel.value.clone(), candidate.clone()));
                return Ok(candidate);
            }
            dir = d.parent();
        }
        Err(self
            .at(rel, format!("fixture {:?} not found", rel.value))
            .with_hint(format!(
                "paths are looked up from {} and every folder above it",
                self.path
                    .parent()
                    .map_or(".".into(), |p| p.display().to_string())
            )))
    }

    /// Moves an error found in a block scalar starting at `start` to the
    /// scenario's own columns (the block's indentation was stripped).
    fn relocate(&self, e: SourceError, start: usize) -> SourceError {
        if e.file != self.path || e.line < start {
            return e;
        }
        let indent = self
            .text
            .lines()
            .nth(e.line - 1)
            .map_or(0, |l| l.len() - l.trim_start().len());
        let first_indent = self
            .text
            .lines()
            .nth(start - 1)
            .map_or(0, |l| l.len() - l.trim_start().len());
        let shift = indent.min(first_indent);
        let mut moved = SourceError::at(
            self.path,
            self.text,
            e.line,
            e.column + shift,
            e.message.clone(),
        );
        moved.hint = e.hint;
        moved
    }

    /// The first line of a block scalar's content (`|` puts it on the next line).
    fn block_start(&self, l: &Located<String>) -> usize {
        let line = self
            .text
            .lines()
            .nth(l.line.saturating_sub(1))
            .unwrap_or_default();
        let rest = line
            .get(l.column.saturating_sub(1)..)
            .unwrap_or_default()
            .trim_start();
        if rest.starts_with('|') || rest.starts_with('>') {
            l.line + 1
        } else {
            l.line
        }
    }
}

/// Loads the scenario at `path`; `root` is the suite folder its id is relative to.
pub fn load_scenario(path: &Path, root: &Path) -> Result<Scenario, ScenarioError> {
    let text = std::fs::read_to_string(path).map_err(|e| SourceError::unreadable(path, &e))?;
    parse_scenario(path, root, &text)
}

/// Parses scenario text read from `path`.
pub fn parse_scenario(path: &Path, root: &Path, text: &str) -> Result<Scenario, ScenarioError> {
    let cx = Ctx {
        path,
        text,
        files: Default::default(),
    };
    let file = decode(&cx)?;
    let id = path
        .strip_prefix(root)
        .unwrap_or(path)
        .with_extension("")
        .to_string_lossy()
        .replace('\\', "/");
    let name = file.name.clone().unwrap_or_else(|| id.clone());

    let mut world = World::default();
    for (cluster, sources) in &file.world {
        let mut state = ClusterState::new(cluster.clone());
        for source in sources {
            state.add_loaded(manifests(&cx, source)?)?;
        }
        world.clusters.insert(cluster.clone(), state);
    }
    let known: Vec<&str> = world.clusters.keys().map(String::as_str).collect();
    let cluster_ok = |l: &Located<String>| -> Result<String, ScenarioError> {
        if world.clusters.contains_key(&l.value) {
            Ok(l.value.clone())
        } else {
            let mut e = cx.at(l, format!("no cluster {:?} in the world", l.value));
            e = match did_you_mean(&l.value, known.iter().copied()) {
                Some(s) => e.with_hint(format!("did you mean {s:?}?")),
                None => e.with_hint(format!("clusters: {}", known.join(", "))),
            };
            Err(e)
        }
    };

    let resolver = resolver_setup(&cx, &file, &cluster_ok)?;
    let client = match &file.client {
        None => Client {
            cluster: resolver.cluster.clone(),
            namespace: "default".into(),
            search: default_search("default"),
            ndots: 5,
            libc: Default::default(),
        },
        Some(c) => {
            let namespace = match &c.namespace {
                None => "default".to_owned(),
                Some(ns) => {
                    let valid = !ns.value.is_empty()
                        && ns.value.len() <= 63
                        && ns
                            .value
                            .chars()
                            .all(|ch| ch.is_ascii_lowercase() || ch.is_ascii_digit() || ch == '-')
                        && !ns.value.starts_with('-')
                        && !ns.value.ends_with('-');
                    if !valid {
                        return Err(cx
                            .at(
                                ns,
                                format!(
                                    "client.namespace {:?} is not a valid namespace name",
                                    ns.value
                                ),
                            )
                            .with_hint(
                                "lower-case letters, digits and '-', at most 63 characters",
                            ));
                    }
                    ns.value.clone()
                }
            };
            let search = match &c.search {
                None => default_search(&namespace),
                Some(list) => list
                    .value
                    .iter()
                    .map(|s| {
                        fqdn(s).map_err(|e| {
                            cx.at(list, format!("client.search: invalid domain {s:?}: {e}"))
                        })
                    })
                    .collect::<Result<_, _>>()?,
            };
            Client {
                cluster: match &c.cluster {
                    Some(l) => cluster_ok(l)?,
                    None => resolver.cluster.clone(),
                },
                namespace,
                search,
                ndots: c.ndots.unwrap_or(5),
                libc: c.libc.unwrap_or_default(),
            }
        }
    };

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
            prev.checks = checks(&cx, located, spec, &prev.action)?;
            prev.expect_line = Some(located.line);
            continue;
        }
        let action = action(
            &cx,
            located,
            step,
            &cluster_ok,
            (resolver.config.profile, &resolver.order),
        )?;
        steps.push(PlannedStep {
            line: located.line,
            action,
            checks: Vec::new(),
            expect_line: None,
        });
    }
    if steps.is_empty() {
        return Err(cx.err(1, 1, "the scenario has no steps").with_hint(
            "add at least one query, resolve or connect step, with an expect after it",
        ));
    }
    Ok(Scenario {
        path: path.to_owned(),
        id,
        name,
        description: file.description.clone().unwrap_or_default(),
        tags: file.tags.clone(),
        clause: file.clause.clone(),
        level: file.level,
        world,
        resolver,
        client,
        steps,
        text: text.to_owned(),
        files: cx.files.take(),
    })
}

fn decode(cx: &Ctx<'_>) -> Result<ScenarioFile, ScenarioError> {
    let mut path = String::new();
    let result = serde_saphyr::with_deserializer_from_str(cx.text, |de| {
        serde_path_to_error::deserialize::<_, ScenarioFile>(de).map_err(|e| {
            path = e.path().to_string();
            e.into_inner()
        })
    });
    result.map_err(|e| {
        let (line, column) = e
            .location()
            .map_or((1, 1), |l| (l.line() as usize, l.column() as usize));
        let raw = e.to_string();
        let first = raw.lines().next().unwrap_or_default();
        let first = first.strip_prefix("error: ").unwrap_or(first);
        let msg = match first.find(": ") {
            Some(i) if first.starts_with("line ") => &first[i + 2..],
            _ => first,
        };
        let path = path.replace(".value", "");
        // serde says "variant" and "field"; a scenario's author wrote a
        // step, a value or a key. Only an entry of `steps` is a step.
        let is_step = path
            .strip_prefix("steps[")
            .is_some_and(|rest| rest.ends_with(']') && !rest.contains('.'));
        let msg = msg
            .replace(
                "unknown variant",
                if is_step { "unknown step" } else { "unknown value" },
            )
            .replace("unknown field", "unknown key");
        let what = if path.is_empty() || path == "." || path == "?" {
            String::new()
        } else {
            format!("{path}: ")
        };
        let mut err = cx.err(line, column, format!("{what}{msg}"));
        err = match suggestion(&msg) {
            Some(hint) => err.with_hint(hint),
            None if msg.starts_with("missing field") => err.with_hint("a scenario needs world, resolver and steps (docs/scenarios.md)"),
            None => err.with_hint("the format is in docs/scenarios.md; with `# yaml-language-server: $schema=../scenario.schema.json` editors check it as you type"),
        };
        err
    })
}

/// "did you mean" for serde's `unknown key `x`, expected one of `a`, `b``.
fn suggestion(msg: &str) -> Option<String> {
    let word = msg.split('`').nth(1)?;
    let list = msg
        .split("expected one of")
        .nth(1)
        .or_else(|| msg.split("expected").nth(1))?;
    let expected: Vec<&str> = list
        .split(',')
        .map(|w| w.trim().trim_matches('`'))
        .filter(|w| !w.is_empty())
        .collect();
    match did_you_mean(word, expected.iter().copied()) {
        Some(s) => Some(format!("did you mean `{s}`?")),
        None if !expected.is_empty() => Some(format!("expected one of: {}", expected.join(", "))),
        None => None,
    }
}

fn manifests(cx: &Ctx<'_>, source: &ManifestSource) -> Result<Vec<Loaded>, ScenarioError> {
    match (&source.path, &source.inline) {
        (Some(p), None) => load_path(cx, p),
        (None, Some(inline)) => inline_manifests(cx, inline),
        (Some(p), Some(_)) => Err(cx.at(p, "give either path or inline, not both")),
        (None, None) => Err(cx.err(1, 1, "a world entry needs path or inline")),
    }
}

/// Parses manifests embedded in the scenario; errors point into the scenario file.
fn inline_manifests(cx: &Ctx<'_>, inline: &Located<String>) -> Result<Vec<Loaded>, ScenarioError> {
    let start = cx.block_start(inline);
    parse_manifests(cx.path, &inline.value, start).map_err(|e| cx.relocate(e, start))
}

fn load_path(cx: &Ctx<'_>, rel: &Located<String>) -> Result<Vec<Loaded>, ScenarioError> {
    let path = cx.find(rel)?;
    if path.is_dir() {
        let mut files: Vec<PathBuf> = std::fs::read_dir(&path)
            .map_err(|e| cx.at(rel, format!("cannot read {}: {e}", path.display())))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| {
                matches!(
                    p.extension().and_then(|e| e.to_str()),
                    Some("yaml" | "yml" | "json")
                )
            })
            .collect();
        files.sort();
        let mut docs = Vec::new();
        for f in files {
            docs.extend(load_file(&f)?);
        }
        Ok(docs)
    } else {
        Ok(load_file(&path)?)
    }
}

fn resolver_setup(
    cx: &Ctx<'_>,
    file: &ScenarioFile,
    cluster_ok: &dyn Fn(&Located<String>) -> Result<String, ScenarioError>,
) -> Result<ResolverSetup, ScenarioError> {
    let spec = &file.resolver;
    let cluster = cluster_ok(&spec.cluster)?;
    let profile = spec.profile.unwrap_or(Profile::Kep1645);
    let order: Vec<PluginKind> = match &spec.plugin_order {
        None => STOCK_ORDER.to_vec(),
        Some(list) => list
            .value
            .iter()
            .map(|s| {
                s.parse().map_err(|e: String| {
                    cx.at(list, format!("resolver.plugin_order: {e}"))
                        .with_hint("the simulated plugins: cache, header, kubernetes, multicluster")
                })
            })
            .collect::<Result<_, _>>()?,
    };
    let (config, corefile) = match (&spec.corefile, &spec.corefile_inline) {
        (Some(_), Some(inline)) => {
            return Err(cx.at(inline, "give either corefile or corefile_inline, not both"));
        }
        (Some(p), None) => {
            let path = cx.find(p)?;
            let cf = Corefile::read(&path)?;
            (
                ResolverConfig::from_corefile(&cf, profile, &order)?,
                Some(cf),
            )
        }
        (None, Some(inline)) => {
            // Parse inline Corefiles against the scenario's own lines.
            let start = cx.block_start(inline);
            let padded = format!("{}{}", "\n".repeat(start - 1), inline.value);
            let cf = Corefile::parse(cx.path, &padded).map_err(|e| cx.relocate(e, start))?;
            (
                ResolverConfig::from_corefile(&cf, profile, &order)
                    .map_err(|e| cx.relocate(e, start))?,
                Some(cf),
            )
        }
        (None, None) => (ResolverConfig::default_for(profile), None),
    };
    Ok(ResolverSetup {
        cluster,
        config,
        order,
        identity: spec
            .identity
            .clone()
            .unwrap_or_else(|| DEFAULT_IDENTITY.into()),
        corefile,
    })
}

/// ClusterFirst's search list for a Pod in `ns`.
pub fn default_search(ns: &str) -> Vec<Name> {
    [
        format!("{ns}.svc.cluster.local"),
        "svc.cluster.local".into(),
        "cluster.local".into(),
    ]
    .iter()
    .filter_map(|s| fqdn(s).ok())
    .collect()
}

fn fqdn(s: &str) -> Result<Name, hickory_proto::ProtoError> {
    let mut n = Name::from_ascii(s)?;
    n.set_fqdn(true);
    Ok(n)
}

fn action(
    cx: &Ctx<'_>,
    located: &Located<Step>,
    step: &Step,
    cluster_ok: &dyn Fn(&Located<String>) -> Result<String, ScenarioError>,
    (file_profile, file_order): (Profile, &[PluginKind]),
) -> Result<Action, ScenarioError> {
    let kind = |l: &Located<String>| -> Result<Kind, ScenarioError> {
        Kind::from_name(&l.value).ok_or_else(|| {
            let names = Kind::ALL.map(Kind::as_str);
            let mut e = cx.at(l, format!("unknown kind {:?}", l.value));
            if let Some(s) = did_you_mean(&l.value, names) {
                e = e.with_hint(format!("did you mean {s:?}?"));
            }
            e
        })
    };
    Ok(match step {
        Step::Apply(a) => {
            let cluster = cluster_ok(&a.cluster)?;
            let docs = match (&a.manifest, &a.path) {
                (Some(m), None) => inline_manifests(cx, m)?,
                (None, Some(p)) => load_path(cx, p)?,
                _ => return Err(cx.at(located, "apply needs either manifest or path")),
            };
            Action::Apply { cluster, docs }
        }
        Step::Delete(o) => {
            let k = kind(&o.kind)?;
            Action::Delete {
                cluster: cluster_ok(&o.cluster)?,
                key: ObjectKey::new(k, o.namespace.as_deref().unwrap_or("default"), &o.name),
            }
        }
        Step::Patch(p) => {
            let k = kind(&p.kind)?;
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
            Action::Patch {
                cluster: cluster_ok(&p.cluster)?,
                key: ObjectKey::new(k, p.namespace.as_deref().unwrap_or("default"), &p.name),
                merge: p.merge.clone(),
            }
        }
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
        Step::Connect(target) => {
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
            Name::from_ascii(name)
                .map_err(|e| cx.at(located, format!("invalid name {name:?}: {e}")))?;
            Action::Connect {
                name: name.to_owned(),
                port,
            }
        }
        Step::Advance(d) => Action::Advance(duration(d).ok_or_else(|| {
            cx.at(located, format!("invalid duration {d:?}"))
                .with_hint("write 500ms, 30s, 5m or 1h (a week at most)")
        })?),
        Step::Corefile(c) => {
            let profile = file_profile;
            let order = file_order.to_vec();
            let (cf, source) = match (&c.path, &c.inline) {
                (Some(p), None) => (Corefile::read(&cx.find(p)?)?, p.value.clone()),
                (None, Some(inline)) => {
                    let start = cx.block_start(inline);
                    let padded = format!("{}{}", "\n".repeat(start - 1), inline.value);
                    (
                        Corefile::parse(cx.path, &padded).map_err(|e| cx.relocate(e, start))?,
                        format!("inline at line {start}"),
                    )
                }
                _ => return Err(cx.at(located, "corefile needs either path or inline")),
            };
            Action::Reconfigure {
                config: Box::new(ResolverConfig::from_corefile(&cf, profile, &order)?),
                source,
                corefile: cf,
            }
        }
        Step::Fault(f) => {
            use super::Fault;
            let mut faults = Vec::new();
            if f.drop_watches == Some(true) {
                faults.push(Fault::DropWatches);
            }
            if f.expire_history == Some(true) {
                faults.push(Fault::ExpireHistory);
            }
            if let Some(d) = &f.unavailable {
                let d = duration(d).ok_or_else(|| {
                    cx.at(located, format!("invalid duration {d:?}"))
                        .with_hint("write 500ms, 30s, 5m or 1h (a week at most)")
                })?;
                faults.push(Fault::Unavailable(d));
            }
            if let Some(m) = f.crds_missing {
                faults.push(Fault::CrdsMissing(m));
            }
            if faults.len() != 1 {
                return Err(cx.at(located, "a fault step names exactly one fault").with_hint(
                    "drop_watches: true, expire_history: true, unavailable: 30s or crds_missing: true|false",
                ));
            }
            Action::Fault {
                cluster: cluster_ok(&f.cluster)?,
                fault: faults.remove(0),
            }
        }
        Step::Expect(_) => unreachable!("expect is folded into the step before it"),
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

fn rcode(cx: &Ctx<'_>, l: &Located<String>) -> Result<ResponseCode, ScenarioError> {
    let names = [
        "NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP", "REFUSED",
    ];
    let up = l.value.to_ascii_uppercase();
    names
        .iter()
        .position(|n| *n == up)
        .map(|i| ResponseCode::from(0, i as u8))
        .ok_or_else(|| {
            let mut e = cx.at(l, format!("unknown rcode {:?}", l.value));
            e = match did_you_mean(&up, names) {
                Some(s) => e.with_hint(format!("did you mean {s}?")),
                None => e.with_hint(format!("one of {}", names.join(", "))),
            };
            e
        })
}

fn checks(
    cx: &Ctx<'_>,
    at: &Located<Step>,
    e: &ExpectSpec,
    action: &Action,
) -> Result<Vec<Check>, ScenarioError> {
    let mut out = Vec::new();
    let dns = matches!(action, Action::Query { .. } | Action::Resolve { .. });
    let need_dns = |what: &str| -> Result<(), ScenarioError> {
        if dns {
            Ok(())
        } else {
            Err(cx
                .at(
                    at,
                    format!(
                        "`{what}` checks a DNS response; a {} step has none",
                        action.kind()
                    ),
                )
                .with_hint("a connect step checks `reachable` and `diagnosis`"))
        }
    };
    if let Some(r) = &e.rcode {
        need_dns("rcode")?;
        out.push(Check::Rcode(rcode(cx, r)?));
    }
    if let Some(a) = &e.answer {
        need_dns("answer")?;
        out.push(Check::Answer(a.clone()));
    }
    for (key, value) in [("nodata", e.nodata), ("no_response", e.no_response)] {
        if value == Some(false) {
            return Err(cx
                .at(at, format!("`{key}: false` checks nothing"))
                .with_hint(format!(
                    "leave `{key}` out, or check what should come instead (rcode, answer)"
                )));
        }
    }
    if let Some(true) = e.nodata {
        need_dns("nodata")?;
        if e.answer.as_ref().is_some_and(|a| !a.is_empty()) {
            return Err(cx
                .at(at, "nodata and a non-empty answer contradict each other")
                .with_hint("NODATA is NOERROR with an empty answer: keep one of the two"));
        }
        out.push(Check::NoData);
    }
    if let Some(true) = e.no_response {
        need_dns("no_response")?;
        if e.answer.is_some() || e.rcode.is_some() || e.nodata.is_some() || e.flags.is_some() {
            return Err(cx.at(
                at,
                "no_response cannot be checked together with what a response holds",
            ));
        }
        out.push(Check::NoResponse);
    }
    if let Some(f) = &e.flags {
        need_dns("flags")?;
        for word in f.value.split_whitespace() {
            let signed = word
                .strip_prefix('+')
                .map(|n| (true, n))
                .or_else(|| word.strip_prefix('-').map(|n| (false, n)));
            let (set, name) = match signed {
                Some(s) => s,
                None => {
                    return Err(cx
                        .at(f, format!("flag {word:?} must start with + or -"))
                        .with_hint("e.g. `+aa -ra`"));
                }
            };
            let flag = match name.to_ascii_lowercase().as_str() {
                "aa" => HeaderFlag::Aa,
                "ra" => HeaderFlag::Ra,
                "rd" if !set => {
                    return Err(cx
                        .at(f, "`-rd` can never pass: a server copies RD from the question, and mcsdns always asks with RD set")
                        .with_hint("drop it; `+rd` only shows the bit was echoed"));
                }
                "rd" => HeaderFlag::Rd,
                "tc" => {
                    return Err(cx
                        .at(
                            f,
                            "tc cannot be observed: the reference target hands replies over whole",
                        )
                        .with_hint(
                            "truncation is tested over real sockets (see docs/semantics.md)",
                        ));
                }
                _ => {
                    return Err(cx
                        .at(f, format!("unknown flag {name:?}"))
                        .with_hint("aa, ra, rd or tc"));
                }
            };
            out.push(Check::Flag(flag, set));
        }
    }
    if let Some(s) = e.authority_soa {
        need_dns("authority_soa")?;
        out.push(Check::AuthoritySoa(s));
    }
    if let Some(a) = &e.additional {
        need_dns("additional")?;
        out.push(Check::Additional(a.clone()));
    }
    if let Some(c) = &e.count {
        need_dns("count")?;
        for (section, n) in [
            (Section::Answer, c.answer),
            (Section::Authority, c.authority),
            (Section::Additional, c.additional),
        ] {
            if let Some(n) = n {
                out.push(Check::Count(section, n));
            }
        }
    }
    if let Some(t) = &e.ttl {
        need_dns("ttl")?;
        if let (Some(min), Some(max)) = (t.min, t.max)
            && min > max
        {
            return Err(cx
                .at(
                    at,
                    format!("ttl.min {min} is above ttl.max {max}: the check can never pass"),
                )
                .with_hint("swap min and max"));
        }
        out.extend(t.min.map(Check::TtlMin));
        out.extend(t.max.map(Check::TtlMax));
    }
    if let Some(c) = &e.candidate {
        if !matches!(action, Action::Resolve { .. }) {
            return Err(cx
                .at(
                    at,
                    format!(
                        "`candidate` checks a resolve step, not a {} step",
                        action.kind()
                    ),
                )
                .with_hint("put it in the expect that follows a resolve step"));
        }
        out.push(Check::Candidate(if c == "none" {
            None
        } else {
            Some(fqdn(c).map_err(|err| cx.at(at, format!("invalid candidate {c:?}: {err}")))?)
        }));
    }
    if let Some(r) = e.reachable {
        if !matches!(action, Action::Connect { .. }) {
            return Err(cx
                .at(
                    at,
                    format!(
                        "`reachable` checks a connect step, not a {} step",
                        action.kind()
                    ),
                )
                .with_hint("put it in the expect that follows a connect step"));
        }
        out.push(Check::Reachable(r));
    }
    if let Some(d) = &e.diagnosis {
        if d.value == "none" {
            out.push(Check::NoDiagnosis);
        } else if let Some(id) = DiagnosisId::parse(&d.value) {
            out.push(Check::Diagnosis(id));
        } else {
            let mut err = cx.at(d, format!("unknown diagnosis {:?}", d.value));
            err = match did_you_mean(&d.value, DiagnosisId::ALL.map(DiagnosisId::as_str)) {
                Some(s) => err.with_hint(format!("did you mean {s:?}?")),
                None => err.with_hint(format!(
                    "known: {}",
                    DiagnosisId::ALL.map(DiagnosisId::as_str).join(", ")
                )),
            };
            return Err(err);
        }
    }
    if out.is_empty() {
        return Err(cx
            .at(at, "this expect checks nothing")
            .with_hint("name at least one of rcode, answer, nodata, flags, ..."));
    }
    Ok(out)
}
