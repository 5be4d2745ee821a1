//! Carries UDP datagrams in batches. On Linux one `recvmmsg` takes in every
//! query already queued (up to [`BATCH`]) and one `sendmmsg` sends their
//! answers, so a busy server makes two system calls per batch rather than
//! two per query: what lets a server hold its rate when one client keeps
//! many queries in flight. Elsewhere a batch is one datagram.
//!
//! The batch only moves bytes: what is answered, and with which bytes, is
//! the caller's, the same for a batch of one as for a batch of 32. Answers
//! leave together once the batch is answered: the first query of a batch
//! waits for the others, each a lookup of kept bytes or one engine answer,
//! microseconds next to the system calls saved.

use std::io;
use std::net::{SocketAddr, UdpSocket};

/// The most datagrams one system call takes in or sends out.
pub const BATCH: usize = 32;

/// The largest datagram read whole (the largest a UDP/IP packet carries).
const DATAGRAM: usize = 65_535;

/// One listener's buffers: the datagrams of the last batch and the answers
/// to them.
pub struct Datagrams {
    /// `BATCH` slots of `DATAGRAM` bytes (pages are touched only as
    /// datagrams fill them).
    buf: Vec<u8>,
    /// Slot, length and source of each datagram received.
    received: Vec<(usize, usize, SocketAddr)>,
    /// The answer written for each slot.
    answers: Vec<Vec<u8>>,
    /// Slot and destination of each answer to be sent.
    answered: Vec<(usize, SocketAddr)>,
    #[cfg(target_os = "linux")]
    headers: nix::sys::socket::MultiHeaders<nix::sys::socket::SockaddrStorage>,
}

impl Default for Datagrams {
    fn default() -> Self {
        Datagrams::new()
    }
}

impl Datagrams {
    /// Empty buffers for one listener.
    pub fn new() -> Self {
        Datagrams {
            buf: vec![0; BATCH * DATAGRAM],
            received: Vec::with_capacity(BATCH),
            answers: (0..BATCH).map(|_| Vec::with_capacity(512)).collect(),
            answered: Vec::with_capacity(BATCH),
            #[cfg(target_os = "linux")]
            headers: nix::sys::socket::MultiHeaders::preallocate(BATCH, None),
        }
    }

    /// Calls `answer` on each datagram of the last batch, with its bytes,
    /// its source and the buffer its answer goes in; those it returns
    /// `true` for are sent by the next [`Datagrams::send`].
    pub fn answer_each(&mut self, mut answer: impl FnMut(&[u8], SocketAddr, &mut Vec<u8>) -> bool) {
        self.answered.clear();
        for &(slot, len, src) in &self.received {
            let at = slot * DATAGRAM;
            if answer(&self.buf[at..at + len], src, &mut self.answers[slot]) {
                self.answered.push((slot, src));
            }
        }
    }
}

