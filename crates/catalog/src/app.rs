//! Use cases (being written).

/// The catalog service.
#[derive(Debug)]
pub struct CatalogService;

/// Settings.
#[derive(Debug)]
pub struct CatalogSettings;
