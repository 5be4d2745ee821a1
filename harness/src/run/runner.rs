//! Runs a scenario's steps on a target: perform each step that changes
//! something, observe each that asks, and judge what was observed.

use std::time::{Duration, Instant};

use super::observe::{answer_texts, observe, repeat, rotation_text};
use super::perform::{Model, Performed, perform, react};
use super::result::{ScenarioResult, Status, StepResult};
use crate::check::{Observed, diagnose, judge};
use crate::controller::Controllers;
use crate::scenario::Check;
use crate::scenario::{PlannedStep, Scenario};
use crate::target::{Events, Target, unique_events};

/// Runs `scenario` on `target`.
pub fn run_scenario(scenario: &Scenario, target: &mut dyn Target) -> ScenarioResult {
    let started = Instant::now();
    let mut model = Model {
        world: scenario.world.clone(),
        setup: scenario.resolver.clone(),
        controllers: (!scenario.controllers.is_empty())
            .then(|| Controllers::new(&scenario.world, &scenario.controllers)),
    };
    let mut steps = Vec::new();
    // After an interrupt nothing new is started: a `kube` target would
    // create objects on real clusters only to delete them again.
    let mut blocked: Option<String> = None;
    let mut events = Events::new();
    let mut start_error = match super::interrupted() {
        false => target.start(scenario).map(|e| events = e).err(),
        true => None,
    };
    // The controllers act on the initial world before the first step.
    if start_error.is_none()
        && let Err(why) = react(&mut model, target, &mut events)
    {
        start_error = Some(crate::target::TargetError::failed(why));
    }
    // Once a step that changes the world or the clock is skipped, the
    // checks after it would judge a world the scenario did not describe.
    for step in &scenario.steps {
        let mut result = match (&start_error, &blocked) {
            _ if super::interrupted() => not_run(step),
            (Some(e), _) => failed(step, format!("the target could not start: {e}")),
            (None, Some(why)) => skipped(step, format!("follows a skipped step: {why}")),
            (None, None) => run_step(scenario, target, &mut model, step, &mut events),
        };
        // A step that failed while the run was being interrupted was cut
        // short: its failure says nothing about the target.
        if result.status == Status::Failed && super::interrupted() {
            result.status = Status::Interrupted;
            result.failures.clear();
            result.skip_reason = Some("cut short: the run was interrupted (Ctrl-C)".into());
        }
        if result.status == Status::Skipped && !step.action.is_checkable() {
            blocked = Some(format!(
                "line {} ({})",
                step.line,
                result.skip_reason.clone().unwrap_or_default()
            ));
        }
        add_events(&mut result, std::mem::take(&mut events));
        steps.push(result);
    }
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
        status: overall(&steps),
        duration_ms: started.elapsed().as_secs_f64() * 1000.0,
        steps,
        snapshot_mismatch: None,
    }
}

/// A scenario fails with any step, is interrupted when a step was cut
/// short (never a pass), and is skipped only when every step was.
fn overall(steps: &[StepResult]) -> Status {
    if steps.iter().any(|s| s.status == Status::Failed) {
        Status::Failed
    } else if steps.iter().any(|s| s.status == Status::Interrupted) {
        Status::Interrupted
    } else if steps.iter().all(|s| s.status == Status::Skipped) {
        Status::Skipped
    } else {
        Status::Passed
    }
}

/// What the target saw during a step goes after its transcript, each once.
fn add_events(result: &mut StepResult, events: Events) {
    let events = unique_events(events);
    if events.is_empty() {
        return;
    }
    let mut t = result.transcript.take().unwrap_or_default();
    for e in events {
        t.push_str(&format!(";; {e}\n"));
    }
    result.transcript = Some(t);
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
        explaining: Vec::new(),
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

/// Why a step was cut short or not run.
const INTERRUPTED: &str = "not run: the run was interrupted (Ctrl-C)";

fn not_run(step: &PlannedStep) -> StepResult {
    StepResult {
        status: Status::Interrupted,
        skip_reason: Some(INTERRUPTED.into()),
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
const RETRY_EVERY: Duration = Duration::from_millis(25);

/// Runs one step; a failed check on a target that learns asynchronously is
/// asked again until it holds or the target's settle time is over.
fn run_step(
    scenario: &Scenario,
    target: &mut dyn Target,
    model: &mut Model,
    step: &PlannedStep,
    events: &mut Events,
) -> StepResult {
    if !step.action.is_checkable() {
        return match perform(model, target, &step.action, events) {
            Performed::Done => base(step),
            Performed::Skipped(why) => skipped(step, why),
            Performed::Failed(why) => failed(step, why),
        };
    }
    let settle = target.capabilities().settle;
    let started = Instant::now();
    let mut tries = 1;
    loop {
        let repeats = step.checks.iter().find_map(|c| match c {
            Check::RotatesOver { queries, .. } => Some(*queries),
            _ => None,
        });
        let observed = observe(scenario, model, target, &step.action, events).and_then(
            |(mut observed, mut transcript)| {
                if let Some(n) = repeats {
                    let first = observed.outcome.as_ref().map(answer_texts);
                    let mut seen = repeat(target, &step.action, n - 1, events)?;
                    seen.insert(0, first.flatten());
                    transcript.push_str(&rotation_text(&seen));
                    observed.repeated = seen;
                }
                Ok((observed, transcript))
            },
        );
        let mut result = match observed {
            Ok((observed, transcript)) => judged(step, observed, transcript),
            Err(why) => failed(step, why),
        };
        let retry = result.status == Status::Failed
            && settle.is_some_and(|d| started.elapsed() < d)
            && !super::interrupted();
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
        crate::target::interrupt::sleep(RETRY_EVERY);
    }
}

/// The step's result: its checks judged against what was observed.
fn judged(step: &PlannedStep, observed: Observed, transcript: String) -> StepResult {
    let failures = judge(&step.checks, &observed);
    let failed: Vec<&Check> = step
        .checks
        .iter()
        .filter(|c| !judge(std::slice::from_ref(*c), &observed).is_empty())
        .collect();
    let explaining = observed
        .diagnoses
        .iter()
        .map(|d| d.id)
        .filter(|id| failed.iter().any(|c| diagnose::explains(*id, c)))
        .collect();
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
        explaining,
        observed: Some(observed),
        ..base(step)
    }
}
