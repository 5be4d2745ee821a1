//! Asks a DNS server one question over the wire, as a stub resolver does:
//! UDP with EDNS first, TCP when the answer is truncated, and "no answer"
//! when the server stays silent.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::time::{Duration, Instant};

use hickory_proto::op::{Edns, Message, MessageType, OpCode, Query};

use crate::resolver::{Outcome, Question, Reply};

/// Why a question could not be asked (not a silent server: that is an
/// [`Outcome::Silent`]).
#[derive(Debug, thiserror::Error)]
pub enum WireError {
    /// A socket failed.
    #[error("cannot reach the DNS server at {addr}: {source}")]
    Io {
        /// The server.
        addr: SocketAddr,
        /// The cause.
        source: std::io::Error,
    },
    /// The reply could not be decoded.
    #[error("the DNS server at {addr} sent a reply that does not decode: {why}")]
    Malformed {
        /// The server.
        addr: SocketAddr,
        /// The decoder's words.
        why: String,
    },
}

/// The EDNS payload size the client offers (the DNS flag day's value).
const PAYLOAD: u16 = 1232;

/// The query a stub sends: a random id, RD, EDNS with a 1232-byte payload.
pub fn request(question: &Question) -> Message {
    let mut m = Message::new(rand_id(), MessageType::Query, OpCode::Query);
    m.metadata.recursion_desired = true;
    m.add_query(Query::query(question.name.clone(), question.qtype));
    let mut edns = Edns::new();
    edns.set_max_payload(PAYLOAD);
    m.set_edns(edns);
    m
}

fn rand_id() -> u16 {
    let mut b = [0u8; 2];
    let _ = getrandom::fill(&mut b);
    u16::from_be_bytes(b)
}

/// The reply as the runner judges it.
pub fn reply_of(m: Message) -> Reply {
    Reply {
        rcode: m.metadata.response_code,
        authoritative: m.metadata.authoritative,
        recursion_available: m.metadata.recursion_available,
        answers: m.answers,
        authorities: m.authorities,
        additionals: m.additionals,
    }
}

/// Asks `question` over a byte stream already connected to a DNS server
/// (DNS over TCP framing: a two-byte length before each message), such as
/// a port-forward to a Pod.
pub async fn ask_over<S>(
    stream: &mut S,
    question: &Question,
    timeout: Duration,
) -> Result<Outcome, String>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let msg = request(question);
    let bytes = msg.to_vec().map_err(|e| e.to_string())?;
    let mut framed = (bytes.len() as u16).to_be_bytes().to_vec();
    framed.extend_from_slice(&bytes);
    let exchange = async {
        stream.write_all(&framed).await?;
        stream.flush().await?;
        loop {
            let mut len = [0u8; 2];
            stream.read_exact(&mut len).await?;
            let mut buf = vec![0u8; usize::from(u16::from_be_bytes(len))];
            stream.read_exact(&mut buf).await?;
            if let Ok(reply) = Message::from_vec(&buf)
                && reply.metadata.id == msg.metadata.id
            {
                return Ok::<_, std::io::Error>(reply);
            }
        }
    };
    match tokio::time::timeout(timeout, exchange).await {
        Ok(Ok(reply)) => Ok(Outcome::Reply(reply_of(reply))),
        Ok(Err(e)) => Err(format!("the stream to the DNS server broke: {e}")),
        Err(_) => Ok(Outcome::Silent(format!(
            "no answer within {} ms over the stream",
            timeout.as_millis()
        ))),
    }
}

