//! Renames what identifies a company in a captured cluster set (namespaces,
//! services, endpoint hostnames, labels, RBAC names and subjects, external
//! names) and remaps its addresses, the same way in every cluster, the
//! Corefile and the scenario.
//!
//! The mapping is a bijection chosen in two passes: every name and address
//! is first seen, then numbered in the order of a hash keyed by the seed
//! (`ns-1`, `svc-2`, `10.0.0.3`, `fd00::4`), so the output depends on the
//! seed and on what was captured, never on the order objects were read,
//! and two originals never share a new name. The same name in two
//! clusters gets the same new name, so the cluster set keeps its shape.
//! Kept as they are: `kube-system`, `default`, `kube-public`,
//! `kube-node-lease`, the services `kube-dns` and `kubernetes`, `system:`
//! RBAC names, the ClusterRoles `coredns`, `cluster-admin`, `admin`,
//! `edit`, `view`, the service account `coredns`, cluster ids, zone names,
//! port names and numbers, label keys of the `kubernetes.io` and `k8s.io`
//! domains, loopback and unspecified addresses.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use serde_json::Value;

/// What a name names; each class is numbered on its own.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Class {
    Namespace,
    Service,
    Slice,
    Host,
    LabelKey,
    LabelValue,
    Role,
    Binding,
    Account,
    User,
    Group,
    External,
}

impl Class {
    fn prefix(self) -> &'static str {
        match self {
            Class::Namespace => "ns",
            Class::Service => "svc",
            Class::Slice => "slice",
            Class::Host => "host",
            Class::LabelKey => "label",
            Class::LabelValue => "value",
            Class::Role => "role",
            Class::Binding => "binding",
            Class::Account => "sa",
            Class::User => "user",
            Class::Group => "group",
            Class::External => "external",
        }
    }

    fn kept(self, name: &str) -> bool {
        match self {
            Class::Namespace => {
                crate::model::world::BUILTIN_NAMESPACES.contains(&name) || name == "default"
            }
            Class::Service => matches!(name, "kube-dns" | "kubernetes"),
            Class::Role => {
                name.starts_with("system:")
                    || matches!(
                        name,
                        "coredns" | "cluster-admin" | "admin" | "edit" | "view"
                    )
            }
            Class::Binding | Class::User | Class::Group => name.starts_with("system:"),
            Class::Account => matches!(name, "coredns" | "default"),
            _ => name.is_empty(),
        }
    }
}

/// Labels whose values are service names.
const SERVICE_NAME_LABELS: [&str; 2] = [
    "kubernetes.io/service-name",
    "multicluster.kubernetes.io/service-name",
];

/// The seeded renaming of one captured cluster set.
#[derive(Debug, Default)]
pub struct Anonymizer {
    seed: u64,
    frozen: bool,
    names: BTreeMap<(Class, String), String>,
    addrs: BTreeMap<IpAddr, IpAddr>,
}

