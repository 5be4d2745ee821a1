//! Server-side apply with field ownership, as kube-apiserver's field
//! manager does it for the shapes DNS objects have: every field a write
//! sets is owned by the writer's manager; an apply that would change a
//! field another manager owns is a 409 naming each conflict, unless
//! forced; an applier's fields it no longer applies are removed.
//!
//! Lists are owned whole (the MCS CRDs and EndpointSlices declare theirs
//! atomic; a Service's ports, keyed by port and protocol on a real server,
//! are owned whole here too).

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value, json};

use crate::cluster::status::ApiError;

/// A field's path: the keys from the object's root.
pub(super) type FieldPath = Vec<String>;

/// How a manager came to own its fields.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Operation {
    /// Server-side apply.
    Apply,
    /// A create, update or non-apply patch.
    Update,
}

/// One manager's fields of one object.
#[derive(Clone, Debug)]
struct Entry {
    manager: String,
    operation: Operation,
    fields: BTreeSet<FieldPath>,
}

/// Who owns which fields of one object, in the order managers came.
#[derive(Clone, Debug, Default)]
pub struct Managed(Vec<Entry>);

/// Metadata a writer owns; the rest of `metadata` is the server's.
const OWNED_METADATA: [&str; 4] = ["labels", "annotations", "finalizers", "ownerReferences"];

/// The fields an object sets: its leaves (scalars, lists, empty objects),
/// with only the writer's metadata.
pub(super) fn fields_of(object: &Value) -> BTreeSet<FieldPath> {
    let mut out = BTreeSet::new();
    let Some(top) = object.as_object() else {
        return out;
    };
    for (k, v) in top {
        match k.as_str() {
            "apiVersion" | "kind" => {}
            "metadata" => {
                for m in OWNED_METADATA {
                    if let Some(v) = v.get(m) {
                        leaves(&mut vec![k.clone(), m.to_owned()], v, &mut out);
                    }
                }
            }
            _ => leaves(&mut vec![k.clone()], v, &mut out),
        }
    }
    out
}

fn leaves(path: &mut FieldPath, v: &Value, out: &mut BTreeSet<FieldPath>) {
    match v {
        Value::Object(m) if !m.is_empty() => {
            for (k, child) in m {
                path.push(k.clone());
                leaves(path, child, out);
                path.pop();
            }
        }
        _ => {
            out.insert(path.clone());
        }
    }
}

fn value_at<'a>(v: &'a Value, path: &[String]) -> Option<&'a Value> {
    path.iter().try_fold(v, |at, k| at.get(k))
}

fn set_at(v: &mut Value, path: &[String], value: Value) {
    let Some((last, parents)) = path.split_last() else {
        return;
    };
    let mut at = v;
    for k in parents {
        if !at.get(k).is_some_and(Value::is_object) {
            at[k] = json!({});
        }
        at = &mut at[k];
    }
    at[last] = value;
}

fn remove_at(v: &mut Value, path: &[String]) {
    let Some((last, parents)) = path.split_last() else {
        return;
    };
    let Some(parent) = parents.iter().try_fold(&mut *v, |at, k| at.get_mut(k)) else {
        return;
    };
    if let Some(m) = parent.as_object_mut() {
        m.remove(last);
    }
    // Parents left empty by the removal go too, as their fields were the
    // removed field's only reason to exist.
    if parents.len() > 1
        && value_at(v, parents).is_some_and(|p| p.as_object().is_some_and(Map::is_empty))
    {
        remove_at(v, parents);
    }
}

/// `.spec.ips`, as the API server prints a field path.
fn printed(path: &FieldPath) -> String {
    path.iter().map(|k| format!(".{k}")).collect()
}

impl Managed {
    /// Records a write that is not an apply: `manager` owns what it
    /// changed (or everything, for a create), and others lose it.
    pub(super) fn update(&mut self, manager: &str, old: Option<&Value>, new: &Value) {
        let now = fields_of(new);
        let changed: BTreeSet<FieldPath> = match old {
            None => now.clone(),
            Some(old) => {
                let before = fields_of(old);
                before
                    .union(&now)
                    .filter(|p| value_at(old, p) != value_at(new, p))
                    .cloned()
                    .collect()
            }
        };
        for e in &mut self.0 {
            e.fields.retain(|p| now.contains(p) && !changed.contains(p));
        }
        let owned: BTreeSet<FieldPath> = changed.intersection(&now).cloned().collect();
        self.entry(manager, Operation::Update).fields.extend(owned);
        self.0.retain(|e| !e.fields.is_empty());
    }

    fn entry(&mut self, manager: &str, operation: Operation) -> &mut Entry {
        let at = self
            .0
            .iter()
            .position(|e| e.manager == manager && e.operation == operation)
            .unwrap_or_else(|| {
                self.0.push(Entry {
                    manager: manager.to_owned(),
                    operation,
                    fields: BTreeSet::new(),
                });
                self.0.len() - 1
            });
        &mut self.0[at]
    }

