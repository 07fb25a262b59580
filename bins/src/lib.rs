//! Wiring shared by the functions' `main.rs` files: the runtime, logging, the SIGTERM hook and its
//! extension, Lambda error reports, and `pow` without libm.so.

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use lambda_runtime::Diagnostic;
use shared::ErrorKind;
use tracing_subscriber::filter::LevelFilter;

/// How many invocations this environment serves at once: `AWS_LAMBDA_MAX_CONCURRENCY` on
/// Lambda Managed Instances (1 to 1600), 1 on classic Lambda (unset), as
/// `lambda_runtime::run_concurrent` reads it.
pub fn max_concurrency() -> usize {
    std::env::var("AWS_LAMBDA_MAX_CONCURRENCY")
        .ok()
        .and_then(|v| v.parse::<usize>().ok())
        .filter(|&n| n > 0)
        .unwrap_or(1)
}

/// `pow` for these binaries, so that the loader does not map the system's libm at all.
///
/// It is the only symbol they take from libm.so (tokio's multi-thread scheduler and the
/// SDK's retry backoff call `f64::powf`). Defined here, the linker resolves it in the
/// binary and libm.so drops out of its `NEEDED` list. Loading it (opening, mapping and
/// relocating a 0.9 MB library, running its IFUNC resolvers) was 0.04-0.06 ms of every
/// cold start on the bench machine (decrypt-env with and without it, side by side in four
/// runs). `make zip` fails if a bootstrap needs libm.so again. The `libm` crate is the
/// Rust port of musl's, as `compiler-builtins` uses.
#[no_mangle]
pub extern "C" fn pow(x: f64, y: f64) -> f64 {
    libm::pow(x, y)
}

/// Runs the function's `main` on the tokio runtime that fits how Lambda runs it.
///
/// One invocation at a time (classic Lambda, or one vCPU): the single-thread runtime,
/// cheapest to start and with no cross-thread hand-offs. Several at once on several vCPUs
/// (Managed Instances): the multi-thread runtime with a worker per vCPU (at most one per
/// concurrent invocation), so that their TLS, SigV4 and JSON work runs in parallel.
pub fn start<F: Future<Output = Result<(), lambda_runtime::Error>>>(
    main: F,
) -> Result<(), lambda_runtime::Error> {
    let concurrency = max_concurrency();
    // vCPUs are only counted when they matter: counting reads cgroup files, in init.
    let cpus =
        (concurrency > 1).then(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    let workers = cpus.map_or(1, |cpus| concurrency.min(cpus));
    let runtime = if workers > 1 {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(workers)
            .enable_all()
            .build()?
    } else {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?
    };
    runtime.block_on(async {
        init_logging();
        tracing::info!(concurrency, cpus, workers, "runtime chosen");
        main.await
    })
}

/// Logs as Lambda expects: JSON lines when the function's log format is JSON
/// (`AWS_LAMBDA_LOG_FORMAT`), level from `AWS_LAMBDA_LOG_LEVEL` or `RUST_LOG`.
///
/// Like `lambda_runtime::tracing::init_default_subscriber`, but with a plain level instead
/// of an `EnvFilter`: that filter links the `regex` engine into every `bootstrap`.
pub fn init_logging() {
    let var = |name| std::env::var(name).ok();
    let level = var("AWS_LAMBDA_LOG_LEVEL")
        .or_else(|| var("RUST_LOG"))
        .and_then(|level| level.parse::<LevelFilter>().ok())
        .unwrap_or(LevelFilter::INFO);
    let json = var("AWS_LAMBDA_LOG_FORMAT").is_some_and(|f| f.eq_ignore_ascii_case("json"));
    let logs = tracing_subscriber::fmt()
        .with_max_level(level)
        .with_target(false)
        .with_ansi(false) // CloudWatch shows escape codes as text
        .without_time(); // CloudWatch stamps every line
                         // Only fails if a subscriber is already set, which then keeps logging.
    let _ = if json {
        logs.json().try_init()
    } else {
        logs.try_init()
    };
}

/// Runs one invocation and logs a report like Lambda's REPORT line: the time spent in the
/// handler (`duration_us`), whether it was this process's first invocation (`cold`: the
/// lazy globals are built then), when it started and which process served it. `make bench`
/// reads these lines.
pub async fn report<T, E>(invocation: impl Future<Output = Result<T, E>>) -> Result<T, E> {
    static INVOCATIONS: AtomicU64 = AtomicU64::new(0);
    let cold = INVOCATIONS.fetch_add(1, Ordering::Relaxed) == 0;
    let started_at_us = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |t| t.as_micros());
    let start = Instant::now();
    let result = invocation.await;
    tracing::info!(
        duration_us = start.elapsed().as_micros() as u64,
        cold,
        ok = result.is_ok(),
        started_at_us = started_at_us as u64,
        pid = std::process::id(),
        "invocation report"
    );
    result
}

