use lambda_http::http::header;
use serde_json::{Value, json};
use shared::testing::{self, TestRequest, body_json};
use sqlx::PgPool;
use uuid::Uuid;

use super::*;

struct Queue {
    state: State,
    db: PgPool,
    owner: Uuid,
    agent: Uuid,
    key: String,
}

async fn queue(db: PgPool) -> Queue {
    let owner = testing::create_user(&db, "ada", "correct horse battery staple").await;
    let agent = testing::insert_agent(&db, owner.id, "runner").await;
    let key = testing::agent_key(&db, owner.id, agent).await;
    Queue {
        state: testing::work_state(db.clone()),
        db,
        owner: owner.id,
        agent,
        key,
    }
}

impl Queue {
    async fn claim_with(
        &self,
        key: &str,
        body: Option<Value>,
    ) -> lambda_http::Response<lambda_http::Body> {
        let mut request = TestRequest::post("/api/agent/claim").bearer(key);
        if let Some(body) = body {
            request = request.json(&body);
        }
        http::respond(handle(&self.state, request.build()).await)
    }

    async fn claim(&self) -> (u16, Value) {
        let response = self.claim_with(&self.key, None).await;
        let status = response.status().as_u16();
        let body = if status == 200 {
            body_json(&response)
        } else {
            Value::Null
        };
        (status, body)
    }

    async fn task(&self, title: &str, priority: i32) -> Uuid {
        let task = testing::insert_task(&self.db, self.owner, title, &["work"]).await;
        sqlx::query("update tasks set priority = $2 where id = $1")
            .bind(task.id)
            .bind(priority)
            .execute(&self.db)
            .await
            .unwrap();
        task.id
    }
}

#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn claims_take_the_most_urgent_then_the_oldest_and_lease_them(db: PgPool) {
    let q = queue(db).await;
    let old_low = q.task("old low", 1).await;
    let high = q.task("high", 9).await;
    let new_low = q.task("new low", 1).await;

    let mut order = Vec::new();
    let mut tokens = Vec::new();
    for _ in 0..3 {
        let (status, body) = q.claim().await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["status"], "in_progress");
        assert_eq!(body["attempt"], 1);
        assert_eq!(body["lease_holder"], q.agent.to_string());
        assert!(body["lease_expires_at"].is_string() && body["steps"].is_array());
        order.push(body["id"].as_str().unwrap().to_owned());
        tokens.push(body["fencing_token"].as_i64().unwrap());
    }

    assert_eq!(order, [high, old_low, new_low].map(|id| id.to_string()));
    assert!(
        tokens.windows(2).all(|pair| pair[0] < pair[1]),
        "{tokens:?}"
    );
    let empty = q.claim_with(&q.key, None).await;
    assert_eq!(empty.status(), 204);
    assert_eq!(empty.headers()[header::RETRY_AFTER], "5");
    assert_eq!(
        testing::count(
            &q.db,
            "select count(*) from audit_logs where action = 'task.claim'"
        )
        .await,
        3
    );
}

#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn an_agent_claims_only_its_owners_tasks_unassigned_or_its_own(db: PgPool) {
    let q = queue(db).await;
    let other_agent = testing::insert_agent(&q.db, q.owner, "other").await;
    let theirs = q.task("theirs", 9).await;
    sqlx::query("update tasks set agent_id = $2 where id = $1")
        .bind(theirs)
        .bind(other_agent)
        .execute(&q.db)
        .await
        .unwrap();
    let stranger = testing::create_user(&q.db, "bob", "correct horse battery staple").await;
    testing::insert_task(&q.db, stranger.id, "bobs", &[]).await;
    let mine = q.task("mine", 0).await;

    let (status, body) = q.claim().await;

    assert_eq!(
        (status, body["id"].as_str()),
        (200, Some(mine.to_string().as_str()))
    );
    assert_eq!(q.claim().await.0, 204);
}

