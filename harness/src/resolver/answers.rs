//! Answers a repeated query from bytes: per snapshot, the encoded answer to
//! each distinct query (every byte of it but the id) is kept and sent again
//! with the asker's id, and, for names the Corefile caches, the TTLs
//! counted down as the cache plugin counts them.
//!
//! The engine is a pure function of a snapshot and the query, and the
//! response builder a pure function of the query's bytes: the same bytes
//! (id aside) under the same snapshot get the same answer, so a kept answer
//! is byte for byte what the engine path would send. A new snapshot empties
//! the store before the next answer.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use super::server::Snapshot;

/// How many answers one store keeps; past it, it starts again empty.
pub const MAX_ENTRIES: usize = 100_000;

/// Whether, and until when, an answer may be sent again.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reuse {
    /// Not at all (an error, or the first answer of a name the Corefile
    /// caches: the next one is the cache's).
    Never,
    /// For as long as the snapshot lasts.
    Always,
    /// A cache plugin's entry: stored at `stored` on the handler's clock,
    /// for `ttl` seconds, its TTLs counted down.
    Until {
        /// When the cache stored it.
        stored: Duration,
        /// For how long.
        ttl: u32,
    },
}

#[derive(Debug)]
struct Entry {
    bytes: Box<[u8]>,
    clock: Option<Clock>,
}

#[derive(Debug)]
struct Clock {
    stored: Duration,
    ttl: u32,
    /// Where each record's TTL is.
    ttls: Box<[usize]>,
}

/// One listener's store of answers.
#[derive(Debug, Default)]
pub struct Answers {
    snapshot: Option<Arc<Snapshot>>,
    entries: HashMap<Box<[u8]>, Entry>,
}

impl Answers {
    /// An empty store.
    pub fn new() -> Self {
        Answers::default()
    }

    /// Writes the answer to `packet` under `snapshot` at `now` into `out`
    /// if one is kept; `false` if the engine must answer.
    pub fn answer(
        &mut self,
        snapshot: &Arc<Snapshot>,
        now: Duration,
        packet: &[u8],
        out: &mut Vec<u8>,
    ) -> bool {
        if !self
            .snapshot
            .as_ref()
            .is_some_and(|s| Arc::ptr_eq(s, snapshot))
        {
            self.entries.clear();
            self.snapshot = Some(snapshot.clone());
            return false;
        }
        if packet.len() < 12 {
            return false;
        }
        let Some(entry) = self.entries.get(&packet[2..]) else {
            return false;
        };
        let remaining = match &entry.clock {
            None => None,
            Some(c) => {
                let age = now.saturating_sub(c.stored).as_secs();
                match u64::from(c.ttl).checked_sub(age).filter(|r| *r > 0) {
                    Some(r) => Some((r as u32, &c.ttls)),
                    None => {
                        self.entries.remove(&packet[2..]);
                        return false;
                    }
                }
            }
        };
        out.clear();
        out.extend_from_slice(&entry.bytes);
        out[..2].copy_from_slice(&packet[..2]);
        if let Some((ttl, offsets)) = remaining {
            for &at in offsets.iter() {
                out[at..at + 4].copy_from_slice(&ttl.to_be_bytes());
            }
        }
        true
    }

    /// Keeps `answer`, the engine path's answer to `packet` under the
    /// snapshot of the last [`Answers::answer`], as `reuse` allows.
    pub fn keep(&mut self, packet: &[u8], answer: &[u8], reuse: Reuse) {
        if packet.len() < 12 || answer.len() < 12 || self.snapshot.is_none() {
            return;
        }
        let clock = match reuse {
            Reuse::Never => return,
            Reuse::Always => None,
            Reuse::Until { stored, ttl } => match ttl_offsets(answer) {
                Some(ttls) => Some(Clock {
                    stored,
                    ttl,
                    ttls: ttls.into(),
                }),
                None => return,
            },
        };
        if self.entries.len() >= MAX_ENTRIES {
            self.entries.clear();
        }
        self.entries.insert(
            packet[2..].into(),
            Entry {
                bytes: answer.into(),
                clock,
            },
        );
    }
}

