//! The answers that depend on whether the caller's session stands, for the functions that act
//! for a signed-in caller (`state::Api`): a page of a listing, the outcome of a conditional
//! write, a conditional delete. An empty page or a write that touched nothing proves nothing
//! about the session, so only then is it checked (a second statement).

use std::future::Future;

use lambda_http::Request;
use lambda_http::http::StatusCode;
use serde_json::Value;
use uuid::Uuid;

use crate::audit;
use crate::auth::{Caller, authenticate_token, ensure_session_live, not_found};
use crate::db::StoreError;
use crate::error::ApiError;
use crate::http::etag::IfMatch;
use crate::http::{self, ApiResult};
use crate::pagination::{PageRequest, Position, Scope};
use crate::state::Api;
use crate::written::Written;

impl Api {
    /// The page response of a listing: `rows` fetched with `page.fetch()` become a page bounded
    /// by count and bytes. An empty page proves nothing, so only then is the caller's session
    /// checked (a second statement).
    pub async fn page_response<T: serde::Serialize>(
        &self,
        caller: Caller,
        page: &PageRequest,
        rows: Vec<T>,
        scope: &Scope<'_>,
        position: impl Fn(&T) -> Position,
    ) -> ApiResult {
        if rows.is_empty() {
            ensure_session_live(&self.db, caller).await?;
        }
        let page = page.page(
            rows,
            &self.cursors,
            scope,
            self.http.response_budget,
            position,
        )?;
        http::json(StatusCode::OK, &page)
    }

    /// The answer to a conditional write: `done` with what was written, 412 when the version
    /// was stale, or the 404 (or 401 of an ended session) of a missing row.
    pub async fn written_response<T>(
        &self,
        caller: Caller,
        written: Written<T>,
        done: impl FnOnce(T) -> ApiResult,
    ) -> ApiResult {
        match written {
            Written::Done(value) => done(value),
            Written::Stale => Err(ApiError::PreconditionFailed),
            Written::Missing => Err(not_found(&self.db, caller).await),
        }
    }

    /// `DELETE` of the caller's resource `{id}`, guarded by `If-Match`: `delete` is its store
    /// operation (one statement with its audit row); 204, 412 for a stale version, or the 404
    /// (401 of an ended session) of a missing one.
    pub async fn delete_response<Fut>(
        &self,
        request: &Request,
        entity: &'static str,
        delete: impl FnOnce(Caller, Uuid, Option<Vec<i64>>, Value) -> Fut,
    ) -> ApiResult
    where
        Fut: Future<Output = Result<Written<()>, StoreError>>,
    {
        let caller = authenticate_token(request, &self.keys).await?;
        let id = http::path_id(request, "id")?;
        let versions = IfMatch::from_request(request)?
            .versions()
            .map(<[i64]>::to_vec);
        let written = delete(caller, id, versions, audit::request_metadata(request)).await?;
        self.written_response(caller, written, |()| {
            tracing::info!(entity, %id, user_id = %caller.user_id, "deleted");
            http::no_content()
        })
        .await
    }
}
