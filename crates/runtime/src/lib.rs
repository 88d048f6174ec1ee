//! The topology of a process: which services run here, and how the others are reached.
//!
//! [`Node::build`] is the one function that wires modules, top to bottom: for each service,
//! if it is a target of this process it is started and its client is local; otherwise its
//! client is remote (gRPC). Nothing else in the codebase knows which services are local.

pub mod config;
mod grpc_server;
mod node;
pub mod target;

pub use config::Config;
pub use node::{Node, NodeOptions, connect};
pub use target::Target;
