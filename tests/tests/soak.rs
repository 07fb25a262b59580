//! Soak: two Managed Instances environments of rds-enrich at `AWS_LAMBDA_MAX_CONCURRENCY=8`,
//! loaded at 16 invocations at once for 60 s, while the server kills their connections at
//! random and MariaDB is restarted once. Bounded in time (60 s) and count.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use e2e::{database_lock, services_script, spawn_bootstrap, Admin, Function, Invoker, Services};
use serde_json::json;

const LOAD: Duration = Duration::from_secs(60);
const CALLERS: usize = 16;
const MAX_CALLS_PER_CALLER: usize = 50_000;
/// Errors a caller may see while the database is killed or restarted: clear, and ours.
const CLEAR_ERRORS: [&str; 3] = [
    "DatabaseUnavailable",
    "DeadlineExceeded",
    "TooManyConnections",
];

#[test]
fn sixty_seconds_of_load_with_killed_connections_and_a_restart() {
    let _db = database_lock();
    let services = Services::load();
    let env = [
        ("DATABASE_URL", services.var("DATABASE_URL")),
        ("AWS_LAMBDA_MAX_CONCURRENCY", "8"),
        ("AWS_LAMBDA_LOG_LEVEL", "INFO"),
    ];
    // Two environments polling the same function's queue.
    let mut first = Function::start(&services, "rds-enrich", &env);
    let api = format!(
        "http://{}/.rt/rds-enrich",
        services.var("LAMBDA_RUNTIME_API")
    );
    let log = e2e::workspace_root().join("target/e2e/logs/rds-enrich-soak-second.log");
    let mut second = spawn_bootstrap(
        &e2e::bootstrap("rds-enrich"),
        &api,
        "rds-enrich",
        &env,
        &log,
    );

    let invoker = Invoker::new(&services, "rds-enrich");
    let outcomes: Mutex<BTreeMap<String, usize>> = Mutex::new(BTreeMap::new());
    let unanswered = AtomicUsize::new(0);
    let (kills, peak) = (AtomicUsize::new(0), AtomicUsize::new(0));
    let done = AtomicBool::new(false);
    let start = Instant::now();
    std::thread::scope(|scope| {
        for caller in 0..CALLERS {
            let (invoker, outcomes, unanswered, done) = (&invoker, &outcomes, &unanswered, &done);
            scope.spawn(move || {
                for i in 0..MAX_CALLS_PER_CALLER {
                    if done.load(Ordering::SeqCst) {
                        break;
                    }
                    let id = 1 + (caller * 7919 + i) as u64 % 5000;
                    let outcome = match invoker.invoke(&json!({ "id": id })) {
                        Ok(reply) if !reply.failed && reply.body["name"].is_string() => "ok".into(),
                        Ok(reply) => reply.error_type().to_string(),
                        Err(_) => {
                            unanswered.fetch_add(1, Ordering::SeqCst);
                            "no answer".into()
                        }
                    };
                    *outcomes.lock().unwrap().entry(outcome).or_default() += 1;
                }
            });
        }
        // The chaos: sample the connections every 100 ms, kill one every 500 ms, and
        // restart the server once, half-way.
        let mut admin = Admin::try_connect(&services);
        let mut restarted = false;
        let mut tick = 0u64;
        while start.elapsed() < LOAD {
            std::thread::sleep(Duration::from_millis(100));
            tick += 1;
            if !restarted && start.elapsed() > LOAD / 2 {
                services_script(&["down", "mariadb"]);
                services_script(&["up"]);
                restarted = true;
                admin = None;
            }
            let Some(a) = admin.as_mut() else {
                admin = Admin::try_connect(&services);
                continue;
            };
            let Ok(ids) = a.try_connection_ids("app") else {
                admin = None;
                continue;
            };
            peak.fetch_max(ids.len(), Ordering::SeqCst);
            if tick % 5 == 0 && !ids.is_empty() {
                let victim = ids[(tick as usize * 31) % ids.len()];
                if a.try_exec(&format!("KILL CONNECTION {victim}")).is_ok() {
                    kills.fetch_add(1, Ordering::SeqCst);
                }
            }
        }
        done.store(true, Ordering::SeqCst);
    });

    let outcomes = outcomes.into_inner().unwrap();
    let total: usize = outcomes.values().sum();
    eprintln!(
        "soak: {total} invocations in {:?}: {outcomes:?}; {} connections killed; \
         at most {} connections at once",
        start.elapsed(),
        kills.load(Ordering::SeqCst),
        peak.load(Ordering::SeqCst)
    );
    assert_eq!(unanswered.load(Ordering::SeqCst), 0, "{outcomes:?}");
    assert!(
        outcomes.get("ok").copied().unwrap_or(0) > total / 2,
        "{outcomes:?}"
    );
    for kind in outcomes.keys().filter(|k| *k != "ok") {
        assert!(
            CLEAR_ERRORS.contains(&kind.as_str()),
            "unexpected {kind}: {outcomes:?}"
        );
    }
    assert!(kills.load(Ordering::SeqCst) >= 50, "the chaos did not run");
    assert!(
        peak.load(Ordering::SeqCst) <= 16,
        "more than 2 × 8 connections"
    );
    // No process exited, and both served.
    assert!(first.is_running());
    assert!(
        matches!(second.try_wait(), Ok(None)),
        "the second environment exited"
    );
    let pids: std::collections::BTreeSet<u64> = first
        .reports()
        .iter()
        .chain(e2e::reports_in(&log).iter())
        .filter_map(|r| r["pid"].as_u64())
        .collect();
    assert_eq!(pids.len(), 2, "{pids:?}");

    // SIGTERM: no connection left within 1 s.
    first.signal("TERM");
    e2e::run(std::process::Command::new("kill").args(["-TERM", &second.id().to_string()]));
    let mut admin = Admin::connect(&services);
    let deadline = Instant::now() + Duration::from_secs(1);
    while !admin.connection_ids("app").is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(
        admin.connection_ids("app").is_empty(),
        "connections left after SIGTERM"
    );
    let _ = second.kill();
    let _ = second.wait();
}
