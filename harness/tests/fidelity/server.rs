//! One server under test: its two clients, how its history is compacted,
//! and one exchange sent to it.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use http_body_util::BodyExt;
use serde_json::{Value, json};

use crate::cases::{As, Exchange, fill, fill_value, pick};

/// A server, as its clients reach it.
pub struct Server {
    pub name: &'static str,
    pub admin: kube::Client,
    pub reader: kube::Client,
    /// The real server's etcd (client address), which `compact` compacts;
    /// the emulator keeps no history beyond the window it serves watches
    /// from, which compaction would not touch.
    pub etcd: Option<SocketAddr>,
}

/// What came back.
#[derive(Debug, Default)]
pub struct Reply {
    pub code: u16,
    /// The body, when it was JSON.
    pub body: Option<Value>,
    /// A watch's events, in order.
    pub events: Option<Vec<Value>>,
    /// `Warning` headers.
    pub warnings: Vec<String>,
}

impl Server {
    /// Sends one exchange; `None` for one that sends nothing (`compact`).
    pub async fn send(&self, x: &Exchange, saved: &mut BTreeMap<String, String>) -> Option<Reply> {
        if x.compact {
            self.compact();
            return None;
        }
        let deadline = Instant::now() + Duration::from_secs(x.until.map_or(0, |u| u.seconds));
        loop {
            let reply = self.once(x, saved).await;
            let done = x
                .until
                .is_none_or(|u| reply.code == u.code || Instant::now() >= deadline);
            if done {
                if let Some(body) = &reply.body {
                    for (name, path) in &x.save {
                        if let Some(v) = pick(body, path) {
                            saved.insert(name.clone(), v);
                        }
                    }
                }
                return Some(reply);
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    async fn once(&self, x: &Exchange, saved: &BTreeMap<String, String>) -> Reply {
        let query = fill(&x.query, saved);
        let uri = if query.is_empty() {
            fill(&x.path, saved)
        } else {
            format!("{}?{query}", fill(&x.path, saved))
        };
        let content_type = x.content_type.as_deref().unwrap_or("application/json");
        let body = match (&x.raw_body, &x.body) {
            (Some(raw), _) => raw.clone().into_bytes(),
            (None, Some(v)) => {
                let v = fill_value(v, saved);
                if content_type.contains("yaml") {
                    serde_saphyr::to_string(&v).expect("YAML").into_bytes()
                } else {
                    v.to_string().into_bytes()
                }
            }
            (None, None) => Vec::new(),
        };
        let request = http::Request::builder()
            .method(x.method.as_str())
            .uri(uri)
            .header(http::header::CONTENT_TYPE, content_type)
            .header(http::header::ACCEPT, "application/json")
            .body(kube::client::Body::from(body))
            .expect("a valid request");
        let client = match x.who {
            As::Admin => &self.admin,
            As::Reader => &self.reader,
        };
        let response = match client.send(request).await {
            Ok(r) => r,
            Err(e) => panic!("{}: {} {}: {e}", self.name, x.method, x.path),
        };
        let code = response.status().as_u16();
        let warnings = response
            .headers()
            .get_all("warning")
            .iter()
            .filter_map(|v| v.to_str().ok().map(str::to_owned))
            .collect();
        let mut body = response.into_body();
        match x.watch {
            Some(read) if code == 200 => {
                let events = read_events(&mut body, read.events, read.seconds).await;
                Reply {
                    code,
                    body: None,
                    events: Some(events),
                    warnings,
                }
            }
            _ => {
                let bytes = tokio::time::timeout(Duration::from_secs(20), body.collect())
                    .await
                    .ok()
                    .and_then(Result::ok)
                    .map(|c| c.to_bytes())
                    .unwrap_or_default();
                Reply {
                    code,
                    body: serde_json::from_slice(&bytes).ok(),
                    events: None,
                    warnings,
                }
            }
        }
    }

    /// Compacts etcd's history at the current revision.
    fn compact(&self) {
        let Some(addr) = self.etcd else { return };
        // Any range answers with the current revision in its header.
        let range = etcd(addr, "/v3/kv/range", &json!({"key": "AA=="}));
        let revision = range["header"]["revision"]
            .as_str()
            .expect("etcd's revision")
            .to_owned();
        etcd(
            addr,
            "/v3/kv/compaction",
            &json!({"revision": revision, "physical": true}),
        );
    }
}

/// Reads a watch's events (one JSON object per line) until `max` came or
/// `seconds` passed.
async fn read_events(body: &mut kube::client::Body, max: usize, seconds: u64) -> Vec<Value> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(seconds);
    let mut buf = Vec::new();
    let mut events = Vec::new();
    while events.len() < max {
        let frame = match tokio::time::timeout_at(deadline, body.frame()).await {
            Ok(Some(Ok(f))) => f,
            _ => break,
        };
        if let Ok(data) = frame.into_data() {
            buf.extend_from_slice(&data);
        }
        while let Some(end) = buf.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = buf.drain(..=end).collect();
            if let Ok(v) = serde_json::from_slice::<Value>(&line) {
                events.push(v);
            }
        }
    }
    events.truncate(max);
    events
}

/// One POST to etcd's JSON gateway, answered as JSON.
fn etcd(addr: SocketAddr, path: &str, body: &Value) -> Value {
    let body = body.to_string();
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(5)).expect("etcd answers");
    s.set_read_timeout(Some(Duration::from_secs(10))).ok();
    write!(
        s,
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .expect("etcd takes the request");
    let mut text = String::new();
    s.read_to_string(&mut text).ok();
    let json = text.split("\r\n\r\n").nth(1).unwrap_or_default();
    // A chunked body: the JSON is the line that starts with `{`.
    let json = json
        .lines()
        .find(|l| l.starts_with('{'))
        .unwrap_or_default();
    serde_json::from_str(json).unwrap_or(Value::Null)
}
