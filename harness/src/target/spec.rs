//! Chooses a target from the command line's `--target` value.

use std::net::SocketAddr;
use std::path::PathBuf;

use super::kube::{KubeOptions, KubeTarget};
use super::outside::{OutsideOptions, OutsideTarget, Server};
use super::peer::ServePeer;
use super::peer::container::{ContainerOptions, ContainerPeer};
use super::peer::coredns::CoreDnsPeer;
use super::peer::lighthouse::LighthousePeer;
use super::{Answer, Capabilities, Events, Operation, ReferenceTarget, Target, TargetError};
use crate::resolver::{Profile, Question};
use crate::scenario::Scenario;

/// A parsed `--target`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TargetSpec {
    /// The in-process reference resolver.
    Reference,
    /// The reference resolver in a profile that replaces each scenario's
    /// own (`reference=lighthouse`), so `diff` can hold two profiles side
    /// by side.
    ReferenceIn(Profile),
    /// A DNS server already listening (its world in the API emulator).
    Dns(SocketAddr),
    /// `mcsdns serve` started per scenario against the API emulator (this
    /// executable, or another build).
    Serve(Option<PathBuf>),
    /// Real CoreDNS started per scenario against the API emulator.
    Coredns(Option<PathBuf>),
    /// A Submariner Lighthouse build started per scenario against the API
    /// emulator; without a path, a usage error (it is not installable).
    Lighthouse(Option<PathBuf>),
    /// Real clusters: scenario cluster → kubeconfig context.
    Kube(Vec<(String, String)>),
    /// A DNS server image started per scenario with testcontainers.
    Container(String),
    /// An outside server (`dns`, `serve`, `coredns`, `container`) whose
    /// world lives in real control planes whatever `--api` says
    /// (`coredns@real`), so `diff` can hold one API against the other.
    RealApi(Box<TargetSpec>),
}

/// Options for each kind of target; a target reads only its own.
#[derive(Clone, Debug, Default)]
pub struct TargetOptions {
    /// For the servers fed by the API emulator: `dns`, `serve`, `coredns`
    /// and `container`.
    pub outside: OutsideOptions,
    /// For `kube`.
    pub kube: KubeSettings,
    /// For `container`: how to run the image (its `image` is the target's).
    pub container: Option<ContainerOptions>,
}

/// How the `kube` target reaches real clusters.
#[derive(Clone, Debug, Default)]
pub struct KubeSettings {
    /// The kubeconfig (default: `$KUBECONFIG` or `~/.kube/config`).
    pub kubeconfig: Option<PathBuf>,
    /// The cluster DNS address (default: a port-forward to kube-dns).
    pub dns: Option<SocketAddr>,
}

impl TargetSpec {
    /// Parses `reference`, `dns=ADDR`, `serve[=PATH]` or
    /// `kube=CTX[,CTX...]` (each `CTX` or `CLUSTER:CTX`).
    pub fn parse(s: &str) -> Result<TargetSpec, String> {
        if let Some(inner) = s.strip_suffix("@real") {
            return match TargetSpec::parse(inner)? {
                t @ (TargetSpec::Dns(_)
                | TargetSpec::Serve(_)
                | TargetSpec::Coredns(_)
                | TargetSpec::Lighthouse(_)
                | TargetSpec::Container(_)) => Ok(TargetSpec::RealApi(Box::new(t))),
                _ => Err(format!(
                    "@real is for servers fed by an API (dns, serve, coredns, lighthouse, container), not {inner}"
                )),
            };
        }
        let (kind, value) = match s.split_once('=') {
            Some((k, v)) => (k, Some(v)),
            None => (s, None),
        };
        match (kind, value) {
            ("reference", None) => Ok(TargetSpec::Reference),
            ("reference", Some(profile)) => profile.parse().map(TargetSpec::ReferenceIn),
            ("dns", Some(addr)) => addr
                .parse()
                .map(TargetSpec::Dns)
                .map_err(|_| format!("{addr:?} is not an address such as 127.0.0.1:5353")),
            ("dns", None) => Err("dns needs an address: dns=127.0.0.1:5353".into()),
            ("serve", path) => Ok(TargetSpec::Serve(path.map(PathBuf::from))),
            ("coredns", path) => Ok(TargetSpec::Coredns(path.map(PathBuf::from))),
            ("lighthouse", path) => Ok(TargetSpec::Lighthouse(
                path.filter(|p| !p.is_empty()).map(PathBuf::from),
            )),
            ("kube", Some(list)) if !list.is_empty() => Ok(TargetSpec::Kube(
                list.split(',')
                    .map(|c| match c.split_once(':') {
                        Some((cluster, ctx)) => (cluster.to_owned(), ctx.to_owned()),
                        None => (c.to_owned(), c.to_owned()),
                    })
                    .collect(),
            )),
            ("kube", _) => Err("kube needs contexts: kube=member1,member2".into()),
            ("container", Some(image)) if !image.is_empty() => Ok(TargetSpec::Container(image.to_owned())),
            ("container", _) => Err("container needs an image: container=mcsdns/coredns:1.15.0".into()),
            _ => Err(
                "expected reference[=PROFILE], dns=ADDR, serve[=PATH], coredns[=PATH], lighthouse=PATH, container=IMAGE or kube=CONTEXTS (the outside ones with @real for a real API)"
                    .into(),
            ),
        }
    }

