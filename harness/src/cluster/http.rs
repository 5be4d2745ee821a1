//! Serves one cluster's API over HTTP or HTTPS on a TCP listener, for
//! clients outside the process: kubectl, client-go programs such as CoreDNS,
//! kube-rs through a kubeconfig.
//!
//! Requests are authenticated by bearer token (each token names an
//! identity, which RBAC then judges) before their body is read, bodies are
//! held to the API server's limit, and requests are answered by
//! [`rest::handle`], the same code the in-process mock calls.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::sync::Arc;

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

use super::mock::{Body, to_response};
use super::rest::{self, ApiRequest};
use super::status::ApiError;
use super::store::SharedApi;

/// The most bytes a request body may hold: kube-apiserver's default
/// (`MaxRequestBodyBytes`, 3 MiB); a longer one is 413.
pub const MAX_BODY: usize = 3 * 1024 * 1024;

/// Who a listener serves.
#[derive(Clone, Debug)]
pub enum Listener {
    /// Whoever a request's bearer token names; no token or an unknown one
    /// is 401.
    Tokens,
    /// Plain HTTP on loopback for one identity, named by its token (clients
    /// send no token over plain HTTP, so the port says who is asking). A
    /// request carrying another identity's token is 401: the admin's token
    /// never makes a caller of the resolver's port the admin.
    Fixed(String),
}

/// Bearer tokens and the identities they authenticate.
pub type Tokens = Arc<std::sync::RwLock<BTreeMap<String, String>>>;

/// A self-signed CA and a serving certificate for 127.0.0.1 and localhost.
pub struct Tls {
    /// The CA certificate, PEM (what a kubeconfig trusts).
    pub ca_pem: String,
    /// The acceptor for incoming connections.
    pub acceptor: TlsAcceptor,
}

/// Why TLS could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// Generating a key or certificate failed.
    #[error("cannot generate the emulator's certificates: {0}")]
    Generate(#[from] rcgen::Error),
    /// rustls refused the certificate.
    #[error("cannot build the TLS server configuration: {0}")]
    Config(#[from] rustls::Error),
}

impl Tls {
    /// A new CA, and a server certificate it signs.
    pub fn generate() -> Result<Tls, TlsError> {
        use rcgen::{
            BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair,
            KeyUsagePurpose,
        };
        let mut ca = CertificateParams::new(Vec::<String>::new())?;
        ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca.distinguished_name
            .push(DnType::CommonName, "mcsdns API emulator CA");
        ca.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let ca = CertifiedIssuer::self_signed(ca, KeyPair::generate()?)?;
        let mut server = CertificateParams::new(vec!["127.0.0.1".into(), "localhost".into()])?;
        server
            .distinguished_name
            .push(DnType::CommonName, "mcsdns-apiserver");
        let key = KeyPair::generate()?;
        let cert = server.signed_by(&key, &ca)?;
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()?
            .with_no_client_auth()
            .with_single_cert(
                vec![cert.der().clone()],
                rustls::pki_types::PrivateKeyDer::Pkcs8(key.serialize_der().into()),
            )?;
        // HTTP/1.1 only: watches are chunked responses.
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Tls {
            ca_pem: ca.pem(),
            acceptor: TlsAcceptor::from(Arc::new(config)),
        })
    }
}

fn unauthorized() -> Response<Body> {
    to_response(
        ApiError::new(
            401,
            "Unauthorized",
            "Unauthorized".into(),
            serde_json::json!({}),
        )
        .into(),
    )
}

fn too_large() -> Response<Body> {
    to_response(
        ApiError::new(
            413,
            "RequestEntityTooLarge",
            format!("Request entity too large: limit is {MAX_BODY}"),
            serde_json::json!({}),
        )
        .into(),
    )
}

/// A user other than the administrator asked to impersonate someone.
fn forbidden_impersonation(identity: &str) -> Response<Body> {
    to_response(
        ApiError::new(
            403,
            "Forbidden",
            format!(
                "users \"{identity}\" is forbidden: User \"{identity}\" cannot impersonate resource \"users\" in API group \"\" at the cluster scope"
            ),
            serde_json::json!({"kind": "users"}),
        )
        .into(),
    )
}

/// How much more of a too long body is read (and dropped) before the 413,
/// so that a client still sending gets the answer rather than a reset.
const DRAIN: usize = 1024 * 1024;

