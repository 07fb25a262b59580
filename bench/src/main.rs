//! `make bench`: the article's experiment, reproduced for the Rust functions, plus the
//! costs behind it. `scripts/bench` builds the variants and starts the services; this
//! driver measures, prints a table and writes `docs/benchmarks.{md,json}` and the charts.
//!
//! Everything talks to 127.0.0.1 only, and every loop is bounded in count and time.

mod charts;
mod fake_runtime;
mod idle_ping;
mod latency_proxy;
mod stats;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Child;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use e2e::{spawn_bootstrap, workspace_root, Admin, Invoker, Services};
use serde::Serialize;
use serde_json::{json, Value};
use stats::Summary;

type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

/// The article's burst: 2000 invocations at concurrency 20.
const BURST: usize = 2000;
const CONCURRENCY: usize = 20;
/// Ceiling for one burst, so a stuck run ends.
const BURST_LIMIT: Duration = Duration::from_secs(180);
const SAMPLE_EVERY: Duration = Duration::from_millis(100);
/// How long the sampler watches the warm containers after the burst, then after SIGTERM.
const IDLE_AFTER_BURST: Duration = Duration::from_secs(3);
const AFTER_SIGTERM: Duration = Duration::from_secs(2);
/// Invocations one after another, on one container: the cost of each variant without
/// contention for the CPU.
const SEQUENTIAL: usize = 300;
/// How many times the reconnect path is measured.
const RECONNECTS: usize = 50;
/// The database's distance in the "network" rows: a round trip within an AWS region.
const NETWORK_RTT: Duration = Duration::from_micros(500);
const COLD_STARTS: usize = 20;
/// Warm invocations per profile variant, in alternating blocks.
const PROFILE_BLOCKS: usize = 4;
const PROFILE_BLOCK_SIZE: usize = 100;

fn main() -> Result<()> {
    let root = workspace_root();
    let services = Services::load();
    let out = root.join("target/bench");
    fs::create_dir_all(out.join("logs"))?;

    let machine = machine();
    println!("machine: {} cores, {}", machine.cores, machine.cpu);

    println!("\n== zip sizes");
    let sizes = zip_sizes(&root)?;

    println!("\n== init time: exec to first /next poll, {COLD_STARTS} cold starts each");
    let init = init_times(&root, &services)?;

    println!("\n== burst: {BURST} invocations at concurrency {CONCURRENCY}, naive then global");
    let naive = run(
        &services,
        &out,
        Run::burst("rds-enrich-naive", "DATABASE_URL"),
    )?;
    let global = run(&services, &out, Run::burst("rds-enrich", "DATABASE_URL"))?;

    println!("\n== why the ratio is what it is: TLS, and one invocation at a time");
    let mut contrast = Vec::new();
    let idle = Duration::from_millis(10);
    // The database one network round trip away, as in a VPC: +NETWORK_RTT per round trip.
    let mysql: std::net::SocketAddr =
        format!("127.0.0.1:{}", services.var("MYSQL_PORT")).parse()?;
    let proxy = latency_proxy::start(mysql, NETWORK_RTT / 2)?;
    let via_proxy = |var: &str| {
        Some(
            services
                .var(var)
                .replace(&mysql.to_string(), &proxy.to_string()),
        )
    };
    let rtt_label = format!(
        "one at a time, +{} ms network RTT",
        NETWORK_RTT.as_secs_f64() * 1000.0
    );
    let rtt_tls_label = format!("{rtt_label}, TLS");
    for (label, var, sequential, gap, proxied) in [
        (
            "burst, TLS",
            "DATABASE_URL_TLS",
            false,
            Duration::ZERO,
            false,
        ),
        ("one at a time", "DATABASE_URL", true, Duration::ZERO, false),
        (
            "one at a time, 10 ms apart",
            "DATABASE_URL",
            true,
            idle,
            false,
        ),
        (
            "one at a time, TLS",
            "DATABASE_URL_TLS",
            true,
            Duration::ZERO,
            false,
        ),
        (
            rtt_label.as_str(),
            "DATABASE_URL",
            true,
            Duration::ZERO,
            true,
        ),
        (
            rtt_tls_label.as_str(),
            "DATABASE_URL_TLS",
            true,
            Duration::ZERO,
            true,
        ),
    ] {
        let make = |function| {
            let run = if sequential {
                Run::sequential(function, var).with_gap(gap)
            } else {
                Run::burst(function, var).quiet()
            };
            run.with_url(if proxied { via_proxy(var) } else { None })
        };
        let naive = run(&services, &out, make("rds-enrich-naive"))?;
        let global = run(&services, &out, make("rds-enrich"))?;
        contrast.push(Contrast {
            label: label.into(),
            concurrency: naive.concurrency,
            invocations: naive.invocations.len(),
            naive: naive.handler,
            global: global.handler,
            naive_cpu_ms: naive.cpu_ms_per_invocation,
            global_cpu_ms: global.cpu_ms_per_invocation,
            naive_commands: naive.server_commands_per_invocation.clone(),
            global_commands: global.server_commands_per_invocation.clone(),
        });
    }

    println!(
        "\n== the reconnect path: a kept connection killed between invocations, {RECONNECTS} times"
    );
    let reconnect = reconnect_cost(&services, &out)?;

    println!("\n== the idle ping: back to back against after a long idle, through the RTT proxy");
    let idle_ping = idle_ping::measure(&services, &out, proxy)?;

    println!(
        "\n== size profile cost: this repo's build vs cargo-lambda's default, warm invocations"
    );
    let profile = profile_cost(&root, &services, &out)?;

    let report = Report {
        machine,
        burst: BurstReport {
            invocations: BURST,
            concurrency: CONCURRENCY,
            naive,
            global,
        },
        contrast,
        reconnect,
        idle_ping,
        init,
        profile,
        sizes,
    };
    let docs = root.join("docs");
    fs::create_dir_all(&docs)?;
    charts::durations(&docs.join("burst-durations.svg"), &report.burst)?;
    charts::connections(&docs.join("burst-connections.svg"), &report.burst)?;
    let json = report.to_json();
    fs::write(
        docs.join("benchmarks.json"),
        serde_json::to_string_pretty(&json)? + "\n",
    )?;
    let markdown = report.markdown();
    fs::write(docs.join("benchmarks.md"), &markdown)?;
    println!("\n{markdown}");
    println!("wrote docs/benchmarks.md, docs/benchmarks.json, docs/burst-*.svg");
    Ok(())
}

