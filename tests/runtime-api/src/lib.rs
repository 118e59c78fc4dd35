//! The local AWS Lambda Runtime API of every test harness (the bench, the burst drill, the deploy
//! rehearsal): a function process long-polls `/invocation/next`, gets one event, and posts its
//! `/response` (or `/error`); [`RuntimeApi::invoke`] times that exchange the way Lambda bills it,
//! from the hand-over of the event to the answer.
//!
//! [`lambda_command`] is the one way to start a bootstrap: with the environment Lambda gives it,
//! pointed at this API. The bench uses both in-process; the Python harnesses use them through
//! the `local-runtime` command, whose `serve` adds a control interface under `/control/` (not
//! part of Lambda's API):
//! - `POST /control/invoke?timeout_s=N` with the event as the body answers with the function's
//!   body, `x-outcome: response | error` and `x-elapsed-us`; 504 when the function gave no answer
//!   or failed to start.
//! - `GET /control/state` answers `{"waiting": processes polling for an event, "init_errors": [...]}`.

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::sync::{Notify, mpsc, oneshot};

/// The largest synchronous response Lambda returns (the whole invocation response).
pub const MAX_RESPONSE_BYTES: usize = 6_291_556;

/// The region, account and function ARN every harness plays.
pub const REGION: &str = "us-east-1";
const FUNCTION_ARN: &str = "arn:aws:lambda:us-east-1:123456789012:function:local";

pub enum Outcome {
    Response(Vec<u8>),
    Error(Vec<u8>),
}

/// The answer and the time from the event's hand-over to it.
type Reply = oneshot::Sender<(Duration, Outcome)>;

struct Pending {
    id: String,
    payload: Vec<u8>,
    reply: Reply,
}

struct Inner {
    sender: mpsc::Sender<Pending>,
    queue: tokio::sync::Mutex<mpsc::Receiver<Pending>>,
    next_id: AtomicU64,
    /// Processes waiting in `/invocation/next`.
    polling: AtomicUsize,
    /// Events handed over and not yet answered: who waits for the answer, and since when.
    handed_over: Mutex<HashMap<String, (Instant, Reply)>>,
    first_next: Mutex<Option<Instant>>,
    first_next_seen: Notify,
    init_errors: Mutex<Vec<String>>,
    init_failed: Notify,
}

