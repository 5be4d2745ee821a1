//! Answers DNS as the reference resolver: Corefile configuration, indexed view, zone sources,
//! answer engine, cache and server.

pub mod answers;
pub mod cache;
pub mod corefile;
mod datagrams;
pub mod engine;
pub mod export;
pub mod flood;
pub mod ready;
pub mod reply;
pub mod respond;
pub mod server;
mod tcp;
pub mod text;
mod udp;
pub mod view;
pub mod zone;

pub use config::{Profile, ResolverConfig};
/// Kept at `resolver::config`, where callers name the configuration's types.
pub use corefile::config;
pub use engine::answer;
pub use reply::{Outcome, Question, Reply};
pub use view::ClusterView;
