//! `make bench`: the article's experiment, reproduced for the Rust functions, plus the
//! costs behind it. `scripts/bench` builds the variants and starts the services; this
//! driver runs the experiments (one module each, under `experiments/`) and writes
//! `docs/benchmarks.{md,json}` and the charts (`report/`).
//!
//! Everything talks to 127.0.0.1 only, and every loop is bounded in count and time.

mod aws_report;
mod db;
mod experiments;
mod fake_runtime;
mod invocation_log;
mod latency_proxy;
mod machine;
mod process;
mod report;
mod run;
mod stats;
mod tls_front;

use std::fs;
use std::time::Duration;

use e2e::{workspace_root, Services};

use experiments::{
    burst, cold_start, connection_cap, idle_ping, init, managed_instances, profile, reconnect,
    sizes,
};
use report::{charts, Report};

type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

/// The database's distance in the "network" rows: a round trip within an AWS region.
const NETWORK_RTT: Duration = Duration::from_micros(500);

fn main() -> Result<()> {
    // `bench aws-report DIR`: the report of a `make bench-aws` run (no services needed).
    if std::env::args().nth(1).as_deref() == Some("aws-report") {
        let dir = std::env::args()
            .nth(2)
            .ok_or("usage: bench aws-report DIR")?;
        return aws_report::render(std::path::Path::new(&dir));
    }
    let root = workspace_root();
    let services = Services::load();
    let out = root.join("target/bench");
    fs::create_dir_all(out.join("logs"))?;

    // `cargo run -p bench --bin bench -- init` (or `cold`, `profile`): that experiment
    // alone, printed, no report.
    match std::env::args().nth(1).as_deref() {
        Some("init") => return init::init_times(&root, &services).map(drop),
        Some("cold") => {
            let rows = cold_start::cold_starts(&root, &services)?;
            charts::cold_start(&out.join("cold-start.svg"), &rows)?;
            println!("chart: target/bench/cold-start.svg");
            return Ok(());
        }
        Some("profile") => return profile::profile_cost(&root, &services, &out).map(drop),
        Some(other) => {
            return Err(format!("unknown experiment {other:?}: init, cold or profile").into())
        }
        None => {}
    }

    let machine = machine::machine();
    println!("machine: {} cores, {}", machine.cores, machine.cpu);

    println!("\n== zip sizes");
    let sizes = sizes::zip_sizes(&root)?;

    println!(
        "\n== init time: exec to the end of init, {} cold starts each",
        init::COLD_STARTS
    );
    let init = init::init_times(&root, &services)?;

    println!(
        "\n== the cold invocation: exec to first response, then a warm one, {} cold starts each",
        cold_start::COLD_STARTS
    );
    let cold = cold_start::cold_starts(&root, &services)?;

    let burst = burst::burst(&services, &out)?;

    // The database one network round trip away, as in a VPC: +NETWORK_RTT per round trip.
    let mysql: std::net::SocketAddr =
        format!("127.0.0.1:{}", services.var("MYSQL_PORT")).parse()?;
    let proxy = latency_proxy::start(mysql, NETWORK_RTT / 2)?;
    let contrast = burst::contrast(&services, &out, mysql, proxy)?;

    println!("\n== the reconnect path: a kept connection killed between invocations");
    let reconnect = reconnect::reconnect_cost(&services, &out)?;

    println!("\n== the idle ping: back to back against after a long idle, through the RTT proxy");
    let idle_ping = idle_ping::measure(&services, &out, proxy)?;

    println!("\n== managed instances: one environment at concurrency 8, one connection vs 8");
    let proxied_url = services
        .var("DATABASE_URL")
        .replace(&mysql.to_string(), &proxy.to_string());
    let managed = managed_instances::measure(&services, &out, &proxied_url)?;

    println!("\n== managed instances: the default connection cap against one per invocation");
    let connection_cap = connection_cap::measure(&services, &out, mysql)?;

    println!(
        "\n== size profile cost: this repo's build vs cargo-lambda's default, warm invocations"
    );
    let profile = profile::profile_cost(&root, &services, &out)?;

    let report = Report {
        machine,
        burst,
        contrast,
        reconnect,
        idle_ping,
        managed_instances: managed,
        connection_cap,
        init,
        cold,
        profile,
        sizes,
    };
    let docs = root.join("docs");
    fs::create_dir_all(&docs)?;
    charts::durations(&docs.join("burst-durations.svg"), &report.burst)?;
    charts::connections(&docs.join("burst-connections.svg"), &report.burst)?;
    charts::managed_instances(
        &docs.join("managed-instances-throughput.svg"),
        &report.managed_instances,
    )?;
    charts::cold_start(&docs.join("cold-start.svg"), &report.cold)?;
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
