//! The Bearer guard every protected handler calls first.

use lambda_http::Request;
use lambda_http::http::header;

use crate::auth::token::TokenKeys;
use crate::db::Db;
use crate::error::ApiError;
use crate::sessions;
use crate::users::{self, User};

use crate::agents::keys;
pub use crate::caller::{AgentCaller, Caller};
pub use crate::work::agent_key_refused;

/// The user behind the request's `Authorization: Bearer <token>`, in one statement that also
/// checks the token's session still stands; or a 401 with a `WWW-Authenticate: Bearer` challenge
/// (`error="invalid_token"` when a token was presented and refused, as RFC 6750 says).
pub async fn authenticate(request: &Request, keys: &TokenKeys, db: &Db) -> Result<User, ApiError> {
    let caller = authenticate_token(request, keys).await?;
    users::store::find_for_caller(db, caller)
        .await?
        .ok_or_else(|| session_ended(caller))
}

/// The caller of a valid bearer token, without asking the database. A handler that uses it
/// must still refuse a session that was revoked or expired, or a user that no longer exists:
/// its own statement checks `session_is_live` (so a row it finds proves the session stands), and
/// `ensure_session_live` or `not_found` settle the cases where it finds nothing. That saves a
/// round trip on every successful request.
pub async fn authenticate_token(request: &Request, keys: &TokenKeys) -> Result<Caller, ApiError> {
    let token = bearer_token(request)?;
    let claims = keys.verify_fresh(token).await.map_err(|err| {
        tracing::info!(reason = %err, "auth: token refused");
        invalid_token("the access token is invalid or expired")
    })?;
    Ok(Caller {
        user_id: claims.sub,
        session_id: claims.sid,
    })
}

/// `Ok` when the caller's session still stands, else the 401 of an ended session.
pub async fn ensure_session_live(db: &Db, caller: Caller) -> Result<(), ApiError> {
    if sessions::is_live(db, caller).await? {
        Ok(())
    } else {
        Err(session_ended(caller))
    }
}

/// The answer for a resource of the caller that was not found: 404, or the 401 of an ended
/// session (a second statement, on this failure path only).
pub async fn not_found(db: &Db, caller: Caller) -> ApiError {
    match ensure_session_live(db, caller).await {
        Ok(()) => ApiError::NotFound,
        Err(err) => err,
    }
}

/// The agent behind `Authorization: Bearer tak_...`: the hash of its key, which the agent's
/// statement checks (`agent_of_key`). A credential that is not shaped like a key is a 401 at
/// once; an unknown, expired or revoked key is a 401 from the statement.
pub fn authenticate_agent(request: &Request) -> Result<AgentCaller, ApiError> {
    let token = bearer_token(request)?;
    if !keys::is_agent_key(token) {
        return Err(agent_key_refused());
    }
    Ok(AgentCaller {
        key_hash: keys::hash(token),
    })
}

/// Who calls a route that a person or an agent may call (a step update).
#[derive(Debug, Clone, Copy)]
pub enum Actor {
    Person(Caller),
    Agent(AgentCaller),
}

/// A person's access token or an agent's key, told apart by the key's `tak_` prefix.
pub async fn authenticate_actor(request: &Request, keys: &TokenKeys) -> Result<Actor, ApiError> {
    if keys::is_agent_key(bearer_token(request)?) {
        return authenticate_agent(request).map(Actor::Agent);
    }
    authenticate_token(request, keys).await.map(Actor::Person)
}

/// The 401 for a valid token whose session was revoked, expired, or whose user is gone.
pub fn session_ended(caller: Caller) -> ApiError {
    tracing::info!(user_id = %caller.user_id, session_id = %caller.session_id, "auth: the token's session has ended");
    invalid_token("the session of this access token has ended (logged out, revoked or expired)")
}

fn invalid_token(detail: &'static str) -> ApiError {
    ApiError::Unauthorized {
        detail,
        invalid_token: true,
    }
}

/// The token of an `Authorization` header of the form `Bearer <token>`: the scheme in any
/// letter case, one or more spaces, then a token without whitespace.
fn bearer_token(request: &Request) -> Result<&str, ApiError> {
    let missing = ApiError::Unauthorized {
        detail: "this request needs an Authorization: Bearer <access token> header",
        invalid_token: false,
    };
    let Some(value) = request.headers().get(header::AUTHORIZATION) else {
        return Err(missing);
    };
    let value = value
        .to_str()
        .map_err(|_| invalid_token("the Authorization header is not readable"))?;
    let Some((scheme, token)) = value.trim().split_once(' ') else {
        return Err(missing);
    };
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(missing);
    }
    let token = token.trim_start_matches(' ');
    if token.is_empty() || token.contains(char::is_whitespace) {
        return Err(invalid_token("the bearer token is malformed"));
    }
    Ok(token)
}

#[cfg(test)]
mod tests {
    use super::*;
    use lambda_http::Body;

    fn with_authorization(value: Option<&str>) -> Request {
        let mut builder = lambda_http::http::Request::builder().uri("/api/users/me");
        if let Some(value) = value {
            builder = builder.header(header::AUTHORIZATION, value);
        }
        builder.body(Body::Empty).unwrap()
    }

    fn challenge(result: Result<&str, ApiError>) -> String {
        let response = result.unwrap_err().into_response();
        assert_eq!(response.status(), 401);
        response.headers()[header::WWW_AUTHENTICATE]
            .to_str()
            .unwrap()
            .to_owned()
    }

    #[test]
    fn reads_the_token_whatever_the_scheme_case_and_spacing() {
        for value in [
            "Bearer abc.def.ghi",
            "bearer abc.def.ghi",
            "BEARER   abc.def.ghi",
            "Bearer abc.def.ghi  ",
        ] {
            let request = with_authorization(Some(value));
            assert_eq!(bearer_token(&request).unwrap(), "abc.def.ghi", "{value:?}");
        }
    }

    #[test]
    fn missing_header_or_other_scheme_asks_for_a_bearer_token() {
        for value in [
            None,
            Some("Basic dXNlcjpwYXNz"),
            Some("Token abc"),
            Some("Bearer"),
            Some("abc.def.ghi"),
        ] {
            let request = with_authorization(value);
            assert_eq!(challenge(bearer_token(&request)), "Bearer", "{value:?}");
        }
    }

    #[test]
    fn an_empty_or_broken_token_is_refused() {
        let empty = with_authorization(Some("Bearer  "));
        assert_eq!(challenge(bearer_token(&empty)), "Bearer");
        let broken = with_authorization(Some("Bearer a b"));
        assert_eq!(
            challenge(bearer_token(&broken)),
            r#"Bearer error="invalid_token""#
        );
    }
}
