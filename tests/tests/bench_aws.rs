//! `make bench-aws` end to end, without an AWS account: scripts/bench-aws.py against the
//! local Lambda stand-in (scripts/lambda-standin.py), which runs the zipped bootstraps, one
//! process per execution environment, and writes Lambda's REPORT lines from what it
//! measured; the stack is on moto's CloudFormation, and the stand-in's counting proxy in
//! front of MariaDB publishes RDS Proxy's connection metrics to moto's CloudWatch. Only
//! 127.0.0.1 is reached: every AWS endpoint is given, the credentials are fake.
//!
//! Scaled down from the article's 2000 at concurrency 20: 100 invocations per variant at
//! concurrency 4, and a memory sweep of two sizes.

use std::fs;
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use e2e::{workspace_root, Services};
use serde_json::{json, Value};

const INVOCATIONS: usize = 100;
const CONCURRENCY: u64 = 4;
const SIZES: [u64; 2] = [128, 256];
const COLD: usize = 2;
const WARM: usize = 5;
const MARKER: &str = "BENCH_AWS_ENVIRONMENTS";
/// A whole scaled-down run takes some 20 s here.
const RUN_LIMIT: Duration = Duration::from_secs(180);

/// One stand-in at a time: they share MariaDB and this machine's two cores.
fn one_at_a_time() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|p| p.into_inner())
}

/// The arguments of the scaled-down run. The proxy's metric period is 1 s, where RDS Proxy
/// publishes every 60 s, so that the variants' windows need not wait for minutes.
fn small_run() -> Vec<String> {
    let sizes = SIZES.map(|s| s.to_string()).join(",");
    [
        "--invocations",
        &INVOCATIONS.to_string(),
        "--concurrency",
        &CONCURRENCY.to_string(),
        "--memory-sizes",
        &sizes,
        "--cold",
        &COLD.to_string(),
        "--warm",
        &WARM.to_string(),
        "--metric-period",
        "1",
        "--metrics-wait",
        "20",
        "--logs-wait",
        "10",
    ]
    .map(String::from)
    .to_vec()
}

/// The Lambda stand-in serving one stack's two MySQL functions, and the stack on moto.
struct StandIn {
    child: Child,
    port: u16,
    dir: PathBuf,
    stack: String,
    moto: String,
    /// Each function's configuration when the stand-in started: as "deployed".
    deployed: Value,
    _one: MutexGuard<'static, ()>,
}

