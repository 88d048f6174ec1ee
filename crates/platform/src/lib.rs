//! Cross-cutting plumbing every service uses: configuration loading, telemetry, databases,
//! HTTP and gRPC helpers, and supervised tasks with graceful shutdown.

pub mod auth;
pub mod config;
pub mod db;
pub mod grpc;
pub mod http;
pub mod resilience;
pub mod supervisor;
pub mod telemetry;
pub mod testing;
