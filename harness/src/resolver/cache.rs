//! Simulates CoreDNS's `cache` plugin around the answer engine, on a clock the caller owns.
//!
//! As `plugin/cache` does: an answer is kept for its smallest TTL (negative
//! answers: the SOA's TTL or MINIMUM, whichever is smaller), clamped to the
//! plugin's minimum and maximum; SERVFAIL is kept for `servfail` seconds;
//! every record of the reply that is written, the first one included, gets
//! that duration as its TTL, and a cached reply is served with it counted
//! down (AA set). A fix made in the world is therefore not seen until the
//! cached answer expires, as in a real cluster.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::{Name, RData, RecordType};

use super::config::{CachePolicy, ResolverConfig};
use super::engine::answer;
use super::reply::{Outcome, Question, Reply};
use super::view::ClusterView;

#[derive(Clone, Debug)]
struct Entry {
    reply: Reply,
    stored: Duration,
    ttl: u32,
}

/// A response cache keyed by (name, type).
#[derive(Clone, Debug, Default)]
pub struct Cache {
    entries: HashMap<(Name, RecordType), Entry>,
}

/// A cache hit: the reply as served, its age and the seconds it has left.
#[derive(Clone, Debug)]
pub struct Hit {
    /// The reply, TTLs counted down.
    pub reply: Reply,
    /// When it was stored.
    pub stored: Duration,
    /// Seconds since it was stored.
    pub age: u64,
    /// Seconds until it expires.
    pub remaining: u64,
}

fn set_ttl(reply: &mut Reply, ttl: u32) {
    for rec in reply
        .answers
        .iter_mut()
        .chain(reply.authorities.iter_mut())
        .chain(reply.additionals.iter_mut())
    {
        rec.ttl = ttl;
    }
}

impl Cache {
    /// Drops everything (a Corefile reload starts a new cache).
    pub fn clear(&mut self) {
        self.entries.clear();
    }

    /// The cached reply for `q` at time `now`, if there is one.
    pub fn get(&self, q: &Question, now: Duration) -> Option<Hit> {
        let e = self.entries.get(&(q.name.to_lowercase(), q.qtype))?;
        let age = now.saturating_sub(e.stored).as_secs();
        let remaining = u64::from(e.ttl).checked_sub(age).filter(|r| *r > 0)?;
        let mut reply = e.reply.clone();
        reply.authoritative = true;
        set_ttl(&mut reply, remaining as u32);
        // The question's case is the asker's, not the first asker's.
        for rec in reply.answers.iter_mut() {
            if rec.name.to_lowercase() == q.name.to_lowercase() {
                rec.name = q.name.clone();
            }
        }
        Some(Hit {
            reply,
            stored: e.stored,
            age,
            remaining,
        })
    }

    /// How long `policy` keeps `reply` (0: not cached).
    pub fn duration(reply: &Reply, policy: &CachePolicy) -> u32 {
        let clamp = |ttl: u32, min: u32, max: u32| ttl.min(max).max(min);
        match reply.rcode {
            ResponseCode::NoError if !reply.is_nodata() => {
                if !policy.success {
                    return 0;
                }
                let min = reply.answers.iter().map(|r| r.ttl).min().unwrap_or(0);
                clamp(min, policy.success_min, policy.success_max)
            }
            ResponseCode::NoError | ResponseCode::NXDomain => {
                if !policy.denial {
                    return 0;
                }
                // RFC 2308: the smaller of the SOA's TTL and its MINIMUM.
                let soa = reply.authorities.iter().find_map(|r| match &r.data {
                    RData::SOA(soa) => Some(r.ttl.min(soa.minimum)),
                    _ => None,
                });
                soa.map_or(0, |ttl| clamp(ttl, policy.denial_min, policy.denial_max))
            }
            ResponseCode::ServFail => policy.servfail,
            _ => 0,
        }
    }

    /// Stores `reply` for `q` as the plugin would, and rewrites its TTLs to
    /// the cached duration, as the plugin does to the reply it passes on.
    pub fn put(&mut self, q: &Question, reply: &mut Reply, policy: &CachePolicy, now: Duration) {
        let ttl = Cache::duration(reply, policy);
        if ttl == 0 {
            return;
        }
        set_ttl(reply, ttl);
        self.entries.insert(
            (q.name.to_lowercase(), q.qtype),
            Entry {
                reply: reply.clone(),
                stored: now,
                ttl,
            },
        );
    }
}

