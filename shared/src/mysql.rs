//! The real `Connector` for `rds-enrich`: one `mysql_async::Conn`, no pool.
//!
//! A Lambda container serves one invocation at a time, so it needs exactly one connection;
//! a `Pool` would also reset the connection on every return (an extra round trip).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use mysql_async::prelude::Queryable;
use mysql_async::{Conn, Opts, OptsBuilder};
use tokio::time::timeout;

use crate::enrich::{Connector, DbError, NameLookup};

const DEFAULT_TABLE: &str = "people";
const DEFAULT_CONNECT_TIMEOUT_MS: u64 = 3_000;
const DEFAULT_QUERY_TIMEOUT_MS: u64 = 5_000;

/// Settings read from the environment. Not `Debug`: the URL holds the password.
#[derive(Clone)]
pub struct DbConfig {
    /// `mysql://user:pass@host:3306/db`, with `?require_ssl=true` for TLS.
    pub url: String,
    /// Table with `id` and `name` columns (letters, digits and `_` only).
    pub table: String,
    /// CA bundle to verify the server (RDS: `global-bundle.pem`).
    pub ca_file: Option<PathBuf>,
    pub connect_timeout: Duration,
    pub query_timeout: Duration,
}

impl DbConfig {
    /// `DATABASE_URL` (required), `PEOPLE_TABLE`, `DATABASE_CA_FILE`,
    /// `DB_CONNECT_TIMEOUT_MS`, `DB_QUERY_TIMEOUT_MS`.
    pub fn from_env() -> Result<Self, DbError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    pub fn from_lookup(var: impl Fn(&str) -> Option<String>) -> Result<Self, DbError> {
        let url = var("DATABASE_URL")
            .filter(|url| !url.is_empty())
            .ok_or_else(|| DbError::Config("DATABASE_URL is not set".into()))?;
        let table = var("PEOPLE_TABLE").unwrap_or_else(|| DEFAULT_TABLE.into());
        // The table name is spliced into SQL: allow only a plain identifier.
        if table.is_empty()
            || table.len() > 64
            || !table.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        {
            return Err(DbError::Config(format!(
                "PEOPLE_TABLE must be letters, digits and '_' (got {table:?})"
            )));
        }
        let millis = |name: &str, default: u64| -> Result<Duration, DbError> {
            match var(name) {
                None => Ok(Duration::from_millis(default)),
                Some(v) => match v.parse::<u64>() {
                    Ok(ms) if ms > 0 => Ok(Duration::from_millis(ms)),
                    _ => Err(DbError::Config(format!(
                        "{name} must be a positive number of milliseconds (got {v:?})"
                    ))),
                },
            }
        };
        Ok(Self {
            url,
            table,
            ca_file: var("DATABASE_CA_FILE")
                .filter(|p| !p.is_empty())
                .map(PathBuf::from),
            connect_timeout: millis("DB_CONNECT_TIMEOUT_MS", DEFAULT_CONNECT_TIMEOUT_MS)?,
            query_timeout: millis("DB_QUERY_TIMEOUT_MS", DEFAULT_QUERY_TIMEOUT_MS)?,
        })
    }
}

/// Opens connections to MySQL/MariaDB. Cheap to clone.
#[derive(Clone)]
pub struct MysqlConnector {
    opts: Opts,
    query: Arc<str>,
    connect_timeout: Duration,
    query_timeout: Duration,
}

impl MysqlConnector {
    pub fn new(config: &DbConfig) -> Result<Self, DbError> {
        // UrlError names the bad parameter, never the password.
        let opts = Opts::from_url(&config.url)
            .map_err(|e| DbError::Config(format!("DATABASE_URL: {e}")))?;
        // A Lambda never shares a host with its database: skip mysql_async's probe for a
        // local Unix socket (a query and a second connect when the host is loopback).
        let opts: Opts = OptsBuilder::from_opts(opts).prefer_socket(false).into();
        let opts = match (&config.ca_file, opts.ssl_opts().cloned()) {
            (Some(ca), Some(ssl)) => OptsBuilder::from_opts(opts)
                .ssl_opts(ssl.with_root_certs(vec![ca.clone().into()]))
                .into(),
            (Some(_), None) => {
                return Err(DbError::Config(
                    "DATABASE_CA_FILE is set but DATABASE_URL does not ask for TLS \
                     (add ?require_ssl=true)"
                        .into(),
                ))
            }
            (None, _) => opts,
        };
        Ok(Self {
            opts,
            query: format!("SELECT name FROM `{}` WHERE id = ?", config.table).into(),
            connect_timeout: config.connect_timeout,
            query_timeout: config.query_timeout,
        })
    }
}

