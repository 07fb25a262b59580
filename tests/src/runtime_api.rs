//! A Lambda Runtime API of the tests' own, on 127.0.0.1, for what `cargo lambda watch`
//! cannot do: record init errors, hand out invocations with the trace ids and deadlines a
//! test chooses (several at once, as on Managed Instances), and play an Extensions API
//! that refuses, ignores or breaks the registration.
//!
//! It speaks just enough HTTP/1.1 for lambda_runtime and lambda-extension: one thread per
//! connection, requests read one after another (keep-alive), bodies by `Content-Length`.

use std::collections::{HashMap, VecDeque};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::Value;

/// How the Extensions API answers a registration.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Extensions {
    /// As Lambda does: an identifier, then every event poll held open.
    Accept,
    /// The registration is answered with this status.
    Refuse(u16),
    /// The registration is never answered.
    NeverAnswer,
    /// The registration is answered 200, but without the extension's identifier.
    AcceptWithoutIdentifier,
    /// The registration is accepted, then every event poll's connection is closed before
    /// an answer: the poll that tells Lambda the extension's init is done never gets through.
    AcceptThenFailPolls,
    /// The registration is accepted, then every event poll is held open for 1.5 s (init
    /// is over by then) and its connection closed: a Runtime API lost later.
    AcceptThenFailPollsLater,
    /// The registration is accepted, then every event poll is answered at once, with an
    /// event nobody subscribed to (as `cargo lambda watch` does).
    AcceptThenAnswerPolls,
}

/// One invocation to hand out.
#[derive(Clone, Debug)]
pub struct Invocation {
    pub request_id: String,
    pub payload: String,
    /// `Lambda-Runtime-Trace-Id`, if any.
    pub trace_id: Option<String>,
    pub deadline: Duration,
}

/// What the function posted for an invocation.
#[derive(Clone, Debug)]
pub struct Answer {
    /// `/response` rather than `/error`.
    pub ok: bool,
    pub body: Value,
}

/// What the function posted to `/runtime/init/error`.
#[derive(Clone, Debug)]
pub struct InitError {
    /// The `Lambda-Runtime-Function-Error-Type` header.
    pub header: String,
    pub body: Value,
}

#[derive(Default)]
struct State {
    queue: VecDeque<Invocation>,
    answers: HashMap<String, Answer>,
    init_errors: Vec<InitError>,
    /// Runtime `/next` requests received.
    nexts: usize,
    /// Extension event polls received.
    extension_polls: usize,
    registrations: usize,
}

type Shared = Arc<(Mutex<State>, Condvar)>;

pub struct RuntimeApi {
    port: u16,
    state: Shared,
}

impl RuntimeApi {
    pub fn start(extensions: Extensions) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("a port on 127.0.0.1");
        let port = listener.local_addr().unwrap().port();
        let state: Shared = Arc::default();
        let shared = state.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let state = shared.clone();
                std::thread::spawn(move || serve(stream, &state, extensions));
            }
        });
        Self { port, state }
    }

    /// What `AWS_LAMBDA_RUNTIME_API` is set to: `host:port`, as Lambda sets it.
    pub fn address(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Queues an invocation; the next `/next` takes it.
    pub fn invoke(&self, invocation: Invocation) {
        let (lock, changed) = &*self.state;
        lock_state(lock).queue.push_back(invocation);
        changed.notify_all();
    }

    /// The answer to `request_id`, once posted, within `limit`.
    pub fn answer(&self, request_id: &str, limit: Duration) -> Option<Answer> {
        self.wait(limit, |state| state.answers.get(request_id).cloned())
    }

    /// The first init error, once posted, within `limit`.
    pub fn init_error(&self, limit: Duration) -> Option<InitError> {
        self.wait(limit, |state| state.init_errors.first().cloned())
    }

    /// How many `/next` requests the runtime has sent.
    pub fn nexts(&self) -> usize {
        lock_state(&self.state.0).nexts
    }

    /// Waits until the runtime has sent a `/next`, within `limit`: init is over.
    pub fn wait_next(&self, limit: Duration) -> bool {
        self.wait(limit, |state| (state.nexts > 0).then_some(()))
            .is_some()
    }

    /// (registrations, extension event polls) received so far.
    pub fn extension_requests(&self) -> (usize, usize) {
        let state = lock_state(&self.state.0);
        (state.registrations, state.extension_polls)
    }

    fn wait<T>(&self, limit: Duration, mut ready: impl FnMut(&State) -> Option<T>) -> Option<T> {
        let (lock, changed) = &*self.state;
        let until = Instant::now() + limit;
        let mut state = lock_state(lock);
        loop {
            if let Some(found) = ready(&state) {
                return Some(found);
            }
            let left = until.checked_duration_since(Instant::now())?;
            state = changed
                .wait_timeout(state, left)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
    }
}

fn lock_state(lock: &Mutex<State>) -> MutexGuard<'_, State> {
    lock.lock().unwrap_or_else(|p| p.into_inner())
}

/// One request: its line and headers (names lowercased) and body.
struct Request {
    method: String,
    path: String,
    headers: HashMap<String, String>,
    body: Vec<u8>,
}

