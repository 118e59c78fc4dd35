//! A local AWS Lambda Runtime API: the function process long-polls `/invocation/next`, gets one
//! event, and posts its `/response` (or `/error`); `invoke` measures that round trip the way
//! Lambda bills it.

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::sync::{Notify, mpsc, oneshot};

/// The largest synchronous response Lambda returns (the whole invocation response).
pub const MAX_RESPONSE_BYTES: usize = 6_291_556;

pub enum Outcome {
    Response(Vec<u8>),
    Error(Vec<u8>),
}

struct Pending {
    id: String,
    payload: Vec<u8>,
    reply: oneshot::Sender<Outcome>,
}

struct Inner {
    queue: tokio::sync::Mutex<mpsc::Receiver<Pending>>,
    waiting: Mutex<HashMap<String, oneshot::Sender<Outcome>>>,
    first_next: Mutex<Option<Instant>>,
    first_next_seen: Notify,
    init_error: Mutex<Option<String>>,
}

pub struct RuntimeApi {
    address: SocketAddr,
    sender: mpsc::Sender<Pending>,
    inner: Arc<Inner>,
    next_id: u64,
}

impl RuntimeApi {
    pub async fn start() -> std::io::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let address = listener.local_addr()?;
        let (sender, receiver) = mpsc::channel(1);
        let inner = Arc::new(Inner {
            queue: tokio::sync::Mutex::new(receiver),
            waiting: Mutex::new(HashMap::new()),
            first_next: Mutex::new(None),
            first_next_seen: Notify::new(),
            init_error: Mutex::new(None),
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
        Ok(Self {
            address,
            sender,
            inner,
            next_id: 0,
        })
    }

    /// The value of `AWS_LAMBDA_RUNTIME_API`.
    pub fn address(&self) -> String {
        self.address.to_string()
    }

    /// When the function first asked for work, once it has (its init is over then).
    pub async fn first_next(&self, timeout: Duration) -> Option<Instant> {
        let seen = self.inner.first_next_seen.notified();
        if let Some(at) = *self.inner.first_next.lock().ok()? {
            return Some(at);
        }
        tokio::time::timeout(timeout, seen).await.ok()?;
        *self.inner.first_next.lock().ok()?
    }

    pub fn init_error(&self) -> Option<String> {
        self.inner.init_error.lock().ok()?.clone()
    }

    /// Delivers one event and waits for the function's answer; returns the round-trip time.
    pub async fn invoke(&mut self, payload: Vec<u8>) -> Result<(Duration, Outcome), String> {
        self.next_id += 1;
        let (reply, answer) = oneshot::channel();
        let pending = Pending {
            id: format!("bench-{:08}", self.next_id),
            payload,
            reply,
        };
        let started = Instant::now();
        self.sender
            .send(pending)
            .await
            .map_err(|_| "the runtime API stopped".to_owned())?;
        let outcome = tokio::time::timeout(Duration::from_secs(30), answer)
            .await
            .map_err(|_| "the function did not answer within 30 s".to_owned())?
            .map_err(|_| "the function went away".to_owned())?;
        Ok((started.elapsed(), outcome))
    }
}

async fn route(
    inner: Arc<Inner>,
    request: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let path = request.uri().path().to_owned();
    let Some(rest) = path.strip_prefix("/2018-06-01/runtime/") else {
        return Ok(reply(StatusCode::NOT_FOUND, Vec::new()));
    };
    if rest == "invocation/next" {
        {
            let mut first = inner.first_next.lock().expect("not poisoned");
            if first.is_none() {
                *first = Some(Instant::now());
                inner.first_next_seen.notify_waiters();
            }
        }
        let Some(pending) = inner.queue.lock().await.recv().await else {
            return Ok(reply(StatusCode::GONE, Vec::new()));
        };
        inner
            .waiting
            .lock()
            .expect("not poisoned")
            .insert(pending.id.clone(), pending.reply);
        let deadline = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() + 30_000)
            .unwrap_or_default();
        let mut response = reply(StatusCode::OK, pending.payload);
        let headers = response.headers_mut();
        let header = |value: String| value.parse().expect("a valid header value");
        headers.insert("lambda-runtime-aws-request-id", header(pending.id));
        headers.insert("lambda-runtime-deadline-ms", header(deadline.to_string()));
        headers.insert(
            "lambda-runtime-invoked-function-arn",
            header("arn:aws:lambda:us-east-1:123456789012:function:bench".into()),
        );
        headers.insert(
            "lambda-runtime-trace-id",
            header("Root=1-00000000-000000000000000000000000;Sampled=0".into()),
        );
        headers.insert("content-type", header("application/json".into()));
        return Ok(response);
    }
    let body = request
        .into_body()
        .collect()
        .await
        .map(|b| b.to_bytes().to_vec())
        .unwrap_or_default();
    if rest == "init/error" {
        *inner.init_error.lock().expect("not poisoned") =
            Some(String::from_utf8_lossy(&body).into_owned());
        return Ok(reply(StatusCode::ACCEPTED, Vec::new()));
    }
    if let Some(rest) = rest.strip_prefix("invocation/") {
        let (id, kind) = rest.split_once('/').unwrap_or((rest, ""));
        let waiting = inner.waiting.lock().expect("not poisoned").remove(id);
        if let Some(sender) = waiting {
            // Lambda refuses a response over its limit: the invocation fails, and API Gateway
            // answers 500. So does this harness.
            if kind == "response" && body.len() > MAX_RESPONSE_BYTES {
                let message = format!(
                    "Function.ResponseSizeTooLarge: {} bytes, over Lambda's {MAX_RESPONSE_BYTES}",
                    body.len()
                );
                let _ = sender.send(Outcome::Error(message.into_bytes()));
                return Ok(reply(StatusCode::PAYLOAD_TOO_LARGE, Vec::new()));
            }
            let outcome = if kind == "response" {
                Outcome::Response(body)
            } else {
                Outcome::Error(body)
            };
            let _ = sender.send(outcome);
            return Ok(reply(StatusCode::ACCEPTED, Vec::new()));
        }
    }
    Ok(reply(StatusCode::NOT_FOUND, Vec::new()))
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

    /// One HTTP/1.1 exchange on a fresh connection; returns the status line.
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
        String::from_utf8_lossy(&answer)
            .lines()
            .next()
            .unwrap_or("")
            .to_owned()
    }

    #[tokio::test]
    async fn a_response_over_lambdas_limit_is_an_error_as_lambda_makes_it() {
        let mut api = RuntimeApi::start().await.unwrap();
        let address = api.address();
        let function = tokio::spawn(async move {
            exchange(&address, "GET /2018-06-01/runtime/invocation/next", b"").await;
            let big = vec![b'x'; MAX_RESPONSE_BYTES + 1];
            let path = "POST /2018-06-01/runtime/invocation/bench-00000001/response";
            exchange(&address, path, &big).await
        });

        let (_, outcome) = api.invoke(b"{}".to_vec()).await.unwrap();

        let Outcome::Error(message) = outcome else {
            panic!("a response over the limit must fail the invocation");
        };
        assert!(String::from_utf8_lossy(&message).contains("ResponseSizeTooLarge"));
        assert!(function.await.unwrap().contains("413"));
    }
}
