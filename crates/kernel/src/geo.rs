//! Coordinates and great-circle distance.

use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// A WGS 84 coordinate.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct GeoPoint {
    /// Latitude in degrees, -90..=90.
    pub lat: f64,
    /// Longitude in degrees, -180..=180.
    pub lon: f64,
}

impl GeoPoint {
    /// A checked coordinate; `field` names it in errors.
    pub fn new(field: &str, lat: f64, lon: f64) -> Result<Self> {
        if !(-90.0..=90.0).contains(&lat) || !lat.is_finite() {
            return Err(Error::invalid_field(
                field,
                "latitude must be between -90 and 90",
            ));
        }
        if !(-180.0..=180.0).contains(&lon) || !lon.is_finite() {
            return Err(Error::invalid_field(
                field,
                "longitude must be between -180 and 180",
            ));
        }
        Ok(Self { lat, lon })
    }

    /// Parses `lat,lon`.
    pub fn parse(field: &str, s: &str) -> Result<Self> {
        let (lat, lon) = s
            .split_once(',')
            .ok_or_else(|| Error::invalid_field(field, "must be `lat,lon`"))?;
        let lat = lat
            .trim()
            .parse::<f64>()
            .map_err(|_| Error::invalid_field(field, "latitude is not a number"))?;
        let lon = lon
            .trim()
            .parse::<f64>()
            .map_err(|_| Error::invalid_field(field, "longitude is not a number"))?;
        Self::new(field, lat, lon)
    }

    /// Great-circle distance in kilometres (haversine).
    pub fn distance_km(&self, other: &GeoPoint) -> f64 {
        const EARTH_RADIUS_KM: f64 = 6371.0088;
        let (lat1, lat2) = (self.lat.to_radians(), other.lat.to_radians());
        let dlat = lat2 - lat1;
        let dlon = (other.lon - self.lon).to_radians();
        let a = (dlat / 2.0).sin().powi(2) + lat1.cos() * lat2.cos() * (dlon / 2.0).sin().powi(2);
        2.0 * EARTH_RADIUS_KM * a.sqrt().asin()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lisbon_to_porto_is_about_274_km() {
        let lisbon = GeoPoint::parse("near", "38.7223,-9.1393").expect("valid");
        let porto = GeoPoint::new("near", 41.1579, -8.6291).expect("valid");
        let d = lisbon.distance_km(&porto);
        assert!((270.0..280.0).contains(&d), "{d}");
        assert_eq!(lisbon.distance_km(&lisbon), 0.0);
    }

    #[test]
    fn out_of_range_coordinates_are_refused() {
        assert!(GeoPoint::new("near", 91.0, 0.0).is_err());
        assert!(GeoPoint::new("near", 0.0, -181.0).is_err());
        assert!(GeoPoint::new("near", f64::NAN, 0.0).is_err());
        assert!(GeoPoint::parse("near", "38.7").is_err());
    }
}
