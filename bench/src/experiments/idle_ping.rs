//! What the liveness check costs: after a long idle, `LazyConnection` pings the kept
//! connection before using it (one more round trip); back to back it does not. Measured
//! through the latency proxy, so that a round trip costs what it does in a VPC.

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use e2e::Services;
use serde::Serialize;

use crate::invocation_log::alternating;
use crate::process::{function_env, OneContainer};
use crate::stats::Summary;
use crate::Result;

/// Pairs of (back-to-back, after idle) invocations.
pub const PAIRS: usize = 40;
/// The function pings after this much idle (`DB_PING_AFTER_IDLE_MS`; 30 s by default,
/// shortened so the experiment takes seconds)...
const PING_AFTER_IDLE: Duration = Duration::from_millis(200);
/// ...and idles this long before every second invocation.
const IDLE: Duration = Duration::from_millis(250);

#[derive(Serialize)]
pub struct IdlePingCost {
    pub back_to_back: Summary,
    pub after_idle: Summary,
}

pub fn measure(
    services: &Services,
    out: &Path,
    mysql_via_proxy: SocketAddr,
) -> Result<IdlePingCost> {
    let function = "rds-enrich";
    let mysql = format!("127.0.0.1:{}", services.var("MYSQL_PORT"));
    let url = services
        .var("DATABASE_URL")
        .replace(&mysql, &mysql_via_proxy.to_string());
    let ping_after = PING_AFTER_IDLE.as_millis().to_string();
    let mut env = function_env(services, "DATABASE_URL");
    env.retain(|(k, _)| *k != "DATABASE_URL");
    env.push(("DATABASE_URL", &url));
    env.push(("DB_PING_AFTER_IDLE_MS", &ping_after));
    let log = out.join("logs/idle-ping.log");
    let container = OneContainer::start(services, function, &env, &log);
    let call = |id| container.call(id);
    call(1)?; // cold: connects
    for i in 0..PAIRS as u64 {
        call(2 + i)?; // back to back: no ping
        std::thread::sleep(IDLE);
        call(100 + i)?; // idle past the threshold: ping, then the query
    }
    drop(container);
    let (back_to_back, after_idle) = alternating(&log)?;
    let cost = IdlePingCost {
        back_to_back: Summary::of_us(&back_to_back),
        after_idle: Summary::of_us(&after_idle),
    };
    println!(
        "{function:<18} back to back p50 {:.3} ms | after {} ms idle (ping first): p50 {:.3} ms",
        cost.back_to_back.p50_ms,
        IDLE.as_millis(),
        cost.after_idle.p50_ms
    );
    Ok(cost)
}

/// The report's section.
pub fn markdown(cost: &IdlePingCost, rtt: Duration) -> Vec<String> {
    let mut lines = vec![
        "## The idle ping".into(),
        String::new(),
        format!(
            "A kept connection that idled for `DB_PING_AFTER_IDLE_MS` or more is pinged before \
             use, so that a connection the network silently dropped costs a short ping \
             timeout instead of the query timeout. Back-to-back invocations are not pinged. \
             Measured {PAIRS} times each, through the +{} ms RTT proxy, with the threshold \
             shortened to {} ms: an invocation right after another, then one after {} ms idle.",
            rtt.as_secs_f64() * 1000.0,
            PING_AFTER_IDLE.as_millis(),
            IDLE.as_millis()
        ),
        String::new(),
        "| invocation | p50 (ms) | mean (ms) | p99 (ms) | max (ms) |".into(),
        "| --- | ---: | ---: | ---: | ---: |".into(),
    ];
    for (name, x) in [
        ("back to back (no ping)", &cost.back_to_back),
        ("after a long idle (ping, then query)", &cost.after_idle),
    ] {
        lines.push(format!(
            "| {name} | {:.3} | {:.3} | {:.3} | {:.3} |",
            x.p50_ms, x.mean_ms, x.p99_ms, x.max_ms
        ));
    }
    lines.push(String::new());
    lines
}
