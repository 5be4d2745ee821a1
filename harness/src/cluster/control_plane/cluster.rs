//! One real cluster: etcd, kube-apiserver and kube-controller-manager on
//! loopback ports, started in that order and each waited for.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use super::binaries::Binaries;
use super::process::{Daemon, free_port};
use super::{ControlPlaneError, Files};

/// The service range of every cluster; more ranges come as ServiceCIDR
/// objects when a world's Services need them.
pub const SERVICE_RANGE: &str = "10.96.0.0/16,fd00:10:96::/112";

/// The controllers a DNS world needs: namespaces are finalized (so a run's
/// namespaces really go), owners' dependents collected, and new namespaces
/// get their service account and CA bundle. The EndpointSlice controller
/// is left out on purpose: a world's EndpointSlices are its own, and the
/// controller would add empty ones for Services with selectors.
pub const CONTROLLERS: &str = "namespace-controller,garbage-collector-controller,serviceaccount-controller,serviceaccount-token-controller,root-ca-certificate-publisher-controller";

/// How long each program may take to become ready.
const READY_TIMEOUT: Duration = Duration::from_secs(60);

/// One running cluster.
pub struct RealCluster {
    /// Its name (the scenario's cluster name).
    pub name: String,
    /// The API server's HTTPS address.
    pub server: SocketAddr,
    /// etcd's client address (plain HTTP on loopback).
    pub etcd: SocketAddr,
    /// Its folder (data, keys, logs).
    pub dir: PathBuf,
    /// How long it took from the first program's start to a ready API.
    pub startup: Duration,
    /// In start order; stopped in reverse.
    daemons: Vec<Daemon>,
}

impl Drop for RealCluster {
    fn drop(&mut self) {
        while let Some(d) = self.daemons.pop() {
            drop(d);
        }
    }
}

impl RealCluster {
    /// Starts etcd and the API server of cluster `name` in `dir` and waits
    /// until the API is ready; the controller manager comes with
    /// [`RealCluster::start_controllers`], once the admin kubeconfig exists.
    pub fn start(
        name: &str,
        dir: &Path,
        bin: &Binaries,
        files: &Files,
        taken: &mut Vec<u16>,
    ) -> Result<RealCluster, ControlPlaneError> {
        let started = Instant::now();
        crate::files::private_dir(dir).map_err(|source| ControlPlaneError::Io {
            what: format!("cannot use {}", dir.display()),
            source,
        })?;
        let mut port = || -> Result<u16, ControlPlaneError> {
            let p = free_port(taken)?;
            taken.push(p);
            Ok(p)
        };
        let (client, peer, secure) = (port()?, port()?, port()?);
        let etcd_addr = SocketAddr::from(([127, 0, 0, 1], client));
        let mut etcd = Command::new(&bin.etcd);
        etcd.arg("--name")
            .arg(name)
            .arg("--data-dir")
            .arg(dir.join("etcd"))
            .arg(format!("--listen-client-urls=http://{etcd_addr}"))
            .arg(format!("--advertise-client-urls=http://{etcd_addr}"))
            .arg(format!("--listen-peer-urls=http://127.0.0.1:{peer}"))
            .arg(format!(
                "--initial-advertise-peer-urls=http://127.0.0.1:{peer}"
            ))
            .arg(format!("--initial-cluster={name}=http://127.0.0.1:{peer}"))
            // A test world needs no durability: no fsync, and start-up
            // stays well under a second.
            .arg("--unsafe-no-fsync")
            .arg("--log-level=warn");
        let mut etcd = Daemon::spawn("etcd", etcd, &dir.join("etcd.log"))?;
        wait_until(&mut etcd, || http_ok(etcd_addr, "/health"))?;

        let server = SocketAddr::from(([127, 0, 0, 1], secure));
        let mut api = Command::new(&bin.apiserver);
        api.arg("--bind-address=127.0.0.1")
            .arg("--advertise-address=127.0.0.1")
            .arg(format!("--secure-port={secure}"))
            .arg(format!("--etcd-servers=http://{etcd_addr}"))
            .arg(format!("--tls-cert-file={}", files.serving_cert.display()))
            .arg(format!(
                "--tls-private-key-file={}",
                files.serving_key.display()
            ))
            .arg(format!("--client-ca-file={}", files.ca.display()))
            .arg(format!("--token-auth-file={}", files.tokens.display()))
            .arg("--authorization-mode=RBAC")
            .arg("--service-account-issuer=https://kubernetes.default.svc.cluster.local")
            .arg(format!(
                "--service-account-signing-key-file={}",
                dir.join("sa.key").display()
            ))
            .arg(format!(
                "--service-account-key-file={}",
                dir.join("sa.pub").display()
            ))
            .arg(format!("--service-cluster-ip-range={SERVICE_RANGE}"))
            .arg("--endpoint-reconciler-type=none")
            .arg("--enable-priority-and-fairness=false")
            .arg("--profiling=false")
            .arg("--v=1");
        let (sa_key, sa_pub) = super::pki::service_account_keys()?;
        write(&dir.join("sa.key"), &sa_key)?;
        write(&dir.join("sa.pub"), &sa_pub)?;
        let mut apiserver = Daemon::spawn("kube-apiserver", api, &dir.join("kube-apiserver.log"))?;
        let cluster = RealCluster {
            name: name.to_owned(),
            server,
            etcd: etcd_addr,
            dir: dir.to_owned(),
            startup: Duration::ZERO,
            daemons: vec![etcd],
        };
        // `/readyz` is open to anonymous clients (system:public-info-viewer).
        wait_until(&mut apiserver, || https_ready(server, &files.ca_pem))?;
        let mut cluster = cluster;
        cluster.daemons.push(apiserver);
        cluster.startup = started.elapsed();
        Ok(cluster)
    }

