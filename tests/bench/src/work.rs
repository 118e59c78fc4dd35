//! The work queue as agents drive it:
//! - claim, heartbeat and complete through their functions, in the order a worker calls them,
//!   against their one-statement floors (the same store calls from a plain connection);
//! - the drain rate: claims plus completions per second at concurrency 1, 4 and 8, every worker
//!   with its own instance of each function, as Lambda would run them;
//! - claim at depth: the same cycle with the bench's 1,000 pending tasks in the table, then with
//!   1,000,000 pending across 1,000 owners.

use std::path::Path;
use std::time::{Duration, Instant};

use local_runtime::{Outcome, RuntimeApi};
use serde_json::{Value, json};
use shared::caller::AgentCaller;
use shared::testing::{TestRequest, agent_key, insert_agent};
use shared::work::{Claim, Completion, Heartbeat, WorkRequest, store};
use sqlx::PgPool;
use uuid::Uuid;

use crate::workload::{median, percentile};
use crate::{Error, binary_path, check, lambda_process, peak_rss_kib, spawn_ready};

/// The functions a worker calls, in its order.
pub const FUNCTIONS: [&str; 3] = ["agent-claim", "agent-heartbeat", "agent-complete"];
/// Pending tasks of the worker's owner: the queue is topped up to this every `REFILL` cycles.
pub const QUEUE: i64 = 1000;
const REFILL: usize = 100;
/// Owners and pending tasks of the deep table.
const DEEP_OWNERS: i64 = 1000;
const DEEP_TASKS: i64 = 1_000_000;
const CONCURRENCY: [usize; 3] = [1, 4, 8];
/// Tasks each drain run empties.
const DRAIN_TASKS: i64 = 480;

/// One function's warm numbers in the worker's cycle.
pub struct WorkRow {
    pub function: &'static str,
    pub p50: Duration,
    pub p90: Duration,
    pub p99: Duration,
    pub n: usize,
    pub floor: Duration,
    pub floor_what: &'static str,
    pub zip_bytes: Option<u64>,
    pub peak_rss_kib: Option<u64>,
}

pub struct Drain {
    pub concurrency: usize,
    pub tasks: i64,
    pub took: Duration,
}

pub struct Depth {
    pub pending: i64,
    pub owners: i64,
    pub claim_p50: Duration,
    pub claim_floor: Duration,
}

pub struct Report {
    pub rows: Vec<WorkRow>,
    pub drains: Vec<Drain>,
    pub depths: Vec<Depth>,
}

/// An agent of a fresh owner, with a key.
struct Worker {
    owner: Uuid,
    key: String,
}

async fn worker(db: &PgPool, name: &str) -> Result<Worker, Error> {
    let owner: Uuid = sqlx::query_scalar(
        "insert into users (username, email, password_hash) \
         values ($1, $1 || '@example.com', 'not a hash: this user never logs in') returning id",
    )
    .bind(name)
    .fetch_one(db)
    .await?;
    let agent = insert_agent(db, owner, "bench worker").await;
    Ok(Worker {
        owner,
        key: agent_key(db, owner, agent).await,
    })
}

/// Tops the owner's pending tasks up to `pending`, each older than the last so the queue's head
/// is the oldest.
async fn fill(db: &PgPool, owner: Uuid, pending: i64) -> Result<(), Error> {
    sqlx::query(
        "insert into tasks (owner_id, title, priority, input, created_at) \
         select $1, 'work ' || i, 50, jsonb_build_object('n', i), now() - i * interval '1 millisecond' \
         from generate_series(1, $2 - (select count(*) from tasks where owner_id = $1 and status = 'pending')) as i",
    )
    .bind(owner)
    .bind(pending)
    .execute(db)
    .await?;
    Ok(())
}

/// One function process with its own Runtime API: a Lambda instance.
struct Instance {
    function: &'static str,
    api: RuntimeApi,
    child: tokio::process::Child,
}

impl Instance {
    async fn start(
        function: &'static str,
        bin_dir: &Path,
        database_url: &str,
        jwt_secret: &str,
    ) -> Result<Self, Error> {
        let api = RuntimeApi::start().await?;
        let binary = binary_path(bin_dir, function);
        let mut command = lambda_process(function, &binary, &api);
        command
            .env("DATABASE_URL", database_url)
            .env("JWT_SECRET", jwt_secret);
        let (child, _) = spawn_ready(function, &binary, command, &api).await?;
        Ok(Self {
            function,
            api,
            child,
        })
    }

    /// Sends the event; the time it took and the answer's body, which must have `expected`.
    async fn call(&self, event: Value, expected: u16) -> Result<(Duration, Value), Error> {
        let (took, outcome) = self.api.invoke(event.to_string().into_bytes()).await?;
        check(self.function, 0, &outcome, expected)?;
        Ok((took, body_of(&outcome)?))
    }

