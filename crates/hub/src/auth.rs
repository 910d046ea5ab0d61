//! Authentication extractors: handlers only ever see verified callers.
//!
//! Role extractors ([`AsResearcher`], [`AsAdmin`], [`AsAuditor`]) come before
//! the body extractor in a handler's arguments, and axum runs header
//! extractors before the body one, so a caller with the wrong role is refused
//! (403) before its body is read or parsed: it learns nothing about what the
//! route would accept, and costs the hub no parsing.
//!
//! Signed site requests are in [`crate::site_request`].

use crate::{ApiError, AppState, Role};
use axum::extract::FromRequestParts;
use axum::http::request::Parts;

/// A user who presented a valid bearer token.
#[derive(Debug, Clone)]
pub struct User {
    /// The user id from the users file.
    pub id: String,
    /// Their role.
    pub role: Role,
}

impl User {
    /// Refuses unless the user has `role`.
    pub fn require(&self, role: Role) -> Result<(), ApiError> {
        if self.role == role {
            Ok(())
        } else {
            Err(ApiError::Forbidden)
        }
    }
}

impl FromRequestParts<AppState> for User {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let token =
            oncofed_service::tokens::bearer_token(&parts.headers).ok_or(ApiError::Unauthorized)?;
        let (id, role) = state
            .inner
            .config
            .users
            .authenticate(token)
            .ok_or(ApiError::Unauthorized)?;
        Ok(Self { id, role })
    }
}

/// Defines an extractor that admits only users of one role.
macro_rules! role_extractor {
    ($(#[$doc:meta])* $name:ident, $role:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone)]
        pub struct $name(pub User);

        impl FromRequestParts<AppState> for $name {
            type Rejection = ApiError;

            async fn from_request_parts(
                parts: &mut Parts,
                state: &AppState,
            ) -> Result<Self, ApiError> {
                let user = User::from_request_parts(parts, state).await?;
                user.require($role)?;
                Ok(Self(user))
            }
        }
    };
}

role_extractor!(
    /// A user with the researcher role; anyone else gets 403 before the body is read.
    AsResearcher,
    Role::Researcher
);
role_extractor!(
    /// A user with the admin role; anyone else gets 403 before the body is read.
    AsAdmin,
    Role::Admin
);
role_extractor!(
    /// A user with the auditor role; anyone else gets 403 before the body is read.
    AsAuditor,
    Role::Auditor
);
