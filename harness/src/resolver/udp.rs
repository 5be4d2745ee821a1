//! Serves UDP: one socket read by `--udp-workers` threads (one per core
//! unless told), each taking in a batch of queries at a time
//! ([`Datagrams`]) and answering them in place, without a task or a copy
//! per packet.

use std::io;
use std::net::{SocketAddr, UdpSocket};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use hickory_server::net::xfer::Protocol;

use super::answers::Answers;
use super::datagrams::Datagrams;
use super::flood::{Dropped, Tally};
use super::respond::{Handler, Ignored, Verdict};

/// How often a listener looks at the stop flag while no packet comes.
const POLL: Duration = Duration::from_millis(100);

/// What the threads share.
pub(crate) struct Listener {
    pub(crate) socket: UdpSocket,
    pub(crate) handler: Arc<Handler>,
    pub(crate) tally: Arc<Tally>,
    pub(crate) stop: Arc<AtomicBool>,
}

/// Starts `threads` threads reading the socket; each ends when `stop` is
/// set, or with the socket's error.
pub(crate) fn spawn(
    listener: Arc<Listener>,
    threads: usize,
) -> io::Result<Vec<std::thread::JoinHandle<io::Result<()>>>> {
    listener.socket.set_read_timeout(Some(POLL))?;
    (0..threads.max(1))
        .map(|i| {
            let l = listener.clone();
            std::thread::Builder::new()
                .name(format!("mcsdns-udp-{i}"))
                .spawn(move || l.run())
        })
        .collect()
}

impl Listener {
    fn run(&self) -> io::Result<()> {
        let mut datagrams = Datagrams::new();
        let mut answers = Answers::new();
        while !self.stop.load(Ordering::Relaxed) {
            match datagrams.receive(&self.socket) {
                Ok(_) => {}
                Err(e) if is_transient(&e) => continue,
                Err(e) => return Err(e),
            }
            datagrams.answer_each(|packet, src, out| self.answer(&mut answers, packet, src, out));
            // A client that went away is its own business.
            datagrams.send(&self.socket);
        }
        Ok(())
    }

    /// Writes into `out` the bytes sent back for `packet`, if any (`false`:
    /// nothing is sent), counting what is dropped.
    pub(crate) fn answer(
        &self,
        answers: &mut Answers,
        packet: &[u8],
        src: SocketAddr,
        out: &mut Vec<u8>,
    ) -> bool {
        if packet.len() >= 12 && packet[2] & 0x80 == 0 {
            let snapshot = self.handler.snapshot().load();
            if answers.answer(&snapshot, self.handler.now(), packet, out) {
                return true;
            }
        }
        let (verdict, reuse) = self.handler.respond_with(packet, src, Protocol::Udp);
        match verdict {
            Verdict::Answer(bytes) => {
                if bytes.len() >= 4 && bytes[3] & 0x0f == 1 {
                    self.tally.note(Dropped::Malformed);
                }
                answers.keep(packet, &bytes, reuse);
                *out = bytes;
                true
            }
            Verdict::Ignored(Ignored::Short) => {
                self.tally.note(Dropped::Short);
                false
            }
            Verdict::Ignored(Ignored::Response) => {
                self.tally.note(Dropped::Response);
                false
            }
            Verdict::Ignored(Ignored::Silent) => false,
        }
    }
}

/// Errors a UDP socket returns that do not end serving: the poll timeout,
/// an interrupt, an ICMP error for an earlier send.
fn is_transient(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock
            | io::ErrorKind::TimedOut
            | io::ErrorKind::Interrupted
            | io::ErrorKind::ConnectionRefused
            | io::ErrorKind::ConnectionReset
    )
}
