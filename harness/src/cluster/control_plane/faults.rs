//! A fault proxy in front of a real kube-apiserver: what the emulator's
//! faults do to its own store, done on the wire to a real server.
//!
//! It listens on loopback with TLS and passes every request and stream
//! through, until told to break: end every open watch, answer watches from
//! a resourceVersion older than a point with `410 Gone` (as a server whose
//! history was compacted does), or answer everything with `503` for an
//! outage. A client certificate cannot be passed on through TLS, so a
//! request that presents one the control plane issued goes upstream as the
//! administrator impersonating that user; bearer tokens pass as they are.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, RwLock};

use bytes::Bytes;
use futures::StreamExt;
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt, BodyStream, Full, StreamBody, combinators::BoxBody};
use hyper::body::{Frame, Incoming};
use hyper_util::rt::TokioIo;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use serde_json::json;
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::{TlsAcceptor, TlsConnector};

use super::ControlPlaneError;
use super::pki::CertPair;

type ProxyBody = BoxBody<Bytes, Box<dyn std::error::Error + Send + Sync>>;

/// Who a client certificate belongs to: the administrator (passed on with
/// the administrator's own certificate) or a user to impersonate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CertUser {
    /// The control plane's administrator.
    Admin,
    /// A user.
    User(String),
}

#[derive(Debug, Default)]
struct Breakage {
    unavailable: bool,
    /// Watches from a resourceVersion below this one get 410 Gone.
    expired_before: u64,
}

/// What open watches are told: end, and with which last event.
#[derive(Clone, Debug, Default)]
struct Cut {
    generation: u64,
    last_words: Option<Bytes>,
}

struct Shared {
    upstream: SocketAddr,
    plain: TlsConnector,
    as_admin: TlsConnector,
    users: RwLock<BTreeMap<Vec<u8>, CertUser>>,
    breakage: Mutex<Breakage>,
    cut: tokio::sync::watch::Sender<Cut>,
}

/// A running proxy; stops when dropped.
pub struct FaultProxy {
    /// Where it listens (HTTPS).
    pub addr: SocketAddr,
    shared: Arc<Shared>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn tls_error(e: impl std::fmt::Display) -> ControlPlaneError {
    ControlPlaneError::Io {
        what: "cannot set up the fault proxy's TLS".into(),
        source: std::io::Error::other(e.to_string()),
    }
}

fn certs(pem: &str) -> Result<Vec<CertificateDer<'static>>, ControlPlaneError> {
    CertificateDer::pem_slice_iter(pem.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .map_err(tls_error)
}

fn key(pem: &str) -> Result<PrivateKeyDer<'static>, ControlPlaneError> {
    PrivateKeyDer::from_pem_slice(pem.as_bytes()).map_err(tls_error)
}

/// The DER form of a PEM certificate (how a presented one is recognised).
pub fn der(pem: &str) -> Option<Vec<u8>> {
    CertificateDer::pem_slice_iter(pem.as_bytes())
        .next()?
        .ok()
        .map(|c| c.to_vec())
}