    /// Applies `applied` by `manager` to `live` (`{}` when creating): the
    /// object as it then is, or a 409 listing the fields other managers
    /// own and the apply would change (unless `force`, which takes them).
    pub(super) fn apply(
        &mut self,
        manager: &str,
        live: &Value,
        applied: &Value,
        force: bool,
    ) -> Result<Value, ApiError> {
        let fields = fields_of(applied);
        let mut conflicts: BTreeMap<&str, Vec<&FieldPath>> = BTreeMap::new();
        for e in self
            .0
            .iter()
            .filter(|e| !(e.manager == manager && e.operation == Operation::Apply))
        {
            for p in fields.intersection(&e.fields) {
                if value_at(applied, p) != value_at(live, p) {
                    conflicts.entry(&e.manager).or_default().push(p);
                }
            }
        }
        if !conflicts.is_empty() && !force {
            return Err(conflict(&conflicts));
        }
        let taken: BTreeSet<FieldPath> =
            conflicts.values().flatten().map(|p| (*p).clone()).collect();
        let mut out = live.clone();
        let previous = self
            .0
            .iter()
            .find(|e| e.manager == manager && e.operation == Operation::Apply)
            .map(|e| e.fields.clone())
            .unwrap_or_default();
        for p in previous.difference(&fields) {
            let shared = self.0.iter().any(|e| {
                !(e.manager == manager && e.operation == Operation::Apply) && e.fields.contains(p)
            });
            if !shared {
                remove_at(&mut out, p);
            }
        }
        for p in &fields {
            match value_at(applied, p) {
                // An empty map owns the map, not its keys: it merges.
                Some(Value::Object(m))
                    if m.is_empty() && value_at(&out, p).is_some_and(Value::is_object) => {}
                Some(v) => set_at(&mut out, p, v.clone()),
                None => {}
            }
        }
        for e in &mut self.0 {
            e.fields.retain(|p| !taken.contains(p));
        }
        self.entry(manager, Operation::Apply).fields = fields;
        self.0.retain(|e| !e.fields.is_empty());
        Ok(out)
    }
}

/// 409 for an apply that would change others' fields, worded as the API
/// server's field manager words it.
fn conflict(conflicts: &BTreeMap<&str, Vec<&FieldPath>>) -> ApiError {
    let count: usize = conflicts.values().map(Vec::len).sum();
    let causes: Vec<Value> = conflicts
        .iter()
        .flat_map(|(m, paths)| {
            paths.iter().map(move |p| {
                json!({"reason": "FieldManagerConflict", "message": format!("conflict with {m:?}"), "field": printed(p)})
            })
        })
        .collect();
    let message = if count == 1 {
        let (m, paths) = conflicts.iter().next().expect("one conflict");
        format!(
            "Apply failed with 1 conflict: conflict with {m:?}: {}",
            printed(paths[0])
        )
    } else {
        let mut lines = Vec::new();
        for (m, paths) in conflicts {
            lines.push(format!("conflicts with {m:?}:"));
            lines.extend(paths.iter().map(|p| format!("- {}", printed(p))));
        }
        format!("Apply failed with {count} conflicts: {}", lines.join("\n"))
    };
    ApiError::new(409, "Conflict", message, json!({"causes": causes}))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn si(ips: &[&str], labels: Value) -> Value {
        let mut si = json!({"apiVersion": "multicluster.x-k8s.io/v1beta1", "kind": "ServiceImport",
            "metadata": {"name": "web"},
            "spec": {"type": "ClusterSetIP", "ips": ips, "ports": []}});
        if labels.as_object().is_some_and(|l| !l.is_empty()) {
            si["metadata"]["labels"] = labels;
        }
        si
    }

    #[test]
    fn a_second_applier_conflicts_on_a_changed_field_and_shares_an_unchanged_one() {
        let mut m = Managed::default();
        let live = m
            .apply(
                "ctrl-a",
                &json!({}),
                &si(&["10.0.0.1"], json!({"a": "1"})),
                false,
            )
            .unwrap();
        let e = m
            .apply("ctrl-b", &live, &si(&["10.0.0.2"], json!({})), false)
            .unwrap_err();
        assert_eq!(e.code, 409);
        assert_eq!(
            e.message(),
            "Apply failed with 1 conflict: conflict with \"ctrl-a\": .spec.ips"
        );
        let same = m
            .apply("ctrl-b", &live, &si(&["10.0.0.1"], json!({})), false)
            .unwrap();
        assert_eq!(same, live);
        let forced = m
            .apply("ctrl-b", &live, &si(&["10.0.0.2"], json!({})), true)
            .unwrap();
        assert_eq!(forced["spec"]["ips"], json!(["10.0.0.2"]));
        // ctrl-a dropping its label removes it; the type both own stays.
        let mut dropped = si(&["10.0.0.2"], json!({}));
        dropped["metadata"]
            .as_object_mut()
            .unwrap()
            .remove("labels");
        dropped["spec"].as_object_mut().unwrap().remove("ips");
        let after = m.apply("ctrl-a", &forced, &dropped, false).unwrap();
        assert!(after["metadata"].get("labels").is_none(), "{after}");
        assert_eq!(after["spec"]["type"], "ClusterSetIP");
        assert_eq!(after["spec"]["ips"], json!(["10.0.0.2"]));
    }

    #[test]
    fn an_update_takes_the_fields_it_changes_from_an_applier() {
        let mut m = Managed::default();
        let live = m
            .apply("ctrl-a", &json!({}), &si(&["10.0.0.1"], json!({})), false)
            .unwrap();
        let edited = si(&["10.0.0.9"], json!({}));
        m.update("kubectl-edit", Some(&live), &edited);
        let e = m
            .apply("ctrl-a", &edited, &si(&["10.0.0.1"], json!({})), false)
            .unwrap_err();
        assert!(
            e.message().contains("conflict with \"kubectl-edit\""),
            "{}",
            e.message()
        );
    }
}