    /// A claim: the task and its fencing token, or `None` when the queue is empty (204).
    async fn claim(&self, key: &str) -> Result<(Duration, Option<(Uuid, i64)>), Error> {
        let (took, outcome) = self
            .api
            .invoke(claim_event(key).to_string().into_bytes())
            .await?;
        if check(self.function, 0, &outcome, 204).is_ok() {
            return Ok((took, None));
        }
        check(self.function, 0, &outcome, 200)?;
        Ok((took, Some(claimed(&body_of(&outcome)?)?)))
    }

    async fn stop(mut self) -> Result<Option<u64>, Error> {
        let rss = self.child.id().and_then(peak_rss_kib);
        self.child.kill().await?;
        Ok(rss)
    }
}

/// The JSON body of a function's answer (`null` when it has none).
fn body_of(outcome: &Outcome) -> Result<Value, Error> {
    let (Outcome::Response(body) | Outcome::Error(body)) = outcome;
    let response: Value = serde_json::from_slice(body)?;
    Ok(match response["body"].as_str() {
        Some(text) if !text.is_empty() => serde_json::from_str(text)?,
        _ => Value::Null,
    })
}

fn claim_event(key: &str) -> Value {
    TestRequest::post("/api/agent/claim")
        .bearer(key)
        .json(&json!({}))
        .event()
}

fn lease_event(key: &str, verb: &str, task: Uuid, body: &Value) -> Value {
    TestRequest::post(&format!("/api/agent/tasks/{task}/{verb}"))
        .bearer(key)
        .path_parameter("id", &task.to_string())
        .json(body)
        .event()
}

fn claimed(body: &Value) -> Result<(Uuid, i64), Error> {
    let id = body["id"]
        .as_str()
        .ok_or("a claim without an id")?
        .parse()?;
    let token = body["fencing_token"]
        .as_i64()
        .ok_or("a claim without a fencing token")?;
    Ok((id, token))
}

fn completion_body(token: i64, i: usize) -> Value {
    json!({"fencing_token": token, "result": {"i": i}})
}

/// The three functions, one instance each.
struct Cycle {
    claim: Instance,
    heartbeat: Instance,
    complete: Instance,
}

impl Cycle {
    async fn start(bin_dir: &Path, database_url: &str, jwt_secret: &str) -> Result<Self, Error> {
        let [claim, heartbeat, complete] = FUNCTIONS;
        Ok(Self {
            claim: Instance::start(claim, bin_dir, database_url, jwt_secret).await?,
            heartbeat: Instance::start(heartbeat, bin_dir, database_url, jwt_secret).await?,
            complete: Instance::start(complete, bin_dir, database_url, jwt_secret).await?,
        })
    }

    /// `n` claim, heartbeat, complete cycles after one to warm up, the queue topped up to
    /// `QUEUE` every `REFILL` cycles (untimed): the three latencies of each.
    async fn run(
        &self,
        db: &PgPool,
        worker: &Worker,
        n: usize,
    ) -> Result<[Vec<Duration>; 3], Error> {
        let key = &worker.key;
        let mut times = [Vec::new(), Vec::new(), Vec::new()];
        for i in 0..=n {
            if i % REFILL == 0 {
                fill(db, worker.owner, QUEUE).await?;
            }
            let (claim, task) = self.claim.claim(key).await?;
            let (task, token) = task.ok_or("the queue ran dry")?;
            let beat = json!({"fencing_token": token});
            let (heartbeat, _) = self
                .heartbeat
                .call(lease_event(key, "heartbeat", task, &beat), 200)
                .await?;
            let (complete, _) = self
                .complete
                .call(
                    lease_event(key, "complete", task, &completion_body(token, i)),
                    200,
                )
                .await?;
            if i > 0 {
                for (list, took) in times.iter_mut().zip([claim, heartbeat, complete]) {
                    list.push(took);
                }
            }
        }
        Ok(times)
    }

    async fn stop(self) -> Result<[Option<u64>; 3], Error> {
        Ok([
            self.claim.stop().await?,
            self.heartbeat.stop().await?,
            self.complete.stop().await?,
        ])
    }
}

