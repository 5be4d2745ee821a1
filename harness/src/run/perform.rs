//! Performs the steps that change something (the world, a cluster's API,
//! the clock, the Corefile) on the target, and keeps the runner's own copy
//! of the world in step for the diagnoses.

use serde_json::Value;

use crate::controller::{Controllers, MAX_PASSES, Verb, Write};
use crate::model::kinds::ApiResource;
use crate::model::{Loaded, ObjectKey, OtherObject, Resource, World};
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
    /// The scenario's controllers, if it names any.
    pub controllers: Option<Controllers>,
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
                model.mirror_doc(cluster, doc);
                if let Some(change) = model.apply(cluster, doc) {
                    send_change(target, cluster, &change, events)?;
                }
            }
            react(model, target, events)?;
        }
        Action::Delete { cluster, key } => {
            let change = model.delete(cluster, key)?;
            model.mirror(cluster, &change);
            send_change(target, cluster, &change, events)?;
            react(model, target, events)?;
        }
        Action::Patch {
            cluster,
            key,
            merge,
        } => {
            let change = model.patch(cluster, key, merge)?;
            model.mirror(cluster, &change);
            send_change(target, cluster, &change, events)?;
            react(model, target, events)?;
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

/// Lets the scenario's controllers act on the world as it is now: each
/// object they write is a transcript line, and goes to the target (when
/// it can change its world) and to the model, as any change does.
pub fn react(
    model: &mut Model,
    target: &mut dyn Target,
    events: &mut Events,
) -> Result<(), String> {
    let Some(controllers) = model.controllers.as_mut() else {
        return Ok(());
    };
    let reaction = controllers.react();
    let forward = target.capabilities().apply_state;
    for w in &reaction.writes {
        events.push(w.to_string());
        if let Some(change) = model.record(w)
            && forward
        {
            send_change(target, &w.cluster, &change, events)?;
        }
    }
    if !reaction.settled {
        events.push(format!(
            "controllers: still writing after {MAX_PASSES} passes; stopped there"
        ));
    }
    Ok(())
}

/// A written object as a manifest: without what its API server set, nor
/// owner references: they name the owner's uid in the controllers' own
/// API, which a target's API server does not have, and a real one's
/// garbage collector deletes an object whose owner it cannot find.
fn as_manifest(object: &Value) -> Value {
    let mut v = object.clone();
    if let Some(meta) = v["metadata"].as_object_mut() {
        for f in [
            "resourceVersion",
            "managedFields",
            "creationTimestamp",
            "generation",
            "ownerReferences",
        ] {
            meta.remove(f);
        }
    }
    v
}

impl Model {
    /// Records what a controller wrote in the model's world; the change the
    /// target must make, for the kinds DNS reads.
    fn record(&mut self, w: &Write) -> Option<Change> {
        let state = self.world.clusters.get_mut(&w.cluster)?;
        match (w.verb, w.res.model, &w.object) {
            (Verb::Refused, _, _) => None,
            (Verb::Deleted, Some(kind), _) => {
                let key = ObjectKey::new(kind, &w.namespace, &w.name);
                state.delete(&key);
                Some(Change::Delete(key))
            }
            (Verb::Deleted, None, _) => {
                state.others.retain(|(o, _)| {
                    (o.kind.as_str(), o.namespace.as_str(), o.name.as_str())
                        != (w.res.kind, w.namespace.as_str(), w.name.as_str())
                });
                None
            }
            (_, Some(kind), Some(object)) => {
                let r = Resource::from_json(kind, as_manifest(object)).ok()?;
                state.apply(r.clone(), None);
                Some(Change::Upsert(r))
            }
            (_, None, Some(object)) => {
                let other = OtherObject {
                    api_version: object["apiVersion"].as_str().unwrap_or_default().to_owned(),
                    kind: w.res.kind.to_owned(),
                    name: w.name.clone(),
                    namespace: w.namespace.clone(),
                    body: as_manifest(object),
                };
                let origin = crate::model::Origin {
                    file: std::path::Path::new(&format!("({})", w.by)).into(),
                    line: 0,
                };
                state.others.retain(|(o, _)| {
                    (&o.kind, &o.namespace, &o.name) != (&other.kind, &other.namespace, &other.name)
                });
                state.others.push((other, origin));
                None
            }
            (_, _, None) => None,
        }
    }

    /// Makes a scenario's change in the controllers' view too.
    fn mirror(&self, cluster: &str, change: &Change) {
        if let Some(api) = self.controllers.as_ref().and_then(|c| c.api(cluster))
            && let Ok(mut api) = api.lock()
        {
            change.apply_to(&mut api);
        }
    }

    /// Applies one document of a scenario step in the controllers' view.
    fn mirror_doc(&self, cluster: &str, doc: &Loaded) {
        match doc {
            Loaded::Resource(r, _) => self.mirror(cluster, &Change::Upsert(r.clone())),
            Loaded::Other(o, _) => {
                let Some(api) = self.controllers.as_ref().and_then(|c| c.api(cluster)) else {
                    return;
                };
                let Some(res) = ApiResource::by_kind(&o.api_version, &o.kind) else {
                    return;
                };
                let mut body = o.body.clone();
                if res.namespaced && body["metadata"]["namespace"].is_null() {
                    body["metadata"]["namespace"] = serde_json::json!("default");
                }
                if let Ok(mut api) = api.lock() {
                    let _ = api.put(res, body);
                }
            }
        }
    }

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
