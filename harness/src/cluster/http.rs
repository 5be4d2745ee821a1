//! Serves one cluster's API over HTTP or HTTPS on a TCP listener, for
//! clients outside the process: kubectl, client-go programs such as CoreDNS,
//! kube-rs through a kubeconfig.
//!
//! Requests are authenticated by bearer token (each token names an
//! identity, which RBAC then judges) and answered by [`rest::handle`], the
//! same code the in-process mock calls.

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
use super::store::SharedApi;

/// The identity of a request without a token.
pub const ANONYMOUS: &str = "system:anonymous";

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
    let status = serde_json::json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
        "message": "Unauthorized", "reason": "Unauthorized", "code": 401});
    to_response(rest::ApiReply::Json(401, status))
}

/// Answers one HTTP request.
async fn answer(
    api: SharedApi,
    tokens: Tokens,
    default_token: Option<String>,
    req: Request<Incoming>,
) -> Response<Body> {
    let header = req
        .headers()
        .get(http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
        .or_else(|| default_token.map(|t| format!("Bearer {t}")));
    let identity = match header.as_deref() {
        None => ANONYMOUS.to_owned(),
        Some(h) => {
            let known = h
                .strip_prefix("Bearer ")
                .and_then(|t| tokens.read().ok().and_then(|m| m.get(t.trim()).cloned()));
            match known {
                Some(identity) => identity,
                None => return unauthorized(),
            }
        }
    };
    let (parts, body) = req.into_parts();
    let body = match body.collect().await {
        Ok(b) => b.to_bytes(),
        Err(_) => Bytes::new(),
    };
    let content_type = parts
        .headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("application/json");
    tracing::debug!(method = %parts.method, uri = %parts.uri, %identity, "api request");
    let reply = rest::handle(
        &api,
        &identity,
        &ApiRequest {
            method: parts.method.as_str(),
            path: parts.uri.path(),
            query: parts.uri.query().unwrap_or_default(),
            content_type,
            body: &body,
        },
    );
    to_response(reply)
}

/// Serves `api` on `listener` (with TLS when given) until the task is
/// aborted. Each connection runs on its own task. A request without a
/// token is treated as carrying `default_token`, if given: clients do not
/// send tokens over plain HTTP, so there the port tells who is asking.
pub fn spawn(
    listener: TcpListener,
    api: SharedApi,
    tokens: Tokens,
    tls: Option<TlsAcceptor>,
    default_token: Option<String>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let _ = stream.set_nodelay(true);
            let (api, tokens, tls) = (api.clone(), tokens.clone(), tls.clone());
            let default_token = default_token.clone();
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |req| {
                    let (api, tokens, token) = (api.clone(), tokens.clone(), default_token.clone());
                    async move { Ok::<_, Infallible>(answer(api, tokens, token, req).await) }
                });
                let http = hyper::server::conn::http1::Builder::new();
                let result = match tls {
                    Some(acceptor) => match acceptor.accept(stream).await {
                        Ok(s) => http.serve_connection(TokioIo::new(s), service).await,
                        Err(e) => {
                            tracing::debug!("TLS handshake failed: {e}");
                            return;
                        }
                    },
                    None => http.serve_connection(TokioIo::new(stream), service).await,
                };
                if let Err(e) = result {
                    tracing::debug!("API connection ended: {e}");
                }
            });
        }
    })
}
