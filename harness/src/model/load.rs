//! Loads plain multi-document Kubernetes YAML into typed objects, with
//! errors that name the file, line, column and field.

use std::path::Path;
use std::sync::Arc;

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
    /// The file (or a scenario file, for inline manifests), shared by
    /// every object of the file rather than copied into each.
    pub file: Arc<Path>,
    /// The 1-based line the document starts on.
    pub line: usize,
}

impl std::fmt::Display for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.file.display(), self.line)
    }
}

/// One document of a manifest file.
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
///
/// The text is cut into documents at their markers in one pass
/// ([`crate::yaml::documents`]); each document is parsed on its own (its
/// parse limits hold per document) and large files are parsed on every
/// core. The first error in file order is returned.
pub fn parse_manifests(
    file: &Path,
    text: &str,
    first_line: usize,
) -> Result<Vec<Loaded>, ManifestError> {
    let mut parts = parse_parts(file, text, first_line)?;
    if parts.len() == 1 {
        return Ok(parts.pop().unwrap_or_default());
    }
    Ok(parts.into_iter().flatten().collect())
}

/// [`parse_manifests`] in file order as one run of documents per thread,
/// so that a large file's objects are not copied into one list (at
/// 100,000 objects, that copy alone is as large as the objects).
pub(crate) fn parse_parts(
    file: &Path,
    text: &str,
    first_line: usize,
) -> Result<Vec<Vec<Loaded>>, ManifestError> {
    let source = Source {
        file,
        shared: Arc::from(file),
        text,
        first_line,
    };
    let aliases = crate::yaml::alias_count(text);
    if aliases > crate::yaml::MAX_ALIASES {
        return Err(source
            .error(
                first_line,
                1,
                format!(
                    "{aliases} YAML aliases (`*name`): more than the {} a file may hold",
                    crate::yaml::MAX_ALIASES
                ),
            )
            .with_hint("write the values out instead of aliasing them"));
    }
    let regions = crate::yaml::documents(text);
    let workers = parallelism(regions.len());
    if workers <= 1 {
        let mut out = Vec::with_capacity(regions.len());
        for region in &regions {
            source.region(region, &mut out)?;
        }
        return Ok(vec![out]);
    }
    let chunk = regions.len().div_ceil(workers);
    let parts: Vec<Result<Vec<Loaded>, ManifestError>> = std::thread::scope(|scope| {
        let handles: Vec<_> = regions
            .chunks(chunk)
            .map(|part| {
                let source = &source;
                scope.spawn(move || {
                    let mut out = Vec::with_capacity(part.len());
                    for region in part {
                        source.region(region, &mut out)?;
                    }
                    Ok(out)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
            .collect()
    });
    parts.into_iter().collect()
}

/// How many threads parse `documents` documents: one below a few
/// thousand, else one per core.
fn parallelism(documents: usize) -> usize {
    if documents < 2048 {
        return 1;
    }
    std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(documents / 1024)
        .max(1)
}

/// The manifest text being parsed, and where it sits in its file.
struct Source<'a> {
    file: &'a Path,
    /// `file`, as every object's origin holds it.
    shared: Arc<Path>,
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

    /// Parses the documents of one region of the text (usually one) and
    /// loads each that is not empty.
    fn region(
        &self,
        region: &crate::yaml::Region,
        out: &mut Vec<Loaded>,
    ) -> Result<(), ManifestError> {
        let text = &self.text[region.start..region.end];
        // The line of the file the region's first line is.
        let base = self.first_line + region.line - 1;
        if let Some(loaded) = self.typed_at_once(text, base) {
            out.push(loaded);
            return Ok(());
        }
        let docs: Vec<serde_saphyr::Spanned<Value>> =
            serde_saphyr::from_multiple_with_options(text, crate::yaml::options()).map_err(
                |e| {
                    let (line, column) = crate::yaml::location(&e);
                    self.error(
                        line + base - 1,
                        column,
                        format!("invalid YAML: {}", crate::yaml::describe(&e)),
                    )
                },
            )?;
        let starts: Vec<usize> = docs
            .iter()
            .map(|d| d.referenced.span().byte_offset().unwrap_or(0) as usize)
            .collect();
        for (i, doc) in docs.into_iter().enumerate() {
            if doc.value.is_null() {
                continue;
            }
            let start = starts[i].min(text.len());
            let end = starts
                .get(i + 1)
                .copied()
                .unwrap_or(text.len())
                .min(text.len());
            let doc = Document {
                region: trim_separator(&text[start..end]),
                line: base + doc.referenced.line() as usize - 1,
                column: doc.referenced.column() as usize,
                value: doc.value,
            };
            out.push(self.load(doc)?);
        }
        Ok(())
    }

    /// The fast path for the common document (one object of a kind the
    /// model uses, whose `apiVersion:` and `kind:` are plain top-level
    /// lines): the text is decoded straight into its type, with no
    /// intermediate tree. `None` whenever anything is unusual (no such
    /// lines, another apiVersion, more than one document, a decoding
    /// error, no name): the general path then reads the document and says
    /// what is wrong, so errors are the same either way.
    fn typed_at_once(&self, text: &str, base: usize) -> Option<Loaded> {
        let (kind, api_version) = header_lines(text)?;
        if !kind.api_versions().contains(&api_version) {
            return None;
        }
        fn parse<T: DeserializeOwned>(text: &str) -> Option<(T, usize)> {
            let doc: serde_saphyr::Spanned<T> =
                serde_saphyr::from_str_with_options(text, crate::yaml::options()).ok()?;
            Some((doc.value, doc.referenced.line() as usize))
        }
        fn crd<S, T>(text: &str, kind: Kind) -> Option<(ObjectMeta, S, Option<T>, usize)>
        where
            S: DeserializeOwned + Default,
            T: DeserializeOwned,
        {
            let (m, line) = parse::<CrdDocument<S, T>>(text)?;
            (m.kind == kind.as_str() && kind.api_versions().contains(&m.api_version.as_str()))
                .then_some((m.metadata, m.spec, m.status, line))
        }
        // k8s-openapi's types refuse another apiVersion or kind themselves.
        let (mut resource, line) = match kind {
            Kind::Namespace => parse(text).map(|(o, l)| (Resource::Namespace(Arc::new(o)), l))?,
            Kind::Service => parse(text).map(|(o, l)| (Resource::Service(Arc::new(o)), l))?,
            Kind::EndpointSlice => {
                parse(text).map(|(o, l)| (Resource::EndpointSlice(Arc::new(o)), l))?
            }
            Kind::ClusterRole => {
                parse(text).map(|(o, l)| (Resource::ClusterRole(Arc::new(o)), l))?
            }
            Kind::ClusterRoleBinding => {
                parse(text).map(|(o, l)| (Resource::ClusterRoleBinding(Arc::new(o)), l))?
            }
            Kind::ServiceImport => {
                let (metadata, spec, status, line) =
                    crd::<ServiceImportSpec, ServiceImportStatus>(text, kind)?;
                (import(metadata, spec, status), line)
            }
            Kind::ServiceExport => {
                let (metadata, spec, status, line) =
                    crd::<ServiceExportSpec, ServiceExportStatus>(text, kind)?;
                (export(metadata, spec, status), line)
            }
        };
        if resource
            .metadata()
            .name
            .as_deref()
            .is_none_or(str::is_empty)
        {
            return None;
        }
        if kind.is_namespaced() && resource.metadata().namespace.is_none() {
            resource.metadata_mut().namespace = Some("default".into());
        }
        let origin = Origin {
            file: self.shared.clone(),
            line: base + line.max(1) - 1,
        };
        Some(Loaded::Resource(resource, origin))
    }

    /// Loads one document: a kind the model uses becomes a typed resource,
    /// any other kind is kept as it is, to be listed.
    fn load(&self, doc: Document<'_>) -> Result<Loaded, ManifestError> {
        let (line, column) = (doc.line, doc.column);
        let origin = Origin {
            file: self.shared.clone(),
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
        let meta = map.get("metadata");
        let field = |f: &str| {
            meta.and_then(|m| m.get(f))
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned()
        };
        let (name, namespace) = (field("name"), field("namespace"));
        let Some(kind) = Kind::from_name(kind_name) else {
            let other = OtherObject {
                api_version: api_version.to_owned(),
                kind: kind_name.to_owned(),
                name,
                namespace,
                body: doc.value,
            };
            return Ok(Loaded::Other(other, origin));
        };
        let api_version = api_version.to_owned();
        let resource = self.resource(doc, kind, &api_version, &name)?;
        Ok(Loaded::Resource(resource, origin))
    }

    /// Checks the apiVersion and name of a known kind, then decodes the
    /// document into it. The parsed value is decoded first; only when that
    /// fails is the document's own text decoded, which says exactly what
    /// YAML decoding says and points field errors into the text.
    fn resource(
        &self,
        doc: Document<'_>,
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
        let mut resource = match from_value(kind, doc.value) {
            Some(r) => r,
            None => decode(kind, doc.region, line).map_err(|e| self.decode_error(kind, name, e))?,
        };
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

type DecodeError = (usize, usize, String, String);

/// A decoded ServiceImport, its lists no longer than they are: a decoder
/// grows a list to four entries at its first, and a world of 100,000
/// one-port imports would carry 100,000 times three spare ports.
fn import(
    metadata: ObjectMeta,
    mut spec: ServiceImportSpec,
    status: Option<ServiceImportStatus>,
) -> Resource {
    spec.ips.shrink_to_fit();
    spec.ports.shrink_to_fit();
    spec.ip_families.shrink_to_fit();
    let mut o = ServiceImport::new("", spec);
    o.metadata = metadata;
    o.status = status;
    Resource::ServiceImport(Arc::new(o))
}

/// A decoded ServiceExport.
fn export(
    metadata: ObjectMeta,
    spec: ServiceExportSpec,
    status: Option<ServiceExportStatus>,
) -> Resource {
    let mut o = ServiceExport::new("", spec);
    o.metadata = metadata;
    o.status = status;
    Resource::ServiceExport(Arc::new(o))
}

/// Decodes an already parsed document; `None` when serde_json's reading of
/// it differs from YAML's (a number where a string is expected, a null for
/// a list...), which the text decoding then settles.
fn from_value(kind: Kind, value: Value) -> Option<Resource> {
    fn typed<T: DeserializeOwned>(value: Value) -> Option<T> {
        serde_json::from_value(value).ok()
    }
    Some(match kind {
        Kind::Namespace => Resource::Namespace(Arc::new(typed(value)?)),
        Kind::Service => Resource::Service(Arc::new(typed(value)?)),
        Kind::EndpointSlice => Resource::EndpointSlice(Arc::new(typed(value)?)),
        Kind::ClusterRole => Resource::ClusterRole(Arc::new(typed(value)?)),
        Kind::ClusterRoleBinding => Resource::ClusterRoleBinding(Arc::new(typed(value)?)),
        Kind::ServiceImport => {
            let m: CrdManifest<ServiceImportSpec, ServiceImportStatus> = typed(value)?;
            import(m.metadata, m.spec, m.status)
        }
        Kind::ServiceExport => {
            let m: CrdManifest<ServiceExportSpec, ServiceExportStatus> = typed(value)?;
            export(m.metadata, m.spec, m.status)
        }
    })
}

fn decode(kind: Kind, text: &str, doc_line: usize) -> Result<Resource, DecodeError> {
    Ok(match kind {
        Kind::Namespace => Resource::Namespace(Arc::new(typed(text, doc_line)?)),
        Kind::Service => Resource::Service(Arc::new(typed(text, doc_line)?)),
        Kind::EndpointSlice => Resource::EndpointSlice(Arc::new(typed(text, doc_line)?)),
        Kind::ClusterRole => Resource::ClusterRole(Arc::new(typed(text, doc_line)?)),
        Kind::ClusterRoleBinding => Resource::ClusterRoleBinding(Arc::new(typed(text, doc_line)?)),
        Kind::ServiceImport => {
            let m: CrdManifest<ServiceImportSpec, ServiceImportStatus> = typed(text, doc_line)?;
            import(m.metadata, m.spec, m.status)
        }
        Kind::ServiceExport => {
            let m: CrdManifest<ServiceExportSpec, ServiceExportStatus> = typed(text, doc_line)?;
            export(m.metadata, m.spec, m.status)
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

/// A custom resource as [`typed_at_once`](Source::typed_at_once) reads
/// it: with its apiVersion and kind, which the CRD types do not check.
#[derive(Deserialize)]
#[serde(bound = "S: DeserializeOwned + Default, T: DeserializeOwned")]
struct CrdDocument<S, T> {
    #[serde(rename = "apiVersion")]
    api_version: String,
    kind: String,
    #[serde(default)]
    metadata: ObjectMeta,
    #[serde(default)]
    spec: S,
    #[serde(default)]
    status: Option<T>,
}

/// The kind and apiVersion of a document when each is written once, as a
/// plain top-level line (`kind: Service`), the way manifests are written;
/// `None` otherwise. Only a hint: the decoding that follows checks both.
fn header_lines(text: &str) -> Option<(Kind, &str)> {
    let mut kind = None;
    let mut api_version = None;
    for line in text.lines() {
        let (slot, value) = if let Some(v) = line.strip_prefix("kind:") {
            (&mut kind, v)
        } else if let Some(v) = line.strip_prefix("apiVersion:") {
            (&mut api_version, v)
        } else {
            continue;
        };
        let value = value.trim();
        if slot.is_some() || value.is_empty() || !value.bytes().all(|b| b.is_ascii_graphic()) {
            return None;
        }
        *slot = Some(value);
    }
    Some((Kind::from_name(kind?)?, api_version?))
}

/// Decodes a document's own text; `doc_line` is the line of the file its
/// first line is, so that error lines are lines of the file.
fn typed<T: DeserializeOwned>(text: &str, doc_line: usize) -> Result<T, DecodeError> {
    let mut path = String::new();
    let result =
        serde_saphyr::with_deserializer_from_str_with_options(text, crate::yaml::options(), |de| {
            serde_path_to_error::deserialize::<_, T>(de).map_err(|e| {
                path = e.path().to_string();
                e.into_inner()
            })
        });
    result.map_err(|e| {
        let (l, c) = crate::yaml::location(&e);
        (l + doc_line - 1, c, path, crate::yaml::describe(&e))
    })
}

/// Reads and parses one manifest file.
pub fn load_file(path: &Path) -> Result<Vec<Loaded>, ManifestError> {
    let text = crate::files::read_to_string(path).map_err(|e| SourceError::unreadable(path, &e))?;
    parse_manifests(path, &text, 1)
}

/// [`load_file`] as [`parse_parts`] gives it.
pub(crate) fn load_file_parts(path: &Path) -> Result<Vec<Vec<Loaded>>, ManifestError> {
    let text = crate::files::read_to_string(path).map_err(|e| SourceError::unreadable(path, &e))?;
    parse_parts(path, &text, 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MANIFESTS: &str = "\
apiVersion: v1
kind: Namespace
metadata:
  name: team
---
apiVersion: v1
kind: Service
metadata:
  name: web
  namespace: team
spec:
  clusterIP: 10.0.0.5
  ports:
  - name: http
    port: 80
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: web-1
  labels:
    kubernetes.io/service-name: web
addressType: IPv4
endpoints:
- addresses: [10.1.0.5]
---
apiVersion: multicluster.x-k8s.io/v1alpha1
kind: ServiceImport
metadata:
  name: web
  namespace: team
spec:
  type: ClusterSetIP
  ips:
  - 10.9.0.1
  ports:
  - name: http
    protocol: TCP
    port: 80
---
apiVersion: multicluster.x-k8s.io/v1beta1
kind: ServiceExport
metadata:
  name: web
  namespace: team
";

    #[test]
    fn the_fast_path_loads_what_the_general_path_loads() {
        let file = Path::new("world.yaml");
        let fast = parse_manifests(file, MANIFESTS, 3).unwrap();
        // A comment after the kind keeps every document off the fast path.
        let general_text: String = MANIFESTS
            .lines()
            .map(|l| match l.strip_prefix("kind: ") {
                Some(k) => format!("kind: {k} # general\n"),
                None => format!("{l}\n"),
            })
            .collect();
        let general = parse_manifests(file, &general_text, 3).unwrap();
        for (text, fast_path) in [(MANIFESTS, true), (general_text.as_str(), false)] {
            let source = Source {
                file,
                shared: Arc::from(file),
                text,
                first_line: 3,
            };
            for r in crate::yaml::documents(text) {
                let loaded = source.typed_at_once(&text[r.start..r.end], 3 + r.line - 1);
                assert_eq!(loaded.is_some(), fast_path, "{}", &text[r.start..r.end]);
            }
        }
        assert_eq!(fast.len(), 5);
        assert_eq!(fast, general);
        let lines: Vec<usize> = fast
            .iter()
            .map(|l| match l {
                Loaded::Resource(_, o) | Loaded::Other(_, o) => o.line,
            })
            .collect();
        assert_eq!(lines, [3, 8, 19, 29, 43]);
    }

    #[test]
    fn header_lines_are_only_a_plain_single_kind_and_api_version() {
        assert_eq!(
            header_lines("apiVersion: v1\nkind: Service\n"),
            Some((Kind::Service, "v1"))
        );
        assert_eq!(header_lines("apiVersion: v1\nkind: Service # x\n"), None);
        assert_eq!(
            header_lines("apiVersion: v1\nkind: A\nkind: Service\n"),
            None
        );
        assert_eq!(header_lines("kind: Service\n"), None);
        assert_eq!(header_lines("apiVersion: v1\nkind: \"Service\"\n"), None);
        assert_eq!(header_lines("apiVersion: v1\n  kind: Service\n"), None);
    }
}
