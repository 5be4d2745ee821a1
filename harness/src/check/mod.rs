//! Judges what a target answered and explains why it is wrong: checks,
//! comparisons and diagnoses, all pure functions of what was observed.

pub mod compare;
pub mod diagnose;
pub mod judge;
pub mod observe;

pub use judge::judge;
pub use observe::{CacheNote, Observed};
