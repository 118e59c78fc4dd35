use std::time::{Duration, Instant};

use shared::Env;
use shared::config::{RetentionConfig, ThrottleConfig};
use shared::testing;
use sqlx::PgPool;
use uuid::Uuid;

use super::*;

const DAY: Duration = Duration::from_secs(24 * 60 * 60);

fn state(db: &PgPool) -> State {
    State {
        db: db.clone().into(),
        // Two rows per statement: every kind below needs more than one batch.
        retention: RetentionConfig {
            ended_sessions: 30 * DAY,
            batch_rows: 2,
        },
        throttle: ThrottleConfig::from_env(&Env::default()).unwrap(),
    }
}

async fn exec(db: &PgPool, sql: &str) {
    sqlx::raw_sql(sql).execute(db).await.unwrap();
}

async fn names(db: &PgPool, sql: &str) -> Vec<String> {
    let mut names: Vec<String> = sqlx::query_scalar(sql).fetch_all(db).await.unwrap();
    names.sort();
    names
}

/// A session named by its user agent, with a spent and a current refresh token.
async fn session(
    db: &PgPool,
    user: Uuid,
    name: &str,
    created: &str,
    expires: &str,
    revoked: Option<&str>,
) {
    let id: Uuid = sqlx::query_scalar(&format!(
        "insert into sessions (user_id, user_agent, created_at, expires_at, revoked_at, revoked_reason) \
         values ($1, $2, now() + interval '{created}', now() + interval '{expires}', \
                 case when $3 then now() + interval '{revoked}' end, case when $3 then 'logout' end) \
         returning id",
        revoked = revoked.unwrap_or("0 s"),
    ))
    .bind(user)
    .bind(name)
    .bind(revoked.is_some())
    .fetch_one(db)
    .await
    .unwrap();
    for used in [true, false] {
        sqlx::query(
            "insert into refresh_tokens (token_hash, session_id, used_at) \
             values (sha256(gen_random_uuid()::text::bytea), $1, case when $2 then now() end)",
        )
        .bind(id)
        .bind(used)
        .execute(db)
        .await
        .unwrap();
    }
}

#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn a_run_deletes_exactly_the_expired_rows_of_every_kind(db: PgPool) {
    let user = testing::create_user(&db, "ada", "correct horse battery staple").await;
    let u = user.id;
    session(&db, u, "live", "-1 hour", "7 days", None).await;
    session(
        &db,
        u,
        "revoked yesterday",
        "-2 days",
        "5 days",
        Some("-1 day"),
    )
    .await;
    session(
        &db,
        u,
        "revoked long ago",
        "-40 days",
        "-33 days",
        Some("-31 days"),
    )
    .await;
    session(&db, u, "expired yesterday", "-8 days", "-1 day", None).await;
    session(&db, u, "expired long ago", "-40 days", "-31 days", None).await;
    session(&db, u, "expired just within", "-36 days", "-29 days", None).await;
    exec(
        &db,
        &format!(
            "insert into login_throttles (subject, source_ip, failures, locked_until, updated_at) values \
               ('quiet', '192.0.2.1', 3, null, now() - interval '25 hours'), \
               ('lock over', '192.0.2.2', 9, now() - interval '1 hour', now() - interval '25 hours'), \
               ('recent', '192.0.2.3', 2, null, now() - interval '1 hour'), \
               ('still locked', '192.0.2.4', 9, now() + interval '5 minutes', now() - interval '25 hours'); \
             insert into login_name_failures (subject, failures, last_failed_at) values \
               ('login:old', 7, now() - interval '25 hours'), ('login:older', 7, now() - interval '9 days'), \
               ('login:recent', 7, now() - interval '1 hour'); \
             insert into login_address_budgets (source_ip, window_start, failures) values \
               ('192.0.2.1', now() - interval '20 minutes', 5), ('192.0.2.2', now() - interval '3 days', 5), \
               ('192.0.2.3', now() - interval '1 minute', 5); \
             insert into register_address_budgets (source_ip, window_start, attempts) values \
               ('192.0.2.1', now() - interval '2 hours', 5), ('192.0.2.2', now() - interval '70 minutes', 5), \
               ('192.0.2.3', now() - interval '1 minute', 5); \
             insert into login_known_addresses (user_id, source_ip, last_success_at) values \
               ('{u}', '192.0.2.1', now() - interval '31 days'), ('{u}', '192.0.2.2', now() - interval '90 days'), \
               ('{u}', '192.0.2.3', now() - interval '1 day'); \
             insert into audit_logs (action, entity_type, created_at) values \
               ('test.old', 'user', now() - interval '400 days'), ('test.old', 'user', now() - interval '31 days'), \
               ('test.old', 'user', now() - interval '40 days'), ('test.new', 'user', now() - interval '1 day');"
        ),
    )
    .await;

    let answer = run(&state(&db), Instant::now() + Duration::from_secs(60))
        .await
        .unwrap();

    assert_eq!(
        names(&db, "select user_agent from sessions").await,
        [
            "expired just within",
            "expired yesterday",
            "live",
            "revoked yesterday"
        ]
    );
    assert_eq!(
        names(
            &db,
            "select s.user_agent || case when t.used_at is null then '' else ' (spent)' end \
             from refresh_tokens t join sessions s on s.id = t.session_id"
        )
        .await,
        ["live", "live (spent)"],
        "an ended session's refresh tokens can never be used again"
    );
    assert_eq!(
        names(&db, "select subject from login_throttles").await,
        ["recent", "still locked"]
    );
    assert_eq!(
        names(&db, "select subject from login_name_failures").await,
        ["login:recent"]
    );
    assert_eq!(
        names(&db, "select host(source_ip) from login_address_budgets").await,
        ["192.0.2.3"]
    );
    assert_eq!(
        names(&db, "select host(source_ip) from register_address_budgets").await,
        ["192.0.2.3"]
    );
    assert_eq!(
        names(&db, "select host(source_ip) from login_known_addresses").await,
        ["192.0.2.3"]
    );
    // The audit trail keeps everything unless AUDIT_RETENTION_DAYS set a policy.
    assert_eq!(
        names(
            &db,
            "select action from audit_logs where action like 'test.%'"
        )
        .await,
        ["test.new", "test.old", "test.old", "test.old"]
    );
    let pruned = &answer["pruned"];
    assert_eq!(pruned["sessions"], 2);
    assert_eq!(pruned["refresh_tokens"], 10);
    assert_eq!(pruned["login_throttles"], 2);
    assert_eq!(pruned["login_name_failures"], 2);
    assert_eq!(pruned["login_address_budgets"], 2);
    assert_eq!(pruned["register_address_budgets"], 2);
    assert_eq!(pruned["login_known_addresses"], 2);
    assert_eq!(pruned["audit_logs"], 0);

    // With a 30-day policy (migrate sets it from AUDIT_RETENTION_DAYS), older rows go too.
    exec(&db, "update audit_retention set days = 30").await;
    let again = run(&state(&db), Instant::now() + Duration::from_secs(60))
        .await
        .unwrap();
    assert_eq!(
        names(
            &db,
            "select action from audit_logs where action like 'test.%'"
        )
        .await,
        ["test.new"]
    );
    assert_eq!(again["pruned"]["audit_logs"], 3);
    assert_eq!(
        again["pruned"]["sessions"], 0,
        "a second run finds nothing more"
    );
}

