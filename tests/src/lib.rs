//! Harness for the end-to-end tests.
//!
//! The functions run as Lambda runs them: each test starts the `bootstrap` taken out of the
//! zip that `make zip` built, pointed at the runtime API of `cargo lambda watch`, and invokes
//! it over HTTP through the Invoke API, as the AWS CLI would. The services (MariaDB, moto,
//! the emulator) are started by `scripts/services up`, which writes the env file read here.
//!
//! The emulator accepts only the project's binary names, so at most one instance of each
//! function runs at a time: `Function` holds that function's lock while it lives.

use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use mysql_async::prelude::Queryable;
use serde_json::{json, Value};

pub mod credentials_endpoint;
pub mod proxy;
pub mod runtime_api;
pub mod webhook;

/// Time allowed for one invocation round trip (a function that never polls would
/// otherwise make the Invoke call wait forever).
pub const INVOKE_TIMEOUT: Duration = Duration::from_secs(30);

pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ lives in the workspace")
        .to_path_buf()
}

/// The services' addresses and seeded data, from the env file `scripts/services up` wrote.
pub struct Services {
    vars: HashMap<String, String>,
}

impl Services {
    pub fn load() -> Self {
        let path = std::env::var("E2E_ENV_FILE")
            .map(PathBuf::from)
            .unwrap_or_else(|_| workspace_root().join("target/services/env"));
        let text = fs::read_to_string(&path).unwrap_or_else(|e| {
            panic!(
                "cannot read {}: {e}. Start the services first: `make services` (or run `make e2e`)",
                path.display()
            )
        });
        let vars = text
            .lines()
            .filter_map(|line| line.split_once('='))
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Self { vars }
    }

    pub fn var(&self, name: &str) -> &str {
        self.vars
            .get(name)
            .unwrap_or_else(|| panic!("{name} missing from the services' env file"))
    }
}

/// Tests that count database connections must not overlap with other tests that connect.
pub fn database_lock() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The `bootstrap` inside `target/lambda/<function>/bootstrap.zip`, extracted once.
pub fn bootstrap(function: &str) -> PathBuf {
    static EXTRACTED: Mutex<Vec<String>> = Mutex::new(Vec::new());
    let mut done = EXTRACTED.lock().unwrap_or_else(|p| p.into_inner());
    let root = workspace_root();
    let zip = root
        .join("target/lambda")
        .join(function)
        .join("bootstrap.zip");
    let dir = root.join("target/e2e/bin").join(function);
    let binary = dir.join("bootstrap");
    if !done.iter().any(|f| f == function) {
        assert!(
            zip.exists(),
            "{} is missing: run `make zip` first",
            zip.display()
        );
        extract_bootstrap(&zip, &dir);
        done.push(function.to_string());
    }
    binary
}

/// Extracts `bootstrap` from `zip` into `dir`, executable, and returns its path.
pub fn extract_bootstrap(zip: &Path, dir: &Path) -> PathBuf {
    fs::create_dir_all(dir).unwrap();
    run(Command::new("python3")
        .args([
            "-c",
            "import sys, zipfile; zipfile.ZipFile(sys.argv[1]).extractall(sys.argv[2])",
        ])
        .arg(zip)
        .arg(dir));
    let binary = dir.join("bootstrap");
    run(Command::new("chmod").arg("+x").arg(&binary));
    binary
}

/// What an invocation returned: the payload, or Lambda's error object.
#[derive(Debug)]
pub struct Reply {
    pub body: Value,
    /// The `X-Amz-Function-Error` header, or an HTTP error status: the function failed.
    pub failed: bool,
    /// The `X-Amzn-RequestId` header, when the Invoke API sends one.
    pub request_id: Option<String>,
}

impl Reply {
    pub fn error_type(&self) -> &str {
        self.body["errorType"].as_str().unwrap_or_default()
    }
    pub fn error_message(&self) -> &str {
        self.body["errorMessage"].as_str().unwrap_or_default()
    }
}

/// Serialises the instances of one function: the emulator has one queue per name.
fn function_lock(function: &str) -> MutexGuard<'static, ()> {
    static LOCKS: Mutex<Vec<(String, &'static Mutex<()>)>> = Mutex::new(Vec::new());
    let lock = {
        let mut locks = LOCKS.lock().unwrap_or_else(|p| p.into_inner());
        match locks.iter().find(|(name, _)| name == function) {
            Some((_, lock)) => *lock,
            None => {
                let lock: &'static Mutex<()> = Box::leak(Box::new(Mutex::new(())));
                locks.push((function.to_string(), lock));
                lock
            }
        }
    };
    lock.lock().unwrap_or_else(|p| p.into_inner())
}

