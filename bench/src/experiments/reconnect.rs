//! The reconnect path: a kept connection killed between invocations.

use std::path::Path;

use e2e::{Admin, Services};
use serde::Serialize;

use crate::invocation_log::alternating;
use crate::process::{function_env, OneContainer};
use crate::stats::Summary;
use crate::Result;

/// How many times the reconnect path is measured.
pub(crate) const RECONNECTS: usize = 50;

/// What `LazyConnection`'s reconnect-and-retry costs the one invocation that meets a dead
/// kept connection, against a warm invocation just before it. Back to back no pre-use check
/// is made, so the other invocations pay nothing.
#[derive(Serialize)]
pub(crate) struct ReconnectCost {
    pub(crate) warm: Summary,
    pub(crate) after_kill: Summary,
}

pub(crate) fn reconnect_cost(services: &Services, out: &Path) -> Result<ReconnectCost> {
    let function = "rds-enrich";
    let mut admin = Admin::connect(services);
    let env = function_env(services, "DATABASE_URL");
    let log = out.join("logs/reconnect.log");
    let container = OneContainer::start(services, function, &env, &log);
    let call = |id| container.call(id);
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
    let (warm, after_kill) = alternating(&log)?;
    let cost = ReconnectCost {
        warm: Summary::of_us(&warm),
        after_kill: Summary::of_us(&after_kill),
    };
    println!(
        "{function:<18} warm p50 {:.3} ms mean {:.3} ms | after its connection was killed: p50 {:.3} ms mean {:.3} ms",
        cost.warm.p50_ms, cost.warm.mean_ms, cost.after_kill.p50_ms, cost.after_kill.mean_ms
    );
    Ok(cost)
}