impl FaultProxy {
    /// Starts a proxy for the API server at `upstream`, serving with
    /// `serving` and trusting `ca_pem` both ways; `admin` is the
    /// certificate it impersonates users with. Must run inside a tokio
    /// runtime that outlives it.
    pub async fn start(
        upstream: SocketAddr,
        ca_pem: &str,
        serving: &CertPair,
        admin: &CertPair,
    ) -> Result<FaultProxy, ControlPlaneError> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut roots = rustls::RootCertStore::empty();
        for c in certs(ca_pem)? {
            roots.add(c).map_err(tls_error)?;
        }
        let roots = Arc::new(roots);
        let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
            roots.clone(),
            provider.clone(),
        )
        .allow_unauthenticated()
        .build()
        .map_err(tls_error)?;
        let mut server = rustls::ServerConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(tls_error)?
            .with_client_cert_verifier(verifier)
            .with_single_cert(certs(&serving.cert)?, key(&serving.key)?)
            .map_err(tls_error)?;
        server.alpn_protocols = vec![b"http/1.1".to_vec()];
        let client = || {
            rustls::ClientConfig::builder_with_provider(provider.clone())
                .with_safe_default_protocol_versions()
                .map(|b| b.with_root_certificates(roots.clone()))
                .map_err(tls_error)
        };
        let plain = client()?.with_no_client_auth();
        let as_admin = client()?
            .with_client_auth_cert(certs(&admin.cert)?, key(&admin.key)?)
            .map_err(tls_error)?;
        let listener = TcpListener::bind(("127.0.0.1", 0))
            .await
            .map_err(|source| ControlPlaneError::Io {
                what: "cannot listen for the fault proxy".into(),
                source,
            })?;
        let addr = listener
            .local_addr()
            .map_err(|source| ControlPlaneError::Io {
                what: "cannot listen for the fault proxy".into(),
                source,
            })?;
        let mut users = BTreeMap::new();
        if let Some(d) = der(&admin.cert) {
            users.insert(d, CertUser::Admin);
        }
        let shared = Arc::new(Shared {
            upstream,
            plain: TlsConnector::from(Arc::new(plain)),
            as_admin: TlsConnector::from(Arc::new(as_admin)),
            users: RwLock::new(users),
            breakage: Mutex::new(Breakage::default()),
            cut: tokio::sync::watch::Sender::new(Cut::default()),
        });
        let acceptor = TlsAcceptor::from(Arc::new(server));
        let task = tokio::spawn(accept(listener, acceptor, shared.clone()));
        Ok(FaultProxy { addr, shared, task })
    }

    /// Recognises a client certificate (PEM) as `user`'s.
    pub fn know(&self, cert_pem: &str, user: CertUser) {
        if let (Some(d), Ok(mut users)) = (der(cert_pem), self.shared.users.write()) {
            users.insert(d, user);
        }
    }

    /// Ends every open watch (clients reconnect from their last version).
    pub fn drop_watches(&self) {
        self.cut(None);
    }

    /// Forgets history up to `current`: open watches end with a 410
    /// ERROR event, and any later watch from an older resourceVersion gets one.
    pub fn expire_history(&self, current: u64) {
        let before = current + 1;
        if let Ok(mut b) = self.shared.breakage.lock() {
            b.expired_before = before;
        }
        self.cut(Some(gone_event(0, before)));
    }

    /// Starts (`true`) or ends an outage: every request gets 503, and open
    /// watches end when it starts.
    pub fn set_unavailable(&self, on: bool) {
        if let Ok(mut b) = self.shared.breakage.lock() {
            b.unavailable = on;
        }
        if on {
            self.cut(None);
        }
    }

    fn cut(&self, last_words: Option<Bytes>) {
        self.shared.cut.send_modify(|c| {
            c.generation += 1;
            c.last_words = last_words;
        });
    }
}

/// The ERROR event of a watch from `from` on a server whose history starts at `oldest`.
fn gone_event(from: u64, oldest: u64) -> Bytes {
    let mut line = json!({"type": "ERROR", "object": status(410, "Expired",
        &format!("too old resource version: {from} ({oldest})"))})
    .to_string();
    line.push('\n');
    Bytes::from(line)
}

fn status(code: u16, reason: &str, message: &str) -> serde_json::Value {
    json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
        "message": message, "reason": reason, "code": code})
}

fn full(code: u16, body: Bytes, content_type: &str) -> Response<ProxyBody> {
    let mut r = Response::new(Full::new(body).map_err(|e: Infallible| match e {}).boxed());
    *r.status_mut() = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    if let Ok(v) = content_type.parse() {
        r.headers_mut().insert(http::header::CONTENT_TYPE, v);
    }
    r
}

fn status_response(code: u16, reason: &str, message: &str) -> Response<ProxyBody> {
    full(
        code,
        Bytes::from(status(code, reason, message).to_string()),
        "application/json",
    )
}

