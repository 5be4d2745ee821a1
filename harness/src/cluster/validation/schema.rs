//! Validates custom resources against a CRD's structural schema, as the
//! apiextensions apiserver does with kube-openapi: prunes unknown fields,
//! then checks types, enums, lengths, counts, patterns, formats and
//! required fields, with the apiserver's words for each.
//!
//! Only the keywords CRDs like mcs-api's use are read (no crate checks
//! structural schemas with Kubernetes' messages). A keyword outside that
//! set is listed in [`Schema::unchecked`], so a caller can say that some
//! rules are not enforced rather than enforce them wrongly.
//!
//! Errors come in kube-openapi's order for one value: type, string rules,
//! format, number bounds, list items then list size, enum, then an
//! object's properties and its required fields. kube-openapi walks
//! properties in Go map order (random); here they go in name order.

use std::collections::{BTreeMap, BTreeSet};

use regex::Regex;
use serde_json::Value;

use super::field::{BadValue, FieldError, Path};

/// One node of a structural schema.
#[derive(Clone, Debug, Default)]
pub struct Schema {
    type_: Option<String>,
    properties: BTreeMap<String, Schema>,
    additional: Option<Box<Schema>>,
    items: Option<Box<Schema>>,
    required: Vec<String>,
    enum_: Vec<Value>,
    max_items: Option<usize>,
    min_items: Option<usize>,
    max_length: Option<usize>,
    min_length: Option<usize>,
    minimum: Option<f64>,
    maximum: Option<f64>,
    pattern: Option<(String, Regex)>,
    /// Only `date-time`: the apiserver strips formats it does not check
    /// (`int32`, `int64`, ...), and these CRDs use no other it checks.
    date_time: bool,
    nullable: bool,
    preserve_unknown: bool,
    list_type: Option<String>,
    list_map_keys: Vec<String>,
    /// Keywords read but not checked, with the paths that use them.
    unchecked: BTreeSet<String>,
}

/// Why a schema could not be read.
#[derive(Debug, thiserror::Error)]
pub enum SchemaError {
    /// A keyword's value has the wrong shape.
    #[error("{path}: {keyword} is not {wanted}")]
    Shape {
        /// Where in the schema.
        path: String,
        /// The keyword.
        keyword: String,
        /// What it should be.
        wanted: &'static str,
    },
    /// A pattern is not a regular expression.
    #[error("{path}: pattern {pattern:?}: {source}")]
    Pattern {
        /// Where in the schema.
        path: String,
        /// The pattern.
        pattern: String,
        /// The cause.
        source: regex::Error,
    },
}

/// Keywords that carry no rule (documentation, or handled elsewhere).
const INERT: &[&str] = &["description", "title", "example", "externalDocs", "$schema"];

impl Schema {
    /// Reads a schema node (`openAPIV3Schema` or one below it).
    pub fn parse(v: &Value) -> Result<Schema, SchemaError> {
        Schema::parse_at(v, "openAPIV3Schema")
    }