/// Lambda's shutdown window for a function with an internal extension is 500 ms: wait for
/// in-flight invocations this long at most, then give the hook the rest.
#[cfg(feature = "rds")]
const DRAIN_LIMIT: std::time::Duration = std::time::Duration::from_millis(250);
#[cfg(feature = "rds")]
const HOOK_LIMIT: std::time::Duration = std::time::Duration::from_millis(150);
/// Registration is one request to the local Runtime API; init must never hang on it.
#[cfg(feature = "rds")]
const REGISTRATION_LIMIT: std::time::Duration = std::time::Duration::from_secs(1);

/// Runs `hook` when Lambda sends SIGTERM, then exits.
///
/// Lambda sends SIGTERM before reclaiming a container only to functions with an extension:
/// `extension` is a no-op internal one (`ShutdownExtension`), as
/// `lambda_runtime::spawn_graceful_shutdown_handler` registers. Unlike that helper, a
/// failed or slow registration is logged instead of panicking (a panic aborts the
/// process), and SIGTERM is only caught once the extension is there: otherwise the signal
/// would be swallowed for the life of the process. On SIGTERM the invocations in flight
/// finish and post their responses first (`in_flight`), all within Lambda's shutdown
/// window. Await it before the runtime starts: Lambda takes registrations only in init,
/// before the runtime's first request for work.
#[cfg(feature = "rds")]
pub async fn on_sigterm<F, Fut>(extension: ShutdownExtension, in_flight: InFlight, hook: F)
where
    F: FnOnce() -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    use tokio::signal::unix::{signal, SignalKind};
    use tokio::time::timeout;

    let poll = match extension.ready().await {
        Ok(poll) => poll,
        Err(err) => {
            return tracing::warn!(error = %err, "extension not registered; shutdown hook disabled")
        }
    };
    let mut sigterm = match signal(SignalKind::terminate()) {
        Ok(sigterm) => sigterm,
        Err(err) => {
            // The poll stays pending all the same: the extension registered, and a closed
            // poll is not what Lambda expects of a running one.
            std::mem::forget(poll);
            return tracing::warn!(error = %err, "no SIGTERM handler; shutdown hook disabled");
        }
    };
    tokio::spawn(async move {
        // The extension's pending event poll: open for as long as the process lives.
        let _poll = poll;
        if sigterm.recv().await.is_some() {
            tracing::info!(in_flight = in_flight.count(), "SIGTERM: shutting down");
            if timeout(DRAIN_LIMIT, in_flight.wait_idle()).await.is_err() {
                tracing::warn!(in_flight = in_flight.count(), "invocations still running");
            }
            if timeout(HOOK_LIMIT, hook()).await.is_err() {
                tracing::warn!("shutdown hook did not finish in time");
            }
            tracing::info!("shutdown complete");
            std::process::exit(0);
        }
    });
}

/// An internal extension subscribed to no events: it exists only so that Lambda sends the
/// process SIGTERM before shutting it down.
///
/// Registering is a round trip to Lambda's Runtime API. `register` sends the request
/// first thing in `main` and returns at once; the rest of init (the runtime, the logs,
/// the configuration) runs while Lambda answers, and `ready` reads the answer, which has
/// usually arrived by then. `ready` then sends the extension's first event poll, which
/// tells Lambda its init is done, on the same connection, and leaves it pending: with no
/// events subscribed, no answer ever comes.
///
/// Written here, with a plain socket and `httparse` (which `hyper` already links), not
/// with the `lambda-extension` crate: that client is async, so it could only send once the
/// tokio runtime is up, and then waits for the answer; it panics on a malformed
/// `AWS_LAMBDA_RUNTIME_API`, and its default features link `tracing-subscriber`'s
/// `EnvFilter` and a regex engine (156 KB of rds-enrich's zip).
#[cfg(feature = "rds")]
pub struct ShutdownExtension(Result<Registering, String>);