impl StandIn {
    /// `name`: the test's; the stack gets this process's id too (moto keeps stacks).
    fn start(name: &str, with_proxy: bool) -> Self {
        let one = one_at_a_time();
        let services = Services::load();
        let root = workspace_root();
        let stack = format!("{name}-{}", std::process::id());
        let dir = root.join("target/e2e/bench-aws").join(&stack);
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        let moto = services.var("AWS_ENDPOINT_URL").to_string();
        let database = match with_proxy {
            true => "{proxy}".to_string(),
            false => format!("127.0.0.1:{}", services.var("MYSQL_PORT")),
        };
        // Plain TCP to the local database (the functions require TLS unless told).
        let variables = json!({
            "DATABASE_URL": format!("mysql://app:app-pass@{database}/lambda"),
            "DATABASE_ALLOW_PLAINTEXT": "true",
        });
        let zip = |f: &str| root.join("target/lambda").join(f).join("bootstrap.zip");
        for f in ["rds-enrich", "rds-enrich-naive"] {
            assert!(
                zip(f).exists(),
                "{} is missing: run `make zip`",
                zip(f).display()
            );
        }
        // The naive variant logs Text, the global one JSON: both REPORT formats are read.
        let mut config = json!({
            "region": "us-east-1",
            "update_seconds": 0.3,
            "functions": [
                {"FunctionName": format!("{stack}-rds-enrich-naive"), "LogFormat": "Text",
                 "zip": zip("rds-enrich-naive"), "ReservedConcurrentExecutions": 20,
                 "Variables": variables},
                {"FunctionName": format!("{stack}-rds-enrich"), "LogFormat": "JSON",
                 "zip": zip("rds-enrich"), "ReservedConcurrentExecutions": 20,
                 "Variables": variables},
            ],
        });
        if with_proxy {
            config["proxy"] = json!({
                "name": format!("{stack}-proxy"),
                "upstream": format!("127.0.0.1:{}", services.var("MYSQL_PORT")),
                "cloudwatch_endpoint": moto, "period_s": 1,
            });
        }
        fs::write(dir.join("config.json"), config.to_string()).unwrap();
        let port_file = dir.join("port");
        let log = fs::File::create(dir.join("standin.log")).unwrap();
        let mut child = Command::new("python3")
            .arg(root.join("scripts/lambda-standin.py"))
            .arg("--config")
            .arg(dir.join("config.json"))
            .arg("--state-dir")
            .arg(dir.join("state"))
            .arg("--port-file")
            .arg(&port_file)
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("python3 runs the stand-in");
        let start = Instant::now();
        let port = loop {
            if let Some(port) = fs::read_to_string(&port_file)
                .ok()
                .and_then(|p| p.trim().parse().ok())
            {
                break port;
            }
            let exited = child.try_wait().unwrap().is_some();
            if exited || start.elapsed() > Duration::from_secs(30) {
                let _ = child.kill();
                panic!(
                    "the stand-in did not start:\n{}",
                    fs::read_to_string(dir.join("standin.log")).unwrap_or_default()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        let mut stand_in = Self {
            child,
            port,
            dir,
            stack,
            moto,
            deployed: Value::Null,
            _one: one,
        };
        stand_in.deployed = json!({
            stand_in.naive(): stand_in.configuration(&stand_in.naive()),
            stand_in.global(): stand_in.configuration(&stand_in.global()),
        });
        stand_in.create_stack(with_proxy);
        stand_in
    }

    fn create_stack(&self, with_proxy: bool) {
        let template = workspace_root().join("tests/bench-aws/stack.yaml");
        let out = Command::new("aws")
            .args([
                "cloudformation",
                "create-stack",
                "--stack-name",
                &self.stack,
            ])
            .arg("--template-body")
            .arg(format!("file://{}", template.display()))
            .arg("--parameters")
            .arg(format!(
                "ParameterKey=WithProxy,ParameterValue={with_proxy}"
            ))
            .args(["--endpoint-url", &self.moto])
            .envs(Self::credentials())
            .output()
            .expect("the AWS CLI runs (scripts/services installs it)");
        assert!(
            out.status.success(),
            "create-stack: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    fn credentials() -> [(&'static str, &'static str); 4] {
        [
            ("AWS_ACCESS_KEY_ID", "stand-in"),
            ("AWS_SECRET_ACCESS_KEY", "stand-in"),
            ("AWS_REGION", "us-east-1"),
            ("AWS_DEFAULT_REGION", "us-east-1"),
        ]
    }

    fn naive(&self) -> String {
        format!("{}-rds-enrich-naive", self.stack)
    }

    fn global(&self) -> String {
        format!("{}-rds-enrich", self.stack)
    }

    fn get(&self, path: &str) -> Value {
        ureq::get(&format!("http://127.0.0.1:{}{path}", self.port))
            .call()
            .unwrap_or_else(|e| panic!("{path}: {e}"))
            .into_json()
            .unwrap()
    }

    /// One invocation, straight to the stand-in's Invoke API.
    fn invoke(&self, function: &str) {
        let url = format!(
            "http://127.0.0.1:{}/2015-03-31/functions/{function}/invocations",
            self.port
        );
        let reply: Value = ureq::post(&url)
            .send_string(r#"{"id": 1}"#)
            .unwrap()
            .into_json()
            .unwrap();
        assert_eq!(reply["name"], "Ada Lovelace", "{reply}");
    }

    fn stats(&self) -> Value {
        self.get("/_standin/stats")
    }

    fn configuration(&self, function: &str) -> Value {
        self.get(&format!("/2015-03-31/functions/{function}/configuration"))
    }

    /// That operation's call after the next `after` answers AccessDenied (once).
    fn fail(&self, operation: &str, after: u32) {
        ureq::post(&format!(
            "http://127.0.0.1:{}/_standin/fail?operation={operation}&after={after}",
            self.port
        ))
        .call()
        .unwrap();
    }

    /// The messages of the function's log group that contain `phrase` (FilterLogEvents).
    fn log_messages(&self, function: &str, phrase: &str) -> Vec<String> {
        let body = json!({"logGroupName": format!("/aws/lambda/{function}"),
                          "filterPattern": format!("\"{phrase}\"")});
        let answer: Value = ureq::post(&format!("http://127.0.0.1:{}/", self.port))
            .set("X-Amz-Target", "Logs_20140328.FilterLogEvents")
            .set("Content-Type", "application/x-amz-json-1.1")
            .send_string(&body.to_string())
            .unwrap()
            .into_json()
            .unwrap();
        assert!(answer.get("nextToken").is_none(), "more than a page");
        answer["events"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["message"].as_str().unwrap().to_string())
            .collect()
    }

    fn out(&self) -> PathBuf {
        self.dir.join("out")
    }

    fn state_file(&self) -> PathBuf {
        self.out().join(&self.stack).join("restore.json")
    }

    /// scripts/bench-aws.py for this stack, every endpoint on 127.0.0.1.
    fn harness(&self, args: &[String]) -> Command {
        let root = workspace_root();
        let bench = root.join("target/debug/bench");
        assert!(
            bench.exists(),
            "{} is missing: `cargo build -p bench --bin bench` (make e2e does)",
            bench.display()
        );
        let stand_in = format!("http://127.0.0.1:{}", self.port);
        let mut command = Command::new("python3");
        command
            .arg(root.join("scripts/bench-aws.py"))
            .args(["--stack", &self.stack])
            .arg("--out")
            .arg(self.out())
            .args(args)
            .env_remove("AWS_PROFILE")
            .envs(Self::credentials())
            .env("AWS_ENDPOINT_URL_LAMBDA", &stand_in)
            .env("AWS_ENDPOINT_URL_CLOUDWATCH_LOGS", &stand_in)
            .env("AWS_ENDPOINT_URL_CLOUDFORMATION", &self.moto)
            .env("AWS_ENDPOINT_URL_CLOUDWATCH", &self.moto)
            .env("AWS_CONFIG_FILE", "/dev/null")
            .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
            .env("BENCH_AWS_REPORT_BIN", bench)
            .stdin(Stdio::null());
        command
    }

    /// Runs the harness to its end, within RUN_LIMIT.
    fn run(&self, args: &[String]) -> Output {
        let child = self
            .harness(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        wait_output(child, RUN_LIMIT)
    }

    /// The results.json and directory of the harness's only run so far.
    fn results(&self) -> (Value, PathBuf) {
        let runs: Vec<PathBuf> = fs::read_dir(self.out().join(&self.stack))
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.is_dir())
            .collect();
        assert_eq!(runs.len(), 1, "{runs:?}");
        let text = fs::read_to_string(runs[0].join("results.json")).unwrap();
        (serde_json::from_str(&text).unwrap(), runs[0].clone())
    }

    /// The function is as the stack deployed it: 128 MB, its variables only.
    fn assert_restored(&self, function: &str) {
        let config = self.configuration(function);
        let deployed = &self.deployed[function];
        assert_eq!(config["MemorySize"], 128, "{config}");
        assert!(
            config["Environment"]["Variables"].get(MARKER).is_none(),
            "{config}"
        );
        assert_eq!(config["Environment"], deployed["Environment"], "{config}");
        assert!(deployed["Environment"]["Variables"]["DATABASE_URL"].is_string());
        assert_eq!(config["LastUpdateStatus"], "Successful", "{config}");
        assert!(!self.state_file().exists(), "the state file is left");
    }
}

impl Drop for StandIn {
    fn drop(&mut self) {
        // SIGTERM: the stand-in shuts its environments down as Lambda does.
        let _ = Command::new("kill")
            .arg(self.child.id().to_string())
            .status();
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(15) {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn wait_output(mut child: Child, limit: Duration) -> Output {
    let start = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if start.elapsed() > limit {
            let _ = child.kill();
            panic!("the harness ran longer than {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    child.wait_with_output().unwrap()
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn calls(stats: &Value, operation: &str) -> u64 {
    stats["calls"][operation].as_u64().unwrap_or(0)
}

#[test]
fn dry_run_prints_the_plan_and_changes_nothing() {
    let s = StandIn::start("ba-dry", false);
    let out = s.run(&small_run());
    let printed = text(&out);
    assert!(out.status.success(), "{printed}");
    // 100 per variant, and 2 sizes x 2 functions x (2 cold + 5 warm).
    let planned = 2 * INVOCATIONS + 2 * SIZES.len() * (COLD + WARM);
    assert!(
        printed.contains(&format!("invocations: {planned};")),
        "{printed}"
    );
    assert!(printed.contains("configuration updates: 8"), "{printed}");
    assert!(printed.contains("estimated Lambda cost: $"), "{printed}");
    assert!(printed.contains("proxy: none in this stack"), "{printed}");
    assert!(
        printed.contains("dry run: nothing was invoked or changed"),
        "{printed}"
    );
    // Nothing ran: no invocation, no update, the configuration as it was, no files.
    let stats = s.stats();
    assert_eq!(calls(&stats, "Invoke"), 0, "{stats}");
    assert_eq!(calls(&stats, "UpdateFunctionConfiguration"), 0, "{stats}");
    assert!(calls(&stats, "GetFunctionConfiguration") >= 2, "{stats}");
    for f in [s.naive(), s.global()] {
        s.assert_restored(&f);
    }
    assert!(!s.out().join(&s.stack).exists(), "a dry run wrote files");
}

/// Lambda's report of one invocation as the harness recorded it.
fn report(invocation: &Value) -> &Value {
    assert!(
        invocation["report"].is_object(),
        "no REPORT parsed: {invocation}"
    );
    &invocation["report"]
}

#[test]
fn burst_and_memory_sweep_end_to_end() {
    let s = StandIn::start("ba-run", true);
    // A warm environment of each before the run: the burst must not use it (its own cold
    // starts are counted only if it starts from new environments).
    for f in [s.naive(), s.global()] {
        s.invoke(&f);
    }
    let out = s.run(&[small_run(), vec!["--yes".into()]].concat());
    let printed = text(&out);
    assert!(out.status.success(), "{printed}");
    let (results, dir) = s.results();
    let stats = s.stats();

    // The burst: every invocation parsed, both variants, at the concurrency asked.
    let variants = results["burst"]["variants"].as_array().unwrap();
    assert_eq!(variants.len(), 2);
    for (variant, function) in variants.iter().zip([s.naive(), s.global()]) {
        assert_eq!(variant["function"], function.as_str());
        let invocations = variant["invocations"].as_array().unwrap();
        assert_eq!(invocations.len(), INVOCATIONS, "{function}");
        let mut cold = 0;
        let mut pids = std::collections::BTreeSet::new();
        for i in invocations {
            assert!(
                i["function_error"].is_null() && i["api_error"].is_null(),
                "{i}"
            );
            let r = report(i);
            assert_eq!(r["memory_size_mb"], 128, "{i}");
            let duration = r["duration_ms"].as_f64().unwrap();
            let init = r["init_duration_ms"].as_f64();
            // Billed: rounded up to the ms, init included (a custom runtime); the text
            // REPORT rounds Duration and Init Duration to 0.01 ms.
            let billed = r["billed_duration_ms"].as_f64().unwrap();
            let above = billed - (duration + init.unwrap_or(0.0));
            assert!(
                billed.fract() == 0.0 && (-0.011..1.011).contains(&above),
                "{i}"
            );
            assert!(r["max_memory_used_mb"].as_u64().unwrap() > 0, "{i}");
            // Lambda's cold start (Init Duration) is the function's own first invocation.
            assert_eq!(init.is_some(), i["own"]["cold"] == true, "{i}");
            cold += init.is_some() as u64;
            pids.insert(i["own"]["pid"].as_u64().unwrap());
        }
        // Each environment started once and its first invocation was the cold one.
        assert_eq!(
            cold,
            pids.len() as u64,
            "{function}: {cold} cold, pids {pids:?}"
        );
        assert!(
            (1..=CONCURRENCY).contains(&cold),
            "{function}: {cold} cold starts"
        );
        let connections = &variant["connections"];
        assert_eq!(connections["reports"], INVOCATIONS, "{connections}");
        assert_eq!(connections["environments"], cold, "{connections}");
        // The functions' own count of connections, where the bootstraps report it.
        let reported = invocations
            .iter()
            .any(|i| i["own"]["connections_opened"].is_u64());
        let opened = &connections["opened"];
        match (reported, variant["key"].as_str().unwrap()) {
            (false, _) => {
                assert!(opened.is_null(), "{connections}");
                assert!(connections["note"]
                    .as_str()
                    .unwrap()
                    .contains("not reported"));
            }
            (true, "naive") => assert_eq!(opened, INVOCATIONS, "{connections}"),
            (true, _) => assert_eq!(opened, cold, "{connections}"),
        }
        // The proxy's count over the variant's window: one connection per invocation for
        // naive, one per environment for global.
        let proxy = &variant["proxy"];
        let expected = match variant["key"].as_str().unwrap() {
            "naive" => INVOCATIONS as f64,
            _ => cold as f64,
        };
        assert_eq!(
            proxy["client_connections_setup_succeeded"], expected,
            "{proxy}"
        );
        let peak = proxy["peak_client_connections"].as_f64().unwrap();
        assert!((1.0..=CONCURRENCY as f64).contains(&peak), "{proxy}");
    }
    for f in [s.naive(), s.global()] {
        // The burst's invocations went CONCURRENCY at a time.
        let peak = &stats["functions"][&f]["peak_in_flight"];
        assert_eq!(peak, CONCURRENCY, "{f}: {stats}");
    }
    // Lambda's lines were in each function's log format: REPORT lines for naive (Text),
    // platform.report records for global (JSON); the harness read both.
    let total = 1 + INVOCATIONS + SIZES.len() * (COLD + WARM); // with the warm-up
    assert_eq!(s.log_messages(&s.naive(), "REPORT RequestId").len(), total);
    assert_eq!(s.log_messages(&s.global(), "platform.report").len(), total);
    assert!(s.log_messages(&s.global(), "REPORT RequestId").is_empty());
    let log = fs::read_to_string(s.dir.join("standin.log")).unwrap_or_default();
    assert!(!log.contains("Traceback"), "the stand-in failed:\n{log}");

    // The memory sweep: at each size, the cold starts the update forced, then warm ones.
    let functions = results["sweep"]["functions"].as_array().unwrap();
    assert_eq!(functions.len(), 2);
    for f in functions {
        let sizes = f["sizes"].as_array().unwrap();
        assert_eq!(sizes.len(), SIZES.len(), "{f}");
        for (size, memory) in sizes.iter().zip(SIZES) {
            assert_eq!(size["memory_mb"], memory);
            let cold = size["cold"].as_array().unwrap();
            let warm = size["warm"].as_array().unwrap();
            assert_eq!((cold.len(), warm.len()), (COLD, WARM));
            for i in cold.iter().chain(warm) {
                assert_eq!(report(i)["memory_size_mb"], memory, "{i}");
            }
            assert!(
                cold.iter().all(|i| report(i)["init_duration_ms"].is_f64()),
                "{size}"
            );
            assert!(
                warm.iter().all(|i| report(i)["init_duration_ms"].is_null()),
                "{size}"
            );
        }
    }
    // 2 updates before the burst, one per size and function, 2 to restore.
    let updates = calls(&stats, "UpdateFunctionConfiguration");
    assert_eq!(updates, 2 + 2 * SIZES.len() as u64 + 2, "{stats}");

    // Put back, and said so.
    for f in [s.naive(), s.global()] {
        s.assert_restored(&f);
    }
    assert_eq!(
        results["restored"].as_array().unwrap().len(),
        2,
        "{results}"
    );

    // The report, with the charts, the region, the date and the stack's parameters.
    let report_md = fs::read_to_string(dir.join("report.md")).unwrap();
    for expected in [
        "a local stand-in",
        "**Not AWS.**",
        "us-east-1",
        &results["started_at"].as_str().unwrap()[..10],
        "| DeployNaive | true |",
        "## The article's experiment: naive vs global connection",
        "| cold starts (Init Duration in the REPORT) |",
        &format!(
            "| {}-proxy: ClientConnectionsSetupSucceeded | {INVOCATIONS} |",
            s.stack
        ),
        "## The memory setting",
        "| 256 | 2 of 2 |",
        "![Duration of each invocation](burst-durations.svg)",
        "![Duration and Init Duration by memory size](memory-sweep.svg)",
    ] {
        assert!(
            report_md.contains(expected),
            "{expected:?} missing:\n{report_md}"
        );
    }
    for chart in [
        "burst-durations.svg",
        "burst-connections.svg",
        "memory-sweep.svg",
    ] {
        let svg = fs::read_to_string(dir.join(chart)).unwrap();
        assert!(svg.starts_with("<svg") && svg.contains("</svg>"), "{chart}");
    }
}

/// Runs the harness, waits until it has changed the configuration and invoked at the new
/// size, sends `signals` (the second 100 ms after the first: it must not stop the
/// restore), and returns its output.
fn interrupted(s: &StandIn, signals: &[&str]) -> Output {
    let args = [
        small_run(),
        [
            "--yes",
            "--phases",
            "sweep",
            "--memory-sizes",
            "512,1024",
            "--warm",
            "400",
        ]
        .map(String::from)
        .to_vec(),
    ]
    .concat();
    let child = s
        .harness(&args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let start = Instant::now();
    loop {
        let changed = s.configuration(&s.naive())["MemorySize"] == 512;
        let invoked = calls(&s.stats(), "Invoke") >= 10;
        if changed && invoked {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "the harness never got going"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    for (n, signal) in signals.iter().enumerate() {
        if n > 0 {
            std::thread::sleep(Duration::from_millis(100));
        }
        let sent = Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(child.id().to_string())
            .status()
            .unwrap();
        assert!(sent.success());
    }
    wait_output(child, Duration::from_secs(60))
}

fn assert_put_back_after(signal: &str, code: i32, signals: &[&str]) {
    let s = StandIn::start(&format!("ba-{}", signal.to_lowercase()), false);
    let out = interrupted(&s, signals);
    let printed = text(&out);
    assert_eq!(out.status.code(), Some(code), "{printed}");
    assert!(
        printed.contains(&format!("{signal}: stopping")),
        "{printed}"
    );
    let (results, _) = s.results();
    assert_eq!(results["interrupted"], signal, "{results}");
    // Midway: far fewer invocations than planned (2 sizes x 2 functions x 402).
    let invoked = calls(&s.stats(), "Invoke");
    assert!(
        invoked < 400,
        "{invoked} invocations: not interrupted midway"
    );
    for f in [s.naive(), s.global()] {
        s.assert_restored(&f);
    }
}

#[test]
fn ctrl_c_midway_puts_the_configuration_back() {
    // The second SIGINT comes while the harness stops and restores.
    assert_put_back_after("SIGINT", 130, &["INT", "INT"]);
}

#[test]
fn sigterm_midway_puts_the_configuration_back() {
    assert_put_back_after("SIGTERM", 143, &["TERM"]);
}

#[test]
fn a_killed_run_must_be_restored_before_the_next() {
    let s = StandIn::start("ba-kill", false);
    let out = interrupted(&s, &["KILL"]);
    assert_eq!(out.status.code(), None, "{}", text(&out));
    // Killed outright: the configuration is still changed, the state file says so.
    assert_eq!(s.configuration(&s.naive())["MemorySize"], 512);
    assert!(s.state_file().exists());
    let before = calls(&s.stats(), "Invoke");
    let refused = s.run(&[small_run(), vec!["--yes".into()]].concat());
    assert_eq!(refused.status.code(), Some(2), "{}", text(&refused));
    assert!(
        text(&refused).contains("Run with --restore first"),
        "{}",
        text(&refused)
    );
    assert_eq!(calls(&s.stats(), "Invoke"), before, "a refused run invoked");
    let restored = s.run(&["--restore".to_string()]);
    assert!(restored.status.success(), "{}", text(&restored));
    for f in [s.naive(), s.global()] {
        s.assert_restored(&f);
    }
}

#[test]
fn a_failure_midway_puts_the_configuration_back() {
    let s = StandIn::start("ba-fail", false);
    // The third update (global's first size) is denied; the restore's are not.
    s.fail("UpdateFunctionConfiguration", 2);
    let args = [
        small_run(),
        ["--yes", "--phases", "sweep"].map(String::from).to_vec(),
    ]
    .concat();
    let out = s.run(&args);
    let printed = text(&out);
    assert_eq!(out.status.code(), Some(1), "{printed}");
    assert!(printed.contains("AccessDeniedException"), "{printed}");
    let (results, _) = s.results();
    assert!(
        results["error"].as_str().unwrap().contains("AccessDenied"),
        "{results}"
    );
    for f in [s.naive(), s.global()] {
        s.assert_restored(&f);
    }
}

/// Not part of `make e2e`: the sample report of docs/bench-aws.md, the harness's defaults
/// (2000 invocations per variant at concurrency 20, five memory sizes) against the
/// stand-in, copied to docs/bench-aws-sample/. `cargo test -p e2e --features services
/// --test bench_aws -- --ignored sample_report`, with the services up.
#[test]
#[ignore]
fn sample_report_for_the_docs() {
    let s = StandIn::start("sample", true);
    let args = [
        "--yes",
        "--metric-period",
        "1",
        "--metrics-wait",
        "30",
        "--logs-wait",
        "30",
    ]
    .map(String::from);
    let out = s.run(&args);
    assert!(out.status.success(), "{}", text(&out));
    let (_, dir) = s.results();
    let docs = workspace_root().join("docs/bench-aws-sample");
    fs::create_dir_all(&docs).unwrap();
    for file in [
        "report.md",
        "burst-durations.svg",
        "burst-connections.svg",
        "memory-sweep.svg",
    ] {
        fs::copy(dir.join(file), docs.join(file)).unwrap();
    }
}