#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn an_expired_lease_is_claimed_again_with_a_newer_token_until_attempts_run_out(db: PgPool) {
    let q = queue(db).await;
    let task = q.task("flaky", 0).await;
    let expire = || async {
        sqlx::query(
            "update tasks set lease_expires_at = now() - interval '1 second' where id = $1",
        )
        .bind(task)
        .execute(&q.db)
        .await
        .unwrap();
    };

    let first = q.claim().await.1;
    assert_eq!(q.claim().await.0, 204, "a live lease is not claimable");
    expire().await;
    let second = q.claim().await.1;
    expire().await;
    let third = q.claim().await.1;
    expire().await;

    assert_eq!(
        [&first, &second, &third].map(|b| b["attempt"].as_i64().unwrap()),
        [1, 2, 3]
    );
    assert!(second["fencing_token"].as_i64() > first["fencing_token"].as_i64());
    assert_eq!(q.claim().await.0, 204, "three attempts were the most");
    assert_eq!(
        testing::count(
            &q.db,
            "select count(*) from audit_logs where action = 'task.lease_expired'"
        )
        .await,
        2
    );
}

#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn a_retry_waits_for_its_backoff(db: PgPool) {
    let q = queue(db).await;
    let task = q.task("later", 0).await;
    sqlx::query("update tasks set not_before = now() + interval '1 hour' where id = $1")
        .bind(task)
        .execute(&q.db)
        .await
        .unwrap();
    assert_eq!(q.claim().await.0, 204);
    sqlx::query("update tasks set not_before = now() - interval '1 second' where id = $1")
        .bind(task)
        .execute(&q.db)
        .await
        .unwrap();
    assert_eq!(q.claim().await.0, 200);
}

#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn a_bad_revoked_or_inactive_key_is_401_and_claims_nothing(db: PgPool) {
    let q = queue(db).await;
    q.task("work", 0).await;
    let unknown = shared::agents::keys::MintedKey::generate().unwrap();

    assert_eq!(q.claim_with(unknown.expose(), None).await.status(), 401);
    assert_eq!(q.claim_with("not-a-key", None).await.status(), 401);
    assert_eq!(
        q.claim_with(&q.key, Some(json!({"lease_seconds": 0})))
            .await
            .status(),
        422
    );
    sqlx::query("update agents set is_active = false where id = $1")
        .bind(q.agent)
        .execute(&q.db)
        .await
        .unwrap();
    assert_eq!(q.claim_with(&q.key, None).await.status(), 401);
    sqlx::query("update agents set is_active = true")
        .execute(&q.db)
        .await
        .unwrap();
    sqlx::query("delete from agent_keys")
        .execute(&q.db)
        .await
        .unwrap();
    assert_eq!(q.claim_with(&q.key, None).await.status(), 401);
    assert_eq!(
        testing::count(&q.db, "select count(*) from tasks where status = 'pending'").await,
        1
    );
}

/// The claim reads the owner's open tasks in order through its index, however deep the queue:
/// an index scan and no sort.
#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn the_claim_is_an_index_scan_without_a_sort(db: PgPool) {
    let q = queue(db).await;
    sqlx::query(
        "insert into tasks (owner_id, title, priority) \
         select $1, 't' || n, n % 10 from generate_series(1, 20000) n",
    )
    .bind(q.owner)
    .execute(&q.db)
    .await
    .unwrap();
    sqlx::query("analyze tasks").execute(&q.db).await.unwrap();

    // The claim's own statement, as the store sends it.
    let statement = include_str!("../../../shared/src/work/claim.sql");
    let plan: Vec<String> = sqlx::query_scalar(&format!("explain {statement}"))
        .bind(&shared::agents::keys::hash(&q.key)[..])
        .bind(60.0_f64)
        .bind(json!({}))
        .fetch_all(&q.db)
        .await
        .unwrap();
    let plan = plan.join("\n");

    assert!(plan.contains("tasks_claim_idx"), "{plan}");
    assert!(!plan.contains("Sort"), "{plan}");
}
