use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;

use serde_json::{Value, json};
use sqlx::PgPool;

use super::*;

/// A one-shot HTTP server on loopback standing in for the pre-signed S3 URL: it answers
/// `status` and hands over the method, headers and body it received.
fn response_url(status: u16) -> (String, mpsc::Receiver<(String, Vec<String>, Value)>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!(
        "http://{}/cloudformation-response?X-Amz-Signature=abc",
        listener.local_addr().unwrap()
    );
    let (sender, receiver) = mpsc::channel();
    std::thread::spawn(move || {
        let (stream, _) = listener.accept().unwrap();
        let mut reader = BufReader::new(stream.try_clone().unwrap());
        let mut request_line = String::new();
        reader.read_line(&mut request_line).unwrap();
        let mut headers = Vec::new();
        let mut length = 0;
        loop {
            let mut line = String::new();
            reader.read_line(&mut line).unwrap();
            let line = line.trim_end().to_owned();
            if line.is_empty() {
                break;
            }
            if let Some(value) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                length = value.trim().parse().unwrap();
            }
            headers.push(line.to_ascii_lowercase());
        }
        let mut body = vec![0; length];
        reader.read_exact(&mut body).unwrap();
        let mut stream = stream;
        write!(
            stream,
            "HTTP/1.1 {status} X\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
        )
        .unwrap();
        let method = request_line.split(' ').next().unwrap_or("").to_owned();
        sender
            .send((method, headers, serde_json::from_slice(&body).unwrap()))
            .unwrap();
    });
    (url, receiver)
}

fn event(request_type: &str, url: &str) -> CustomResourceEvent {
    let mut event = json!({
        "RequestType": request_type,
        "ServiceToken": "arn:aws:lambda:us-east-1:123456789012:function:migrate",
        "ResponseURL": url,
        "StackId": "arn:aws:cloudformation:us-east-1:123456789012:stack/taskapi/guid",
        "RequestId": "unique-request-1",
        "LogicalResourceId": "DatabaseMigrations",
        "ResourceType": "Custom::DatabaseMigrations",
        "ResourceProperties": {"ServiceToken": "arn", "MigrationsVersion": "abc123"}
    });
    if request_type != "Create" {
        event["PhysicalResourceId"] = json!(PHYSICAL_RESOURCE_ID);
    }
    serde_json::from_value(event).unwrap()
}

fn client() -> reqwest::Client {
    response_client().unwrap()
}

#[tokio::test]
async fn create_and_update_run_the_migrations_and_report_success() {
    for request_type in ["Create", "Update"] {
        let (url, received) = response_url(200);
        let ran = AtomicBool::new(false);

        handle(event(request_type, &url), &client(), || async {
            ran.store(true, Ordering::SeqCst);
            Ok(3)
        })
        .await
        .unwrap();

        assert!(ran.load(Ordering::SeqCst), "{request_type}");
        let (method, headers, body) = received.recv().unwrap();
        assert_eq!(method, "PUT");
        assert!(
            headers.contains(&"content-type: ".to_owned())
                || headers.contains(&"content-type:".to_owned()),
            "{headers:?}"
        );
        assert_eq!(body["Status"], "SUCCESS");
        assert_eq!(body["Data"]["Applied"], 3);
        assert_eq!(body["PhysicalResourceId"], PHYSICAL_RESOURCE_ID);
        assert_eq!(body["RequestId"], "unique-request-1");
        assert_eq!(body["LogicalResourceId"], "DatabaseMigrations");
        assert_eq!(
            body["StackId"],
            "arn:aws:cloudformation:us-east-1:123456789012:stack/taskapi/guid"
        );
    }
}

#[tokio::test]
async fn delete_succeeds_without_touching_the_database() {
    let (url, received) = response_url(200);

    handle(event("Delete", &url), &client(), || async {
        panic!("delete must not migrate");
        #[allow(unreachable_code)]
        Ok(0)
    })
    .await
    .unwrap();

    let (_, _, body) = received.recv().unwrap();
    assert_eq!(body["Status"], "SUCCESS");
    assert_eq!(body["PhysicalResourceId"], PHYSICAL_RESOURCE_ID);
}

#[tokio::test]
async fn a_failed_migration_is_reported_as_failed_with_the_reason() {
    let (url, received) = response_url(200);

    handle(event("Update", &url), &client(), || async {
        Err::<usize, BoxError>("relation \"tasks\" already exists".into())
    })
    .await
    .unwrap();

    let (_, _, body) = received.recv().unwrap();
    assert_eq!(body["Status"], "FAILED");
    assert!(
        body["Reason"].as_str().unwrap().contains("already exists"),
        "{body}"
    );
    assert_eq!(body["PhysicalResourceId"], PHYSICAL_RESOURCE_ID);
}

#[tokio::test]
async fn a_refused_report_is_an_error() {
    let (url, _received) = response_url(403);

    let result = handle(event("Delete", &url), &client(), || async { Ok(0) }).await;

    assert!(result.is_err());
}

#[sqlx::test(migrations = false)]
async fn create_applies_the_real_migrations_to_an_empty_database(db: PgPool) {
    let (url, received) = response_url(200);
    let connect = db.connect_options().as_ref().clone();

    handle(event("Create", &url), &client(), || {
        crate::apply(connect.clone(), crate::DEFAULT_STATEMENT_TIMEOUT, None)
    })
    .await
    .unwrap();

    let (_, _, body) = received.recv().unwrap();
    assert_eq!(body["Status"], "SUCCESS");
    assert_eq!(body["Data"]["Applied"], shared::db::MIGRATOR.iter().count());
    let tables: i64 = sqlx::query_scalar(
        "select count(*) from information_schema.tables where table_name in ('users', 'agents', 'tasks', 'task_steps', 'audit_logs')",
    )
    .fetch_one(&db)
    .await
    .unwrap();
    assert_eq!(tables, 5);

    // A second deploy finds nothing to apply.
    let (url, received) = response_url(200);
    handle(event("Update", &url), &client(), || {
        crate::apply(connect, crate::DEFAULT_STATEMENT_TIMEOUT, None)
    })
    .await
    .unwrap();
    assert_eq!(received.recv().unwrap().2["Data"]["Applied"], 0);
}