    /// Whether one target instance must serve every scenario in turn (one
    /// outside server or one set of clusters).
    pub fn is_shared(&self) -> bool {
        // Containers share the host network: one at a time keeps ports apart.
        match self {
            TargetSpec::RealApi(inner) => inner.is_shared(),
            t => matches!(
                t,
                TargetSpec::Dns(_) | TargetSpec::Kube(_) | TargetSpec::Container(_)
            ),
        }
    }

    /// Whether the target can start at all: the programs it runs are
    /// installed, the engine it needs answers. A run checks this before its
    /// first scenario, so a missing peer is one usage error with the
    /// install command, not a failure of every scenario.
    pub fn preflight(&self, options: &TargetOptions) -> Result<(), TargetError> {
        let real = self.is_real() || options.outside.api == super::outside::Api::Real;
        if real && !matches!(self, TargetSpec::Reference | TargetSpec::Kube(_)) {
            super::outside::real_available()?;
        }
        match self {
            TargetSpec::RealApi(inner) => inner.preflight(options),
            TargetSpec::Coredns(path) => CoreDnsPeer::find(path.as_deref()).map(|_| ()),
            TargetSpec::Lighthouse(path) => LighthousePeer::find(path.as_deref()).map(|_| ()),
            TargetSpec::Container(_) => ContainerPeer::available(),
            TargetSpec::Serve(Some(path)) if !path.is_file() => Err(TargetError::Missing {
                what: "the mcsdns executable".into(),
                looked: format!("{} is not a file", path.display()),
                install: "build it with `cargo build --release` or give --target serve=PATH".into(),
            }),
            _ => Ok(()),
        }
    }

    fn is_real(&self) -> bool {
        matches!(self, TargetSpec::RealApi(_))
    }

    /// Builds the target; one that cannot start reports why on every
    /// scenario instead of aborting the run.
    pub fn make(&self, options: &TargetOptions) -> Box<dyn Target> {
        let made: Result<Box<dyn Target>, TargetError> = match self {
            TargetSpec::RealApi(inner) => {
                let mut options = options.clone();
                options.outside.api = super::outside::Api::Real;
                return inner.make(&options);
            }
            TargetSpec::Reference => Ok(Box::new(ReferenceTarget::new())),
            TargetSpec::ReferenceIn(p) => Ok(Box::new(ReferenceTarget::in_profile(*p))),
            TargetSpec::Dns(addr) => {
                OutsideTarget::new(Server::Fixed(*addr), options.outside.clone())
                    .map(|t| Box::new(t) as Box<dyn Target>)
            }
            TargetSpec::Serve(path) => {
                let exe = match path {
                    Some(p) => Ok(p.clone()),
                    None => std::env::current_exe().map_err(|e| {
                        TargetError::failed(format!("cannot find the mcsdns executable: {e}"))
                    }),
                };
                exe.and_then(|exe| {
                    OutsideTarget::new(
                        Server::Managed(Box::new(ServePeer { exe })),
                        options.outside.clone(),
                    )
                })
                .map(|t| Box::new(t) as Box<dyn Target>)
            }
            TargetSpec::Coredns(path) => CoreDnsPeer::find(path.as_deref())
                .and_then(|peer| {
                    OutsideTarget::new(Server::Managed(Box::new(peer)), options.outside.clone())
                })
                .map(|t| Box::new(t) as Box<dyn Target>),
            TargetSpec::Lighthouse(path) => LighthousePeer::find(path.as_deref())
                .and_then(|peer| {
                    OutsideTarget::new(Server::Managed(Box::new(peer)), options.outside.clone())
                })
                .map(|t| Box::new(t) as Box<dyn Target>),
            TargetSpec::Container(image) => {
                let mut o = options
                    .container
                    .clone()
                    .unwrap_or_else(|| ContainerOptions::new(image, options.outside.start_timeout));
                o.image = image.clone();
                ContainerPeer::new(o)
                    .and_then(|peer| {
                        OutsideTarget::new(Server::Managed(Box::new(peer)), options.outside.clone())
                    })
                    .map(|t| Box::new(t) as Box<dyn Target>)
            }
            TargetSpec::Kube(contexts) => KubeTarget::new(KubeOptions {
                contexts: contexts.clone(),
                kubeconfig: options.kube.kubeconfig.clone(),
                dns: options.kube.dns,
                settle: options.outside.settle,
                query_timeout: options.outside.query_timeout,
            })
            .map(|t| Box::new(t) as Box<dyn Target>),
        };
        made.unwrap_or_else(|e| {
            Box::new(Broken {
                name: self.to_string(),
                why: e.to_string(),
            })
        })
    }
}

