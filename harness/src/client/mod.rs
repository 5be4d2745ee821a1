//! Models the client side of a lookup: the stub resolver's search-list walk,
//! the application's connection, and DNS over the wire.

pub mod connect;
pub mod resolve;
pub mod wire;
