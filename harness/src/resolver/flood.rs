//! Counts the packets the server ignores or refuses and logs the counts
//! once per interval: a flood of garbage writes a line a second, not a
//! line a packet.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// What happened to a packet that got no answer from the engine.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dropped {
    /// Shorter than a DNS header: dropped.
    Short,
    /// QR=1: dropped, never answered.
    Response,
    /// A query that does not parse: answered FORMERR.
    Malformed,
}

/// Counters shared by every listener of a server.
#[derive(Debug)]
pub struct Tally {
    started: Instant,
    interval: Duration,
    /// Milliseconds since `started` when the counts were last logged.
    last: AtomicU64,
    short: AtomicU64,
    responses: AtomicU64,
    malformed: AtomicU64,
}

impl Tally {
    /// Logs at most once per `interval`.
    pub fn new(interval: Duration) -> Self {
        Tally {
            started: Instant::now(),
            interval,
            last: AtomicU64::new(0),
            short: AtomicU64::new(0),
            responses: AtomicU64::new(0),
            malformed: AtomicU64::new(0),
        }
    }

    /// Counts one packet, and logs the counts if the interval is over.
    pub fn note(&self, what: Dropped) {
        let counter = match what {
            Dropped::Short => &self.short,
            Dropped::Response => &self.responses,
            Dropped::Malformed => &self.malformed,
        };
        counter.fetch_add(1, Ordering::Relaxed);
        self.maybe_log();
    }

    fn maybe_log(&self) {
        let now = self.started.elapsed().as_millis() as u64;
        let last = self.last.load(Ordering::Relaxed);
        let interval = self.interval.as_millis() as u64;
        if now.saturating_sub(last) < interval {
            return;
        }
        if self
            .last
            .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
            .is_err()
        {
            return; // another listener logs this interval
        }
        self.log(now.saturating_sub(last));
    }

    /// Logs whatever was counted and not logged yet (the server is stopping).
    pub fn flush(&self) {
        let now = self.started.elapsed().as_millis() as u64;
        let last = self.last.swap(now, Ordering::Relaxed);
        self.log(now.saturating_sub(last));
    }

    fn log(&self, millis: u64) {
        let short = self.short.swap(0, Ordering::Relaxed);
        let responses = self.responses.swap(0, Ordering::Relaxed);
        let malformed = self.malformed.swap(0, Ordering::Relaxed);
        if short + responses + malformed == 0 {
            return;
        }
        tracing::info!(
            "in the last {:.1} s: {responses} response packet(s) (QR=1) and {short} packet(s) shorter than a header dropped, {malformed} malformed query(ies) answered FORMERR",
            millis as f64 / 1000.0
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_are_kept_until_logged() {
        let t = Tally::new(Duration::from_secs(3600));
        // Within the interval nothing is logged: every packet is counted.
        for _ in 0..1000 {
            t.note(Dropped::Response);
        }
        t.note(Dropped::Malformed);
        assert!(t.responses.load(Ordering::Relaxed) >= 999);
        assert_eq!(t.malformed.load(Ordering::Relaxed), 1);
        t.flush();
        assert_eq!(t.responses.load(Ordering::Relaxed), 0);
    }
}
