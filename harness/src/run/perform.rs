//! Performs the steps that change something (the world, a cluster's API,
//! the clock, the Corefile) on the target, and keeps the runner's own copy
//! of the world in step for the diagnoses.

use crate::model::{Loaded, ObjectKey, Resource, World};
use crate::scenario::{Action, Change, ResolverSetup};
use crate::target::{Capability, Events, Operation, Target, TargetError};

/// The world and the resolver's set-up as the scenario says they are now.
///
/// The target keeps its own state and is never read back: this copy is what
/// the diagnoses explain a result against, and what a patch is computed
/// from.
pub struct Model {
    /// The world as it is now.
    pub world: World,
    /// The resolver under test, as configured now.
    pub setup: ResolverSetup,
}

/// How a step that changes something ended.
#[derive(Debug, PartialEq, Eq)]
pub enum Performed {
    /// Done.
    Done,
    /// Not attempted: the target cannot do it.
    Skipped(String),
    /// Attempted, and it failed.
    Failed(String),
}

/// What a target must be able to do to perform `action` (`None`: it only
/// asks questions).
pub fn needs(action: &Action) -> Option<Capability> {
    match action {
        Action::Apply { .. } | Action::Delete { .. } | Action::Patch { .. } => {
            Some(Capability::ApplyState)
        }
        Action::Fault { .. } => Some(Capability::InjectFaults),
        Action::Advance(_) => Some(Capability::AdvanceTime),
        Action::Reconfigure { .. } => Some(Capability::Reconfigure),
        Action::Query { .. } | Action::Resolve { .. } | Action::Connect { .. } => None,
    }
}

/// Performs `action` on `target` and on `model`; what the target saw on the
/// way goes to `events`.
pub fn perform(
    model: &mut Model,
    target: &mut dyn Target,
    action: &Action,
    events: &mut Events,
) -> Performed {
    if let Some(need) = needs(action)
        && !target.capabilities().has(need)
    {
        let lacking = TargetError::Unsupported {
            target: target.name(),
            capability: need,
        };
        return Performed::Skipped(lacking.to_string());
    }
    match change(model, target, action, events) {
        Ok(()) => Performed::Done,
        Err(why) => Performed::Failed(why),
    }
}

fn send(
    target: &mut dyn Target,
    operation: Operation<'_>,
    events: &mut Events,
) -> Result<(), String> {
    let seen = target.perform(operation).map_err(|e| e.to_string())?;
    events.extend(seen);
    Ok(())
}

fn send_change(
    target: &mut dyn Target,
    cluster: &str,
    change: &Change,
    events: &mut Events,
) -> Result<(), String> {
    send(target, Operation::Apply { cluster, change }, events)
}

fn change(
    model: &mut Model,
    target: &mut dyn Target,
    action: &Action,
    events: &mut Events,
) -> Result<(), String> {
    match action {
        Action::Apply { cluster, docs } => {
            for doc in docs {
                if let Some(change) = model.apply(cluster, doc) {
                    send_change(target, cluster, &change, events)?;
                }
            }
        }
        Action::Delete { cluster, key } => {
            send_change(target, cluster, &model.delete(cluster, key)?, events)?;
        }
        Action::Patch {
            cluster,
            key,
            merge,
        } => {
            send_change(target, cluster, &model.patch(cluster, key, merge)?, events)?;
        }
        Action::Fault { cluster, fault } => {
            send(target, Operation::Fault { cluster, fault }, events)?;
        }
        Action::Reconfigure {
            config, corefile, ..
        } => {
            let operation = Operation::Reconfigure { config, corefile };
            send(target, operation, events)?;
            model.setup.config = (**config).clone();
        }
        Action::Advance(by) => send(target, Operation::Advance(*by), events)?,
        Action::Query { .. } | Action::Resolve { .. } | Action::Connect { .. } => {}
    }
    Ok(())
}

impl Model {
    /// Applies one document; the change the target must make, if any (the
    /// kinds DNS does not read live only in the model).
    fn apply(&mut self, cluster: &str, doc: &Loaded) -> Option<Change> {
        let state = self.world.clusters.get_mut(cluster);
        match doc {
            Loaded::Resource(r, origin) => {
                if let Some(c) = state {
                    c.apply(r.clone(), Some(origin.clone()));
                }
                Some(Change::Upsert(r.clone()))
            }
            Loaded::Other(o, origin) => {
                if let Some(c) = state {
                    // Applying replaces an object of the same kind, namespace and name.
                    c.others.retain(|(x, _)| {
                        (&x.kind, &x.namespace, &x.name) != (&o.kind, &o.namespace, &o.name)
                    });
                    c.others.push((o.clone(), origin.clone()));
                }
                None
            }
        }
    }

    fn delete(&mut self, cluster: &str, key: &ObjectKey) -> Result<Change, String> {
        let removed = self
            .world
            .clusters
            .get_mut(cluster)
            .and_then(|c| c.delete(key));
        match removed {
            Some(_) => Ok(Change::Delete(key.clone())),
            None => Err(format!("there is no {key} in {cluster} to delete")),
        }
    }

    /// Merge-patches an object, as `kubectl patch --type merge` does.
    fn patch(
        &mut self,
        cluster: &str,
        key: &ObjectKey,
        merge: &serde_json::Value,
    ) -> Result<Change, String> {
        let Some(current) = self
            .world
            .clusters
            .get(cluster)
            .and_then(|c| c.objects.get(key))
        else {
            return Err(format!("there is no {key} in {cluster} to patch"));
        };
        let mut doc = current.resource.to_json();
        json_patch::merge(&mut doc, merge);
        let patched = match Resource::from_json(key.kind, doc) {
            Ok(r) if r.key() == *key => r,
            Ok(_) => return Err("a patch cannot change an object's name or namespace".into()),
            Err(e) => {
                return Err(format!(
                    "the patched {key} is not a valid {}: {e}",
                    key.kind
                ));
            }
        };
        let origin = current.origin.clone();
        if let Some(c) = self.world.clusters.get_mut(cluster) {
            c.apply(patched.clone(), origin);
        }
        Ok(Change::Upsert(patched))
    }
}