#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn a_run_past_its_deadline_stops_after_one_batch_of_each_kind(db: PgPool) {
    exec(
        &db,
        "insert into login_name_failures (subject, failures, last_failed_at) \
         select 'login:' || n, 1, now() - interval '2 days' from generate_series(1, 5) n",
    )
    .await;

    let answer = run(&state(&db), Instant::now()).await.unwrap();

    assert_eq!(answer["pruned"]["login_name_failures"], 2);
    let left: i64 = sqlx::query_scalar("select count(*) from login_name_failures")
        .fetch_one(&db)
        .await
        .unwrap();
    assert_eq!(left, 3, "the next run deletes the rest");
}

/// A task whose lease ended on its last attempt can never be claimed again: a run fails it, with
/// its audit row, and leaves a task with attempts left (or a live lease) to the queue.
#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn a_run_fails_the_tasks_whose_lease_ended_on_their_last_attempt(db: PgPool) {
    let user = testing::create_user(&db, "ada", "correct horse battery staple").await;
    let agent = testing::insert_agent(&db, user.id, "runner").await;
    for (title, attempt, lease) in [
        ("exhausted", 3, "-1 minute"),
        ("retryable", 2, "-1 minute"),
        ("working", 3, "1 minute"),
    ] {
        let task = testing::insert_task(&db, user.id, title, &[]).await;
        sqlx::query(
            "update tasks set status = 'in_progress', attempt = $2, lease_holder = $3, \
             fencing_token = nextval('task_fencing_tokens'), \
             lease_expires_at = now() + $4::interval where id = $1",
        )
        .bind(task.id)
        .bind(attempt)
        .bind(agent)
        .bind(lease)
        .execute(&db)
        .await
        .unwrap();
    }

    let answer = run(&state(&db), Instant::now() + Duration::from_secs(60))
        .await
        .unwrap();

    assert_eq!(answer["tasks_failed"], 1);
    assert_eq!(
        names(&db, "select title || ':' || status from tasks").await,
        [
            "exhausted:failed",
            "retryable:in_progress",
            "working:in_progress"
        ]
    );
    assert_eq!(
        testing::count(
            &db,
            "select count(*) from audit_logs where action = 'task.fail'"
        )
        .await,
        1
    );
}
