//! Writes a live cluster set down: a world folder (one subfolder per
//! cluster, plain multi-document YAML of what DNS reads, server-managed
//! fields stripped, never Secrets), the consumer's Corefile, and a scenario
//! that asks every imported name from the consumer (`record` then fills in
//! today's answers, as `mcsdns run --record` does); `anonymize` renames
//! and remaps what identifies a company.

pub mod anonymize;
pub mod record;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::AtomicUsize;

use hickory_proto::rr::RecordType;
use serde_json::Value;

use super::LiveError;
use super::read::{Narrow, Reader, read_cluster};
use crate::model::Resource;
pub use anonymize::Anonymizer;
pub use record::{Disagreement, Recorded, record};

/// What to capture.
#[derive(Clone, Debug)]
pub struct CaptureOptions {
    /// The kubeconfig.
    pub kubeconfig: PathBuf,
    /// `(context, cluster name)`, the consumer first.
    pub contexts: Vec<(String, String)>,
    /// Namespaces and labels to narrow to.
    pub narrow: Narrow,
    /// The folder to write.
    pub out: PathBuf,
    /// Anonymize with this seed (`None`: write names and addresses as they are).
    pub anonymize: Option<u64>,
}

/// What `capture` wrote.
#[derive(Clone, Debug)]
pub struct Captured {
    /// The scenario file.
    pub scenario: PathBuf,
    /// Each query step's question as the live cluster DNS knows it (the
    /// original name, before anonymizing), in step order.
    pub asked: Vec<(String, RecordType)>,
    /// Whether names and addresses were anonymized.
    pub anonymized: bool,
}

/// The types asked of every imported name.
const QTYPES: [RecordType; 2] = [RecordType::A, RecordType::SRV];

fn write(path: &Path, text: &str) -> Result<(), LiveError> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| LiveError::Write {
            path: dir.to_owned(),
            why: e.to_string(),
        })?;
    }
    crate::files::replace_file(path, text).map_err(|e| LiveError::Write {
        path: path.to_owned(),
        why: e.to_string(),
    })
}

/// The most documents one file holds (the manifest reader takes at most 1,024).
const DOCS_PER_FILE: usize = 500;

/// Writes a cluster's documents as `objects.yaml`, or `objects-N.yaml`
/// files of `DOCS_PER_FILE` each when there are more, after removing
/// those of an earlier capture.
fn write_cluster(dir: &Path, docs: &[String]) -> Result<(), LiveError> {
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if name.starts_with("objects") && name.ends_with(".yaml") {
                std::fs::remove_file(e.path()).map_err(|err| LiveError::Write {
                    path: e.path(),
                    why: err.to_string(),
                })?;
            }
        }
    }
    let chunks: Vec<&[String]> = docs.chunks(DOCS_PER_FILE).collect();
    if chunks.len() <= 1 {
        return write(&dir.join("objects.yaml"), &docs.join("---\n"));
    }
    for (i, chunk) in chunks.iter().enumerate() {
        write(
            &dir.join(format!("objects-{}.yaml", i + 1)),
            &chunk.join("---\n"),
        )?;
    }
    Ok(())
}

/// The objects of one cluster as they are written: the model's kinds
/// without built-in Namespaces, with apiVersion and without status.
fn objects(state: &crate::model::ClusterState) -> Vec<Value> {
    let mut out = Vec::new();
    for r in state.resources() {
        let builtin = matches!(r, Resource::Namespace(n) if n.metadata.name.as_deref().is_some_and(|n| crate::model::world::BUILTIN_NAMESPACES.contains(&n)));
        if builtin {
            continue;
        }
        let mut v = r.to_json();
        if v["apiVersion"].is_null() {
            let res = crate::model::kinds::ApiResource::of(r.kind());
            v["apiVersion"] = res.api_version(res.versions[0]).into();
        }
        if v["kind"].is_null() {
            v["kind"] = r.kind().as_str().into();
        }
        if let Some(o) = v.as_object_mut() {
            o.remove("status");
        }
        out.push(v);
    }
    out
}

