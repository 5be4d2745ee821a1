//! Serves the answer engine over UDP and TCP.
//!
//! Each query loads the current [`Snapshot`] (one atomic pointer read) and
//! runs the pure engine on it; a state change stores a new snapshot. A query
//! never waits for a writer. `respond.rs` turns a packet into its answer
//! with hickory-server; `udp.rs` and `tcp.rs` carry packets.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use arc_swap::ArcSwap;
use tokio::net::{TcpListener, UdpSocket};

use super::config::ResolverConfig;
use super::flood::Tally;
use super::respond::Handler;
use super::view::ClusterView;
use super::{tcp, udp};

/// The EDNS payload size the server offers (the 2020 DNS flag day value).
pub const EDNS_PAYLOAD: u16 = 1232;

/// What a query is answered from: a configuration and one cluster's view.
#[derive(Clone, Debug)]
pub struct Snapshot {
    /// The resolver's configuration.
    pub config: Arc<ResolverConfig>,
    /// The resolver's cluster.
    pub view: ClusterView,
}

/// The shared, swappable current snapshot.
#[derive(Clone, Debug)]
pub struct SharedSnapshot(Arc<ArcSwap<Snapshot>>);

impl SharedSnapshot {
    /// Starts with `snapshot`.
    pub fn new(snapshot: Snapshot) -> Self {
        SharedSnapshot(Arc::new(ArcSwap::from_pointee(snapshot)))
    }

    /// The current snapshot.
    pub fn load(&self) -> Arc<Snapshot> {
        self.0.load_full()
    }

    /// Replaces the view; queries already running finish on the old one.
    pub fn store_view(&self, view: ClusterView) {
        let current = self.0.load();
        self.0.store(Arc::new(Snapshot {
            config: current.config.clone(),
            view,
        }));
    }

    /// Changes the view with `f`, building the next snapshot from the current one.
    pub fn update(&self, f: impl Fn(&mut ClusterView)) {
        self.0.rcu(|current| {
            let mut view = current.view.clone();
            f(&mut view);
            Arc::new(Snapshot {
                config: current.config.clone(),
                view,
            })
        });
    }
}

/// A running server.
pub struct Running {
    /// The address it listens on (UDP and TCP).
    pub addr: SocketAddr,
    /// Swap this to change what it answers.
    pub snapshot: SharedSnapshot,
    stop: Arc<AtomicBool>,
    udp: Vec<std::thread::JoinHandle<std::io::Result<()>>>,
    tcp: tokio::task::JoinHandle<()>,
    tally: Arc<Tally>,
}

impl Running {
    /// Stops serving and waits for the listeners to finish.
    pub async fn shutdown(mut self) {
        self.stop.store(true, Ordering::Relaxed);
        self.tcp.abort();
        let threads = std::mem::take(&mut self.udp);
        let _ = tokio::task::spawn_blocking(move || {
            for t in threads {
                let _ = t.join();
            }
        })
        .await;
        self.tally.flush();
    }

    /// Serves until a listener fails or the server is shut down.
    pub async fn block_until_done(&mut self) -> std::io::Result<()> {
        loop {
            if let Some(i) = self.udp.iter().position(|t| t.is_finished()) {
                let t = self.udp.swap_remove(i);
                return match t.join() {
                    Ok(result) => result,
                    Err(_) => Err(std::io::Error::other("a UDP listener panicked")),
                };
            }
            if self.tcp.is_finished() {
                return Err(std::io::Error::other("the TCP listener stopped"));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// Binds UDP and TCP on `addr` (port 0 picks one port free for both) and
/// serves: UDP on a thread per core, TCP on the runtime.
pub async fn serve(addr: SocketAddr, snapshot: SharedSnapshot) -> std::io::Result<Running> {
    serve_with(addr, snapshot, udp_workers()).await
}

/// The UDP threads [`serve`] starts: one per core.
pub fn udp_workers() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// [`serve`] with `udp_workers` threads reading the UDP socket (at least
/// one). One is enough for a load generator on the same two cores, as
/// Knot's `udp-workers: 1` is; more pay off where cores are to spare.
pub async fn serve_with(
    addr: SocketAddr,
    snapshot: SharedSnapshot,
    udp_workers: usize,
) -> std::io::Result<Running> {
    let (udp, tcp) = bind_pair(addr).await?;
    let addr = udp.local_addr()?;
    let handler = Arc::new(Handler::new(snapshot.clone()));
    let tally = Arc::new(Tally::new(Duration::from_secs(1)));
    let stop = Arc::new(AtomicBool::new(false));
    let listener = Arc::new(udp::Listener {
        socket: udp.into_std()?,
        handler: handler.clone(),
        tally: tally.clone(),
        stop: stop.clone(),
    });
    listener.socket.set_nonblocking(false)?;
    let udp = udp::spawn(listener, udp_workers)?;
    let tcp = tokio::spawn(tcp::serve(tcp, handler, tally.clone()));
    Ok(Running {
        addr,
        snapshot,
        stop,
        udp,
        tcp,
        tally,
    })
}

async fn bind_pair(addr: SocketAddr) -> std::io::Result<(UdpSocket, TcpListener)> {
    if addr.port() != 0 {
        return Ok((UdpSocket::bind(addr).await?, TcpListener::bind(addr).await?));
    }
    // Port 0: find a port free for both protocols.
    let mut last = None;
    for _ in 0..20 {
        let udp = UdpSocket::bind(addr).await?;
        let port = udp.local_addr()?.port();
        match TcpListener::bind(SocketAddr::new(addr.ip(), port)).await {
            Ok(tcp) => return Ok((udp, tcp)),
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(|| std::io::Error::other("no free port")))
}
