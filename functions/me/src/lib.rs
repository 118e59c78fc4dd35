//! GET /api/users/me: the account behind the bearer token.

use lambda_http::Request;
use lambda_http::http::StatusCode;
use shared::AppState;
use shared::auth::{TokenKeys, authenticate};
use shared::http::{self, ApiResult};

pub async fn handle(state: &AppState, keys: &TokenKeys, request: Request) -> ApiResult {
    let user = authenticate(&request, keys, &state.db).await?;
    http::json(StatusCode::OK, &user)
}

#[cfg(test)]
mod tests;
