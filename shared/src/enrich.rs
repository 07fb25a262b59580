//! `rds-enrich`: add a person's name to a payload, read through a database connection
//! that is made on first need and then kept for the container's life.
//!
//! The pattern is [`ConnectionSlots`] (the environment's connections, one per invocation
//! served at once, up to a cap) holding [`LazyConnection`]s (one connection, made on first
//! need, checked and remade as needed), and [`enrich`] doing one invocation's work through
//! one of them. The database itself is behind the [`Connector`] and [`NameLookup`] traits:
//! [`crate::mysql`] implements them with `mysql_async`, the tests with mocks.
//!
//! ```no_run
//! use shared::deadline::Deadline;
//! use shared::enrich::enrich;
//! use shared::mysql::DbConfig;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! // In init: the configuration only; nothing connects yet.
//! let config = DbConfig::from_lookup(|name| match name {
//!     "DATABASE_URL" => Some("mysql://app@db.example.internal:3306/app?require_ssl=true".into()),
//!     _ => None,
//! })?;
//! let slots = config.connection_slots(1)?;
//!
//! // In each invocation: a slot, whose connection is made the first time and then kept.
//! let mut conn = slots.acquire(Deadline::NONE).await?;
//! let answer = enrich(serde_json::json!({"id": 42}), &mut conn, Deadline::NONE).await?;
//! assert_eq!(answer["id"], 42);
//! # Ok(())
//! # }
//! ```

use std::borrow::Cow;
use std::time::{Duration, SystemTime};

use serde_json::Value;
use tokio::time::Instant;
use tracing::warn;

use crate::deadline::Deadline;
use crate::ErrorKind;

/// Why a database call failed. Messages never contain the connection URL (it holds the
/// password) nor the data read.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// A setting that cannot work (`DATABASE_URL`, the CA file, a bound): found at init,
    /// which it fails.
    #[error("invalid database configuration: {0}")]
    Config(String),
    /// The connect did not finish within `DB_CONNECT_TIMEOUT_MS`.
    #[error("could not connect to the database within {timeout_ms} ms")]
    ConnectTimeout {
        /// The timeout that ran out.
        timeout_ms: u64,
    },
    /// The connect failed: refused, unreachable, the TLS handshake, the login.
    #[error("could not connect to the database: {0}")]
    Connect(String),
    /// IAM authentication: no credentials to sign with, or the server refused the login.
    #[error("database authentication failed: {0}")]
    Auth(String),
    /// The server is at its `max_connections` (or the user's limit).
    #[error(
        "the database refused the connection: too many connections (the server's \
         max_connections is reached; see the connection budget in docs/managed-instances.md): {0}"
    )]
    TooManyConnections(String),
    /// The connection is dead or in a state nobody can trust: it is dropped, and a kept
    /// one is replaced once (see [`LazyConnection`]).
    #[error("the database connection was lost: {0}")]
    ConnectionLost(String),
    /// The query did not answer within `DB_QUERY_TIMEOUT_MS`: the connection is dropped.
    #[error("the query did not complete within {timeout_ms} ms")]
    QueryTimeout {
        /// The timeout that ran out.
        timeout_ms: u64,
    },
    /// The invocation's deadline came first (see [`Deadline`]).
    #[error("the invocation's deadline came before the database answered")]
    DeadlineExceeded,
    /// The server answered with an error that leaves the session usable (no such table,
    /// query killed, ...).
    #[error("the query failed: {0}")]
    Query(String),
    /// The row's name is not text: read without a panic, reported as data.
    #[error("the name of person {id} {problem}")]
    BadName {
        /// The id that was looked up.
        id: u64,
        /// What is wrong with the name.
        problem: BadName,
    },
}

/// What is wrong with a name the database returned (it is never echoed: it is data).
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum BadName {
    /// SQL NULL.
    #[error("is NULL")]
    Null,
    /// Bytes that are not UTF-8.
    #[error("is not UTF-8 text ({len} bytes)")]
    NotUtf8 {
        /// How many bytes the value has.
        len: usize,
    },
    /// A column that does not hold text (a number, a BLOB, a date, ...).
    #[error("is not text: the column is {column_type}")]
    NotText {
        /// The column's type, as MySQL names it (`LONG`, `BLOB`, ...).
        column_type: String,
    },
}

impl DbError {
    /// The connection can no longer be used and must be dropped: it is dead, or a reply
    /// is still on its way and would be read as the answer to the next query.
    pub fn breaks_connection(&self) -> bool {
        matches!(
            self,
            Self::ConnectionLost(_) | Self::QueryTimeout { .. } | Self::DeadlineExceeded
        )
    }
}