    fn parse_at(v: &Value, at: &str) -> Result<Schema, SchemaError> {
        let shape = |keyword: &str, wanted| SchemaError::Shape {
            path: at.to_owned(),
            keyword: keyword.to_owned(),
            wanted,
        };
        let Some(map) = v.as_object() else {
            return Err(shape("the schema", "an object"));
        };
        let mut s = Schema::default();
        let count = |k: &str| -> Result<Option<usize>, SchemaError> {
            map.get(k)
                .map(|n| {
                    n.as_u64()
                        .and_then(|n| usize::try_from(n).ok())
                        .ok_or_else(|| shape(k, "a count"))
                })
                .transpose()
        };
        let number = |k: &str| -> Result<Option<f64>, SchemaError> {
            map.get(k)
                .map(|n| n.as_f64().ok_or_else(|| shape(k, "a number")))
                .transpose()
        };
        for (k, val) in map {
            match k.as_str() {
                "type" => s.type_ = Some(val.as_str().ok_or_else(|| shape(k, "a string"))?.into()),
                "properties" => {
                    let props = val.as_object().ok_or_else(|| shape(k, "an object"))?;
                    for (name, p) in props {
                        let child = Schema::parse_at(p, &format!("{at}.properties.{name}"))?;
                        s.unchecked.extend(child.unchecked.iter().cloned());
                        s.properties.insert(name.clone(), child);
                    }
                }
                "additionalProperties" => match val {
                    Value::Bool(_) => {}
                    _ => {
                        let child = Schema::parse_at(val, &format!("{at}.additionalProperties"))?;
                        s.unchecked.extend(child.unchecked.iter().cloned());
                        s.additional = Some(Box::new(child));
                    }
                },
                "items" => {
                    let child = Schema::parse_at(val, &format!("{at}.items"))?;
                    s.unchecked.extend(child.unchecked.iter().cloned());
                    s.items = Some(Box::new(child));
                }
                "required" => {
                    s.required = val
                        .as_array()
                        .ok_or_else(|| shape(k, "a list"))?
                        .iter()
                        .filter_map(|r| r.as_str().map(str::to_owned))
                        .collect();
                }
                "enum" => s.enum_ = val.as_array().ok_or_else(|| shape(k, "a list"))?.clone(),
                "maxItems" => s.max_items = count(k)?,
                "minItems" => s.min_items = count(k)?,
                "maxLength" => s.max_length = count(k)?,
                "minLength" => s.min_length = count(k)?,
                "minimum" => s.minimum = number(k)?,
                "maximum" => s.maximum = number(k)?,
                "pattern" => {
                    let p = val.as_str().ok_or_else(|| shape(k, "a string"))?;
                    let re = Regex::new(p).map_err(|source| SchemaError::Pattern {
                        path: at.to_owned(),
                        pattern: p.to_owned(),
                        source,
                    })?;
                    s.pattern = Some((p.to_owned(), re));
                }
                "format" => {
                    let f = val.as_str().ok_or_else(|| shape(k, "a string"))?;
                    match f.replace('-', "").as_str() {
                        "datetime" => s.date_time = true,
                        // Stripped by the apiserver (int32, int64, float...).
                        "int32" | "int64" | "float" | "double" => {}
                        other => {
                            s.unchecked.insert(format!("{at}: format {other}"));
                        }
                    }
                }
                "nullable" => s.nullable = val.as_bool().unwrap_or(false),
                "x-kubernetes-preserve-unknown-fields" => {
                    s.preserve_unknown = val.as_bool().unwrap_or(false);
                }
                "x-kubernetes-list-type" => {
                    s.list_type = Some(val.as_str().ok_or_else(|| shape(k, "a string"))?.into());
                }
                "x-kubernetes-list-map-keys" => {
                    s.list_map_keys = val
                        .as_array()
                        .ok_or_else(|| shape(k, "a list"))?
                        .iter()
                        .filter_map(|r| r.as_str().map(str::to_owned))
                        .collect();
                }
                k if INERT.contains(&k) => {}
                other => {
                    s.unchecked.insert(format!("{at}: {other}"));
                }
            }
        }
        Ok(s)
    }

    /// The keywords this schema uses that are not checked, with where.
    pub fn unchecked(&self) -> impl Iterator<Item = &str> {
        self.unchecked.iter().map(String::as_str)
    }

    /// The schema of one top-level property.
    pub fn property(&self, name: &str) -> Option<&Schema> {
        self.properties.get(name)
    }

    /// Drops every field the schema does not know, and nulls in fields that
    /// are not nullable, returning the paths of the unknown fields (sorted)
    /// as the apiserver's pruning reports them (`spec.bogus`).
    ///
    /// `metadata`, `apiVersion` and `kind` are the apiserver's own to
    /// check; inside `metadata` nothing is pruned here.
    pub fn prune(&self, v: &mut Value) -> Vec<String> {
        let mut out = Vec::new();
        self.prune_at(v, &Path::new(""), true, &mut out);
        out.sort();
        out
    }

    fn prune_at(&self, v: &mut Value, at: &Path, root: bool, out: &mut Vec<String>) {
        match v {
            Value::Object(map) => {
                if self.preserve_unknown && self.properties.is_empty() && self.additional.is_none()
                {
                    return;
                }
                let keys: Vec<String> = map.keys().cloned().collect();
                for k in keys {
                    if root && matches!(k.as_str(), "apiVersion" | "kind" | "metadata") {
                        continue;
                    }
                    let child = self.properties.get(&k).or(self.additional.as_deref());
                    match child {
                        Some(c) => {
                            if map.get(&k).is_some_and(Value::is_null) && !c.nullable {
                                map.remove(&k);
                                continue;
                            }
                            if let Some(value) = map.get_mut(&k) {
                                c.prune_at(value, &at.child(&k), false, out);
                            }
                        }
                        None if self.preserve_unknown => {}
                        None => {
                            map.remove(&k);
                            out.push(at.child(&k).to_string());
                        }
                    }
                }
            }
            Value::Array(items) => {
                if let Some(item) = &self.items {
                    for (i, value) in items.iter_mut().enumerate() {
                        item.prune_at(value, &at.index(i), false, out);
                    }
                }
            }
            _ => {}
        }
    }