#[cfg(feature = "rds")]
struct Registering {
    api: RuntimeApi,
    stream: std::net::TcpStream,
    sent: std::time::Instant,
}

#[cfg(feature = "rds")]
impl ShutdownExtension {
    const NAME: &'static str = "_graceful-shutdown";

    /// Sends the registration to the Runtime API that `AWS_LAMBDA_RUNTIME_API` names.
    pub fn register() -> Self {
        Self::register_with(&std::env::var("AWS_LAMBDA_RUNTIME_API").unwrap_or_default())
    }

    /// `api`: `host:port` as Lambda sets it (emulators may add `http://` and a base path).
    fn register_with(api: &str) -> Self {
        Self(RuntimeApi::parse(api).and_then(|api| {
            let body = r#"{"events":[]}"#;
            let request = format!(
                "POST {}/2020-01-01/extension/register HTTP/1.1\r\nHost: {}\r\n\
                 Lambda-Extension-Name: {}\r\nContent-Type: application/json\r\n\
                 Content-Length: {}\r\n\r\n{body}",
                api.prefix,
                api.host,
                Self::NAME,
                body.len()
            );
            let sent = std::time::Instant::now();
            let stream = api
                .connect()
                .and_then(|mut stream| {
                    std::io::Write::write_all(&mut stream, request.as_bytes())?;
                    Ok(stream)
                })
                .map_err(|err| format!("registration: {err}"))?;
            Ok(Registering { api, stream, sent })
        }))
    }

    /// Reads the registration's answer (waiting for it if need be, up to the limit), then
    /// sends the first event poll. The connection returned holds that poll.
    async fn ready(self) -> Result<tokio::net::TcpStream, String> {
        use tokio::io::AsyncWriteExt;
        let Registering { api, stream, sent } = self.0?;
        let io = |err: std::io::Error| format!("registration: {err}");
        let mut stream = asynchronous(stream).map_err(io)?;
        let left = REGISTRATION_LIMIT.saturating_sub(sent.elapsed());
        let head = read_head(&mut stream);
        let answer = tokio::time::timeout(left, head)
            .await
            .map_err(|_| "registration: no answer in time".to_string())??;
        let status = answer.status;
        let id = match answer.id {
            Some(id) if (200..300).contains(&status) => id,
            Some(_) => return Err(format!("registration answered {status}")),
            None => {
                return Err(format!(
                    "registration answered {status} without an identifier"
                ))
            }
        };
        // Sent behind the registration's answer, whose body is left unread: nothing reads
        // this connection again. On a new one if the Runtime API closes this one.
        if answer.closes {
            stream = api.connect().and_then(asynchronous).map_err(io)?;
        }
        let poll = format!(
            "GET {}/2020-01-01/extension/event/next HTTP/1.1\r\nHost: {}\r\n\
             Lambda-Extension-Identifier: {id}\r\n\r\n",
            api.prefix, api.host
        );
        stream.write_all(poll.as_bytes()).await.map_err(io)?;
        Ok(stream)
    }
}

/// A connected socket, handed to tokio's reactor.
#[cfg(feature = "rds")]
fn asynchronous(stream: std::net::TcpStream) -> std::io::Result<tokio::net::TcpStream> {
    stream.set_nonblocking(true)?;
    tokio::net::TcpStream::from_std(stream)
}

/// Where the Runtime API is, from `AWS_LAMBDA_RUNTIME_API`.
#[cfg(feature = "rds")]
struct RuntimeApi {
    host: String,
    prefix: String,
}

#[cfg(feature = "rds")]
impl RuntimeApi {
    fn parse(api: &str) -> Result<Self, String> {
        let not_host = || format!("AWS_LAMBDA_RUNTIME_API is not host:port: {api:?}");
        let base: http::Uri = match api.contains("://") {
            true => api.parse(),
            false => format!("http://{api}").parse(),
        }
        .map_err(|_| not_host())?;
        match (base.scheme_str(), base.authority()) {
            (Some("http"), Some(host)) => Ok(Self {
                host: host.as_str().to_owned(),
                prefix: base.path().trim_end_matches('/').to_owned(),
            }),
            _ => Err(not_host()),
        }
    }

