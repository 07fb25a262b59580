//! One measured run: containers of a function, keep-alive clients invoking it, the
//! server's connections sampled throughout.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use e2e::{spawn_bootstrap, Admin, Invoker, Services};
use serde::Serialize;
use serde_json::json;

use crate::db::{server_commands, SERVER_COMMANDS};
use crate::invocation_log::{read_reports, Invocation};
use crate::process::{cpu_ns, function_env, Container};
use crate::stats::Summary;
use crate::Result;

/// The article's burst: 2000 invocations at concurrency 20.
pub(crate) const BURST: usize = 2000;
pub(crate) const CONCURRENCY: usize = 20;
/// Ceiling for one burst, so a stuck run ends.
pub(crate) const BURST_LIMIT: Duration = Duration::from_secs(180);
pub(crate) const SAMPLE_EVERY: Duration = Duration::from_millis(100);
/// How long the sampler watches the warm containers after the burst, then after SIGTERM.
pub(crate) const IDLE_AFTER_BURST: Duration = Duration::from_secs(3);
pub(crate) const AFTER_SIGTERM: Duration = Duration::from_secs(2);
/// Invocations one after another, on one container: the cost of each variant without
/// contention for the CPU.
pub(crate) const SEQUENTIAL: usize = 300;

#[derive(Clone, Copy, Serialize)]
pub(crate) struct Sample {
    pub(crate) t_ms: u64,
    pub(crate) threads_connected: u64,
}

#[derive(Serialize)]
pub(crate) struct Variant {
    pub(crate) function: String,
    pub(crate) concurrency: usize,
    /// What the server did per invocation (the run's own connections and commands; the
    /// bench's status queries are `SELECT`s too, a few per run).
    pub(crate) server_commands_per_invocation: Vec<(String, f64)>,
    /// Handler times (inside the handler, as the function measured them).
    pub(crate) handler: Summary,
    pub(crate) handler_warm: Summary,
    pub(crate) cold_invocations: usize,
    pub(crate) processes: usize,
    /// Client round trips through the emulator.
    pub(crate) client: Summary,
    pub(crate) failed: usize,
    /// CPU time (user + system) of the function processes per invocation.
    pub(crate) cpu_ms_per_invocation: f64,
    /// Connections above the baseline: sampled, and the server's own high-water mark.
    pub(crate) peak_connections: u64,
    pub(crate) max_used_connections: u64,
    pub(crate) connections_opened: u64,
    pub(crate) burst_ms: u64,
    pub(crate) sigterm_at_ms: u64,
    #[serde(skip)]
    pub(crate) invocations: Vec<Invocation>,
    #[serde(skip)]
    pub(crate) samples: Vec<Sample>,
    #[serde(skip)]
    pub(crate) logs: Vec<PathBuf>,
}

/// One measured run: `concurrency` containers of `function`, `invocations` sent by
/// `concurrency` keep-alive clients, the server's connections sampled throughout.
pub(crate) struct Run {
    pub(crate) function: &'static str,
    pub(crate) database_url: &'static str,
    /// Overrides the URL `database_url` names (e.g. through the latency proxy).
    pub(crate) url: Option<String>,
    pub(crate) concurrency: usize,
    /// Bootstrap processes started; `None`: one per client (classic Lambda).
    pub(crate) containers: Option<usize>,
    /// Added to the functions' environment.
    pub(crate) env: Vec<(&'static str, String)>,
    pub(crate) invocations: usize,
    pub(crate) idle_after: Duration,
    pub(crate) after_sigterm: Duration,
    pub(crate) quiet: bool,
    /// Pause between a client's invocations (Lambda containers sit idle between them).
    pub(crate) gap: Duration,
}

impl Run {
    /// The article's burst, with time after it to watch the connections.
    pub(crate) fn burst(function: &'static str, database_url: &'static str) -> Self {
        Self {
            function,
            database_url,
            url: None,
            concurrency: CONCURRENCY,
            containers: None,
            env: Vec::new(),
            invocations: BURST,
            idle_after: IDLE_AFTER_BURST,
            after_sigterm: AFTER_SIGTERM,
            quiet: false,
            gap: Duration::ZERO,
        }
    }

    pub(crate) fn sequential(function: &'static str, database_url: &'static str) -> Self {
        Self {
            concurrency: 1,
            invocations: SEQUENTIAL,
            ..Self::burst(function, database_url).quiet()
        }
    }

    pub(crate) fn with_gap(self, gap: Duration) -> Self {
        Self { gap, ..self }
    }

    pub(crate) fn with_url(self, url: Option<String>) -> Self {
        Self { url, ..self }
    }

    pub(crate) fn with_load(self, concurrency: usize, invocations: usize) -> Self {
        Self {
            concurrency,
            invocations,
            ..self
        }
    }

    /// `containers` processes serve the `concurrency` clients (Managed Instances: one).
    pub(crate) fn with_containers(self, containers: usize) -> Self {
        Self {
            containers: Some(containers),
            ..self
        }
    }

    pub(crate) fn with_env(mut self, name: &'static str, value: String) -> Self {
        self.env.push((name, value));
        self
    }

    /// Without the watch after the run (its connections are not charted).
    pub(crate) fn quiet(self) -> Self {
        Self {
            idle_after: Duration::from_millis(200),
            after_sigterm: Duration::from_millis(200),
            quiet: true,
            ..self
        }
    }
}

pub(crate) fn run(services: &Services, out: &Path, run: Run) -> Result<Variant> {
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
    env.extend(run.env.iter().map(|(k, v)| (*k, v.as_str())));
    let containers = run.containers.unwrap_or(run.concurrency);
    let tag = format!(
        "{function}-{}-c{}-p{containers}-{}{}",
        run.database_url,
        run.concurrency,
        run.env
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(","),
        if run.url.is_some() { "-proxy" } else { "" }
    );
    let logs: Vec<PathBuf> = (0..containers)
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
    let cpu_ns_total: u64 = containers.iter().map(|c| cpu_ns(c.0.id())).sum();

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
        cpu_ms_per_invocation: cpu_ns_total as f64 / 1e6 / invocations.len().max(1) as f64,
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
        logs: logs.clone(),
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

// Used by charts.
impl Variant {
    pub(crate) fn points(&self) -> Vec<(f64, f64, bool)> {
        self.invocations
            .iter()
            .enumerate()
            .map(|(i, inv)| (i as f64, inv.duration_us as f64 / 1000.0, inv.cold))
            .collect()
    }
}
