//! Describes what a step saw, beyond the DNS answer itself: the candidate,
//! the connection, the diagnoses and what the target knows of its cache.

use hickory_proto::rr::Name;

use super::diagnose::Diagnosis;
use crate::resolver::{Outcome, Reply};

/// What a step produced, for the comparator.
#[derive(Clone, Debug, Default)]
pub struct Observed {
    /// The DNS outcome the application sees (final attempt for a resolve).
    pub outcome: Option<Outcome>,
    /// For resolve: the candidate that answered (`Some(None)`: none did).
    pub candidate: Option<Option<Name>>,
    /// For connect: whether a backend was reached.
    pub reachable: Option<bool>,
    /// Diagnoses attached to the result.
    pub diagnoses: Vec<Diagnosis>,
    /// For a repeated query (`rotates_over`): the answer section of every
    /// asking, in order, the first included; `None` for a reply not sent.
    pub repeated: Vec<Option<Vec<String>>>,
}

/// An answer served from the cache.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CacheNote {
    /// Seconds since it was cached.
    pub age: u64,
    /// Seconds until it expires.
    pub remaining: u64,
    /// The Corefile line of `cache`.
    pub line: usize,
    /// What the resolver would answer now, when that differs (a stale answer).
    pub fresh: Option<String>,
}

impl CacheNote {
    /// What the resolver would answer now (`fresh`), when that differs from
    /// the `served` answer: a stale one.
    pub fn fresh_if_changed(fresh: &Outcome, served: &Reply) -> Option<String> {
        match fresh.reply() {
            Some(f) if super::compare::same_answer(f, served) => None,
            Some(f) => Some(super::compare::summary(f)),
            None => Some("no answer".into()),
        }
    }
}
