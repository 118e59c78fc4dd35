//! Agents drain the queue through the functions: several workers claim, move a step,
//! heartbeat and complete, while some "crash" (stop heartbeating mid-task) and come back after
//! their lease ended. Every task is completed exactly once, no task is ever held by two live
//! leases, and every write a crashed worker makes after its lease ended is refused.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};
use tokio::sync::Mutex;

use crate::helpers::{TestApi, TestUser};

const TASKS: usize = 240;
const WORKERS: usize = 8;
/// A working claim's lease, far longer than a request takes here.
const LEASE_SECONDS: i64 = 30;
/// The lease of a claim whose worker will crash: it stops after claiming and comes back after
/// the lease has ended.
const CRASH_LEASE_SECONDS: i64 = 1;

/// What the workers saw: per task, each claim's token, when the server started its lease and
/// the latest end the server gave it; the completions that were accepted; and the late writes of
/// crashed workers, by status.
#[derive(Default)]
struct Record {
    leases: HashMap<String, Vec<(i64, f64, f64)>>,
    completed: HashMap<String, Vec<i64>>,
    late_writes: HashMap<u16, usize>,
}

/// A server timestamp (RFC 3339), in seconds: every lease time comes from the database's clock.
fn server_time(text: &str) -> f64 {
    let at = chrono::DateTime::parse_from_rfc3339(text).expect("an RFC 3339 timestamp");
    at.timestamp_micros() as f64 / 1e6
}

