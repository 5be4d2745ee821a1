//! Turns one DNS packet into the bytes of its answer: hickory-server reads
//! the request and builds the response around the answer engine (behind
//! the Corefile's `cache`, on the real clock).
//!
//! What is never answered: a packet shorter than a header, and any packet
//! with QR=1, well-formed or not (answering responses would let anyone
//! bounce traffic off the server, RFC 5452 §9). A query that does not
//! parse gets FORMERR; an EDNS version other than 0 gets BADVERS with an
//! OPT of version 0 (RFC 6891 §6.1.3). A response is always one whole
//! message: what does not fit the transport's limit (the client's EDNS
//! size or 512 over UDP, 65,535 bytes over TCP) is cut at a record with TC
//! set, never left as stray bytes after the message.

use std::net::SocketAddr;
use std::time::Duration;

use hickory_proto::op::{Edns, Header, HeaderCounts, MessageType, Metadata, OpCode, ResponseCode};
use hickory_proto::rr::Record;
use hickory_proto::serialize::binary::{BinDecodable, BinDecoder, BinEncoder};
use hickory_server::net::NetError;
use hickory_server::net::runtime::Time;
use hickory_server::net::xfer::Protocol;
use hickory_server::server::{Request, RequestHandler, ResponseHandler, ResponseInfo};
use hickory_server::zone_handler::{MessageResponse, MessageResponseBuilder, Queries};

use super::answers::Reuse;
use super::cache::{Cached, Served};
use super::reply::{Outcome, Question};
use super::server::{EDNS_PAYLOAD, SharedSnapshot, Snapshot};

/// Why a packet got no answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ignored {
    /// Shorter than a DNS header.
    Short,
    /// QR=1: a response, never answered.
    Response,
    /// The engine chose silence (a resolver that is not ready yet).
    Silent,
}

/// What a packet gets.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// These bytes are sent back.
    Answer(Vec<u8>),
    /// Nothing is sent.
    Ignored(Ignored),
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

    /// The snapshot it answers from.
    pub fn snapshot(&self) -> &SharedSnapshot {
        &self.snapshot
    }

    /// The Corefile's cache.
    pub fn cached(&self) -> &Cached {
        &self.cached
    }

    /// The time on the cache's clock.
    pub fn now(&self) -> Duration {
        self.started.elapsed()
    }

    /// The engine's answer behind the Corefile's cache, and whether the
    /// same query may be answered with it again.
    fn reply(&self, snapshot: &Snapshot, question: &Question) -> (Outcome, Reuse) {
        let served = self
            .cached
            .answer(&snapshot.config, &snapshot.view, question, self.now());
        match served {
            Served::Fresh(outcome) => {
                let reuse = match (&outcome, snapshot.config.cache_for(&question.name)) {
                    (Outcome::Reply(_), None) => Reuse::Always,
                    _ => Reuse::Never,
                };
                (outcome, reuse)
            }
            Served::Hit {
                reply,
                age,
                remaining,
                stored,
                ..
            } => {
                let ttl = u32::try_from(age + remaining).unwrap_or(u32::MAX);
                (Outcome::Reply(reply), Reuse::Until { stored, ttl })
            }
        }
    }

    /// The answer to `packet`, received from `src` over `protocol`.
    pub fn respond(&self, packet: &[u8], src: SocketAddr, protocol: Protocol) -> Verdict {
        self.respond_with(packet, src, protocol).0
    }

    /// The answer to `packet`, and whether it may be sent again for the
    /// same bytes under the same snapshot ([`super::answers`]).
    pub fn respond_with(
        &self,
        packet: &[u8],
        src: SocketAddr,
        protocol: Protocol,
    ) -> (Verdict, Reuse) {
        if packet.len() < 12 {
            return (Verdict::Ignored(Ignored::Short), Reuse::Never);
        }
        if packet[2] & 0x80 != 0 {
            return (Verdict::Ignored(Ignored::Response), Reuse::Never);
        }
        let request = match Request::from_bytes(packet.to_vec(), src, protocol) {
            Ok(r) => r,
            Err(_) => return (Verdict::Answer(form_error(packet)), Reuse::Never),
        };
        let capture = Capture {
            protocol,
            bytes: Default::default(),
        };
        let mut reuse = Reuse::Never;
        // Nothing on this path waits: the future completes at its first poll.
        futures::executor::block_on(self.handle(&request, capture.clone(), &mut reuse));
        let bytes = capture.bytes.lock().ok().and_then(|mut b| b.take());
        match bytes {
            Some(b) => (Verdict::Answer(b), reuse),
            None => (Verdict::Ignored(Ignored::Silent), Reuse::Never),
        }
    }
}