/// Why an enrichment failed: what rds-enrich reports, as the `errorType` of
/// [`ErrorKind::kind`] (`InvalidPayload`, `NotFound`, `DatabaseConfig`, `DatabaseAuth`,
/// `TooManyConnections`, `DeadlineExceeded`, `NullName`, `NameNotUtf8`, `NameNotText`, and
/// `DatabaseUnavailable` for the rest).
#[derive(Debug, thiserror::Error)]
pub enum EnrichError {
    /// The payload is not `{"id": <positive integer>}`; the message says what is wrong.
    #[error("invalid payload: {0}")]
    InvalidPayload(Cow<'static, str>),
    /// No row has that id.
    #[error("no person with id {0}")]
    NotFound(u64),
    /// The database failed (see [`DbError`]).
    #[error(transparent)]
    Database(#[from] DbError),
}

impl ErrorKind for EnrichError {
    fn kind(&self) -> &'static str {
        match self {
            Self::InvalidPayload(_) => "InvalidPayload",
            Self::NotFound(_) => "NotFound",
            Self::Database(DbError::Config(_)) => "DatabaseConfig",
            Self::Database(DbError::Auth(_)) => "DatabaseAuth",
            Self::Database(DbError::TooManyConnections(_)) => "TooManyConnections",
            Self::Database(DbError::DeadlineExceeded) => "DeadlineExceeded",
            Self::Database(DbError::BadName { problem, .. }) => match problem {
                BadName::Null => "NullName",
                BadName::NotUtf8 { .. } => "NameNotUtf8",
                BadName::NotText { .. } => "NameNotText",
            },
            Self::Database(_) => "DatabaseUnavailable",
        }
    }

    fn message_is_public(&self) -> bool {
        matches!(
            self,
            Self::InvalidPayload(_) | Self::NotFound(_) | Self::Database(DbError::DeadlineExceeded)
        )
    }
}

/// Makes a new database connection (the expensive part: TCP, TLS, authentication).
#[allow(async_fn_in_trait)] // used with concrete types on one task; no Send bound needed
#[cfg_attr(test, mockall::automock(type Conn = MockNameLookup;))]
pub trait Connector {
    /// The connection it makes.
    type Conn: NameLookup;
    /// A new connection, by `deadline`: `ConnectTimeout`, `Connect`, `Auth`,
    /// `TooManyConnections` or `DeadlineExceeded` when it cannot.
    async fn connect(&self, deadline: Deadline) -> Result<Self::Conn, DbError>;
}

/// One open connection that can look names up.
#[allow(async_fn_in_trait)]
#[cfg_attr(test, mockall::automock)]
pub trait NameLookup {
    /// One round trip: the query and its one-row answer.
    async fn find_name(&mut self, id: u64, deadline: Deadline) -> Result<Option<String>, DbError>;
    /// One short round trip that proves the connection still answers (`COM_PING`).
    async fn ping(&mut self, deadline: Deadline) -> Result<(), DbError>;
    /// Closes the connection cleanly, so the server frees its slot at once.
    async fn close(self) -> Result<(), DbError>;
}

/// Connections idle for this long are pinged before use (`DB_PING_AFTER_IDLE_MS`).
pub const DEFAULT_PING_AFTER_IDLE: Duration = Duration::from_secs(30);

/// A connection made on first use and kept until it breaks or is closed.
///
/// A kept connection can die while the container is frozen. Two ways, two answers:
/// - it was closed (server `wait_timeout`, a `KILL`, a restart): the first query fails at
///   once with a lost connection, and `find_name` reconnects once and retries;
/// - it went silent (an idle NAT/VPC flow dropped, a failed-over host gone): a query would
///   wait for its whole timeout. So a connection idle for `ping_after_idle` or more is
///   pinged first, with a short timeout, and replaced if it does not answer. Connections
///   used back to back are not pinged: a warm invocation stays one round trip.
pub struct LazyConnection<C: Connector> {
    connector: C,
    conn: Option<C::Conn>,
    last_answer: Option<LastAnswer>,
    ping_after_idle: Duration,
    /// Shut down: no connection is made again.
    shut: bool,
}

/// When the kept connection last answered, on two clocks: the monotonic one may or may not
/// count the time the container was frozen, the wall clock does (unless it is set back).
#[derive(Clone, Copy)]
struct LastAnswer(Instant, SystemTime);

impl LastAnswer {
    fn now() -> Self {
        Self(Instant::now(), SystemTime::now())
    }

    fn elapsed(&self) -> Duration {
        let wall = self.1.elapsed().unwrap_or_default();
        self.0.elapsed().max(wall)
    }
}

impl<C: Connector> LazyConnection<C> {
    /// No connection yet: the first [`find_name`](Self::find_name) makes it with
    /// `connector`. Pinged after [`DEFAULT_PING_AFTER_IDLE`] unless told otherwise.
    pub fn new(connector: C) -> Self {
        Self {
            connector,
            conn: None,
            last_answer: None,
            ping_after_idle: DEFAULT_PING_AFTER_IDLE,
            shut: false,
        }
    }

    /// Pings a kept connection before use once it has been idle this long.
    pub fn ping_after_idle(mut self, idle: Duration) -> Self {
        self.ping_after_idle = idle;
        self
    }

    /// Whether a connection is open and kept.
    pub fn is_connected(&self) -> bool {
        self.conn.is_some()
    }

