//! Explains a connection that reaches an address where nothing listens on the port.

use super::{Context, Diagnosis};
use crate::client::connect::{AddressKind, Connection};
use crate::model::{Resource, ServiceImport};
use crate::scenario::DiagnosisId;

/// port-mismatch: the name resolved but the connection fails on the port,
/// either at the address itself or between a Service's port and targetPort.
pub(super) fn mismatch(cx: &Context<'_>, c: &Connection) -> Option<Diagnosis> {
    if c.reachable || !is_port_problem(c) {
        return None;
    }
    let listening = if c.listening.is_empty() {
        &c.accepts
    } else {
        &c.listening
    };
    let mut detail = format!("{}:{} — {}", c.address, c.port, c.path.join("; "));
    if let (AddressKind::Pod { cluster, .. }, Some(si)) = (&c.kind, advertised(cx, c)) {
        let ports: Vec<String> = si.spec.ports.iter().map(|p| p.port.to_string()).collect();
        detail.push_str(&format!(
            ". ServiceImport {}/{} advertises port {} but its spec.ips holds a Pod IP of {cluster}, not a clusterset IP: no Service maps the advertised port to the target port",
            si.metadata.namespace.as_deref().unwrap_or("default"),
            si.metadata.name.as_deref().unwrap_or_default(),
            ports.join(", ")
        ));
    }
    Some(Diagnosis {
        id: DiagnosisId::PortMismatch,
        title: format!("nothing listens on port {} behind {}", c.port, c.address),
        detail,
        fix: if matches!(c.kind, AddressKind::Pod { .. }) || !c.accepts.contains(&c.port) {
            format!(
                "connect to a port the backends listen on ({}), or give the import a clusterset IP whose Service maps the advertised port to the backends' targetPort",
                listening
                    .iter()
                    .map(u16::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        } else {
            format!(
                "set the Service's targetPort to where the containers listen ({}); port {} is accepted but sent where nothing listens",
                listening
                    .iter()
                    .map(u16::to_string)
                    .collect::<Vec<_>>()
                    .join(", "),
                c.port
            )
        },
    })
}

/// Whether the failure is about ports at all: an unknown address is not,
/// and a Pod that listens on nothing has no port to compare.
fn is_port_problem(c: &Connection) -> bool {
    match &c.kind {
        AddressKind::Pod { .. } => !c.accepts.is_empty(),
        AddressKind::ClusterIp { .. } | AddressKind::ClusterSetIp { .. } => {
            !c.accepts.contains(&c.port) || !c.listening.is_empty()
        }
        AddressKind::Unknown => false,
    }
}

/// The import in the resolver's cluster whose spec.ips holds the address.
fn advertised<'c>(cx: &'c Context<'_>, c: &Connection) -> Option<&'c ServiceImport> {
    cx.cluster()?.resources().find_map(|r| match r {
        Resource::ServiceImport(si)
            if si
                .spec
                .ips
                .iter()
                .any(|ip| ip.parse().ok() == Some(c.address)) =>
        {
            Some(&**si)
        }
        _ => None,
    })
}
