use lambda_http::Body;
use shared::auth::Caller;
use shared::testing::{self, TestRequest};
use sqlx::PgPool;

use super::*;

async fn logout(state: &State, caller: Caller, query: &str) -> lambda_http::Response<Body> {
    let request = TestRequest::post("/api/auth/logout")
        .bearer(&testing::token_of(caller))
        .query(query)
        .build();
    http::respond(handle(state, request).await)
}

async fn live(db: &PgPool, caller: Caller) -> bool {
    shared::sessions::is_live(db, caller).await.unwrap()
}

struct Sessions {
    this: Caller,
    other: Caller,
    someone_else: Caller,
}

async fn sessions(db: &PgPool) -> Sessions {
    let ada = testing::create_user(db, "ada", "correct horse battery staple").await;
    let grace = testing::create_user(db, "grace", "correct horse battery staple").await;
    Sessions {
        this: testing::open_session(db, ada.id).await,
        other: testing::open_session(db, ada.id).await,
        someone_else: testing::open_session(db, grace.id).await,
    }
}

#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn local_logout_ends_this_session_and_its_tokens_at_once(db: PgPool) {
    let state = testing::api_state(db.clone());
    let s = sessions(&db).await;

    assert_eq!(logout(&state, s.this, "").await.status(), 204);

    assert!(!live(&db, s.this).await);
    assert!(live(&db, s.other).await && live(&db, s.someone_else).await);
    let found = shared::users::store::find_for_caller(&db, s.this)
        .await
        .unwrap();
    assert!(
        found.is_none(),
        "the access token is refused in the same statement"
    );
    assert_eq!(
        logout(&state, s.this, "").await.status(),
        401,
        "a second logout"
    );
}

#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn global_ends_every_session_of_the_user_and_others_all_but_this_one(db: PgPool) {
    let state = testing::api_state(db.clone());
    let s = sessions(&db).await;

    assert_eq!(logout(&state, s.this, "scope=others").await.status(), 204);
    assert!(live(&db, s.this).await && !live(&db, s.other).await);

    assert_eq!(logout(&state, s.this, "scope=global").await.status(), 204);
    assert!(!live(&db, s.this).await);
    assert!(
        live(&db, s.someone_else).await,
        "another user's session stands"
    );
    let reasons: Vec<String> = sqlx::query_scalar(
        "select revoked_reason from sessions where revoked_at is not null order by revoked_at",
    )
    .fetch_all(&db)
    .await
    .unwrap();
    assert_eq!(reasons, ["logout_others", "logout_global"]);
}

#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn a_bad_scope_is_400_and_no_token_401(db: PgPool) {
    let state = testing::api_state(db.clone());
    let s = sessions(&db).await;

    assert_eq!(
        logout(&state, s.this, "scope=everything").await.status(),
        400
    );
    assert_eq!(
        logout(&state, s.this, "scope=local&scope=global")
            .await
            .status(),
        400
    );
    assert_eq!(logout(&state, s.this, "colour=red").await.status(), 400);
    let anonymous = TestRequest::post("/api/auth/logout").build();
    assert_eq!(http::respond(handle(&state, anonymous).await).status(), 401);
    assert!(live(&db, s.this).await);
}
