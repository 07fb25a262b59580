//! Every benchmark figure the docs show is the committed report's. The figures sit in
//! blocks marked `<!-- bench: NAME -->` … `<!-- /bench -->`, whose text this file renders
//! from docs/benchmarks.json; the test fails on any difference. `make bench` rewrites the
//! blocks after a run (`UPDATE_DOCS=1 cargo test -p e2e --test docs figures`), so that the
//! docs and the report are committed together.

use serde_json::Value;

use crate::markdown::{marked_blocks, root, written_docs};

/// `v` at `path` (`a.b.0.c`), as a number; panics naming the path when the report lacks it.
fn num(v: &Value, path: &str) -> f64 {
    at(v, path)
        .as_f64()
        .unwrap_or_else(|| panic!("docs/benchmarks.json: {path} is not a number"))
}

fn at<'a>(v: &'a Value, path: &str) -> &'a Value {
    path.split('.')
        .fold(v, |v, key| match key.parse::<usize>() {
            Ok(i) => &v[i],
            Err(_) => &v[key],
        })
}

/// The row of `list` whose `key` is `value`.
fn row<'a>(list: &'a Value, key: &str, value: &str) -> &'a Value {
    list.as_array()
        .and_then(|rows| rows.iter().find(|r| r[key] == value))
        .unwrap_or_else(|| panic!("docs/benchmarks.json: no row with {key} = {value:?}"))
}

/// The median and range of a few repeats, as the report computes them.
fn spread(mut v: Vec<f64>) -> (f64, f64, f64) {
    v.sort_by(f64::total_cmp);
    (v[v.len() / 2], v[0], v[v.len() - 1])
}

fn mb(bytes: f64) -> String {
    format!("{:.2} MB", bytes / 1e6)
}

/// The four functions, as the report names them.
const FUNCTIONS: [&str; 4] = [
    "rds-enrich",
    "rds-enrich-naive",
    "s3-get-object",
    "decrypt-env",
];

/// The zip sizes of the four functions, from smallest to largest, per build.
fn sizes(r: &Value) -> String {
    let range = |key: &str| {
        let mut v: Vec<f64> = FUNCTIONS
            .iter()
            .map(|f| num(row(&r["sizes"], "function", f), key))
            .collect();
        v.sort_by(f64::total_cmp);
        format!("{} to {}", mb(v[0]), mb(v[3]))
    };
    format!(
        "Zips of the four functions: **{}** with this profile, {} with cargo-lambda's default \
         build of the same code, {} from a plain `cargo build --release` \
         ([sizes](docs/benchmarks.md#zip-sizes-bytes)).",
        range("repo_zip_bytes"),
        range("cargo_lambda_default_zip_bytes"),
        range("plain_release_zip_bytes"),
    )
}