/// A Runtime API on a free loopback port, for one function process or for many that share its
/// events (the burst drill).
pub struct RuntimeApi {
    address: SocketAddr,
    inner: Arc<Inner>,
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl RuntimeApi {
    pub async fn start() -> std::io::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let address = listener.local_addr()?;
        let (sender, receiver) = mpsc::channel(1);
        let inner = Arc::new(Inner {
            sender,
            queue: tokio::sync::Mutex::new(receiver),
            next_id: AtomicU64::new(0),
            polling: AtomicUsize::new(0),
            handed_over: Mutex::new(HashMap::new()),
            first_next: Mutex::new(None),
            first_next_seen: Notify::new(),
            init_errors: Mutex::new(Vec::new()),
            init_failed: Notify::new(),
        });
        let server = Arc::clone(&inner);
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let inner = Arc::clone(&server);
                tokio::spawn(async move {
                    let service = service_fn(move |request| route(Arc::clone(&inner), request));
                    let _ = http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Ok(Self { address, inner })
    }

    /// The value of `AWS_LAMBDA_RUNTIME_API`.
    pub fn address(&self) -> String {
        self.address.to_string()
    }

    /// When a function first asked for work, once one has (its init is over then).
    pub async fn first_next(&self, timeout: Duration) -> Option<Instant> {
        let seen = self.inner.first_next_seen.notified();
        if let Some(at) = *lock(&self.inner.first_next) {
            return Some(at);
        }
        tokio::time::timeout(timeout, seen).await.ok()?;
        *lock(&self.inner.first_next)
    }

    /// The first error a function reported from its init, if any.
    pub fn init_error(&self) -> Option<String> {
        lock(&self.inner.init_errors).first().cloned()
    }

    /// How many processes are waiting for an event now.
    pub fn waiting(&self) -> usize {
        self.inner.polling.load(Ordering::SeqCst)
    }

    /// Delivers one event, waits up to 30 s for its answer, and returns the time from the
    /// hand-over to the answer.
    pub async fn invoke(&self, payload: Vec<u8>) -> Result<(Duration, Outcome), String> {
        invoke(&self.inner, payload, Duration::from_secs(30)).await
    }

    /// [`Self::invoke`] with another limit.
    pub async fn invoke_within(
        &self,
        payload: Vec<u8>,
        timeout: Duration,
    ) -> Result<(Duration, Outcome), String> {
        invoke(&self.inner, payload, timeout).await
    }
}

async fn invoke(
    inner: &Inner,
    payload: Vec<u8>,
    timeout: Duration,
) -> Result<(Duration, Outcome), String> {
    let id = format!(
        "local-{:08}",
        inner.next_id.fetch_add(1, Ordering::SeqCst) + 1
    );
    let (reply, answer) = oneshot::channel();
    let work = async {
        inner
            .sender
            .send(Pending { id, payload, reply })
            .await
            .map_err(|_| "the runtime API stopped".to_owned())?;
        answer
            .await
            .map_err(|_| "the function went away".to_owned())
    };
    let failed = async {
        loop {
            let notified = inner.init_failed.notified();
            if let Some(error) = lock(&inner.init_errors).first() {
                return format!("the function failed to start: {error}");
            }
            notified.await;
        }
    };
    tokio::select! {
        answer = tokio::time::timeout(timeout, work) => answer
            .map_err(|_| format!("the function did not answer within {} s", timeout.as_secs()))?,
        error = failed => Err(error),
    }
}

/// The process of `bootstrap` with the environment Lambda gives a function named `name` with
/// `memory_mb`, pointed at the Runtime API at `api`; nothing else is inherited. The caller adds
/// the function's own settings (and, for a cold start, the role's credentials and endpoints).
pub fn lambda_command(
    bootstrap: &Path,
    name: &str,
    memory_mb: u32,
    api: &str,
) -> std::process::Command {
    let mut command = std::process::Command::new(bootstrap);
    command
        .env_clear()
        .env("AWS_LAMBDA_RUNTIME_API", api)
        .env("AWS_LAMBDA_FUNCTION_NAME", name)
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", memory_mb.to_string())
        .env("AWS_LAMBDA_LOG_FORMAT", "JSON")
        .env("AWS_LAMBDA_LOG_LEVEL", "INFO")
        .env("AWS_EXECUTION_ENV", "AWS_Lambda_provided.al2023")
        .env("AWS_REGION", REGION)
        .env("AWS_DEFAULT_REGION", REGION)
        // The execution role's credentials, played by fakes: nothing here may reach AWS.
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_SESSION_TOKEN", "testing")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("_HANDLER", "bootstrap")
        .env("TZ", ":UTC");
    command
}

async fn route(
    inner: Arc<Inner>,
    request: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let path = request.uri().path().to_owned();
    if let Some(control) = path.strip_prefix("/control/") {
        return Ok(self::control(&inner, control, request).await);
    }
    let Some(rest) = path.strip_prefix("/2018-06-01/runtime/") else {
        return Ok(reply(StatusCode::NOT_FOUND, Vec::new()));
    };
    if rest == "invocation/next" {
        return Ok(next(&inner).await);
    }
    let body = read_body(request).await;
    if rest == "init/error" {
        lock(&inner.init_errors).push(String::from_utf8_lossy(&body).into_owned());
        inner.init_failed.notify_waiters();
        return Ok(reply(StatusCode::ACCEPTED, Vec::new()));
    }
    if let Some(rest) = rest.strip_prefix("invocation/") {
        let (id, kind) = rest.split_once('/').unwrap_or((rest, ""));
        let handed_over = lock(&inner.handed_over).remove(id);
        if let Some((since, sender)) = handed_over {
            let took = since.elapsed();
            // Lambda refuses a response over its limit: the invocation fails, and API Gateway
            // answers 500. So does this harness.
            if kind == "response" && body.len() > MAX_RESPONSE_BYTES {
                let message = format!(
                    "Function.ResponseSizeTooLarge: {} bytes, over Lambda's {MAX_RESPONSE_BYTES}",
                    body.len()
                );
                let _ = sender.send((took, Outcome::Error(message.into_bytes())));
                return Ok(reply(StatusCode::PAYLOAD_TOO_LARGE, Vec::new()));
            }
            let outcome = if kind == "response" {
                Outcome::Response(body)
            } else {
                Outcome::Error(body)
            };
            let _ = sender.send((took, outcome));
            return Ok(reply(StatusCode::ACCEPTED, Vec::new()));
        }
    }
    Ok(reply(StatusCode::NOT_FOUND, Vec::new()))
}

/// `GET /invocation/next`: waits for an event and hands it over with Lambda's headers.
async fn next(inner: &Inner) -> Response<Full<Bytes>> {
    {
        let mut first = lock(&inner.first_next);
        if first.is_none() {
            *first = Some(Instant::now());
            inner.first_next_seen.notify_waiters();
        }
    }
    inner.polling.fetch_add(1, Ordering::SeqCst);
    let pending = inner.queue.lock().await.recv().await;
    inner.polling.fetch_sub(1, Ordering::SeqCst);
    let Some(pending) = pending else {
        return reply(StatusCode::GONE, Vec::new());
    };
    lock(&inner.handed_over).insert(pending.id.clone(), (Instant::now(), pending.reply));
    let deadline = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() + 600_000)
        .unwrap_or_default();
    let mut response = reply(StatusCode::OK, pending.payload);
    let headers = response.headers_mut();
    for (name, value) in [
        ("lambda-runtime-aws-request-id", pending.id),
        ("lambda-runtime-deadline-ms", deadline.to_string()),
        ("lambda-runtime-invoked-function-arn", FUNCTION_ARN.into()),
        (
            "lambda-runtime-trace-id",
            "Root=1-00000000-000000000000000000000000;Sampled=0".into(),
        ),
        ("content-type", "application/json".into()),
    ] {
        if let Ok(value) = value.parse() {
            headers.insert(name, value);
        }
    }
    response
}

/// The harness's own interface (module docs).
async fn control(inner: &Inner, what: &str, request: Request<Incoming>) -> Response<Full<Bytes>> {
    match (request.method().clone(), what) {
        (Method::GET, "state") => {
            let state = serde_json::json!({
                "waiting": inner.polling.load(Ordering::SeqCst),
                "init_errors": *lock(&inner.init_errors),
            });
            reply(StatusCode::OK, state.to_string().into_bytes())
        }
        (Method::POST, "invoke") => {
            let timeout_s = request
                .uri()
                .query()
                .and_then(|q| q.strip_prefix("timeout_s="))
                .and_then(|s| s.parse().ok())
                .unwrap_or(30);
            let payload = read_body(request).await;
            match invoke(inner, payload, Duration::from_secs(timeout_s)).await {
                Ok((took, outcome)) => {
                    let (kind, body) = match outcome {
                        Outcome::Response(body) => ("response", body),
                        Outcome::Error(body) => ("error", body),
                    };
                    let mut response = reply(StatusCode::OK, body);
                    let headers = response.headers_mut();
                    headers.insert("x-outcome", hyper::header::HeaderValue::from_static(kind));
                    if let Ok(value) = took.as_micros().to_string().parse() {
                        headers.insert("x-elapsed-us", value);
                    }
                    response
                }
                Err(message) => reply(StatusCode::GATEWAY_TIMEOUT, message.into_bytes()),
            }
        }
        _ => reply(StatusCode::NOT_FOUND, Vec::new()),
    }
}

async fn read_body(request: Request<Incoming>) -> Vec<u8> {
    request
        .into_body()
        .collect()
        .await
        .map(|b| b.to_bytes().to_vec())
        .unwrap_or_default()
}

fn reply(status: StatusCode, body: Vec<u8>) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    response
}

