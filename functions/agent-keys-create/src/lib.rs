//! POST /api/agents/{id}/keys: a new key of the caller's agent, with its audit row, in one
//! statement. The key (`tak_` and 256 random bits) is in this response only; the database keeps
//! its SHA-256. `expires_at` (optional, at most a year ahead) ends it.

use lambda_http::Request;
use lambda_http::http::StatusCode;
use serde_json::json;
use shared::agents::keys::{MintedKey, NewKey};
use shared::agents::store;
use shared::audit;
use shared::auth::{authenticate_token, not_found};
use shared::http::{self, ApiResult};

pub use shared::state::Api as State;

pub async fn handle(state: &State, request: Request) -> ApiResult {
    let caller = authenticate_token(&request, &state.keys).await?;
    let agent_id = http::path_id(&request, "id")?;
    let key = NewKey::parse(http::parse_json(&request, state.http.max_body_bytes)?)?;

    let minted = MintedKey::generate()?;
    let metadata = audit::request_metadata(&request);
    let Some(created) =
        store::create_key(&state.db, caller, agent_id, &key, &minted, &metadata).await?
    else {
        return Err(not_found(&state.db, caller).await);
    };

    tracing::info!(%agent_id, key_id = %created.id, prefix = %created.prefix, "agent key created");
    let mut response = http::json(
        StatusCode::CREATED,
        &json!({
            "id": created.id,
            "agent_id": created.agent_id,
            "name": created.name,
            "key": minted.expose(),
            "prefix": created.prefix,
            "expires_at": created.expires_at,
            "created_at": created.created_at,
        }),
    )?;
    let location = format!("/api/agents/{agent_id}/keys/{}", created.id);
    if let Ok(value) = location.parse() {
        response
            .headers_mut()
            .insert(lambda_http::http::header::LOCATION, value);
    }
    Ok(response)
}

#[cfg(test)]
mod tests;