/// The front page's four results.
fn results(r: &Value) -> String {
    let ratio = |key: &str| {
        let s = &r[key];
        format!(
            "**{:.1}×** ({:.1}–{:.1})",
            num(s, "median"),
            num(s, "min"),
            num(s, "max")
        )
    };
    let floor = num(row(&r["init"], "function", "hello-floor"), "init.p50_ms");
    let (slowest, p50) = FUNCTIONS
        .iter()
        .map(|f| (*f, num(row(&r["init"], "function", f), "init.p50_ms")))
        .max_by(|a, b| a.1.total_cmp(&b.1))
        .unwrap();
    let mi = &r["managed_instances"];
    [
        format!(
            "- A burst of 2000 invocations at concurrency 20: connecting in every invocation \
             takes {} the handler time of the kept connection, and opens {} connections \
             against {}.",
            ratio("mean_ratio_naive_over_global_spread"),
            num(r, "burst.naive.connections_opened"),
            num(r, "burst.global.connections_opened"),
        ),
        format!(
            "- The same, one invocation at a time with the database 0.5 ms away over TLS (as \
             in a VPC): {}.",
            ratio("mean_ratio_naive_over_global_one_at_a_time_+0.5_ms_network_RTT_TLS_spread"),
        ),
        format!(
            "- Managed Instances, one environment at concurrency {}, the database 0.5 ms away: \
             a connection per concurrent invocation gives **{:.1}×** ({:.1}–{:.1}) the \
             throughput of one shared connection.",
            num(mi, "concurrency"),
            num(mi, "throughput_ratio_pool_over_single"),
            num(mi, "throughput_ratio_pool_over_single_range.0"),
            num(mi, "throughput_ratio_pool_over_single_range.1"),
        ),
        format!(
            "- Init: every function within **{:.2}×** of a Rust hello world's (p50; the \
             slowest, {slowest}, {p50:.2} ms against {floor:.2} ms).",
            p50 / floor,
        ),
        format!(
            "\nMeasured by `make bench` on {} cores ({}), everything on 127.0.0.1; the range \
             is over 3 repeats. [The report](docs/benchmarks.md) has every figure and how it \
             was taken.",
            num(r, "machine.cores"),
            at(r, "machine.cpu").as_str().unwrap_or("?"),
        ),
    ]
    .join("\n")
}

/// PIE against a fixed address, for the floor: what dropping PIE would save.
fn pie(r: &Value) -> String {
    let p50 = |f: &str| num(row(&r["init"], "function", f), "init.p50_ms");
    let (pie, fixed) = (p50("hello-floor"), p50("hello-floor, no PIE"));
    let (saved, share) = (pie - fixed, (pie - fixed) / pie * 100.0);
    // The guide's rule: an optimisation that costs safety must save >= 1 ms or >= 5 %.
    let verdict = match saved < 1.0 && share < 5.0 {
        true => {
            "below the 1 ms or 5 % a change must save to trade away a hardening: the \
                 bootstraps stay PIE, as Rust links them, and `make zip` fails on one that is \
                 not"
        }
        false => {
            "above the 1 ms or 5 % a change must save to trade away a hardening: worth \
                  a decision, which this report does not make"
        }
    };
    format!(
        "The hello-world floor's init: {pie:.2} ms position-independent, {fixed:.2} ms linked \
         at a fixed address (p50 of 100 cold starts each): {saved:.2} ms, {share:.0} % of it, \
         {verdict}."
    )
}

/// CPU per warm invocation against cargo-lambda's default `opt-level = 3` build, block by
/// block (median, lowest, highest), as the report computes it.
fn cpu_cost(variant: &Value, base: &Value) -> (f64, f64, f64) {
    let blocks = |v: &Value| -> Vec<f64> {
        v["cpu_ms_blocks"]
            .as_array()
            .expect("cpu_ms_blocks")
            .iter()
            .filter_map(Value::as_f64)
            .collect()
    };
    let costs = blocks(variant)
        .iter()
        .zip(blocks(base))
        .map(|(a, b)| a / b - 1.0)
        .collect();
    spread(costs)
}

/// The size profile's cost in CPU, and per-crate `opt-level = 3` overrides.
fn profile(r: &Value) -> String {
    let mut lines = vec![
        "| function | CPU per invocation against `opt-level = 3`: this profile | with `opt-level = 3` for the hot crates | zip bytes the overrides add |".to_string(),
        "| --- | ---: | ---: | ---: |".to_string(),
    ];
    let pct = |(median, low, high): (f64, f64, f64)| {
        format!(
            "{:+.1} % ({:+.1} to {:+.1})",
            median * 100.0,
            low * 100.0,
            high * 100.0
        )
    };
    for function in r["profile"].as_array().expect("profile") {
        let variant = |name: &str| row(&function["variants"], "variant", name);
        let base = variant("cargo-lambda default");
        let (repo, hot) = (
            variant("this repo"),
            variant("this repo + opt-level 3 hot crates"),
        );
        lines.push(format!(
            "| {} | {} | {} | {:+} |",
            function["function"].as_str().unwrap_or("?"),
            pct(cpu_cost(repo, base)),
            pct(cpu_cost(hot, base)),
            num(hot, "zip_bytes") - num(repo, "zip_bytes"),
        ));
    }
    lines.join("\n")
}

