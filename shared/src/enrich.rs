//! `rds-enrich`: add a person's name to a payload, read through a database connection
//! that is made on first need and then kept for the container's life.

use serde_json::Value;
use tracing::warn;

use crate::ErrorKind;

/// Why a database call failed. Messages never contain the connection URL (it holds the password).
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("invalid database configuration: {0}")]
    Config(String),
    #[error("could not connect to the database within {timeout_ms} ms")]
    ConnectTimeout { timeout_ms: u64 },
    #[error("could not connect to the database: {0}")]
    Connect(String),
    #[error(
        "the database refused the connection: too many connections (the server's \
         max_connections is reached; see the README's connection budget): {0}"
    )]
    TooManyConnections(String),
    #[error("the database connection was lost: {0}")]
    ConnectionLost(String),
    #[error("the query did not complete within {timeout_ms} ms")]
    QueryTimeout { timeout_ms: u64 },
    #[error("the query failed: {0}")]
    Query(String),
}

impl DbError {
    /// The connection can no longer be used and must be dropped.
    pub fn breaks_connection(&self) -> bool {
        matches!(self, Self::ConnectionLost(_) | Self::QueryTimeout { .. })
    }
}

/// Why an enrichment failed.
#[derive(Debug, thiserror::Error)]
pub enum EnrichError {
    #[error("invalid payload: {0}")]
    InvalidPayload(&'static str),
    #[error("no person with id {0}")]
    NotFound(u64),
    #[error(transparent)]
    Database(#[from] DbError),
}

impl ErrorKind for EnrichError {
    fn kind(&self) -> &'static str {
        match self {
            Self::InvalidPayload(_) => "InvalidPayload",
            Self::NotFound(_) => "NotFound",
            Self::Database(DbError::Config(_)) => "DatabaseConfig",
            Self::Database(DbError::TooManyConnections(_)) => "TooManyConnections",
            Self::Database(_) => "DatabaseUnavailable",
        }
    }
}

/// Makes a new database connection (the expensive part: TCP, TLS, authentication).
#[allow(async_fn_in_trait)] // used with concrete types on one task; no Send bound needed
#[cfg_attr(test, mockall::automock(type Conn = MockNameLookup;))]
pub trait Connector {
    type Conn: NameLookup;
    async fn connect(&self) -> Result<Self::Conn, DbError>;
}

/// One open connection that can look names up.
#[allow(async_fn_in_trait)]
#[cfg_attr(test, mockall::automock)]
pub trait NameLookup {
    async fn find_name(&mut self, id: u64) -> Result<Option<String>, DbError>;
    /// Closes the connection cleanly, so the server frees its slot at once.
    async fn close(self) -> Result<(), DbError>;
}

/// A connection made on first use and kept until it breaks or is closed.
///
/// A kept connection can die while the container is frozen (server `wait_timeout`, a
/// `KILL`, a dropped NAT entry): the first query then fails with a lost connection, and
/// `find_name` reconnects once and retries, so the invocation still succeeds.
pub struct LazyConnection<C: Connector> {
    connector: C,
    conn: Option<C::Conn>,
}

impl<C: Connector> LazyConnection<C> {
    pub fn new(connector: C) -> Self {
        Self {
            connector,
            conn: None,
        }
    }

    pub fn is_connected(&self) -> bool {
        self.conn.is_some()
    }

    pub async fn find_name(&mut self, id: u64) -> Result<Option<String>, DbError> {
        // A kept connection may have died while the container was frozen: allow one retry.
        let mut may_retry = self.conn.is_some();
        loop {
            let conn = match self.conn.as_mut() {
                Some(conn) => conn,
                None => self.conn.insert(self.connector.connect().await?),
            };
            match conn.find_name(id).await {
                Err(err) if err.breaks_connection() => {
                    self.conn = None;
                    if may_retry && matches!(err, DbError::ConnectionLost(_)) {
                        warn!(error = %err, "kept connection is dead; reconnecting once");
                        may_retry = false;
                        continue;
                    }
                    return Err(err);
                }
                result => return result,
            }
        }
    }