#[derive(Serialize)]
struct Machine {
    cores: usize,
    cpu: String,
    kernel: String,
}

fn machine() -> Machine {
    let cpuinfo = fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let cpu = cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("model name"))
        .map(|l| l.trim_start_matches([' ', '\t', ':']).to_string())
        .unwrap_or_else(|| "unknown CPU".into());
    Machine {
        cores: thread::available_parallelism().map_or(1, |n| n.get()),
        cpu,
        kernel: fs::read_to_string("/proc/sys/kernel/osrelease")
            .unwrap_or_default()
            .trim()
            .to_string(),
    }
}

// ---------------------------------------------------------------- sizes

#[derive(Serialize)]
struct SizeRow {
    function: String,
    /// This repository: its profile, lean features, one build per feature group.
    repo_zip_bytes: u64,
    /// Same code, as cargo-lambda builds it by default: no profile in Cargo.toml (it
    /// injects its own), the four functions in one build.
    cargo_lambda_default_zip_bytes: Option<u64>,
    /// `cargo build --release -p functions` (Cargo's defaults, the four functions in one
    /// build, so their features unify), zipped.
    plain_release_zip_bytes: Option<u64>,
}

fn zip_sizes(root: &Path) -> Result<Vec<SizeRow>> {
    let size = |p: PathBuf| fs::metadata(p).ok().map(|m| m.len());
    let mut rows = Vec::new();
    for function in [
        "rds-enrich",
        "rds-enrich-naive",
        "s3-get-object",
        "decrypt-env",
        "hello-floor",
    ] {
        let repo = size(
            root.join("target/lambda")
                .join(function)
                .join("bootstrap.zip"),
        )
        .ok_or(format!("no zip for {function}: run scripts/bench"))?;
        let row = SizeRow {
            function: function.into(),
            repo_zip_bytes: repo,
            cargo_lambda_default_zip_bytes: size(
                root.join("target/bench/default-profile/lambda")
                    .join(function)
                    .join("bootstrap.zip"),
            ),
            plain_release_zip_bytes: size(
                root.join("target/bench/plain")
                    .join(function)
                    .join("bootstrap.zip"),
            ),
        };
        println!(
            "{function:<18} {:>10} {:>12} {:>12}",
            row.repo_zip_bytes,
            fmt_opt(row.cargo_lambda_default_zip_bytes),
            fmt_opt(row.plain_release_zip_bytes)
        );
        rows.push(row);
    }
    Ok(rows)
}

fn fmt_opt(v: Option<u64>) -> String {
    v.map_or("-".into(), |v| v.to_string())
}

// ---------------------------------------------------------------- init time

#[derive(Serialize)]
struct InitRow {
    function: String,
    init: Summary,
}

fn init_times(root: &Path, services: &Services) -> Result<Vec<InitRow>> {
    let runtime = fake_runtime::FakeRuntime::start()?;
    let env = function_env(services, "DATABASE_URL");
    let mut rows = Vec::new();
    for function in [
        "hello-floor",
        "rds-enrich-naive",
        "rds-enrich",
        "decrypt-env",
        "s3-get-object",
    ] {
        let binary = e2e::bootstrap(function);
        let mut samples = Vec::with_capacity(COLD_STARTS);
        for i in 0..COLD_STARTS {
            let log = root.join(format!("target/bench/logs/init-{function}-{i}.log"));
            let polled = runtime.expect_poll();
            let start = Instant::now();
            let mut child = spawn_bootstrap(&binary, &runtime.url(), function, &env, &log);
            let at = polled.wait(Duration::from_secs(10));
            let _ = child.kill();
            let _ = child.wait();
            let at = at.ok_or(format!("{function} never polled for an invocation"))?;
            samples.push(at.duration_since(start).as_micros() as u64);
        }
        let init = Summary::of_us(&samples);
        println!(
            "{function:<18} p50 {:>6.2} ms  mean {:>6.2} ms  max {:>6.2} ms",
            init.p50_ms, init.mean_ms, init.max_ms
        );
        rows.push(InitRow {
            function: function.into(),
            init,
        });
    }
    Ok(rows)
}

