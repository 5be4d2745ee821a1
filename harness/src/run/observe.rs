//! Observes the steps that ask: a query, a search-list lookup, a
//! connection. Each becomes what the judge reads (an [`Observed`]), the
//! step's transcript, and the diagnoses of what went wrong.

use hickory_proto::rr::RecordType;

use super::perform::Model;
use crate::check::diagnose::{self, Context, Diagnosis};
use crate::check::{CacheNote, Observed};
use crate::client::connect::{Connection, connect};
use crate::client::resolve::{Resolution, walk};
use crate::resolver::text::{rcode_text, rdata_text, render};
use crate::resolver::{Outcome, Question};
use crate::scenario::{Action, Scenario};
use crate::target::{Events, Target};

/// What an asking step saw, and its transcript; `Err` when the target
/// could not be asked.
pub fn observe(
    scenario: &Scenario,
    model: &Model,
    target: &mut dyn Target,
    action: &Action,
    events: &mut Events,
) -> Result<(Observed, String), String> {
    let cx = Context {
        world: &model.world,
        resolver: &model.setup,
        client: &scenario.client,
        controllers: &scenario.controllers,
        overwritten: model.controllers.as_ref().map_or(&[], |c| c.overwritten()),
    };
    match action {
        Action::Query { name, qtype } => {
            let q = Question::new(name.clone(), *qtype);
            let answer = target.ask(&q).map_err(|e| e.to_string())?;
            events.extend(answer.events);
            let mut diagnoses = diagnose::query(&cx, &q, &answer.outcome);
            let mut transcript = render(&q, &answer.outcome);
            if let Some(n) = &answer.cache {
                transcript.push_str(&cache_line(n));
                diagnoses.extend(diagnose::stale_cache(&cx, n));
            }
            let observed = Observed {
                outcome: Some(answer.outcome),
                diagnoses,
                ..Default::default()
            };
            Ok((observed, transcript))
        }
        Action::Resolve { name, qtype } => {
            let (resolution, notes) = lookup(scenario, target, name, *qtype, events)?;
            let mut diagnoses = diagnose::resolve(&cx, name, *qtype, &resolution);
            let mut transcript = walk_text(scenario, &resolution, *qtype);
            transcript.push_str(&final_note(&resolution, &notes, &cx, &mut diagnoses));
            let observed = Observed {
                outcome: resolution.final_outcome().cloned(),
                candidate: Some(resolution.answered_name().cloned()),
                diagnoses,
                ..Default::default()
            };
            Ok((observed, transcript))
        }
        Action::Connect { name, port } => {
            observe_connect(scenario, model, target, &cx, (name, *port), events)
        }
        _ => Err(format!("a {} step asks nothing", action.kind())),
    }
}

/// The answer section of an outcome as rdata texts; `None` when nothing was sent.
pub fn answer_texts(outcome: &Outcome) -> Option<Vec<String>> {
    outcome
        .reply()
        .map(|r| r.answers.iter().map(rdata_text).collect())
}

/// Asks a query step's question `n` more times (`rotates_over`): the
/// answer section of each, in order.
pub fn repeat(
    target: &mut dyn Target,
    action: &Action,
    n: u32,
    events: &mut Events,
) -> Result<Vec<Option<Vec<String>>>, String> {
    let Action::Query { name, qtype } = action else {
        return Err(format!("a {} step cannot be repeated", action.kind()));
    };
    let q = Question::new(name.clone(), *qtype);
    let mut seen = Vec::with_capacity(n as usize);
    for _ in 0..n {
        let answer = target.ask(&q).map_err(|e| e.to_string())?;
        events.extend(answer.events);
        seen.push(answer_texts(&answer.outcome));
    }
    Ok(seen)
}