#[cfg(target_os = "linux")]
impl Datagrams {
    /// Waits (up to the socket's read timeout) for a datagram, then takes
    /// in every one already queued, up to [`BATCH`]; how many came.
    pub fn receive(&mut self, socket: &UdpSocket) -> io::Result<usize> {
        use nix::sys::socket::{MsgFlags, recvmmsg};
        use std::io::IoSliceMut;
        use std::os::fd::AsRawFd;

        self.received.clear();
        let Datagrams { buf, headers, .. } = self;
        let mut slots: Vec<[IoSliceMut<'_>; 1]> = buf
            .chunks_mut(DATAGRAM)
            .map(|c| [IoSliceMut::new(c)])
            .collect();
        let batch = recvmmsg(
            socket.as_raw_fd(),
            headers,
            slots.iter_mut(),
            // Blocks for the first datagram only.
            MsgFlags::MSG_WAITFORONE,
            None,
        )
        .map_err(io::Error::from)?;
        for (slot, message) in batch.enumerate() {
            // The kernel writes every UDP datagram's source; one of another
            // family than IPv4 or IPv6 is not answered.
            let src = message.address.and_then(|a| {
                a.as_sockaddr_in()
                    .map(|v4| SocketAddr::V4((*v4).into()))
                    .or_else(|| a.as_sockaddr_in6().map(|v6| SocketAddr::V6((*v6).into())))
            });
            if let Some(src) = src {
                self.received.push((slot, message.bytes, src));
            }
        }
        Ok(self.received.len())
    }

    /// Sends the answers of the last batch. A datagram the kernel refuses
    /// (its destination unreachable, say) is dropped, as the network drops
    /// one: the client asks again.
    pub fn send(&mut self, socket: &UdpSocket) {
        use rustix::net::{MMsgHdr, SendAncillaryBuffer, SendFlags, SocketAddrAny, sendmmsg};
        use std::io::IoSlice;

        if self.answered.is_empty() {
            return;
        }
        let to: Vec<SocketAddrAny> = self
            .answered
            .iter()
            .map(|&(_, to)| SocketAddrAny::from(to))
            .collect();
        let bytes: Vec<[IoSlice<'_>; 1]> = self
            .answered
            .iter()
            .map(|&(slot, _)| [IoSlice::new(&self.answers[slot])])
            .collect();
        let mut control: Vec<SendAncillaryBuffer<'_, '_, '_>> = (0..to.len())
            .map(|_| SendAncillaryBuffer::default())
            .collect();
        let mut messages: Vec<MMsgHdr<'_>> = to
            .iter()
            .zip(&bytes)
            .zip(control.iter_mut())
            .map(|((to, bytes), control)| MMsgHdr::new_with_addr(to, bytes, control))
            .collect();
        let mut sent = 0;
        while sent < messages.len() {
            match sendmmsg(socket, &mut messages[sent..], SendFlags::empty()) {
                Ok(0) => break,
                Ok(n) => sent += n,
                Err(rustix::io::Errno::INTR) => {}
                // The first datagram left failed: drop it, send the rest.
                Err(_) => sent += 1,
            }
        }
    }
}

#[cfg(not(target_os = "linux"))]
impl Datagrams {
    /// Waits (up to the socket's read timeout) for one datagram.
    pub fn receive(&mut self, socket: &UdpSocket) -> io::Result<usize> {
        self.received.clear();
        let (len, src) = socket.recv_from(&mut self.buf[..DATAGRAM])?;
        self.received.push((0, len, src));
        Ok(1)
    }

    /// Sends the answers of the last batch; one refused is dropped.
    pub fn send(&mut self, socket: &UdpSocket) {
        for &(slot, to) in &self.answered {
            let _ = socket.send_to(&self.answers[slot], to);
        }
    }
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;
    use std::time::Duration;

    fn socket() -> UdpSocket {
        let s = UdpSocket::bind("127.0.0.1:0").unwrap();
        s.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
        s
    }

    /// Datagrams already queued come in one call, each with its bytes and
    /// source; each answer goes back to its own client, and one the kernel
    /// refuses (too large for UDP) is dropped alone.
    #[test]
    fn a_queued_batch_comes_in_one_call_and_goes_back_to_each_source() {
        let server = socket();
        let clients: Vec<UdpSocket> = (0..5).map(|_| socket()).collect();
        for (i, c) in clients.iter().enumerate() {
            c.send_to(&[i as u8; 3], server.local_addr().unwrap())
                .unwrap();
        }
        // Queued on a loopback socket before the call: one call takes all.
        let mut batch = Datagrams::new();
        assert_eq!(batch.receive(&server).unwrap(), 5);
        batch.answer_each(|packet, src, out| {
            let i = packet[0] as usize;
            assert_eq!(packet, &[i as u8; 3]);
            assert_eq!(src, clients[i].local_addr().unwrap());
            out.clear();
            if i == 2 {
                // Over the 65,507 bytes a UDP/IPv4 datagram can carry.
                out.resize(DATAGRAM, 7);
            } else {
                out.extend_from_slice(&[i as u8 + 100; 2]);
            }
            i != 4
        });
        batch.send(&server);
        let mut buf = [0u8; 16];
        for (i, c) in clients.iter().enumerate() {
            c.set_read_timeout(Some(Duration::from_millis(300)))
                .unwrap();
            match (i, c.recv_from(&mut buf)) {
                (2 | 4, Ok(got)) => panic!("client {i} got {got:?}"),
                (2 | 4, Err(_)) => {}
                (_, Ok((n, from))) => {
                    assert_eq!(from, server.local_addr().unwrap());
                    assert_eq!(&buf[..n], &[i as u8 + 100; 2]);
                }
                (_, Err(e)) => panic!("client {i}: {e}"),
            }
        }
    }
}