/// What each function needs in its environment, for the local services.
fn function_env<'a>(services: &'a Services, database_url: &str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("AWS_LAMBDA_LOG_LEVEL", "INFO"),
        ("DATABASE_URL", services.var(database_url)),
        ("DATABASE_CA_FILE", services.var("DATABASE_CA_FILE")),
        ("AWS_ENDPOINT_URL", services.var("AWS_ENDPOINT_URL")),
        ("AWS_REGION", "us-east-1"),
        ("AWS_ACCESS_KEY_ID", "test"),
        ("AWS_SECRET_ACCESS_KEY", "test"),
        ("ENCRYPTED_KEY", services.var("ENCRYPTED_KEY")),
    ]
    .into_iter()
    .filter(|(k, _)| *k != "DATABASE_CA_FILE" || database_url == "DATABASE_URL_TLS")
    .collect()
}

// ---------------------------------------------------------------- burst

/// A bootstrap process, killed when dropped (on an early return too).
struct Container(Child);

impl Drop for Container {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// One invocation as the function reported it (its "REPORT line").
#[derive(Clone, Copy, Serialize)]
struct Invocation {
    started_at_us: u64,
    duration_us: u64,
    cold: bool,
    pid: u32,
}

#[derive(Clone, Copy, Serialize)]
struct Sample {
    t_ms: u64,
    threads_connected: u64,
}

#[derive(Serialize)]
struct Variant {
    function: String,
    concurrency: usize,
    /// What the server did per invocation (the run's own connections and commands; the
    /// bench's status queries are `SELECT`s too, a few per run).
    server_commands_per_invocation: Vec<(String, f64)>,
    /// Handler Durations, as the function measured them.
    handler: Summary,
    handler_warm: Summary,
    cold_invocations: usize,
    processes: usize,
    /// Client round trips through the emulator.
    client: Summary,
    failed: usize,
    /// CPU time (user + system) of the function processes per invocation.
    cpu_ms_per_invocation: f64,
    /// Connections above the baseline: sampled, and the server's own high-water mark.
    peak_connections: u64,
    max_used_connections: u64,
    connections_opened: u64,
    burst_ms: u64,
    sigterm_at_ms: u64,
    #[serde(skip)]
    invocations: Vec<Invocation>,
    #[serde(skip)]
    samples: Vec<Sample>,
}

/// The same comparison under other conditions.
#[derive(Serialize, Clone)]
struct Contrast {
    label: String,
    concurrency: usize,
    invocations: usize,
    naive: Summary,
    global: Summary,
    naive_cpu_ms: f64,
    global_cpu_ms: f64,
    naive_commands: Vec<(String, f64)>,
    global_commands: Vec<(String, f64)>,
}

#[derive(Serialize)]
struct BurstReport {
    invocations: usize,
    concurrency: usize,
    naive: Variant,
    global: Variant,
}

/// One measured run: `concurrency` containers of `function`, `invocations` sent by
/// `concurrency` keep-alive clients, the server's connections sampled throughout.
struct Run {
    function: &'static str,
    database_url: &'static str,
    /// Overrides the URL `database_url` names (e.g. through the latency proxy).
    url: Option<String>,
    concurrency: usize,
    invocations: usize,
    idle_after: Duration,
    after_sigterm: Duration,
    quiet: bool,
    /// Pause between a client's invocations (Lambda containers sit idle between them).
    gap: Duration,
}

impl Run {
    /// The article's burst, with time after it to watch the connections.
    fn burst(function: &'static str, database_url: &'static str) -> Self {
        Self {
            function,
            database_url,
            url: None,
            concurrency: CONCURRENCY,
            invocations: BURST,
            idle_after: IDLE_AFTER_BURST,
            after_sigterm: AFTER_SIGTERM,
            quiet: false,
            gap: Duration::ZERO,
        }
    }

    fn sequential(function: &'static str, database_url: &'static str) -> Self {
        Self {
            concurrency: 1,
            invocations: SEQUENTIAL,
            ..Self::burst(function, database_url).quiet()
        }
    }

    fn with_gap(self, gap: Duration) -> Self {
        Self { gap, ..self }
    }

    fn with_url(self, url: Option<String>) -> Self {
        Self { url, ..self }
    }

