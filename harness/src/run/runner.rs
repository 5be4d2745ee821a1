//! Runs a scenario's steps on a target, then judges each result.

use std::time::Instant;

use hickory_proto::rr::RecordType;

use super::result::{ScenarioResult, Status, StepResult};
use crate::check::CacheNote;
use crate::check::diagnose::{self, Context};
use crate::check::{Observed, judge};
use crate::client::connect::connect;
use crate::client::resolve::{Resolution, walk};
use crate::model::{Loaded, Resource, World};
use crate::resolver::text::render;
use crate::resolver::{Outcome, Question};
use crate::scenario::Change;
use crate::scenario::{Action, PlannedStep, ResolverSetup, Scenario};
use crate::target::Target;

/// Runs `scenario` on `target`.
pub fn run_scenario(scenario: &Scenario, target: &mut dyn Target) -> ScenarioResult {
    let started = Instant::now();
    let mut world = scenario.world.clone();
    let mut setup = scenario.resolver.clone();
    let mut steps = Vec::new();
    // After an interrupt nothing new is started: a `kube` target would
    // create objects on real clusters only to delete them again.
    let mut blocked: Option<String> =
        super::interrupted().then(|| "the run was interrupted".into());
    let start_error = match blocked {
        None => target.start(scenario).err(),
        Some(_) => None,
    };
    // Once a step that changes the world or the clock is skipped, the
    // checks after it would judge a world the scenario did not describe.
    for step in &scenario.steps {
        if blocked.is_none() && super::interrupted() {
            blocked = Some("the run was interrupted".into());
        }
        let result = match (&start_error, &blocked) {
            (Some(e), _) => failed(step, format!("the target could not start: {e}")),
            (None, Some(why)) => skipped(step, format!("follows a skipped step: {why}")),
            (None, None) => run_step(scenario, target, &mut world, &mut setup, step),
        };
        if result.status == Status::Skipped && !step.action.is_checkable() {
            blocked = Some(format!(
                "line {} ({})",
                step.line,
                result.skip_reason.clone().unwrap_or_default()
            ));
        }
        let mut result = result;
        let events = target.take_events();
        if !events.is_empty() {
            let mut t = result.transcript.take().unwrap_or_default();
            for e in events {
                t.push_str(&format!(";; {e}\n"));
            }
            result.transcript = Some(t);
        }
        steps.push(result);
    }
    let status = if steps.iter().any(|s| s.status == Status::Failed) {
        Status::Failed
    } else if steps.iter().all(|s| s.status == Status::Skipped) {
        Status::Skipped
    } else {
        Status::Passed
    };
    ScenarioResult {
        id: scenario.id.clone(),
        name: scenario.name.clone(),
        path: scenario.path.display().to_string(),
        description: scenario.description.clone(),
        tags: scenario.tags.clone(),
        clause: scenario.clause.clone(),
        level: scenario.level.map(|l| l.to_string()),
        target: target.name(),
        profile: scenario.resolver.config.profile.to_string(),
        status,
        duration_ms: started.elapsed().as_secs_f64() * 1000.0,
        steps,
    }
}

fn base(step: &PlannedStep) -> StepResult {
    StepResult {
        line: step.line,
        kind: step.action.kind(),
        action: step.action.describe(),
        status: Status::Done,
        skip_reason: None,
        failures: Vec::new(),
        transcript: None,
        diagnoses: Vec::new(),
        observed: None,
    }
}

fn failed(step: &PlannedStep, why: String) -> StepResult {
    StepResult {
        status: Status::Failed,
        failures: vec![why],
        ..base(step)
    }
}

fn skipped(step: &PlannedStep, why: String) -> StepResult {
    StepResult {
        status: Status::Skipped,
        skip_reason: Some(why),
        ..base(step)
    }
}

/// How often a check is retried against a target that learns changes
/// asynchronously.
const RETRY_EVERY: std::time::Duration = std::time::Duration::from_millis(25);

fn run_step(
    scenario: &Scenario,
    target: &mut dyn Target,
    world: &mut World,
    setup: &mut ResolverSetup,
    step: &PlannedStep,
) -> StepResult {
    let settle = target.capabilities().settle;
    let started = Instant::now();
    let mut tries = 1;
    loop {
        let mut result = attempt(scenario, target, world, setup, step);
        let retry = result.status == Status::Failed
            && step.action.is_checkable()
            && settle.is_some_and(|d| started.elapsed() < d);
        if !retry {
            if tries > 1
                && let Some(t) = result.transcript.as_mut()
            {
                t.push_str(&format!(
                    ";; asked {tries} times over {} ms while the target caught up\n",
                    started.elapsed().as_millis()
                ));
            }
            return result;
        }
        tries += 1;
        std::thread::sleep(RETRY_EVERY);
    }
}

