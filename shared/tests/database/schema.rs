//! The data rules the schema itself enforces, whatever the Rust code does.

use shared::db::{StoreError, Violation};
use shared::tasks::TaskStatus;
use sqlx::PgPool;
use uuid::Uuid;

async fn insert_user(db: &PgPool, username: &str, email: &str) -> Result<Uuid, sqlx::Error> {
    sqlx::query_scalar(
        "insert into users (username, email, password_hash) values ($1, $2, 'x') returning id",
    )
    .bind(username)
    .bind(email)
    .fetch_one(db)
    .await
}

async fn insert_agent(db: &PgPool, owner: Uuid, name: &str) -> Uuid {
    sqlx::query_scalar("insert into agents (owner_id, name) values ($1, $2) returning id")
        .bind(owner)
        .bind(name)
        .fetch_one(db)
        .await
        .unwrap()
}

async fn insert_task(db: &PgPool, owner: Uuid, agent: Option<Uuid>) -> Result<Uuid, sqlx::Error> {
    sqlx::query_scalar(
        "insert into tasks (owner_id, agent_id, title) values ($1, $2, 'a task') returning id",
    )
    .bind(owner)
    .bind(agent)
    .fetch_one(db)
    .await
}

fn constraint(err: &sqlx::Error) -> Option<&str> {
    err.as_database_error().and_then(|e| e.constraint())
}

async fn count(db: &PgPool, sql: &'static str, id: Uuid) -> i64 {
    sqlx::query_scalar(sql)
        .bind(id)
        .fetch_one(db)
        .await
        .unwrap()
}

#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn usernames_are_unique_ignoring_case(db: PgPool) {
    insert_user(&db, "Ada.Lovelace", "ada@example.com")
        .await
        .unwrap();

    let err = insert_user(&db, "ada.LOVELACE", "other@example.com")
        .await
        .unwrap_err();

    assert_eq!(constraint(&err), Some("users_username_unique"));
    assert_eq!(
        shared::db::violation(&err),
        Some(Violation::Taken {
            field: "username",
            message: "is already taken"
        })
    );
}

#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn emails_are_unique_and_must_be_stored_lower_case(db: PgPool) {
    insert_user(&db, "ada", "ada@example.com").await.unwrap();

    let duplicate = insert_user(&db, "grace", "ada@example.com")
        .await
        .unwrap_err();
    assert_eq!(constraint(&duplicate), Some("users_email_unique"));
    assert!(matches!(
        shared::db::violation(&duplicate),
        Some(Violation::Taken { field: "email", .. })
    ));

    let upper = insert_user(&db, "grace", "Grace@Example.com")
        .await
        .unwrap_err();
    assert_eq!(constraint(&upper), Some("users_email_lower_case"));
}

#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn usernames_outside_the_allowed_form_are_refused(db: PgPool) {
    for bad in ["ab", "has space", "x".repeat(33).as_str(), "semi;colon"] {
        let err = insert_user(&db, bad, &format!("{}@example.com", Uuid::new_v4()))
            .await
            .unwrap_err();
        assert_eq!(constraint(&err), Some("users_username_format"), "{bad:?}");
    }
}

#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn updated_at_advances_on_update(db: PgPool) {
    let id = insert_user(&db, "ada", "ada@example.com").await.unwrap();
    let (created, before): (chrono::DateTime<chrono::Utc>, chrono::DateTime<chrono::Utc>) =
        sqlx::query_as("select created_at, updated_at from users where id = $1")
            .bind(id)
            .fetch_one(&db)
            .await
            .unwrap();

    sqlx::query("update users set email = 'ada@lovelace.org' where id = $1")
        .bind(id)
        .execute(&db)
        .await
        .unwrap();

    let (created_after, after): (chrono::DateTime<chrono::Utc>, chrono::DateTime<chrono::Utc>) =
        sqlx::query_as("select created_at, updated_at from users where id = $1")
            .bind(id)
            .fetch_one(&db)
            .await
            .unwrap();
    assert_eq!(created, created_after);
    assert!(after > before, "{after} should be later than {before}");
}