    /// Without the watch after the run (its connections are not charted).
    fn quiet(self) -> Self {
        Self {
            idle_after: Duration::from_millis(200),
            after_sigterm: Duration::from_millis(200),
            quiet: true,
            ..self
        }
    }
}

fn run(services: &Services, out: &Path, run: Run) -> Result<Variant> {
    let function = run.function;
    // The sampler's connection is open before the baseline is read, so it is in it.
    let mut sampler_admin = Admin::connect(services);
    let mut admin = Admin::connect(services);
    admin.exec("FLUSH STATUS"); // Max_used_connections := connections open now
    let baseline = admin.status("Threads_connected");
    let connections_before = admin.status("Connections");

    let sampling = Arc::new(AtomicBool::new(true));
    let samples = Arc::new(Mutex::new(Vec::new()));
    let t0 = Instant::now();
    let sampler = {
        let (sampling, samples) = (sampling.clone(), samples.clone());
        thread::spawn(move || {
            while sampling.load(Ordering::Relaxed) && t0.elapsed() < BURST_LIMIT * 2 {
                let threads = sampler_admin.status("Threads_connected");
                samples.lock().unwrap().push(Sample {
                    t_ms: t0.elapsed().as_millis() as u64,
                    threads_connected: threads.saturating_sub(baseline),
                });
                thread::sleep(SAMPLE_EVERY);
            }
        })
    };

    let api = format!(
        "http://{}/.rt/{function}",
        services.var("LAMBDA_RUNTIME_API")
    );
    let binary = e2e::bootstrap(function);
    let mut env = function_env(services, run.database_url);
    if let Some(url) = &run.url {
        env.retain(|(k, _)| *k != "DATABASE_URL");
        env.push(("DATABASE_URL", url.as_str()));
    }
    let tag = format!(
        "{function}-{}-c{}{}",
        run.database_url,
        run.concurrency,
        if run.url.is_some() { "-proxy" } else { "" }
    );
    let logs: Vec<PathBuf> = (0..run.concurrency)
        .map(|i| out.join(format!("logs/run-{tag}-{i}.log")))
        .collect();
    let containers: Vec<Container> = logs
        .iter()
        .map(|log| Container(spawn_bootstrap(&binary, &api, function, &env, log)))
        .collect();

    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let total = run.invocations;
    let gap = run.gap;
    let commands_before = server_commands(&mut admin);
    let burst_start = Instant::now();
    let clients: Vec<_> = (0..run.concurrency)
        .map(|_| {
            let next = next.clone();
            let invoker = Invoker::new(services, function);
            thread::spawn(move || {
                let mut rtts = Vec::new();
                let mut failed = 0;
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= total || burst_start.elapsed() > BURST_LIMIT {
                        break;
                    }
                    let id = 1 + (i % 5000) as u64;
                    let start = Instant::now();
                    match invoker.invoke(&json!({ "id": id })) {
                        Ok(reply) if !reply.failed => rtts.push(start.elapsed().as_micros() as u64),
                        _ => failed += 1,
                    }
                    if !gap.is_zero() {
                        thread::sleep(gap);
                    }
                }
                (rtts, failed)
            })
        })
        .collect();
    let mut rtts = Vec::new();
    let mut failed = 0;
    for client in clients {
        let (r, f) = client.join().map_err(|_| "client thread panicked")?;
        rtts.extend(r);
        failed += f;
    }
    let burst_ms = burst_start.elapsed().as_millis() as u64;
    let max_used = admin.status("Max_used_connections");
    let cpu_ticks_total: u64 = containers.iter().map(|c| cpu_ticks(c.0.id())).sum();

    // Warm containers idle, then Lambda reclaims them: SIGTERM, as it does.
    thread::sleep(run.idle_after);
    let sigterm_at_ms = t0.elapsed().as_millis() as u64;
    for c in &containers {
        let _ = std::process::Command::new("kill")
            .args(["-TERM", &c.0.id().to_string()])
            .status();
    }
    thread::sleep(run.after_sigterm);
    sampling.store(false, Ordering::Relaxed);
    let _ = sampler.join();
    drop(containers);
    let connections_opened = admin.status("Connections") - connections_before;
    let commands_after = server_commands(&mut admin);

    let mut invocations = Vec::new();
    for log in &logs {
        invocations.extend(read_reports(log)?);
    }
    invocations.sort_by_key(|i| i.started_at_us);
    let samples = samples.lock().unwrap().clone();
    let durations: Vec<u64> = invocations.iter().map(|i| i.duration_us).collect();
    let warm: Vec<u64> = invocations
        .iter()
        .filter(|i| !i.cold)
        .map(|i| i.duration_us)
        .collect();
    let mut pids: Vec<u32> = invocations.iter().map(|i| i.pid).collect();
    pids.sort_unstable();
    pids.dedup();
    let per_invocation = |i: usize| {
        (commands_after[i] - commands_before[i]) as f64 / invocations.len().max(1) as f64
    };
    let server_commands_per_invocation = SERVER_COMMANDS
        .iter()
        .enumerate()
        .map(|(i, name)| (name.to_string(), per_invocation(i)))
        .collect();
    let variant = Variant {
        function: function.into(),
        concurrency: run.concurrency,
        server_commands_per_invocation,
        handler: Summary::of_us(&durations),
        handler_warm: Summary::of_us(&warm),
        cold_invocations: invocations.iter().filter(|i| i.cold).count(),
        processes: pids.len(),
        client: Summary::of_us(&rtts),
        failed,
        cpu_ms_per_invocation: cpu_ticks_total as f64 * 10.0 / invocations.len().max(1) as f64,
        peak_connections: samples
            .iter()
            .map(|s| s.threads_connected)
            .max()
            .unwrap_or(0),
        max_used_connections: max_used.saturating_sub(baseline),
        connections_opened,
        burst_ms,
        sigterm_at_ms,
        invocations,
        samples,
    };
    if !run.quiet || run.concurrency == 1 {
        println!(
            "{function:<18} {:<16} c={:<2} handler mean {:.3} ms p99 {:.3} ms max {:.3} ms | cpu {:.3} ms/inv | client p50 {:.2} ms p99 {:.2} ms | peak conns {} (max used {}) | connects {} | {} ms | failed {}",
            run.database_url,
            run.concurrency,
            variant.handler.mean_ms,
            variant.handler.p99_ms,
            variant.handler.max_ms,
            variant.cpu_ms_per_invocation,
            variant.client.p50_ms,
            variant.client.p99_ms,
            variant.peak_connections,
            variant.max_used_connections,
            variant.connections_opened,
            variant.burst_ms,
            variant.failed
        );
    } else {
        println!(
            "{function:<18} {:<16} c={:<2} handler mean {:.3} ms p99 {:.3} ms | cpu {:.3} ms/inv | connects {}",
            run.database_url,
            run.concurrency,
            variant.handler.mean_ms,
            variant.handler.p99_ms,
            variant.cpu_ms_per_invocation,
            variant.connections_opened
        );
    }
    if !run.quiet {
        println!(
            "{:>20} server commands per invocation: {:?}",
            "", variant.server_commands_per_invocation
        );
    }
    Ok(variant)
}

