//! GET /api/audit: the caller's own audit trail (events whose actor is the caller), newest first,
//! keyset-paged, optionally only one `entity_type`, `entity_id` or `action`. Unknown parameters
//! are a 400.

use lambda_http::Request;
use shared::audit::{AuditEntry, AuditFilter, store};
use shared::auth::authenticate_token;
use shared::http::{ApiResult, QueryParameters};
use shared::pagination::{PageRequest, Scope};

pub use shared::state::Api as State;

pub async fn handle(state: &State, request: Request) -> ApiResult {
    let caller = authenticate_token(&request, &state.keys).await?;
    let parameters = QueryParameters::parse(&request, AuditFilter::PARAMETERS)?;
    let filter = AuditFilter::parse(&parameters)?;
    let key = filter.key();
    let scope = Scope {
        listing: "audit",
        owner_id: caller.user_id,
        filter: Some(&key),
    };
    let page = PageRequest::parse(&parameters, &state.cursors, &scope)?;

    let rows = store::list_page(&state.db, caller, &filter, page.after, page.fetch()).await?;
    state
        .page_response(caller, &page, rows, &scope, AuditEntry::position)
        .await
}

#[cfg(test)]
mod tests;
