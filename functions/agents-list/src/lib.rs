//! GET /api/agents: the caller's agents, newest first, `limit` (1-100, default 20) at a time,
//! keyset-paged with an opaque `cursor`. A page may hold fewer items than `limit` when its
//! response would otherwise pass Lambda's size limit; `next_cursor` then continues it.

use lambda_http::Request;
use shared::agents::{Agent, store};
use shared::auth::authenticate_token;
use shared::http::{ApiResult, QueryParameters};
use shared::pagination::{PageRequest, Position, Scope};

pub use shared::state::Api as State;

pub async fn handle(state: &State, request: Request) -> ApiResult {
    let caller = authenticate_token(&request, &state.keys).await?;
    let parameters = QueryParameters::parse(&request, &["limit", "cursor"])?;
    let scope = Scope {
        listing: "agents",
        owner_id: caller.user_id,
        filter: None,
    };
    let page = PageRequest::parse(&parameters, &state.cursors, &scope)?;

    let rows = store::list_page(&state.db, caller, page.after, page.fetch()).await?;
    let position = |agent: &Agent| Position {
        created_at: agent.created_at,
        id: agent.id,
    };
    state
        .page_response(caller, &page, rows, &scope, position)
        .await
}

#[cfg(test)]
mod tests;
