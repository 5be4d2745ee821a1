//! Words field errors as kube-apiserver does (apimachinery's `field.Error`)
//! and the 422 `Invalid` status that carries them.
//!
//! Clients match on these strings (kubectl prints the message, controllers
//! read `details.causes[].reason`), so each part is worded as
//! `k8s.io/apimachinery/pkg/util/validation/field/errors.go` and
//! `pkg/api/errors.NewInvalid` word it in v0.34.

use std::fmt;

use serde_json::{Value, json};

use crate::cluster::status::ApiError;

/// Why a field is wrong: the API's `CauseType`s.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorType {
    /// `FieldValueRequired`: "Required value".
    Required,
    /// `FieldValueInvalid`: "Invalid value".
    Invalid,
    /// `FieldValueTypeInvalid`: a value of the wrong JSON type.
    TypeInvalid,
    /// `FieldValueNotSupported`: not one of an enum's values.
    NotSupported,
    /// `FieldValueDuplicate`: a value that must be unique is not.
    Duplicate,
    /// `FieldValueTooMany`: a list longer than allowed.
    TooMany,
    /// `FieldValueTooLong`: a string longer than allowed.
    TooLong,
    /// `FieldValueForbidden`: a value not allowed here.
    Forbidden,
}

impl ErrorType {
    /// The cause's `reason`.
    pub fn reason(self) -> &'static str {
        match self {
            ErrorType::Required => "FieldValueRequired",
            ErrorType::Invalid => "FieldValueInvalid",
            ErrorType::TypeInvalid => "FieldValueTypeInvalid",
            ErrorType::NotSupported => "FieldValueNotSupported",
            ErrorType::Duplicate => "FieldValueDuplicate",
            ErrorType::TooMany => "FieldValueTooMany",
            ErrorType::TooLong => "FieldValueTooLong",
            ErrorType::Forbidden => "FieldValueForbidden",
        }
    }

    /// The words that open the message.
    fn words(self) -> &'static str {
        match self {
            ErrorType::Required => "Required value",
            ErrorType::Invalid | ErrorType::TypeInvalid => "Invalid value",
            ErrorType::NotSupported => "Unsupported value",
            ErrorType::Duplicate => "Duplicate value",
            ErrorType::TooMany => "Too many",
            ErrorType::TooLong => "Too long",
            ErrorType::Forbidden => "Forbidden",
        }
    }

    /// Whether the message shows the bad value (Go's `ErrorBody` shows it
    /// for these types only).
    fn shows_value(self) -> bool {
        !matches!(
            self,
            ErrorType::Required | ErrorType::Forbidden | ErrorType::TooLong
        )
    }
}

/// The bad value an error shows, printed as Go prints it: a string quoted
/// (`%q`), a number plainly, anything else as JSON.
#[derive(Clone, Debug, PartialEq)]
pub enum BadValue {
    /// A string.
    Str(String),
    /// An integer.
    Int(i64),
    /// Any other value (lists, objects), shown as JSON.
    Json(Value),
    /// A value already printed (Go's JSON of a struct, in field order).
    Shown(String),
}

impl BadValue {
    fn show(&self) -> String {
        match self {
            BadValue::Str(s) => go_quote(s),
            BadValue::Int(n) => n.to_string(),
            BadValue::Json(Value::String(s)) => go_json_string(s),
            BadValue::Json(v) => html_escape(&v.to_string()),
            BadValue::Shown(s) => s.clone(),
        }
    }
}

impl From<&str> for BadValue {
    fn from(s: &str) -> Self {
        BadValue::Str(s.to_owned())
    }
}

impl From<String> for BadValue {
    fn from(s: String) -> Self {
        BadValue::Str(s)
    }
}

impl From<i64> for BadValue {
    fn from(n: i64) -> Self {
        BadValue::Int(n)
    }
}

/// A field path as the API prints it: `spec.ports[0].port`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Path(String);

impl Path {
    /// A path from its first field.
    pub fn new(root: &str) -> Path {
        Path(root.to_owned())
    }

    /// The path of a field under this one.
    pub fn child(&self, name: &str) -> Path {
        if self.0.is_empty() {
            Path::new(name)
        } else {
            Path(format!("{}.{name}", self.0))
        }
    }

    /// The path of a list item.
    pub fn index(&self, i: usize) -> Path {
        Path(format!("{}[{i}]", self.0))
    }

    /// The path of a map entry (`metadata.labels[app]`).
    pub fn key(&self, k: &str) -> Path {
        Path(format!("{}[{k}]", self.0))
    }
}

