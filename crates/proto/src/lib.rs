//! Generated gRPC code for Innkeeper's service contracts (the `.proto` files in `proto/` at the
//! workspace root), and [`wire`]: the conversions of the kernel's values to and from their
//! protobuf form that every adapter shares (the only hand-written code here).
//!
//! Only adapter code (a service's `grpc` module, the platform's gRPC helpers) uses these types;
//! the kernel and the services' api, domain and app layers never see protobuf.

/// The generated packages, nested as protobuf packages are so cross-package references resolve.
#[allow(missing_docs, clippy::all, clippy::pedantic)]
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
        pub mod identity {
            pub mod v1 {
                tonic::include_proto!("innkeeper.identity.v1");
            }
        }
        pub mod booking {
            pub mod v1 {
                tonic::include_proto!("innkeeper.booking.v1");
            }
        }
        pub mod payment {
            pub mod v1 {
                tonic::include_proto!("innkeeper.payment.v1");
            }
        }
    }
}

/// `innkeeper.common.v1`: value types shared by every contract (money, points, stays).
pub use generated::innkeeper::common;

/// `innkeeper.catalog.v1`: the catalog service.
pub use generated::innkeeper::catalog;

/// `innkeeper.identity.v1`: the identity service.
pub use generated::innkeeper::identity;

/// `innkeeper.booking.v1`: the booking service.
pub use generated::innkeeper::booking;

/// `innkeeper.payment.v1`: the payment service.
pub use generated::innkeeper::payment;

pub mod wire;

/// The encoded `FileDescriptorSet` of every contract, for gRPC server reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] = tonic::include_file_descriptor_set!("innkeeper_descriptor");

#[cfg(test)]
mod tests {
    use prost::Message as _;

    #[test]
    fn the_descriptor_set_holds_every_contract_and_its_imports() {
        let set =
            prost_types::FileDescriptorSet::decode(super::FILE_DESCRIPTOR_SET).expect("decodes");
        let files: Vec<&str> = set.file.iter().map(|f| f.name()).collect();
        for name in [
            "innkeeper/catalog/v1/catalog.proto",
            "innkeeper/common/v1/types.proto",
            "innkeeper/identity/v1/identity.proto",
            "innkeeper/booking/v1/booking.proto",
            "innkeeper/payment/v1/payment.proto",
            "google/protobuf/timestamp.proto",
        ] {
            assert!(files.contains(&name), "{name} missing from {files:?}");
        }
        let catalog = set
            .file
            .iter()
            .find(|f| f.package() == "innkeeper.catalog.v1")
            .expect("catalog");
        assert_eq!(catalog.service[0].name(), "CatalogService");
        assert_eq!(catalog.service[0].method.len(), 19);
        let booking = set
            .file
            .iter()
            .find(|f| f.package() == "innkeeper.booking.v1")
            .expect("booking");
        assert_eq!(booking.service[0].name(), "BookingService");
        // One RPC per method of `BookingApi`.
        assert_eq!(booking.service[0].method.len(), 11);
        let payment = set
            .file
            .iter()
            .find(|f| f.package() == "innkeeper.payment.v1")
            .expect("payment");
        assert_eq!(payment.service[0].name(), "PaymentService");
        // One RPC per method of `PaymentApi`.
        assert_eq!(payment.service[0].method.len(), 5);
    }
}
