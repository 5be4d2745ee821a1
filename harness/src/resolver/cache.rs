//! Simulates CoreDNS's `cache` plugin on a clock the caller owns: answers are
//! kept for their TTL (capped by the plugin's settings), served with the
//! TTL counted down and AA cleared, and SERVFAIL is kept for `servfail`
//! seconds. A fix made in the world is therefore not seen until the cached
//! answer expires, as in a real cluster.

use std::collections::HashMap;
use std::time::Duration;

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::rdata::SOA;
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

impl Cache {
    /// Drops everything (a Corefile reload starts a new cache).
    pub fn clear(&mut self) {
        self.entries.clear();
    }

    /// A cached reply for `q` at time `now`, its TTLs counted down, with its
    /// age and the seconds it has left.
    pub fn get(&self, q: &Question, now: Duration) -> Option<(Reply, u64, u64)> {
        let e = self.entries.get(&(q.name.to_lowercase(), q.qtype))?;
        let age = now.saturating_sub(e.stored).as_secs();
        if age >= u64::from(e.ttl) {
            return None;
        }
        let remaining = u64::from(e.ttl) - age;
        let age_secs = age;
        let age = age as u32;
        let mut r = e.reply.clone();
        r.authoritative = false;
        for rec in r
            .answers
            .iter_mut()
            .chain(r.authorities.iter_mut())
            .chain(r.additionals.iter_mut())
        {
            rec.ttl = rec.ttl.saturating_sub(age);
        }
        // The question's case is the asker's, not the first asker's.
        for rec in r.answers.iter_mut() {
            if rec.name.to_lowercase() == q.name.to_lowercase() {
                rec.name = q.name.clone();
            }
        }
        Some((r, age_secs, remaining))
    }

    /// Stores `reply` for `q` as the plugin would.
    pub fn put(&mut self, q: &Question, reply: &Reply, policy: &CachePolicy, now: Duration) {
        let ttl = match reply.rcode {
            ResponseCode::NoError if !reply.answers.is_empty() => {
                let min = reply.answers.iter().map(|r| r.ttl).min().unwrap_or(0);
                min.clamp(policy.min_ttl, policy.success_max.max(policy.min_ttl))
            }
            ResponseCode::NoError | ResponseCode::NXDomain => {
                let soa = reply.authorities.iter().find_map(|r| match &r.data {
                    RData::SOA(soa) => Some((r.ttl, soa)),
                    _ => None,
                });
                let Some((soa_ttl, soa)) = soa else { return };
                negative_ttl(soa_ttl, soa)
                    .clamp(policy.min_ttl, policy.denial_max.max(policy.min_ttl))
            }
            ResponseCode::ServFail => policy.servfail,
            _ => return,
        };
        if ttl == 0 {
            return;
        }
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

/// RFC 2308: the negative TTL is the smaller of the SOA's TTL and MINIMUM.
fn negative_ttl(soa_ttl: u32, soa: &SOA) -> u32 {
    soa_ttl.min(soa.minimum)
}