/// The answer engine behind the Corefile's `cache`: every owner of a clock
/// (the server on the real one, a target on the scenario's) asks through
/// this, so the cache is modelled once. It locks its own cache, so a server
/// can share it between tasks; names the Corefile does not cache never wait
/// for the lock.
#[derive(Debug, Default)]
pub struct Cached {
    cache: Mutex<Cache>,
}

/// How a question was answered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Served {
    /// The engine answered now; the reply was stored if the policy keeps it
    /// (its TTLs rewritten to the cached duration, as the plugin does).
    Fresh(Outcome),
    /// A live cache entry answered.
    Hit {
        /// The reply, TTLs counted down, AA set.
        reply: Reply,
        /// Seconds since it was stored.
        age: u64,
        /// Seconds until it expires.
        remaining: u64,
        /// The Corefile line of the `cache` that kept it.
        line: usize,
        /// When it was stored, on the caller's clock.
        stored: Duration,
    },
}

impl Served {
    /// What is sent, wherever it came from.
    pub fn into_outcome(self) -> Outcome {
        match self {
            Served::Fresh(outcome) => outcome,
            Served::Hit { reply, .. } => Outcome::Reply(reply),
        }
    }
}

impl Cached {
    /// An empty cache.
    pub fn new() -> Self {
        Cached::default()
    }

    /// Answers `q` at `now` as `config` would in `view`'s cluster: from a
    /// live entry when the Corefile caches the name, else from the engine.
    pub fn answer(
        &self,
        config: &ResolverConfig,
        view: &ClusterView,
        q: &Question,
        now: Duration,
    ) -> Served {
        let Some(policy) = config.cache_for(&q.name) else {
            return Served::Fresh(answer(config, view, q));
        };
        // A poisoned lock only means another query panicked: answer uncached.
        let Ok(mut cache) = self.cache.lock() else {
            return Served::Fresh(answer(config, view, q));
        };
        if let Some(Hit {
            reply,
            stored,
            age,
            remaining,
        }) = cache.get(q, now)
        {
            return Served::Hit {
                reply,
                age,
                remaining,
                line: policy.line,
                stored,
            };
        }
        let mut outcome = answer(config, view, q);
        if let Outcome::Reply(reply) = &mut outcome {
            cache.put(q, reply, policy, now);
        }
        Served::Fresh(outcome)
    }

    /// Forgets every entry: a Corefile reload starts a new cache.
    pub fn clear(&self) {
        if let Ok(mut cache) = self.cache.lock() {
            cache.clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use hickory_proto::rr::RecordType;

    use super::*;
    use crate::resolver::config::{Profile, STOCK_ORDER};
    use crate::resolver::corefile::Corefile;

    fn config(corefile: &str) -> ResolverConfig {
        let cf = Corefile::parse(Path::new("Corefile"), corefile).unwrap();
        ResolverConfig::from_corefile(&cf, Profile::Kep1645, &STOCK_ORDER).unwrap()
    }

    fn ttl(served: &Served) -> u32 {
        served.clone().into_outcome().reply().unwrap().answers[0].ttl
    }

    #[test]
    fn a_cached_answer_is_served_counted_down_until_cleared() {
        let config = config(".:53 {\n    cache 30\n    kubernetes cluster.local\n}\n");
        let view = ClusterView::new("c");
        let q = Question::parse("dns-version.cluster.local", RecordType::TXT).unwrap();
        let cached = Cached::new();
        let first = cached.answer(&config, &view, &q, Duration::ZERO);
        assert!(matches!(first, Served::Fresh(_)));
        assert_eq!(ttl(&first), 30);
        let second = cached.answer(&config, &view, &q, Duration::from_secs(10));
        let Served::Hit {
            age,
            remaining,
            line,
            ..
        } = &second
        else {
            panic!("expected a hit: {second:?}");
        };
        assert_eq!((*age, *remaining, *line), (10, 20, 2));
        assert_eq!(ttl(&second), 20);
        cached.clear();
        let third = cached.answer(&config, &view, &q, Duration::from_secs(11));
        assert!(matches!(third, Served::Fresh(_)));
    }

    #[test]
    fn without_a_cache_plugin_every_answer_is_fresh() {
        let config = config(".:53 {\n    kubernetes cluster.local\n}\n");
        let view = ClusterView::new("c");
        let q = Question::parse("dns-version.cluster.local", RecordType::TXT).unwrap();
        let cached = Cached::new();
        for now in [0, 1] {
            let served = cached.answer(&config, &view, &q, Duration::from_secs(now));
            assert_eq!(served, Served::Fresh(answer(&config, &view, &q)));
        }
    }
}
