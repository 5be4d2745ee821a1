//! Serves the answer engine over UDP and TCP with hickory-server.
//!
//! Each query loads the current [`Snapshot`] (one atomic pointer read) and
//! runs the pure engine on it; a state change stores a new snapshot. A query
//! never waits for a writer.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use hickory_proto::op::{Edns, Header, HeaderCounts, Metadata, OpCode, ResponseCode};
use hickory_server::Server;
use hickory_server::net::runtime::Time;
use hickory_server::server::{Request, RequestHandler, ResponseHandler, ResponseInfo};
use hickory_server::zone_handler::MessageResponseBuilder;
use tokio::net::{TcpListener, UdpSocket};

use super::cache::Cached;
use super::config::ResolverConfig;
use super::reply::{Outcome, Question};
use super::view::ClusterView;

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

/// The hickory request handler around the engine, with the Corefile's
/// `cache` on the real clock (as CoreDNS's cache plugin).
pub struct Handler {
    snapshot: SharedSnapshot,
    cached: Cached,
    started: std::time::Instant,
}

impl Handler {
    /// A handler answering from `snapshot`.
    pub fn new(snapshot: SharedSnapshot) -> Self {
        Handler {
            snapshot,
            cached: Cached::new(),
            started: std::time::Instant::now(),
        }
    }

    fn reply(&self, snapshot: &Snapshot, question: &Question) -> Outcome {
        let now = self.started.elapsed();
        self.cached
            .answer(&snapshot.config, &snapshot.view, question, now)
            .into_outcome()
    }
}

#[async_trait::async_trait]
impl RequestHandler for Handler {
    async fn handle_request<R: ResponseHandler, T: Time>(
        &self,
        request: &Request,
        mut response_handle: R,
    ) -> ResponseInfo {
        let builder = MessageResponseBuilder::from_message_request(request);
        let fail = |rcode: ResponseCode| {
            let mut metadata = Metadata::response_from_request(&request.metadata);
            metadata.response_code = rcode;
            ResponseInfo::from(Header {
                metadata,
                counts: HeaderCounts::default(),
            })
        };
        if request.metadata.op_code != OpCode::Query {
            let msg = builder.error_msg(&request.metadata, ResponseCode::NotImp);
            return response_handle
                .send_response(msg)
                .await
                .unwrap_or_else(|_| fail(ResponseCode::NotImp));
        }
        if request.queries.len() != 1 {
            let msg = builder.error_msg(&request.metadata, ResponseCode::FormErr);
            return response_handle
                .send_response(msg)
                .await
                .unwrap_or_else(|_| fail(ResponseCode::FormErr));
        }
        let query = request.queries.queries()[0].original();
        let question = Question {
            name: query.name().clone(),
            qtype: query.query_type(),
            qclass: query.query_class(),
        };
        let snapshot = self.snapshot.load();
        let reply = match self.reply(&snapshot, &question) {
            Outcome::Reply(r) => r,
            Outcome::Silent(why) => {
                tracing::debug!(%why, name = %question.name, "query left unanswered");
                return fail(ResponseCode::ServFail);
            }
        };
        let mut metadata = Metadata::response_from_request(&request.metadata);
        metadata.response_code = reply.rcode;
        metadata.authoritative = reply.authoritative;
        metadata.recursion_available = reply.recursion_available;
        let edns = request.edns.as_ref().map(|req| {
            let mut e = Edns::new();
            e.set_max_payload(req.max_payload().clamp(512, EDNS_PAYLOAD));
            e
        });
        let mut builder = builder;
        if let Some(e) = &edns {
            builder.edns(e);
        }
        let msg = builder.build(
            metadata,
            reply.answers.iter(),
            reply.authorities.iter(),
            [],
            reply.additionals.iter(),
        );
        match response_handle.send_response(msg).await {
            Ok(info) => info,
            Err(e) => {
                tracing::warn!(error = %e, "failed to send response");
                fail(ResponseCode::ServFail)
            }
        }
    }
}

/// A running server.
pub struct Running {
    /// The address it listens on (UDP and TCP).
    pub addr: SocketAddr,
    /// Swap this to change what it answers.
    pub snapshot: SharedSnapshot,
    server: Server<Handler>,
}

impl Running {
    /// Stops serving and waits for the tasks to finish.
    pub async fn shutdown(mut self) {
        let _ = self.server.shutdown_gracefully().await;
    }

    /// Serves until the listeners fail or the server is shut down.
    pub async fn block_until_done(&mut self) -> Result<(), hickory_server::net::NetError> {
        self.server.block_until_done().await
    }
}

/// Binds UDP and TCP on `addr` (port 0 picks one port free for both) and serves.
pub async fn serve(addr: SocketAddr, snapshot: SharedSnapshot) -> std::io::Result<Running> {
    let (udp, tcp) = bind_pair(addr).await?;
    let addr = udp.local_addr()?;
    let mut server = Server::new(Handler::new(snapshot.clone()));
    server.register_socket(udp);
    server.register_listener(tcp, Duration::from_secs(5), 64);
    Ok(Running {
        addr,
        snapshot,
        server,
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
