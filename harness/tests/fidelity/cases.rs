//! Reads the exchanges (fixtures/fidelity/cases.yaml) and fills in each
//! server's own saved values.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;
use serde_json::Value;

/// The file: cases run in order.
#[derive(Deserialize)]
pub struct Cases {
    pub cases: Vec<Case>,
}

/// A sequence of exchanges that build on each other.
#[derive(Deserialize)]
pub struct Case {
    pub name: String,
    pub exchanges: Vec<Exchange>,
}

/// Who sends a request.
#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum As {
    /// The administrator (`system:masters`).
    #[default]
    Admin,
    /// A service account with only what the case's RBAC objects grant.
    Reader,
}

/// One request, or one action on the server's history.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Exchange {
    pub id: String,
    #[serde(default, rename = "as")]
    pub who: As,
    #[serde(default)]
    pub method: String,
    #[serde(default)]
    pub path: String,
    #[serde(default)]
    pub query: String,
    #[serde(default)]
    pub content_type: Option<String>,
    #[serde(default)]
    pub body: Option<Value>,
    #[serde(default)]
    pub raw_body: Option<String>,
    /// Values to keep from the reply's body: name → dotted path.
    #[serde(default)]
    pub save: BTreeMap<String, String>,
    #[serde(default)]
    pub watch: Option<WatchRead>,
    #[serde(default)]
    pub until: Option<Until>,
    /// Compact the server's history at its current version.
    #[serde(default)]
    pub compact: bool,
}

/// How much of a watch to read.
#[derive(Clone, Copy, Deserialize)]
pub struct WatchRead {
    pub events: usize,
    pub seconds: u64,
}

/// Repeat until this code, for at most `seconds`.
#[derive(Clone, Copy, Deserialize)]
pub struct Until {
    pub code: u16,
    pub seconds: u64,
}

impl Cases {
    pub fn load(path: &Path) -> Cases {
        let text = std::fs::read_to_string(path).expect("the cases file is readable");
        serde_saphyr::from_str(&text).expect("the cases file is valid")
    }
}

/// `${name}` replaced by the saved value, everywhere in `text`.
pub fn fill(text: &str, saved: &BTreeMap<String, String>) -> String {
    let mut out = text.to_owned();
    for (k, v) in saved {
        out = out.replace(&format!("${{{k}}}"), v);
    }
    out
}

/// `fill` through every string of a JSON value.
pub fn fill_value(v: &Value, saved: &BTreeMap<String, String>) -> Value {
    match v {
        Value::String(s) => Value::String(fill(s, saved)),
        Value::Array(a) => Value::Array(a.iter().map(|x| fill_value(x, saved)).collect()),
        Value::Object(m) => Value::Object(
            m.iter()
                .map(|(k, x)| (k.clone(), fill_value(x, saved)))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// The value at a dotted path (`metadata.resourceVersion`), as text.
pub fn pick(v: &Value, dotted: &str) -> Option<String> {
    let mut at = v;
    for part in dotted.split('.') {
        at = at.get(part)?;
    }
    match at {
        Value::String(s) => Some(s.clone()),
        other => Some(other.to_string()),
    }
}
