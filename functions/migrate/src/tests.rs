use std::path::Path;
use std::time::Duration;

use aws_lc_rs::digest::{SHA384, digest};
use sqlx::PgPool;

use super::*;

/// (version, SHA-384 of the SQL) of every file in `migrations/`, as sqlx numbers and sums them.
fn files_on_disk() -> Vec<(i64, Vec<u8>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../migrations");
    let mut files: Vec<(i64, Vec<u8>)> = std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "sql"))
        .map(|path| {
            let name = path.file_name().unwrap().to_str().unwrap().to_owned();
            let version = name.split('_').next().unwrap().parse().unwrap();
            let sql = std::fs::read(&path).unwrap();
            (version, digest(&SHA384, &sql).as_ref().to_vec())
        })
        .collect();
    files.sort();
    files
}

#[test]
fn the_binary_embeds_exactly_the_migration_files_of_this_checkout() {
    let embedded: Vec<(i64, Vec<u8>)> = db::deploy_migrator()
        .iter()
        .map(|m| (m.version, m.checksum.to_vec()))
        .collect();

    assert_eq!(embedded, files_on_disk());
}

#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn an_older_release_deploys_after_a_newer_one_migrated(db: PgPool) {
    let newest = db::MIGRATOR.iter().map(|m| m.version).max().unwrap();
    sqlx::query(
        "insert into _sqlx_migrations (version, description, success, checksum, execution_time) \
         values ($1, 'from a newer release', true, '\\x00', 0)",
    )
    .bind(newest + 1)
    .execute(&db)
    .await
    .unwrap();

    let strict = db::MIGRATOR.run(&db).await;
    let applied = apply(
        db.connect_options().as_ref().clone(),
        DEFAULT_STATEMENT_TIMEOUT,
        None,
    )
    .await;

    assert!(
        strict.is_err(),
        "sqlx's default refuses an unknown applied migration"
    );
    assert_eq!(applied.unwrap(), 0);
}

#[sqlx::test(migrations = false)]
async fn migrations_run_under_their_own_statement_timeout(db: PgPool) {
    let pool = migration_pool(
        db.connect_options().as_ref().clone(),
        Duration::from_secs(240),
        DEFAULT_CONNECT_TIMEOUT,
    )
    .await
    .unwrap();

    let timeout: String = sqlx::query_scalar("show statement_timeout")
        .fetch_one(&pool)
        .await
        .unwrap();

    assert_eq!(timeout, "4min");
}

/// A role name of this test run: roles belong to the whole cluster, not to one test database.
fn role_name() -> String {
    format!("app_{}", uuid::Uuid::new_v4().simple())
}

#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn the_app_role_gets_dml_on_the_tables_and_nothing_more(db: PgPool) {
    let role = shared::config::AppRoleConfig {
        username: role_name(),
        password: "a-test-password-for-the-role".into(),
        statement_timeout: Duration::from_secs(7),
        audit_retention_days: None,
    };
    let connect = db.connect_options().as_ref().clone();

    // Twice: a second deploy finds the role and only refreshes it.
    apply(connect.clone(), DEFAULT_STATEMENT_TIMEOUT, Some(&role))
        .await
        .unwrap();
    apply(connect.clone(), DEFAULT_STATEMENT_TIMEOUT, Some(&role))
        .await
        .unwrap();

    let app = sqlx::postgres::PgPoolOptions::new()
        .max_connections(1)
        .connect_with(connect.username(&role.username))
        .await
        .unwrap();
    let user: uuid::Uuid = sqlx::query_scalar(
        "insert into users (username, email, password_hash) values ('ada', 'ada@example.com', 'x') \
         returning id",
    )
    .fetch_one(&app)
    .await
    .unwrap();
    sqlx::query(
        "insert into audit_logs (actor_id, action, entity_type) values ($1, 'user.test', 'user')",
    )
    .bind(user)
    .execute(&app)
    .await
    .unwrap();
    let timeout: String = sqlx::query_scalar("show statement_timeout")
        .fetch_one(&app)
        .await
        .unwrap();
    assert_eq!(timeout, "7s", "the role carries its statement timeout");
    let transitions: i64 = sqlx::query_scalar("select count(*) from task_status_transitions")
        .fetch_one(&app)
        .await
        .unwrap();
    assert!(transitions > 0);

    for forbidden in [
        "create table mine (id int)",
        "alter table users add column nickname text",
        "drop table audit_logs",
        "delete from _sqlx_migrations",
        "insert into task_status_transitions values ('completed', 'pending')",
        // The audit trail is append-only for the API.
        "update audit_logs set action = 'user.rewritten'",
        "delete from audit_logs",
        "truncate audit_logs",
        // Nor may it choose how much of it is pruned.
        "update audit_retention set days = 1",
    ] {
        let err = sqlx::raw_sql(forbidden).execute(&app).await.unwrap_err();
        assert_eq!(
            err.as_database_error().and_then(|e| e.code()).as_deref(),
            Some("42501"),
            "{forbidden}: {err}"
        );
    }

    // Deleting the account still keeps its audit rows, the actor set to null: the foreign key's
    // action runs as the table's owner, not as the app role.
    sqlx::query("delete from users where id = $1")
        .bind(user)
        .execute(&app)
        .await
        .unwrap();
    let orphaned: Option<uuid::Uuid> =
        sqlx::query_scalar("select actor_id from audit_logs where action = 'user.test'")
            .fetch_one(&db)
            .await
            .unwrap();
    assert_eq!(orphaned, None);

    // The server holds a SCRAM verifier, which migrate computed: the statement that set it never
    // carried the password itself.
    let stored: String = sqlx::query_scalar("select rolpassword from pg_authid where rolname = $1")
        .bind(&role.username)
        .fetch_one(&db)
        .await
        .unwrap();
    assert!(stored.starts_with("SCRAM-SHA-256$4096:"), "{stored}");
    assert!(!stored.contains("a-test-password-for-the-role"));

    // The one way the role deletes audit rows: prune_audit_logs, as far as the policy migrate
    // set allows. Without AUDIT_RETENTION_DAYS nothing goes, however old.
    sqlx::query("update audit_logs set created_at = now() - interval '40 days'")
        .execute(&db)
        .await
        .unwrap();
    let prune = || async {
        let pruned: i32 = sqlx::query_scalar("select prune_audit_logs(1000)")
            .fetch_one(&app)
            .await
            .unwrap();
        pruned
    };
    assert_eq!(prune().await, 0, "no policy keeps every row");
    let keep_50_days = shared::config::AppRoleConfig {
        audit_retention_days: Some(50),
        ..role.clone()
    };
    let connect = db.connect_options().as_ref().clone();
    apply(
        connect.clone(),
        DEFAULT_STATEMENT_TIMEOUT,
        Some(&keep_50_days),
    )
    .await
    .unwrap();
    assert_eq!(prune().await, 0, "rows younger than the policy stay");
    let keep_30_days = shared::config::AppRoleConfig {
        audit_retention_days: Some(30),
        ..role
    };
    apply(connect, DEFAULT_STATEMENT_TIMEOUT, Some(&keep_30_days))
        .await
        .unwrap();
    let before: i64 = sqlx::query_scalar("select count(*) from audit_logs")
        .fetch_one(&db)
        .await
        .unwrap();
    assert!(before > 0);
    assert_eq!(i64::from(prune().await), before, "rows past the policy go");
}