#[cfg(test)]
mod tests {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpStream;

    use super::*;

    /// One HTTP/1.1 exchange on a fresh connection; returns the whole answer.
    async fn exchange(address: &str, head: &str, body: &[u8]) -> String {
        let mut stream = TcpStream::connect(address).await.unwrap();
        let request = format!(
            "{head} HTTP/1.1\r\nhost: localhost\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
            body.len()
        );
        stream.write_all(request.as_bytes()).await.unwrap();
        stream.write_all(body).await.unwrap();
        let mut answer = Vec::new();
        stream.read_to_end(&mut answer).await.unwrap();
        String::from_utf8_lossy(&answer).into_owned()
    }

    fn status_line(answer: &str) -> &str {
        answer.lines().next().unwrap_or("")
    }

    #[tokio::test]
    async fn a_response_over_lambdas_limit_is_an_error_as_lambda_makes_it() {
        let api = RuntimeApi::start().await.unwrap();
        let address = api.address();
        let function = tokio::spawn(async move {
            exchange(&address, "GET /2018-06-01/runtime/invocation/next", b"").await;
            let big = vec![b'x'; MAX_RESPONSE_BYTES + 1];
            let path = "POST /2018-06-01/runtime/invocation/local-00000001/response";
            exchange(&address, path, &big).await
        });

        let (_, outcome) = api.invoke(b"{}".to_vec()).await.unwrap();

        let Outcome::Error(message) = outcome else {
            panic!("a response over the limit must fail the invocation");
        };
        assert!(String::from_utf8_lossy(&message).contains("ResponseSizeTooLarge"));
        assert!(status_line(&function.await.unwrap()).contains("413"));
    }