/// FNV-1a of the seed and `text`: stable across builds and platforms.
fn keyed(seed: u64, text: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in seed.to_le_bytes().iter().chain(text.as_bytes()) {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

fn kept_addr(ip: &IpAddr) -> bool {
    ip.is_loopback() || ip.is_unspecified()
}

impl Anonymizer {
    /// An anonymizer for `seed`; show it everything with `see_*`, then `freeze`.
    pub fn new(seed: u64) -> Anonymizer {
        Anonymizer {
            seed,
            ..Default::default()
        }
    }

    /// Numbers every name and address seen; from now on they are rewritten.
    pub fn freeze(&mut self) {
        let mut by_class: BTreeMap<Class, Vec<String>> = BTreeMap::new();
        for (class, old) in self.names.keys() {
            by_class.entry(*class).or_default().push(old.clone());
        }
        for (class, mut olds) in by_class {
            olds.sort_by_key(|o| (keyed(self.seed, o), o.clone()));
            for (i, old) in olds.into_iter().enumerate() {
                let new = match class {
                    Class::External => format!("external-{}.example", i + 1),
                    _ => format!("{}-{}", class.prefix(), i + 1),
                };
                self.names.insert((class, old), new);
            }
        }
        let mut olds: Vec<IpAddr> = self.addrs.keys().copied().collect();
        olds.sort_by_key(|a| (keyed(self.seed, &a.to_string()), *a));
        let (mut v4, mut v6) = (0u32, 0u128);
        for old in olds {
            let new = match old {
                IpAddr::V4(_) => {
                    v4 += 1;
                    IpAddr::V4(Ipv4Addr::from(u32::from(Ipv4Addr::new(10, 0, 0, 0)) + v4))
                }
                IpAddr::V6(_) => {
                    v6 += 1;
                    IpAddr::V6(Ipv6Addr::from(
                        u128::from(Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, 0)) + v6,
                    ))
                }
            };
            self.addrs.insert(old, new);
        }
        self.frozen = true;
    }

    fn name(&mut self, class: Class, old: &str) -> String {
        if class.kept(old) {
            return old.to_owned();
        }
        if !self.frozen {
            self.names
                .entry((class, old.to_owned()))
                .or_insert_with(|| old.to_owned());
            return old.to_owned();
        }
        self.names
            .get(&(class, old.to_owned()))
            .cloned()
            .unwrap_or_else(|| old.to_owned())
    }

    fn addr(&mut self, old: &str) -> String {
        let Ok(ip) = old.parse::<IpAddr>() else {
            return old.to_owned();
        };
        if kept_addr(&ip) {
            return old.to_owned();
        }
        if !self.frozen {
            self.addrs.entry(ip).or_insert(ip);
            return old.to_owned();
        }
        self.addrs
            .get(&ip)
            .map_or(old.to_owned(), |n| n.to_string())
    }

    fn rename(&mut self, v: &mut Value, class: Class) {
        if let Some(s) = v.as_str() {
            *v = self.name(class, s).into();
        }
    }

    fn readdress(&mut self, v: &mut Value) {
        match v {
            Value::String(s) => *s = self.addr(s),
            Value::Array(items) => items.iter_mut().for_each(|i| self.readdress(i)),
            _ => {}
        }
    }

    fn labels(&mut self, v: &mut Value) {
        let Some(map) = v.as_object_mut() else {
            return;
        };
        let old = std::mem::take(map);
        for (k, mut val) in old {
            let well_known = k.split_once('/').is_some_and(|(domain, _)| {
                ["kubernetes.io", "k8s.io"]
                    .iter()
                    .any(|d| domain == *d || domain.ends_with(&format!(".{d}")))
            }) || k == "k8s-app";
            let key = if SERVICE_NAME_LABELS.contains(&k.as_str()) {
                self.rename(&mut val, Class::Service);
                k
            } else if k == "kubernetes.io/metadata.name" {
                self.rename(&mut val, Class::Namespace);
                k
            } else if well_known {
                k
            } else {
                self.rename(&mut val, Class::LabelValue);
                self.name(Class::LabelKey, &k)
            };
            map.insert(key, val);
        }
    }

    /// Rewrites one object (as the API returns it) in place.
    pub fn object(&mut self, v: &mut Value) {
        let kind = v["kind"].as_str().unwrap_or_default().to_owned();
        if let Some(meta) = v.get_mut("metadata").and_then(Value::as_object_mut) {
            meta.remove("annotations");
            meta.remove("generateName");
            if let Some(ns) = meta.get_mut("namespace") {
                self.rename(ns, Class::Namespace);
            }
            if let Some(labels) = meta.get_mut("labels") {
                self.labels(labels);
            }
            let class = match kind.as_str() {
                "Namespace" => Some(Class::Namespace),
                "Service" | "ServiceImport" | "ServiceExport" => Some(Class::Service),
                "EndpointSlice" => Some(Class::Slice),
                "ClusterRole" => Some(Class::Role),
                "ClusterRoleBinding" => Some(Class::Binding),
                _ => None,
            };
            if let (Some(class), Some(name)) = (class, meta.get_mut("name")) {
                self.rename(name, class);
            }
        }
        match kind.as_str() {
            "Service" => self.service(v),
            "EndpointSlice" => {
                let fqdn = v["addressType"] == "FQDN";
                if let Some(eps) = v.get_mut("endpoints").and_then(Value::as_array_mut) {
                    for ep in eps {
                        if let Some(o) = ep.as_object_mut() {
                            for f in ["nodeName", "targetRef", "zone", "hints"] {
                                o.remove(f);
                            }
                        }
                        match ep.get_mut("addresses").and_then(Value::as_array_mut) {
                            Some(names) if fqdn => {
                                for n in names {
                                    if let Some(old) = n.as_str() {
                                        *n = self.dns_name_or_external(old).into();
                                    }
                                }
                            }
                            Some(addrs) => addrs.iter_mut().for_each(|a| self.readdress(a)),
                            None => {}
                        }
                        if let Some(h) = ep.get_mut("hostname") {
                            self.rename(h, Class::Host);
                        }
                    }
                }
            }
            "ServiceImport" => {
                if let Some(spec) = v.get_mut("spec").and_then(Value::as_object_mut) {
                    spec.remove("exportedLabels");
                    spec.remove("exportedAnnotations");
                    if let Some(ips) = spec.get_mut("ips") {
                        self.readdress(ips);
                    }
                }
            }
            "ClusterRole" => {
                if let Some(rules) = v.get_mut("rules").and_then(Value::as_array_mut) {
                    for r in rules.iter_mut().filter_map(Value::as_object_mut) {
                        r.remove("resourceNames");
                    }
                }
                if let Some(o) = v.as_object_mut() {
                    o.remove("aggregationRule");
                }
            }
            "ClusterRoleBinding" => {
                if v["roleRef"]["kind"] == "ClusterRole" {
                    self.rename(&mut v["roleRef"]["name"], Class::Role);
                }
                if let Some(subjects) = v.get_mut("subjects").and_then(Value::as_array_mut) {
                    for s in subjects {
                        let class = match s["kind"].as_str() {
                            Some("ServiceAccount") => Class::Account,
                            Some("Group") => Class::Group,
                            _ => Class::User,
                        };
                        if let Some(ns) = s.get_mut("namespace") {
                            self.rename(ns, Class::Namespace);
                        }
                        self.rename(&mut s["name"], class);
                    }
                }
            }
            _ => {}
        }
    }

    fn service(&mut self, v: &mut Value) {
        let Some(spec) = v.get_mut("spec").and_then(Value::as_object_mut) else {
            return;
        };
        spec.remove("loadBalancerSourceRanges");
        for f in ["clusterIP", "clusterIPs", "externalIPs", "loadBalancerIP"] {
            if let Some(a) = spec.get_mut(f) {
                self.readdress(a);
            }
        }
        if let Some(sel) = spec.get_mut("selector") {
            self.labels(sel);
        }
        if let Some(ext) = spec.get_mut("externalName")
            && let Some(name) = ext.as_str()
        {
            *ext = self.dns_name_or_external(name).into();
        }
    }

    fn dns_name_or_external(&mut self, name: &str) -> String {
        if name.parse::<IpAddr>().is_ok() {
            return self.addr(name);
        }
        let labels: Vec<&str> = name.trim_end_matches('.').split('.').collect();
        if labels
            .iter()
            .rposition(|l| *l == "svc")
            .is_some_and(|i| i >= 2)
        {
            return self.dns_name(name);
        }
        let new = self.name(Class::External, name.trim_end_matches('.'));
        if name.ends_with('.') {
            format!("{new}.")
        } else {
            new
        }
    }

    /// A DNS name of the cluster zones (`[host.][cluster.]svc.ns.svc.<zone>`,
    /// `_port._proto.` prefixes) with its service, namespace and hostname
    /// renamed; other labels (cluster ids, zones) are kept, and a name not
    /// of that shape is returned as it is.
    pub fn dns_name(&mut self, name: &str) -> String {
        let mut labels: Vec<String> = name.split('.').map(str::to_owned).collect();
        let Some(svc) = labels.iter().rposition(|l| l == "svc") else {
            return name.to_owned();
        };
        if svc < 2 {
            return name.to_owned();
        }
        labels[svc - 1] = self.name(Class::Namespace, &labels[svc - 1]);
        labels[svc - 2] = self.name(Class::Service, &labels[svc - 2]);
        if let Some(host) = labels[..svc - 2].iter().position(|l| !l.starts_with('_'))
            && self
                .names
                .contains_key(&(Class::Host, labels[host].clone()))
        {
            labels[host] = self.name(Class::Host, &labels[host]);
        }
        labels.join(".")
    }

    /// The Corefile with its addresses remapped, the namespaces its
    /// `namespaces` directives name renamed, and comment lines dropped;
    /// zones, plugins and everything else kept.
    pub fn corefile(&mut self, text: &str) -> String {
        let mut out = String::new();
        for line in text.lines() {
            if line.trim_start().starts_with('#') {
                continue;
            }
            let indent = &line[..line.len() - line.trim_start().len()];
            let words: Vec<&str> = line.split_whitespace().collect();
            let namespaces = words.first() == Some(&"namespaces");
            let rewritten: Vec<String> = words
                .iter()
                .enumerate()
                .map(|(i, w)| {
                    if namespaces && i > 0 {
                        self.name(Class::Namespace, w)
                    } else {
                        self.token(w)
                    }
                })
                .collect();
            out.push_str(indent);
            out.push_str(&rewritten.join(" "));
            out.push('\n');
        }
        out
    }

    fn token(&mut self, w: &str) -> String {
        if w.parse::<IpAddr>().is_ok() {
            return self.addr(w);
        }
        if let Ok(sa) = w.parse::<SocketAddr>() {
            let ip = self.addr(&sa.ip().to_string());
            return match sa {
                SocketAddr::V4(_) => format!("{ip}:{}", sa.port()),
                SocketAddr::V6(_) => format!("[{ip}]:{}", sa.port()),
            };
        }
        w.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn run(seed: u64, objects: &mut [Value]) -> Anonymizer {
        let mut a = Anonymizer::new(seed);
        for o in objects.iter() {
            a.object(&mut o.clone());
        }
        a.freeze();
        for o in objects.iter_mut() {
            a.object(o);
        }
        a
    }

    fn set() -> Vec<Value> {
        vec![
            json!({"kind": "Service", "metadata": {"name": "payments", "namespace": "acme",
                "labels": {"app": "payments"}}, "spec": {"clusterIP": "10.96.3.4",
                "clusterIPs": ["10.96.3.4", "fd12::4"], "selector": {"app": "payments"}}}),
            json!({"kind": "ServiceImport", "metadata": {"name": "payments", "namespace": "acme"},
                "spec": {"ips": ["10.96.3.4"]}}),
            json!({"kind": "EndpointSlice", "metadata": {"name": "payments-x1", "namespace": "acme",
                "labels": {"kubernetes.io/service-name": "payments"}},
                "endpoints": [{"addresses": ["10.244.1.7"], "hostname": "web-0", "nodeName": "n1"}]}),
            json!({"kind": "EndpointSlice", "addressType": "FQDN", "metadata": {"name": "db-x", "namespace": "acme"},
                "endpoints": [{"addresses": ["db.acme.example.com"]}]}),
            json!({"kind": "Service", "metadata": {"name": "kube-dns", "namespace": "kube-system"},
                "spec": {"clusterIP": "10.96.0.10"}}),
        ]
    }

    #[test]
    fn renames_consistently_and_keeps_the_builtins() {
        let mut objects = set();
        let mut a = run(7, &mut objects);
        let svc = &objects[0];
        assert_eq!(
            svc["metadata"]["namespace"],
            objects[1]["metadata"]["namespace"]
        );
        assert_eq!(svc["metadata"]["name"], objects[1]["metadata"]["name"]);
        assert_eq!(
            objects[2]["metadata"]["labels"]["kubernetes.io/service-name"],
            svc["metadata"]["name"]
        );
        assert!(
            svc["metadata"]["name"]
                .as_str()
                .unwrap()
                .starts_with("svc-")
        );
        assert!(
            svc["metadata"]["namespace"]
                .as_str()
                .unwrap()
                .starts_with("ns-")
        );
        // The same address is the same new address wherever it appears.
        assert_eq!(svc["spec"]["clusterIP"], objects[1]["spec"]["ips"][0]);
        assert_eq!(svc["spec"]["clusterIPs"][0], svc["spec"]["clusterIP"]);
        assert!(
            svc["spec"]["clusterIPs"][1]
                .as_str()
                .unwrap()
                .starts_with("fd00::")
        );
        assert_ne!(svc["spec"]["clusterIP"], "10.96.3.4");
        // Selectors keep matching their labels.
        let labels = svc["metadata"]["labels"].as_object().unwrap();
        assert_eq!(labels.len(), 1);
        assert_eq!(svc["spec"]["selector"], svc["metadata"]["labels"]);
        assert!(
            !objects[2]["endpoints"][0]
                .as_object()
                .unwrap()
                .contains_key("nodeName")
        );
        assert!(
            objects[2]["endpoints"][0]["hostname"]
                .as_str()
                .unwrap()
                .starts_with("host-")
        );
        assert_eq!(
            objects[3]["endpoints"][0]["addresses"][0],
            "external-1.example"
        );
        assert_eq!(objects[4]["metadata"]["name"], "kube-dns");
        assert_eq!(objects[4]["metadata"]["namespace"], "kube-system");
        let new = a.dns_name("web-0.payments.acme.svc.clusterset.local");
        assert_eq!(
            new,
            format!(
                "{}.{}.{}.svc.clusterset.local",
                objects[2]["endpoints"][0]["hostname"].as_str().unwrap(),
                svc["metadata"]["name"].as_str().unwrap(),
                svc["metadata"]["namespace"].as_str().unwrap()
            )
        );
        let text = "# acme's resolver\n.:53 {\n    kubernetes cluster.local {\n        namespaces acme kube-system\n    }\n    forward . 10.96.3.4:53 127.0.0.1\n}\n";
        let core = a.corefile(text);
        assert!(!core.contains("acme"), "{core}");
        assert!(
            core.contains("kube-system") && core.contains("127.0.0.1"),
            "{core}"
        );
        assert!(
            core.contains(&format!(
                "{}:53",
                svc["spec"]["clusterIP"].as_str().unwrap()
            )),
            "{core}"
        );
    }

    #[test]
    fn the_seed_decides_the_mapping_and_nothing_collides() {
        let (mut a, mut b) = (set(), set());
        run(1, &mut a);
        run(1, &mut b);
        assert_eq!(a, b);
        // Many names: every new one distinct.
        let mut many: Vec<Value> = (0..300)
            .map(|i| json!({"kind": "Service", "metadata": {"name": format!("s{i}"), "namespace": format!("n{}", i % 7)},
                "spec": {"clusterIP": format!("10.1.{}.{}", i / 250, i % 250)}}))
            .collect();
        run(3, &mut many);
        let names: std::collections::BTreeSet<_> = many
            .iter()
            .map(|o| o["metadata"]["name"].to_string())
            .collect();
        let ips: std::collections::BTreeSet<_> = many
            .iter()
            .map(|o| o["spec"]["clusterIP"].to_string())
            .collect();
        let nss: std::collections::BTreeSet<_> = many
            .iter()
            .map(|o| o["metadata"]["namespace"].to_string())
            .collect();
        assert_eq!((names.len(), ips.len(), nss.len()), (300, 300, 7));
        // Another seed numbers them otherwise.
        let mut other: Vec<Value> = (0..300)
            .map(|i| json!({"kind": "Service", "metadata": {"name": format!("s{i}"), "namespace": format!("n{}", i % 7)},
                "spec": {"clusterIP": format!("10.1.{}.{}", i / 250, i % 250)}}))
            .collect();
        run(4, &mut other);
        assert_ne!(many, other);
    }
}