fn attempt(
    scenario: &Scenario,
    target: &mut dyn Target,
    world: &mut World,
    setup: &mut ResolverSetup,
    step: &PlannedStep,
) -> StepResult {
    let caps = target.capabilities();
    let observed = match &step.action {
        Action::Apply { .. } | Action::Delete { .. } | Action::Patch { .. }
            if !caps.apply_state =>
        {
            return skipped(
                step,
                format!("target {} cannot change the world", target.name()),
            );
        }
        Action::Apply { cluster, docs } => {
            for doc in docs {
                match doc {
                    Loaded::Resource(r, origin) => {
                        if let Some(c) = world.clusters.get_mut(cluster) {
                            c.apply(r.clone(), Some(origin.clone()));
                        }
                        if let Err(e) = target.apply(cluster, &Change::Upsert(r.clone())) {
                            return failed(step, e.to_string());
                        }
                    }
                    Loaded::Other(o, origin) => {
                        if let Some(c) = world.clusters.get_mut(cluster) {
                            // Applying replaces an object of the same kind, namespace and name.
                            c.others.retain(|(x, _)| {
                                (&x.kind, &x.namespace, &x.name) != (&o.kind, &o.namespace, &o.name)
                            });
                            c.others.push((o.clone(), origin.clone()));
                        }
                    }
                }
            }
            return base(step);
        }
        Action::Delete { cluster, key } => {
            let removed = world.clusters.get_mut(cluster).and_then(|c| c.delete(key));
            if removed.is_none() {
                return failed(step, format!("there is no {key} in {cluster} to delete"));
            }
            if let Err(e) = target.apply(cluster, &Change::Delete(key.clone())) {
                return failed(step, e.to_string());
            }
            return base(step);
        }
        Action::Patch {
            cluster,
            key,
            merge,
        } => {
            let Some(current) = world.clusters.get(cluster).and_then(|c| c.objects.get(key)) else {
                return failed(step, format!("there is no {key} in {cluster} to patch"));
            };
            let mut doc = current.resource.to_json();
            json_patch::merge(&mut doc, merge);
            let patched = match Resource::from_json(key.kind, doc) {
                Ok(r) if r.key() == *key => r,
                Ok(_) => {
                    return failed(
                        step,
                        "a patch cannot change an object's name or namespace".into(),
                    );
                }
                Err(e) => {
                    return failed(
                        step,
                        format!("the patched {key} is not a valid {}: {e}", key.kind),
                    );
                }
            };
            let origin = current.origin.clone();
            if let Some(c) = world.clusters.get_mut(cluster) {
                c.apply(patched.clone(), origin);
            }
            if let Err(e) = target.apply(cluster, &Change::Upsert(patched)) {
                return failed(step, e.to_string());
            }
            return base(step);
        }
        Action::Fault { cluster, fault } => {
            if !caps.inject_faults {
                return skipped(
                    step,
                    format!("target {} cannot inject API faults", target.name()),
                );
            }
            if let Err(e) = target.fault(cluster, fault) {
                return failed(step, e.to_string());
            }
            return base(step);
        }
        Action::Reconfigure { config, text, .. } => {
            if !caps.reconfigure {
                return skipped(
                    step,
                    format!("target {} cannot be reconfigured", target.name()),
                );
            }
            if let Err(e) = target.reconfigure(config, text) {
                return failed(step, e.to_string());
            }
            setup.config = (**config).clone();
            return base(step);
        }
        Action::Advance(by) => {
            if !caps.advance_time {
                return skipped(
                    step,
                    format!("target {} has no clock to advance", target.name()),
                );
            }
            if let Err(e) = target.advance(*by) {
                return failed(step, e.to_string());
            }
            return base(step);
        }
        Action::Query { name, qtype } => {
            let q = Question::new(name.clone(), *qtype);
            let outcome = match target.query(&q) {
                Ok(o) => o,
                Err(e) => return failed(step, e.to_string()),
            };
            let note = target.take_note();
            let cx = Context {
                world,
                resolver: setup,
                client: &scenario.client,
            };
            let mut diagnoses = diagnose::query(&cx, &q, &outcome);
            let mut transcript = render(&q, &outcome);
            if let Some(n) = &note {
                transcript.push_str(&cache_line(n));
                diagnoses.extend(diagnose::stale_cache(&cx, n));
            }
            (
                Observed {
                    outcome: Some(outcome),
                    diagnoses,
                    ..Default::default()
                },
                transcript,
            )
        }
        Action::Resolve { name, qtype } => {
            let (resolution, notes, err) = lookup(scenario, target, name, *qtype);
            if let Some(e) = err {
                return failed(step, e);
            }
            let cx = Context {
                world,
                resolver: setup,
                client: &scenario.client,
            };
            let mut diagnoses = diagnose::resolve(&cx, name, *qtype, &resolution);
            let mut transcript = walk_text(scenario, &resolution, *qtype);
            transcript.push_str(&final_note(&resolution, &notes, &cx, &mut diagnoses));
            (
                Observed {
                    outcome: resolution.final_outcome().cloned(),
                    candidate: Some(resolution.answered_name().cloned()),
                    diagnoses,
                    ..Default::default()
                },
                transcript,
            )
        }
        Action::Connect { name, port } => {
            // An address literal is not looked up, as libc does not.
            let literal: Option<std::net::IpAddr> = name.parse().ok();
            let (resolution, notes, err) = match literal {
                Some(_) => (Resolution::default(), Vec::new(), None),
                None => lookup(scenario, target, name, RecordType::A),
            };
            if let Some(e) = err {
                return failed(step, e);
            }
            let address = literal.or_else(|| {
                resolution
                    .final_outcome()
                    .and_then(Outcome::reply)
                    .and_then(|r| r.answers.iter().find_map(|a| a.data.ip_addr()))
            });
            let connection = address.map(|ip| connect(world, &scenario.client.cluster, ip, *port));
            let cx = Context {
                world,
                resolver: setup,
                client: &scenario.client,
            };
            let mut diagnoses = diagnose::connect(&cx, name, &resolution, connection.as_ref());
            let mut transcript = match literal {
                Some(_) => format!(";; {name} is an address: no lookup\n"),
                None => walk_text(scenario, &resolution, RecordType::A),
            };
            transcript.push_str(&final_note(&resolution, &notes, &cx, &mut diagnoses));
            match &connection {
                Some(c) => {
                    transcript.push_str(&format!(
                        ";; connect {}:{port}: {}\n",
                        c.address,
                        if c.reachable {
                            "reachable"
                        } else {
                            "unreachable"
                        }
                    ));
                    for hop in &c.path {
                        transcript.push_str(&format!(";;   {hop}\n"));
                    }
                }
                None => transcript.push_str(&format!(
                    ";; connect {name}:{port}: the name did not resolve\n"
                )),
            }
            (
                Observed {
                    outcome: resolution.final_outcome().cloned(),
                    reachable: Some(connection.as_ref().is_some_and(|c| c.reachable)),
                    diagnoses,
                    ..Default::default()
                },
                transcript,
            )
        }
    };
    let (observed, transcript) = observed;
    let failures = judge(&step.checks, &observed);
    let status = if step.checks.is_empty() {
        Status::Done
    } else if failures.is_empty() {
        Status::Passed
    } else {
        Status::Failed
    };
    StepResult {
        status,
        failures,
        transcript: Some(transcript),
        diagnoses: observed.diagnoses.clone(),
        observed: Some(observed),
        ..base(step)
    }
}