    #[tokio::test]
    async fn the_control_interface_counts_pollers_and_relays_an_invocation() {
        let api = RuntimeApi::start().await.unwrap();
        let address = api.address();
        let poller = {
            let address = address.clone();
            tokio::spawn(async move {
                let event =
                    exchange(&address, "GET /2018-06-01/runtime/invocation/next", b"").await;
                let id = event
                    .lines()
                    .find_map(|l| l.strip_prefix("lambda-runtime-aws-request-id: "))
                    .unwrap()
                    .to_owned();
                assert!(
                    event.ends_with("{\"n\":1}"),
                    "the event reaches the function: {event}"
                );
                let path = format!("POST /2018-06-01/runtime/invocation/{id}/response");
                exchange(&address, &path, b"{\"ok\":true}").await
            })
        };
        while api.waiting() == 0 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let state = exchange(&address, "GET /control/state", b"").await;
        assert!(
            state.ends_with(r#"{"init_errors":[],"waiting":1}"#),
            "{state}"
        );

        let answer = exchange(&address, "POST /control/invoke?timeout_s=5", b"{\"n\":1}").await;

        assert!(status_line(&answer).contains("200"), "{answer}");
        assert!(answer.contains("x-outcome: response"), "{answer}");
        assert!(answer.contains("x-elapsed-us: "), "{answer}");
        assert!(answer.ends_with("{\"ok\":true}"), "{answer}");
        assert!(status_line(&poller.await.unwrap()).contains("202"));
        assert_eq!(api.waiting(), 0);
    }

    #[tokio::test]
    async fn an_init_error_ends_the_wait_for_an_answer_at_once() {
        let api = RuntimeApi::start().await.unwrap();
        let address = api.address();
        tokio::spawn(async move {
            exchange(
                &address,
                "POST /2018-06-01/runtime/init/error",
                b"no secret",
            )
            .await
        });

        let error = api
            .invoke_within(b"{}".to_vec(), Duration::from_secs(60))
            .await
            .err()
            .unwrap();

        assert!(error.contains("failed to start: no secret"), "{error}");
    }
}
