//! Generated gRPC code for Innkeeper's service contracts (the `.proto` files in `proto/` at the
//! workspace root). Nothing here is written by hand.
//!
//! Only adapter code (a service's `grpc` module, the platform's gRPC helpers) uses these types;
//! the kernel and the services' api, domain and app layers never see protobuf.

#![allow(missing_docs, clippy::all, clippy::pedantic)]

/// The generated packages, nested as protobuf packages are so cross-package references resolve.
mod generated {
    pub mod innkeeper {
        pub mod common {
            pub mod v1 {
                tonic::include_proto!("innkeeper.common.v1");
            }
        }
        pub mod catalog {
            pub mod v1 {
                tonic::include_proto!("innkeeper.catalog.v1");
            }
        }
    }
}

/// `innkeeper.common.v1`: value types shared by every contract (money, points, stays).
pub use generated::innkeeper::common;

/// `innkeeper.catalog.v1`: the catalog service.
pub use generated::innkeeper::catalog;

/// The encoded `FileDescriptorSet` of every contract, for gRPC server reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] = tonic::include_file_descriptor_set!("innkeeper_descriptor");
