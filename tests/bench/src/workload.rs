//! The data, the events each function gets, and the floors they are compared with.

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use shared::testing::TestRequest;
use sqlx::PgPool;
use uuid::Uuid;

pub const PASSWORD: &str = "violet rivers hum beneath lanterns";
pub const TASKS_PER_USER: i32 = 1000;

/// What the functions work on: a user with 1,000 tasks (one with 5 steps), and another whose
/// tasks the delete benchmark and its floor remove one by one.
pub struct Data {
    pub user: Uuid,
    pub token: String,
    pub fetched_task: Uuid,
    pub deleter: Uuid,
    pub deleter_token: String,
    pub doomed: Vec<Uuid>,
    pub run: String,
}

pub async fn seed(
    db: &PgPool,
    bcrypt_cost: u32,
    token_for: impl Fn(Uuid) -> String,
) -> Result<Data, sqlx::Error> {
    let hash = bcrypt::hash(PASSWORD, bcrypt_cost).expect("bcrypt hashes");
    let user: Uuid = sqlx::query_scalar(
        "insert into users (username, email, password_hash) values ('bench', 'bench@example.com', $1) returning id",
    )
    .bind(&hash)
    .fetch_one(db)
    .await?;
    let deleter: Uuid = sqlx::query_scalar(
        "insert into users (username, email, password_hash) values ('bench_deleter', 'deleter@example.com', $1) returning id",
    )
    .bind(&hash)
    .fetch_one(db)
    .await?;
    for owner in [user, deleter] {
        sqlx::query(
            "insert into tasks (owner_id, title, priority, input, created_at) \
             select $1, 'task ' || i, i % 101, jsonb_build_object('n', i), now() - i * interval '1 second' \
             from generate_series(1, $2 * 3) as i where $1 = $3 or i <= $2",
        )
        .bind(owner)
        .bind(TASKS_PER_USER)
        .bind(deleter)
        .execute(db)
        .await?;
    }
    let fetched_task: Uuid = sqlx::query_scalar(
        "select id from tasks where owner_id = $1 order by created_at desc limit 1 offset 10",
    )
    .bind(user)
    .fetch_one(db)
    .await?;
    sqlx::query(
        "insert into task_steps (task_id, position, name, input) \
         select $1, i - 1, 'step ' || i, jsonb_build_object('i', i) from generate_series(1, 5) as i",
    )
    .bind(fetched_task)
    .execute(db)
    .await?;
    let doomed = sqlx::query_scalar("select id from tasks where owner_id = $1 order by created_at")
        .bind(deleter)
        .fetch_all(db)
        .await?;
    sqlx::query("analyze").execute(db).await?;
    Ok(Data {
        user,
        token: token_for(user),
        fetched_task,
        deleter,
        deleter_token: token_for(deleter),
        doomed,
        run: format!("{:x}", Uuid::new_v4().as_u128() & 0xffff_ffff),
    })
}

/// The `i`-th event for a function, and the status a correct answer has.
pub fn event(function: &str, data: &Data, i: usize) -> (Value, u16) {
    let tasks = "/api/tasks";
    let task_path = |id: Uuid| format!("/api/tasks/{id}");
    match function {
        "health" => (TestRequest::get("/api/health").event(), 200),
        "register" => {
            let name = format!("r{}_{i}", data.run);
            let body = json!({"username": name, "email": format!("{name}@example.com"), "password": PASSWORD});
            (
                TestRequest::post("/api/users/register").json(&body).event(),
                201,
            )
        }
        "login" => {
            let body = json!({"login": "bench", "password": PASSWORD});
            (
                TestRequest::post("/api/auth/login").json(&body).event(),
                200,
            )
        }
        "me" => (
            TestRequest::get("/api/users/me")
                .bearer(&data.token)
                .event(),
            200,
        ),
        "tasks-create" => {
            let body = json!({"title": format!("created {i}"), "priority": i % 100, "input": {"i": i},
                              "steps": [{"name": "fetch"}, {"name": "work", "input": {"i": i}}, {"name": "report"}]});
            (
                TestRequest::post(tasks)
                    .bearer(&data.token)
                    .json(&body)
                    .event(),
                201,
            )
        }
        "tasks-list" => (
            TestRequest::get(tasks)
                .bearer(&data.token)
                .query("limit=20")
                .event(),
            200,
        ),
        "tasks-get" => {
            let id = data.fetched_task;
            let request = TestRequest::get(&task_path(id))
                .bearer(&data.token)
                .path_parameter("id", &id.to_string());
            (request.event(), 200)
        }
        "tasks-update" => {
            let id = data.fetched_task;
            let request = TestRequest::new("PATCH", &task_path(id))
                .bearer(&data.token)
                .path_parameter("id", &id.to_string())
                .json(&json!({"priority": i % 100}));
            (request.event(), 200)
        }
        "tasks-delete" => {
            let id = data.doomed[i];
            let request = TestRequest::new("DELETE", &task_path(id))
                .bearer(&data.deleter_token)
                .path_parameter("id", &id.to_string());
            (request.event(), 204)
        }
        other => panic!("no workload for {other}"),
    }
}