/// Server counters of what clients asked for: each is at least one round trip.
/// (`Connections` also counts the handshake, 2 round trips; TLS adds 1 or 2.)
const SERVER_COMMANDS: [&str; 4] = [
    "Connections",
    "Com_select",
    "Com_stmt_prepare",
    "Com_stmt_execute",
];

fn server_commands(admin: &mut Admin) -> Vec<u64> {
    SERVER_COMMANDS
        .iter()
        .map(|name| admin.status(name))
        .collect()
}

/// The `invocation report` lines a function logged.
fn read_reports(log: &Path) -> Result<Vec<Invocation>> {
    let text = fs::read_to_string(log)?;
    Ok(text
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .filter(|line| line["fields"]["message"] == "invocation report")
        .filter_map(|line| {
            let f = &line["fields"];
            Some(Invocation {
                started_at_us: f["started_at_us"].as_u64()?,
                duration_us: f["duration_us"].as_u64()?,
                cold: f["cold"].as_bool()?,
                pid: f["pid"].as_u64()? as u32,
            })
        })
        .collect())
}

// ---------------------------------------------------------------- reconnect path

/// What `LazyConnection`'s reconnect-and-retry costs the one invocation that meets a dead
/// kept connection, against a warm invocation just before it. Back to back no pre-use check
/// is made, so the other invocations pay nothing.
#[derive(Serialize)]
struct ReconnectCost {
    warm: Summary,
    after_kill: Summary,
}

fn reconnect_cost(services: &Services, out: &Path) -> Result<ReconnectCost> {
    let function = "rds-enrich";
    let mut admin = Admin::connect(services);
    let api = format!(
        "http://{}/.rt/{function}",
        services.var("LAMBDA_RUNTIME_API")
    );
    let env = function_env(services, "DATABASE_URL");
    let log = out.join("logs/reconnect.log");
    let container = Container(spawn_bootstrap(
        &e2e::bootstrap(function),
        &api,
        function,
        &env,
        &log,
    ));
    let invoker = Invoker::new(services, function);
    let call = |id: u64| -> Result<()> {
        let reply = invoker.invoke(&json!({ "id": id }))?;
        if reply.failed {
            return Err(format!("{function}: {}", reply.body).into());
        }
        Ok(())
    };
    call(1)?; // cold: connects
    for i in 0..RECONNECTS as u64 {
        call(2 + i)?; // warm
                      // The server drops the kept connection while the container idles.
        for id in admin.connection_ids("app") {
            admin.exec(&format!("KILL CONNECTION {id}"));
        }
        call(100 + i)?; // finds it dead: reconnects once and retries
    }
    drop(container);
    let warm: Vec<Invocation> = read_reports(&log)?
        .into_iter()
        .filter(|i| !i.cold)
        .collect();
    let pick = |parity: usize| -> Vec<u64> {
        warm.iter()
            .enumerate()
            .filter(|(i, _)| i % 2 == parity)
            .map(|(_, inv)| inv.duration_us)
            .collect()
    };
    let cost = ReconnectCost {
        warm: Summary::of_us(&pick(0)),
        after_kill: Summary::of_us(&pick(1)),
    };
    println!(
        "{function:<18} warm p50 {:.3} ms mean {:.3} ms | after its connection was killed: p50 {:.3} ms mean {:.3} ms",
        cost.warm.p50_ms, cost.warm.mean_ms, cost.after_kill.p50_ms, cost.after_kill.mean_ms
    );
    Ok(cost)
}

// ---------------------------------------------------------------- profile cost

/// This repo's size profile against cargo-lambda's defaults (opt-level 3, thin LTO), the
/// build most users ship: same code and features.
#[derive(Serialize)]
struct ProfileRow {
    function: String,
    workload: String,
    this_repo: Summary,
    cargo_lambda_default: Summary,
    /// CPU time (user + system) the process spent per warm invocation.
    cpu_ms_per_invocation_this_repo: f64,
    cpu_ms_per_invocation_cargo_lambda_default: f64,
    zip_bytes_this_repo: u64,
    zip_bytes_cargo_lambda_default: u64,
}

