//! Applies strategic merge patches, as `kubectl apply` and `kubectl patch` send them for
//! built-in types: a JSON merge patch whose lists of objects merge by a key
//! (`port`, `name`, ...) instead of being replaced, steered by the `$patch`,
//! `$setElementOrder/` and `$deleteFromPrimitiveList/` directives.
//!
//! The merge key of a list comes from the patch's own `$setElementOrder`
//! directive when it has one (each entry names the key), else from the
//! fields Kubernetes declares as merge keys.

use serde_json::{Map, Value};

/// Merge keys of the lists Kubernetes merges, by the key the element
/// carries (the first one an element has wins).
const MERGE_KEYS: &[&str] = &["containerPort", "port", "name", "mountPath", "ip", "type"];

/// Lists that Kubernetes replaces whole even though their elements have
/// fields named like merge keys.
const ATOMIC: &[&str] = &[
    "endpoints",
    "addresses",
    "ips",
    "rules",
    "subjects",
    "clusters",
];

/// Applies a strategic merge patch to `doc`.
pub fn strategic_merge(doc: &mut Value, patch: &Value) {
    merge_value(doc, patch);
}

fn merge_value(doc: &mut Value, patch: &Value) {
    match (doc.as_object_mut(), patch.as_object()) {
        (Some(d), Some(p)) => {
            if p.get("$patch").and_then(Value::as_str) == Some("replace") {
                *doc = Value::Object(strip(p));
                return;
            }
            merge_map(d, p);
        }
        _ => *doc = strip_value(patch),
    }
}

fn merge_map(doc: &mut Map<String, Value>, patch: &Map<String, Value>) {
    for (k, v) in patch {
        if let Some(list) = k.strip_prefix("$deleteFromPrimitiveList/") {
            if let (Some(Value::Array(have)), Some(drop)) = (doc.get_mut(list), v.as_array()) {
                have.retain(|x| !drop.contains(x));
            }
            continue;
        }
        if k.starts_with('$') {
            continue;
        }
        if v.is_null() {
            doc.remove(k);
            continue;
        }
        let order = patch
            .get(&format!("$setElementOrder/{k}"))
            .and_then(Value::as_array);
        match (doc.get_mut(k), v) {
            (Some(Value::Array(have)), Value::Array(items)) => match merge_key(k, items, order) {
                Some(key) => merge_list(have, items, &key, order),
                None => *have = items.iter().map(strip_value).collect(),
            },
            (Some(existing), _) => merge_value(existing, v),
            (None, _) => {
                let mut fresh = match v {
                    Value::Object(_) => Value::Object(Map::new()),
                    _ => Value::Null,
                };
                merge_value(&mut fresh, v);
                doc.insert(k.clone(), fresh);
            }
        }
    }
}

fn merge_key(field: &str, items: &[Value], order: Option<&Vec<Value>>) -> Option<String> {
    if let Some(first) = order.and_then(|o| o.first()).and_then(Value::as_object)
        && first.len() == 1
    {
        return first.keys().next().cloned();
    }
    if ATOMIC.contains(&field) {
        return None;
    }
    let first = items.iter().find_map(Value::as_object)?;
    MERGE_KEYS
        .iter()
        .find(|k| first.contains_key(**k))
        .map(|k| (*k).to_owned())
}

fn merge_list(have: &mut Vec<Value>, items: &[Value], key: &str, order: Option<&Vec<Value>>) {
    for item in items {
        let id = item.get(key);
        let at = have.iter().position(|h| h.get(key) == id && id.is_some());
        if item.get("$patch").and_then(Value::as_str) == Some("delete") {
            if let Some(i) = at {
                have.remove(i);
            }
            continue;
        }
        match at {
            Some(i) => merge_value(&mut have[i], item),
            None => have.push(strip_value(item)),
        }
    }
    if let Some(order) = order {
        let rank = |v: &Value| {
            order
                .iter()
                .position(|o| o.get(key).is_some() && o.get(key) == v.get(key))
                .unwrap_or(usize::MAX)
        };
        have.sort_by_key(rank);
    }
}

fn strip(m: &Map<String, Value>) -> Map<String, Value> {
    m.iter()
        .filter(|(k, _)| !k.starts_with('$'))
        .map(|(k, v)| (k.clone(), strip_value(v)))
        .collect()
}

fn strip_value(v: &Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(strip(m)),
        Value::Array(a) => Value::Array(a.iter().map(strip_value).collect()),
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn ports_merge_by_port_and_keep_the_order_the_patch_sets() {
        let mut doc = json!({"spec": {"ports": [{"port": 80, "name": "http"}, {"port": 443, "name": "https"}]}});
        strategic_merge(
            &mut doc,
            &json!({"spec": {"$setElementOrder/ports": [{"port": 443}, {"port": 80}],
                "ports": [{"port": 443, "targetPort": 8443}]}}),
        );
        assert_eq!(
            doc["spec"]["ports"],
            json!([{"port": 443, "name": "https", "targetPort": 8443}, {"port": 80, "name": "http"}])
        );
    }

    #[test]
    fn delete_directive_and_null_remove() {
        let mut doc = json!({"metadata": {"labels": {"a": "1", "b": "2"}}, "spec": {"ports": [{"port": 80}, {"port": 81}]}});
        strategic_merge(
            &mut doc,
            &json!({"metadata": {"labels": {"a": null}}, "spec": {"ports": [{"port": 81, "$patch": "delete"}]}}),
        );
        assert_eq!(
            doc,
            json!({"metadata": {"labels": {"b": "2"}}, "spec": {"ports": [{"port": 80}]}})
        );
    }

    #[test]
    fn atomic_lists_are_replaced() {
        let mut doc =
            json!({"endpoints": [{"addresses": ["10.0.0.1"]}, {"addresses": ["10.0.0.2"]}]});
        strategic_merge(
            &mut doc,
            &json!({"endpoints": [{"addresses": ["10.0.0.3"]}]}),
        );
        assert_eq!(doc, json!({"endpoints": [{"addresses": ["10.0.0.3"]}]}));
    }
}