/// The same cycle from the harness: each function's store call on a plain connection.
async fn floors(db: &PgPool, worker: &Worker, n: usize) -> Result<[Vec<Duration>; 3], Error> {
    let key = &worker.key;
    let handle = shared::db::Db::from(db.clone());
    let agent = AgentCaller {
        key_hash: shared::agents::keys::hash(key),
    };
    let metadata = json!({});
    let parse = |body: Value| -> Result<WorkRequest, Error> { Ok(serde_json::from_value(body)?) };
    let mut times = [Vec::new(), Vec::new(), Vec::new()];
    for i in 0..n {
        if i % REFILL == 0 {
            fill(db, worker.owner, QUEUE).await?;
        }
        let started = Instant::now();
        let claim = Claim::parse(parse(json!({}))?).map_err(|e| format!("{e:?}"))?;
        let task = store::claim(&handle, agent, claim, &metadata)
            .await?
            .flatten()
            .ok_or("the floor's claim found no task")?;
        times[0].push(started.elapsed());
        let (id, token) = (task.task.task.id, task.fencing_token);

        let started = Instant::now();
        let beat = Heartbeat::parse(parse(json!({"fencing_token": token}))?)
            .map_err(|e| format!("{e:?}"))?;
        store::heartbeat(&handle, agent, id, beat)
            .await?
            .into_result()
            .map_err(|e| format!("{e:?}"))?;
        times[1].push(started.elapsed());

        let started = Instant::now();
        let completion =
            Completion::parse(parse(completion_body(token, i))?).map_err(|e| format!("{e:?}"))?;
        store::complete(&handle, agent, id, &completion, &metadata)
            .await?
            .into_result()
            .map_err(|e| format!("{e:?}"))?;
        times[2].push(started.elapsed());
    }
    Ok(times)
}

/// `concurrency` workers, each with its own claim and complete instances, empty a queue of
/// `DRAIN_TASKS`: how long it took.
async fn drain(
    db: &PgPool,
    bin_dir: &Path,
    database_url: &str,
    jwt_secret: &str,
    concurrency: usize,
) -> Result<Drain, Error> {
    let Worker { owner, key } = worker(db, &format!("bench_drain_{concurrency}")).await?;
    fill(db, owner, DRAIN_TASKS).await?;
    let mut pairs = Vec::new();
    for _ in 0..concurrency {
        let claim = Instance::start(FUNCTIONS[0], bin_dir, database_url, jwt_secret).await?;
        let complete = Instance::start(FUNCTIONS[2], bin_dir, database_url, jwt_secret).await?;
        pairs.push((claim, complete));
    }
    let started = Instant::now();
    let mut workers = tokio::task::JoinSet::new();
    for (claim, complete) in pairs {
        let key = key.clone();
        workers.spawn(async move {
            let mut done = 0i64;
            loop {
                let Some((task, token)) = claim.claim(&key).await?.1 else {
                    break;
                };
                complete
                    .call(
                        lease_event(&key, "complete", task, &completion_body(token, 0)),
                        200,
                    )
                    .await?;
                done += 1;
            }
            claim.stop().await?;
            complete.stop().await?;
            Ok::<_, Error>(done)
        });
    }
    let mut tasks = 0;
    while let Some(done) = workers.join_next().await {
        tasks += done??;
    }
    let took = started.elapsed();
    if tasks != DRAIN_TASKS {
        return Err(format!("the drain completed {tasks} tasks of {DRAIN_TASKS}").into());
    }
    Ok(Drain {
        concurrency,
        tasks,
        took,
    })
}

/// Fills the table to `DEEP_TASKS` pending tasks across `DEEP_OWNERS` owners (the worker's
/// included), then vacuums, analyses and checkpoints, as a table that has been there a while.
async fn deepen(db: &PgPool) -> Result<(), Error> {
    let others = DEEP_OWNERS - 1;
    let per_owner = (DEEP_TASKS - QUEUE) / others;
    sqlx::query(
        "with owners as ( \
             insert into users (username, email, password_hash) \
             select 'deep_' || o, 'deep_' || o || '@example.com', 'never logs in' \
             from generate_series(1, $1) as o returning id) \
         insert into tasks (owner_id, title, priority, input, created_at) \
         select owners.id, 'deep ' || i, i % 101, jsonb_build_object('n', i), \
                now() - i * interval '1 millisecond' \
         from owners, generate_series(1, $2) as i",
    )
    .bind(others)
    .bind(per_owner)
    .execute(db)
    .await?;
    sqlx::query("vacuum (analyze) tasks").execute(db).await?;
    sqlx::query("checkpoint").execute(db).await?;
    Ok(())
}

async fn pending(db: &PgPool) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("select count(*) from tasks where status = 'pending'")
        .fetch_one(db)
        .await
}

/// The cycle through the functions, then the floors, on the worker's queue as the table is now.
async fn cycle_at(
    db: &PgPool,
    bin_dir: &Path,
    database_url: &str,
    jwt_secret: &str,
    worker: &Worker,
    n: usize,
) -> Result<
    (
        [Vec<Duration>; 3],
        [Option<u64>; 3],
        [Vec<Duration>; 3],
        Depth,
    ),
    Error,