/// The offsets of the TTL of every record of a message but the OPT (whose
/// TTL field holds EDNS flags); `None` if the message does not parse.
pub fn ttl_offsets(msg: &[u8]) -> Option<Vec<usize>> {
    let count = |at: usize| -> Option<usize> {
        Some(u16::from_be_bytes([*msg.get(at)?, *msg.get(at + 1)?]) as usize)
    };
    let questions = count(4)?;
    let records = count(6)? + count(8)? + count(10)?;
    let mut at = 12;
    for _ in 0..questions {
        at = skip_name(msg, at)? + 4;
    }
    let mut out = Vec::with_capacity(records);
    for _ in 0..records {
        at = skip_name(msg, at)?;
        let rtype = count(at)?;
        let rdlength = count(at + 8)?;
        if rtype != 41 {
            out.push(at + 4);
        }
        at += 10 + rdlength;
    }
    (at == msg.len()).then_some(out)
}

/// The offset just past the (possibly compressed) name at `at`.
fn skip_name(msg: &[u8], mut at: usize) -> Option<usize> {
    loop {
        let len = *msg.get(at)?;
        match len {
            0 => return Some(at + 1),
            l if l & 0xc0 == 0xc0 => return Some(at + 2),
            l if l & 0xc0 == 0 => at += 1 + l as usize,
            _ => return None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hickory_proto::op::{Edns, Message, MessageType, OpCode, Query};
    use hickory_proto::rr::{Name, RData, Record, RecordType, rdata::A};

    fn message() -> Vec<u8> {
        let mut m = Message::new(1, MessageType::Response, OpCode::Query);
        let name = Name::from_ascii("a.example.").unwrap();
        m.add_query(Query::query(name.clone(), RecordType::A));
        for i in 0..3 {
            m.add_answer(Record::from_rdata(
                name.clone(),
                30,
                RData::A(A::new(10, 0, 0, i)),
            ));
        }
        m.edns = Some(Edns::new());
        m.to_vec().unwrap()
    }

    fn snapshot() -> Arc<Snapshot> {
        use crate::resolver::{ClusterView, Profile, ResolverConfig};
        Arc::new(Snapshot {
            config: ResolverConfig::default_for(Profile::Kep1645).into(),
            view: ClusterView::new("c"),
        })
    }

    /// A query's bytes under `id`.
    fn query(id: u16) -> Vec<u8> {
        let mut m = Message::new(id, MessageType::Query, OpCode::Query);
        m.add_query(Query::query(
            Name::from_ascii("a.example.").unwrap(),
            RecordType::A,
        ));
        m.to_vec().unwrap()
    }

    #[test]
    fn a_kept_answer_is_sent_with_the_askers_id_until_the_snapshot_changes() {
        let (first, now) = (snapshot(), Duration::ZERO);
        let mut answers = Answers::new();
        let mut out = Vec::new();
        assert!(!answers.answer(&first, now, &query(1), &mut out));
        let answer = message();
        answers.keep(&query(1), &answer, Reuse::Always);
        assert!(answers.answer(&first, now, &query(0xbeef), &mut out));
        assert_eq!(&out[..2], &[0xbe, 0xef]);
        assert_eq!(&out[2..], &answer[2..]);
        // Another question ("b.example.") is not this answer.
        let mut other = query(1);
        other[13] = b'b';
        assert!(!answers.answer(&first, now, &other, &mut out));
        // An equal but new snapshot empties the store.
        let next = Arc::new(Snapshot::clone(&first));
        assert!(!answers.answer(&next, now, &query(2), &mut out));
        assert!(!answers.answer(&next, now, &query(2), &mut out));
    }

    #[test]
    fn a_cached_answer_counts_its_ttls_down_and_expires() {
        let snap = snapshot();
        let mut answers = Answers::new();
        let mut out = Vec::new();
        assert!(!answers.answer(&snap, Duration::ZERO, &query(1), &mut out));
        let answer = message();
        let stored = Duration::from_secs(100);
        answers.keep(&query(1), &answer, Reuse::Until { stored, ttl: 30 });
        let later = stored + Duration::from_secs(12);
        assert!(answers.answer(&snap, later, &query(3), &mut out));
        for at in ttl_offsets(&out).unwrap() {
            assert_eq!(&out[at..at + 4], &18u32.to_be_bytes());
        }
        let gone = stored + Duration::from_secs(30);
        assert!(!answers.answer(&snap, gone, &query(4), &mut out));
    }

    #[test]
    fn every_ttl_but_the_opt_is_found() {
        let bytes = message();
        let offsets = ttl_offsets(&bytes).unwrap();
        assert_eq!(offsets.len(), 3);
        for at in offsets {
            assert_eq!(&bytes[at..at + 4], &30u32.to_be_bytes());
        }
        assert_eq!(ttl_offsets(&bytes[..bytes.len() - 1]), None);
    }
}