    /// Every rule `v` breaks, in the apiserver's order: the schema's
    /// rules, then (a pass of its own there too) list-type uniqueness.
    pub fn validate(&self, v: &Value) -> Vec<FieldError> {
        let mut out = Vec::new();
        self.validate_at(v, &Path::new(""), &mut out);
        self.lists_at(v, &Path::new(""), &mut out);
        out
    }

    /// The list-type pass: every list under `v`, depth first.
    fn lists_at(&self, v: &Value, at: &Path, out: &mut Vec<FieldError>) {
        match v {
            Value::Array(items) => {
                out.extend(self.check_list_type(items, at));
                if let Some(item) = &self.items {
                    for (i, value) in items.iter().enumerate() {
                        item.lists_at(value, &at.index(i), out);
                    }
                }
            }
            Value::Object(map) => {
                for (k, value) in map {
                    let child = self.properties.get(k).or(self.additional.as_deref());
                    if let Some(c) = child {
                        c.lists_at(value, &at.child(k), out);
                    }
                }
            }
            _ => {}
        }
    }

    fn validate_at(&self, v: &Value, at: &Path, out: &mut Vec<FieldError>) {
        if v.is_null() {
            if let Some(t) = &self.type_
                && !self.nullable
            {
                out.push(type_error(at, t, "null"));
            }
            return;
        }
        if let Some(t) = &self.type_
            && !type_matches(t, v)
        {
            out.push(type_error(at, t, json_type(v)));
        }
        match v {
            Value::String(s) => self.check_string(s, at, out),
            Value::Number(n) => self.check_number(n, v, at, out),
            Value::Array(items) => self.check_list(items, at, out),
            _ => {}
        }
        if !self.enum_.is_empty() && !self.enum_.contains(v) {
            let supported: Vec<String> = self
                .enum_
                .iter()
                .map(|e| match e {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                })
                .collect();
            let supported: Vec<&str> = supported.iter().map(String::as_str).collect();
            out.push(FieldError::not_supported(at, bad_value(v), &supported));
        }
        if let Value::Object(map) = v {
            for (k, value) in map {
                if !self.properties.contains_key(k)
                    && let Some(a) = &self.additional
                {
                    a.validate_at(value, &at.child(k), out);
                }
            }
            for (k, p) in &self.properties {
                if let Some(value) = map.get(k) {
                    p.validate_at(value, &at.child(k), out);
                }
            }
            for r in &self.required {
                if !map.contains_key(r) {
                    out.push(FieldError::required(&at.child(r), ""));
                }
            }
        }
    }

    /// maxLength, else minLength, else pattern (kube-openapi stops at the
    /// first), then the format.
    fn check_string(&self, s: &str, at: &Path, out: &mut Vec<FieldError>) {
        let chars = s.chars().count();
        if let Some(max) = self.max_length
            && chars > max
        {
            out.push(FieldError::too_long(at, count(max)));
        } else if let Some(min) = self.min_length
            && chars < min
        {
            out.push(FieldError::invalid(
                at,
                s,
                format!("{at} in body should be at least {min} chars long"),
            ));
        } else if let Some((p, re)) = &self.pattern
            && !re.is_match(s)
        {
            out.push(FieldError::invalid(
                at,
                s,
                format!("{at} in body should match '{p}'"),
            ));
        }
        if self.date_time && !is_date_time(s) {
            out.push(FieldError::type_invalid(
                at,
                s,
                format!(
                    "{at} in body must be of type date-time: {}",
                    super::field::go_quote(s)
                ),
            ));
        }
    }