    /// A connection to the Runtime API: a local address, so connecting is immediate.
    fn connect(&self) -> std::io::Result<std::net::TcpStream> {
        use std::net::ToSocketAddrs;
        let mut last = None;
        for addr in self.host.to_socket_addrs()? {
            match std::net::TcpStream::connect_timeout(&addr, REGISTRATION_LIMIT) {
                Ok(stream) => return Ok(stream),
                Err(err) => last = Some(err),
            }
        }
        Err(last.unwrap_or_else(|| std::io::Error::other("the host resolves to no address")))
    }
}

/// What the registration's answer says, from its status line and headers.
#[cfg(feature = "rds")]
struct Answer {
    status: u16,
    /// `Lambda-Extension-Identifier`.
    id: Option<String>,
    /// The server closes the connection after it (`Connection: close`, or HTTP/1.0).
    closes: bool,
}

/// Reads a response's status line and headers.
#[cfg(feature = "rds")]
async fn read_head(stream: &mut (impl tokio::io::AsyncRead + Unpin)) -> Result<Answer, String> {
    use tokio::io::AsyncReadExt;
    const LIMIT: usize = 16 * 1024;
    let mut head = Vec::with_capacity(1024);
    let mut chunk = [0u8; 1024];
    loop {
        let read = stream
            .read(&mut chunk)
            .await
            .map_err(|err| format!("registration: {err}"))?;
        if read == 0 {
            return Err("registration: connection closed before the answer".into());
        }
        head.extend_from_slice(&chunk[..read]);
        let mut headers = [httparse::EMPTY_HEADER; 32];
        let mut response = httparse::Response::new(&mut headers);
        match response.parse(&head) {
            Ok(httparse::Status::Complete(_)) => {
                let header = |name: &str| {
                    response
                        .headers
                        .iter()
                        .find(|h| h.name.eq_ignore_ascii_case(name))
                        .and_then(|h| std::str::from_utf8(h.value).ok())
                };
                let connection = header("Connection").unwrap_or_default();
                let closes = match response.version {
                    Some(1) => connection.eq_ignore_ascii_case("close"),
                    _ => !connection.eq_ignore_ascii_case("keep-alive"),
                };
                return Ok(Answer {
                    status: response.code.unwrap_or(0),
                    id: header("Lambda-Extension-Identifier").map(str::to_owned),
                    closes,
                });
            }
            Ok(httparse::Status::Partial) if head.len() < LIMIT => {}
            Ok(httparse::Status::Partial) => {
                return Err("registration: answer headers too long".into())
            }
            Err(err) => return Err(format!("registration: unreadable answer: {err}")),
        }
    }
}

/// Counts the invocations in flight, from the event received to the response posted, so
/// that shutdown can wait for them. Add it to the runtime with `Runtime::layer`: the
/// service it wraps includes the POST of the response.
#[derive(Clone, Default)]
pub struct InFlight(std::sync::Arc<(std::sync::atomic::AtomicUsize, tokio::sync::Notify)>);

impl InFlight {
    pub fn count(&self) -> usize {
        self.0 .0.load(Ordering::SeqCst)
    }

    /// Returns once no invocation is in flight.
    pub async fn wait_idle(&self) {
        loop {
            let idle = self.0 .1.notified();
            if self.count() == 0 {
                return;
            }
            idle.await;
        }
    }

    fn enter(&self) -> InFlightGuard {
        self.0 .0.fetch_add(1, Ordering::SeqCst);
        InFlightGuard(self.clone())
    }
}

struct InFlightGuard(InFlight);

impl Drop for InFlightGuard {
    fn drop(&mut self) {
        if self.0 .0 .0.fetch_sub(1, Ordering::SeqCst) == 1 {
            self.0 .0 .1.notify_waiters();
        }
    }
}

impl<S> lambda_runtime::tower::Layer<S> for InFlight {
    type Service = Tracked<S>;
    fn layer(&self, inner: S) -> Tracked<S> {
        Tracked {
            inner,
            in_flight: self.clone(),
        }
    }
}

/// A runtime service whose calls count as in flight until they complete.
#[derive(Clone)]
pub struct Tracked<S> {
    inner: S,
    in_flight: InFlight,
}