fn cache_line(n: &CacheNote) -> String {
    let now = n
        .fresh
        .as_ref()
        .map_or(String::new(), |f| format!("; the resolver now answers {f}"));
    format!(
        ";; served from the cache (age {}s, {}s left){now}\n",
        n.age, n.remaining
    )
}

/// A search-list lookup, with the cache note of each candidate asked.
fn lookup(
    scenario: &Scenario,
    target: &mut dyn Target,
    name: &str,
    qtype: RecordType,
) -> (Resolution, Vec<Option<CacheNote>>, Option<String>) {
    let mut error = None;
    let mut notes = Vec::new();
    let resolution = walk(name, &scenario.client, |candidate| {
        let o = match target.query(&Question::new(candidate.clone(), qtype)) {
            Ok(o) => o,
            Err(e) => {
                error.get_or_insert(e.to_string());
                Outcome::Silent(e.to_string())
            }
        };
        notes.push(target.take_note());
        o
    });
    (resolution, notes, error)
}

/// The cache line of the attempt the application saw; a stale entry
/// anywhere in the walk adds its diagnosis.
fn final_note(
    resolution: &Resolution,
    notes: &[Option<CacheNote>],
    cx: &Context<'_>,
    diagnoses: &mut Vec<diagnose::Diagnosis>,
) -> String {
    if let Some(n) = notes.iter().flatten().find(|n| n.fresh.is_some()) {
        diagnoses.extend(diagnose::stale_cache(cx, n));
    }
    let seen = resolution.seen;
    match seen.and_then(|i| notes.get(i)) {
        Some(Some(n)) => cache_line(n),
        _ => String::new(),
    }
}

fn walk_text(scenario: &Scenario, resolution: &Resolution, qtype: RecordType) -> String {
    let c = &scenario.client;
    let mut s = format!(
        ";; search-list walk ({:?}, ndots {}, search {})\n",
        c.libc,
        c.ndots,
        c.search
            .iter()
            .map(|n| n.to_string())
            .collect::<Vec<_>>()
            .join(" ")
    )
    .to_lowercase();
    for (i, a) in resolution.attempts.iter().enumerate() {
        let what = match &a.outcome {
            Outcome::Silent(_) => "no response".to_owned(),
            Outcome::Reply(r)
                if r.answers.is_empty() && r.rcode == hickory_proto::op::ResponseCode::NoError =>
            {
                "NODATA".into()
            }
            Outcome::Reply(r) => crate::resolver::text::rcode_text(r),
        };
        let mark = if resolution.answered == Some(i) {
            "  <- answered"
        } else {
            ""
        };
        s.push_str(&format!(";;   {} {qtype}: {what}{mark}\n", a.name));
    }
    if let Some(i) = resolution.seen {
        let a = &resolution.attempts[i];
        s.push_str(&render(&Question::new(a.name.clone(), qtype), &a.outcome));
    }
    s
}