/// The fastest this work could be: the same SQL from a plain sqlx connection, or one bcrypt
/// operation. Returns the median of `n` runs and what was measured.
pub async fn floor(
    function: &str,
    db: &PgPool,
    data: &Data,
    n: usize,
) -> Result<(Duration, &'static str), sqlx::Error> {
    let mut times = Vec::with_capacity(n);
    let what = match function {
        "login" | "register" => {
            let hash = bcrypt::hash(PASSWORD, 12).expect("bcrypt hashes");
            for _ in 0..n.min(20) {
                let started = Instant::now();
                if function == "login" {
                    bcrypt::verify(PASSWORD, &hash).expect("bcrypt verifies");
                } else {
                    bcrypt::hash(PASSWORD, 12).expect("bcrypt hashes");
                }
                times.push(started.elapsed());
            }
            if function == "login" {
                "one bcrypt verify, cost 12"
            } else {
                "one bcrypt hash, cost 12"
            }
        }
        _ => {
            for i in 0..n {
                let started = Instant::now();
                floor_statement(function, db, data, i).await?;
                times.push(started.elapsed());
            }
            match function {
                "health" => "select 1",
                "me" => "select the user",
                "tasks-get" => "select the task and its steps",
                "tasks-list" => "select a page of 20 (+1) tasks",
                "tasks-create" => "insert task, 3 steps, audit row (one statement)",
                "tasks-update" => "read the task, then update it with its audit row",
                "tasks-delete" => "delete a task with its audit row",
                _ => "",
            }
        }
    };
    Ok((median(&mut times), what))
}

async fn floor_statement(
    function: &str,
    db: &PgPool,
    data: &Data,
    i: usize,
) -> Result<(), sqlx::Error> {
    match function {
        "health" => {
            sqlx::query("select 1").execute(db).await?;
        }
        "me" => {
            sqlx::query(
                "select id, username, email, created_at, updated_at from users where id = $1",
            )
            .bind(data.user)
            .fetch_one(db)
            .await?;
        }
        "tasks-get" => {
            sqlx::query(
                "select t.*, coalesce((select json_agg(s) from task_steps s where s.task_id = t.id), '[]') as steps \
                 from tasks t where t.id = $1 and t.owner_id = $2",
            )
            .bind(data.fetched_task)
            .bind(data.user)
            .fetch_one(db)
            .await?;
        }
        "tasks-list" => {
            sqlx::query(
                "select * from tasks where owner_id = $1 and ($2::text is null or status = $2) \
                   and ($3::timestamptz is null or (created_at, id) < ($3, $4)) \
                 order by created_at desc, id desc limit $5",
            )
            .bind(data.user)
            .bind(None::<String>)
            .bind(None::<chrono::DateTime<chrono::Utc>>)
            .bind(None::<Uuid>)
            .bind(21_i64)
            .fetch_all(db)
            .await?;
        }
        "tasks-create" => {
            sqlx::query(
                "with task as (insert into tasks (owner_id, title, priority, input) values ($1, $2, $3, $4) returning *), \
                 steps as (insert into task_steps (task_id, position, name, input) \
                           select task.id, s.i - 1, s.name, s.input \
                           from task, unnest($5::text[], $6::jsonb[]) with ordinality as s(name, input, i) returning *), \
                 audit as (insert into audit_logs (actor_id, action, entity_type, entity_id, metadata) \
                           select owner_id, 'task.create', 'task', id, '{}'::jsonb from task) \
                 select task.*, coalesce((select json_agg(steps) from steps), '[]') as steps from task",
            )
            .bind(data.user)
            .bind(format!("floor {i}"))
            .bind((i % 100) as i32)
            .bind(json!({"i": i}))
            .bind(vec!["fetch", "work", "report"])
            .bind(vec![json!({}), json!({"i": i}), json!({})])
            .fetch_one(db)
            .await?;
        }
        "tasks-update" => {
            let version: i64 =
                sqlx::query_scalar("select version from tasks where id = $1 and owner_id = $2")
                    .bind(data.fetched_task)
                    .bind(data.user)
                    .fetch_one(db)
                    .await?;
            sqlx::query(
                "with task as (update tasks set priority = $4, version = version + 1 \
                               where id = $1 and owner_id = $2 and version = $3 returning *), \
                 audit as (insert into audit_logs (actor_id, action, entity_type, entity_id, metadata) \
                           select owner_id, 'task.update', 'task', id, '{}'::jsonb from task) \
                 select task.*, coalesce((select json_agg(s) from task_steps s where s.task_id = task.id), '[]') as steps \
                 from task",
            )
            .bind(data.fetched_task)
            .bind(data.user)
            .bind(version)
            .bind((i % 100) as i32)
            .fetch_one(db)
            .await?;
        }
        "tasks-delete" => {
            let id = data.doomed[data.doomed.len() - 1 - i];
            sqlx::query(
                "with deleted as (delete from tasks where id = $1 and owner_id = $2 returning id), \
                 audit as (insert into audit_logs (actor_id, action, entity_type, entity_id, metadata) \
                           select $2, 'task.delete', 'task', id, '{}'::jsonb from deleted) \
                 select count(*) from deleted",
            )
            .bind(id)
            .bind(data.deleter)
            .fetch_one(db)
            .await?;
        }
        other => panic!("no floor for {other}"),
    }
    Ok(())
}

pub fn median(times: &mut [Duration]) -> Duration {
    percentile(times, 50.0)
}

pub fn percentile(times: &mut [Duration], p: f64) -> Duration {
    if times.is_empty() {
        return Duration::ZERO;
    }
    times.sort_unstable();
    let rank = ((p / 100.0) * (times.len() - 1) as f64).round() as usize;
    times[rank.min(times.len() - 1)]
}