async fn accept(listener: TcpListener, acceptor: TlsAcceptor, shared: Arc<Shared>) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let _ = stream.set_nodelay(true);
        let (acceptor, shared) = (acceptor.clone(), shared.clone());
        tokio::spawn(async move {
            let Ok(tls) = acceptor.accept(stream).await else {
                return;
            };
            let presented = tls
                .get_ref()
                .1
                .peer_certificates()
                .and_then(|c| c.first())
                .map(|c| c.to_vec());
            let user = presented.and_then(|d| shared.users.read().ok()?.get(&d).cloned());
            let service = hyper::service::service_fn(move |req| {
                let (shared, user) = (shared.clone(), user.clone());
                async move { Ok::<_, Infallible>(forward(shared, user, req).await) }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(tls), service)
                .with_upgrades()
                .await;
        });
    }
}

/// The `resourceVersion` of a watch request, if it is one.
fn watch_from(req: &Request<Incoming>) -> Option<Option<u64>> {
    let query = req.uri().query().unwrap_or_default();
    let mut watch = req.uri().path().contains("/watch/");
    let mut rv = None;
    for (k, v) in form_urlencoded::parse(query.as_bytes()) {
        match &*k {
            "watch" => watch |= v == "true" || v == "1",
            "resourceVersion" => rv = v.parse::<u64>().ok(),
            _ => {}
        }
    }
    watch.then_some(rv)
}

async fn forward(
    shared: Arc<Shared>,
    user: Option<CertUser>,
    req: Request<Incoming>,
) -> Response<ProxyBody> {
    let (unavailable, expired_before) = shared
        .breakage
        .lock()
        .map(|b| (b.unavailable, b.expired_before))
        .unwrap_or_default();
    if unavailable {
        return status_response(
            503,
            "ServiceUnavailable",
            "the server is currently unable to handle the request",
        );
    }
    let watch = watch_from(&req);
    if let Some(Some(from)) = watch
        && from > 0
        && from < expired_before
    {
        return full(200, gone_event(from, expired_before), "application/json");
    }
    // Watches are cut from the moment they start.
    let mut cut = shared.cut.subscribe();
    cut.mark_unchanged();
    let connector = if user.is_some() {
        &shared.as_admin
    } else {
        &shared.plain
    };
    let upstream = async {
        let tcp = TcpStream::connect(shared.upstream).await?;
        let _ = tcp.set_nodelay(true);
        let name = ServerName::IpAddress(shared.upstream.ip().into());
        let tls = connector.connect(name, tcp).await?;
        Ok::<_, std::io::Error>(tls)
    };
    let tls = match upstream.await {
        Ok(t) => t,
        Err(e) => {
            return status_response(
                503,
                "ServiceUnavailable",
                &format!("the fault proxy cannot reach the API server: {e}"),
            );
        }
    };
    let Ok((mut sender, conn)) = hyper::client::conn::http1::handshake(TokioIo::new(tls)).await
    else {
        return status_response(
            503,
            "ServiceUnavailable",
            "the fault proxy cannot talk to the API server",
        );
    };
    tokio::spawn(conn.with_upgrades());
    let (mut parts, body) = req.into_parts();
    if let Some(CertUser::User(name)) = &user
        && let Ok(v) = name.parse()
    {
        parts.headers.insert("Impersonate-User", v);
    }
    let reply = match sender.send_request(Request::from_parts(parts, body)).await {
        Ok(r) => r,
        Err(e) => {
            return status_response(
                503,
                "ServiceUnavailable",
                &format!("the API server did not answer: {e}"),
            );
        }
    };
    let (parts, body) = reply.into_parts();
    let frames = BodyStream::new(body)
        .map(|f| f.map_err(|e| Box::new(e) as Box<dyn std::error::Error + Send + Sync>));
    if watch.is_none() {
        return Response::from_parts(parts, BodyExt::boxed(StreamBody::new(frames)));
    }
    // A watch ends when told to, after its last words (if any); or when
    // the server ends it.
    let stream = futures::stream::unfold(
        (frames, cut, false),
        |(mut frames, mut cut, done)| async move {
            if done {
                return None;
            }
            tokio::select! {
                f = frames.next() => f.map(|f| (f, (frames, cut, false))),
                changed = cut.changed() => {
                    let last = changed.ok().and_then(|()| cut.borrow().last_words.clone())?;
                    Some((Ok(Frame::data(last)), (frames, cut, true)))
                }
            }
        },
    );
    Response::from_parts(parts, BodyExt::boxed(StreamBody::new(Box::pin(stream))))
}
