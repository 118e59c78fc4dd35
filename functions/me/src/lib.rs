//! GET /api/users/me: the account behind the bearer token.

use lambda_http::Request;
use lambda_http::http::StatusCode;
use shared::auth::authenticate;
use shared::http::{self, ApiResult};

pub use shared::state::Api as State;

pub async fn handle(state: &State, request: Request) -> ApiResult {
    let user = authenticate(&request, &state.keys, &state.db).await?;
    http::json(StatusCode::OK, &user)
}

#[cfg(test)]
mod tests;