impl fmt::Display for Path {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// One field-level error.
#[derive(Clone, Debug, PartialEq)]
pub struct FieldError {
    /// What is wrong.
    pub kind: ErrorType,
    /// Where.
    pub field: String,
    /// The value shown, if the type shows one.
    pub value: Option<BadValue>,
    /// The explanation after the value.
    pub detail: String,
}

impl FieldError {
    fn new(kind: ErrorType, field: &Path, value: Option<BadValue>, detail: String) -> FieldError {
        FieldError {
            kind,
            field: field.to_string(),
            value,
            detail,
        }
    }

    /// A missing value.
    pub fn required(field: &Path, detail: &str) -> FieldError {
        FieldError::new(ErrorType::Required, field, None, detail.to_owned())
    }

    /// A malformed value.
    pub fn invalid(field: &Path, value: impl Into<BadValue>, detail: impl Into<String>) -> Self {
        FieldError::new(ErrorType::Invalid, field, Some(value.into()), detail.into())
    }

    /// A value of the wrong JSON type.
    pub fn type_invalid(field: &Path, value: impl Into<BadValue>, detail: String) -> Self {
        FieldError::new(ErrorType::TypeInvalid, field, Some(value.into()), detail)
    }

    /// A value outside an enum: "supported values" lists each quoted.
    pub fn not_supported(field: &Path, value: impl Into<BadValue>, supported: &[&str]) -> Self {
        let detail = if supported.is_empty() {
            String::new()
        } else {
            let quoted: Vec<String> = supported.iter().map(|s| go_quote(s)).collect();
            format!("supported values: {}", quoted.join(", "))
        };
        FieldError::new(ErrorType::NotSupported, field, Some(value.into()), detail)
    }

    /// A value that must be unique and is not.
    pub fn duplicate(field: &Path, value: impl Into<BadValue>) -> FieldError {
        FieldError::new(
            ErrorType::Duplicate,
            field,
            Some(value.into()),
            String::new(),
        )
    }

    /// A list with `actual` items where `max` are allowed.
    pub fn too_many(field: &Path, actual: usize, max: i64) -> FieldError {
        let items = if max == 1 { "item" } else { "items" };
        FieldError::new(
            ErrorType::TooMany,
            field,
            Some(BadValue::Int(i64::try_from(actual).unwrap_or(i64::MAX))),
            format!("must have at most {max} {items}"),
        )
    }

    /// A string longer than `max` bytes (the value is never shown).
    pub fn too_long(field: &Path, max: i64) -> FieldError {
        let bytes = if max == 1 { "byte" } else { "bytes" };
        FieldError::new(
            ErrorType::TooLong,
            field,
            None,
            format!("may not be more than {max} {bytes}"),
        )
    }

    /// A value not allowed here.
    pub fn forbidden(field: &Path, detail: &str) -> FieldError {
        FieldError::new(ErrorType::Forbidden, field, None, detail.to_owned())
    }

    /// The message without the field (Go's `ErrorBody`), as a cause's
    /// `message`.
    pub fn body(&self) -> String {
        let mut s = self.kind.words().to_owned();
        if self.kind.shows_value()
            && let Some(v) = &self.value
        {
            s.push_str(": ");
            s.push_str(&v.show());
        }
        if !self.detail.is_empty() {
            s.push_str(": ");
            s.push_str(&self.detail);
        }
        s
    }
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.body())
    }
}

/// An object the API refuses, with every reason: a 422 `Invalid`.
#[derive(Clone, Debug, PartialEq)]
pub struct Invalid {
    /// The API group (`""` for core).
    pub group: String,
    /// The kind.
    pub kind: String,
    /// The object's name.
    pub name: String,
    /// What is wrong, in the order the API server finds it.
    pub errors: Vec<FieldError>,
}

impl Invalid {
    /// `ServiceImport.multicluster.x-k8s.io "orphan" is invalid: ...`: one
    /// error alone, several in brackets, each distinct message once.
    pub fn message(&self) -> String {
        let qualified = if self.group.is_empty() {
            self.kind.clone()
        } else {
            format!("{}.{}", self.kind, self.group)
        };
        let mut seen: Vec<String> = Vec::new();
        for e in &self.errors {
            let m = e.to_string();
            if !seen.contains(&m) {
                seen.push(m);
            }
        }
        let head = format!("{qualified} {} is invalid", go_quote(&self.name));
        match seen.len() {
            0 => head,
            1 => format!("{head}: {}", seen[0]),
            _ => format!("{head}: [{}]", seen.join(", ")),
        }
    }