/// Asks `question` of the server at `addr`, waiting at most `timeout` for
/// each of two UDP tries (and for TCP after a truncated reply).
pub fn ask(addr: SocketAddr, question: &Question, timeout: Duration) -> Result<Outcome, WireError> {
    let io = |source| WireError::Io { addr, source };
    let msg = request(question);
    let bytes = msg.to_vec().map_err(|e| WireError::Malformed {
        addr,
        why: e.to_string(),
    })?;
    let bind = if addr.is_ipv4() {
        "127.0.0.1:0"
    } else {
        "[::1]:0"
    };
    let socket = UdpSocket::bind(bind).map_err(io)?;
    socket.connect(addr).map_err(io)?;
    for _ in 0..2 {
        socket.send(&bytes).map_err(io)?;
        let deadline = Instant::now() + timeout;
        let mut buf = [0u8; 65_535];
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            socket.set_read_timeout(Some(left)).map_err(io)?;
            let n = match socket.recv(&mut buf) {
                Ok(n) => n,
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) =>
                {
                    break;
                }
                // A closed port: ICMP unreachable.
                Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => {
                    return Ok(Outcome::Silent(format!(
                        "nothing listens on {addr} (connection refused)"
                    )));
                }
                Err(e) => return Err(io(e)),
            };
            let Ok(reply) = decode(&buf[..n]) else {
                continue;
            };
            // Replies to another question (a late one) are not ours.
            if reply.metadata.id != msg.metadata.id {
                continue;
            }
            if reply.metadata.truncation {
                return ask_tcp(addr, &msg, timeout);
            }
            return Ok(Outcome::Reply(reply_of(reply)));
        }
    }
    Ok(Outcome::Silent(format!(
        "no answer from {addr} within {} ms, twice",
        timeout.as_millis()
    )))
}

/// Decodes a reply, keeping a record with empty RDATA (as Lighthouse writes
/// an A record for an IPv6 address) as hickory's `Update0` instead of
/// refusing the message: dig shows such a reply with a "malformed message
/// packet" warning, and so must the transcript. hickory accepts empty
/// records in UPDATE messages only, so the opcode is read as UPDATE once,
/// then put back.
fn decode(bytes: &[u8]) -> Result<Message, hickory_proto::serialize::binary::DecodeError> {
    let err = match Message::from_vec(bytes) {
        Ok(m) => return Ok(m),
        Err(e) => e,
    };
    if bytes.len() < 12 {
        return Err(err);
    }
    let mut patched = bytes.to_vec();
    let opcode = (patched[2] >> 3) & 0x0f;
    patched[2] = (patched[2] & 0x87) | (5 << 3);
    let mut m = Message::from_vec(&patched).map_err(|_| err)?;
    m.metadata.op_code = OpCode::from_u8(opcode);
    Ok(m)
}

fn ask_tcp(addr: SocketAddr, msg: &Message, timeout: Duration) -> Result<Outcome, WireError> {
    let io = |source| WireError::Io { addr, source };
    let bytes = msg.to_vec().map_err(|e| WireError::Malformed {
        addr,
        why: e.to_string(),
    })?;
    let mut stream = TcpStream::connect_timeout(&addr, timeout).map_err(io)?;
    stream.set_read_timeout(Some(timeout)).map_err(io)?;
    let mut framed = (bytes.len() as u16).to_be_bytes().to_vec();
    framed.extend_from_slice(&bytes);
    stream.write_all(&framed).map_err(io)?;
    let mut len = [0u8; 2];
    if let Err(e) = stream.read_exact(&mut len) {
        return match e.kind() {
            std::io::ErrorKind::WouldBlock
            | std::io::ErrorKind::TimedOut
            | std::io::ErrorKind::UnexpectedEof => {
                Ok(Outcome::Silent(format!("no answer from {addr} over TCP")))
            }
            _ => Err(io(e)),
        };
    }
    let mut buf = vec![0u8; usize::from(u16::from_be_bytes(len))];
    stream.read_exact(&mut buf).map_err(io)?;
    let reply = decode(&buf).map_err(|e| WireError::Malformed {
        addr,
        why: e.to_string(),
    })?;
    Ok(Outcome::Reply(reply_of(reply)))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The reply the lighthouse profile's server sends for an IPv6-only
    /// service's A (one A record with RDLENGTH 0), as captured off the wire.
    #[test]
    fn a_reply_with_an_empty_a_record_is_read_as_sent() {
        let hex = "123485000001000100000000027636026c68037376630a636c7573746572736574056c6f63616c0000010001027636026c68037376630a636c7573746572736574056c6f63616c0000010001000000050000";
        let bytes: Vec<u8> = (0..hex.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
            .collect();
        assert!(Message::from_vec(&bytes).is_err());
        let m = decode(&bytes).unwrap();
        assert_eq!(m.metadata.op_code, OpCode::Query);
        assert_eq!(m.answers.len(), 1);
        assert_eq!(
            m.answers[0].data,
            hickory_proto::rr::RData::Update0(hickory_proto::rr::RecordType::A)
        );
        assert_eq!(m.answers[0].ttl, 5);
        // Garbage stays an error.
        assert!(decode(&bytes[..20]).is_err());
    }
}