    /// Closes the kept connection, if any (on shutdown, or after each naive invocation).
    pub async fn close(&mut self) {
        if let Some(conn) = self.conn.take() {
            if let Err(err) = conn.close().await {
                warn!(error = %err, "closing the database connection failed");
            }
        }
    }
}

/// Reads the `id` of a payload: a positive integer that fits in 64 bits.
pub fn parse_id(payload: &Value) -> Result<u64, EnrichError> {
    let object = payload
        .as_object()
        .ok_or(EnrichError::InvalidPayload("expected a JSON object"))?;
    let id = object
        .get("id")
        .ok_or(EnrichError::InvalidPayload("missing \"id\""))?;
    match id.as_u64() {
        Some(id) if id > 0 => Ok(id),
        _ => Err(EnrichError::InvalidPayload(
            "\"id\" must be a positive integer",
        )),
    }
}

/// Returns the payload with `"name"` added, looked up by its `"id"`.
pub async fn enrich<C: Connector>(
    payload: Value,
    db: &mut LazyConnection<C>,
) -> Result<Value, EnrichError> {
    let id = parse_id(&payload)?;
    let name = db.find_name(id).await?.ok_or(EnrichError::NotFound(id))?;
    let mut payload = payload;
    if let Value::Object(fields) = &mut payload {
        fields.insert("name".into(), Value::String(name));
    }
    Ok(payload)
}

#[cfg(test)]
mod tests {
    use super::*;
    use mockall::{predicate::eq, Sequence};
    use serde_json::json;

    fn lookup_returning(id: u64, name: Option<&'static str>, times: usize) -> MockNameLookup {
        let mut conn = MockNameLookup::new();
        conn.expect_find_name()
            .with(eq(id))
            .times(times)
            .returning(move |_| Ok(name.map(String::from)));
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
            .returning(|| Ok(lookup_returning(7, Some("Ada"), 1)));
        let mut db = LazyConnection::new(connector);
        let out = enrich(json!({"id": 7, "trace": "t-1"}), &mut db)
            .await
            .unwrap();
        assert_eq!(out, json!({"id": 7, "trace": "t-1", "name": "Ada"}));
    }

    #[tokio::test]
    async fn unknown_id_is_not_found() {
        let mut connector = MockConnector::new();
        connector
            .expect_connect()
            .returning(|| Ok(lookup_returning(9, None, 1)));
        let mut db = LazyConnection::new(connector);
        let err = enrich(json!({"id": 9}), &mut db).await.unwrap_err();
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
        let err = enrich(json!({"id": "x"}), &mut db).await.unwrap_err();
        assert_eq!(err.kind(), "InvalidPayload");
        assert!(!db.is_connected());
    }

    #[tokio::test]
    async fn connects_once_and_looks_up_once_per_invocation() {
        let mut connector = MockConnector::new();
        connector
            .expect_connect()
            .times(1)
            .returning(|| Ok(lookup_returning(3, Some("Grace"), 5)));
        let mut db = LazyConnection::new(connector);
        for _ in 0..5 {
            let out = enrich(json!({"id": 3}), &mut db).await.unwrap();
            assert_eq!(out["name"], "Grace");
        }
    }

    #[tokio::test]
    async fn naive_use_connects_and_closes_every_time() {
        // What rds-enrich-naive does: a fresh LazyConnection per invocation, closed at the end.
        let mut connector = MockConnector::new();
        connector.expect_connect().times(3).returning(|| {
            let mut conn = lookup_returning(3, Some("Grace"), 1);
            conn.expect_close().times(1).returning(|| Ok(()));
            Ok(conn)
        });
        let connector = std::rc::Rc::new(connector);
        for _ in 0..3 {
            let mut db = LazyConnection::new(SharedConnector(connector.clone()));
            enrich(json!({"id": 3}), &mut db).await.unwrap();
            db.close().await;
            assert!(!db.is_connected());
        }
    }

