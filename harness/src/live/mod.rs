//! Reads live cluster sets through their APIs, read-only: `doctor` explains
//! what is wrong with a multi-cluster DNS set-up.

pub mod capture;
pub mod doctor;
pub mod read;

pub use read::{LiveError, Reader};
