//! Serves a cluster's [`ApiStore`] to `kube::Client` in process: a tower
//! service that answers list and watch requests as the API server does
//! (JSON lists with resourceVersions, streaming watch events, bookmarks,
//! `Status` errors), with no socket and no kind cluster.

use std::convert::Infallible;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use futures::StreamExt;
use http::{Request, Response, StatusCode};
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Full, StreamBody};

use super::store::{ApiError, ApiStore, Selector, route};

/// A cluster's API, shared by its clients and the scenario that changes it.
pub type SharedApi = Arc<Mutex<ApiStore>>;

type Body = UnsyncBoxBody<Bytes, Infallible>;

fn json_response(code: u16, value: &serde_json::Value) -> Response<Body> {
    let mut r = Response::new(Full::new(Bytes::from(value.to_string())).boxed_unsync());
    *r.status_mut() = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    r.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    r
}

fn error(e: &ApiError) -> Response<Body> {
    json_response(e.code, &e.status)
}

/// Answers one request as `identity`.
pub fn handle(
    api: &SharedApi,
    identity: &str,
    req: &Request<kube::client::Body>,
) -> Response<Body> {
    let not_found = ApiError {
        code: 404,
        status: serde_json::json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": "the server could not find the requested resource", "reason": "NotFound", "details": {}, "code": 404}),
    };
    if req.method() != http::Method::GET {
        return error(&ApiError {
            code: 405,
            status: serde_json::json!({"kind": "Status", "apiVersion": "v1", "status": "Failure", "message": "only GET is served", "reason": "MethodNotAllowed", "code": 405}),
        });
    }
    let Some(target) = route(req.uri().path()) else {
        return error(&not_found);
    };
    let mut watch = false;
    let mut from = 0u64;
    let mut selector_text = String::new();
    for (k, v) in form_urlencoded::parse(req.uri().query().unwrap_or_default().as_bytes()) {
        match k.as_ref() {
            "watch" => watch = v == "true" || v == "1",
            "resourceVersion" if !v.is_empty() => match v.parse() {
                Ok(rv) => from = rv,
                Err(_) => {
                    return error(&ApiError {
                        code: 400,
                        status: serde_json::json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                            "message": format!("invalid resource version: {v}"), "reason": "BadRequest", "code": 400}),
                    });
                }
            },
            "labelSelector" => selector_text = v.into_owned(),
            _ => {}
        }
    }
    let selector = Selector::parse(&selector_text);
    let Ok(mut store) = api.lock() else {
        return error(&ApiError {
            code: 500,
            status: serde_json::json!({"kind": "Status", "message": "store poisoned", "code": 500}),
        });
    };
    if let Err(e) = store.authorize(identity, if watch { "watch" } else { "list" }, &target) {
        return error(&e);
    }
    if !watch {
        return json_response(200, &store.list(&target, &selector));
    }
    let (rx, delivery) = store.watch(target, &selector_text, from);
    let lines = futures::stream::unfold((rx, delivery), |(mut rx, delivery)| async move {
        let event = rx.recv().await?;
        delivery.take_one();
        let mut line = event.to_string().into_bytes();
        line.push(b'\n');
        Some((
            Ok::<_, Infallible>(http_body::Frame::data(Bytes::from(line))),
            (rx, delivery),
        ))
    });
    let mut r = Response::new(StreamBody::new(lines.boxed()).boxed_unsync());
    r.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    r
}

/// A `kube::Client` talking to `api` as `identity`.
pub fn client(api: SharedApi, identity: &str) -> kube::Client {
    let identity = identity.to_owned();
    let service = tower::service_fn(move |req: Request<kube::client::Body>| {
        let response = handle(&api, &identity, &req);
        async move { Ok::<_, Infallible>(response) }
    });
    kube::Client::new(service, "default")
}