#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn task_status_and_priority_are_checked(db: PgPool) {
    let owner = insert_user(&db, "ada", "ada@example.com").await.unwrap();
    let task = insert_task(&db, owner, None).await.unwrap();

    let bad_status =
        sqlx::query("insert into tasks (owner_id, title, status) values ($1, 't', 'done')")
            .bind(owner)
            .execute(&db)
            .await
            .unwrap_err();
    assert_eq!(constraint(&bad_status), Some("tasks_status_valid"));
    // Changed to a name it does not know, a status is refused by the transition table first.
    let bad_change = sqlx::query("update tasks set status = 'done' where id = $1")
        .bind(task)
        .execute(&db)
        .await
        .unwrap_err();
    assert_eq!(constraint(&bad_change), Some("tasks_status_transition"));

    let bad_priority = sqlx::query("update tasks set priority = 101 where id = $1")
        .bind(task)
        .execute(&db)
        .await
        .unwrap_err();
    assert_eq!(constraint(&bad_priority), Some("tasks_priority_range"));

    let owner: Uuid = sqlx::query_scalar("select owner_id from tasks where id = $1")
        .bind(task)
        .fetch_one(&db)
        .await
        .unwrap();
    for status in TaskStatus::ALL {
        sqlx::query("insert into tasks (owner_id, title, status) values ($1, 't', $2)")
            .bind(owner)
            .bind(status)
            .execute(&db)
            .await
            .unwrap();
    }
}

#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn a_task_may_only_name_an_agent_of_its_owner(db: PgPool) {
    let ada = insert_user(&db, "ada", "ada@example.com").await.unwrap();
    let grace = insert_user(&db, "grace", "grace@example.com")
        .await
        .unwrap();
    let graces_agent = insert_agent(&db, grace, "runner").await;
    let adas_agent = insert_agent(&db, ada, "runner").await;

    let err = insert_task(&db, ada, Some(graces_agent)).await.unwrap_err();
    assert_eq!(constraint(&err), Some("tasks_agent_owned_by_owner"));

    insert_task(&db, ada, Some(adas_agent)).await.unwrap();
}

#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn deleting_an_agent_keeps_its_tasks_without_the_agent(db: PgPool) {
    let owner = insert_user(&db, "ada", "ada@example.com").await.unwrap();
    let agent = insert_agent(&db, owner, "runner").await;
    let task = insert_task(&db, owner, Some(agent)).await.unwrap();

    sqlx::query("delete from agents where id = $1")
        .bind(agent)
        .execute(&db)
        .await
        .unwrap();

    let agent_id: Option<Uuid> = sqlx::query_scalar("select agent_id from tasks where id = $1")
        .bind(task)
        .fetch_one(&db)
        .await
        .unwrap();
    assert_eq!(agent_id, None);
}

#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn agent_names_are_unique_per_owner_ignoring_case(db: PgPool) {
    let ada = insert_user(&db, "ada", "ada@example.com").await.unwrap();
    let grace = insert_user(&db, "grace", "grace@example.com")
        .await
        .unwrap();
    insert_agent(&db, ada, "Runner").await;
    insert_agent(&db, grace, "runner").await;

    let err = sqlx::query("insert into agents (owner_id, name) values ($1, 'RUNNER')")
        .bind(ada)
        .execute(&db)
        .await
        .unwrap_err();
    assert_eq!(constraint(&err), Some("agents_owner_name_unique"));
}

