//! Explains a stale answer that the cache serves after the world has changed.

use super::{Context, Diagnosis};
use crate::check::CacheNote;
use crate::scenario::DiagnosisId;

/// stale-cache: the world is fixed, the cache is not; only when the resolver
/// itself now answers differently, which the note's `fresh` answer records.
pub(super) fn stale(cx: &Context<'_>, note: &CacheNote) -> Option<Diagnosis> {
    let fresh = note.fresh.as_ref()?;
    Some(Diagnosis {
        id: DiagnosisId::StaleCache,
        title: format!(
            "a cached answer is served for {} more second(s)",
            note.remaining
        ),
        detail: format!(
            "{}:{}: the cache plugin stored this answer {}s ago; the resolver itself now answers {fresh}",
            cx.corefile(),
            note.line,
            note.age
        ),
        fix: format!(
            "wait {}s for the entry to expire, or lower the TTLs (`cache` TTL, the zone's ttl); clients may cache it too",
            note.remaining
        ),
    })
}
