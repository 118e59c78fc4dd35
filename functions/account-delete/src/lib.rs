//! DELETE /api/users/me: `{password}`, checked under the login throttle (403 when wrong). Deletes
//! the account with its tasks, agents and sessions; the audit rows stay, without their actor;
//! the username and email are free again.

use lambda_http::Request;
use shared::audit;
use shared::auth::throttle::verify_caller_password;
use shared::auth::{authenticate_token, session_ended};
use shared::http::{self, ApiResult};
use shared::users::{self, AccountDeletionRequest};

pub use shared::state::PasswordCheck as State;

pub async fn handle(state: &State, request: Request) -> ApiResult {
    let caller = authenticate_token(&request, &state.keys).await?;
    let body: AccountDeletionRequest = http::parse_json(&request, state.http.max_body_bytes)?;
    let password = body.parse()?;

    verify_caller_password(
        &state.db,
        caller,
        password,
        &request,
        &state.throttle,
        "user.delete",
    )
    .await?;
    let metadata = audit::request_metadata(&request);
    if !users::store::delete_account(&state.db, caller, &metadata).await? {
        return Err(session_ended(caller));
    }
    tracing::info!(user_id = %caller.user_id, "account deleted");
    http::no_content()
}

#[cfg(test)]
mod tests;