    /// The name of person `id` (`None`: no such row), by `deadline`. Connects first if
    /// there is no connection; pings a kept one that idled; reconnects once and retries
    /// if a kept connection turns out dead. Fails with the [`DbError`] of the connect or
    /// the query; after [`shut_down`](Self::shut_down), with `ConnectionLost`.
    pub async fn find_name(
        &mut self,
        id: u64,
        deadline: Deadline,
    ) -> Result<Option<String>, DbError> {
        if self.shut {
            return Err(DbError::ConnectionLost("shutting down".into()));
        }
        // A kept connection may have died while the container was frozen: allow one retry.
        let mut may_retry = self.conn.is_some();
        if let (Some(conn), Some(last)) = (self.conn.as_mut(), self.last_answer) {
            let idle = last.elapsed();
            if idle >= self.ping_after_idle {
                if let Err(err) = conn.ping(deadline).await {
                    self.conn = None;
                    if matches!(err, DbError::DeadlineExceeded) {
                        return Err(err);
                    }
                    warn!(error = %err, idle_ms = crate::deadline::millis(idle),
                          "kept connection did not answer after idling; reconnecting");
                    may_retry = false;
                }
            }
        }
        loop {
            let conn = match self.conn.as_mut() {
                Some(conn) => conn,
                None => self.conn.insert(self.connector.connect(deadline).await?),
            };
            match conn.find_name(id, deadline).await {
                Err(err) if err.breaks_connection() => {
                    self.conn = None;
                    if may_retry && matches!(err, DbError::ConnectionLost(_)) {
                        warn!(error = %err, "kept connection is dead; reconnecting once");
                        may_retry = false;
                        continue;
                    }
                    return Err(err);
                }
                result => {
                    self.last_answer = Some(LastAnswer::now());
                    return result;
                }
            }
        }
    }

    /// Closes the kept connection, if any (after each naive invocation).
    pub async fn close(&mut self) {
        if let Some(conn) = self.conn.take() {
            if let Err(err) = conn.close().await {
                warn!(error = %err, "closing the database connection failed");
            }
        }
    }

    /// Closes the kept connection for good (on shutdown): none is made afterwards.
    pub async fn shut_down(&mut self) {
        self.shut = true;
        self.close().await;
    }
}

/// The most connections an environment may hold (`DB_MAX_CONNECTIONS`): Lambda's maximum
/// `AWS_LAMBDA_MAX_CONCURRENCY`, beyond which a slot would never be used.
pub const MAX_CONNECTIONS: usize = 1600;

/// Up to `max` kept connections, for an environment that serves several invocations at
/// once (Lambda Managed Instances): each slot is a `LazyConnection`, made on first need and
/// kept. An invocation takes the lowest free slot, so connections are only made up to the
/// concurrency actually reached (one at a time, one connection), and never waits for
/// another invocation's query unless all `max` are busy; then it waits for a free one, at
/// most until its deadline.
pub struct ConnectionSlots<C: Connector> {
    slots: Vec<tokio::sync::Mutex<LazyConnection<C>>>,
    free: tokio::sync::Semaphore,
}

/// A slot held by one invocation; the connection in it is the invocation's alone.
pub struct Slot<'a, C: Connector> {
    // Fields drop in this order: the slot is unlocked before its permit is given back, so
    // the invocation that gets the permit next finds a free slot.
    conn: tokio::sync::MutexGuard<'a, LazyConnection<C>>,
    _permit: tokio::sync::SemaphorePermit<'a>,
}

impl<C: Connector> std::ops::Deref for Slot<'_, C> {
    type Target = LazyConnection<C>;
    fn deref(&self) -> &LazyConnection<C> {
        &self.conn
    }
}

impl<C: Connector> std::ops::DerefMut for Slot<'_, C> {
    fn deref_mut(&mut self) -> &mut LazyConnection<C> {
        &mut self.conn
    }
}

impl<C: Connector + Clone> ConnectionSlots<C> {
    /// `max` slots (1 to `MAX_CONNECTIONS`), none connected yet, each pinging its
    /// connection before use once it idled `ping_after_idle`.
    pub fn new(connector: C, max: usize, ping_after_idle: Duration) -> Self {
        let max = max.clamp(1, MAX_CONNECTIONS);
        let slots = (0..max)
            .map(|_| {
                let conn = LazyConnection::new(connector.clone()).ping_after_idle(ping_after_idle);
                tokio::sync::Mutex::new(conn)
            })
            .collect();
        Self {
            slots,
            free: tokio::sync::Semaphore::new(max),
        }
    }
}

impl<C: Connector> ConnectionSlots<C> {
    /// How many slots there are: the most connections this holds.
    pub fn max(&self) -> usize {
        self.slots.len()
    }

    /// How many slots hold an open connection now (busy slots count as open).
    pub fn open(&self) -> usize {
        self.slots
            .iter()
            .filter(|slot| slot.try_lock().map_or(true, |conn| conn.is_connected()))
            .count()
    }

    /// The lowest free slot; waits for one while all are busy, at most until `deadline`
    /// (`DeadlineExceeded`). After [`close_all`](Self::close_all), `ConnectionLost`.
    pub async fn acquire(&self, deadline: Deadline) -> Result<Slot<'_, C>, DbError> {
        let permit = deadline
            .run(Duration::MAX, self.free.acquire())
            .await
            .map_err(|_| DbError::DeadlineExceeded)?
            .map_err(|_| DbError::ConnectionLost("the connections are closed".into()))?;
        // A permit guarantees a free slot, but for one the shutdown hook is closing.
        for slot in &self.slots {
            if let Ok(conn) = slot.try_lock() {
                return Ok(Slot {
                    conn,
                    _permit: permit,
                });
            }
        }
        Err(DbError::ConnectionLost("shutting down".into()))
    }

    /// Closes every connection for good (on SIGTERM): the idle ones at once, each busy one
    /// as soon as its invocation is done with it. No slot is handed out afterwards, and one
    /// taken just before (a permit already held) cannot connect again.
    pub async fn close_all(&self) {
        self.free.close();
        let each = self
            .slots
            .iter()
            .map(|slot| async move { slot.lock().await.shut_down().await });
        futures_util::future::join_all(each).await;
    }
}