    /// Starts kube-controller-manager with the admin kubeconfig and waits
    /// until it listens.
    pub fn start_controllers(
        &mut self,
        bin: &Binaries,
        files: &Files,
        admin_kubeconfig: &Path,
        taken: &mut Vec<u16>,
    ) -> Result<(), ControlPlaneError> {
        let started = Instant::now();
        let port = free_port(taken)?;
        taken.push(port);
        let mut kcm = Command::new(&bin.controller_manager);
        kcm.arg(format!("--kubeconfig={}", admin_kubeconfig.display()))
            .arg(format!("--controllers={CONTROLLERS}"))
            .arg("--leader-elect=false")
            .arg(format!(
                "--service-account-private-key-file={}",
                self.dir.join("sa.key").display()
            ))
            .arg(format!("--root-ca-file={}", files.ca.display()))
            .arg("--bind-address=127.0.0.1")
            .arg(format!("--secure-port={port}"))
            .arg("--v=1");
        let mut kcm = Daemon::spawn(
            "kube-controller-manager",
            kcm,
            &self.dir.join("kube-controller-manager.log"),
        )?;
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        wait_until(&mut kcm, || {
            TcpStream::connect_timeout(&addr, Duration::from_millis(100)).is_ok()
        })?;
        self.daemons.push(kcm);
        self.startup += started.elapsed();
        Ok(())
    }

    /// The resident memory of its programs, by name.
    pub fn rss(&self) -> Vec<(String, Option<u64>)> {
        self.daemons
            .iter()
            .map(|d| (d.name.clone(), d.rss()))
            .collect()
    }

    /// Its programs' process ids, by name.
    pub fn pids(&self) -> Vec<(String, u32)> {
        self.daemons
            .iter()
            .map(|d| (d.name.clone(), d.pid()))
            .collect()
    }

    /// The first program that stopped, and why.
    pub fn check_running(&mut self) -> Result<(), ControlPlaneError> {
        for d in &mut self.daemons {
            if let Some(why) = d.exited() {
                return Err(d.died(&why));
            }
        }
        Ok(())
    }
}

/// Writes a key of the cluster's folder, 0600 whatever was there.
fn write(path: &Path, text: &str) -> Result<(), ControlPlaneError> {
    crate::files::write_private(path, text.as_bytes()).map_err(|source| ControlPlaneError::Io {
        what: format!("cannot write {}", path.display()),
        source,
    })
}

/// Polls `ready` until it holds, failing if the program exits first or
/// does not get ready in time.
fn wait_until(d: &mut Daemon, mut ready: impl FnMut() -> bool) -> Result<(), ControlPlaneError> {
    let started = Instant::now();
    loop {
        if let Some(why) = d.exited() {
            return Err(d.died(&why));
        }
        if ready() {
            return Ok(());
        }
        if started.elapsed() > READY_TIMEOUT {
            let why = format!("was not ready within {} s", READY_TIMEOUT.as_secs());
            return Err(d.died(&why));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Whether a plain HTTP GET of `path` answers 200.
fn http_ok(addr: SocketAddr, path: &str) -> bool {
    let Ok(mut s) = TcpStream::connect_timeout(&addr, Duration::from_millis(200)) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_millis(500)));
    let req = format!("GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n");
    if s.write_all(req.as_bytes()).is_err() {
        return false;
    }
    let mut head = [0u8; 12];
    s.read_exact(&mut head).is_ok() && head.ends_with(b"200")
}

/// Whether the API server's `/readyz` answers 200 over TLS.
fn https_ready(addr: SocketAddr, ca_pem: &str) -> bool {
    super::tls::get_status(addr, "/readyz", ca_pem).is_ok_and(|code| code == 200)
}
