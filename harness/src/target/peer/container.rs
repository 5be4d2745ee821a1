//! Runs a DNS server image as a peer: started with testcontainers for each
//! scenario, on the host network (so every packet stays on loopback), with
//! the scenario's rendered Corefile (or the user's) and the API emulator's
//! kubeconfig mounted, and stopped when the scenario ends, fails or is
//! interrupted.
//!
//! Two styles of image are understood: CoreDNS-style (the binary takes
//! `-conf FILE`; the Corefile is rendered as for the CoreDNS peer) and
//! mcsdns-style (`serve --kubeconfig ...`). Arguments, environment, extra
//! mounts, the DNS port and the start-up timeout can be set for images of
//! other shapes (Lighthouse-style images read their own configuration).

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::coredns;
use super::{Peer, PeerSetup, Started};
use crate::resolver::corefile::Corefile;
use crate::resolver::corefile::config::default_corefile;
use crate::target::TargetError;

/// Where the emulator's kubeconfig is mounted in the container.
pub const KUBECONFIG_IN_CONTAINER: &str = "/etc/mcsdns/kubeconfig";
/// Where the Corefile is mounted in the container.
pub const COREFILE_IN_CONTAINER: &str = "/etc/coredns/Corefile";

/// How the image is started.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Style {
    /// `-conf /etc/coredns/Corefile`, the Corefile rendered for the peer.
    Coredns,
    /// `serve --kubeconfig ... --listen 127.0.0.1:PORT`.
    Mcsdns,
}

/// A container image and how to run it.
#[derive(Clone, Debug)]
pub struct ContainerOptions {
    /// `name[:tag]`.
    pub image: String,
    /// How to start it (guessed from the image name when `None`).
    pub style: Option<Style>,
    /// A Corefile to use for every scenario instead of each scenario's own.
    pub corefile: Option<PathBuf>,
    /// Arguments replacing the style's; `{port}`, `{kubeconfig}`,
    /// `{context}`, `{corefile}` and `{profile}` are filled in.
    pub args: Option<Vec<String>>,
    /// Environment variables.
    pub env: Vec<(String, String)>,
    /// Extra bind mounts, `host:container`.
    pub mounts: Vec<(PathBuf, String)>,
    /// The DNS port the server listens on; a free one is chosen when `None`
    /// (and given to the server through its Corefile or arguments).
    pub port: Option<u16>,
    /// How long to wait until it listens.
    pub start_timeout: Duration,
}

impl ContainerOptions {
    /// `image` started in its guessed style, with the scenario's Corefile,
    /// on a free port.
    pub fn new(image: &str, start_timeout: Duration) -> ContainerOptions {
        ContainerOptions {
            image: image.to_owned(),
            style: None,
            corefile: None,
            args: None,
            env: Vec::new(),
            mounts: Vec::new(),
            port: None,
            start_timeout,
        }
    }
}

/// An image started per scenario.
pub struct ContainerPeer {
    options: ContainerOptions,
}

impl ContainerPeer {
    /// A peer for `options`; fails at once if this build has no container
    /// support or no Docker engine answers.
    pub fn new(options: ContainerOptions) -> Result<ContainerPeer, TargetError> {
        engine::check()?;
        Ok(ContainerPeer { options })
    }

    /// Whether images can be run at all: this build has container support
    /// and a Docker engine answers.
    pub fn available() -> Result<(), TargetError> {
        engine::check()
    }

    fn style(&self) -> Style {
        self.options.style.unwrap_or_else(|| {
            if self.options.image.contains("mcsdns") {
                Style::Mcsdns
            } else {
                Style::Coredns
            }
        })
    }

    fn name_and_tag(&self) -> (String, String) {
        match self.options.image.rsplit_once(':') {
            Some((n, t)) if !t.contains('/') => (n.to_owned(), t.to_owned()),
            _ => (self.options.image.clone(), "latest".to_owned()),
        }
    }

