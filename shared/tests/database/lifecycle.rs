//! The task status lifecycle lives in the database (migrations 0005 and 0010); these tests hold
//! it to the transition table docs/api.md documents, every move a step's change derives to that
//! table, and the constraint names to `db::CONSTRAINTS`.

use shared::db::{CONSTRAINTS, Violation};
use shared::tasks::TaskStatus::{self, *};
use sqlx::PgPool;
use uuid::Uuid;

/// The table docs/api.md documents: the changes allowed besides staying in the same status.
const ALLOWED: &[(TaskStatus, TaskStatus)] = &[
    (Pending, InProgress),
    (Pending, Completed),
    (Pending, Cancelled),
    (InProgress, Pending),
    (InProgress, Completed),
    (InProgress, Failed),
    (InProgress, Cancelled),
    (Failed, Pending),
    (Failed, InProgress),
    (Failed, Completed),
    (Failed, Cancelled),
];

async fn owner(db: &PgPool) -> Uuid {
    sqlx::query_scalar(
        "insert into users (username, email, password_hash) values ('ada', 'ada@example.com', 'x') \
         returning id",
    )
    .fetch_one(db)
    .await
    .unwrap()
}

async fn task_in(db: &PgPool, owner: Uuid, status: TaskStatus) -> Uuid {
    sqlx::query_scalar(
        "insert into tasks (owner_id, title, status) values ($1, 't', $2) returning id",
    )
    .bind(owner)
    .bind(status)
    .fetch_one(db)
    .await
    .unwrap()
}

async fn set_status(db: &PgPool, task: Uuid, status: TaskStatus) -> Result<(), sqlx::Error> {
    sqlx::query("update tasks set status = $2 where id = $1")
        .bind(task)
        .bind(status)
        .execute(db)
        .await
        .map(drop)
}

#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn every_status_change_is_allowed_exactly_as_the_table_says(db: PgPool) {
    let owner = owner(&db).await;
    for from in TaskStatus::ALL {
        for to in TaskStatus::ALL {
            let task = task_in(&db, owner, from).await;

            let result = set_status(&db, task, to).await;

            let allowed = from == to || ALLOWED.contains(&(from, to));
            match result {
                Ok(()) => assert!(allowed, "{from:?} -> {to:?} was allowed"),
                Err(err) => {
                    assert!(!allowed, "{from:?} -> {to:?} was refused: {err}");
                    assert_eq!(
                        shared::db::violation(&err),
                        Some(Violation::Invalid {
                            field: "status",
                            message: match CONSTRAINTS
                                .iter()
                                .find(|(name, _)| *name == "tasks_status_transition")
                                .map(|(_, v)| *v)
                            {
                                Some(Violation::Invalid { message, .. }) => message,
                                other => panic!("unexpected entry {other:?}"),
                            },
                        })
                    );
                }
            }
        }
    }
}

#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn timestamps_follow_the_status(db: PgPool) {
    let owner = owner(&db).await;
    let stamps = |task: Uuid| {
        let db = db.clone();
        async move {
            let (started, completed): (
                Option<chrono::DateTime<chrono::Utc>>,
                Option<chrono::DateTime<chrono::Utc>>,
            ) = sqlx::query_as("select started_at, completed_at from tasks where id = $1")
                .bind(task)
                .fetch_one(&db)
                .await
                .unwrap();
            (started.is_some(), completed.is_some())
        }
    };
    let task = task_in(&db, owner, Pending).await;
    assert_eq!(stamps(task).await, (false, false));

    set_status(&db, task, InProgress).await.unwrap();
    assert_eq!(stamps(task).await, (true, false));
    set_status(&db, task, Failed).await.unwrap();
    assert_eq!(stamps(task).await, (true, true));
    set_status(&db, task, Pending).await.unwrap();
    assert_eq!(stamps(task).await, (false, false));
    set_status(&db, task, Completed).await.unwrap();
    assert_eq!(stamps(task).await, (true, true));

    let created_done = task_in(&db, owner, Completed).await;
    assert_eq!(stamps(created_done).await, (true, true));
    let created_cancelled = task_in(&db, owner, Cancelled).await;
    assert_eq!(stamps(created_cancelled).await, (false, true));
}

#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn every_mapped_constraint_exists_and_none_has_a_generated_name(db: PgPool) {
    let names: Vec<String> = sqlx::query_scalar(
        "select conname::text from pg_constraint c join pg_namespace n on n.oid = c.connamespace \
         where n.nspname = 'public' \
         union select indexname::text from pg_indexes where schemaname = 'public' \
         union select tgrelid::regclass::text || '_status_transition' from pg_trigger \
               where tgname like '%status_lifecycle' \
         union select (regexp_matches(prosrc, 'constraint = ''([a-z_]+)''', 'g'))[1] \
               from pg_proc where pronamespace = 'public'::regnamespace",
    )
    .fetch_all(&db)
    .await
    .unwrap();

    for (name, _) in CONSTRAINTS {
        assert!(
            names.iter().any(|n| n == name),
            "{name} is not in the schema"
        );
    }
    let generated: Vec<&String> = names
        .iter()
        .filter(|name| !name.starts_with("_sqlx"))
        .filter(|name| {
            ["_pkey", "_fkey", "_key", "_check", "_excl"]
                .iter()
                .any(|suffix| name.ends_with(suffix))
        })
        .collect();
    assert!(generated.is_empty(), "generated names: {generated:?}");
}

