//! Infers, from the wire alone, that an outside server answers from its
//! cache: the answer has not changed since it was first seen, the Corefile
//! caches the name, and the reference engine on the API's objects now
//! answers otherwise.

use std::collections::BTreeMap;
use std::time::Instant;

use hickory_proto::rr::{Name, RecordType};

use crate::check::CacheNote;
use crate::check::compare::same_answer;
use crate::resolver::{ClusterView, Question, Reply, ResolverConfig, answer};

/// Each question's last answer, and since when it has been the same.
#[derive(Default)]
pub struct AnswersSeen {
    seen: BTreeMap<(Name, RecordType), (Instant, Reply)>,
}

impl AnswersSeen {
    /// Forgets every answer (a reload starts with an empty cache).
    pub fn clear(&mut self) {
        self.seen.clear();
    }

    /// A note when `reply` to `q` looks served from a stale cache entry;
    /// `view` (the world now) is built only when that needs judging.
    pub fn stale_note(
        &mut self,
        config: &ResolverConfig,
        q: &Question,
        reply: &Reply,
        view: impl FnOnce() -> Option<ClusterView>,
    ) -> Option<CacheNote> {
        let key = (q.name.to_lowercase(), q.qtype);
        let now = Instant::now();
        let since = match self.seen.get(&key) {
            Some((at, before)) if same_answer(before, reply) => *at,
            _ => {
                self.seen.insert(key, (now, reply.clone()));
                return None;
            }
        };
        let policy = config.cache_for(&q.name)?;
        let fresh = CacheNote::fresh_if_changed(&answer(config, &view()?, q), reply)?;
        let remaining = reply
            .answers
            .iter()
            .chain(&reply.authorities)
            .map(|rec| u64::from(rec.ttl))
            .min()
            .unwrap_or(0);
        Some(CacheNote {
            age: now.duration_since(since).as_secs(),
            remaining,
            line: policy.line,
            fresh: Some(fresh),
        })
    }
}