impl<S, R> lambda_runtime::Service<R> for Tracked<S>
where
    S: lambda_runtime::Service<R>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = TrackedFuture<S::Future>;

    fn poll_ready(
        &mut self,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: R) -> Self::Future {
        let guard = self.in_flight.enter();
        TrackedFuture {
            inner: Box::pin(self.inner.call(request)),
            _guard: guard,
        }
    }
}

/// The wrapped future, and the guard that counts it until it completes or is dropped.
pub struct TrackedFuture<F> {
    inner: std::pin::Pin<Box<F>>,
    _guard: InFlightGuard,
}

impl<F: Future> Future for TrackedFuture<F> {
    type Output = F::Output;
    fn poll(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<F::Output> {
        self.inner.as_mut().poll(cx)
    }
}

/// Turns a domain error into Lambda's error response: `errorType` is the error's kind
/// (`NotFound`, `InvalidPayload`, ...), `errorMessage` its full text.
pub fn diagnostic<E: ErrorKind + std::fmt::Display>(err: E) -> Diagnostic {
    tracing::warn!(error_type = err.kind(), error = %err, "invocation failed");
    Diagnostic {
        error_type: err.kind().into(),
        error_message: err.to_string(),
    }
}

#[cfg(test)]
mod pow_tests {
    /// Against CPython's (the platform libm's) results; exact where the result is.
    #[test]
    fn pow_gives_the_platform_results() {
        for (x, y, expected) in [
            (2.0, 10.0, 1024.0),
            (0.9, 3.5, 0.6915901242788246),
            (2.0, 0.5, std::f64::consts::SQRT_2),
            (10.0, -3.0, 0.001),
            (7.0, 0.0, 1.0),
        ] {
            let got = super::pow(x, y);
            assert!(
                (got - expected).abs() <= f64::EPSILON * expected,
                "pow({x}, {y}) = {got}"
            );
        }
        assert!(super::pow(-8.0, 1.0 / 3.0).is_nan());
    }
}

#[cfg(all(test, feature = "rds"))]
mod shutdown_extension_tests {
    use super::ShutdownExtension;
    use std::io::{BufRead, BufReader, Write};
    use std::net::TcpListener;
    use std::sync::mpsc::{channel, Receiver};
    use std::time::Duration;

    /// A Runtime API on 127.0.0.1 that answers registrations with `answer` and reports each
    /// request as (connection number, request line, extension identifier header).
    fn runtime_api(answer: &'static str) -> (String, Receiver<(usize, String, Option<String>)>) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let api = listener.local_addr().unwrap().to_string();
        let (tx, rx) = channel();
        std::thread::spawn(move || {
            for (connection, stream) in listener.incoming().flatten().enumerate().take(4) {
                let tx = tx.clone();
                std::thread::spawn(move || {
                    let mut writer = stream.try_clone().unwrap();
                    let mut reader = BufReader::new(stream);
                    loop {
                        let mut line = String::new();
                        if reader.read_line(&mut line).unwrap_or(0) == 0 {
                            return;
                        }
                        let (mut id, mut length) = (None, 0);
                        loop {
                            let mut header = String::new();
                            reader.read_line(&mut header).unwrap();
                            if header == "\r\n" {
                                break;
                            }
                            let (name, value) = header.split_once(':').unwrap();
                            let value = value.trim().to_string();
                            match name.to_ascii_lowercase().as_str() {
                                "lambda-extension-identifier" => id = Some(value),
                                "content-length" => length = value.parse().unwrap(),
                                _ => {}
                            }
                        }
                        let mut body = vec![0; length];
                        std::io::Read::read_exact(&mut reader, &mut body).unwrap();
                        let register = line.contains("/extension/register");
                        let _ = tx.send((connection, line.trim().to_string(), id));
                        if register {
                            writer.write_all(answer.as_bytes()).unwrap();
                            if answer.contains("Connection: close") {
                                return; // closes the connection
                            }
                        } // else: /event/next, held as Lambda holds it
                    }
                });
            }
        });
        (api, rx)
    }

    const REGISTERED: &str = "HTTP/1.1 200 OK\r\nLambda-Extension-Identifier: ext-1\r\n\
        Content-Type: application/json\r\nContent-Length: 18\r\n\r\n{\"functionName\":1}";

