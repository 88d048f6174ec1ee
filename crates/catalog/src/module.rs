//! Start-up (being written).
