//! Simulates CoreDNS's `cache` plugin on a clock the caller owns.
//!
//! As `plugin/cache` does: an answer is kept for its smallest TTL (negative
//! answers: the SOA's TTL or MINIMUM, whichever is smaller), clamped to the
//! plugin's minimum and maximum; SERVFAIL is kept for `servfail` seconds;
//! every record of the reply that is written, the first one included, gets
//! that duration as its TTL, and a cached reply is served with it counted
//! down (AA set). A fix made in the world is therefore not seen until the
//! cached answer expires, as in a real cluster.

use std::collections::HashMap;
use std::time::Duration;

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::{Name, RData, RecordType};

use super::config::CachePolicy;
use super::reply::{Question, Reply};

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
            age,
            remaining,
        })
    }

    /// How long `policy` keeps `reply` (0: not cached).
    pub fn duration(reply: &Reply, policy: &CachePolicy) -> u32 {
        let clamp = |ttl: u32, min: u32, max: u32| ttl.min(max).max(min);
        match reply.rcode {
            ResponseCode::NoError if !reply.answers.is_empty() => {
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