/// The transcript of a repeated query: the answers in order, then how
/// often each set came.
pub fn rotation_text(seen: &[Option<Vec<String>>]) -> String {
    let show = |s: &Option<Vec<String>>| match s {
        Some(a) => format!("[{}]", a.join(", ")),
        None => "no response".to_owned(),
    };
    let mut counts: Vec<(String, usize)> = Vec::new();
    for s in seen {
        let key = show(s);
        match counts.iter_mut().find(|(k, _)| *k == key) {
            Some((_, n)) => *n += 1,
            None => counts.push((key, 1)),
        }
    }
    let mut text = format!(";; asked {} times: answers in order:\n", seen.len());
    for s in seen {
        text.push_str(&format!(";;   {}\n", show(s)));
    }
    for (key, n) in counts {
        text.push_str(&format!(";; {n} x {key}\n"));
    }
    text
}

fn observe_connect(
    scenario: &Scenario,
    model: &Model,
    target: &mut dyn Target,
    cx: &Context<'_>,
    (name, port): (&str, u16),
    events: &mut Events,
) -> Result<(Observed, String), String> {
    // An address literal is not looked up, as libc does not.
    let literal: Option<std::net::IpAddr> = name.parse().ok();
    let (resolution, notes) = match literal {
        Some(_) => (Resolution::default(), Vec::new()),
        None => lookup(scenario, target, name, RecordType::A, events)?,
    };
    let address = literal.or_else(|| {
        resolution
            .final_outcome()
            .and_then(Outcome::reply)
            .and_then(|r| r.answers.iter().find_map(|a| a.data.ip_addr()))
    });
    let connection = address.map(|ip| connect(&model.world, &scenario.client.cluster, ip, port));
    let mut diagnoses = diagnose::connect(cx, name, &resolution, connection.as_ref());
    let mut transcript = match literal {
        Some(_) => format!(";; {name} is an address: no lookup\n"),
        None => walk_text(scenario, &resolution, RecordType::A),
    };
    transcript.push_str(&final_note(&resolution, &notes, cx, &mut diagnoses));
    transcript.push_str(&connection_text(name, port, connection.as_ref()));
    let observed = Observed {
        outcome: resolution.final_outcome().cloned(),
        reachable: Some(connection.as_ref().is_some_and(|c| c.reachable)),
        diagnoses,
        ..Default::default()
    };
    Ok((observed, transcript))
}

fn connection_text(name: &str, port: u16, connection: Option<&Connection>) -> String {
    let Some(c) = connection else {
        return format!(";; connect {name}:{port}: the name did not resolve\n");
    };
    let mut s = format!(
        ";; connect {}:{port}: {}\n",
        c.address,
        if c.reachable {
            "reachable"
        } else {
            "unreachable"
        }
    );
    for hop in &c.path {
        s.push_str(&format!(";;   {hop}\n"));
    }
    s
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
    events: &mut Events,
) -> Result<(Resolution, Vec<Option<CacheNote>>), String> {
    let mut error = None;
    let mut notes = Vec::new();
    let resolution = walk(name, &scenario.client, |candidate| {
        match target.ask(&Question::new(candidate.clone(), qtype)) {
            Ok(answer) => {
                events.extend(answer.events);
                notes.push(answer.cache);
                answer.outcome
            }
            Err(e) => {
                error.get_or_insert(e.to_string());
                notes.push(None);
                Outcome::Silent(e.to_string())
            }
        }
    });
    match error {
        Some(e) => Err(e),
        None => Ok((resolution, notes)),
    }
}

/// The cache line of the attempt the application saw; a stale entry
/// anywhere in the walk adds its diagnosis.
fn final_note(
    resolution: &Resolution,
    notes: &[Option<CacheNote>],
    cx: &Context<'_>,
    diagnoses: &mut Vec<Diagnosis>,
) -> String {
    if let Some(n) = notes.iter().flatten().find(|n| n.fresh.is_some()) {
        diagnoses.extend(diagnose::stale_cache(cx, n));
    }
    match resolution.seen.and_then(|i| notes.get(i)) {
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
            Outcome::Reply(r) if r.is_nodata() => "NODATA".into(),
            Outcome::Reply(r) => rcode_text(r),
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
