//! What real containers meet, against the real MariaDB: a connection that died while the
//! container was frozen, a database that is down, hung or full, and SIGTERM.
//!
//! Every test takes `database_lock()`: they stop, pause or fill the shared server.

use std::net::TcpListener;
use std::time::{Duration, Instant};

use e2e::runtime_api::{Extensions, RuntimeApi};
use e2e::{database_lock, services_script, Admin, Function, Services};
use serde_json::json;

fn env_with<'a>(services: &'a Services, extra: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
    let mut env = vec![("DATABASE_URL", services.var("DATABASE_URL"))];
    env.extend_from_slice(extra);
    env
}

/// Invokes once and returns the server id of the connection the function opened for it.
fn warm_up(f: &Function, admin: &mut Admin) -> u64 {
    let before = admin.connection_ids("app");
    assert_eq!(f.call(&json!({"id": 1}))["name"], "Ada Lovelace");
    let opened: Vec<u64> = admin
        .connection_ids("app")
        .into_iter()
        .filter(|id| !before.contains(id))
        .collect();
    assert_eq!(opened.len(), 1, "one connection for the warm container");
    opened[0]
}

fn wait_until(limit: Duration, mut done: impl FnMut() -> bool) -> Option<Duration> {
    let start = Instant::now();
    while start.elapsed() < limit {
        if done() {
            return Some(start.elapsed());
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    None
}

#[test]
fn a_connection_killed_while_frozen_is_replaced_and_the_invocation_succeeds() {
    let _db = database_lock();
    let services = Services::load();
    let mut admin = Admin::connect(&services);
    let f = Function::start(&services, "rds-enrich", &env_with(&services, &[]));
    let kept = warm_up(&f, &mut admin);

    // Lambda freezes the process between invocations; meanwhile the server drops it.
    f.signal("STOP");
    admin.exec(&format!("KILL CONNECTION {kept}"));
    let connects = admin.status("Connections");
    f.signal("CONT");

    assert_eq!(f.call(&json!({"id": 2}))["name"], "Grace Hopper");
    assert_eq!(
        admin.status("Connections") - connects,
        1,
        "reconnected once"
    );
    assert!(!admin.connection_ids("app").contains(&kept));
    assert!(f.logs().contains("reconnecting once"), "{}", f.logs());
    // And the new connection is kept again.
    f.call(&json!({"id": 3}));
    assert_eq!(admin.status("Connections") - connects, 1);
}

/// Sets a server variable for the test and restores it even if the test fails.
struct GlobalVariable<'a> {
    admin: &'a mut Admin,
    name: &'static str,
    original: u64,
}

impl<'a> GlobalVariable<'a> {
    fn set(admin: &'a mut Admin, name: &'static str, value: u64) -> Self {
        let original = admin.query_u64(&format!("SELECT @@GLOBAL.{name}"))[0];
        admin.exec(&format!("SET GLOBAL {name} = {value}"));
        Self {
            admin,
            name,
            original,
        }
    }
}

impl Drop for GlobalVariable<'_> {
    fn drop(&mut self) {
        self.admin.release_held();
        self.admin
            .exec(&format!("SET GLOBAL {} = {}", self.name, self.original));
    }
}

#[test]
fn a_connection_expired_by_wait_timeout_while_frozen_is_replaced() {
    let _db = database_lock();
    let services = Services::load();
    let mut admin = Admin::connect(&services);
    // New sessions get a 1 s idle timeout (RDS's default is 8 hours).
    let short = GlobalVariable::set(&mut admin, "wait_timeout", 1);
    let f = Function::start(&services, "rds-enrich", &env_with(&services, &[]));
    let kept = warm_up(&f, short.admin);

    f.signal("STOP");
    let gone = wait_until(Duration::from_secs(10), || {
        !short.admin.connection_ids("app").contains(&kept)
    });
    assert!(
        gone.is_some(),
        "the server did not expire the idle connection"
    );
    let connects = short.admin.status("Connections");
    f.signal("CONT");

    assert_eq!(f.call(&json!({"id": 42}))["name"], "Douglas Adams");
    assert_eq!(short.admin.status("Connections") - connects, 1);
}