#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn the_audit_list_is_served_by_its_index(db: PgPool) {
    let actor = owner(&db).await;
    sqlx::query(
        "insert into users (username, email, password_hash) \
         select 'user' || i, 'user' || i || '@example.com', 'x' from generate_series(1, 50) i",
    )
    .execute(&db)
    .await
    .unwrap();
    sqlx::query(
        "insert into audit_logs (actor_id, action, entity_type, created_at) \
         select (select id from users order by random() limit 1), 'task.update', 'task', \
                now() - i * interval '1 second' \
         from generate_series(1, 20000) i",
    )
    .execute(&db)
    .await
    .unwrap();
    sqlx::query("analyze audit_logs")
        .execute(&db)
        .await
        .unwrap();

    let plan: Vec<String> = sqlx::query_scalar(
        "explain select id, actor_id, action, entity_type, entity_id, metadata, created_at \
         from audit_logs where actor_id = $1 \
           and ($2::text is null or entity_type = $2) and ($3::uuid is null or entity_id = $3) \
           and ($4::text is null or action = $4) \
           and ($5::timestamptz is null or (created_at, id) < ($5, $6)) \
         order by created_at desc, id desc limit 21",
    )
    .bind(actor)
    .bind(None::<String>)
    .bind(None::<Uuid>)
    .bind(None::<String>)
    .bind(None::<chrono::DateTime<chrono::Utc>>)
    .bind(None::<i64>)
    .fetch_all(&db)
    .await
    .unwrap();

    let plan = plan.join("\n");
    assert!(plan.contains("audit_logs_actor_page_idx"), "{plan}");
    assert!(!plan.contains("Sort"), "the index gives the order: {plan}");
}

#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn a_task_cannot_hold_more_than_one_response_can_carry(db: PgPool) {
    let owner = owner(&db).await;
    let task = task_in(&db, owner, Pending).await;
    // A quote is two bytes in stored JSON and four once a response envelope escapes it again:
    // about 43 steps of 30,000 quotes fill the 5 MiB a task may hold.
    let quotes = serde_json::json!({ "q": "\"".repeat(30_000) });
    let mut failure = None;
    for position in 0..60 {
        let inserted = sqlx::query(
            "insert into task_steps (task_id, position, name, input) values ($1, $2, 's', $3)",
        )
        .bind(task)
        .bind(position)
        .bind(&quotes)
        .execute(&db)
        .await;
        if let Err(err) = inserted {
            failure = Some((position, err));
            break;
        }
    }

    let (position, err) = failure.expect("the budget refused a step");
    assert!((38..48).contains(&position), "refused at step {position}");
    assert!(matches!(
        shared::db::violation(&err),
        Some(Violation::Invalid {
            field: "documents",
            ..
        })
    ));
    let total: i64 = sqlx::query_scalar("select task_documents_bytes($1)")
        .bind(task)
        .fetch_one(&db)
        .await
        .unwrap();
    assert!(total <= 5 * 1024 * 1024, "{total}");
}

/// Every move a step's change derives for its task (`task_status_after_step`): what docs/api.md
/// says, and always a move the transition table allows, so no step update is refused for what
/// the lifecycle itself chose.
#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn every_move_a_step_derives_is_documented_and_allowed(db: PgPool) {
    for task in [Pending, InProgress, Failed] {
        for step in TaskStatus::ALL {
            for (done, total) in [(0_i64, 1_i64), (1, 1), (0, 2), (1, 2), (2, 2)] {
                // The step itself is one of the `done` when it is completed.
                if (step == Completed && done == 0) || (step != Completed && done == total) {
                    continue;
                }
                let derived: String =
                    sqlx::query_scalar("select task_status_after_step($1, $2, $3, $4, false)")
                        .bind(task)
                        .bind(step)
                        .bind(done)
                        .bind(total)
                        .fetch_one(&db)
                        .await
                        .unwrap();
                let derived = TaskStatus::parse(&derived).unwrap();

                let expected = match (task, step) {
                    (InProgress, Failed) => Failed,
                    (_, Failed) => task,
                    _ if done == total => Completed,
                    (_, InProgress | Completed) => InProgress,
                    _ => task,
                };
                assert_eq!(
                    derived, expected,
                    "task {task:?}, step {step:?}, {done}/{total}"
                );
                assert!(
                    derived == task || ALLOWED.contains(&(task, derived)),
                    "task {task:?}, step {step:?}, {done}/{total}: {derived:?} is not allowed"
                );
            }
        }
    }
    // A task held under a live lease keeps its status whatever its steps do: its holder
    // completes or fails it.
    for step in [Failed, Completed] {
        let kept: String =
            sqlx::query_scalar("select task_status_after_step('in_progress', $1, 1, 1, true)")
                .bind(step)
                .fetch_one(&db)
                .await
                .unwrap();
        assert_eq!(kept, "in_progress", "a leased task, step {step:?}");
    }
    for task in [Completed, Cancelled] {
        let kept: String =
            sqlx::query_scalar("select task_status_after_step($1, 'failed', 0, 1, false)")
                .bind(task)
                .fetch_one(&db)
                .await
                .unwrap();
        assert_eq!(kept, task.as_str(), "a final task keeps its status");
    }
}