/// What the default connection cap costs against one connection per invocation.
fn connection_cap(r: &Value) -> String {
    let mut lines = vec![
        "| concurrency | database round trip | connections: default cap / one per invocation | throughput, cap ÷ one per invocation |".to_string(),
        "| ---: | ---: | ---: | ---: |".to_string(),
    ];
    for cap in r["connection_cap"].as_array().expect("connection_cap") {
        let series = |key: &str| -> Vec<f64> {
            cap[key]
                .as_array()
                .expect(key)
                .iter()
                .filter_map(Value::as_f64)
                .collect()
        };
        let ratios = series("capped_per_s")
            .iter()
            .zip(series("per_invocation_per_s"))
            .map(|(c, p)| c / p)
            .collect();
        let (median, low, high) = spread(ratios);
        lines.push(format!(
            "| {} | {} ms | {} / {} | **{median:.2}×** ({low:.2}–{high:.2}) |",
            num(cap, "concurrency"),
            num(cap, "round_trip_ms"),
            num(cap, "connections_capped"),
            num(cap, "connections_per_invocation"),
        ));
    }
    lines.join("\n")
}

fn render(name: &str, report: &Value) -> Option<String> {
    Some(match name {
        "sizes" => sizes(report),
        "results" => results(report),
        "pie" => pie(report),
        "profile" => profile(report),
        "connection-cap" => connection_cap(report),
        _ => return None,
    })
}

fn report() -> Value {
    let text = std::fs::read_to_string(root().join("docs/benchmarks.json")).unwrap();
    serde_json::from_str(&text).expect("docs/benchmarks.json is JSON")
}

#[test]
fn every_figure_is_the_reports() {
    let report = report();
    let update = std::env::var("UPDATE_DOCS").is_ok_and(|v| v == "1");
    let mut problems = Vec::new();
    let mut blocks = 0;
    for doc in written_docs() {
        let lines: Vec<&str> = doc.text.lines().collect();
        let mut rewritten: Vec<String> = Vec::new();
        let mut copied = 0;
        for (name, open, close) in marked_blocks(&doc.text, "bench: ", "/bench") {
            blocks += 1;
            let Some(want) = render(&name, &report) else {
                problems.push(format!("{}: no figures named {name:?}", doc.path.display()));
                continue;
            };
            let have = lines[open + 1..close].join("\n");
            if have != want {
                problems.push(format!(
                    "{}:{}: <!-- bench: {name} --> is not the report's; it should read:\n{want}",
                    doc.path.display(),
                    open + 1
                ));
            }
            rewritten.extend(lines[copied..=open].iter().map(|l| l.to_string()));
            rewritten.push(want);
            copied = close;
        }
        if update && copied > 0 {
            rewritten.extend(lines[copied..].iter().map(|l| l.to_string()));
            let text = rewritten.join("\n") + "\n";
            std::fs::write(root().join(&doc.path), text).unwrap();
        }
    }
    assert!(
        blocks >= 2,
        "the README's sizes and results blocks are missing"
    );
    if !update {
        assert!(
            problems.is_empty(),
            "{}\n\n(after make bench: UPDATE_DOCS=1 cargo test -p e2e --test docs figures)",
            problems.join("\n\n")
        );
    }
}

#[test]
fn a_changed_report_changes_the_figures() {
    let mut report = report();
    let before = results(&report);
    report["mean_ratio_naive_over_global_spread"]["median"] = 99.0.into();
    assert_ne!(results(&report), before);
    assert!(results(&report).contains("**99.0×**"));
}