#[test]
fn a_database_that_is_down_gives_a_clear_error_and_the_next_invocation_reconnects() {
    let _db = database_lock();
    let services = Services::load();
    let f = Function::start(
        &services,
        "rds-enrich",
        &env_with(&services, &[("DB_CONNECT_TIMEOUT_MS", "1000")]),
    );
    f.call(&json!({"id": 1}));

    services_script(&["down", "mariadb"]);
    let start = Instant::now();
    let reply = f.invoke(&json!({"id": 1}));
    let took = start.elapsed();
    services_script(&["up"]);

    f.assert_details_only_in_log(&reply, "DatabaseUnavailable", &["could not connect"]);
    assert!(took < Duration::from_millis(1000 + 2000), "took {took:?}");
    // The same process reconnects and serves.
    assert_eq!(
        f.assert_answers(&json!({"id": 2})).body["name"],
        "Grace Hopper"
    );
}

#[test]
fn an_unresponsive_database_times_out_within_the_connect_timeout() {
    let _db = database_lock();
    let services = Services::load();
    // Accepts TCP connections and never says a word, like a blackholed server.
    let silent = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!(
        "mysql://app:app-pass@{}/lambda",
        silent.local_addr().unwrap()
    );
    let f = Function::start(
        &services,
        "rds-enrich",
        &[
            ("DATABASE_URL", url.as_str()),
            ("DB_CONNECT_TIMEOUT_MS", "500"),
        ],
    );
    let start = Instant::now();
    let reply = f.invoke(&json!({"id": 1}));
    let took = start.elapsed();
    f.assert_details_only_in_log(
        &reply,
        "DatabaseUnavailable",
        &["could not connect to the database within 500 ms"],
    );
    assert!(took >= Duration::from_millis(500), "took {took:?}");
    assert!(took < Duration::from_millis(500 + 1500), "took {took:?}");
    assert_eq!(
        f.assert_answers(&json!({"id": 1})).error_type(),
        "DatabaseUnavailable"
    );
}

#[test]
fn a_refused_connection_fails_at_once_and_says_refused() {
    let services = Services::load();
    // Nothing listens on port 1 of the loopback: the kernel refuses at once.
    let f = Function::start(
        &services,
        "rds-enrich",
        &[
            ("DATABASE_URL", "mysql://app:app-pass@127.0.0.1:1/lambda"),
            ("DB_CONNECT_TIMEOUT_MS", "2000"),
        ],
    );
    f.call_fails_with("DatabaseUnavailable", &json!({"id": 1})); // cold: the first one
    let start = Instant::now();
    let reply = f.assert_answers(&json!({"id": 1}));
    let took = start.elapsed();
    f.assert_details_only_in_log(&reply, "DatabaseUnavailable", &["Connection refused"]);
    // Far under the 2 s connect timeout (the round trip through the emulator included).
    assert!(took < Duration::from_millis(300), "took {took:?}");
}

/// SIGSTOPs the MariaDB server; SIGCONTs it when dropped, even if the test fails.
struct PausedMariadb(String);

impl PausedMariadb {
    fn pause(services: &Services) -> Self {
        let pid = std::fs::read_to_string(format!("{}/mariadb.pid", services.var("SERVICES_DIR")))
            .unwrap();
        let paused = Self(pid.trim().to_string());
        paused.signal("STOP");
        paused
    }

    fn signal(&self, signal: &str) {
        e2e::run(
            std::process::Command::new("kill")
                .arg(format!("-{signal}"))
                .arg(&self.0),
        );
    }
}

impl Drop for PausedMariadb {
    fn drop(&mut self) {
        self.signal("CONT");
    }
}

#[test]
fn a_hung_query_times_out_and_the_next_invocation_reconnects() {
    let _db = database_lock();
    let services = Services::load();
    let mut admin = Admin::connect(&services);
    let f = Function::start(
        &services,
        "rds-enrich",
        &env_with(&services, &[("DB_QUERY_TIMEOUT_MS", "500")]),
    );
    warm_up(&f, &mut admin);

    // The server stops answering mid-connection (a frozen database host).
    let paused = PausedMariadb::pause(&services);
    let start = Instant::now();
    let reply = f.invoke(&json!({"id": 1}));
    let took = start.elapsed();
    drop(paused);

    f.assert_details_only_in_log(
        &reply,
        "DatabaseUnavailable",
        &["the query did not complete within 500 ms"],
    );
    assert!(took < Duration::from_millis(500 + 1500), "took {took:?}");
    // The connection in an unknown state was dropped: the next invocation reconnects.
    let connects = admin.status("Connections");
    assert_eq!(f.call(&json!({"id": 2}))["name"], "Grace Hopper");
    assert_eq!(admin.status("Connections") - connects, 1);
}