fn read_request(reader: &mut BufReader<TcpStream>) -> Option<Request> {
    let mut line = String::new();
    if reader.read_line(&mut line).ok()? == 0 {
        return None;
    }
    let mut parts = line.split_whitespace();
    let (method, path) = (parts.next()?.to_string(), parts.next()?.to_string());
    let mut headers = HashMap::new();
    loop {
        let mut header = String::new();
        reader.read_line(&mut header).ok()?;
        let header = header.trim_end();
        if header.is_empty() {
            break;
        }
        let (name, value) = header.split_once(':')?;
        headers.insert(name.trim().to_ascii_lowercase(), value.trim().to_string());
    }
    let length = headers
        .get("content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0; length];
    reader.read_exact(&mut body).ok()?;
    Some(Request {
        method,
        path,
        headers,
        body,
    })
}

fn respond(stream: &mut TcpStream, status: u16, headers: &[(&str, String)], body: &str) -> bool {
    let mut head = format!("HTTP/1.1 {status} X\r\ncontent-length: {}\r\n", body.len());
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).is_ok() && stream.write_all(body.as_bytes()).is_ok()
}

/// Holds the connection open, as Lambda holds a poll that has nothing to give.
fn hold() -> ! {
    loop {
        std::thread::sleep(Duration::from_secs(3600));
    }
}

fn serve(stream: TcpStream, state: &Shared, extensions: Extensions) {
    let mut out = stream.try_clone().expect("a clone of the connection");
    let mut reader = BufReader::new(stream);
    let (lock, changed) = &**state;
    while let Some(request) = read_request(&mut reader) {
        let path = request.path.as_str();
        let ok = match (request.method.as_str(), path) {
            ("POST", "/2020-01-01/extension/register") => {
                lock_state(lock).registrations += 1;
                changed.notify_all();
                match extensions {
                    Extensions::NeverAnswer => hold(),
                    Extensions::Refuse(status) => respond(&mut out, status, &[], ""),
                    Extensions::AcceptWithoutIdentifier => respond(&mut out, 200, &[], "{}"),
                    Extensions::Accept
                    | Extensions::AcceptThenFailPolls
                    | Extensions::AcceptThenFailPollsLater
                    | Extensions::AcceptThenAnswerPolls => respond(
                        &mut out,
                        200,
                        &[("lambda-extension-identifier", "ext-1".into())],
                        r#"{"functionName":"f","functionVersion":"$LATEST","handler":"bootstrap"}"#,
                    ),
                }
            }
            ("GET", "/2020-01-01/extension/event/next") => {
                lock_state(lock).extension_polls += 1;
                changed.notify_all();
                match extensions {
                    Extensions::AcceptThenFailPolls => return, // closes the connection
                    Extensions::AcceptThenFailPollsLater => {
                        std::thread::sleep(Duration::from_millis(1500));
                        return;
                    }
                    Extensions::AcceptThenAnswerPolls => {
                        respond(&mut out, 200, &[], r#"{"requestId":"r-1"}"#)
                    }
                    _ => hold(),
                }
            }
            ("GET", "/2018-06-01/runtime/invocation/next") => {
                let invocation = {
                    let mut state = lock_state(lock);
                    state.nexts += 1;
                    changed.notify_all();
                    loop {
                        if let Some(invocation) = state.queue.pop_front() {
                            break invocation;
                        }
                        state = changed.wait(state).unwrap_or_else(|p| p.into_inner());
                    }
                };
                let deadline = SystemTime::now() + invocation.deadline;
                let deadline_ms = deadline.duration_since(UNIX_EPOCH).unwrap().as_millis();
                let mut headers = vec![
                    (
                        "lambda-runtime-aws-request-id",
                        invocation.request_id.clone(),
                    ),
                    ("lambda-runtime-deadline-ms", deadline_ms.to_string()),
                    (
                        "lambda-runtime-invoked-function-arn",
                        "arn:aws:lambda:us-east-1:123456789012:function:f".into(),
                    ),
                    ("content-type", "application/json".into()),
                ];
                if let Some(trace_id) = &invocation.trace_id {
                    headers.push(("lambda-runtime-trace-id", trace_id.clone()));
                }
                respond(&mut out, 200, &headers, &invocation.payload)
            }
            ("POST", "/2018-06-01/runtime/init/error") => {
                let error = InitError {
                    header: request
                        .headers
                        .get("lambda-runtime-function-error-type")
                        .cloned()
                        .unwrap_or_default(),
                    body: serde_json::from_slice(&request.body).unwrap_or(Value::Null),
                };
                lock_state(lock).init_errors.push(error);
                changed.notify_all();
                respond(&mut out, 202, &[], r#"{"status":"OK"}"#)
            }
            ("POST", _) if path.starts_with("/2018-06-01/runtime/invocation/") => {
                let rest = &path["/2018-06-01/runtime/invocation/".len()..];
                let (request_id, ok) = match rest.rsplit_once('/') {
                    Some((id, "response")) => (id, true),
                    Some((id, _)) => (id, false),
                    None => (rest, false),
                };
                let answer = Answer {
                    ok,
                    body: serde_json::from_slice(&request.body).unwrap_or(Value::Null),
                };
                lock_state(lock).answers.insert(request_id.into(), answer);
                changed.notify_all();
                respond(&mut out, 202, &[], r#"{"status":"OK"}"#)
            }
            _ => respond(&mut out, 404, &[], "{}"),
        };
        if !ok {
            return;
        }
    }
}