/// Starts a `bootstrap` as Lambda would: Lambda's environment plus `env`, polling
/// `runtime_api` (`http://host:port/path`) for `function`, stdout and stderr into `log`.
pub fn spawn_bootstrap(
    binary: &Path,
    runtime_api: &str,
    function: &str,
    env: &[(&str, &str)],
    log: &Path,
) -> Child {
    let out = fs::File::create(log).unwrap();
    let mut command = Command::new(binary);
    command
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("AWS_LAMBDA_RUNTIME_API", runtime_api)
        .env("AWS_LAMBDA_FUNCTION_NAME", function)
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
        .env("AWS_LAMBDA_LOG_FORMAT", "JSON")
        // The local MariaDB speaks plain TCP as well as TLS: allowed here as `make services`
        // allows it (local only; a test's own `env` can set it back to false).
        .env("DATABASE_ALLOW_PLAINTEXT", "true")
        .stdin(Stdio::null())
        .stdout(out.try_clone().unwrap())
        .stderr(out);
    for (k, v) in env {
        command.env(k, v);
    }
    command
        .spawn()
        .unwrap_or_else(|e| panic!("{}: {e}", binary.display()))
}

/// Calls the Invoke API of the emulator for one function, over a keep-alive connection.
pub struct Invoker {
    agent: ureq::Agent,
    url: String,
}

impl Invoker {
    pub fn new(services: &Services, function: &str) -> Self {
        Self::with_timeout(services, function, INVOKE_TIMEOUT)
    }

    /// One whose calls give up after `timeout`.
    pub fn with_timeout(services: &Services, function: &str, timeout: Duration) -> Self {
        let api = services.var("LAMBDA_RUNTIME_API");
        Self {
            agent: ureq::AgentBuilder::new()
                .timeout_connect(Duration::from_secs(5))
                .timeout(timeout)
                .build(),
            url: format!("http://{api}/2015-03-31/functions/{function}/invocations"),
        }
    }

    /// Sends one invocation and waits for its reply.
    pub fn invoke(&self, payload: &Value) -> Result<Reply, Box<ureq::Error>> {
        self.invoke_raw(&payload.to_string())
    }

    /// Sends `body` as it is (it may be JSON no `Value` can hold, like `1e400`).
    pub fn invoke_raw(&self, body: &str) -> Result<Reply, Box<ureq::Error>> {
        let request = self
            .agent
            .post(&self.url)
            .set("content-type", "application/json");
        match request.send_string(body) {
            Ok(resp) => {
                let failed = resp.header("X-Amz-Function-Error").is_some();
                let request_id = resp.header("X-Amzn-RequestId").map(str::to_owned);
                let body = resp.into_json().unwrap_or(Value::Null);
                Ok(Reply {
                    body,
                    failed,
                    request_id,
                })
            }
            Err(ureq::Error::Status(_, resp)) => Ok(Reply {
                request_id: resp.header("X-Amzn-RequestId").map(str::to_owned),
                body: resp.into_json().unwrap_or(Value::Null),
                failed: true,
            }),
            Err(err) => Err(Box::new(err)),
        }
    }
}

/// One function instance (one "container"): a `bootstrap` process polling the emulator.
pub struct Function {
    pub name: String,
    child: Child,
    log: PathBuf,
    invoker: Invoker,
    _only_instance: MutexGuard<'static, ()>,
}

impl Function {
    /// Starts `function`'s bootstrap with Lambda's environment plus `env` (logs at DEBUG).
    pub fn start(services: &Services, function: &str, env: &[(&str, &str)]) -> Self {
        let only_instance = function_lock(function);
        let logs = workspace_root().join("target/e2e/logs");
        fs::create_dir_all(&logs).unwrap();
        let log = logs.join(format!("{function}-{}.log", unique_suffix()));
        let api = format!(
            "http://{}/.rt/{function}",
            services.var("LAMBDA_RUNTIME_API")
        );
        let mut env = env.to_vec();
        if !env.iter().any(|(k, _)| *k == "AWS_LAMBDA_LOG_LEVEL") {
            env.insert(0, ("AWS_LAMBDA_LOG_LEVEL", "DEBUG"));
        }
        let child = spawn_bootstrap(&bootstrap(function), &api, function, &env, &log);
        Self {
            name: function.to_string(),
            child,
            log,
            invoker: Invoker::new(services, function),
            _only_instance: only_instance,
        }
    }

