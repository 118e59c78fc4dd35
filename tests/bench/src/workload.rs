//! The data, the events each function gets, and the floors they are compared with.

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use shared::agents::{AgentChanges, NewAgent, store as agents};
use shared::auth::{Caller, TokenKeys};
use shared::config::SessionConfig;
use shared::sessions::{self as session, RefreshToken};
use shared::tasks::{NewTask, StepChanges, TaskChanges, store};
use shared::testing::TestRequest;
use sqlx::PgPool;
use uuid::Uuid;

pub const PASSWORD: &str = "violet rivers hum beneath lanterns";
pub const TASKS_PER_USER: i32 = 1000;

/// What the functions work on: a user with 1,000 tasks (one with 5 steps), and another whose
/// tasks the delete benchmark and its floor remove one by one.
pub struct Data {
    pub user: Caller,
    pub token: String,
    pub fetched_task: Uuid,
    pub deleter: Caller,
    pub deleter_token: String,
    pub doomed: Vec<Uuid>,
    pub run: String,
    /// Refresh tokens of their own sessions: the first half for the function, the second for
    /// its floor (each works once).
    pub refresh_tokens: Vec<String>,
    pub sessions: SessionConfig,
    /// An agent to read and change, agents to delete (the first part for the function, the
    /// rest for its floor), a task whose first step is updated again and again.
    pub fetched_agent: Uuid,
    pub doomed_agents: Vec<Uuid>,
    pub stepped_task: Uuid,
    pub stepped_step: Uuid,
}

pub async fn seed(
    db: &PgPool,
    bcrypt_cost: u32,
    keys: &TokenKeys,
    refreshes: usize,
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
    let refresh: Vec<RefreshToken> = (0..refreshes * 2)
        .map(|_| RefreshToken::generate().expect("random bytes"))
        .collect();
    let hashes: Vec<Vec<u8>> = refresh.iter().map(|t| t.hash.to_vec()).collect();
    sqlx::query(
        "with opened as ( \
             insert into sessions (user_id, expires_at) \
             select $1, now() + interval '1 day' from unnest($2::bytea[]) \
             returning id), \
         numbered as (select id, row_number() over () as n from opened) \
         insert into refresh_tokens (token_hash, session_id) \
         select h.hash, numbered.id \
         from unnest($2::bytea[]) with ordinality as h(hash, n) join numbered using (n)",
    )
    .bind(user)
    .bind(hashes)
    .execute(db)
    .await?;
    // 100 agents to list, then agents to delete, all the user's.
    let agents: Vec<Uuid> = sqlx::query_scalar(
        "insert into agents (owner_id, name, config, created_at) \
         select $1, 'agent ' || i, jsonb_build_object('i', i), now() - i * interval '1 second' \
         from generate_series(1, 100 + $2 * 2) as i returning id",
    )
    .bind(user)
    .bind(refreshes as i32)
    .fetch_all(db)
    .await?;
    let (fetched_agent, doomed_agents) = (agents[0], agents[100..].to_vec());
    let stepped_task: Uuid = sqlx::query_scalar(
        "insert into tasks (owner_id, title) values ($1, 'stepped') returning id",
    )
    .bind(user)
    .fetch_one(db)
    .await?;
    let stepped_step: Uuid = sqlx::query_scalar(
        "insert into task_steps (task_id, position, name) \
         select $1, i - 1, 'step ' || i from generate_series(1, 5) as i \
         order by i returning id",
    )
    .bind(stepped_task)
    .fetch_all(db)
    .await?[0];
    // The user's audit trail: 1,000 events to page through.
    sqlx::query(
        "insert into audit_logs (actor_id, action, entity_type, entity_id, created_at) \
         select $1, 'task.update', 'task', gen_random_uuid(), now() - i * interval '1 second' \
         from generate_series(1, 1000) as i",
    )
    .bind(user)
    .execute(db)
    .await?;
    let user = open_session(db, user).await?;
    let deleter = open_session(db, deleter).await?;
    sqlx::query("analyze").execute(db).await?;
    let token_of = |caller: Caller| {
        use secrecy::ExposeSecret;
        keys.issue(caller)
            .map(|t| t.token.expose_secret().to_owned())
            .expect("a token")
    };
    Ok(Data {
        user,
        token: token_of(user),
        fetched_task,
        deleter,
        deleter_token: token_of(deleter),
        doomed,
        run: format!("{:x}", Uuid::new_v4().as_u128() & 0xffff_ffff),
        refresh_tokens: refresh
            .iter()
            .map(|t| session::expose(t).to_owned())
            .collect(),
        sessions: SessionConfig::from_env(&shared::Env::default()).expect("defaults"),
        fetched_agent,
        doomed_agents,
        stepped_task,
        stepped_step,
    })
}

