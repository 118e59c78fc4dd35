//! POST /api/auth/login: a username or email and a password in; a session out, as an access
//! token and a refresh token.
//!
//! The attempt is charged to the login throttle (`shared::auth::throttle`) before the password is
//! checked, so no burst gets more guesses than the allowance. An unknown account and a wrong
//! password give the same 401, after the same bcrypt work (a dummy hash of the configured cost).
//! A hash of another cost is re-hashed at the next successful login. The session opens only if
//! the hash it checked is still the account's: a password change that commits meanwhile wins.

use lambda_http::Request;
use shared::audit::{self, AuditEvent};
use shared::auth::password::{cost_of, hash_password};
use shared::auth::session::token_response;
use shared::auth::throttle::{self, invalid_credentials};
use shared::http::{self, ApiResult};
use shared::metrics;
use shared::sessions::{self, Origin, RefreshToken};
use shared::users::Credentials;

pub use shared::state::PasswordCheck as State;

pub async fn handle(state: &State, request: Request) -> ApiResult {
    let credentials = Credentials::parse(http::parse_json(&request, state.http.max_body_bytes)?)?;
    let origin = Origin::of(&request);
    let cost = state.passwords.bcrypt_cost;
    let account =
        throttle::verify_login(&state.db, &credentials, &request, &state.throttle, cost).await?;

    let rehashed = match cost_of(&account.password_hash) {
        Some(current) if current == cost => None,
        _ => Some(hash_password(credentials.password, cost).await?),
    };
    let refresh = RefreshToken::generate()?;
    let metadata = audit::request_metadata(&request);
    let opened = sessions::open_after_login(
        &state.db,
        account.id,
        account.password_version,
        &origin,
        &refresh.hash,
        &state.sessions,
        &state.throttle,
        rehashed.as_deref(),
        &metadata,
    )
    .await?;
    // The password changed while this login checked the old one: as for a wrong password.
    let Some(opened) = opened else {
        let event = AuditEvent::new("auth.login_failure", "user", Some(account.id))
            .with("reason", "password_changed")
            .from_request(&request);
        audit::store::record(&state.db, event).await?;
        tracing::info!(outcome = "failure", reason = "password_changed", "login");
        metrics::login(metrics::Login::WrongPassword);
        return Err(invalid_credentials());
    };
    tracing::info!(outcome = "success", user_id = %account.id, session_id = %opened.session_id, rehashed = rehashed.is_some(), "login");
    metrics::login(metrics::Login::Success);
    token_response(&state.keys, &opened, &refresh)
}

#[cfg(test)]
mod tests;
