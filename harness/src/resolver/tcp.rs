//! Serves TCP (RFC 7766): length-prefixed messages, several per
//! connection, a connection closed after a few idle seconds; every answer
//! is one whole message.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use hickory_server::net::xfer::Protocol;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;

use super::flood::{Dropped, Tally};
use super::respond::{Handler, Ignored, Verdict};

/// How long a connection may stay idle.
const IDLE: Duration = Duration::from_secs(5);

/// How many connections are served at once; more wait to be accepted.
const CONNECTIONS: usize = 256;

/// Accepts connections until the task is aborted.
pub(crate) async fn serve(listener: TcpListener, handler: Arc<Handler>, tally: Arc<Tally>) {
    let slots = Arc::new(Semaphore::new(CONNECTIONS));
    loop {
        let Ok(permit) = slots.clone().acquire_owned().await else {
            return;
        };
        let (stream, peer) = match listener.accept().await {
            Ok(x) => x,
            Err(e) => {
                tracing::debug!(error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        let (handler, tally) = (handler.clone(), tally.clone());
        tokio::spawn(async move {
            let _ = connection(stream, peer, &handler, &tally).await;
            drop(permit);
        });
    }
}

async fn connection(
    mut stream: TcpStream,
    peer: SocketAddr,
    handler: &Handler,
    tally: &Tally,
) -> std::io::Result<()> {
    let _ = stream.set_nodelay(true);
    let mut buf = Vec::new();
    loop {
        let mut len = [0u8; 2];
        match tokio::time::timeout(IDLE, stream.read_exact(&mut len)).await {
            Ok(Ok(_)) => {}
            _ => return Ok(()),
        }
        buf.resize(u16::from_be_bytes(len) as usize, 0);
        match tokio::time::timeout(IDLE, stream.read_exact(&mut buf)).await {
            Ok(Ok(_)) => {}
            _ => return Ok(()),
        }
        let bytes = match handler.respond(&buf, peer, Protocol::Tcp) {
            Verdict::Answer(bytes) => {
                if bytes.len() >= 4 && bytes[3] & 0x0f == 1 {
                    tally.note(Dropped::Malformed);
                }
                bytes
            }
            Verdict::Ignored(Ignored::Short) => {
                tally.note(Dropped::Short);
                continue;
            }
            Verdict::Ignored(Ignored::Response) => {
                tally.note(Dropped::Response);
                continue;
            }
            Verdict::Ignored(Ignored::Silent) => continue,
        };
        // `respond` keeps a TCP answer within 65,535 bytes.
        let mut framed = Vec::with_capacity(bytes.len() + 2);
        framed.extend_from_slice(&(bytes.len() as u16).to_be_bytes());
        framed.extend_from_slice(&bytes);
        stream.write_all(&framed).await?;
    }
}
