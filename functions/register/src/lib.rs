//! POST /api/users/register: validates the new account, charges the source address's hourly
//! budget (`REGISTER_ADDRESS_BUDGET`; 429 past it), hashes the password with bcrypt on a blocking
//! thread, and inserts the user with its audit row in one statement. The database's unique
//! indexes decide who gets a contested username or email: one 201, the rest 409. Two round trips:
//! the charge must come before the hash it pays for.

use lambda_http::Request;
use shared::ApiError;
use shared::audit;
use shared::auth::password::hash_password;
use shared::auth::throttle::charge_registration;
use shared::http::{self, ApiResult};
use shared::sessions::Origin;
use shared::users::{self, NewUser};

pub use shared::state::Signup as State;

pub async fn handle(state: &State, request: Request) -> ApiResult {
    let new_user = NewUser::parse(http::parse_json(&request, state.http.max_body_bytes)?)?;
    let origin = Origin::of(&request);
    if let Some(retry_after_secs) =
        charge_registration(&state.db, origin.ip(), &state.throttle).await?
    {
        tracing::info!(
            retry_after_secs,
            "register: the address's hourly budget is spent"
        );
        return Err(ApiError::TooManyRequests { retry_after_secs });
    }
    let hash = hash_password(new_user.password.secret(), state.passwords.bcrypt_cost).await?;

    let metadata = audit::request_metadata(&request);
    let user = users::store::create(&state.db, &new_user, &hash, &metadata)
        .await
        .map_err(|err| {
            let err = ApiError::from(err);
            if let ApiError::Conflict(fields) = &err {
                tracing::info!(?fields, "register: already taken");
            }
            err
        })?;

    tracing::info!(user_id = %user.id, "register: account created");
    shared::metrics::registration();
    http::created("/api/users/me", &user)
}

#[cfg(test)]
mod tests;
