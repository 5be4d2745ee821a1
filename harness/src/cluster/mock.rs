//! Serves a cluster's [`ApiStore`](super::store::ApiStore) to `kube::Client`
//! in process: a tower service in front of [`rest::handle`], with no socket
//! and no kind cluster.

use std::convert::Infallible;

use bytes::Bytes;
use futures::StreamExt;
use http::{Request, Response, StatusCode};
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Full, StreamBody};

use super::rest::{self, ApiReply, ApiRequest};
pub use super::store::SharedApi;

/// A response body: a whole document or a watch stream.
pub type Body = UnsyncBoxBody<Bytes, Infallible>;

/// Turns the API's reply into an HTTP response: JSON documents whole, watch
/// events one per line as they come, until the watch ends.
pub fn to_response(reply: ApiReply) -> Response<Body> {
    let mut content_type = "application/json";
    let mut warnings = Vec::new();
    let (code, body) = match reply {
        ApiReply::PortForward { .. } => {
            let e = super::status::ApiError::new(
                400,
                "BadRequest",
                "port-forward needs a connection upgrade, which only the HTTP emulator serves"
                    .into(),
                serde_json::json!({}),
            );
            (
                e.code,
                Full::new(Bytes::from(e.status.to_string())).boxed_unsync(),
            )
        }
        ApiReply::Bytes(kind, bytes) => {
            content_type = kind;
            (200, Full::new(Bytes::from(bytes)).boxed_unsync())
        }
        ApiReply::Json(code, value) => (
            code,
            Full::new(Bytes::from(value.to_string())).boxed_unsync(),
        ),
        ApiReply::Warned(code, value, w) => {
            warnings = w;
            (
                code,
                Full::new(Bytes::from(value.to_string())).boxed_unsync(),
            )
        }
        ApiReply::Watch {
            events,
            delivery,
            timeout,
        } => {
            let lines =
                futures::stream::unfold((events, delivery), |(mut rx, delivery)| async move {
                    let event = rx.recv().await?;
                    delivery.take_one();
                    let mut line = event.to_string().into_bytes();
                    line.push(b'\n');
                    Some((
                        Ok::<_, Infallible>(http_body::Frame::data(Bytes::from(line))),
                        (rx, delivery),
                    ))
                });
            let lines = match timeout {
                Some(t) => lines.take_until(tokio::time::sleep(t)).boxed(),
                None => lines.boxed(),
            };
            (200, StreamBody::new(lines).boxed_unsync())
        }
    };
    let mut r = Response::new(body);
    *r.status_mut() = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    r.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static(content_type),
    );
    for w in warnings {
        if let Ok(v) = http::HeaderValue::from_str(&warning_header(&w)) {
            r.headers_mut().append(http::header::WARNING, v);
        }
    }
    r
}

/// A `Warning` header as the API server writes it: code 299, no agent, the
/// text quoted with `"` and `\` escaped.
pub fn warning_header(text: &str) -> String {
    let quoted = text.replace('\\', "\\\\").replace('"', "\\\"");
    format!("299 - \"{quoted}\"")
}

/// Answers one request as `identity`.
pub fn handle(api: &SharedApi, identity: &str, req: &Request<Bytes>) -> Response<Body> {
    let content_type = req
        .headers()
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("application/json");
    let user_agent = req
        .headers()
        .get(http::header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let reply = rest::handle(
        api,
        identity,
        &ApiRequest {
            method: req.method().as_str(),
            path: req.uri().path(),
            query: req.uri().query().unwrap_or_default(),
            content_type,
            body: req.body(),
            user_agent,
        },
    );
    // In process, time may be virtual and long advances would end every
    // watch: watches stay open until dropped.
    let reply = match reply {
        ApiReply::Watch {
            events, delivery, ..
        } => ApiReply::Watch {
            events,
            delivery,
            timeout: None,
        },
        other => other,
    };
    to_response(reply)
}

/// A `kube::Client` talking to `api` as `identity`.
pub fn client(api: SharedApi, identity: &str) -> kube::Client {
    let identity = identity.to_owned();
    let service = tower::service_fn(move |req: Request<kube::client::Body>| {
        let api = api.clone();
        let identity = identity.clone();
        async move {
            let (parts, body) = req.into_parts();
            let bytes = body
                .collect()
                .await
                .map(|b| b.to_bytes())
                .unwrap_or_default();
            Ok::<_, Infallible>(handle(&api, &identity, &Request::from_parts(parts, bytes)))
        }
    });
    kube::Client::new(service, "default")
}