/// Reads the `id` of a payload: a positive integer that fits in 64 bits, else
/// `InvalidPayload` saying what is wrong.
///
/// ```
/// use serde_json::json;
/// use shared::enrich::parse_id;
///
/// assert_eq!(parse_id(&json!({"id": 42})).unwrap(), 42);
/// assert!(parse_id(&json!({"id": -1})).is_err());
/// assert!(parse_id(&json!({"id": "42"})).is_err());
/// ```
pub fn parse_id(payload: &Value) -> Result<u64, EnrichError> {
    let object = payload
        .as_object()
        .ok_or(EnrichError::InvalidPayload("expected a JSON object".into()))?;
    let id = object
        .get("id")
        .ok_or(EnrichError::InvalidPayload("missing \"id\"".into()))?;
    match id.as_u64() {
        Some(id) if id > 0 => Ok(id),
        _ => Err(EnrichError::InvalidPayload(
            "\"id\" must be a positive integer".into(),
        )),
    }
}

/// Returns the payload with `"name"` added, looked up by its `"id"`, by the deadline:
/// `InvalidPayload` for a payload without a usable id, `NotFound` for an id with no row,
/// `Database` for the rest.
pub async fn enrich<C: Connector>(
    payload: Value,
    db: &mut LazyConnection<C>,
    deadline: Deadline,
) -> Result<Value, EnrichError> {
    let id = parse_id(&payload)?;
    let name = db
        .find_name(id, deadline)
        .await?
        .ok_or(EnrichError::NotFound(id))?;
    let mut payload = payload;
    if let Value::Object(fields) = &mut payload {
        fields.insert("name".into(), Value::String(name));
    }
    Ok(payload)
}

#[cfg(test)]
mod tests {
    use super::*;
    use mockall::Sequence;
    use serde_json::json;

    fn lookup_returning(id: u64, name: Option<&'static str>, times: usize) -> MockNameLookup {
        let mut conn = MockNameLookup::new();
        conn.expect_find_name()
            .withf(move |got, _| *got == id)
            .times(times)
            .returning(move |_, _| Ok(name.map(String::from)));
        conn
    }

    #[test]
    fn parse_id_accepts_positive_integers() {
        assert_eq!(parse_id(&json!({"id": 42})).unwrap(), 42);
        assert_eq!(parse_id(&json!({"id": 1, "x": [1]})).unwrap(), 1);
        assert_eq!(parse_id(&json!({"id": u64::MAX})).unwrap(), u64::MAX);
    }

    #[test]
    fn parse_id_rejects_every_bad_shape() {
        let bad = [
            json!({}),
            json!({"id": null}),
            json!({"id": "42"}),
            json!({"id": 4.2}),
            json!({"id": 42.0}),
            json!({"id": -1}),
            json!({"id": 0}),
            json!({"id": true}),
            json!({"id": [42]}),
            json!([{"id": 42}]),
            json!(42),
            json!("id"),
            Value::Null,
        ];
        for payload in bad {
            let err = parse_id(&payload).unwrap_err();
            assert!(
                matches!(err, EnrichError::InvalidPayload(_)),
                "{payload} gave {err:?}"
            );
            assert_eq!(err.kind(), "InvalidPayload");
        }
    }

