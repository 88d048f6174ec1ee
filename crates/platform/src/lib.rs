//! Cross-cutting plumbing every service uses: configuration, telemetry, databases, HTTP and
//! gRPC server helpers, error mapping to gRPC, and supervised tasks with graceful shutdown.

pub mod db;
pub mod testing;
