//! Writes a live cluster set down: a world folder (one subfolder per
//! cluster, plain multi-document YAML of what DNS reads, server-managed
//! fields stripped, never Secrets), the consumer's Corefile, and a scenario
//! that asks every imported name from the consumer, ready for
//! `mcsdns run --record`.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::AtomicUsize;

use super::LiveError;
use super::read::{Narrow, Reader, read_cluster};
use crate::model::Resource;

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
}

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

/// Captures the clusters; returns the scenario's path.
pub async fn capture(options: &CaptureOptions) -> Result<PathBuf, LiveError> {
    let calls = Arc::new(AtomicUsize::new(0));
    let mut names = Vec::new();
    let mut queries = Vec::new();
    let mut corefile = None;
    for (i, (context, name)) in options.contexts.iter().enumerate() {
        let reader = Reader::connect(&options.kubeconfig, context, calls.clone()).await?;
        let snap = read_cluster(&reader, name, &options.narrow, false).await;
        let mut docs = Vec::new();
        for r in snap.state.resources() {
            let builtin = matches!(r, Resource::Namespace(n) if n.metadata.name.as_deref().is_some_and(|n| crate::model::world::BUILTIN_NAMESPACES.contains(&n)));
            if builtin {
                continue;
            }
            let mut v = r.to_json();
            if v["apiVersion"].is_null() {
                let res = crate::model::kinds::ApiResource::of(r.kind());
                v["apiVersion"] = res.api_version(res.versions[0]).into();
            }
            if let Some(status) = v.as_object_mut() {
                status.remove("status");
            }
            docs.push(serde_saphyr::to_string(&v).map_err(|e| LiveError::Write {
                path: options.out.clone(),
                why: e.to_string(),
            })?);
            if i == 0
                && let Resource::ServiceImport(si) = r
            {
                queries.push(format!(
                    "{}.{}.svc.clusterset.local",
                    si.metadata.name.as_deref().unwrap_or_default(),
                    si.metadata.namespace.as_deref().unwrap_or("default")
                ));
            }
        }
        write(
            &options.out.join("world").join(name).join("objects.yaml"),
            &docs.join("---\n"),
        )?;
        if i == 0 {
            let res = crate::model::kinds::RESOURCES
                .iter()
                .find(|r| r.kind == "ConfigMap");
            if let Some(res) = res
                && let Ok(Some(cm)) = reader.get(res, "kube-system", "coredns").await
                && let Some(text) = cm["data"]["Corefile"].as_str()
            {
                write(&options.out.join("Corefile"), text)?;
                corefile = Some(());
            }
        }
        names.push(name.clone());
    }
    let mut s = String::from(
        "name: Captured cluster set\ndescription: Captured by mcsdns capture; record the answers with `mcsdns run --record`.\ntags: [captured]\nworld:\n",
    );
    for n in &names {
        s.push_str(&format!("  {n}:\n    - path: world/{n}\n"));
    }
    s.push_str(&format!(
        "resolver:\n  cluster: {}\n",
        names.first().cloned().unwrap_or_default()
    ));
    if corefile.is_some() {
        s.push_str("  corefile: Corefile\n  profile: coredns\n");
    }
    s.push_str("steps:\n");
    for q in &queries {
        s.push_str(&format!("  - query: {q} A\n"));
    }
    let path = options.out.join("captured.yaml");
    write(&path, &s)?;
    Ok(path)
}