impl std::fmt::Display for TargetSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TargetSpec::Reference => f.write_str("reference"),
            TargetSpec::ReferenceIn(p) => write!(f, "reference={p}"),
            TargetSpec::Dns(a) => write!(f, "dns={a}"),
            TargetSpec::Serve(None) => f.write_str("serve"),
            TargetSpec::Serve(Some(p)) => write!(f, "serve={}", p.display()),
            TargetSpec::Coredns(None) => f.write_str("coredns"),
            TargetSpec::Coredns(Some(p)) => write!(f, "coredns={}", p.display()),
            TargetSpec::Lighthouse(None) => f.write_str("lighthouse"),
            TargetSpec::Lighthouse(Some(p)) => write!(f, "lighthouse={}", p.display()),
            TargetSpec::Container(i) => write!(f, "container={i}"),
            TargetSpec::RealApi(inner) => write!(f, "{inner}@real"),
            TargetSpec::Kube(c) => {
                let list: Vec<String> = c.iter().map(|(a, b)| format!("{a}:{b}")).collect();
                write!(f, "kube={}", list.join(","))
            }
        }
    }
}

/// A target that could not be set up: every scenario fails with the reason.
struct Broken {
    name: String,
    why: String,
}

impl Target for Broken {
    fn name(&self) -> String {
        self.name.clone()
    }
    fn capabilities(&self) -> Capabilities {
        Capabilities::ANSWER_ONLY
    }
    fn start(&mut self, _: &Scenario) -> Result<Events, TargetError> {
        Err(TargetError::failed(self.why.clone()))
    }
    fn perform(&mut self, _: Operation<'_>) -> Result<Events, TargetError> {
        Err(TargetError::failed(self.why.clone()))
    }
    fn ask(&mut self, _: &Question) -> Result<Answer, TargetError> {
        Err(TargetError::failed(self.why.clone()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_form_and_rejects_the_rest() {
        assert_eq!(TargetSpec::parse("reference"), Ok(TargetSpec::Reference));
        assert_eq!(
            TargetSpec::parse("dns=127.0.0.1:5353"),
            Ok(TargetSpec::Dns("127.0.0.1:5353".parse().unwrap()))
        );
        assert_eq!(TargetSpec::parse("serve"), Ok(TargetSpec::Serve(None)));
        assert_eq!(
            TargetSpec::parse("kube=member1,c1:member2"),
            Ok(TargetSpec::Kube(vec![
                ("member1".into(), "member1".into()),
                ("c1".into(), "member2".into())
            ]))
        );
        assert!(TargetSpec::parse("dns=localhost").is_err());
        assert!(TargetSpec::parse("kube=").is_err());
        assert!(TargetSpec::parse("knot").is_err());
        let real = TargetSpec::parse("coredns@real").unwrap();
        assert_eq!(
            real,
            TargetSpec::RealApi(Box::new(TargetSpec::Coredns(None)))
        );
        assert_eq!(real.to_string(), "coredns@real");
        assert!(TargetSpec::parse("reference@real").is_err());
        assert_eq!(
            TargetSpec::parse("reference=lighthouse"),
            Ok(TargetSpec::ReferenceIn(Profile::Lighthouse))
        );
        assert!(TargetSpec::parse("reference=bind").is_err());
        assert_eq!(
            TargetSpec::parse("lighthouse=/opt/lh"),
            Ok(TargetSpec::Lighthouse(Some("/opt/lh".into())))
        );
        assert_eq!(
            TargetSpec::parse("lighthouse"),
            Ok(TargetSpec::Lighthouse(None))
        );
        assert_eq!(
            TargetSpec::parse("lighthouse=/opt/lh@real")
                .unwrap()
                .to_string(),
            "lighthouse=/opt/lh@real"
        );
        assert!(TargetSpec::parse("kube=c1@real").is_err());
    }
}
