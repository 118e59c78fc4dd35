//! DELETE /api/agents/{id}/keys/{key_id}: revokes a key of the caller's agent, with its audit
//! row. An agent using it is refused from its next request on.

use lambda_http::Request;
use shared::agents::store;
use shared::audit;
use shared::auth::{authenticate_token, not_found};
use shared::http::{self, ApiResult};

pub use shared::state::Api as State;

pub async fn handle(state: &State, request: Request) -> ApiResult {
    let caller = authenticate_token(&request, &state.keys).await?;
    let agent_id = http::path_id(&request, "id")?;
    let key_id = http::path_id(&request, "key_id")?;

    let metadata = audit::request_metadata(&request);
    if !store::delete_key(&state.db, caller, agent_id, key_id, &metadata).await? {
        return Err(not_found(&state.db, caller).await);
    }
    tracing::info!(%agent_id, %key_id, "agent key revoked");
    http::no_content()
}

#[cfg(test)]
mod tests;