#[test]
fn too_many_connections_is_a_clear_error_and_the_process_keeps_serving() {
    let _db = database_lock();
    let services = Services::load();
    let mut admin = Admin::connect(&services);
    let in_use = admin.status("Threads_connected");
    let full = GlobalVariable::set(&mut admin, "max_connections", in_use + 2);

    let refusal = full
        .admin
        .hold_connections_until_refused(services.var("DATABASE_URL"), 10);
    assert!(refusal.to_string().contains("1040"), "{refusal}");

    let f = Function::start(&services, "rds-enrich", &env_with(&services, &[]));
    let reply = f.invoke(&json!({"id": 1}));
    // The server's own text ("Too many connections") stays in the log.
    f.assert_details_only_in_log(&reply, "TooManyConnections", &["max_connections", "1040"]);

    full.admin.release_held();
    assert_eq!(
        f.assert_answers(&json!({"id": 1})).body["name"],
        "Ada Lovelace"
    );
    drop(full);
}

#[test]
fn sigterm_closes_the_connection_cleanly_and_at_once() {
    let _db = database_lock();
    let services = Services::load();
    let mut admin = Admin::connect(&services);

    // Control: a process killed outright leaves the server an aborted client.
    let killed = Function::start(&services, "rds-enrich", &env_with(&services, &[]));
    let id = warm_up(&killed, &mut admin);
    let aborted = admin.status("Aborted_clients");
    killed.signal("KILL");
    drop(killed);
    let gone = wait_until(Duration::from_secs(5), || {
        !admin.connection_ids("app").contains(&id)
    });
    assert!(gone.is_some());
    assert_eq!(
        admin.status("Aborted_clients") - aborted,
        1,
        "SIGKILL aborts the connection"
    );

    // SIGTERM: the shutdown hook closes the connection with COM_QUIT before exiting.
    let mut f = Function::start(&services, "rds-enrich", &env_with(&services, &[]));
    let id = warm_up(&f, &mut admin);
    let aborted = admin.status("Aborted_clients");
    f.signal("TERM");
    let gone = wait_until(Duration::from_secs(1), || {
        !admin.connection_ids("app").contains(&id)
    });
    assert!(
        gone.is_some(),
        "the connection is still open 1 s after SIGTERM"
    );
    assert!(
        f.wait_exit(Duration::from_secs(2)),
        "the process did not exit"
    );
    assert_eq!(
        admin.status("Aborted_clients"),
        aborted,
        "closed cleanly, not aborted"
    );
    assert!(f.logs().contains("shutdown complete"), "{}", f.logs());
}

/// rds-enrich behind a proxy that can silence its flows, with `extra` settings.
fn behind_proxy(services: &Services, extra: &[(&str, &str)]) -> (e2e::proxy::TestProxy, Function) {
    let upstream = format!("127.0.0.1:{}", services.var("MYSQL_PORT"));
    let proxy = e2e::proxy::TestProxy::start(upstream.parse().unwrap());
    let url = format!("mysql://app:app-pass@{}/lambda", proxy.addr());
    let mut env = vec![("DATABASE_URL", url.as_str())];
    env.extend_from_slice(extra);
    let f = Function::start(services, "rds-enrich", &env);
    (proxy, f)
}

#[test]
fn a_kept_connection_that_went_silent_while_idle_costs_a_ping_not_the_query_timeout() {
    let _db = database_lock();
    let services = Services::load();
    let mut admin = Admin::connect(&services);
    let (proxy, f) = behind_proxy(
        &services,
        &[
            ("DB_PING_AFTER_IDLE_MS", "300"),
            ("DB_PING_TIMEOUT_MS", "200"),
            ("DB_QUERY_TIMEOUT_MS", "3000"),
        ],
    );
    warm_up(&f, &mut admin);
    assert_eq!(proxy.open_clients(), 1);

    // The container idles; meanwhile its flow is dropped by the network, silently.
    proxy.silence_open_flows();
    std::thread::sleep(Duration::from_millis(400));
    let start = Instant::now();
    assert_eq!(f.call(&json!({"id": 2}))["name"], "Grace Hopper");
    let took = start.elapsed();
    // A 200 ms ping and a reconnect: far from the 3 s the query would have waited.
    assert!(
        took >= Duration::from_millis(200),
        "took {took:?}: no ping?"
    );
    assert!(took < Duration::from_millis(1500), "took {took:?}");
    assert!(
        f.logs().contains("did not answer after idling"),
        "{}",
        f.logs()
    );

    // The silent connection was let go: one connection from the process, at both ends.
    let one = wait_until(Duration::from_secs(2), || {
        proxy.open_clients() == 1 && admin.connection_ids("app").len() == 1
    });
    assert!(
        one.is_some(),
        "open through the proxy: {}",
        proxy.open_clients()
    );
}

