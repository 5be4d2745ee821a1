//! Loads plain multi-document Kubernetes YAML into typed objects, with
//! errors that name the file, line, column and field.

use std::path::{Path, PathBuf};

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::crd::{
    ServiceExport, ServiceExportSpec, ServiceExportStatus, ServiceImport, ServiceImportSpec,
    ServiceImportStatus,
};
use super::resource::{Kind, OtherObject, Resource};
use crate::error::SourceError;

/// Where an object came from: a file and the line its document starts on.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Origin {
    /// The file (or a scenario file, for inline manifests).
    pub file: PathBuf,
    /// The 1-based line the document starts on.
    pub line: usize,
}

impl std::fmt::Display for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.file.display(), self.line)
    }
}

/// One document of a manifest file.
#[allow(clippy::large_enum_variant)] // see Resource
#[derive(Clone, Debug, PartialEq)]
pub enum Loaded {
    /// An object of a kind the model uses.
    Resource(Resource, Origin),
    /// An object kept only to be listed.
    Other(OtherObject, Origin),
}

/// A manifest that cannot be loaded, pointing at the offending place.
pub type ManifestError = SourceError;

/// Parses every document of one manifest file.
///
/// `first_line` is the line of `file` where `text` starts (1 for a whole
/// file; later for manifests embedded in a scenario), so that every reported
/// line is a line of `file`.
pub fn parse_manifests(
    file: &Path,
    text: &str,
    first_line: usize,
) -> Result<Vec<Loaded>, ManifestError> {
    let source = Source {
        file,
        text,
        first_line,
    };
    let mut out = Vec::new();
    for doc in source.documents()? {
        if doc.value.is_null() {
            continue;
        }
        out.push(source.load(&doc)?);
    }
    Ok(out)
}

/// The manifest text being parsed, and where it sits in its file.
struct Source<'a> {
    file: &'a Path,
    text: &'a str,
    first_line: usize,
}

/// One YAML document of a manifest, with its own text and where it starts.
struct Document<'a> {
    value: Value,
    /// The document's text, without the `---` that ends it.
    region: &'a str,
    /// The line of the file it starts on.
    line: usize,
    column: usize,
}

impl<'a> Source<'a> {
    /// An error at `line` and `column` of the file: the text is padded so
    /// that the excerpt shown is the file's own line.
    fn error(&self, line: usize, column: usize, msg: String) -> ManifestError {
        let padded = pad(self.text, self.first_line);
        ManifestError::at(self.file, &padded, line, column, msg)
    }

    /// Splits the text into its documents, each with the text it spans,
    /// which the typed decoding reads again to locate its errors.
    fn documents(&self) -> Result<Vec<Document<'a>>, ManifestError> {
        let text = self.text;
        let docs: Vec<serde_saphyr::Spanned<Value>> =
            serde_saphyr::from_multiple(text).map_err(|e| {
                let (line, column) = location(&e);
                self.error(
                    line + self.first_line - 1,
                    column,
                    format!("invalid YAML: {}", short(&e)),
                )
            })?;
        let starts: Vec<usize> = docs
            .iter()
            .map(|d| d.referenced.span().byte_offset().unwrap_or(0) as usize)
            .collect();
        Ok(docs
            .into_iter()
            .enumerate()
            .map(|(i, doc)| {
                let start = starts[i].min(text.len());
                let end = starts
                    .get(i + 1)
                    .copied()
                    .unwrap_or(text.len())
                    .min(text.len());
                Document {
                    region: trim_separator(&text[start..end]),
                    line: self.first_line + doc.referenced.line() as usize - 1,
                    column: doc.referenced.column() as usize,
                    value: doc.value,
                }
            })
            .collect())
    }

    /// Loads one document: a kind the model uses becomes a typed resource,
    /// any other kind is kept as it is, to be listed.
    fn load(&self, doc: &Document<'_>) -> Result<Loaded, ManifestError> {
        let (line, column) = (doc.line, doc.column);
        let origin = Origin {
            file: self.file.to_owned(),
            line,
        };
        let Some(map) = doc.value.as_object() else {
            return Err(self.error(line, column, "a manifest document must be a mapping".into()));
        };
        let api_version = map.get("apiVersion").and_then(Value::as_str);
        let kind_name = map.get("kind").and_then(Value::as_str);
        let (Some(api_version), Some(kind_name)) = (api_version, kind_name) else {
            return Err(self
                .error(line, column, "document has no apiVersion or kind".into())
                .with_hint("every Kubernetes manifest starts with `apiVersion:` and `kind:`"));
        };
        let meta = map.get("metadata").cloned().unwrap_or(Value::Null);
        let name = meta
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        let namespace = meta
            .get("namespace")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        let Some(kind) = Kind::from_name(kind_name) else {
            let other = OtherObject {
                api_version: api_version.to_owned(),
                kind: kind_name.to_owned(),
                name,
                namespace,
                body: doc.value.clone(),
            };
            return Ok(Loaded::Other(other, origin));
        };
        let resource = self.resource(doc, kind, api_version, &name)?;
        Ok(Loaded::Resource(resource, origin))
    }

    /// Checks the apiVersion and name of a known kind, then decodes the
    /// document's own text into it, so that field errors point into it.
    fn resource(
        &self,
        doc: &Document<'_>,
        kind: Kind,
        api_version: &str,
        name: &str,
    ) -> Result<Resource, ManifestError> {
        let (line, column) = (doc.line, doc.column);
        if !kind.api_versions().contains(&api_version) {
            return Err(self
                .error(
                    line,
                    column,
                    format!("{kind} {name}: unknown apiVersion {api_version:?}"),
                )
                .with_hint(format!(
                    "{kind} is served as {}",
                    kind.api_versions().join(" or ")
                )));
        }
        if name.is_empty() {
            return Err(self.error(line, column, format!("{kind}: metadata.name is required")));
        }
        let padded_region = pad(doc.region, line);
        let mut resource =
            decode(kind, &padded_region, line).map_err(|e| self.decode_error(kind, name, e))?;
        if kind.is_namespaced() && resource.metadata().namespace.is_none() {
            resource.metadata_mut().namespace = Some("default".into());
        }
        Ok(resource)
    }

    /// A decoding error, naming the field when serde knows its path, with
    /// the `kubectl explain` that describes it.
    fn decode_error(
        &self,
        kind: Kind,
        name: &str,
        (l, c, path, msg): DecodeError,
    ) -> ManifestError {
        let what = if path.is_empty() || path == "." {
            String::new()
        } else {
            format!("field {path}: ")
        };
        let e = self.error(l, c, format!("{kind} {name}: {what}{msg}"));
        if path.is_empty() || path == "." || path == "?" {
            e.with_hint(format!(
                "`kubectl explain {}` describes every field",
                kind.as_str().to_ascii_lowercase()
            ))
        } else {
            let field: String = path
                .split('.')
                .map(|p| p.split('[').next().unwrap_or(p))
                .collect::<Vec<_>>()
                .join(".");
            e.with_hint(format!(
                "`kubectl explain {}.{field}` describes the field",
                kind.as_str().to_ascii_lowercase()
            ))
        }
    }
}

