//! The report: `docs/benchmarks.json` and `docs/benchmarks.md` (with the charts).

pub(crate) mod charts;
mod markdown;

use serde::Serialize;
use serde_json::{json, Value};

use crate::experiments::burst::Repeats;
use crate::experiments::{
    burst::{BurstReport, Contrast},
    cold_start::ColdRow,
    connection_cap, idle_ping,
    init::InitRow,
    managed_instances,
    profile::ProfileRow,
    reconnect::ReconnectCost,
    sizes::SizeRow,
};
use crate::machine::Machine;

#[derive(Serialize)]
pub(crate) struct Report {
    pub(crate) machine: Machine,
    pub(crate) burst: BurstReport,
    pub(crate) contrast: Vec<Contrast>,
    pub(crate) reconnect: ReconnectCost,
    pub(crate) idle_ping: idle_ping::IdlePingCost,
    pub(crate) managed_instances: managed_instances::ManagedInstances,
    pub(crate) connection_cap: Vec<connection_cap::CapRow>,
    pub(crate) init: Vec<InitRow>,
    pub(crate) cold: Vec<ColdRow>,
    pub(crate) profile: Vec<ProfileRow>,
    pub(crate) sizes: Vec<SizeRow>,
}

impl Report {
    pub(crate) fn ratio(a: f64, b: f64) -> f64 {
        if b > 0.0 {
            a / b
        } else {
            f64::NAN
        }
    }

    /// naive / global mean handler time: the median of the alternated repeats.
    pub(crate) fn mean_ratio(&self) -> f64 {
        let r = &self.burst.repeats;
        r.ratios(|r| (&r.naive_mean_ms, &r.global_mean_ms)).median
    }

    /// naive / global p99 (all invocations, cold ones included): the median of the repeats.
    pub(crate) fn p99_ratio(&self) -> f64 {
        let r = &self.burst.repeats;
        r.ratios(|r| (&r.naive_p99_ms, &r.global_p99_ms)).median
    }

    pub(crate) fn to_json(&self) -> Value {
        let mut v = serde_json::to_value(self).unwrap_or(Value::Null);
        v["mean_ratio_naive_over_global"] = json!(self.mean_ratio());
        v["p99_ratio_naive_over_global"] = json!(self.p99_ratio());
        v["warm_mean_ratio_naive_over_global"] = json!(Self::ratio(
            self.burst.naive.handler_warm.mean_ms,
            self.burst.global.handler_warm.mean_ms
        ));
        let mi = &self.managed_instances;
        if let Some(rtt) = mi.conditions.iter().find(|c| c.label.contains("RTT")) {
            v["managed_instances"]["throughput_ratio_pool_over_single"] = json!(rtt.ratio_median());
            v["managed_instances"]["throughput_ratio_pool_over_single_range"] =
                json!(rtt.ratio_range());
        }
        let spread = |r: &Repeats| r.ratios(|r| (&r.naive_mean_ms, &r.global_mean_ms));
        v["mean_ratio_naive_over_global_spread"] = json!(spread(&self.burst.repeats));
        for c in &self.contrast {
            let key = c.label.replace([',', ' '], "_").replace("__", "_");
            let s = spread(&c.repeats);
            v[format!("mean_ratio_naive_over_global_{key}")] = json!(s.median);
            v[format!("mean_ratio_naive_over_global_{key}_spread")] = json!(s);
        }
        v
    }
}