#[test]
fn a_query_timeout_leaves_no_connection_behind() {
    let _db = database_lock();
    let services = Services::load();
    let mut admin = Admin::connect(&services);
    let (proxy, f) = behind_proxy(&services, &[("DB_QUERY_TIMEOUT_MS", "500")]);
    warm_up(&f, &mut admin);

    // The next answer stops after its header: the driver holds a started result, which its
    // own clean-up (on drop) would wait to read to the end, with no time limit.
    proxy.silence_open_flows_after_result_header();
    let reply = f.invoke(&json!({"id": 2}));
    f.assert_details_only_in_log(
        &reply,
        "DatabaseUnavailable",
        &["the query did not complete within 500 ms"],
    );
    assert_eq!(f.call(&json!({"id": 3}))["name"], "Alan Turing");

    let one = wait_until(Duration::from_secs(2), || {
        proxy.open_clients() == 1 && admin.connection_ids("app").len() == 1
    });
    assert!(
        one.is_some(),
        "connections from the process: {} (the timed-out one was not let go)",
        proxy.open_clients()
    );
}

#[test]
fn sigterm_during_an_invocation_lets_its_response_through() {
    let _db = database_lock();
    let services = Services::load();
    let mut admin = Admin::connect(&services);
    let mut f = Function::start(
        &services,
        "rds-enrich",
        &env_with(&services, &[("DB_QUERY_TIMEOUT_MS", "200")]),
    );
    warm_up(&f, &mut admin);

    // The server stops answering; the invocation waits for its 200 ms query timeout, and
    // SIGTERM arrives 50 ms into it: the invocation ends 150 ms later, inside the 250 ms
    // the shutdown hook waits for invocations in flight.
    let paused = PausedMariadb::pause(&services);
    let reply = std::thread::scope(|scope| {
        let call = scope.spawn(|| f.invoke(&json!({"id": 1})));
        std::thread::sleep(Duration::from_millis(50));
        f.signal("TERM");
        call.join().unwrap()
    });
    drop(paused);
    assert_eq!(reply.error_type(), "DatabaseUnavailable", "{}", reply.body);
    assert!(
        f.wait_exit(Duration::from_secs(2)),
        "the process did not exit"
    );
    let logs = f.logs();
    assert!(logs.contains("shutdown complete"), "{logs}");
}

/// rds-enrich against a Runtime API of the test's own whose Extensions API answers so.
fn with_extensions_api(answer: Extensions) -> (RuntimeApi, std::process::Child) {
    let services = Services::load();
    let api = RuntimeApi::start(answer);
    let logs = e2e::workspace_root().join("target/e2e/logs");
    std::fs::create_dir_all(&logs).unwrap();
    let child = e2e::spawn_bootstrap(
        &e2e::bootstrap("rds-enrich"),
        &api.address(),
        "rds-enrich",
        &[("DATABASE_URL", services.var("DATABASE_URL"))],
        &extensions_log(answer),
    );
    (api, child)
}

fn extensions_log(answer: Extensions) -> std::path::PathBuf {
    e2e::workspace_root().join(format!(
        "target/e2e/logs/rds-enrich-extensions-{answer:?}.log"
    ))
}

/// Refused: Lambda did not take it, so the function runs on without the hook. (This also
/// holds lambda-extension's error text to the prefix bins/src/shutdown.rs recognises.)
#[test]
fn a_refused_extension_registration_leaves_sigterm_to_end_the_process() {
    let (api, mut child) = with_extensions_api(Extensions::Refuse(500));
    assert!(api.wait_next(Duration::from_secs(5)), "init did not finish");
    assert!(api.init_error(Duration::ZERO).is_none());
    // Without the extension there is no shutdown hook, and SIGTERM must still end it.
    e2e::run(std::process::Command::new("kill").args(["-TERM", &child.id().to_string()]));
    let start = Instant::now();
    let exited = wait_until(Duration::from_secs(2), || {
        matches!(child.try_wait(), Ok(Some(_)))
    });
    let _ = child.kill();
    let _ = child.wait();
    assert!(
        exited.is_some(),
        "SIGTERM was swallowed ({:?})",
        start.elapsed()
    );
}

