//! PUT /api/users/me/password: `{current_password, new_password}`. The current password is
//! checked under the login throttle (403 when wrong); the new one must pass the registration
//! policy. Every other session of the account ends; this one goes on. Audited.

use lambda_http::Request;
use shared::audit;
use shared::auth::password::hash_password;
use shared::auth::throttle::verify_caller_password;
use shared::auth::{authenticate_token, session_ended};
use shared::http::{self, ApiResult};
use shared::sessions::Origin;
use shared::users::{self, Email, NewPassword, PasswordChange};
use shared::{ApiError, FieldErrors};

pub use shared::state::PasswordCheck as State;

pub async fn handle(state: &State, request: Request) -> ApiResult {
    let caller = authenticate_token(&request, &state.keys).await?;
    let change = PasswordChange::parse(http::parse_json(&request, state.http.max_body_bytes)?)?;

    let account = verify_caller_password(
        &state.db,
        caller,
        change.current,
        &request,
        &state.throttle,
        "user.password_change",
    )
    .await?;
    let email = Email::parse(&account.email).ok();
    let new = NewPassword::parse(
        secrecy::ExposeSecret::expose_secret(&change.new),
        Some(&account.username),
        email.as_ref(),
    )
    .map_err(|problems| {
        let mut errors = FieldErrors::new();
        for problem in problems {
            errors.add("new_password", problem);
        }
        ApiError::Unprocessable(errors)
    })?;
    let hash = hash_password(new.secret(), state.passwords.bcrypt_cost).await?;

    let metadata = audit::request_metadata(&request);
    let origin = Origin::of(&request);
    if !users::store::change_password(&state.db, caller, &hash, origin.ip(), &metadata).await? {
        return Err(session_ended(caller));
    }
    tracing::info!(user_id = %caller.user_id, "password changed; other sessions ended");
    http::no_content()
}

#[cfg(test)]
mod tests;
