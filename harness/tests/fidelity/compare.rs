//! Turns a reply into what clients read of it, and lists where two
//! servers' replies differ.

use regex::Regex;
use serde_json::{Map, Value, json};

use crate::server::Reply;

/// Metadata only the server keeps (or that differs by nature between two
/// servers): never compared.
const BOOKKEEPING: [&str; 6] = [
    "resourceVersion",
    "uid",
    "creationTimestamp",
    "managedFields",
    "generation",
    "selfLink",
];

/// What clients read of a reply.
pub fn view(reply: &Reply) -> Value {
    let mut v = Map::new();
    v.insert("code".into(), json!(reply.code));
    if let Some(body) = &reply.body {
        match body["kind"].as_str() {
            Some("Status") => {
                v.insert("reason".into(), body["reason"].clone());
                v.insert(
                    "message".into(),
                    json!(words(body["message"].as_str().unwrap_or_default())),
                );
                let mut details = body["details"].clone();
                if let Some(d) = details.as_object_mut() {
                    d.remove("uid");
                    d.remove("retryAfterSeconds");
                    if let Some(Value::Array(causes)) = d.get_mut("causes") {
                        for c in causes.iter_mut() {
                            if let Some(m) = c["message"].as_str().map(words) {
                                c["message"] = json!(m);
                            }
                        }
                    }
                }
                v.insert("details".into(), details);
            }
            Some(kind) if kind.ends_with("List") => {
                v.insert("kind".into(), json!(kind));
                v.insert("apiVersion".into(), body["apiVersion"].clone());
                let mut names: Vec<String> = body["items"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(name_of)
                    .collect();
                names.sort();
                v.insert("items".into(), json!(names));
            }
            Some(_) => {
                v.insert("object".into(), object(body));
            }
            None => {
                v.insert("body".into(), body.clone());
            }
        }
    }
    if let Some(events) = &reply.events {
        v.insert(
            "events".into(),
            Value::Array(events.iter().map(event).collect()),
        );
    }
    if !reply.warnings.is_empty() {
        let mut w: Vec<String> = reply.warnings.iter().map(|w| words(w)).collect();
        w.sort();
        v.insert("warnings".into(), json!(w));
    }
    Value::Object(v)
}

/// `namespace/name` (or `name`), generated suffixes masked.
fn name_of(o: &Value) -> String {
    let meta = &o["metadata"];
    let name = match meta["generateName"].as_str() {
        Some(prefix) => format!("{prefix}*"),
        None => meta["name"].as_str().unwrap_or_default().to_owned(),
    };
    match meta["namespace"].as_str() {
        Some(ns) => format!("{ns}/{name}"),
        None => name,
    }
}

/// An object without the server's bookkeeping.
fn object(o: &Value) -> Value {
    let mut o = o.clone();
    if let Some(meta) = o["metadata"].as_object_mut() {
        for k in BOOKKEEPING {
            meta.remove(k);
        }
        if meta.contains_key("deletionTimestamp") {
            meta.insert("deletionTimestamp".into(), json!("(set)"));
        }
        if let Some(prefix) = meta.get("generateName").and_then(Value::as_str) {
            let masked = format!("{prefix}*");
            meta.insert("name".into(), json!(masked));
        }
        // Annotations the server or kubectl adds for itself.
        if let Some(Value::Object(a)) = meta.get_mut("annotations") {
            a.remove("kubectl.kubernetes.io/last-applied-configuration");
            if a.is_empty() {
                meta.remove("annotations");
            }
        }
    }
    o
}

/// One watch event as a client sees it.
fn event(e: &Value) -> Value {
    let t = e["type"].as_str().unwrap_or_default();
    let o = &e["object"];
    match t {
        "ERROR" => json!({"type": t, "code": o["code"], "reason": o["reason"],
            "message": words(o["message"].as_str().unwrap_or_default())}),
        "BOOKMARK" => json!({"type": t, "kind": o["kind"],
            "annotations": o["metadata"]["annotations"]}),
        _ => json!({"type": t, "kind": o["kind"], "name": name_of(o),
            "labels": o["metadata"]["labels"]}),
    }
}

/// A message with the numbers that are each server's own masked:
/// resourceVersions and generated names.
pub fn words(text: &str) -> String {
    let rv = Regex::new(r"(?i)(resource ?version[^0-9]{0,4})\d+").expect("regex");
    let paren = Regex::new(r"\(\d+\)").expect("regex");
    let current = Regex::new(r"current: \d+").expect("regex");
    let generated = Regex::new(r"\bgen-[a-z0-9]{5}\b").expect("regex");
    let text = rv.replace_all(text, "${1}N");
    let text = paren.replace_all(&text, "(N)");
    let text = current.replace_all(&text, "current: N");
    generated.replace_all(&text, "gen-*").into_owned()
}

/// Where two views differ: (path, emulator's value, real server's value).
pub fn differences(emulator: &Value, real: &Value) -> Vec<(String, Value, Value)> {
    let mut out = Vec::new();
    walk("", emulator, real, &mut out);
    out
}

fn walk(path: &str, a: &Value, b: &Value, out: &mut Vec<(String, Value, Value)>) {
    let child = |k: &str| {
        if path.is_empty() {
            k.to_owned()
        } else {
            format!("{path}/{k}")
        }
    };
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            let keys: std::collections::BTreeSet<&String> = x.keys().chain(y.keys()).collect();
            for k in keys {
                let (va, vb) = (
                    x.get(k).unwrap_or(&Value::Null),
                    y.get(k).unwrap_or(&Value::Null),
                );
                walk(&child(k), va, vb, out);
            }
        }
        (Value::Array(x), Value::Array(y)) if x.len() == y.len() => {
            for (i, (va, vb)) in x.iter().zip(y).enumerate() {
                walk(&child(&i.to_string()), va, vb, out);
            }
        }
        _ if a != b => out.push((path.to_owned(), a.clone(), b.clone())),
        _ => {}
    }
}
