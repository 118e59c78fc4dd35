//! GET /api/agents/{id}/keys: the keys of the caller's agent, newest first, keyset-paged like
//! every list (`limit`, `cursor`), with `prefix` and `last_used_at` and never a key itself. An
//! agent the caller does not have is a 404.

use lambda_http::Request;
use shared::agents::keys::AgentKey;
use shared::agents::store;
use shared::auth::{authenticate_token, not_found};
use shared::http::{self, ApiResult, QueryParameters};
use shared::pagination::{PageRequest, Position, Scope};

pub use shared::state::Api as State;

pub async fn handle(state: &State, request: Request) -> ApiResult {
    let caller = authenticate_token(&request, &state.keys).await?;
    let agent_id = http::path_id(&request, "id")?;
    let parameters = QueryParameters::parse(&request, &["limit", "cursor"])?;
    let filter = agent_id.to_string();
    let scope = Scope {
        listing: "agent_keys",
        owner_id: caller.user_id,
        filter: Some(&filter),
    };
    let page = PageRequest::parse(&parameters, &state.cursors, &scope)?;

    let rows = store::list_keys(&state.db, caller, agent_id, page.after, page.fetch()).await?;
    // An empty page proves nothing: no such agent (404), an ended session (401), or no keys.
    if rows.is_empty()
        && store::find_owned(&state.db, caller, agent_id)
            .await?
            .is_none()
    {
        return Err(not_found(&state.db, caller).await);
    }
    let position = |key: &AgentKey| Position {
        created_at: key.created_at,
        id: key.id,
    };
    state
        .page_response(caller, &page, rows, &scope, position)
        .await
}

#[cfg(test)]
mod tests;