    /// What registering against `api` comes to.
    fn outcome(api: &str) -> Result<(), String> {
        let extension = ShutdownExtension::register_with(api);
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async {
            // Left open, as on_sigterm leaves it, until the test has seen the poll.
            let poll = extension.ready().await?;
            std::mem::forget(poll);
            Ok(())
        })
    }

    #[test]
    fn registers_then_polls_for_events_over_one_connection() {
        let (api, requests) = runtime_api(REGISTERED);
        assert_eq!(outcome(&api), Ok(()));
        let timeout = Duration::from_secs(5);
        let (first, register, _) = requests.recv_timeout(timeout).unwrap();
        assert_eq!(register, "POST /2020-01-01/extension/register HTTP/1.1");
        let (second, next, id) = requests.recv_timeout(timeout).unwrap();
        assert_eq!(next, "GET /2020-01-01/extension/event/next HTTP/1.1");
        assert_eq!(id.as_deref(), Some("ext-1"));
        assert_eq!(first, second, "the event poll opened a second connection");
    }

    #[test]
    fn a_runtime_api_that_closes_the_connection_gets_the_poll_on_a_new_one() {
        for answer in [
            "HTTP/1.1 200 OK\r\nLambda-Extension-Identifier: ext-2\r\nConnection: close\r\n\r\n{}",
            "HTTP/1.0 200 OK\r\nLambda-Extension-Identifier: ext-2\r\nConnection: close\r\n\r\n{}",
        ] {
            let (api, requests) = runtime_api(answer);
            assert_eq!(outcome(&api), Ok(()));
            let timeout = Duration::from_secs(5);
            let (first, _, _) = requests.recv_timeout(timeout).unwrap();
            let (second, next, id) = requests.recv_timeout(timeout).unwrap();
            assert_eq!(next, "GET /2020-01-01/extension/event/next HTTP/1.1");
            assert_eq!(id.as_deref(), Some("ext-2"));
            assert_ne!(first, second, "{answer}");
        }
    }

    #[test]
    fn a_refused_or_anonymous_registration_is_an_error() {
        let (api, _requests) = runtime_api("HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n");
        let err = outcome(&api).unwrap_err();
        assert!(err.contains("403"), "{err}");
        let (api, _requests) = runtime_api("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
        let err = outcome(&api).unwrap_err();
        assert!(err.contains("without an identifier"), "{err}");
        let (api, _requests) =
            runtime_api("HTTP/1.1 200 OK\r\nContent-Length: 0\r\nBad Header\r\n\r\n");
        let err = outcome(&api).unwrap_err();
        assert!(err.contains("unreadable answer"), "{err}");
    }

    #[test]
    fn a_runtime_api_variable_without_a_host_is_an_error_not_a_panic() {
        for api in [
            "",
            "/2018-06-01",
            "not a host",
            "http://",
            "https://127.0.0.1:1",
        ] {
            assert!(outcome(api).is_err(), "{api:?}");
        }
    }

    /// A Runtime API that accepts the connection and never answers: init goes on without
    /// the hook after the limit, instead of hanging.
    #[test]
    fn a_silent_runtime_api_times_out() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let api = listener.local_addr().unwrap().to_string();
        let started = std::time::Instant::now();
        let err = outcome(&api).unwrap_err();
        assert!(started.elapsed() < Duration::from_secs(3), "{err}");
        assert!(started.elapsed() >= super::REGISTRATION_LIMIT, "{err}");
        drop(listener);
    }

    // What emulators set: a scheme and a base path (cargo lambda: `/.rt/<function>`).
    #[test]
    fn a_base_path_prefixes_both_requests() {
        let (api, requests) = runtime_api(REGISTERED);
        assert_eq!(outcome(&format!("http://{api}/.rt/f/")), Ok(()));
        let timeout = Duration::from_secs(5);
        let (_, register, _) = requests.recv_timeout(timeout).unwrap();
        assert_eq!(
            register,
            "POST /.rt/f/2020-01-01/extension/register HTTP/1.1"
        );
        let (_, next, _) = requests.recv_timeout(timeout).unwrap();
        assert_eq!(next, "GET /.rt/f/2020-01-01/extension/event/next HTTP/1.1");
    }
}