    /// The Corefile text the container reads, and the arguments.
    fn prepare(&self, setup: &PeerSetup<'_>) -> Result<(Option<String>, Vec<String>), TargetError> {
        let port = setup.listen.port();
        // `--corefile FILE` replaces every scenario's Corefile.
        let own =
            match &self.options.corefile {
                Some(p) => Some(Corefile::read(p).map_err(|e| {
                    TargetError::failed(format!("the Corefile does not parse: {e}"))
                })?),
                None => None,
            };
        let corefile = own.as_ref().or(setup.corefile);
        let rendered = match self.style() {
            Style::Coredns => Some(coredns::render(
                corefile.unwrap_or_else(|| default_corefile()),
                port,
                Path::new(KUBECONFIG_IN_CONTAINER),
                &setup.context,
            )),
            Style::Mcsdns => corefile.map(|c| c.text.clone()),
        };
        let fill = |a: &str| {
            a.replace("{port}", &port.to_string())
                .replace("{kubeconfig}", KUBECONFIG_IN_CONTAINER)
                .replace("{context}", &setup.context)
                .replace("{corefile}", COREFILE_IN_CONTAINER)
                .replace("{profile}", &setup.profile.to_string())
        };
        let args: Vec<String> = match (&self.options.args, self.style()) {
            (Some(a), _) => a.iter().map(|x| fill(x)).collect(),
            (None, Style::Coredns) => vec!["-conf".into(), COREFILE_IN_CONTAINER.into()],
            (None, Style::Mcsdns) => {
                let mut a: Vec<String> = [
                    "serve",
                    "--kubeconfig",
                    KUBECONFIG_IN_CONTAINER,
                    "--context",
                    &setup.context,
                    "--listen",
                    &format!("127.0.0.1:{port}"),
                    "--profile",
                    &setup.profile.to_string(),
                ]
                .iter()
                .map(|s| s.to_string())
                .collect();
                if rendered.is_some() {
                    a.extend(["--corefile".into(), COREFILE_IN_CONTAINER.into()]);
                }
                a
            }
        };
        Ok((rendered, args))
    }
}

impl Peer for ContainerPeer {
    fn name(&self) -> String {
        format!("container={}", self.options.image)
    }

    fn version(&self) -> String {
        format!("image {}", self.options.image)
    }

    fn listen_port(&self) -> Option<u16> {
        self.options.port
    }

    fn follows_corefile(&self) -> bool {
        self.options.corefile.is_none()
    }

    fn start(
        &self,
        setup: &PeerSetup<'_>,
        timeout: Duration,
    ) -> Result<Box<dyn Started>, TargetError> {
        let (corefile, args) = self.prepare(setup)?;
        let corefile_path = setup.dir.join("Corefile");
        if let Some(text) = &corefile {
            crate::files::replace_file(&corefile_path, text).map_err(|e| {
                TargetError::failed(format!("cannot write {}: {e}", corefile_path.display()))
            })?;
        }
        let (name, tag) = self.name_and_tag();
        let mut mounts: Vec<(PathBuf, String)> =
            vec![(setup.kubeconfig.to_owned(), KUBECONFIG_IN_CONTAINER.into())];
        if corefile.is_some() {
            mounts.push((corefile_path, COREFILE_IN_CONTAINER.into()));
        }
        mounts.extend(self.options.mounts.iter().cloned());
        // The resolver's own cluster, as Lighthouse (and `mcsdns serve` in
        // the lighthouse profile) reads it, unless `--container-env` says.
        let mut env = self.options.env.clone();
        if !env
            .iter()
            .any(|(k, _)| k == super::lighthouse::CLUSTER_ID_ENV)
        {
            env.push((
                super::lighthouse::CLUSTER_ID_ENV.to_owned(),
                setup.cluster.to_owned(),
            ));
        }
        let started = engine::start(&engine::Spec {
            name,
            tag,
            args,
            env,
            mounts,
            startup_timeout: self.options.start_timeout.max(timeout),
        })?;
        super::wait_listening(
            &format!("the container of {}", self.options.image),
            setup.listen,
            self.options.start_timeout.max(timeout),
            || None,
            || super::tail(&started.logs(), 15),
            &|log, _| log.contains("not serving yet"),
        )?;
        Ok(Box::new(Running {
            container: started,
            addr: setup.listen,
            read: (0, 0),
        }))
    }

