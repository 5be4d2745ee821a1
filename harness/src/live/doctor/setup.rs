//! Finds the cluster DNS: the `kube-dns` Service, the CoreDNS Deployment,
//! its Corefile (from its ConfigMap), image and service account.

use std::path::Path;

use serde::Serialize;
use serde_json::Value;

use super::DoctorOptions;
use crate::live::read::Reader;
use crate::model::kinds::{ApiResource, RESOURCES};
use crate::resolver::corefile::Corefile;

/// The cluster DNS as found.
#[derive(Clone, Debug, Default, Serialize)]
pub struct DnsSetup {
    /// Its namespace.
    pub namespace: String,
    /// The `kube-dns` Service's cluster IP, if found.
    pub service_ip: Option<String>,
    /// The Deployment's name, if found.
    pub deployment: Option<String>,
    /// The CoreDNS container's name.
    pub container: Option<String>,
    /// The CoreDNS container's image.
    pub image: Option<String>,
    /// The version its tag names (`1.12.2`).
    pub version: Option<(u32, u32, u32)>,
    /// The service account it runs as.
    pub service_account: String,
    /// The ConfigMap holding the Corefile.
    pub configmap: String,
}

impl DnsSetup {
    /// The identity CoreDNS lists objects as.
    pub fn identity(&self) -> String {
        format!(
            "system:serviceaccount:{}:{}",
            self.namespace, self.service_account
        )
    }

    /// Whether the image is a stock CoreDNS build (registry.k8s.io, Docker Hub).
    pub fn is_stock(&self) -> bool {
        self.image.as_deref().is_some_and(|i| {
            let repo = i.rsplit_once(':').map_or(i, |(r, _)| r);
            let repo = repo.split('@').next().unwrap_or(repo);
            matches!(
                repo,
                "registry.k8s.io/coredns/coredns"
                    | "k8s.gcr.io/coredns/coredns"
                    | "k8s.gcr.io/coredns"
                    | "coredns/coredns"
                    | "docker.io/coredns/coredns"
                    | "mirror.gcr.io/coredns/coredns"
            )
        })
    }
}

fn res(kind: &str) -> &'static ApiResource {
    RESOURCES
        .iter()
        .find(|r| r.kind == kind)
        .unwrap_or(&RESOURCES[0])
}

/// `v1.12.2`, `1.11.1-eks.1` -> (1, 12, 2).
pub fn parse_version(tag: &str) -> Option<(u32, u32, u32)> {
    let t = tag.trim_start_matches('v');
    let mut parts = t.split(|c: char| !c.is_ascii_digit());
    let major = parts.next()?.parse().ok()?;
    let minor = parts.next()?.parse().ok()?;
    let patch = parts.next().and_then(|p| p.parse().ok()).unwrap_or(0);
    Some((major, minor, patch))
}