fn profile_cost(root: &Path, services: &Services, out: &Path) -> Result<Vec<ProfileRow>> {
    let bucket = services.var("S3_BUCKET").to_string();
    let cases: [(&str, &str, Value); 2] = [
        (
            "rds-enrich",
            "SELECT by primary key over TLS (MariaDB)",
            json!({"id": 42}),
        ),
        (
            "s3-get-object",
            "HeadObject, SigV4-signed (moto)",
            e2e::s3_event(&[(bucket.as_str(), "plain.txt")]),
        ),
    ];
    let mut rows = Vec::new();
    for (function, workload, payload) in cases {
        let variants = [
            e2e::bootstrap(function),
            extracted(
                &root
                    .join("target/bench/default-profile/lambda")
                    .join(function),
            )?,
        ];
        let mut durations: [Vec<u64>; 2] = [Vec::new(), Vec::new()];
        let mut cpu_ms = [0.0; 2];
        let env = function_env(services, "DATABASE_URL_TLS");
        let api = format!(
            "http://{}/.rt/{function}",
            services.var("LAMBDA_RUNTIME_API")
        );
        // Alternate the variants block by block: drift on a noisy machine hits both.
        for block in 0..PROFILE_BLOCKS {
            for (v, binary) in variants.iter().enumerate() {
                let log = out.join(format!("logs/profile-{function}-{v}-{block}.log"));
                let child = Container(spawn_bootstrap(binary, &api, function, &env, &log));
                let invoker = Invoker::new(services, function);
                let cold = invoker.invoke(&payload)?;
                if cold.failed {
                    return Err(format!("{function}: {}", cold.body).into());
                }
                let cpu_before = cpu_ticks(child.0.id());
                for _ in 0..PROFILE_BLOCK_SIZE {
                    invoker.invoke(&payload)?;
                }
                let ticks = cpu_ticks(child.0.id()) - cpu_before;
                cpu_ms[v] += ticks as f64 * 10.0; // USER_HZ = 100
                drop(child);
                durations[v].extend(
                    read_reports(&log)?
                        .into_iter()
                        .filter(|i| !i.cold)
                        .map(|i| i.duration_us),
                );
            }
        }
        let n = (PROFILE_BLOCKS * PROFILE_BLOCK_SIZE) as f64;
        let zip = |dir: PathBuf| fs::metadata(dir.join("bootstrap.zip")).map_or(0, |m| m.len());
        let row = ProfileRow {
            function: function.into(),
            workload: workload.into(),
            this_repo: Summary::of_us(&durations[0]),
            cargo_lambda_default: Summary::of_us(&durations[1]),
            cpu_ms_per_invocation_this_repo: cpu_ms[0] / n,
            cpu_ms_per_invocation_cargo_lambda_default: cpu_ms[1] / n,
            zip_bytes_this_repo: zip(root.join("target/lambda").join(function)),
            zip_bytes_cargo_lambda_default: zip(root
                .join("target/bench/default-profile/lambda")
                .join(function)),
        };
        println!(
            "{function:<18} this repo: p50 {:.3} ms mean {:.3} ms cpu {:.3} ms | cargo-lambda default: p50 {:.3} ms mean {:.3} ms cpu {:.3} ms",
            row.this_repo.p50_ms,
            row.this_repo.mean_ms,
            row.cpu_ms_per_invocation_this_repo,
            row.cargo_lambda_default.p50_ms,
            row.cargo_lambda_default.mean_ms,
            row.cpu_ms_per_invocation_cargo_lambda_default
        );
        rows.push(row);
    }
    Ok(rows)
}

/// utime + stime of a process, in clock ticks.
fn cpu_ticks(pid: u32) -> u64 {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name (which may contain spaces) start after ')'.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map_or("", |(_, rest)| rest)
        .split_whitespace()
        .collect();
    let field = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
    };
    field(11) + field(12) // utime, stime: fields 14 and 15 of stat(5)
}

/// The bootstrap of a zip outside target/lambda, extracted beside it.
fn extracted(dir: &Path) -> Result<PathBuf> {
    let zip = dir.join("bootstrap.zip");
    if !zip.exists() {
        return Err(format!("{} is missing: run scripts/bench", zip.display()).into());
    }
    Ok(e2e::extract_bootstrap(&zip, dir))
}

// ---------------------------------------------------------------- report

#[derive(Serialize)]
struct Report {
    machine: Machine,
    burst: BurstReport,
    contrast: Vec<Contrast>,
    reconnect: ReconnectCost,
    idle_ping: idle_ping::IdlePingCost,
    init: Vec<InitRow>,
    profile: Vec<ProfileRow>,
    sizes: Vec<SizeRow>,
}

impl Report {
    fn ratio(a: f64, b: f64) -> f64 {
        if b > 0.0 {
            a / b
        } else {
            f64::NAN
        }
    }

    fn mean_ratio(&self) -> f64 {
        Self::ratio(
            self.burst.naive.handler.mean_ms,
            self.burst.global.handler.mean_ms,
        )
    }

    fn p99_ratio(&self) -> f64 {
        Self::ratio(
            self.burst.naive.handler.p99_ms,
            self.burst.global.handler.p99_ms,
        )
    }

    fn to_json(&self) -> Value {
        let mut v = serde_json::to_value(self).unwrap_or(Value::Null);
        v["mean_ratio_naive_over_global"] = json!(self.mean_ratio());
        v["p99_ratio_naive_over_global"] = json!(self.p99_ratio());
        v["warm_mean_ratio_naive_over_global"] = json!(Self::ratio(
            self.burst.naive.handler_warm.mean_ms,
            self.burst.global.handler_warm.mean_ms
        ));
        for c in &self.contrast {
            let key = c.label.replace([',', ' '], "_").replace("__", "_");
            v[format!("mean_ratio_naive_over_global_{key}")] =
                json!(Self::ratio(c.naive.mean_ms, c.global.mean_ms));
        }
        v
    }