/// The name every ServiceImport of `objects` is asked by.
fn imported_names(objects: &[Value]) -> Vec<String> {
    objects
        .iter()
        .filter(|v| v["kind"] == "ServiceImport")
        .map(|v| {
            format!(
                "{}.{}.svc.clusterset.local",
                v["metadata"]["name"].as_str().unwrap_or_default(),
                v["metadata"]["namespace"].as_str().unwrap_or("default")
            )
        })
        .collect()
}

/// Captures the clusters and writes the world, the Corefile and the
/// scenario (without expectations: `record` fills them in).
pub async fn capture(options: &CaptureOptions) -> Result<Captured, LiveError> {
    let calls = Arc::new(AtomicUsize::new(0));
    let mut clusters: Vec<(String, Vec<Value>)> = Vec::new();
    let mut corefile = None;
    for (i, (context, name)) in options.contexts.iter().enumerate() {
        let reader = Reader::connect(&options.kubeconfig, context, calls.clone()).await?;
        let snap = read_cluster(&reader, name, &options.narrow, false).await;
        clusters.push((name.clone(), objects(&snap.state)));
        if i == 0 {
            let res = crate::model::kinds::RESOURCES
                .iter()
                .find(|r| r.kind == "ConfigMap");
            if let Some(res) = res
                && let Ok(Some(cm)) = reader.get(res, "kube-system", "coredns").await
                && let Some(text) = cm["data"]["Corefile"].as_str()
            {
                corefile = Some(text.to_owned());
            }
        }
    }
    let live_names = clusters
        .first()
        .map(|(_, o)| imported_names(o))
        .unwrap_or_default();
    let mut names = live_names.clone();
    if let Some(seed) = options.anonymize {
        let mut a = Anonymizer::new(seed);
        for (_, objects) in &clusters {
            for o in objects {
                a.object(&mut o.clone());
            }
        }
        if let Some(text) = &corefile {
            a.corefile(text);
        }
        a.freeze();
        for (_, objects) in &mut clusters {
            objects.iter_mut().for_each(|o| a.object(o));
        }
        corefile = corefile.map(|t| a.corefile(&t));
        names = live_names.iter().map(|n| a.dns_name(n)).collect();
    }
    for (name, objects) in &clusters {
        let mut docs = Vec::new();
        for v in objects {
            docs.push(serde_saphyr::to_string(v).map_err(|e| LiveError::Write {
                path: options.out.clone(),
                why: e.to_string(),
            })?);
        }
        write_cluster(&options.out.join("world").join(name), &docs)?;
    }
    if let Some(text) = &corefile {
        write(&options.out.join("Corefile"), text)?;
    }
    let mut s = String::from("name: Captured cluster set\n");
    let how = match options.anonymize {
        Some(seed) => format!(", anonymized (seed {seed})"),
        None => String::new(),
    };
    s.push_str(&format!(
        "description: Captured by mcsdns capture{how}; the expectations are the reference resolver's answers at capture time.\n"
    ));
    s.push_str("tags: [captured]\nworld:\n");
    for (n, _) in &clusters {
        s.push_str(&format!("  {n}:\n    - path: world/{n}\n"));
    }
    s.push_str(&format!(
        "resolver:\n  cluster: {}\n",
        clusters.first().map(|c| c.0.as_str()).unwrap_or_default()
    ));
    // Without the ConfigMap, the resolver is the default Corefile's, still
    // with CoreDNS's behaviour.
    if corefile.is_some() {
        s.push_str("  corefile: Corefile\n");
    }
    s.push_str("  profile: coredns\n");
    s.push_str("steps:\n");
    let mut asked = Vec::new();
    for (live, name) in live_names.iter().zip(&names) {
        for qtype in QTYPES {
            s.push_str(&format!("  - query: {name} {qtype}\n"));
            asked.push((live.clone(), qtype));
        }
    }
    let scenario = options.out.join("captured.yaml");
    write(&scenario, &s)?;
    Ok(Captured {
        scenario,
        asked,
        anonymized: options.anonymize.is_some(),
    })
}
