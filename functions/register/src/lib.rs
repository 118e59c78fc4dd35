//! POST /api/users/register: validates the new account, hashes the password with bcrypt on a
//! blocking thread, and inserts the user and its audit row in one transaction. The database's
//! unique indexes decide who gets a contested username or email: one 201, the rest 409.

use lambda_http::Request;
use shared::audit::{self, AuditEvent};
use shared::auth::password::hash_password;
use shared::http::{self, ApiResult};
use shared::models::User;
use shared::validation::{NewUser, RegisterRequest};
use shared::{ApiError, AppState};

pub async fn handle(state: &AppState, request: Request) -> ApiResult {
    let body: RegisterRequest = http::parse_json(&request, state.http.max_body_bytes)?;
    let new_user = NewUser::parse(body)?;
    let password_hash = hash_password(new_user.password.secret(), state.bcrypt_cost).await?;

    let mut tx = state.db.begin().await?;
    let user: User = sqlx::query_as(
        "insert into users (username, email, password_hash) values ($1, $2, $3) \
         returning id, username, email, created_at, updated_at",
    )
    .bind(new_user.username.as_str())
    .bind(new_user.email.as_str())
    .bind(&password_hash)
    .fetch_one(&mut *tx)
    .await
    .map_err(|err| {
        let err = ApiError::from(err);
        if let ApiError::Conflict(fields) = &err {
            tracing::info!(?fields, "register: already taken");
        }
        err
    })?;
    audit::record(
        &mut *tx,
        AuditEvent::new("user.register", "user", Some(user.id))
            .by(user.id)
            .from_request(&request),
    )
    .await?;
    tx.commit().await?;

    tracing::info!(user_id = %user.id, "register: account created");
    http::created("/api/users/me", &user)
}

#[cfg(test)]
mod tests;