    fn check_number(
        &self,
        n: &serde_json::Number,
        v: &Value,
        at: &Path,
        out: &mut Vec<FieldError>,
    ) {
        let x = n.as_f64().unwrap_or_default();
        if let Some(min) = self.minimum
            && x < min
        {
            out.push(FieldError::invalid(
                at,
                bad_value(v),
                format!("{at} in body should be greater than or equal to {min}"),
            ));
        }
        if let Some(max) = self.maximum
            && x > max
        {
            out.push(FieldError::invalid(
                at,
                bad_value(v),
                format!("{at} in body should be less than or equal to {max}"),
            ));
        }
    }

    fn check_list(&self, items: &[Value], at: &Path, out: &mut Vec<FieldError>) {
        if let Some(item) = &self.items {
            for (i, value) in items.iter().enumerate() {
                item.validate_at(value, &at.index(i), out);
            }
        }
        if let Some(min) = self.min_items
            && items.len() < min
        {
            out.push(FieldError::invalid(
                at,
                count(items.len()),
                format!("{at} in body should have at least {min} items"),
            ));
        }
        if let Some(max) = self.max_items
            && items.len() > max
        {
            out.push(FieldError::too_many(at, items.len(), count(max)));
        }
    }

    /// `x-kubernetes-list-type`: a `set` holds each value once, a `map`
    /// each key once (structurallisttype's `Duplicate value`).
    fn check_list_type(&self, items: &[Value], at: &Path) -> Vec<FieldError> {
        let mut out = Vec::new();
        match self.list_type.as_deref() {
            Some("set") => {
                for (i, v) in items.iter().enumerate() {
                    if items[..i].contains(v) {
                        out.push(FieldError::duplicate(&at.index(i), bad_value(v)));
                    }
                }
            }
            Some("map") => {
                let key_of = |v: &Value| -> Option<serde_json::Map<String, Value>> {
                    let obj = v.as_object()?;
                    Some(
                        self.list_map_keys
                            .iter()
                            .filter_map(|k| obj.get(k).map(|x| (k.clone(), x.clone())))
                            .collect(),
                    )
                };
                let keys: Vec<_> = items.iter().map(key_of).collect();
                for (i, k) in keys.iter().enumerate() {
                    match k {
                        None => out.push(FieldError::invalid(
                            &at.index(i),
                            bad_value(&items[i]),
                            "must be an object for an array of list-type map",
                        )),
                        Some(k) if keys[..i].iter().any(|o| o.as_ref() == Some(k)) => {
                            out.push(FieldError::duplicate(
                                &at.index(i),
                                BadValue::Json(Value::Object(k.clone())),
                            ));
                        }
                        Some(_) => {}
                    }
                }
            }
            _ => {}
        }
        out
    }
}

