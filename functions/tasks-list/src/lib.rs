//! GET /api/tasks: the caller's tasks, newest first, `limit` (1-100, default 20) at a time,
//! optionally only those of one `status`. Pages are keyset-paginated on (created_at, id) with
//! an opaque `cursor`, so tasks created while a client pages never shift the pages it has not
//! read yet: each older task appears exactly once.

mod cursor;

use lambda_http::http::StatusCode;
use lambda_http::{Request, RequestExt};
use serde_json::json;
use shared::auth::{TokenKeys, authenticate_token, ensure_user_exists};
use shared::http::{self, ApiResult};
use shared::models::{Task, TaskStatus};
use shared::tasks::status_names;
use shared::{ApiError, AppState};

pub use cursor::CursorKey;
use cursor::{Position, Scope};

pub const DEFAULT_LIMIT: i64 = 20;
pub const MAX_LIMIT: i64 = 100;

struct ListQuery {
    limit: i64,
    status: Option<TaskStatus>,
    cursor: Option<String>,
}

impl ListQuery {
    fn parse(request: &Request) -> Result<Self, ApiError> {
        let parameters = request.query_string_parameters();
        let mut query = Self {
            limit: DEFAULT_LIMIT,
            status: None,
            cursor: None,
        };
        for (name, _) in parameters.iter() {
            if !matches!(name, "limit" | "status" | "cursor") {
                return Err(ApiError::BadRequest(format!(
                    "unknown query parameter {name:?}; use limit, status and cursor"
                )));
            }
        }
        let single = |name: &str| -> Result<Option<&str>, ApiError> {
            match parameters.all(name).as_deref() {
                None | Some([]) => Ok(None),
                Some([value]) => Ok(Some(value)),
                Some(_) => Err(ApiError::BadRequest(format!(
                    "{name} is given more than once"
                ))),
            }
        };
        if let Some(raw) = single("limit")? {
            query.limit = raw
                .parse()
                .ok()
                .filter(|limit| (1..=MAX_LIMIT).contains(limit))
                .ok_or_else(|| {
                    ApiError::BadRequest(format!(
                        "limit must be a whole number from 1 to {MAX_LIMIT}"
                    ))
                })?;
        }
        if let Some(raw) = single("status")? {
            query.status = Some(TaskStatus::parse(raw).ok_or_else(|| {
                ApiError::BadRequest(format!("status must be one of {}", status_names()))
            })?);
        }
        query.cursor = single("cursor")?.map(str::to_owned);
        Ok(query)
    }
}

pub async fn handle(
    state: &AppState,
    keys: &TokenKeys,
    cursors: &CursorKey,
    request: Request,
) -> ApiResult {
    let user_id = authenticate_token(&request, keys)?;
    let query = ListQuery::parse(&request)?;
    let scope = Scope {
        owner_id: user_id,
        status: query.status.map(TaskStatus::as_str),
    };
    let after = match &query.cursor {
        None => None,
        Some(cursor) => Some(cursors.decode(cursor, &scope).ok_or_else(|| {
            ApiError::BadRequest(
                "cursor is not one this listing gave out; start again without it".into(),
            )
        })?),
    };

    let mut items: Vec<Task> = sqlx::query_as(
        "select * from tasks \
         where owner_id = $1 \
           and ($2::text is null or status = $2) \
           and ($3::timestamptz is null or (created_at, id) < ($3, $4)) \
         order by created_at desc, id desc \
         limit $5",
    )
    .bind(user_id)
    .bind(query.status)
    .bind(after.map(|p| p.created_at))
    .bind(after.map(|p| p.id))
    .bind(query.limit + 1)
    .fetch_all(&state.db)
    .await?;
    // A task proves its owner exists; only an empty page needs to ask.
    if items.is_empty() {
        ensure_user_exists(&state.db, user_id).await?;
    }

    let next_cursor = if items.len() as i64 > query.limit {
        items.truncate(query.limit as usize);
        items.last().map(|last| {
            cursors.encode(
                Position {
                    created_at: last.created_at,
                    id: last.id,
                },
                &scope,
            )
        })
    } else {
        None
    };
    http::json(
        StatusCode::OK,
        &json!({ "items": items, "next_cursor": next_cursor }),
    )
}

#[cfg(test)]
mod tests;