    /// Lets several LazyConnections share one mock connector.
    struct SharedConnector(std::rc::Rc<MockConnector>);
    impl Connector for SharedConnector {
        type Conn = MockNameLookup;
        async fn connect(&self) -> Result<MockNameLookup, DbError> {
            self.0.connect().await
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
            .returning(|| Err(DbError::ConnectTimeout { timeout_ms: 3000 }));
        connector
            .expect_connect()
            .times(1)
            .in_sequence(&mut seq)
            .returning(|| Ok(lookup_returning(1, Some("Alan"), 1)));
        let mut db = LazyConnection::new(connector);
        let err = enrich(json!({"id": 1}), &mut db).await.unwrap_err();
        assert_eq!(err.kind(), "DatabaseUnavailable");
        assert!(err.to_string().contains("3000 ms"), "{err}");
        assert!(!db.is_connected());
        let out = enrich(json!({"id": 1}), &mut db).await.unwrap();
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
            .returning(|| {
                let mut conn = MockNameLookup::new();
                let mut calls = 0;
                conn.expect_find_name().times(2).returning(move |_| {
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
            .returning(|| Ok(lookup_returning(1, Some("Ada"), 1)));
        let mut db = LazyConnection::new(connector);
        enrich(json!({"id": 1}), &mut db).await.unwrap();
        // The kept connection died while "frozen": this invocation still succeeds.
        let out = enrich(json!({"id": 1}), &mut db).await.unwrap();
        assert_eq!(out["name"], "Ada");
        assert!(db.is_connected());
    }

    #[tokio::test]
    async fn a_second_failure_after_reconnecting_is_an_error() {
        let mut connector = MockConnector::new();
        let mut made = 0;
        connector.expect_connect().times(2).returning(move || {
            made += 1;
            let first = made == 1;
            let mut conn = MockNameLookup::new();
            let mut calls = 0;
            conn.expect_find_name().returning(move |_| {
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
        enrich(json!({"id": 1}), &mut db).await.unwrap();
        let err = enrich(json!({"id": 1}), &mut db).await.unwrap_err();
        assert!(matches!(
            err,
            EnrichError::Database(DbError::ConnectionLost(_))
        ));
        assert!(!db.is_connected(), "the dead connection is not kept");
    }

    #[tokio::test]
    async fn a_fresh_connection_that_fails_is_not_retried() {
        let mut connector = MockConnector::new();
        connector.expect_connect().times(1).returning(|| {
            let mut conn = MockNameLookup::new();
            conn.expect_find_name()
                .times(1)
                .returning(|_| Err(DbError::ConnectionLost("reset".into())));
            Ok(conn)
        });
        let mut db = LazyConnection::new(connector);
        assert!(enrich(json!({"id": 1}), &mut db).await.is_err());
    }

    #[tokio::test]
    async fn a_query_timeout_drops_the_connection_without_retrying() {
        let mut connector = MockConnector::new();
        connector.expect_connect().times(1).returning(|| {
            let mut conn = MockNameLookup::new();
            conn.expect_find_name()
                .times(1)
                .returning(|_| Err(DbError::QueryTimeout { timeout_ms: 5 }));
            Ok(conn)
        });
        let mut db = LazyConnection::new(connector);
        let err = enrich(json!({"id": 1}), &mut db).await.unwrap_err();
        assert_eq!(err.kind(), "DatabaseUnavailable");
        assert!(!db.is_connected());
    }

    #[tokio::test]
    async fn a_server_error_keeps_the_connection() {
        let mut connector = MockConnector::new();
        connector.expect_connect().times(1).returning(|| {
            let mut conn = MockNameLookup::new();
            conn.expect_find_name()
                .returning(|_| Err(DbError::Query("Table 'db.people' doesn't exist".into())));
            Ok(conn)
        });
        let mut db = LazyConnection::new(connector);
        let err = enrich(json!({"id": 1}), &mut db).await.unwrap_err();
        assert!(err.to_string().contains("doesn't exist"), "{err}");
        assert!(db.is_connected());
    }

    #[tokio::test]
    async fn too_many_connections_is_its_own_kind() {
        let mut connector = MockConnector::new();
        connector
            .expect_connect()
            .returning(|| Err(DbError::TooManyConnections("ERROR 1040".into())));
        let mut db = LazyConnection::new(connector);
        let err = enrich(json!({"id": 1}), &mut db).await.unwrap_err();
        assert_eq!(err.kind(), "TooManyConnections");
        assert!(err.to_string().contains("max_connections"), "{err}");
    }

    #[tokio::test]
    async fn close_closes_the_kept_connection_once() {
        let mut connector = MockConnector::new();
        connector.expect_connect().times(1).returning(|| {
            let mut conn = lookup_returning(2, Some("Edsger"), 1);
            conn.expect_close().times(1).returning(|| Ok(()));
            Ok(conn)
        });
        let mut db = LazyConnection::new(connector);
        enrich(json!({"id": 2}), &mut db).await.unwrap();
        db.close().await;
        db.close().await; // nothing left to close: no second call
        assert!(!db.is_connected());
    }
}
