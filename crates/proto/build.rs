//! Generates the Rust code for Innkeeper's gRPC contracts in `proto/` at the workspace root.
//!
//! protoc comes from `protoc-bin-vendored`, so building needs no system protobuf compiler; the
//! file descriptor set is written beside the code for gRPC server reflection.

use std::path::PathBuf;

/// The contracts to compile; their imports are found under the same root.
const PROTOS: &[&str] = &[
    "innkeeper/common/v1/types.proto",
    "innkeeper/catalog/v1/catalog.proto",
    "innkeeper/identity/v1/identity.proto",
    "innkeeper/booking/v1/booking.proto",
    "innkeeper/payment/v1/payment.proto",
];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let manifest_dir = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR")?);
    let proto_root = manifest_dir.join("../../proto");
    let out_dir = PathBuf::from(std::env::var("OUT_DIR")?);

    // A directory rerun marker covers every file under it, imports included.
    println!("cargo:rerun-if-changed={}", proto_root.display());

    let mut config = tonic_prost_build::Config::new();
    config.protoc_executable(protoc_bin_vendored::protoc_bin_path()?);

    let protos: Vec<PathBuf> = PROTOS.iter().map(|p| proto_root.join(p)).collect();
    // The vendored include path holds google/protobuf/*.proto (Timestamp).
    let includes = vec![proto_root.clone(), protoc_bin_vendored::include_path()?];

    tonic_prost_build::configure()
        .build_client(true)
        .build_server(true)
        .emit_rerun_if_changed(false)
        .file_descriptor_set_path(out_dir.join("innkeeper_descriptor.bin"))
        .compile_with_config(config, &protos, &includes)?;
    Ok(())
}