    /// Sends one invocation through the Invoke API and waits for its reply.
    pub fn invoke(&self, payload: &Value) -> Reply {
        self.invoker.invoke(payload).unwrap_or_else(|err| {
            panic!(
                "invoking {} failed: {err}\nlogs:\n{}",
                self.name,
                self.logs()
            )
        })
    }

    /// Sends `body` as it is and waits for the reply.
    pub fn invoke_raw(&self, body: &str) -> Reply {
        self.invoker
            .invoke_raw(body)
            .unwrap_or_else(|err| panic!("invoking {} failed: {err}", self.name))
    }

    /// Checks that this function's own process answers `payload` (success or error): a new
    /// report line, with its pid. After an abort nobody would poll and the call would time
    /// out; `is_running()` right after an error can miss an abort a moment later.
    pub fn assert_answers(&self, payload: &Value) -> Reply {
        let before = self.reports().len();
        let reply = self.invoke(payload);
        let reports = self.reports();
        assert_eq!(
            reports.len(),
            before + 1,
            "no new report line:\n{}",
            self.logs()
        );
        assert_eq!(
            reports[before]["pid"],
            self.pid(),
            "answered by another process"
        );
        reply
    }

    /// Invokes and expects a failure of `error_type`.
    pub fn call_fails_with(&self, error_type: &str, payload: &Value) -> Reply {
        let reply = self.invoke(payload);
        assert!(reply.failed, "{payload} succeeded: {}", reply.body);
        assert_eq!(reply.error_type(), error_type, "{}", reply.body);
        reply
    }

    /// Checks what a caller and the log each see of an internal error: the caller gets
    /// `error_type` and the generic message, nothing of `details`; the function's log has
    /// every one of `details` on that invocation's "invocation failed" line, with its
    /// request id.
    pub fn assert_details_only_in_log(&self, reply: &Reply, error_type: &str, details: &[&str]) {
        assert!(reply.failed, "succeeded: {}", reply.body);
        assert_eq!(reply.error_type(), error_type, "{}", reply.body);
        assert_eq!(reply.error_message(), functions::GENERIC_MESSAGE);
        let answered = reply.body.to_string();
        for detail in details {
            assert!(
                !answered.contains(detail),
                "{detail:?} returned to the caller: {answered}"
            );
        }
        let logs = self.logs();
        let line = logs
            .lines()
            .rev()
            .filter_map(|line| serde_json::from_str::<Value>(line).ok())
            .filter(|line| line["fields"]["message"] == "invocation failed")
            .find(|line| line["fields"]["error_type"] == error_type)
            .unwrap_or_else(|| panic!("no \"invocation failed\" line for {error_type}:\n{logs}"));
        let logged = line["fields"]["error"].as_str().unwrap_or_default();
        for detail in details {
            assert!(
                logged.contains(detail),
                "{detail:?} not in the log line: {line}"
            );
        }
        let request_id = line["span"]["requestId"].as_str().unwrap_or_default();
        assert!(
            !request_id.is_empty(),
            "the log line names no request: {line}"
        );
        if let Some(id) = &reply.request_id {
            assert_eq!(request_id, id, "{line}");
        }
    }