impl Connector for MysqlConnector {
    type Conn = MysqlConnection;

    async fn connect(&self) -> Result<MysqlConnection, DbError> {
        let conn = timeout(self.connect_timeout, Conn::new(self.opts.clone()))
            .await
            .map_err(|_| DbError::ConnectTimeout {
                timeout_ms: millis(self.connect_timeout),
            })?
            .map_err(connect_error)?;
        Ok(MysqlConnection {
            conn,
            query: self.query.clone(),
            query_timeout: self.query_timeout,
        })
    }
}

/// One open connection; its prepared statement is cached by `mysql_async` per connection.
pub struct MysqlConnection {
    conn: Conn,
    query: Arc<str>,
    query_timeout: Duration,
}

impl MysqlConnection {
    /// The server's id for this connection (what `KILL` and the processlist show).
    pub fn server_id(&self) -> u32 {
        self.conn.id()
    }
}

impl NameLookup for MysqlConnection {
    async fn find_name(&mut self, id: u64) -> Result<Option<String>, DbError> {
        timeout(
            self.query_timeout,
            self.conn.exec_first::<String, _, _>(&*self.query, (id,)),
        )
        .await
        .map_err(|_| DbError::QueryTimeout {
            timeout_ms: millis(self.query_timeout),
        })?
        .map_err(query_error)
    }