/// Finds the cluster DNS; what is missing goes to `unchecked`.
pub(super) async fn find(
    reader: &Reader,
    options: &DoctorOptions,
    unchecked: &mut Vec<String>,
) -> (DnsSetup, Option<Corefile>) {
    let ns = options.dns_namespace.clone();
    let mut setup = DnsSetup {
        namespace: ns.clone(),
        service_account: "default".into(),
        ..Default::default()
    };
    match reader.get(res("Service"), &ns, "kube-dns").await {
        Ok(Some(svc)) => setup.service_ip = svc["spec"]["clusterIP"].as_str().map(str::to_owned),
        Ok(None) => unchecked.push(format!("{}: no Service {ns}/kube-dns", options.consumer)),
        Err(e) => unchecked.push(format!(
            "{}: cannot get Service {ns}/kube-dns: {e}",
            options.consumer
        )),
    }
    let deployment = match reader.get(res("Deployment"), &ns, "coredns").await {
        Ok(Some(d)) => Some(d),
        Ok(None) => match reader
            .list(res("Deployment"), Some(&ns), Some("k8s-app=kube-dns"))
            .await
        {
            Ok(list) => list.into_iter().next(),
            Err(e) => {
                unchecked.push(format!(
                    "{}: cannot list Deployments in {ns}: {e}",
                    options.consumer
                ));
                None
            }
        },
        Err(e) => {
            unchecked.push(format!(
                "{}: cannot get Deployment {ns}/coredns: {e}",
                options.consumer
            ));
            None
        }
    };
    let mut configmap_from_volume = None;
    match &deployment {
        Some(d) => {
            setup.deployment = d["metadata"]["name"].as_str().map(str::to_owned);
            let pod = &d["spec"]["template"]["spec"];
            if let Some(sa) = pod["serviceAccountName"].as_str().or(pod["serviceAccount"].as_str()) {
                setup.service_account = sa.to_owned();
            }
            let containers = pod["containers"].as_array().cloned().unwrap_or_default();
            let container = containers
                .iter()
                .find(|c| c["image"].as_str().is_some_and(|i| i.contains("coredns")))
                .or(containers.first());
            setup.image = container.and_then(|c| c["image"].as_str()).map(str::to_owned);
            setup.container = container.and_then(|c| c["name"].as_str()).map(str::to_owned);
            setup.version = setup
                .image
                .as_deref()
                .and_then(|i| i.rsplit_once(':'))
                .and_then(|(_, tag)| parse_version(tag));
            configmap_from_volume = pod["volumes"]
                .as_array()
                .into_iter()
                .flatten()
                .find_map(|v| v["configMap"]["name"].as_str().map(str::to_owned));
        }
        None => unchecked.push(format!(
            "{}: no CoreDNS Deployment in {ns} (named coredns or labelled k8s-app=kube-dns); give --dns-namespace",
            options.consumer
        )),
    }
    setup.configmap = options
        .corefile_configmap
        .clone()
        .or(configmap_from_volume)
        .unwrap_or_else(|| "coredns".into());
    let corefile = match reader.get(res("ConfigMap"), &ns, &setup.configmap).await {
        Ok(Some(cm)) => match cm["data"]["Corefile"].as_str() {
            Some(text) => {
                let path =
                    Path::new("").join(format!("configmap/{ns}/{}:Corefile", setup.configmap));
                match Corefile::parse(&path, text) {
                    Ok(cf) => Some(cf),
                    Err(e) => {
                        unchecked.push(format!(
                            "the Corefile in ConfigMap {ns}/{} does not parse: {e}",
                            setup.configmap
                        ));
                        None
                    }
                }
            }
            None => {
                unchecked.push(format!(
                    "ConfigMap {ns}/{} has no Corefile key",
                    setup.configmap
                ));
                None
            }
        },
        Ok(None) => {
            unchecked.push(format!(
                "{}: no ConfigMap {ns}/{} (give --corefile-configmap)",
                options.consumer, setup.configmap
            ));
            None
        }
        Err(e) => {
            unchecked.push(format!(
                "{}: cannot get ConfigMap {ns}/{}: {e}",
                options.consumer, setup.configmap
            ));
            None
        }
    };
    (setup, corefile)
}

/// The containerPorts of a Pod spec.
pub(super) fn container_ports(pod_spec: &Value) -> Vec<(Option<String>, i64)> {
    pod_spec["containers"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|c| c["ports"].as_array().cloned().unwrap_or_default())
        .filter_map(|p| {
            Some((
                p["name"].as_str().map(str::to_owned),
                p["containerPort"].as_i64()?,
            ))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn image_tags_name_versions() {
        assert_eq!(parse_version("v1.12.2"), Some((1, 12, 2)));
        assert_eq!(parse_version("1.11.1-eks.1"), Some((1, 11, 1)));
        assert_eq!(parse_version("1.9"), Some((1, 9, 0)));
        assert_eq!(parse_version("latest"), None);
        let s = DnsSetup {
            image: Some("registry.k8s.io/coredns/coredns:v1.11.1".into()),
            ..Default::default()
        };
        assert!(s.is_stock());
        let s = DnsSetup {
            image: Some("example.com/me/coredns-mc:v1.9.3".into()),
            ..Default::default()
        };
        assert!(!s.is_stock());
    }
}