    /// The 422 the API server answers, with a cause per error.
    pub fn to_api_error(&self) -> ApiError {
        let causes: Vec<Value> = self
            .errors
            .iter()
            .map(|e| json!({"reason": e.kind.reason(), "message": e.body(), "field": e.field}))
            .collect();
        let mut details = json!({"name": self.name, "kind": self.kind, "causes": causes});
        if !self.group.is_empty() {
            details["group"] = json!(self.group);
        }
        ApiError::new(422, "Invalid", self.message(), details)
    }
}

impl fmt::Display for Invalid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message())
    }
}

/// A string as Go's `%q` prints it: double-quoted, with `"`, `\` and
/// control characters escaped and other characters kept.
pub fn go_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            '\u{07}' => out.push_str("\\a"),
            '\u{08}' => out.push_str("\\b"),
            '\u{0c}' => out.push_str("\\f"),
            '\u{0b}' => out.push_str("\\v"),
            c if (c as u32) < 0x20 || c == '\u{7f}' => {
                out.push_str(&format!("\\x{:02x}", c as u32));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A string as Go's `json.Marshal` writes it.
fn go_json_string(s: &str) -> String {
    html_escape(&Value::String(s.to_owned()).to_string())
}

/// Go's `json.Marshal` escapes `<`, `>` and `&` for HTML.
fn html_escape(json: &str) -> String {
    json.replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('&', "\\u0026")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_read_as_the_api_servers() {
        let spec = Path::new("spec");
        let cases = [
            (
                FieldError::required(&spec.child("type"), ""),
                "spec.type: Required value",
            ),
            (
                FieldError::not_supported(
                    &spec.child("type"),
                    "LoadBalancer",
                    &["ClusterSetIP", "Headless"],
                ),
                r#"spec.type: Unsupported value: "LoadBalancer": supported values: "ClusterSetIP", "Headless""#,
            ),
            (
                FieldError::too_many(&spec.child("ips"), 3, 2),
                "spec.ips: Too many: 3: must have at most 2 items",
            ),
            (
                FieldError::invalid(
                    &spec.child("ports").index(0).child("port"),
                    0,
                    "must be between 1 and 65535, inclusive",
                ),
                "spec.ports[0].port: Invalid value: 0: must be between 1 and 65535, inclusive",
            ),
            (
                FieldError::invalid(
                    &spec.child("clusterIPs"),
                    BadValue::Json(json!(["10.96.0.10"])),
                    "failed to allocate IP 10.96.0.10: provided IP is already allocated",
                ),
                r#"spec.clusterIPs: Invalid value: ["10.96.0.10"]: failed to allocate IP 10.96.0.10: provided IP is already allocated"#,
            ),
            (
                FieldError::duplicate(
                    &Path::new("ports").index(1).child("name"),
                    BadValue::Json(json!("")),
                ),
                r#"ports[1].name: Duplicate value: """#,
            ),
            (
                FieldError::too_long(&Path::new("status").child("x"), 1),
                "status.x: Too long: may not be more than 1 byte",
            ),
        ];
        for (e, want) in cases {
            assert_eq!(e.to_string(), want);
        }
    }

    #[test]
    fn one_error_stands_alone_and_several_are_bracketed_once_each() {
        let spec = Path::new("spec");
        let mut invalid = Invalid {
            group: "multicluster.x-k8s.io".into(),
            kind: "ServiceImport".into(),
            name: "orphan".into(),
            errors: vec![FieldError::required(&spec.child("type"), "")],
        };
        assert_eq!(
            invalid.message(),
            r#"ServiceImport.multicluster.x-k8s.io "orphan" is invalid: spec.type: Required value"#
        );
        invalid
            .errors
            .insert(0, FieldError::required(&spec.child("ports"), ""));
        invalid
            .errors
            .push(FieldError::required(&spec.child("type"), ""));
        assert_eq!(
            invalid.message(),
            r#"ServiceImport.multicluster.x-k8s.io "orphan" is invalid: [spec.ports: Required value, spec.type: Required value]"#
        );
        let e = invalid.to_api_error();
        assert_eq!((e.code, &e.status["reason"]), (422, &json!("Invalid")));
        assert_eq!(
            e.status["details"]["causes"].as_array().map(Vec::len),
            Some(3)
        );
        assert_eq!(
            e.status["details"]["causes"][0]["reason"],
            "FieldValueRequired"
        );
        assert_eq!(e.status["details"]["causes"][0]["field"], "spec.ports");
        assert_eq!(e.status["details"]["group"], "multicluster.x-k8s.io");
    }

    #[test]
    fn go_quoting_escapes_what_go_escapes() {
        assert_eq!(go_quote("a\"b\\c\nd\u{1}é"), r#""a\"b\\c\nd\x01é""#);
        assert_eq!(
            BadValue::Json(json!(["<&>"])).show(),
            r#"["\u003c\u0026\u003e"]"#
        );
    }
}