/// A request's body, or `None` when it is longer than [`MAX_BODY`]: at
/// most that much is ever held.
async fn read_body(mut body: Incoming) -> Option<Bytes> {
    let mut held = Vec::new();
    let mut over = 0usize;
    while let Some(frame) = body.frame().await {
        let Ok(frame) = frame else { break };
        let Ok(data) = frame.into_data() else {
            continue;
        };
        if over > 0 || held.len() + data.len() > MAX_BODY {
            over += data.len();
            if over > DRAIN {
                break;
            }
            continue;
        }
        held.extend_from_slice(&data);
    }
    (over == 0).then(|| Bytes::from(held))
}

/// The identity a request authenticates as, or `None` (401): a missing,
/// unreadable or unknown credential names nobody.
fn authenticate(headers: &http::HeaderMap, tokens: &Tokens, listener: &Listener) -> Option<String> {
    let known = |token: &str| tokens.read().ok().and_then(|m| m.get(token).cloned());
    let given = match headers.get(http::header::AUTHORIZATION) {
        None => None,
        Some(v) => {
            let token = v.to_str().ok()?.strip_prefix("Bearer ")?.trim();
            Some(known(token)?)
        }
    };
    match listener {
        Listener::Tokens => given,
        Listener::Fixed(token) => {
            let fixed = known(token)?;
            match given {
                Some(other) if other != fixed => None,
                _ => Some(fixed),
            }
        }
    }
}

/// Answers one HTTP request.
async fn answer(
    api: SharedApi,
    tokens: Tokens,
    listener: Listener,
    mut req: Request<Incoming>,
) -> Response<Body> {
    let upgrade = req
        .headers()
        .get(http::header::UPGRADE)
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"websocket"))
        .then(|| hyper::upgrade::on(&mut req));
    let Some(identity) = authenticate(req.headers(), &tokens, &listener) else {
        return unauthorized();
    };
    // The administrator may act as another user (`kubectl --as`), as on a
    // real server where it holds the `impersonate` verb.
    let identity = match req
        .headers()
        .get("Impersonate-User")
        .and_then(|v| v.to_str().ok())
    {
        Some(user) if identity == crate::cluster::store::ADMIN => user.to_owned(),
        Some(_) => return forbidden_impersonation(&identity),
        None => identity,
    };
    let (parts, body) = req.into_parts();
    let Some(body) = read_body(body).await else {
        return too_large();
    };
    let content_type = parts
        .headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("application/json");
    let user_agent = parts
        .headers
        .get(http::header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    tracing::debug!(method = %parts.method, uri = %parts.uri, %identity, "api request");
    let key = parts
        .headers
        .get(http::header::SEC_WEBSOCKET_KEY)
        .map(|k| k.as_bytes().to_vec());
    let reply = rest::handle(
        &api,
        &identity,
        &ApiRequest {
            method: parts.method.as_str(),
            path: parts.uri.path(),
            query: parts.uri.query().unwrap_or_default(),
            content_type,
            body: &body,
            user_agent,
        },
    );
    match (reply, upgrade, key) {
        (rest::ApiReply::PortForward { port, to }, Some(upgrade), Some(key)) => {
            port_forward(upgrade, &key, port, to)
        }
        (rest::ApiReply::PortForward { .. }, _, _) => to_response(
            ApiError::new(
                400,
                "BadRequest",
                "port-forward needs a WebSocket upgrade (v4.channel.k8s.io)".into(),
                serde_json::json!({}),
            )
            .into(),
        ),
        (reply, _, _) => to_response(reply),
    }
}

/// The WebSocket subprotocol of port-forwarding: binary frames whose first
/// byte is the channel (data, then error, per port); each channel's first
/// frame carries its port number.
const PORT_FORWARD_PROTOCOL: &str = "v4.channel.k8s.io";