    fn markdown(&self) -> String {
        let b = &self.burst;
        let mut md = String::new();
        let mut line = |s: String| {
            md.push_str(&s);
            md.push('\n');
        };
        line("# Benchmarks".into());
        line(String::new());
        line("Generated by `make bench`; do not edit by hand.".into());
        line(String::new());
        line(format!(
            "Machine: {} cores, {}, Linux {}. Everything on 127.0.0.1: MariaDB, moto, and \
             `cargo lambda watch --only-lambda-apis` as the Lambda runtime API, serving the \
             bootstraps from `make zip`.",
            self.machine.cores, self.machine.cpu, self.machine.kernel
        ));
        line(String::new());
        line("## The article's experiment: naive vs global connection".into());
        line(String::new());
        line(format!(
            "{} invocations of `{{\"id\": N}}` at concurrency {}, sent to {} already-started \
             containers of each variant (bootstraps polling the runtime API), naive first, \
             then global, in one run. *Handler* is the Duration each invocation reported \
             (time inside the handler, like Lambda's REPORT line); *client* is the round \
             trip through the emulator, which adds its own stalls.",
            b.invocations, b.concurrency, b.concurrency
        ));
        line(String::new());
        line(
            "Why containers started by the bench and not `cargo lambda watch --concurrency 20`: \
             the processes measured are then exactly the zipped bootstraps (watch would \
             `cargo run` another build), all 20 exist from the start, so there are exactly 20 \
             cold invocations (watch spawns instances every 100 ms while its queue is \
             non-empty, mixing its spawn timing into the load), and the bench can read each \
             process's CPU time and send it SIGTERM, as Lambda does."
                .into(),
        );
        line(String::new());
        line(
            "| | naive (connect per invocation) | global (kept connection) | naive / global |"
                .into(),
        );
        line("| --- | ---: | ---: | ---: |".into());
        let (n, g) = (&b.naive, &b.global);
        for (name, a, c) in [
            ("handler min (ms)", n.handler.min_ms, g.handler.min_ms),
            ("handler mean (ms)", n.handler.mean_ms, g.handler.mean_ms),
            ("handler p50 (ms)", n.handler.p50_ms, g.handler.p50_ms),
            ("handler p99 (ms)", n.handler.p99_ms, g.handler.p99_ms),
            ("handler max (ms)", n.handler.max_ms, g.handler.max_ms),
            (
                "handler mean, warm only (ms)",
                n.handler_warm.mean_ms,
                g.handler_warm.mean_ms,
            ),
            (
                "CPU of the function per invocation (ms)",
                n.cpu_ms_per_invocation,
                g.cpu_ms_per_invocation,
            ),
            ("client p50 (ms)", n.client.p50_ms, g.client.p50_ms),
            ("client p99 (ms)", n.client.p99_ms, g.client.p99_ms),
        ] {
            line(format!(
                "| {name} | {a:.3} | {c:.3} | {:.1}× |",
                Self::ratio(a, c)
            ));
        }
        for (name, a, c) in [
            (
                "peak DB connections (sampled every 100 ms)",
                n.peak_connections,
                g.peak_connections,
            ),
            (
                "peak DB connections (server's Max_used_connections)",
                n.max_used_connections,
                g.max_used_connections,
            ),
            (
                "connections opened",
                n.connections_opened,
                g.connections_opened,
            ),
            (
                "cold invocations (first of a process)",
                n.cold_invocations as u64,
                g.cold_invocations as u64,
            ),
            (
                "processes that served",
                n.processes as u64,
                g.processes as u64,
            ),
            ("failed invocations", n.failed as u64, g.failed as u64),
            ("burst wall time (ms)", n.burst_ms, g.burst_ms),
        ] {
            line(format!("| {name} | {a} | {c} | |"));
        }
        line(String::new());
        line(format!(
            "Headline: the global connection's mean handler Duration is **{:.1}× lower** and \
             its p99 **{:.1}× lower** than the naive variant's.",
            self.mean_ratio(),
            self.p99_ratio()
        ));
        line(String::new());
        line("### The same comparison under other conditions".into());
        line(String::new());
        line(format!(
            "This machine has {} cores for {} containers, MariaDB, the emulator and the \
             clients: in the burst every invocation also waits for a CPU, and that wait is \
             the same for both variants. One invocation at a time (one container) shows each \
             variant's own cost; with 10 ms between invocations the processes fall asleep \
             between them, as real containers do; TLS, which RDS commonly enforces, makes each \
             connect dearer; and the network rows put the database {} ms of round trip away \
             (a TCP proxy on 127.0.0.1 that delays each direction), as it is in a VPC, where \
             every round trip the naive variant adds is paid in full.",
            self.machine.cores,
            b.concurrency,
            NETWORK_RTT.as_secs_f64() * 1000.0
        ));
        line(String::new());
        line("| run | concurrency | invocations | handler mean naive / global (ms) | ratio | handler p99 naive / global (ms) | ratio | CPU per invocation naive / global (ms) |".into());
        line("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |".into());
        let rows = std::iter::once(Contrast {
            label: "burst (above)".into(),
            concurrency: b.concurrency,
            invocations: b.invocations,
            naive: n.handler,
            global: g.handler,
            naive_cpu_ms: n.cpu_ms_per_invocation,
            global_cpu_ms: g.cpu_ms_per_invocation,
            naive_commands: n.server_commands_per_invocation.clone(),
            global_commands: g.server_commands_per_invocation.clone(),
        });
        for c in rows.chain(self.contrast.iter().cloned()) {
            line(format!(
                "| {} | {} | {} | {:.3} / {:.3} | {:.1}× | {:.3} / {:.3} | {:.1}× | {:.3} / {:.3} |",
                c.label,
                c.concurrency,
                c.invocations,
                c.naive.mean_ms,
                c.global.mean_ms,
                Self::ratio(c.naive.mean_ms, c.global.mean_ms),
                c.naive.p99_ms,
                c.global.p99_ms,
                Self::ratio(c.naive.p99_ms, c.global.p99_ms),
                c.naive_cpu_ms,
                c.global_cpu_ms
            ));
        }
        line(String::new());
        line(
            "What the server did per invocation, from its own counters during the burst \
              (each command is a round trip; a connect is a TCP handshake plus a 2-round-trip \
              login, TLS adds its own):"
                .into(),
        );
        line(String::new());
        line("| per invocation | naive | global |".into());
        line("| --- | ---: | ---: |".into());
        for ((name, a), (_, c)) in n
            .server_commands_per_invocation
            .iter()
            .zip(&g.server_commands_per_invocation)
        {
            line(format!("| {name} | {a:.3} | {c:.3} |"));
        }
        line(String::new());
        line("![Handler duration of each invocation](burst-durations.svg)".into());
        line(String::new());
        line("![Database connections during and after the burst](burst-connections.svg)".into());
        line(String::new());
        line(format!(
            "After the burst the containers stay warm for {} s, holding their connections, \
             then receive SIGTERM as Lambda sends before reclaiming a container.",
            IDLE_AFTER_BURST.as_secs()
        ));
        line(String::new());
        line("## The reconnect path".into());
        line(String::new());
        line(format!(
            "A kept connection that died while the container was frozen costs the invocation \
             that meets it one failed query, one connect and the retried query; no \
             back-to-back invocation pays for a pre-use check. Measured {RECONNECTS} times: a warm \
             invocation, then `KILL CONNECTION` on the server, then the next invocation."
        ));
        line(String::new());
        line("| invocation | p50 (ms) | mean (ms) | p99 (ms) | max (ms) |".into());
        line("| --- | ---: | ---: | ---: | ---: |".into());
        for (name, x) in [
            ("warm (kept connection)", &self.reconnect.warm),
            (
                "after the connection was killed (reconnect + retry)",
                &self.reconnect.after_kill,
            ),
        ] {
            line(format!(
                "| {name} | {:.3} | {:.3} | {:.3} | {:.3} |",
                x.p50_ms, x.mean_ms, x.p99_ms, x.max_ms
            ));
        }
        line(String::new());
        for l in idle_ping::markdown(&self.idle_ping, NETWORK_RTT) {
            line(l);
        }
        line(format!("## Init time: exec of `bootstrap` to its first `/next` poll ({COLD_STARTS} cold starts each)"));
        line(String::new());
        line("| function | min (ms) | p50 (ms) | mean (ms) | max (ms) |".into());
        line("| --- | ---: | ---: | ---: | ---: |".into());
        for r in &self.init {
            line(format!(
                "| {} | {:.2} | {:.2} | {:.2} | {:.2} |",
                r.function, r.init.min_ms, r.init.p50_ms, r.init.mean_ms, r.init.max_ms
            ));
        }
        line(String::new());
        line(format!(
            "## What the size profile costs ({} warm invocations each, alternating blocks of {})",
            PROFILE_BLOCKS * PROFILE_BLOCK_SIZE,
            PROFILE_BLOCK_SIZE
        ));
        line(String::new());
        line(
            "This repo's build (`opt-level = \"z\"`, fat LTO) against cargo-lambda's default \
             build of the same code (`opt-level = 3`, thin LTO and the settings cargo-lambda \
             injects; see the zip sizes below), one container each, invoked one at a time. \
             CPU is the function process's user + system time per invocation (10 ms clock \
             ticks, summed)."
                .into(),
        );
        line(String::new());
        line("| function | workload | handler p50: this repo / default (ms) | handler mean (ms) | CPU per invocation (ms) | zip (bytes) |".into());
        line("| --- | --- | ---: | ---: | ---: | ---: |".into());
        for r in &self.profile {
            line(format!(
                "| {} | {} | {:.3} / {:.3} | {:.3} / {:.3} | {:.3} / {:.3} | {} / {} |",
                r.function,
                r.workload,
                r.this_repo.p50_ms,
                r.cargo_lambda_default.p50_ms,
                r.this_repo.mean_ms,
                r.cargo_lambda_default.mean_ms,
                r.cpu_ms_per_invocation_this_repo,
                r.cpu_ms_per_invocation_cargo_lambda_default,
                r.zip_bytes_this_repo,
                r.zip_bytes_cargo_lambda_default
            ));
        }
        line(String::new());
        line("## Zip sizes (bytes)".into());
        line(String::new());
        line(
            "Same code in each column. This repo builds each group of functions with only its \
             own features and its size profile. cargo-lambda's default is what \
             `cargo lambda build --release` gives with no profile in Cargo.toml (it injects \
             `opt-level = 3` with thin LTO, one codegen unit, abort and strip), and the plain \
             column is `cargo build --release` (Cargo's defaults: no LTO, symbols kept), zipped; \
             both build the four functions in one build, as a project does by default, so their \
             dependencies' features unify. The hello-world floor is built with this repo's \
             profile only."
                .into(),
        );
        line(String::new());
        line("| function | this repo (`make zip`) | cargo-lambda's default profile | plain `cargo build --release` |".into());
        line("| --- | ---: | ---: | ---: |".into());
        for r in &self.sizes {
            line(format!(
                "| {} | {} | {} | {} |",
                r.function,
                r.repo_zip_bytes,
                fmt_opt(r.cargo_lambda_default_zip_bytes),
                fmt_opt(r.plain_release_zip_bytes)
            ));
        }
        md
    }
}

// Used by charts.
impl Variant {
    fn points(&self) -> Vec<(f64, f64, bool)> {
        self.invocations
            .iter()
            .enumerate()
            .map(|(i, inv)| (i as f64, inv.duration_us as f64 / 1000.0, inv.cold))
            .collect()
    }
}