> {
    fill(db, worker.owner, QUEUE).await?;
    let in_table = pending(db).await?;
    let cycle = Cycle::start(bin_dir, database_url, jwt_secret).await?;
    let mut times = cycle.run(db, worker, n).await?;
    let rss = cycle.stop().await?;
    let mut floor = floors(db, worker, n).await?;
    let depth = Depth {
        pending: in_table,
        owners: sqlx::query_scalar(
            "select count(distinct owner_id) from tasks where status = 'pending'",
        )
        .fetch_one(db)
        .await?,
        claim_p50: median(&mut times[0]),
        claim_floor: median(&mut floor[0]),
    };
    Ok((times, rss, floor, depth))
}

/// Every measurement of the work queue, on the bench's database (`db`, as an admin): the cycle
/// and its floors, the drains, then the cycle again at depth.
pub async fn measure(
    db: &PgPool,
    bin_dir: &Path,
    database_url: &str,
    jwt_secret: &str,
    n: usize,
) -> Result<Report, Error> {
    let worker = worker(db, "bench_worker").await?;
    let (mut times, rss, mut floor, shallow) =
        cycle_at(db, bin_dir, database_url, jwt_secret, &worker, n).await?;
    let whats = [
        "claim the most urgent task, lease it, audit (one statement)",
        "extend the lease (one statement)",
        "complete the task, end the lease, audit (one statement)",
    ];
    let mut rows = Vec::new();
    for (i, function) in FUNCTIONS.into_iter().enumerate() {
        rows.push(WorkRow {
            function,
            p50: percentile(&mut times[i], 50.0),
            p90: percentile(&mut times[i], 90.0),
            p99: percentile(&mut times[i], 99.0),
            n,
            floor: median(&mut floor[i]),
            floor_what: whats[i],
            zip_bytes: std::fs::metadata(bin_dir.join(function).join("bootstrap.zip"))
                .ok()
                .map(|m| m.len()),
            peak_rss_kib: rss[i],
        });
    }
    let mut drains = Vec::new();
    for concurrency in CONCURRENCY {
        eprintln!("bench: drain at concurrency {concurrency}");
        drains.push(drain(db, bin_dir, database_url, jwt_secret, concurrency).await?);
    }
    eprintln!("bench: filling the table to {DEEP_TASKS} pending tasks");
    deepen(db).await?;
    let (_, _, _, deep) = cycle_at(db, bin_dir, database_url, jwt_secret, &worker, n).await?;
    Ok(Report {
        rows,
        drains,
        depths: vec![shallow, deep],
    })
}

fn ms(d: Duration) -> String {
    format!("{:.2}", d.as_secs_f64() * 1000.0)
}

pub fn print_report(report: &Report) {
    println!();
    println!("Work queue: a worker's cycle (claim, heartbeat, complete), {QUEUE} tasks pending");
    println!();
    println!(
        "| function | p50 ms | p90 ms | p99 ms | n | floor p50 ms | floor | p50 / floor | zip KiB | peak RSS MiB |"
    );
    println!("| --- | ---: | ---: | ---: | ---: | ---: | --- | ---: | ---: | ---: |");
    for row in &report.rows {
        println!(
            "| {} | {} | {} | {} | {} | {} | {} | {:.2} | {} | {} |",
            row.function,
            ms(row.p50),
            ms(row.p90),
            ms(row.p99),
            row.n,
            ms(row.floor),
            row.floor_what,
            row.p50.as_secs_f64() / row.floor.as_secs_f64(),
            row.zip_bytes
                .map_or("–".into(), |b| format!("{:.0}", b as f64 / 1024.0)),
            row.peak_rss_kib
                .map_or("–".into(), |k| format!("{:.1}", k as f64 / 1024.0)),
        );
    }
    println!();
    println!(
        "| drain: workers | tasks | seconds | tasks per second (a claim and a completion each) |"
    );
    println!("| ---: | ---: | ---: | ---: |");
    for drain in &report.drains {
        println!(
            "| {} | {} | {:.2} | {:.0} |",
            drain.concurrency,
            drain.tasks,
            drain.took.as_secs_f64(),
            drain.tasks as f64 / drain.took.as_secs_f64(),
        );
    }
    println!();
    println!(
        "| pending tasks | owners | claim p50 ms | claim floor p50 ms | claim p50 / shallowest |"
    );
    println!("| ---: | ---: | ---: | ---: | ---: |");
    let base = report.depths[0].claim_p50.as_secs_f64();
    for depth in &report.depths {
        println!(
            "| {} | {} | {} | {} | {:.2} |",
            depth.pending,
            depth.owners,
            ms(depth.claim_p50),
            ms(depth.claim_floor),
            depth.claim_p50.as_secs_f64() / base,
        );
    }
}