/// Accepts the upgrade and relays the stream to `to`, as the kubelet
/// relays a port-forward to a Pod's port.
fn port_forward(
    upgrade: hyper::upgrade::OnUpgrade,
    key: &[u8],
    port: u16,
    to: std::net::SocketAddr,
) -> Response<Body> {
    use futures::{SinkExt, StreamExt};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio_tungstenite::tungstenite::Message;
    use tokio_tungstenite::tungstenite::protocol::Role;

    tokio::spawn(async move {
        let Ok(upgraded) = upgrade.await else { return };
        let mut ws = tokio_tungstenite::WebSocketStream::from_raw_socket(
            TokioIo::new(upgraded),
            Role::Server,
            None,
        )
        .await;
        let [lo, hi] = port.to_le_bytes();
        let mut tcp = match tokio::net::TcpStream::connect(to).await {
            Ok(s) => s,
            Err(e) => {
                let _ = ws.send(Message::Binary(vec![0, lo, hi].into())).await;
                let _ = ws.send(Message::Binary(vec![1, lo, hi].into())).await;
                let mut error = vec![1];
                error.extend_from_slice(
                    format!("error forwarding port {port} to {to}: {e}").as_bytes(),
                );
                let _ = ws.send(Message::Binary(error.into())).await;
                return;
            }
        };
        for channel in [0u8, 1] {
            if ws
                .send(Message::Binary(vec![channel, lo, hi].into()))
                .await
                .is_err()
            {
                return;
            }
        }
        let mut buf = vec![0u8; 16 * 1024];
        loop {
            tokio::select! {
                frame = ws.next() => match frame {
                    Some(Ok(Message::Binary(data))) if data.first() == Some(&0) => {
                        if tcp.write_all(&data[1..]).await.is_err() {
                            break;
                        }
                    }
                    Some(Ok(Message::Close(_))) | None | Some(Err(_)) => break,
                    Some(Ok(_)) => {}
                },
                read = tcp.read(&mut buf) => match read {
                    Ok(0) | Err(_) => break,
                    Ok(n) => {
                        let mut frame = Vec::with_capacity(n + 1);
                        frame.push(0);
                        frame.extend_from_slice(&buf[..n]);
                        if ws.send(Message::Binary(frame.into())).await.is_err() {
                            break;
                        }
                    }
                },
            }
        }
        let _ = ws.close(None).await;
    });
    let accept = tokio_tungstenite::tungstenite::handshake::derive_accept_key(key);
    let mut r = Response::new(
        http_body_util::Empty::new()
            .map_err(|e| match e {})
            .boxed_unsync(),
    );
    *r.status_mut() = http::StatusCode::SWITCHING_PROTOCOLS;
    let h = r.headers_mut();
    h.insert(
        http::header::CONNECTION,
        http::HeaderValue::from_static("Upgrade"),
    );
    h.insert(
        http::header::UPGRADE,
        http::HeaderValue::from_static("websocket"),
    );
    h.insert(
        http::header::SEC_WEBSOCKET_PROTOCOL,
        http::HeaderValue::from_static(PORT_FORWARD_PROTOCOL),
    );
    if let Ok(v) = http::HeaderValue::from_str(&accept) {
        h.insert(http::header::SEC_WEBSOCKET_ACCEPT, v);
    }
    r
}

/// Serves `api` on `socket` (with TLS when given) until the task is
/// aborted, to whom `listener` says. Each connection runs on its own task.
pub fn spawn(
    socket: TcpListener,
    api: SharedApi,
    tokens: Tokens,
    tls: Option<TlsAcceptor>,
    listener: Listener,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = socket.accept().await else {
                continue;
            };
            let _ = stream.set_nodelay(true);
            let (api, tokens, tls) = (api.clone(), tokens.clone(), tls.clone());
            let listener = listener.clone();
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |req| {
                    let (api, tokens, listener) = (api.clone(), tokens.clone(), listener.clone());
                    async move { Ok::<_, Infallible>(answer(api, tokens, listener, req).await) }
                });
                let http = hyper::server::conn::http1::Builder::new();
                let result = match tls {
                    Some(acceptor) => match acceptor.accept(stream).await {
                        Ok(s) => {
                            http.serve_connection(TokioIo::new(s), service)
                                .with_upgrades()
                                .await
                        }
                        Err(e) => {
                            tracing::debug!("TLS handshake failed: {e}");
                            return;
                        }
                    },
                    None => {
                        http.serve_connection(TokioIo::new(stream), service)
                            .with_upgrades()
                            .await
                    }
                };
                if let Err(e) = result {
                    tracing::debug!("API connection ended: {e}");
                }
            });
        }
    })
}