async fn open_session(db: &PgPool, user_id: Uuid) -> Result<Caller, sqlx::Error> {
    let session_id = sqlx::query_scalar(
        "insert into sessions (user_id, expires_at) values ($1, now() + interval '1 day') returning id",
    )
    .bind(user_id)
    .fetch_one(db)
    .await?;
    Ok(Caller {
        user_id,
        session_id,
    })
}

/// The `i`-th event for a function, and the status a correct answer has.
pub fn event(function: &str, data: &Data, i: usize) -> (Value, u16) {
    let tasks = "/api/tasks";
    let task_path = |id: Uuid| format!("/api/tasks/{id}");
    match function {
        "health" => (TestRequest::get("/api/health").event(), 200),
        // The contract: the largest text the docs function serves from memory (the page's
        // assets are served gzipped, as bytes).
        "docs" => (TestRequest::get("/api/openapi.json").event(), 200),
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
        "refresh" => {
            let body = json!({"refresh_token": data.refresh_tokens[i]});
            (
                TestRequest::post("/api/auth/refresh").json(&body).event(),
                200,
            )
        }
        "agents-create" => (
            TestRequest::post("/api/agents")
                .bearer(&data.token)
                .json(&new_agent_body(&data.run, i))
                .event(),
            201,
        ),
        "agents-list" => (
            TestRequest::get("/api/agents")
                .bearer(&data.token)
                .query("limit=20")
                .event(),
            200,
        ),
        "agents-get" => {
            let id = data.fetched_agent;
            let request = TestRequest::get(&format!("/api/agents/{id}"))
                .bearer(&data.token)
                .path_parameter("id", &id.to_string());
            (request.event(), 200)
        }
        "agents-update" => {
            let id = data.fetched_agent;
            let request = TestRequest::new("PATCH", &format!("/api/agents/{id}"))
                .bearer(&data.token)
                .path_parameter("id", &id.to_string())
                .json(&agent_changes_body(i));
            (request.event(), 200)
        }
        "agents-delete" => {
            let id = data.doomed_agents[i];
            let request = TestRequest::new("DELETE", &format!("/api/agents/{id}"))
                .bearer(&data.token)
                .path_parameter("id", &id.to_string());
            (request.event(), 204)
        }
        "steps-update" => {
            let (task, step) = (data.stepped_task, data.stepped_step);
            let request = TestRequest::new("PATCH", &format!("/api/tasks/{task}/steps/{step}"))
                .bearer(&data.token)
                .path_parameter("id", &task.to_string())
                .path_parameter("step_id", &step.to_string())
                .json(&step_changes_body(i));
            (request.event(), 200)
        }
        "audit-list" => (
            TestRequest::get("/api/audit")
                .bearer(&data.token)
                .query("limit=20")
                .event(),
            200,
        ),
        "tasks-create" => {
            let body = new_task_body(i);
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
                .json(&changes_body(i));
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

fn new_task_body(i: usize) -> Value {
    json!({"title": format!("created {i}"), "priority": i % 100, "input": {"i": i},
           "steps": [{"name": "fetch"}, {"name": "work", "input": {"i": i}}, {"name": "report"}]})
}

fn changes_body(i: usize) -> Value {
    json!({"priority": i % 100})
}

fn new_agent_body(run: &str, i: usize) -> Value {
    json!({"name": format!("bench {run} {i}"), "config": {"i": i}})
}

fn agent_changes_body(i: usize) -> Value {
    json!({"is_active": i.is_multiple_of(2)})
}

fn step_changes_body(i: usize) -> Value {
    json!({"output": {"i": i}})
}

/// The fastest this work could be: the function's own store operation (the same single
/// statement) from a plain sqlx connection, or one bcrypt operation. Returns the median of `n`
/// runs and what was measured.
pub async fn floor(
    function: &str,
    db: &PgPool,
    data: &Data,
    n: usize,
) -> Result<(Duration, &'static str), shared::db::StoreError> {
    let mut times = Vec::with_capacity(n);
    let what = match function {
        "docs" => {
            return Ok((
                Duration::ZERO,
                "none: no database, the contract is built in",
            ));
        }
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
                "tasks-update" => "update the task with its audit row (one statement)",
                "refresh" => "spend the refresh token, store its successor (one statement)",
                "agents-create" => "insert the agent with its audit row (one statement)",
                "agents-list" => "select a page of 20 (+1) agents",
                "agents-get" => "select the agent",
                "agents-update" => "update the agent with its audit row (one statement)",
                "agents-delete" => "delete an agent with its audit row (one statement)",
                "steps-update" => {
                    "update the step, derive and update the task, audit (one statement)"
                }
                "audit-list" => "select a page of 20 (+1) events",
                "tasks-delete" => "delete a task with its audit row",
                _ => "",
            }
        }
    };
    Ok((median(&mut times), what))
}

async fn floor_statement(
    function: &str,
    pool: &PgPool,
    data: &Data,
    i: usize,
) -> Result<(), shared::db::StoreError> {
    // The handle the functions use (a direct connection), over the harness's pool.
    let db = &shared::db::Db::from(pool.clone());
    let metadata = json!({});
    match function {
        "health" => shared::db::ping(db).await?,
        "me" => {
            shared::users::store::find_for_caller(db, data.user)
                .await?
                .expect("the user");
        }
        "tasks-get" => {
            store::find_owned(db, data.user, data.fetched_task)
                .await?
                .expect("the task");
        }
        "tasks-list" => {
            store::list_page(db, data.user, None, None, 21).await?;
        }
        "tasks-create" => {
            let body = serde_json::from_value(new_task_body(i)).expect("a body");
            let task = NewTask::parse(body).expect("a valid task");
            store::create(db, data.user, &task, &metadata)
                .await?
                .expect("created");
        }
        "tasks-update" => {
            let body = serde_json::from_value(changes_body(i)).expect("a body");
            let changes = TaskChanges::parse(body).expect("valid changes");
            let written = store::update_if_version(
                db,
                data.user,
                data.fetched_task,
                None,
                &changes,
                &metadata,
            )
            .await
            .expect("updated");
            assert!(matches!(written, store::Written::Done(_)));
        }
        "tasks-delete" => {
            let id = data.doomed[data.doomed.len() - 1 - i];
            store::delete_if_version(db, data.deleter, id, None, &metadata).await?;
        }
        "refresh" => {
            let presented = &data.refresh_tokens[data.refresh_tokens.len() - 1 - i];
            let successor = RefreshToken::generate().expect("random bytes");
            let refreshed =
                session::refresh(db, presented, &successor.hash, &data.sessions, &metadata).await?;
            assert!(matches!(refreshed, session::Refreshed::Rotated(_)));
        }
        "agents-create" => {
            let body = serde_json::from_value(new_agent_body("floor", i)).expect("a body");
            let agent = NewAgent::parse(body).expect("a valid agent");
            agents::create(db, data.user, &agent, &metadata)
                .await?
                .expect("created");
        }
        "agents-list" => {
            agents::list_page(db, data.user, None, 21).await?;
        }
        "agents-get" => {
            agents::find_owned(db, data.user, data.fetched_agent)
                .await?
                .expect("the agent");
        }
        "agents-update" => {
            let body = serde_json::from_value(agent_changes_body(i)).expect("a body");
            let changes = AgentChanges::parse(body).expect("valid changes");
            agents::update_if_version(db, data.user, data.fetched_agent, None, &changes, &metadata)
                .await?;
        }
        "agents-delete" => {
            let id = data.doomed_agents[data.doomed_agents.len() - 1 - i];
            agents::delete_if_version(db, data.user, id, None, &metadata).await?;
        }
        "steps-update" => {
            let body = serde_json::from_value(step_changes_body(i)).expect("a body");
            let changes = StepChanges::parse(body).expect("valid changes");
            let (task, step) = (data.stepped_task, data.stepped_step);
            store::update_step(
                db,
                store::StepActor::Owner(data.user),
                task,
                step,
                None,
                &changes,
                &metadata,
            )
            .await
            .expect("updated");
        }
        "audit-list" => {
            let filter = shared::audit::AuditFilter::default();
            shared::audit::store::list_page(db, data.user, &filter, None, 21).await?;
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