/// FORMERR for a query that does not parse: its header, no question.
fn form_error(packet: &[u8]) -> Vec<u8> {
    let mut decoder = BinDecoder::new(packet);
    let Ok(header) = Header::read(&mut decoder) else {
        return Vec::new();
    };
    let Ok(queries) = Queries::read(&mut decoder, 0) else {
        return Vec::new();
    };
    let msg = MessageResponseBuilder::new(&queries, None)
        .error_msg(&header.metadata, ResponseCode::FormErr);
    encode(msg, Protocol::Udp).unwrap_or_default()
}

/// Encodes a response within the transport's limit, as one whole message.
fn encode<'a>(
    response: MessageResponse<
        '_,
        'a,
        impl Iterator<Item = &'a Record> + Send + 'a,
        impl Iterator<Item = &'a Record> + Send + 'a,
        impl Iterator<Item = &'a Record> + Send + 'a,
        impl Iterator<Item = &'a Record> + Send + 'a,
    >,
    protocol: Protocol,
) -> Result<Vec<u8>, hickory_proto::ProtoError> {
    let max = match protocol {
        Protocol::Udp => response.edns().map_or(512, |e| e.max_payload().max(512)),
        _ => u16::MAX,
    };
    let id = response.metadata().id;
    let mut bytes = Vec::with_capacity(512);
    let mut encoder = BinEncoder::new(&mut bytes);
    encoder.set_max_size(max);
    match response.destructive_emit(&mut encoder) {
        Ok(_) => {
            // A record that did not fit is rolled back by moving the
            // offset: its bytes stay in the buffer and must not be sent.
            let end = encoder.offset();
            bytes.truncate(end);
            Ok(bytes)
        }
        Err(_) => {
            let mut metadata = Metadata::new(id, MessageType::Response, OpCode::Query);
            metadata.response_code = ResponseCode::ServFail;
            let header = Header {
                metadata,
                counts: HeaderCounts::default(),
            };
            let mut bytes = Vec::with_capacity(12);
            let mut encoder = BinEncoder::new(&mut bytes);
            hickory_proto::serialize::binary::BinEncodable::emit(&header, &mut encoder)?;
            Ok(bytes)
        }
    }
}

/// Keeps the bytes of the one response a request gets.
#[derive(Clone)]
struct Capture {
    protocol: Protocol,
    bytes: std::sync::Arc<std::sync::Mutex<Option<Vec<u8>>>>,
}

#[async_trait::async_trait]
impl ResponseHandler for Capture {
    async fn send_response<'a>(
        &mut self,
        response: MessageResponse<
            '_,
            'a,
            impl Iterator<Item = &'a Record> + Send + 'a,
            impl Iterator<Item = &'a Record> + Send + 'a,
            impl Iterator<Item = &'a Record> + Send + 'a,
            impl Iterator<Item = &'a Record> + Send + 'a,
        >,
    ) -> Result<ResponseInfo, NetError> {
        let metadata = *response.metadata();
        let bytes = encode(response, self.protocol)?;
        let mut decoder = BinDecoder::new(&bytes);
        let info = match Header::read(&mut decoder) {
            Ok(h) => ResponseInfo::from(h),
            Err(_) => ResponseInfo::from(Header {
                metadata,
                counts: HeaderCounts::default(),
            }),
        };
        if let Ok(mut slot) = self.bytes.lock() {
            *slot = Some(bytes);
        }
        Ok(info)
    }
}

#[async_trait::async_trait]
impl RequestHandler for Handler {
    async fn handle_request<R: ResponseHandler, T: Time>(
        &self,
        request: &Request,
        response_handle: R,
    ) -> ResponseInfo {
        self.handle(request, response_handle, &mut Reuse::Never)
            .await
    }
}

impl Handler {
    /// Answers `request` through `response_handle`, noting in `reuse`
    /// whether the answer may be sent again.
    async fn handle<R: ResponseHandler>(
        &self,
        request: &Request,
        mut response_handle: R,
        reuse: &mut Reuse,
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
        // The server's own OPT: version 0, its payload size within the client's.
        let edns = request.edns.as_ref().map(|req| {
            let mut e = Edns::new();
            e.set_max_payload(req.max_payload().clamp(512, EDNS_PAYLOAD));
            e
        });
        if request.edns.as_ref().is_some_and(|e| e.version() > 0) {
            let mut builder = builder;
            if let Some(e) = &edns {
                builder.edns(e);
            }
            let msg = builder.error_msg(&request.metadata, ResponseCode::BADVERS);
            return response_handle
                .send_response(msg)
                .await
                .unwrap_or_else(|_| fail(ResponseCode::BADVERS));
        }
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
        let (outcome, may_reuse) = self.reply(&snapshot, &question);
        let reply = match outcome {
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
            Ok(info) => {
                *reuse = may_reuse;
                info
            }
            Err(e) => {
                tracing::warn!(error = %e, "failed to send response");
                fail(ResponseCode::ServFail)
            }
        }
    }
}