/// Prefixes `text` with blank lines so that its first line is line `line`.
fn pad(text: &str, line: usize) -> String {
    let mut s = "\n".repeat(line.saturating_sub(1));
    s.push_str(text);
    s
}

/// Drops a trailing `---` separator (and anything after it) from a document's text.
fn trim_separator(region: &str) -> &str {
    let mut cut = region.len();
    let mut offset = 0;
    for l in region.split_inclusive('\n') {
        if l.starts_with("---") && offset > 0 {
            cut = offset;
            break;
        }
        offset += l.len();
    }
    &region[..cut]
}

fn location(e: &serde_saphyr::Error) -> (usize, usize) {
    e.location().map_or((1, 1), |l| {
        (l.line().max(1) as usize, l.column().max(1) as usize)
    })
}

/// The first line of a serde-saphyr message, without its `line N column M:` prefix.
fn short(e: &serde_saphyr::Error) -> String {
    let text = e.to_string();
    let first = text.lines().next().unwrap_or_default();
    let first = first.strip_prefix("error: ").unwrap_or(first);
    match first.find(": ") {
        Some(i) if first.starts_with("line ") => first[i + 2..].to_owned(),
        _ => first.to_owned(),
    }
}

type DecodeError = (usize, usize, String, String);

fn decode(kind: Kind, text: &str, doc_line: usize) -> Result<Resource, DecodeError> {
    Ok(match kind {
        Kind::Namespace => Resource::Namespace(typed(text, doc_line)?),
        Kind::Service => Resource::Service(typed(text, doc_line)?),
        Kind::EndpointSlice => Resource::EndpointSlice(typed(text, doc_line)?),
        Kind::ClusterRole => Resource::ClusterRole(typed(text, doc_line)?),
        Kind::ClusterRoleBinding => Resource::ClusterRoleBinding(typed(text, doc_line)?),
        Kind::ServiceImport => {
            let m: CrdManifest<ServiceImportSpec, ServiceImportStatus> = typed(text, doc_line)?;
            let mut o = ServiceImport::new("", m.spec);
            o.metadata = m.metadata;
            o.status = m.status;
            Resource::ServiceImport(o)
        }
        Kind::ServiceExport => {
            let m: CrdManifest<ServiceExportSpec, ServiceExportStatus> = typed(text, doc_line)?;
            let mut o = ServiceExport::new("", m.spec);
            o.metadata = m.metadata;
            o.status = m.status;
            Resource::ServiceExport(o)
        }
    })
}

/// The manifest shape of a custom resource: `spec` may be left out, as the
/// API server allows for these CRDs (the seed's ServiceExport has none).
#[derive(Deserialize)]
#[serde(bound = "S: DeserializeOwned + Default, T: DeserializeOwned")]
struct CrdManifest<S, T> {
    #[serde(default)]
    metadata: ObjectMeta,
    #[serde(default)]
    spec: S,
    #[serde(default)]
    status: Option<T>,
}

fn typed<T: DeserializeOwned>(text: &str, doc_line: usize) -> Result<T, DecodeError> {
    let mut path = String::new();
    let result = serde_saphyr::with_deserializer_from_str(text, |de| {
        serde_path_to_error::deserialize::<_, T>(de).map_err(|e| {
            path = e.path().to_string();
            e.into_inner()
        })
    });
    result.map_err(|e| {
        let (l, c) = location(&e);
        (l.max(doc_line), c, path, short(&e))
    })
}

/// Reads and parses one manifest file.
pub fn load_file(path: &Path) -> Result<Vec<Loaded>, ManifestError> {
    let text = crate::files::read_to_string(path).map_err(|e| SourceError::unreadable(path, &e))?;
    parse_manifests(path, &text, 1)
}