    /// Invokes and expects success.
    pub fn call(&self, payload: &Value) -> Value {
        let reply = self.invoke(payload);
        assert!(
            !reply.failed,
            "{payload} failed: {}\nlogs:\n{}",
            reply.body,
            self.logs()
        );
        reply.body
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The fields of every "invocation report" line the process logged so far.
    pub fn reports(&self) -> Vec<Value> {
        reports_in(&self.log)
    }

    /// The pid in the newest report line: which process really served the last invocation
    /// (the log is written by whatever process the emulator handed the event to).
    pub fn last_reported_pid(&self) -> Option<u64> {
        self.reports().last().and_then(|r| r["pid"].as_u64())
    }

    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Sends a signal (`STOP`, `CONT`, `TERM`, ...) to the process.
    pub fn signal(&self, signal: &str) {
        let ok = Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(self.pid().to_string())
            .status()
            .unwrap()
            .success();
        assert!(ok, "kill -{signal} {} failed", self.pid());
    }

    /// Waits for the process to exit, up to `limit`.
    pub fn wait_exit(&mut self, limit: Duration) -> bool {
        let start = Instant::now();
        while start.elapsed() < limit {
            if !self.is_running() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        false
    }

    /// Everything the process wrote to stdout and stderr so far.
    pub fn logs(&self) -> String {
        fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Function {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn unique_suffix() -> String {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static COUNTER: AtomicUsize = AtomicUsize::new(0);
    format!(
        "{}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

/// The fields of every "invocation report" line in a function's log file.
pub fn reports_in(log: &Path) -> Vec<Value> {
    fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .filter(|line| line["fields"]["message"] == "invocation report")
        .map(|line| line["fields"].clone())
        .collect()
}

/// Runs `scripts/services ARGS` (e.g. `down mariadb`, then `up` to start it again).
pub fn services_script(args: &[&str]) {
    run(Command::new(workspace_root().join("scripts/services")).args(args));
}

/// An admin connection to MariaDB, to read the server's counters and to break things.
pub struct Admin {
    runtime: tokio::runtime::Runtime,
    /// `None` only while being dropped.
    conn: Option<mysql_async::Conn>,
    held: Vec<mysql_async::Conn>,
}

impl Drop for Admin {
    /// Closes the connections with COM_QUIT while the runtime still exists: dropped
    /// without it, each would count as an aborted client, which tests assert on.
    fn drop(&mut self) {
        self.release_held();
        if let Some(conn) = self.conn.take() {
            let _ = self.runtime.block_on(conn.disconnect());
        }
    }
}

impl Admin {
    pub fn connect(services: &Services) -> Self {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let url = services.var("ADMIN_DATABASE_URL").to_string();
        let conn = runtime
            .block_on(mysql_async::Conn::from_url(url))
            .expect("admin connection to MariaDB");
        Self {
            runtime,
            conn: Some(conn),
            held: Vec::new(),
        }
    }

    fn parts(&mut self) -> (&tokio::runtime::Runtime, &mut mysql_async::Conn) {
        let conn = self
            .conn
            .as_mut()
            .expect("the admin connection is open until drop");
        (&self.runtime, conn)
    }

    /// Like `connect`, but `None` while the server is down (for tests that restart it).
    pub fn try_connect(services: &Services) -> Option<Self> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .ok()?;
        let url = services.var("ADMIN_DATABASE_URL").to_string();
        let conn = runtime.block_on(mysql_async::Conn::from_url(url)).ok()?;
        Some(Self {
            runtime,
            conn: Some(conn),
            held: Vec::new(),
        })
    }

    /// Runs `sql`, returning the server's error instead of panicking on it.
    pub fn try_exec(&mut self, sql: &str) -> Result<(), mysql_async::Error> {
        let (runtime, conn) = self.parts();
        runtime.block_on(conn.query_drop(sql))
    }

    /// Like `connection_ids`, but an error instead of a panic (the server may be restarting).
    pub fn try_connection_ids(&mut self, user: &str) -> Result<Vec<u64>, mysql_async::Error> {
        let sql = format!("SELECT ID FROM information_schema.PROCESSLIST WHERE USER = '{user}'");
        let (runtime, conn) = self.parts();
        runtime.block_on(conn.query::<u64, _>(sql))
    }

    /// Opens connections with `url` until the server refuses one (at most `limit`); keeps
    /// them open and returns the refusal.
    pub fn hold_connections_until_refused(
        &mut self,
        url: &str,
        limit: usize,
    ) -> mysql_async::Error {
        for _ in 0..limit {
            match self
                .runtime
                .block_on(mysql_async::Conn::from_url(url.to_string()))
            {
                Ok(conn) => self.held.push(conn),
                Err(err) => return err,
            }
        }
        panic!("the server accepted {limit} connections without refusing one");
    }

    /// Opens up to `limit` connections with `url` and keeps them open; how many it opened.
    pub fn hold_connections_until_refused_or(&mut self, url: &str, limit: usize) -> usize {
        for _ in 0..limit {
            match self
                .runtime
                .block_on(mysql_async::Conn::from_url(url.to_string()))
            {
                Ok(conn) => self.held.push(conn),
                Err(_) => break,
            }
        }
        self.held.len()
    }

    /// Closes the connections `hold_connections_until_refused` opened.
    pub fn release_held(&mut self) {
        for conn in self.held.drain(..) {
            let _ = self.runtime.block_on(conn.disconnect());
        }
    }

    pub fn exec(&mut self, sql: &str) {
        let (runtime, conn) = self.parts();
        runtime
            .block_on(conn.query_drop(sql))
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
    }

    pub fn query_u64(&mut self, sql: &str) -> Vec<u64> {
        let (runtime, conn) = self.parts();
        runtime
            .block_on(conn.query::<u64, _>(sql))
            .unwrap_or_else(|e| panic!("{sql}: {e}"))
    }

    /// A global status counter, e.g. `Connections` (every connect ever made).
    pub fn status(&mut self, name: &str) -> u64 {
        let sql = format!("SELECT VARIABLE_VALUE FROM information_schema.GLOBAL_STATUS WHERE VARIABLE_NAME = '{name}'");
        self.query_u64(&sql)[0]
    }

    /// Global status counters read with `SHOW GLOBAL STATUS`, which (unlike a SELECT from
    /// information_schema) does not itself move `Com_select`.
    pub fn show_status(&mut self, names: &[&str]) -> HashMap<String, u64> {
        let list: Vec<String> = names.iter().map(|n| format!("'{n}'")).collect();
        let sql = format!(
            "SHOW GLOBAL STATUS WHERE Variable_name IN ({})",
            list.join(",")
        );
        let (runtime, conn) = self.parts();
        let rows: Vec<(String, String)> = runtime
            .block_on(conn.query(sql))
            .unwrap_or_else(|e| panic!("SHOW GLOBAL STATUS: {e}"));
        rows.into_iter()
            .map(|(name, value)| (name, value.parse().unwrap_or_default()))
            .collect()
    }

    /// Server-side ids of the connections open for `user`.
    pub fn connection_ids(&mut self, user: &str) -> Vec<u64> {
        self.query_u64(&format!(
            "SELECT ID FROM information_schema.PROCESSLIST WHERE USER = '{user}' ORDER BY ID"
        ))
    }
}

/// An S3 event notification as S3 sends it, one record per (bucket, key). Keys are
/// URL-encoded the way S3 encodes them: `+` for a space, `%XX` for other bytes.
pub fn s3_event(objects: &[(&str, &str)]) -> Value {
    let records: Vec<Value> = objects
        .iter()
        .map(|(bucket, key)| {
            json!({
                "eventVersion": "2.1",
                "eventSource": "aws:s3",
                "awsRegion": "us-east-1",
                "eventTime": "2026-11-29T12:00:00.000Z",
                "eventName": "ObjectCreated:Put",
                "userIdentity": {"principalId": "AWS:AIDAEXAMPLE"},
                "requestParameters": {"sourceIPAddress": "127.0.0.1"},
                "responseElements": {"x-amz-request-id": "C3D13FE58DE4C810",
                                     "x-amz-id-2": "FMyUVURIY8/IgAtTv8xRjskZQpcIZ9KG4V5Wp6S7S/JRWeUWerMUE5JgHvANOjpD"},
                "s3": {
                    "s3SchemaVersion": "1.0",
                    "configurationId": "e2e",
                    "bucket": {"name": bucket, "ownerIdentity": {"principalId": "A3NL1KOZZKExample"},
                               "arn": format!("arn:aws:s3:::{bucket}")},
                    "object": {"key": s3_encode_key(key), "size": 1024,
                               "eTag": "d41d8cd98f00b204e9800998ecf8427e",
                               "sequencer": "0055AED6DCD90281E5"}
                }
            })
        })
        .collect();
    json!({ "Records": records })
}

/// S3's encoding of keys in event notifications.
pub fn s3_encode_key(key: &str) -> String {
    use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
    const KEEP: &AsciiSet = &NON_ALPHANUMERIC
        .remove(b'-')
        .remove(b'_')
        .remove(b'.')
        .remove(b'*')
        .remove(b'/')
        .remove(b' ');
    utf8_percent_encode(key, KEEP).to_string().replace(' ', "+")
}

/// Runs `command` and returns its stdout, panicking with its stderr on failure.
pub fn run(command: &mut Command) -> String {
    let out = command
        .output()
        .unwrap_or_else(|e| panic!("{command:?}: {e}"));
    assert!(
        out.status.success(),
        "{command:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}