    #[test]
    fn parse_id_rejects_overflow() {
        // 2^64 does not fit in u64: serde_json reads it as a float.
        let payload: Value = serde_json::from_str(r#"{"id": 18446744073709551616}"#).unwrap();
        assert!(matches!(
            parse_id(&payload),
            Err(EnrichError::InvalidPayload(_))
        ));
    }

    #[tokio::test]
    async fn enrich_adds_the_name_and_keeps_other_fields() {
        let mut connector = MockConnector::new();
        connector
            .expect_connect()
            .times(1)
            .returning(|_| Ok(lookup_returning(7, Some("Ada"), 1)));
        let mut db = LazyConnection::new(connector);
        let out = enrich(json!({"id": 7, "trace": "t-1"}), &mut db, Deadline::NONE)
            .await
            .unwrap();
        assert_eq!(out, json!({"id": 7, "trace": "t-1", "name": "Ada"}));
    }

    #[tokio::test]
    async fn unknown_id_is_not_found() {
        let mut connector = MockConnector::new();
        connector
            .expect_connect()
            .returning(|_| Ok(lookup_returning(9, None, 1)));
        let mut db = LazyConnection::new(connector);
        let err = enrich(json!({"id": 9}), &mut db, Deadline::NONE)
            .await
            .unwrap_err();
        assert!(matches!(err, EnrichError::NotFound(9)));
        assert_eq!(err.to_string(), "no person with id 9");
        assert!(
            db.is_connected(),
            "a missing row does not break the connection"
        );
    }

    #[tokio::test]
    async fn invalid_payload_never_touches_the_database() {
        let mut connector = MockConnector::new();
        connector.expect_connect().never();
        let mut db = LazyConnection::new(connector);
        let err = enrich(json!({"id": "x"}), &mut db, Deadline::NONE)
            .await
            .unwrap_err();
        assert_eq!(err.kind(), "InvalidPayload");
        assert!(!db.is_connected());
    }

    #[tokio::test]
    async fn connects_once_and_looks_up_once_per_invocation() {
        let mut connector = MockConnector::new();
        connector
            .expect_connect()
            .times(1)
            .returning(|_| Ok(lookup_returning(3, Some("Grace"), 5)));
        let mut db = LazyConnection::new(connector);
        for _ in 0..5 {
            let out = enrich(json!({"id": 3}), &mut db, Deadline::NONE)
                .await
                .unwrap();
            assert_eq!(out["name"], "Grace");
        }
    }

    #[tokio::test]
    async fn naive_use_connects_and_closes_every_time() {
        // What rds-enrich-naive does: a fresh LazyConnection per invocation, closed at the end.
        let mut connector = MockConnector::new();
        connector.expect_connect().times(3).returning(|_| {
            let mut conn = lookup_returning(3, Some("Grace"), 1);
            conn.expect_close().times(1).returning(|| Ok(()));
            Ok(conn)
        });
        let connector = std::rc::Rc::new(connector);
        for _ in 0..3 {
            let mut db = LazyConnection::new(SharedConnector(connector.clone()));
            enrich(json!({"id": 3}), &mut db, Deadline::NONE)
                .await
                .unwrap();
            db.close().await;
            assert!(!db.is_connected());
        }
    }

    /// Lets several LazyConnections share one mock connector.
    struct SharedConnector(std::rc::Rc<MockConnector>);
    impl Connector for SharedConnector {
        type Conn = MockNameLookup;
        async fn connect(&self, deadline: Deadline) -> Result<MockNameLookup, DbError> {
            self.0.connect(deadline).await
        }
    }

    #[tokio::test]
    async fn failed_connect_is_an_error_and_the_next_invocation_reconnects() {
        let mut seq = Sequence::new();
        let mut connector = MockConnector::new();
        connector
            .expect_connect()
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_| Err(DbError::ConnectTimeout { timeout_ms: 3000 }));
        connector
            .expect_connect()
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_| Ok(lookup_returning(1, Some("Alan"), 1)));
        let mut db = LazyConnection::new(connector);
        let err = enrich(json!({"id": 1}), &mut db, Deadline::NONE)
            .await
            .unwrap_err();
        assert_eq!(err.kind(), "DatabaseUnavailable");
        assert!(err.to_string().contains("3000 ms"), "{err}");
        assert!(!db.is_connected());
        let out = look_up_1(&mut db).await;
        assert_eq!(out["name"], "Alan");
    }

    #[tokio::test]
    async fn dead_kept_connection_is_replaced_and_the_read_retried() {
        let mut seq = Sequence::new();
        let mut connector = MockConnector::new();
        connector
            .expect_connect()
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_| {
                let mut conn = MockNameLookup::new();
                let mut calls = 0;
                conn.expect_find_name().times(2).returning(move |_, _| {
                    calls += 1;
                    if calls == 1 {
                        Ok(Some("Ada".into()))
                    } else {
                        Err(DbError::ConnectionLost("server has gone away".into()))
                    }
                });
                Ok(conn)
            });
        connector
            .expect_connect()
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_| Ok(lookup_returning(1, Some("Ada"), 1)));
        let mut db = LazyConnection::new(connector);
        look_up_1(&mut db).await;
        // The kept connection died while "frozen": this invocation still succeeds.
        let out = look_up_1(&mut db).await;
        assert_eq!(out["name"], "Ada");
        assert!(db.is_connected());
    }

    #[tokio::test]
    async fn a_second_failure_after_reconnecting_is_an_error() {
        let mut connector = MockConnector::new();
        let mut made = 0;
        connector.expect_connect().times(2).returning(move |_| {
            made += 1;
            let first = made == 1;
            let mut conn = MockNameLookup::new();
            let mut calls = 0;
            conn.expect_find_name().returning(move |_, _| {
                calls += 1;
                if first && calls == 1 {
                    Ok(Some("Ada".into()))
                } else {
                    Err(DbError::ConnectionLost("reset".into()))
                }
            });
            Ok(conn)
        });
        let mut db = LazyConnection::new(connector);
        look_up_1(&mut db).await;
        let err = enrich(json!({"id": 1}), &mut db, Deadline::NONE)
            .await
            .unwrap_err();
        assert!(matches!(
            err,
            EnrichError::Database(DbError::ConnectionLost(_))
        ));
        assert!(!db.is_connected(), "the dead connection is not kept");
    }

    #[tokio::test]
    async fn a_fresh_connection_that_fails_is_not_retried() {
        let mut connector = MockConnector::new();
        connector.expect_connect().times(1).returning(|_| {
            let mut conn = MockNameLookup::new();
            conn.expect_find_name()
                .times(1)
                .returning(|_, _| Err(DbError::ConnectionLost("reset".into())));
            Ok(conn)
        });
        let mut db = LazyConnection::new(connector);
        assert!(enrich(json!({"id": 1}), &mut db, Deadline::NONE)
            .await
            .is_err());
    }

    #[tokio::test]
    async fn a_query_timeout_drops_the_connection_without_retrying() {
        let mut connector = MockConnector::new();
        connector.expect_connect().times(1).returning(|_| {
            let mut conn = MockNameLookup::new();
            conn.expect_find_name()
                .times(1)
                .returning(|_, _| Err(DbError::QueryTimeout { timeout_ms: 5 }));
            Ok(conn)
        });
        let mut db = LazyConnection::new(connector);
        let err = enrich(json!({"id": 1}), &mut db, Deadline::NONE)
            .await
            .unwrap_err();
        assert_eq!(err.kind(), "DatabaseUnavailable");
        assert!(!db.is_connected());
    }

    #[tokio::test]
    async fn a_server_error_keeps_the_connection() {
        let mut connector = MockConnector::new();
        connector.expect_connect().times(1).returning(|_| {
            let mut conn = MockNameLookup::new();
            conn.expect_find_name()
                .returning(|_, _| Err(DbError::Query("Table 'db.people' doesn't exist".into())));
            Ok(conn)
        });
        let mut db = LazyConnection::new(connector);
        let err = enrich(json!({"id": 1}), &mut db, Deadline::NONE)
            .await
            .unwrap_err();
        assert!(err.to_string().contains("doesn't exist"), "{err}");
        assert!(db.is_connected());
    }

    #[tokio::test]
    async fn too_many_connections_is_its_own_kind() {
        let mut connector = MockConnector::new();
        connector
            .expect_connect()
            .returning(|_| Err(DbError::TooManyConnections("ERROR 1040".into())));
        let mut db = LazyConnection::new(connector);
        let err = enrich(json!({"id": 1}), &mut db, Deadline::NONE)
            .await
            .unwrap_err();
        assert_eq!(err.kind(), "TooManyConnections");
        assert!(err.to_string().contains("max_connections"), "{err}");
    }

    #[tokio::test]
    async fn close_closes_the_kept_connection_once() {
        let mut connector = MockConnector::new();
        connector.expect_connect().times(1).returning(|_| {
            let mut conn = lookup_returning(2, Some("Edsger"), 1);
            conn.expect_close().times(1).returning(|| Ok(()));
            Ok(conn)
        });
        let mut db = LazyConnection::new(connector);
        enrich(json!({"id": 2}), &mut db, Deadline::NONE)
            .await
            .unwrap();
        db.close().await;
        db.close().await; // nothing left to close: no second call
        assert!(!db.is_connected());
    }

    /// One successful enrichment of `{"id": 1}`, without a deadline.
    async fn look_up_1<C: Connector>(db: &mut LazyConnection<C>) -> Value {
        enrich(json!({"id": 1}), db, Deadline::NONE).await.unwrap()
    }

    /// A connection that answers `find_name` for any id with "Ada", and pings as told.
    fn answering(ping: Option<Result<(), fn() -> DbError>>) -> MockNameLookup {
        let mut conn = MockNameLookup::new();
        conn.expect_find_name()
            .returning(|_, _| Ok(Some("Ada".into())));
        match ping {
            None => {
                conn.expect_ping().never();
            }
            Some(Ok(())) => {
                conn.expect_ping().times(1).returning(|_| Ok(()));
            }
            Some(Err(make)) => {
                conn.expect_ping().times(1).returning(move |_| Err(make()));
            }
        }
        conn
    }

    #[tokio::test(start_paused = true)]
    async fn back_to_back_invocations_never_ping() {
        let mut connector = MockConnector::new();
        connector
            .expect_connect()
            .times(1)
            .returning(|_| Ok(answering(None)));
        let mut db = LazyConnection::new(connector).ping_after_idle(Duration::from_secs(30));
        for _ in 0..5 {
            tokio::time::advance(Duration::from_secs(29)).await;
            enrich(json!({"id": 1}), &mut db, Deadline::NONE)
                .await
                .unwrap();
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_long_idle_connection_is_pinged_once_and_kept_if_it_answers() {
        let mut connector = MockConnector::new();
        connector
            .expect_connect()
            .times(1)
            .returning(|_| Ok(answering(Some(Ok(())))));
        let mut db = LazyConnection::new(connector).ping_after_idle(Duration::from_secs(30));
        look_up_1(&mut db).await;
        tokio::time::advance(Duration::from_secs(31)).await;
        look_up_1(&mut db).await;
        // Used just now: no second ping.
        look_up_1(&mut db).await;
    }

    #[tokio::test(start_paused = true)]
    async fn a_silent_idle_connection_is_replaced_after_one_failed_ping() {
        let mut seq = Sequence::new();
        let mut connector = MockConnector::new();
        connector
            .expect_connect()
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_| {
                let timeout = || DbError::QueryTimeout { timeout_ms: 500 };
                Ok(answering(Some(Err(timeout))))
            });
        connector
            .expect_connect()
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_| Ok(answering(None)));
        let mut db = LazyConnection::new(connector).ping_after_idle(Duration::from_secs(30));
        look_up_1(&mut db).await;
        tokio::time::advance(Duration::from_secs(600)).await;
        let out = look_up_1(&mut db).await;
        assert_eq!(out["name"], "Ada");
        assert!(db.is_connected());
    }

    #[tokio::test(start_paused = true)]
    async fn a_fresh_connection_after_a_failed_ping_is_not_retried() {
        let mut seq = Sequence::new();
        let mut connector = MockConnector::new();
        connector
            .expect_connect()
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_| {
                let lost = || DbError::ConnectionLost("reset".into());
                Ok(answering(Some(Err(lost))))
            });
        connector
            .expect_connect()
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_| {
                let mut conn = MockNameLookup::new();
                conn.expect_find_name()
                    .times(1)
                    .returning(|_, _| Err(DbError::ConnectionLost("reset again".into())));
                Ok(conn)
            });
        let mut db = LazyConnection::new(connector).ping_after_idle(Duration::from_secs(1));
        look_up_1(&mut db).await;
        tokio::time::advance(Duration::from_secs(2)).await;
        let err = enrich(json!({"id": 1}), &mut db, Deadline::NONE)
            .await
            .unwrap_err();
        assert!(err.to_string().contains("reset again"), "{err}");
    }

    #[tokio::test(start_paused = true)]
    async fn a_ping_cut_short_by_the_deadline_is_the_deadline_error() {
        let mut connector = MockConnector::new();
        connector
            .expect_connect()
            .times(1)
            .returning(|_| Ok(answering(Some(Err(|| DbError::DeadlineExceeded)))));
        let mut db = LazyConnection::new(connector).ping_after_idle(Duration::from_secs(1));
        look_up_1(&mut db).await;
        tokio::time::advance(Duration::from_secs(2)).await;
        let err = enrich(json!({"id": 1}), &mut db, Deadline::NONE)
            .await
            .unwrap_err();
        assert_eq!(err.kind(), "DeadlineExceeded");
        assert!(
            !db.is_connected(),
            "no reconnect once the deadline has passed"
        );
    }

    #[tokio::test]
    async fn the_deadline_reaches_every_call_and_its_error_is_not_retried() {
        let deadline = Deadline::after(Duration::from_secs(3));
        let mut connector = MockConnector::new();
        connector
            .expect_connect()
            .withf(move |d| *d == deadline)
            .times(2)
            .returning(move |_| {
                let mut conn = MockNameLookup::new();
                conn.expect_find_name()
                    .withf(move |_, d| *d == deadline)
                    .returning(|id, _| {
                        if id == 1 {
                            Ok(Some("Ada".into()))
                        } else {
                            Err(DbError::DeadlineExceeded)
                        }
                    });
                Ok(conn)
            });
        let mut db = LazyConnection::new(connector);
        enrich(json!({"id": 1}), &mut db, deadline).await.unwrap();
        let err = enrich(json!({"id": 2}), &mut db, deadline)
            .await
            .unwrap_err();
        assert_eq!(err.kind(), "DeadlineExceeded");
        assert!(
            !db.is_connected(),
            "a reply may still be on its way: dropped"
        );
        // The next invocation starts afresh.
        enrich(json!({"id": 1}), &mut db, deadline).await.unwrap();
    }

    #[tokio::test]
    async fn bad_names_have_their_own_kinds_and_keep_the_connection() {
        let cases = [
            (BadName::Null, "NullName", "is NULL"),
            (
                BadName::NotUtf8 { len: 3 },
                "NameNotUtf8",
                "is not UTF-8 text (3 bytes)",
            ),
            (
                BadName::NotText {
                    column_type: "BLOB".into(),
                },
                "NameNotText",
                "is not text: the column is BLOB",
            ),
        ];
        for (problem, kind, message) in cases {
            let mut connector = MockConnector::new();
            let mut problem = Some(problem);
            connector.expect_connect().times(1).returning(move |_| {
                let problem = problem.take().unwrap();
                let mut conn = MockNameLookup::new();
                conn.expect_find_name()
                    .times(1)
                    .return_once(move |id, _| Err(DbError::BadName { id, problem }));
                conn.expect_find_name()
                    .times(1)
                    .returning(|_, _| Ok(Some("Ada".into())));
                Ok(conn)
            });
            let mut db = LazyConnection::new(connector);
            let err = enrich(json!({"id": 8}), &mut db, Deadline::NONE)
                .await
                .unwrap_err();
            assert_eq!(err.kind(), kind);
            assert_eq!(err.to_string(), format!("the name of person 8 {message}"));
            assert!(
                db.is_connected(),
                "the row was read whole: the connection is fine"
            );
            enrich(json!({"id": 1}), &mut db, Deadline::NONE)
                .await
                .unwrap();
        }
    }

    /// A database whose every query takes `delay`: counts connections made and the most
    /// queries in flight at once.
    #[derive(Clone, Default)]
    struct TimedDb {
        delay: Duration,
        made: std::sync::Arc<std::sync::atomic::AtomicUsize>,
        busy: std::sync::Arc<std::sync::atomic::AtomicUsize>,
        peak: std::sync::Arc<std::sync::atomic::AtomicUsize>,
        closed: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    }

    impl Connector for TimedDb {
        type Conn = TimedDb;
        async fn connect(&self, _: Deadline) -> Result<TimedDb, DbError> {
            self.made.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            Ok(self.clone())
        }
    }

    impl NameLookup for TimedDb {
        async fn find_name(&mut self, id: u64, _: Deadline) -> Result<Option<String>, DbError> {
            use std::sync::atomic::Ordering::SeqCst;
            let now = self.busy.fetch_add(1, SeqCst) + 1;
            self.peak.fetch_max(now, SeqCst);
            tokio::time::sleep(self.delay).await;
            self.busy.fetch_sub(1, SeqCst);
            Ok(Some(format!("Person {id}")))
        }
        async fn ping(&mut self, _: Deadline) -> Result<(), DbError> {
            Ok(())
        }
        async fn close(self) -> Result<(), DbError> {
            self.closed
                .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            Ok(())
        }
    }

    /// `n` invocations at once against `slots`; how long the batch took.
    async fn batch(slots: &ConnectionSlots<TimedDb>, n: u64) -> Duration {
        let start = tokio::time::Instant::now();
        let calls = (1..=n).map(|id| async move {
            let mut conn = slots.acquire(Deadline::NONE).await.unwrap();
            enrich(json!({ "id": id }), &mut conn, Deadline::NONE)
                .await
                .unwrap()
        });
        let out = futures_util::future::join_all(calls).await;
        assert_eq!(out.len() as u64, n);
        start.elapsed()
    }

    #[tokio::test(start_paused = true)]
    async fn concurrent_invocations_overlap_on_their_own_connections() {
        let db = TimedDb {
            delay: Duration::from_millis(100),
            ..TimedDb::default()
        };
        let slots = ConnectionSlots::new(db.clone(), 8, DEFAULT_PING_AFTER_IDLE);
        let took = batch(&slots, 8).await;
        assert_eq!(took, Duration::from_millis(100), "8 queries overlapped");
        assert_eq!(db.peak.load(std::sync::atomic::Ordering::SeqCst), 8);
        assert_eq!(db.made.load(std::sync::atomic::Ordering::SeqCst), 8);
        assert_eq!(slots.open(), 8);
        // Kept: the next batch connects no more.
        batch(&slots, 8).await;
        assert_eq!(db.made.load(std::sync::atomic::Ordering::SeqCst), 8);
    }

    #[tokio::test(start_paused = true)]
    async fn never_more_connections_than_slots() {
        let db = TimedDb {
            delay: Duration::from_millis(100),
            ..TimedDb::default()
        };
        let slots = ConnectionSlots::new(db.clone(), 3, DEFAULT_PING_AFTER_IDLE);
        let took = batch(&slots, 8).await;
        // 8 queries through 3 connections: three waves.
        assert_eq!(took, Duration::from_millis(300));
        assert_eq!(db.peak.load(std::sync::atomic::Ordering::SeqCst), 3);
        assert_eq!(db.made.load(std::sync::atomic::Ordering::SeqCst), 3);
    }

    #[tokio::test(start_paused = true)]
    async fn one_at_a_time_one_connection() {
        let db = TimedDb::default();
        let slots = ConnectionSlots::new(db.clone(), 8, DEFAULT_PING_AFTER_IDLE);
        for _ in 0..20 {
            batch(&slots, 1).await;
        }
        assert_eq!(db.made.load(std::sync::atomic::Ordering::SeqCst), 1);
        assert_eq!(slots.open(), 1);
        let single = ConnectionSlots::new(db.clone(), 1, DEFAULT_PING_AFTER_IDLE);
        assert_eq!(single.max(), 1);
    }

    #[test]
    fn the_slots_are_bounded_whatever_the_caller_asks() {
        let slots = |max| ConnectionSlots::new(TimedDb::default(), max, DEFAULT_PING_AFTER_IDLE);
        assert_eq!(slots(0).max(), 1);
        assert_eq!(slots(usize::MAX).max(), MAX_CONNECTIONS);
    }

    #[tokio::test(start_paused = true)]
    async fn waiting_for_a_free_slot_ends_at_the_deadline() {
        let slots = ConnectionSlots::new(TimedDb::default(), 1, DEFAULT_PING_AFTER_IDLE);
        let _held = slots.acquire(Deadline::NONE).await.unwrap();
        let start = tokio::time::Instant::now();
        let err = slots
            .acquire(Deadline::after(Duration::from_millis(250)))
            .await
            .err()
            .unwrap();
        assert!(matches!(err, DbError::DeadlineExceeded), "{err:?}");
        assert_eq!(start.elapsed(), Duration::from_millis(250));
    }

    #[tokio::test(start_paused = true)]
    async fn closing_waits_for_invocations_and_refuses_new_ones() {
        let db = TimedDb {
            delay: Duration::from_millis(100),
            ..TimedDb::default()
        };
        let slots = ConnectionSlots::new(db, 2, DEFAULT_PING_AFTER_IDLE);
        batch(&slots, 2).await;
        assert_eq!(slots.open(), 2);
        slots.close_all().await;
        assert_eq!(slots.open(), 0);
        let err = slots.acquire(Deadline::NONE).await.err().unwrap();
        assert!(matches!(err, DbError::ConnectionLost(_)), "{err:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn closing_closes_the_idle_connections_at_once_and_a_busy_one_when_freed() {
        use std::sync::atomic::Ordering::SeqCst;
        let db = TimedDb {
            delay: Duration::from_millis(10),
            ..TimedDb::default()
        };
        let slots = ConnectionSlots::new(db.clone(), 3, DEFAULT_PING_AFTER_IDLE);
        batch(&slots, 3).await;
        assert_eq!(slots.open(), 3);
        // The lowest slot is held by an invocation that outlasts the shutdown window.
        let busy = slots.acquire(Deadline::NONE).await.unwrap();
        let closing = slots.close_all();
        tokio::pin!(closing);
        let waited = tokio::time::timeout(Duration::from_millis(100), &mut closing).await;
        assert!(waited.is_err(), "a busy slot is waited for");
        assert_eq!(
            db.closed.load(SeqCst),
            2,
            "the idle connections are closed at once"
        );
        drop(busy);
        closing.await;
        assert_eq!(db.closed.load(SeqCst), 3);
        assert_eq!(slots.open(), 0);
    }

    #[tokio::test]
    async fn a_connection_shut_down_is_never_made_again() {
        let mut connector = MockConnector::new();
        connector.expect_connect().times(1).returning(|_| {
            let mut conn = lookup_returning(1, Some("Ada"), 1);
            conn.expect_close().times(1).returning(|| Ok(()));
            Ok(conn)
        });
        let mut db = LazyConnection::new(connector);
        look_up_1(&mut db).await;
        db.shut_down().await;
        // What an invocation that took the slot just before shutdown would do next.
        let err = db.find_name(1, Deadline::NONE).await.unwrap_err();
        assert!(matches!(err, DbError::ConnectionLost(_)), "{err:?}");
        assert!(!db.is_connected());
    }
}