#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn step_positions_are_unique_within_a_task_and_steps_go_with_their_task(db: PgPool) {
    let owner = insert_user(&db, "ada", "ada@example.com").await.unwrap();
    let task = insert_task(&db, owner, None).await.unwrap();
    let other = insert_task(&db, owner, None).await.unwrap();
    let add_step = |task: Uuid, position: i32| {
        sqlx::query("insert into task_steps (task_id, position, name) values ($1, $2, 'step')")
            .bind(task)
            .bind(position)
            .execute(&db)
    };
    add_step(task, 0).await.unwrap();
    add_step(task, 1).await.unwrap();
    add_step(other, 0).await.unwrap();

    let err = add_step(task, 1).await.unwrap_err();
    assert_eq!(constraint(&err), Some("task_steps_position_unique"));

    let bad_status = sqlx::query(
        "insert into task_steps (task_id, position, name, status) values ($1, 9, 's', 'skipped')",
    )
    .bind(task)
    .execute(&db)
    .await
    .unwrap_err();
    assert_eq!(constraint(&bad_status), Some("task_steps_status_valid"));

    sqlx::query("delete from tasks where id = $1")
        .bind(task)
        .execute(&db)
        .await
        .unwrap();
    assert_eq!(
        count(
            &db,
            "select count(*) from task_steps where task_id = $1",
            task
        )
        .await,
        0
    );
    assert_eq!(
        count(
            &db,
            "select count(*) from task_steps where task_id = $1",
            other
        )
        .await,
        1
    );
}

#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn deleting_a_user_removes_their_data_but_keeps_the_audit_log(db: PgPool) {
    let owner = insert_user(&db, "ada", "ada@example.com").await.unwrap();
    let agent = insert_agent(&db, owner, "runner").await;
    let task = insert_task(&db, owner, Some(agent)).await.unwrap();
    sqlx::query(
        "insert into audit_logs (actor_id, action, entity_type, entity_id) values ($1, 'task.create', 'task', $2)",
    )
    .bind(owner)
    .bind(task)
    .execute(&db)
    .await
    .unwrap();

    sqlx::query("delete from users where id = $1")
        .bind(owner)
        .execute(&db)
        .await
        .unwrap();

    assert_eq!(
        count(&db, "select count(*) from tasks where id = $1", task).await,
        0
    );
    assert_eq!(
        count(&db, "select count(*) from agents where id = $1", agent).await,
        0
    );
    let (actor, entity): (Option<Uuid>, Option<Uuid>) =
        sqlx::query_as("select actor_id, entity_id from audit_logs where action = 'task.create'")
            .fetch_one(&db)
            .await
            .unwrap();
    assert_eq!(actor, None, "the actor link is cleared");
    assert_eq!(entity, Some(task), "the record of what happened stays");
}

#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn tasks_of_unknown_users_are_refused(db: PgPool) {
    let err = insert_task(&db, Uuid::new_v4(), None).await.unwrap_err();
    assert!(err.as_database_error().unwrap().is_foreign_key_violation());
}

#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn audit_actions_follow_the_entity_dot_verb_form(db: PgPool) {
    let err =
        sqlx::query("insert into audit_logs (action, entity_type) values ('Deleted!', 'task')")
            .execute(&db)
            .await
            .unwrap_err();
    assert_eq!(constraint(&err), Some("audit_logs_action_format"));
}

#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn text_the_database_cannot_store_becomes_a_400_not_a_500(db: PgPool) {
    let owner = insert_user(&db, "ada", "ada@example.com").await.unwrap();
    let in_text = sqlx::query("insert into tasks (owner_id, title) values ($1, $2)")
        .bind(owner)
        .bind("a\0b")
        .execute(&db)
        .await
        .unwrap_err();
    let in_json = sqlx::query("insert into tasks (owner_id, title, input) values ($1, 't', $2)")
        .bind(owner)
        .bind(serde_json::json!({"k": "a\u{0}b"}))
        .execute(&db)
        .await
        .unwrap_err();

    for err in [in_text, in_json] {
        let api = shared::ApiError::from(StoreError {
            operation: "tasks.create",
            source: err,
        });
        assert_eq!(api.status(), 400, "{api:?}");
    }
}