    fn log_events(&self, log: &str) -> Vec<String> {
        match self.style() {
            Style::Coredns => coredns::log_events(log),
            Style::Mcsdns => Vec::new(),
        }
    }
}

struct Running {
    container: engine::Container,
    addr: std::net::SocketAddr,
    /// How much of standard output and of standard error has been returned.
    read: (usize, usize),
}

impl Started for Running {
    fn addr(&self) -> std::net::SocketAddr {
        self.addr
    }

    fn new_log(&mut self) -> String {
        let (out, err) = self.container.streams();
        let mut new = super::new_lines(&out, &mut self.read.0);
        new.push_str(&super::new_lines(&err, &mut self.read.1));
        new
    }
}

/// What to start: an image, its arguments, environment and mounts.
pub struct Spec {
    name: String,
    tag: String,
    args: Vec<String>,
    env: Vec<(String, String)>,
    mounts: Vec<(PathBuf, String)>,
    startup_timeout: Duration,
}

/// The Docker engine, through testcontainers (feature `container`).
#[cfg(feature = "container")]
mod engine {
    use std::path::PathBuf;

    use testcontainers::core::{Mount, WaitFor};
    use testcontainers::runners::SyncRunner;
    use testcontainers::{GenericImage, ImageExt};

    use super::TargetError;

    pub use super::Spec;

    /// A started container; stopped and removed when dropped.
    pub struct Container(testcontainers::Container<GenericImage>);

    impl Container {
        /// Its standard output and standard error so far.
        pub fn streams(&self) -> (String, String) {
            let text = |b: Vec<u8>| String::from_utf8_lossy(&b).into_owned();
            (
                text(self.0.stdout_to_vec().unwrap_or_default()),
                text(self.0.stderr_to_vec().unwrap_or_default()),
            )
        }

        /// Both streams, output first, for error messages.
        pub fn logs(&self) -> String {
            let (out, err) = self.streams();
            out + &err
        }
    }

    /// Whether an engine answers: `DOCKER_HOST`, else the default socket.
    pub fn check() -> Result<(), TargetError> {
        let socket = match std::env::var("DOCKER_HOST") {
            Ok(h) => match h.strip_prefix("unix://") {
                Some(p) => PathBuf::from(p),
                None => return Ok(()),
            },
            Err(_) => PathBuf::from("/var/run/docker.sock"),
        };
        std::os::unix::net::UnixStream::connect(&socket).map(|_| ()).map_err(|e| {
            TargetError::failed(format!(
                "no Docker engine answers at {} ({e}); start one (see `just dockerd`) and set DOCKER_HOST",
                socket.display()
            ))
        })
    }

    pub fn start(spec: &Spec) -> Result<Container, TargetError> {
        let mut req = GenericImage::new(&spec.name, &spec.tag)
            .with_wait_for(WaitFor::Nothing)
            .with_network("host")
            .with_startup_timeout(spec.startup_timeout)
            .with_cmd(spec.args.clone());
        for (k, v) in &spec.env {
            req = req.with_env_var(k, v);
        }
        for (host, inside) in &spec.mounts {
            req = req.with_mount(Mount::bind_mount(host.display().to_string(), inside));
        }
        req.start().map(Container).map_err(|e| {
            TargetError::failed(format!("cannot start {}:{}: {e}", spec.name, spec.tag))
        })
    }
}

/// Without the `container` feature: every use says how to get it.
#[cfg(not(feature = "container"))]
mod engine {

    use super::TargetError;

    pub use super::Spec;

    pub struct Container;

    impl Container {
        pub fn streams(&self) -> (String, String) {
            (String::new(), String::new())
        }

        pub fn logs(&self) -> String {
            String::new()
        }
    }

    fn missing() -> TargetError {
        TargetError::failed(
            "this mcsdns was built without container support: build it with `--features container`",
        )
    }

    pub fn check() -> Result<(), TargetError> {
        Err(missing())
    }

    pub fn start(spec: &Spec) -> Result<Container, TargetError> {
        let _ = (
            &spec.name,
            &spec.tag,
            &spec.args,
            &spec.env,
            &spec.mounts,
            spec.startup_timeout,
        );
        Err(missing())
    }
}