async fn json_of(response: reqwest::Response) -> (u16, Value) {
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn worker(
    api: TestApi,
    key: String,
    id: usize,
    done: Arc<AtomicUsize>,
    record: Arc<Mutex<Record>>,
) {
    let mut claims = 0;
    while done.load(Ordering::SeqCst) < TASKS {
        // Workers 0 and 1 crash on every fifth claim.
        let crashes = id < 2 && claims % 5 == 4;
        let lease_seconds = if crashes {
            CRASH_LEASE_SECONDS
        } else {
            LEASE_SECONDS
        };
        let claim = api
            .call(
                Method::POST,
                "/api/agent/claim",
                &key,
                Some(&json!({"lease_seconds": lease_seconds})),
                None,
            )
            .await;
        if claim.status() == 204 {
            tokio::time::sleep(Duration::from_millis(100)).await;
            continue;
        }
        claims += 1;
        let (status, task) = json_of(claim).await;
        assert_eq!(status, 200, "worker {id} claim: {task}");
        let task_id = task["id"].as_str().unwrap().to_owned();
        let token = task["fencing_token"].as_i64().unwrap();
        let lease_end = server_time(task["lease_expires_at"].as_str().unwrap());
        let started = lease_end - lease_seconds as f64;
        record
            .lock()
            .await
            .leases
            .entry(task_id.clone())
            .or_default()
            .push((token, started, lease_end));
        let extend = |end: f64| {
            let record = record.clone();
            let task_id = task_id.clone();
            async move {
                let mut record = record.lock().await;
                if let Some(lease) = record
                    .leases
                    .get_mut(&task_id)
                    .and_then(|l| l.iter_mut().find(|l| l.0 == token))
                {
                    lease.2 = lease.2.max(end);
                }
            }
        };

        if crashes {
            // No heartbeat: back only after the lease has ended.
            tokio::time::sleep(Duration::from_millis(
                CRASH_LEASE_SECONDS as u64 * 1000 + 600,
            ))
            .await;
        }
        let step = task["steps"][0]["id"].as_str().unwrap();
        let moved = api
            .call(
                Method::PATCH,
                &format!("/api/tasks/{task_id}/steps/{step}"),
                &key,
                Some(&json!({"status": "in_progress", "fencing_token": token})),
                None,
            )
            .await;
        let beat = api
            .call(
                Method::POST,
                &format!("/api/agent/tasks/{task_id}/heartbeat"),
                &key,
                Some(&json!({"fencing_token": token, "lease_seconds": LEASE_SECONDS})),
                None,
            )
            .await;
        let (beat_status, lease) = json_of(beat).await;
        if beat_status == 200 {
            extend(server_time(lease["lease_expires_at"].as_str().unwrap())).await;
        }
        let completed = api
            .call(
                Method::POST,
                &format!("/api/agent/tasks/{task_id}/complete"),
                &key,
                Some(&json!({"fencing_token": token, "result": {"worker": id, "token": token}})),
                None,
            )
            .await;
        let complete_status = completed.status().as_u16();
        let mut record = record.lock().await;
        if crashes {
            for status in [moved.status().as_u16(), beat_status, complete_status] {
                *record.late_writes.entry(status).or_default() += 1;
            }
        } else {
            assert_eq!(
                moved.status(),
                200,
                "worker {id}: a live holder moves its step"
            );
            assert_eq!(
                beat_status, 200,
                "worker {id}: a live holder extends its lease"
            );
            assert_eq!(complete_status, 200, "worker {id}: a live holder completes");
        }
        if complete_status == 200 {
            record.completed.entry(task_id).or_default().push(token);
            done.fetch_add(1, Ordering::SeqCst);
        }
    }
}

#[tokio::test]
async fn workers_drain_the_queue_and_a_stale_holder_is_always_refused() {
    let api = TestApi::new();
    let user: TestUser = api.new_user("queue").await;
    let agent: Value = api
        .create_agent(user.token(), &json!({"name": "drainer"}))
        .await
        .json()
        .await
        .unwrap();
    let agent_id = agent["id"].as_str().unwrap();
    let (status, minted) = json_of(
        api.call(
            Method::POST,
            &format!("/api/agents/{agent_id}/keys"),
            user.token(),
            Some(&json!({"name": "workers"})),
            None,
        )
        .await,
    )
    .await;
    assert_eq!(status, 201, "{minted}");
    let key = minted["key"].as_str().unwrap().to_owned();
    for n in 0..TASKS {
        let created = api
            .create_task(user.token(), &json!({"title": format!("job {n}"), "priority": n % 5, "max_attempts": 10, "steps": [{"name": "only"}]}))
            .await;
        assert_eq!(created.status(), 201);
    }

    let done = Arc::new(AtomicUsize::new(0));
    let record = Arc::new(Mutex::new(Record::default()));
    let workers: Vec<_> = (0..WORKERS)
        .map(|id| {
            tokio::spawn(worker(
                api.clone(),
                key.clone(),
                id,
                done.clone(),
                record.clone(),
            ))
        })
        .collect();
    tokio::time::timeout(Duration::from_secs(240), futures_join(workers))
        .await
        .expect("the workers drained the queue in time");

    let record = record.lock().await;
    assert_eq!(record.completed.len(), TASKS, "every task was completed");
    assert!(
        record.completed.values().all(|tokens| tokens.len() == 1),
        "each exactly once"
    );
    let crashed: usize = record.late_writes.values().sum();
    assert!(crashed > 0, "some workers crashed");
    assert_eq!(
        record.late_writes.get(&409),
        Some(&crashed),
        "every late write was refused: {:?}",
        record.late_writes
    );
    for (task, leases) in &record.leases {
        let mut leases = leases.clone();
        leases.sort_by_key(|lease| lease.0);
        for pair in leases.windows(2) {
            assert!(
                pair[1].1 >= pair[0].2,
                "{task}: claim {} began before the lease of {} ended",
                pair[1].0,
                pair[0].0
            );
        }
    }
    // The owner sees each task completed by the claim that completed it.
    let sample = record.completed.iter().next().unwrap();
    let task: Value = api
        .get_task(user.token(), sample.0)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        (&task["status"], &task["result"]["token"]),
        (&json!("completed"), &json!(sample.1[0]))
    );
    println!(
        "{TASKS} tasks, {WORKERS} workers: {} claims, {} crashed writes refused",
        record.leases.values().map(Vec::len).sum::<usize>(),
        crashed
    );
    drop(record);
    api.remove(&user).await;
}

async fn futures_join(handles: Vec<tokio::task::JoinHandle<()>>) {
    for handle in handles {
        handle
            .await
            .expect("a worker finished without a failed assertion");
    }
}