/// Sent but never answered, or answered without the extension's identifier: Lambda may have
/// taken the registration, and would then hold the init until its timeout (10 s) for the
/// extension's first poll. The init fails instead, after at most the 1 s registration limit.
#[test]
fn a_registration_not_confirmed_fails_the_init_within_a_second() {
    for answer in [Extensions::NeverAnswer, Extensions::AcceptWithoutIdentifier] {
        let start = Instant::now();
        let (api, mut child) = with_extensions_api(answer);
        let error = api.init_error(Duration::from_secs(3));
        let exited = wait_until(Duration::from_secs(2), || {
            matches!(child.try_wait(), Ok(Some(_)))
        });
        let ended = start.elapsed();
        let _ = child.kill();
        let status = child.wait().unwrap();
        let error = error.unwrap_or_else(|| panic!("{answer:?}: no init error"));
        assert_eq!(
            error.body["errorType"], "ShutdownExtensionFailed",
            "{error:?}"
        );
        assert!(
            exited.is_some(),
            "{answer:?}: still running after {ended:?}"
        );
        assert_eq!(
            status.code(),
            Some(1),
            "{answer:?}: {status} (a panic is a signal)"
        );
        assert_eq!(
            api.nexts(),
            0,
            "{answer:?}: asked for work, init unfinished"
        );
        assert!(ended < Duration::from_millis(2500), "{answer:?}: {ended:?}");
        if answer == Extensions::NeverAnswer {
            assert!(
                ended >= Duration::from_millis(900),
                "{ended:?}: not awaited?"
            );
        }
    }
}

/// Held open past init, then lost: logged, and the process serves on (an init error
/// after init would be a lie, and the exit would end every invocation in flight).
#[test]
fn an_event_poll_that_fails_after_init_is_logged_not_an_init_error() {
    let (api, mut child) = with_extensions_api(Extensions::AcceptThenFailPollsLater);
    assert!(api.wait_next(Duration::from_secs(5)), "init did not finish");
    std::thread::sleep(Duration::from_millis(2500)); // the poll fails at 1.5 s
    let running = matches!(child.try_wait(), Ok(None));
    let error = api.init_error(Duration::ZERO);
    let _ = child.kill();
    let _ = child.wait();
    let logs = std::fs::read_to_string(extensions_log(Extensions::AcceptThenFailPollsLater))
        .unwrap_or_default();
    assert!(running && error.is_none(), "{error:?}\n{logs}");
    assert!(logs.contains("event poll failed"), "{logs}");
}

/// Accepted, but its event poll never reaches Lambda: Lambda would wait for that poll until
/// its init timeout (10 s). The process reports an init error and exits instead.
#[test]
fn an_extension_whose_event_poll_fails_fails_the_init_at_once() {
    let start = Instant::now();
    let (api, mut child) = with_extensions_api(Extensions::AcceptThenFailPolls);
    let exited = wait_until(Duration::from_secs(3), || {
        matches!(child.try_wait(), Ok(Some(_)))
    });
    let _ = child.kill();
    let status = child.wait().unwrap();
    assert!(
        exited.is_some(),
        "still running {:?} after start",
        start.elapsed()
    );
    assert!(!status.success(), "{status}");
    assert_eq!(
        api.extension_requests(),
        (1, 1),
        "one registration, one poll"
    );
    let error = api
        .init_error(Duration::from_secs(1))
        .expect("no init error");
    assert_eq!(
        error.body["errorType"], "ShutdownExtensionFailed",
        "{:?}",
        error
    );
    assert_eq!(error.header, "Runtime.InitError");
}

/// One registration, one poll, and the process serves on: whether the poll is held open
/// (Lambda) or answered with an event nobody subscribed to (`cargo lambda watch`).
#[test]
fn the_extension_registers_once_and_polls_and_the_process_serves_on() {
    for answer in [Extensions::Accept, Extensions::AcceptThenAnswerPolls] {
        let (api, mut child) = with_extensions_api(answer);
        assert!(
            api.wait_next(Duration::from_secs(5)),
            "{answer:?}: init did not finish"
        );
        std::thread::sleep(Duration::from_millis(1500)); // an init error takes up to 1 s
        let requests = api.extension_requests();
        let running = matches!(child.try_wait(), Ok(None));
        let error = api.init_error(Duration::ZERO);
        let _ = child.kill();
        let _ = child.wait();
        assert_eq!(requests, (1, 1), "{answer:?}");
        assert!(running && error.is_none(), "{answer:?}: {error:?}");
    }
}

/// The `Aborted_clients` assertions above rely on the harness closing its own connections
/// cleanly: dropping an `Admin` (and the connections it held) must not move the counter.
#[test]
fn the_harness_closes_its_own_connections_cleanly() {
    let _db = database_lock();
    let services = Services::load();
    let mut admin = Admin::connect(&services);
    let aborted = admin.status("Aborted_clients");
    for _ in 0..3 {
        let mut other = Admin::connect(&services);
        let _ = other.hold_connections_until_refused_or(services.var("DATABASE_URL"), 2);
        drop(other);
    }
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(admin.status("Aborted_clients"), aborted);
}
