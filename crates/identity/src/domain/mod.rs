//! Pure rules of identity: what a valid email, name and password are, how passwords are
//! hashed, how refresh tokens look, and how access tokens are signed.

pub(crate) mod email;
pub(crate) mod keys;
pub(crate) mod password;
pub(crate) mod profile;
pub(crate) mod refresh;