fn count(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// The JSON type of a value, as go-openapi names it.
fn json_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_f64() => "number",
        Value::Number(_) => "integer",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// Whether `v` has type `t` (an integral float counts as an integer, an
/// integer as a number, as in kube-openapi).
fn type_matches(t: &str, v: &Value) -> bool {
    match (t, v) {
        ("integer", Value::Number(n)) => {
            n.is_i64() || n.is_u64() || n.as_f64().is_some_and(|f| f.fract() == 0.0)
        }
        ("number", Value::Number(_)) => true,
        _ => json_type(v) == t,
    }
}

fn type_error(at: &Path, wanted: &str, got: &str) -> FieldError {
    FieldError::type_invalid(
        at,
        got,
        format!("{at} in body must be of type {wanted}: \"{got}\""),
    )
}

/// A value as an error shows it.
fn bad_value(v: &Value) -> BadValue {
    match v {
        Value::String(s) => BadValue::Str(s.clone()),
        Value::Number(n) if n.is_i64() => BadValue::Int(n.as_i64().unwrap_or_default()),
        other => BadValue::Json(other.clone()),
    }
}

/// RFC 3339, as strfmt's `date-time` reads it.
fn is_date_time(s: &str) -> bool {
    s.parse::<k8s_openapi::jiff::Timestamp>().is_ok()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn schema() -> Schema {
        Schema::parse(&json!({
            "type": "object",
            "properties": {
                "spec": {
                    "type": "object",
                    "required": ["ports", "type"],
                    "properties": {
                        "type": {"type": "string", "enum": ["ClusterSetIP", "Headless"]},
                        "ips": {"type": "array", "maxItems": 2, "items": {"type": "string"}},
                        "ports": {"type": "array", "x-kubernetes-list-type": "atomic", "items": {
                            "type": "object", "required": ["port"],
                            "properties": {"port": {"type": "integer", "format": "int32"}, "name": {"type": "string"}}
                        }},
                        "labels": {"type": "object", "additionalProperties": {"type": "string"}}
                    }
                },
                "status": {"type": "object", "properties": {"conditions": {
                    "type": "array", "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["type"],
                    "items": {"type": "object", "properties": {
                        "type": {"type": "string", "maxLength": 3},
                        "reason": {"type": "string", "minLength": 1, "pattern": "^[A-Z]"},
                        "at": {"type": "string", "format": "date-time"},
                        "gen": {"type": "integer", "minimum": 0}
                    }}
                }}}
            }
        }))
        .unwrap()
    }

    fn messages(v: Value) -> Vec<String> {
        schema()
            .validate(&v)
            .iter()
            .map(ToString::to_string)
            .collect()
    }

    #[test]
    fn each_rule_reads_as_the_apiservers() {
        assert_eq!(
            messages(json!({"spec": {}})),
            ["spec.ports: Required value", "spec.type: Required value"]
        );
        assert_eq!(
            messages(
                json!({"spec": {"type": "LoadBalancer", "ports": [{}], "ips": ["a", "b", "c"]}})
            ),
            [
                "spec.ips: Too many: 3: must have at most 2 items",
                "spec.ports[0].port: Required value",
                r#"spec.type: Unsupported value: "LoadBalancer": supported values: "ClusterSetIP", "Headless""#,
            ]
        );
        assert_eq!(
            messages(
                json!({"spec": {"type": "Headless", "ports": [{"port": "80", "name": 1}], "labels": {"a": 1}}})
            ),
            [
                r#"spec.labels.a: Invalid value: "integer": spec.labels.a in body must be of type string: "integer""#,
                r#"spec.ports[0].name: Invalid value: "integer": spec.ports[0].name in body must be of type string: "integer""#,
                r#"spec.ports[0].port: Invalid value: "string": spec.ports[0].port in body must be of type integer: "string""#,
            ]
        );
        assert_eq!(
            messages(json!({"spec": {"type": "Headless", "ports": [{"port": 70000}]}})),
            Vec::<String>::new(),
            "format int32 is stripped, as the apiserver strips it"
        );
        assert_eq!(
            messages(json!({"status": {"conditions": [
                {"type": "Ready", "reason": "", "at": "now", "gen": -1},
                {"type": "A", "reason": "ok"},
                {"type": "A"}
            ]}})),
            [
                r#"status.conditions[0].at: Invalid value: "now": status.conditions[0].at in body must be of type date-time: "now""#,
                "status.conditions[0].gen: Invalid value: -1: status.conditions[0].gen in body should be greater than or equal to 0",
                r#"status.conditions[0].reason: Invalid value: "": status.conditions[0].reason in body should be at least 1 chars long"#,
                "status.conditions[0].type: Too long: may not be more than 3 bytes",
                r#"status.conditions[1].reason: Invalid value: "ok": status.conditions[1].reason in body should match '^[A-Z]'"#,
                r#"status.conditions[2]: Duplicate value: {"type":"A"}"#,
            ]
        );
    }

    #[test]
    fn unknown_fields_are_pruned_and_named_and_nulls_dropped() {
        let mut v = json!({"apiVersion": "x/v1", "kind": "K", "metadata": {"name": "a", "odd": 1},
            "bogus": 1, "spec": {"type": null, "extra": {"deep": 1}, "ports": [{"port": 1, "x": 2}]}});
        let pruned = schema().prune(&mut v);
        assert_eq!(pruned, ["bogus", "spec.extra", "spec.ports[0].x"]);
        assert_eq!(
            v,
            json!({"apiVersion": "x/v1", "kind": "K", "metadata": {"name": "a", "odd": 1},
                "spec": {"ports": [{"port": 1}]}})
        );
    }

    #[test]
    fn keywords_outside_the_subset_are_listed_not_ignored_silently() {
        let s = Schema::parse(&json!({"type": "object", "properties": {
            "a": {"type": "string", "x-kubernetes-validations": [{"rule": "self != ''"}]}}}))
        .unwrap();
        assert_eq!(
            s.unchecked().collect::<Vec<_>>(),
            ["openAPIV3Schema.properties.a: x-kubernetes-validations"]
        );
    }
}