    async fn close(self) -> Result<(), DbError> {
        timeout(self.query_timeout, self.conn.disconnect())
            .await
            .map_err(|_| DbError::QueryTimeout {
                timeout_ms: millis(self.query_timeout),
            })?
            .map_err(query_error)
    }
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// ER_CON_COUNT_ERROR and ER_TOO_MANY_USER_CONNECTIONS.
fn is_too_many_connections(err: &mysql_async::Error) -> bool {
    matches!(err, mysql_async::Error::Server(e) if e.code == 1040 || e.code == 1203)
}

fn connect_error(err: mysql_async::Error) -> DbError {
    if is_too_many_connections(&err) {
        DbError::TooManyConnections(err.to_string())
    } else {
        DbError::Connect(err.to_string())
    }
}

/// Server codes that mean "this connection is gone": killed (MariaDB 1927), shutdown
/// (1053), idle timeout (MySQL 8: 4031), and the client-side 2006/2013.
const CONNECTION_GONE_CODES: [u16; 5] = [1053, 1927, 2006, 2013, 4031];

fn query_error(err: mysql_async::Error) -> DbError {
    match &err {
        mysql_async::Error::Server(e) if !CONNECTION_GONE_CODES.contains(&e.code) => {
            DbError::Query(err.to_string())
        }
        // I/O, driver ("connection closed") and the codes above: the connection is dead.
        _ => DbError::ConnectionLost(err.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn config(vars: &[(&str, &str)]) -> Result<DbConfig, DbError> {
        let vars: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        DbConfig::from_lookup(|name| vars.get(name).cloned())
    }

    #[test]
    fn config_defaults() {
        let c = config(&[("DATABASE_URL", "mysql://u:p@127.0.0.1/db")]).unwrap();
        assert_eq!(c.table, "people");
        assert_eq!(c.connect_timeout, Duration::from_secs(3));
        assert_eq!(c.query_timeout, Duration::from_secs(5));
        assert!(c.ca_file.is_none());
    }

    #[test]
    fn config_requires_a_url() {
        let err = config(&[]).err().unwrap();
        assert!(err.to_string().contains("DATABASE_URL is not set"), "{err}");
        assert!(config(&[("DATABASE_URL", "")]).is_err());
    }

    #[test]
    fn table_name_must_be_an_identifier() {
        for bad in ["people; DROP TABLE x", "a`b", "", "peo ple"] {
            let err = config(&[("DATABASE_URL", "mysql://h/db"), ("PEOPLE_TABLE", bad)])
                .err()
                .unwrap();
            assert!(err.to_string().contains("PEOPLE_TABLE"), "{err}");
        }
        let ok = config(&[
            ("DATABASE_URL", "mysql://h/db"),
            ("PEOPLE_TABLE", "staff_2"),
        ]);
        assert_eq!(ok.unwrap().table, "staff_2");
    }

    #[test]
    fn timeouts_must_be_positive_millis() {
        for bad in ["0", "-1", "soon", "1.5"] {
            let err = config(&[
                ("DATABASE_URL", "mysql://h/db"),
                ("DB_CONNECT_TIMEOUT_MS", bad),
            ])
            .err()
            .unwrap();
            assert!(err.to_string().contains("DB_CONNECT_TIMEOUT_MS"), "{err}");
        }
        let c = config(&[
            ("DATABASE_URL", "mysql://h/db"),
            ("DB_CONNECT_TIMEOUT_MS", "250"),
            ("DB_QUERY_TIMEOUT_MS", "900"),
        ])
        .unwrap();
        assert_eq!(c.connect_timeout, Duration::from_millis(250));
        assert_eq!(c.query_timeout, Duration::from_millis(900));
    }

    #[test]
    fn bad_url_is_a_config_error_without_the_password() {
        let c = config(&[("DATABASE_URL", "mysql://u:s3cret@h/db?no_such_param=1")]).unwrap();
        let err = MysqlConnector::new(&c).err().unwrap();
        assert!(matches!(err, DbError::Config(_)), "{err:?}");
        assert!(!err.to_string().contains("s3cret"), "{err}");
    }

    #[test]
    fn ca_file_needs_tls_in_the_url() {
        let c = config(&[
            ("DATABASE_URL", "mysql://u:p@h/db"),
            ("DATABASE_CA_FILE", "/tmp/ca.pem"),
        ])
        .unwrap();
        assert!(MysqlConnector::new(&c).is_err());
        let c = config(&[
            ("DATABASE_URL", "mysql://u:p@h/db?require_ssl=true"),
            ("DATABASE_CA_FILE", "/tmp/ca.pem"),
        ])
        .unwrap();
        let connector = MysqlConnector::new(&c).unwrap();
        assert!(connector.opts.ssl_opts().is_some());
    }

    #[test]
    fn query_is_parameterised_with_the_configured_table() {
        let c = config(&[("DATABASE_URL", "mysql://h/db"), ("PEOPLE_TABLE", "staff")]).unwrap();
        let connector = MysqlConnector::new(&c).unwrap();
        assert_eq!(&*connector.query, "SELECT name FROM `staff` WHERE id = ?");
        assert!(!connector.opts.prefer_socket());
    }

    fn server_error(code: u16) -> mysql_async::Error {
        mysql_async::Error::Server(mysql_async::ServerError {
            code,
            message: "msg".into(),
            state: "HY000".into(),
        })
    }

    #[test]
    fn errors_are_classified() {
        assert!(matches!(
            connect_error(server_error(1040)),
            DbError::TooManyConnections(_)
        ));
        assert!(matches!(
            connect_error(server_error(1045)),
            DbError::Connect(_)
        ));
        assert!(matches!(
            query_error(server_error(1927)),
            DbError::ConnectionLost(_)
        ));
        assert!(matches!(
            query_error(server_error(4031)),
            DbError::ConnectionLost(_)
        ));
        assert!(matches!(query_error(server_error(1146)), DbError::Query(_)));
        let io = mysql_async::Error::Io(mysql_async::IoError::Io(std::io::Error::from(
            std::io::ErrorKind::BrokenPipe,
        )));
        assert!(matches!(query_error(io), DbError::ConnectionLost(_)));
        let closed = mysql_async::Error::Driver(mysql_async::DriverError::ConnectionClosed);
        assert!(matches!(query_error(closed), DbError::ConnectionLost(_)));
    }
}
