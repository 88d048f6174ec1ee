//! Conversions between the api types and their protobuf messages.
//!
//! Decoding a request names the offending field (`role`, `patch.notifications`), so a
//! malformed request fails with `validation_failed` as invalid input does in-process.

use innkeeper_kernel::{Error, Result, Role, UserId};
use innkeeper_proto::identity::v1 as pb;
use innkeeper_proto::wire::{At, Wire as _, required};
use time::OffsetDateTime;

use crate::api::{
    Jwk, JwkSet, NotificationPreferences, OpenIdConfiguration, ProfilePatch, RegisterRole,
    TokenPair, User,
};

/// An instant in its protobuf form (the shared conversion of `innkeeper_proto::wire`).
pub(crate) fn timestamp(at: OffsetDateTime) -> prost_types::Timestamp {
    at.to_proto()
}

/// The required instant `field`.
pub(crate) fn instant(
    field: &str,
    proto: Option<prost_types::Timestamp>,
) -> Result<OffsetDateTime> {
    required(&At::ROOT, field, proto)
}

pub(crate) fn role_to_proto(role: Role) -> pb::Role {
    match role {
        Role::Guest => pb::Role::Guest,
        Role::Hotelier => pb::Role::Hotelier,
        Role::Admin => pb::Role::Admin,
        Role::Service => pb::Role::Service,
    }
}

pub(crate) fn role_from_proto(field: &str, proto: i32) -> Result<Role> {
    match pb::Role::try_from(proto) {
        Ok(pb::Role::Guest) => Ok(Role::Guest),
        Ok(pb::Role::Hotelier) => Ok(Role::Hotelier),
        Ok(pb::Role::Admin) => Ok(Role::Admin),
        Ok(pb::Role::Service) => Ok(Role::Service),
        _ => Err(Error::invalid_field(
            field,
            "must be guest, hotelier, admin or service",
        )),
    }
}

pub(crate) fn register_role_to_proto(role: RegisterRole) -> pb::Role {
    role_to_proto(role.into())
}

pub(crate) fn register_role_from_proto(field: &str, proto: i32) -> Result<RegisterRole> {
    match pb::Role::try_from(proto) {
        Ok(pb::Role::Guest) => Ok(RegisterRole::Guest),
        Ok(pb::Role::Hotelier) => Ok(RegisterRole::Hotelier),
        _ => Err(Error::invalid_field(field, "must be guest or hotelier")),
    }
}

pub(crate) fn notifications_to_proto(n: NotificationPreferences) -> pb::NotificationPreferences {
    pb::NotificationPreferences {
        email: n.email,
        sms: n.sms,
        telegram: n.telegram,
        in_app: n.in_app,
    }
}

pub(crate) fn notifications_from_proto(n: pb::NotificationPreferences) -> NotificationPreferences {
    NotificationPreferences {
        email: n.email,
        sms: n.sms,
        telegram: n.telegram,
        in_app: n.in_app,
    }
}

pub(crate) fn user_to_proto(user: &User) -> pb::User {
    pb::User {
        id: user.id.to_string(),
        email: user.email.clone(),
        name: user.name.clone(),
        role: role_to_proto(user.role).into(),
        phone: user.phone.clone(),
        telegram_chat_id: user.telegram_chat_id.clone(),
        notifications: Some(notifications_to_proto(user.notifications)),
        version: user.version,
        created_at: Some(timestamp(user.created_at)),
        updated_at: Some(timestamp(user.updated_at)),
    }
}

pub(crate) fn user_from_proto(proto: pb::User) -> Result<User> {
    Ok(User {
        id: UserId::parse_field("id", &proto.id)?,
        email: proto.email,
        name: proto.name,
        role: role_from_proto("role", proto.role)?,
        phone: proto.phone,
        telegram_chat_id: proto.telegram_chat_id,
        notifications: notifications_from_proto(
            proto
                .notifications
                .ok_or_else(|| Error::invalid_field("notifications", "is required"))?,
        ),
        version: proto.version,
        created_at: instant("created_at", proto.created_at)?,
        updated_at: instant("updated_at", proto.updated_at)?,
    })
}

pub(crate) fn pair_to_proto(pair: TokenPair) -> pb::TokenPair {
    pb::TokenPair {
        access_token: pair.access_token,
        refresh_token: pair.refresh_token,
        token_type: pair.token_type,
        expires_in: pair.expires_in,
    }
}

pub(crate) fn pair_from_proto(proto: pb::TokenPair) -> TokenPair {
    TokenPair {
        access_token: proto.access_token,
        refresh_token: proto.refresh_token,
        token_type: proto.token_type,
        expires_in: proto.expires_in,
    }
}

pub(crate) fn patch_to_proto(patch: ProfilePatch) -> pb::ProfilePatch {
    pb::ProfilePatch {
        name: patch.name,
        phone: patch.phone,
        telegram_chat_id: patch.telegram_chat_id,
        notifications: patch.notifications.map(notifications_to_proto),
    }
}

pub(crate) fn patch_from_proto(proto: pb::ProfilePatch) -> ProfilePatch {
    ProfilePatch {
        name: proto.name,
        phone: proto.phone,
        telegram_chat_id: proto.telegram_chat_id,
        notifications: proto.notifications.map(notifications_from_proto),
    }
}

pub(crate) fn jwks_to_proto(set: JwkSet) -> pb::JwkSet {
    pb::JwkSet {
        keys: set
            .keys
            .into_iter()
            .map(|k| pb::Jwk {
                kty: k.kty,
                crv: k.crv,
                kid: k.kid,
                x: k.x,
                alg: k.alg,
                r#use: k.use_,
            })
            .collect(),
    }
}

pub(crate) fn jwks_from_proto(proto: pb::JwkSet) -> JwkSet {
    JwkSet {
        keys: proto
            .keys
            .into_iter()
            .map(|k| Jwk {
                kty: k.kty,
                crv: k.crv,
                kid: k.kid,
                x: k.x,
                alg: k.alg,
                use_: k.r#use,
            })
            .collect(),
    }
}

pub(crate) fn openid_to_proto(c: OpenIdConfiguration) -> pb::OpenIdConfiguration {
    pb::OpenIdConfiguration {
        issuer: c.issuer,
        jwks_uri: c.jwks_uri,
        token_endpoint: c.token_endpoint,
        id_token_signing_alg_values_supported: c.id_token_signing_alg_values_supported,
        token_endpoint_auth_methods_supported: c.token_endpoint_auth_methods_supported,
        grant_types_supported: c.grant_types_supported,
        response_types_supported: c.response_types_supported,
        subject_types_supported: c.subject_types_supported,
        claims_supported: c.claims_supported,
    }
}

pub(crate) fn openid_from_proto(p: pb::OpenIdConfiguration) -> OpenIdConfiguration {
    OpenIdConfiguration {
        issuer: p.issuer,
        jwks_uri: p.jwks_uri,
        token_endpoint: p.token_endpoint,
        id_token_signing_alg_values_supported: p.id_token_signing_alg_values_supported,
        token_endpoint_auth_methods_supported: p.token_endpoint_auth_methods_supported,
        grant_types_supported: p.grant_types_supported,
        response_types_supported: p.response_types_supported,
        subject_types_supported: p.subject_types_supported,
        claims_supported: p.claims_supported,
    }
}
