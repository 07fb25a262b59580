//! The real `Connector` for `rds-enrich`: one `mysql_async::Conn` per connection slot, no
//! pool (a `Pool` would also reset the connection on every return: an extra round trip).
//!
//! TLS is required and verified: a `DATABASE_URL` without `?require_ssl=true`, or one that
//! turns off the certificate or host name check, is a configuration error, unless
//! `DATABASE_ALLOW_PLAINTEXT=true` allows plain TCP for a local database.
//!
//! What goes over the wire is chosen for RDS Proxy, which multiplexes client sessions over
//! few database connections unless a session "pins" itself: the connect is the handshake
//! only (no settings query, no `SET`), and the lookup is one text query with the validated
//! integer in it (a server-side prepared statement would pin every container's session).

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use mysql_async::consts::ColumnType;
use mysql_async::prelude::Queryable;
use mysql_async::{Conn, Opts, OptsBuilder, Row, Value};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::CertificateDer;
use secrecy::ExposeSecret;

use crate::credentials::{function_credentials, CachedCredentials, FULL_URI_VAR};
use crate::deadline::{millis, Deadline, Elapsed};
use crate::enrich::{BadName, ConnectionSlots, Connector, DbError, NameLookup};
use crate::https::https_client;
use crate::iam_auth::IamAuth;
use crate::trust::CERT_FILE_VAR;

const DEFAULT_TABLE: &str = "people";
// Within the template's `Timeout: 10` with room to spare: the worst invocation pays a ping,
// a connect and a query (4.5 s); every call is also cut at the invocation's deadline.
const DEFAULT_CONNECT_TIMEOUT_MS: u64 = 2_000;
const DEFAULT_QUERY_TIMEOUT_MS: u64 = 2_000;
const DEFAULT_PING_TIMEOUT_MS: u64 = 500;
const DEFAULT_PING_AFTER_IDLE_MS: u64 = 30_000;
/// How long a dropped connection may spend saying goodbye (`COM_QUIT`) before its socket
/// is simply closed.
const DISCARD_LIMIT: Duration = Duration::from_millis(100);
/// The client's packet limit and idle timeout, given so that connecting sends no
/// `SELECT @@max_allowed_packet, @@wait_timeout` (one round trip less per connect).
const MAX_ALLOWED_PACKET: usize = 4 * 1024 * 1024;
const WAIT_TIMEOUT_S: usize = 28_800;
/// MySQL's character set number for binary strings (BINARY, VARBINARY, BLOB).
const BINARY_CHARSET: u16 = 63;
pub use crate::enrich::MAX_CONNECTIONS;
/// The default cap on Managed Instances, per vCPU: a query holds its connection for a
/// round trip, and a vCPU serves a few invocations in that time (see the connection budget
/// in the docs). Never above the environment's concurrency.
pub const CONNECTIONS_PER_VCPU: usize = 4;

/// Connections this process has opened (for the invocation report).
static OPENED: AtomicU64 = AtomicU64::new(0);

/// How many database connections this process has opened so far.
pub fn connections_opened() -> u64 {
    OPENED.load(Ordering::Relaxed)
}

/// The connections an environment holds at most unless `DB_MAX_CONNECTIONS` says: one on
/// classic Lambda (one invocation at a time), else `CONNECTIONS_PER_VCPU` per vCPU, never
/// more than the invocations it serves at once.
///
/// ```
/// use shared::mysql::default_max_connections;
///
/// assert_eq!(default_max_connections(1, 2), 1); // classic Lambda
/// assert_eq!(default_max_connections(8, 4), 8); // never more than the concurrency
/// assert_eq!(default_max_connections(64, 2), 8); // 4 per vCPU
/// ```
pub fn default_max_connections(concurrency: usize, vcpus: usize) -> usize {
    concurrency.clamp(1, CONNECTIONS_PER_VCPU.saturating_mul(vcpus.max(1)))
}

/// Settings read from the environment ([`DbConfig::from_env`]). Not `Debug`: the URL may
/// hold a password.
#[derive(Clone)]
pub struct DbConfig {
    /// `mysql://user[:password]@host:3306/db?require_ssl=true` (`DATABASE_URL`).
    pub url: String,
    /// Table with `id` and `name` columns (letters, digits and `_` only).
    pub table: String,
    /// CA bundle to verify the server (RDS: `global-bundle.pem`): the only roots trusted.
    pub ca_file: Option<PathBuf>,
    /// The most a connect may take (`DB_CONNECT_TIMEOUT_MS`).
    pub connect_timeout: Duration,
    /// The most a query may take (`DB_QUERY_TIMEOUT_MS`).
    pub query_timeout: Duration,
    /// Limit of the liveness check of a connection that idled (`ping_after_idle`).
    pub ping_timeout: Duration,
    /// A kept connection idle this long is pinged before use (`DB_PING_AFTER_IDLE_MS`).
    pub ping_after_idle: Duration,
    /// At most this many connections per environment (1 to `MAX_CONNECTIONS`); `None`:
    /// `default_max_connections`.
    pub max_connections: Option<usize>,
    /// `DATABASE_ALLOW_PLAINTEXT=true`: a URL without TLS is allowed (a local database only).
    pub allow_plaintext: bool,
    /// `DATABASE_IAM_AUTH=true`: log in with an IAM token (see `iam_auth`), not a password.
    pub iam_auth: bool,
    /// `AWS_REGION`: signs the IAM tokens.
    pub region: Option<String>,
    /// `SSL_CERT_FILE`: roots trusted beside Amazon's when fetching credentials over HTTPS.
    pub cert_file: Option<String>,
    /// `AWS_CONTAINER_CREDENTIALS_FULL_URI`: where the credentials are, on Managed Instances.
    pub credentials_endpoint: Option<String>,
}

impl DbConfig {
    /// `DATABASE_URL` (required), `PEOPLE_TABLE`, `DATABASE_CA_FILE`,
    /// `DB_CONNECT_TIMEOUT_MS`, `DB_QUERY_TIMEOUT_MS`, `DB_PING_TIMEOUT_MS`,
    /// `DB_PING_AFTER_IDLE_MS`, `DB_MAX_CONNECTIONS`, `DATABASE_IAM_AUTH` (with `AWS_REGION`),
    /// `DATABASE_ALLOW_PLAINTEXT`, `SSL_CERT_FILE`. A missing URL, a value out of its bounds
    /// or a flag that is not `true` or `false` is a [`DbError::Config`] naming the variable;
    /// the URL itself is checked by [`MysqlConnector::new`].
    pub fn from_env() -> Result<Self, DbError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// The connections of an environment that serves `concurrency` invocations at once,
    /// none made yet: `DB_MAX_CONNECTIONS` slots, else `default_max_connections`. Checks the
    /// URL and CA file now, as [`MysqlConnector::new`] does.
    pub fn connection_slots(
        &self,
        concurrency: usize,
    ) -> Result<ConnectionSlots<MysqlConnector>, DbError> {
        let connector = MysqlConnector::new(self)?;
        let max = self.max_connections.unwrap_or_else(|| {
            // vCPUs are counted only where they matter: counting reads cgroup files.
            let vcpus = match concurrency {
                0 | 1 => 1,
                _ => std::thread::available_parallelism().map_or(1, |n| n.get()),
            };
            default_max_connections(concurrency, vcpus)
        });
        Ok(ConnectionSlots::new(connector, max, self.ping_after_idle))
    }

    /// As [`from_env`](Self::from_env), with `var` for the environment (for tests).
    ///
    /// ```
    /// use shared::mysql::DbConfig;
    ///
    /// let config = |url: &str, max: &str| {
    ///     let (url, max) = (url.to_string(), max.to_string());
    ///     DbConfig::from_lookup(move |name| match name {
    ///         "DATABASE_URL" => Some(url.clone()),
    ///         "DB_MAX_CONNECTIONS" => Some(max.clone()),
    ///         _ => None,
    ///     })
    /// };
    /// assert!(config("mysql://app@db:3306/app?require_ssl=true", "4").is_ok());
    /// assert!(config("mysql://app@db:3306/app?require_ssl=true", "1601").is_err());
    /// ```
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
        let flag = |name: &str| match var(name).as_deref() {
            None | Some("") | Some("false") => Ok(false),
            Some("true") => Ok(true),
            Some(other) => Err(DbError::Config(format!(
                "{name} must be true or false (got {other:?})"
            ))),
        };
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
            ping_timeout: millis("DB_PING_TIMEOUT_MS", DEFAULT_PING_TIMEOUT_MS)?,
            ping_after_idle: millis("DB_PING_AFTER_IDLE_MS", DEFAULT_PING_AFTER_IDLE_MS)?,
            iam_auth: flag("DATABASE_IAM_AUTH")?,
            allow_plaintext: flag("DATABASE_ALLOW_PLAINTEXT")?,
            region: var("AWS_REGION").filter(|r| !r.is_empty()),
            cert_file: var(CERT_FILE_VAR).filter(|f| !f.is_empty()),
            credentials_endpoint: var(FULL_URI_VAR).filter(|u| !u.is_empty()),
            max_connections: match var("DB_MAX_CONNECTIONS") {
                None => None,
                Some(v) => match v.parse::<usize>() {
                    Ok(n @ 1..=MAX_CONNECTIONS) => Some(n),
                    _ => {
                        return Err(DbError::Config(format!(
                            "DB_MAX_CONNECTIONS must be an integer from 1 to {MAX_CONNECTIONS} \
                             (got {v:?})"
                        )))
                    }
                },
            },
        })
    }
}

/// Opens connections to MySQL/MariaDB. Cheap to clone.
#[derive(Clone)]
pub struct MysqlConnector {
    opts: Opts,
    /// Set: each connection logs in with a fresh IAM token instead of a password, signed
    /// with the function's credentials.
    iam: Option<(IamAuth, Arc<CachedCredentials>)>,
    table: Arc<str>,
    connect_timeout: Duration,
    query_timeout: Duration,
    ping_timeout: Duration,
}

impl MysqlConnector {
    /// Checks the configuration once, at init: a URL that does not parse, asks for no TLS
    /// (without `DATABASE_ALLOW_PLAINTEXT=true`), turns off the certificate or host name
    /// check or names a Unix socket, a CA file that cannot be read or holds no usable
    /// certificate, or IAM authentication without what it needs is a [`DbError::Config`],
    /// which fails the init; nothing connects here.
    pub fn new(config: &DbConfig) -> Result<Self, DbError> {
        // UrlError names the bad parameter, never the password.
        let opts = Opts::from_url(&config.url)
            .map_err(|e| DbError::Config(format!("DATABASE_URL: {e}")))?;
        let builder = OptsBuilder::from_opts(opts)
            // A Lambda never shares a host with its database: skip mysql_async's probe for
            // a local Unix socket (a query and a second connect when the host is loopback).
            .prefer_socket(false)
            .max_allowed_packet(Some(MAX_ALLOWED_PACKET))
            .wait_timeout(Some(WAIT_TIMEOUT_S));
        let opts: Opts = builder.into();
        check_transport(&opts, config.allow_plaintext)?;
        let opts = match (&config.ca_file, opts.ssl_opts().cloned()) {
            (Some(ca), Some(ssl)) => {
                // Read once, here; only this CA is trusted, not the web's roots too.
                let ssl = ssl
                    .with_root_certs(vec![load_ca(ca)?.into()])
                    .with_disable_built_in_roots(true);
                OptsBuilder::from_opts(opts).ssl_opts(ssl).into()
            }
            (Some(_), None) => {
                return Err(DbError::Config(
                    "DATABASE_CA_FILE is set but DATABASE_URL does not ask for TLS \
                     (add ?require_ssl=true)"
                        .into(),
                ))
            }
            (None, _) => opts,
        };
        let iam = match config.iam_auth {
            true => Some((iam_auth(&opts, config)?, signing_credentials(config)?)),
            false => None,
        };
        Ok(Self {
            opts,
            iam,
            table: config.table.as_str().into(),
            connect_timeout: config.connect_timeout,
            query_timeout: config.query_timeout,
            ping_timeout: config.ping_timeout,
        })
    }
}

/// TLS required and verified: what a man in the middle would otherwise read (the password
/// or a 15-minute IAM token, then the data). A URL without TLS is allowed only with
/// `DATABASE_ALLOW_PLAINTEXT=true`; turning off the certificate or host name check, or
/// connecting through a Unix socket (no TLS there either), never is.
fn check_transport(opts: &Opts, allow_plaintext: bool) -> Result<(), DbError> {
    let refused = |why: &str| Err(DbError::Config(format!("DATABASE_URL: {why}")));
    if opts.socket().is_some() {
        return refused("a Unix socket is not allowed (no TLS; a Lambda has no local database)");
    }
    match opts.ssl_opts() {
        None if allow_plaintext => Ok(()),
        None => refused(
            "TLS is required: add ?require_ssl=true (DATABASE_ALLOW_PLAINTEXT=true allows \
             plain TCP, for a local database only)",
        ),
        Some(ssl) if ssl.accept_invalid_certs() => {
            refused("verify_ca=false is not allowed: the server's certificate must be verified")
        }
        Some(ssl) if ssl.skip_domain_validation() => refused(
            "verify_identity=false is not allowed: the server's name must match its certificate",
        ),
        Some(_) => Ok(()),
    }
}

/// What the IAM tokens are for, once the URL is checked: a user and no password, TLS
/// (the token is sent as a cleartext password), a region to sign in.
fn iam_auth(opts: &Opts, config: &DbConfig) -> Result<IamAuth, DbError> {
    let bad = |why: &str| Err(DbError::Config(format!("DATABASE_IAM_AUTH=true: {why}")));
    if opts.pass().is_some() {
        return bad("DATABASE_URL must not hold a password (each connection gets a token)");
    }
    if opts.ssl_opts().is_none() {
        return bad(
            "the token is sent in clear: DATABASE_URL must ask for TLS (?require_ssl=true)",
        );
    }
    let Some(user) = opts.user().filter(|u| !u.is_empty()) else {
        return bad("DATABASE_URL must name the database user");
    };
    let Some(region) = config.region.clone() else {
        return bad("AWS_REGION is not set (it signs the token)");
    };
    Ok(IamAuth {
        host: opts.ip_or_hostname().to_string(),
        port: opts.tcp_port(),
        user: user.to_string(),
        region,
    })
}

/// The function's credentials, for its IAM tokens: fetched from the container endpoint,
/// where there is one, through the SDK's HTTPS client (which trusts `SSL_CERT_FILE` too,
/// checked here, at init).
fn signing_credentials(config: &DbConfig) -> Result<Arc<CachedCredentials>, DbError> {
    let https = https_client(config.cert_file.as_deref())
        .map_err(|err| DbError::Config(err.to_string()))?;
    let credentials = function_credentials(&https, config.credentials_endpoint.as_deref())
        .map_err(|err| DbError::Config(err.to_string()))?;
    Ok(Arc::new(CachedCredentials::new(credentials)))
}

/// The CA bundle's bytes, once every certificate in it parsed as a trust anchor.
fn load_ca(path: &Path) -> Result<Vec<u8>, DbError> {
    let bad = |why: String| DbError::Config(format!("DATABASE_CA_FILE {}: {why}", path.display()));
    let pem = std::fs::read(path).map_err(|e| bad(e.to_string()))?;
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(&pem) {
        let cert = cert.map_err(|e| bad(format!("not a PEM certificate bundle: {e}")))?;
        roots
            .add(cert)
            .map_err(|e| bad(format!("not a usable CA certificate: {e}")))?;
    }
    if roots.is_empty() {
        return Err(bad("holds no PEM certificate".into()));
    }
    Ok(pem)
}

impl Connector for MysqlConnector {
    type Conn = MysqlConnection;

    async fn connect(&self, deadline: Deadline) -> Result<MysqlConnection, DbError> {
        let opts = match &self.iam {
            None => self.opts.clone(),
            Some((iam, credentials)) => {
                // Bounded as a connect is: a fetch from the endpoint retries, for seconds.
                let credentials = deadline
                    .run(self.connect_timeout, credentials.get())
                    .await
                    .map_err(|elapsed| {
                        stopped(elapsed, |ms| {
                            DbError::Auth(format!("no AWS credentials within {ms} ms"))
                        })
                    })?
                    .map_err(|err| {
                        DbError::Auth(format!("no AWS credentials to sign the token: {err}"))
                    })?;
                let token = iam.token(&credentials, SystemTime::now())?;
                OptsBuilder::from_opts(self.opts.clone())
                    .pass(Some(token.expose_secret()))
                    .enable_cleartext_plugin(true)
                    .into()
            }
        };
        let conn = deadline
            .run(self.connect_timeout, Conn::new(opts))
            .await
            .map_err(|elapsed| {
                stopped(elapsed, |timeout_ms| DbError::ConnectTimeout { timeout_ms })
            })?
            .map_err(connect_error)?;
        OPENED.fetch_add(1, Ordering::Relaxed);
        Ok(MysqlConnection {
            conn: Some(conn),
            table: self.table.clone(),
            query_timeout: self.query_timeout,
            ping_timeout: self.ping_timeout,
        })
    }
}

/// The error for a call that `elapsed` stopped: the invocation's deadline, or the call's
/// own timeout (`on_timeout` gets it in milliseconds).
fn stopped(elapsed: Elapsed, on_timeout: impl FnOnce(u64) -> DbError) -> DbError {
    match elapsed {
        Elapsed::Deadline => DbError::DeadlineExceeded,
        Elapsed::Timeout(t) => on_timeout(millis(t)),
    }
}

/// One open connection. Dropped, it closes within `DISCARD_LIMIT` (see `Drop`).
pub struct MysqlConnection {
    /// `None` only once closed.
    conn: Option<Conn>,
    table: Arc<str>,
    query_timeout: Duration,
    ping_timeout: Duration,
}

impl MysqlConnection {
    /// The server's id for this connection (what `KILL` and the processlist show).
    pub fn server_id(&self) -> Option<u32> {
        self.conn.as_ref().map(Conn::id)
    }

    fn conn(&mut self) -> Result<&mut Conn, DbError> {
        self.conn
            .as_mut()
            .ok_or_else(|| DbError::ConnectionLost("the connection is closed".into()))
    }
}

impl NameLookup for MysqlConnection {
    async fn find_name(&mut self, id: u64, deadline: Deadline) -> Result<Option<String>, DbError> {
        // `id` is a u64: formatting it into the SQL cannot inject anything.
        let sql = format!("SELECT name FROM `{}` WHERE id = {id}", self.table);
        let timeout = self.query_timeout;
        // `Row` is read as it comes (its `FromRow` cannot fail); typed conversions panic
        // on data they do not expect, and a panic aborts the container.
        let row = deadline
            .run(timeout, self.conn()?.query_first::<Row, _>(sql))
            .await
            .map_err(|elapsed| stopped(elapsed, |timeout_ms| DbError::QueryTimeout { timeout_ms }))?
            .map_err(query_error)?;
        row.map(|row| name_from_row(id, row)).transpose()
    }

    async fn ping(&mut self, deadline: Deadline) -> Result<(), DbError> {
        deadline
            .run(self.ping_timeout, self.conn()?.ping())
            .await
            .map_err(|elapsed| {
                stopped(elapsed, |ms| {
                    DbError::ConnectionLost(format!("no answer to a ping within {ms} ms"))
                })
            })?
            .map_err(query_error)
    }

    async fn close(mut self) -> Result<(), DbError> {
        let Some(conn) = self.conn.take() else {
            return Ok(());
        };
        tokio::time::timeout(self.query_timeout, conn.disconnect())
            .await
            .map_err(|_| DbError::QueryTimeout {
                timeout_ms: millis(self.query_timeout),
            })?
            .map_err(query_error)
    }
}

impl Drop for MysqlConnection {
    /// Dropping a `Conn` spawns mysql_async's clean-up, which first reads the rest of any
    /// pending result with no time limit: after a query timeout on a silent socket it holds
    /// the connection for ever, while the next invocation opens another. Instead, say
    /// goodbye for at most `DISCARD_LIMIT`. `disconnect` marks the `Conn` closed before it
    /// writes, so when the limit cuts it short the socket is just closed.
    fn drop(&mut self) {
        if let Some(conn) = self.conn.take() {
            if let Ok(runtime) = tokio::runtime::Handle::try_current() {
                runtime.spawn(tokio::time::timeout(DISCARD_LIMIT, conn.disconnect()));
            }
        }
    }
}

/// The name in the row's first column, if it is text.
fn name_from_row(id: u64, mut row: Row) -> Result<String, DbError> {
    let Some(column) = row.columns_ref().first() else {
        return Err(DbError::Query("the query returned no column".into()));
    };
    let (column_type, binary) = (
        column.column_type(),
        column.character_set() == BINARY_CHARSET,
    );
    let bad = |problem| DbError::BadName { id, problem };
    // `Value` to `Value` cannot fail; `take_opt` does not panic if it did.
    match row.take_opt::<Value, _>(0) {
        Some(Ok(Value::NULL)) => Err(bad(BadName::Null)),
        Some(Ok(Value::Bytes(bytes))) if is_text(column_type, binary) => {
            let len = bytes.len();
            String::from_utf8(bytes).map_err(|_| bad(BadName::NotUtf8 { len }))
        }
        Some(Ok(_)) => Err(bad(BadName::NotText {
            column_type: type_name(column_type, binary),
        })),
        None | Some(Err(_)) => Err(DbError::Query("the query returned no value".into())),
    }
}

/// Character strings, and BINARY/VARBINARY (accepted when they hold UTF-8); not BLOBs,
/// numbers, dates, JSON or geometry.
fn is_text(column_type: ColumnType, binary: bool) -> bool {
    use ColumnType::*;
    match column_type {
        MYSQL_TYPE_VARCHAR
        | MYSQL_TYPE_VAR_STRING
        | MYSQL_TYPE_STRING
        | MYSQL_TYPE_ENUM
        | MYSQL_TYPE_SET => true,
        MYSQL_TYPE_TINY_BLOB | MYSQL_TYPE_MEDIUM_BLOB | MYSQL_TYPE_LONG_BLOB | MYSQL_TYPE_BLOB => {
            !binary // TEXT types are sent as BLOBs with a character set
        }
        _ => false,
    }
}

fn type_name(column_type: ColumnType, binary: bool) -> String {
    use ColumnType::*;
    match column_type {
        MYSQL_TYPE_TINY_BLOB | MYSQL_TYPE_MEDIUM_BLOB | MYSQL_TYPE_LONG_BLOB | MYSQL_TYPE_BLOB
            if binary =>
        {
            "BLOB".into()
        }
        other => {
            let name = format!("{other:?}");
            name.trim_start_matches("MYSQL_TYPE_").to_string()
        }
    }
}

/// ER_CON_COUNT_ERROR and ER_TOO_MANY_USER_CONNECTIONS.
fn is_too_many_connections(err: &mysql_async::Error) -> bool {
    matches!(err, mysql_async::Error::Server(e) if e.code == 1040 || e.code == 1203)
}

fn connect_error(err: mysql_async::Error) -> DbError {
    match &err {
        _ if is_too_many_connections(&err) => DbError::TooManyConnections(err.to_string()),
        // Access denied (1045): a wrong password, or an IAM token that is stale, forged
        // or for a user the role may not connect as. Not retryable as it is.
        mysql_async::Error::Server(e) if e.code == 1045 => DbError::Auth(err.to_string()),
        _ => DbError::Connect(err.to_string()),
    }
}

/// Server errors after which the server closes the session: shutdown (1053), killed
/// (MariaDB 1927, MySQL 3169) and the idle timeout (MySQL 8.0.24+: 4031). A lost socket
/// is not a server error at all: the driver returns it as `Io` or `Driver` errors.
const SESSION_ENDING_CODES: [u16; 4] = [1053, 1927, 3169, 4031];

fn query_error(err: mysql_async::Error) -> DbError {
    match &err {
        mysql_async::Error::Server(e) if !SESSION_ENDING_CODES.contains(&e.code) => {
            DbError::Query(err.to_string())
        }
        // I/O, driver ("connection closed", a packet out of order) and the codes above:
        // the connection is dead or in a state nobody can trust.
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
        assert_eq!(c.connect_timeout, Duration::from_secs(2));
        assert_eq!(c.query_timeout, Duration::from_secs(2));
        assert_eq!(c.ping_timeout, Duration::from_millis(500));
        assert_eq!(c.ping_after_idle, Duration::from_secs(30));
        assert!(c.ca_file.is_none());
        assert_eq!(c.max_connections, None);
        // The worst invocation (ping, connect, query) fits the template's `Timeout: 10`.
        assert!(c.ping_timeout + c.connect_timeout + c.query_timeout < Duration::from_secs(10));
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
    fn connection_slots_are_db_max_connections_else_the_default() {
        let url = ("DATABASE_URL", "mysql://h/db?require_ssl=true");
        let slots = |vars: &[(&str, &str)], concurrency| {
            config(vars).unwrap().connection_slots(concurrency).unwrap()
        };
        assert_eq!(slots(&[url], 1).max(), 1, "classic Lambda: one");
        let vcpus = std::thread::available_parallelism().map_or(1, |n| n.get());
        assert_eq!(slots(&[url], 1600).max(), CONNECTIONS_PER_VCPU * vcpus);
        assert_eq!(slots(&[url, ("DB_MAX_CONNECTIONS", "3")], 8).max(), 3);
        assert_eq!(slots(&[url], 8).open(), 0, "no connection is made in init");
        let tls = ("DATABASE_URL", "mysql://h/db?require_ssl=true");
        let no_ca = config(&[tls, ("DATABASE_CA_FILE", "/nonexistent/ca.pem")]).unwrap();
        let err = no_ca.connection_slots(8).err().map(|e| e.to_string());
        assert!(
            err.is_some_and(|e| e.contains("ca.pem")),
            "the CA file is read in init"
        );
    }

    #[test]
    fn the_default_cap_is_a_few_per_vcpu_and_never_above_the_concurrency() {
        assert_eq!(default_max_connections(1, 64), 1);
        assert_eq!(default_max_connections(0, 2), 1);
        assert_eq!(default_max_connections(8, 1), CONNECTIONS_PER_VCPU.min(8));
        assert_eq!(default_max_connections(1600, 2), 2 * CONNECTIONS_PER_VCPU);
        assert_eq!(default_max_connections(3, 16), 3);
        assert_eq!(default_max_connections(usize::MAX, 0), CONNECTIONS_PER_VCPU);
    }

    #[test]
    fn max_connections_is_bounded() {
        let url = ("DATABASE_URL", "mysql://h/db?require_ssl=true");
        let max = MAX_CONNECTIONS.to_string();
        assert_eq!(
            config(&[url, ("DB_MAX_CONNECTIONS", &max)])
                .unwrap()
                .max_connections,
            Some(MAX_CONNECTIONS)
        );
        // Each would have allocated every slot at init, or tripped tokio's semaphore limit.
        for huge in [
            "1601",
            "1000000000",
            "18446744073709551615",
            "18446744073709551616",
        ] {
            let err = config(&[url, ("DB_MAX_CONNECTIONS", huge)]).err().unwrap();
            assert!(matches!(err, DbError::Config(_)), "{huge}: {err:?}");
            assert!(err.to_string().contains("from 1 to 1600"), "{err}");
        }
    }

    #[test]
    fn max_connections_is_a_positive_integer() {
        let c = config(&[
            ("DATABASE_URL", "mysql://h/db"),
            ("DB_MAX_CONNECTIONS", "4"),
        ]);
        assert_eq!(c.unwrap().max_connections, Some(4));
        for bad in ["0", "-1", "many", "2.5"] {
            let err = config(&[
                ("DATABASE_URL", "mysql://h/db"),
                ("DB_MAX_CONNECTIONS", bad),
            ])
            .err()
            .unwrap();
            assert!(err.to_string().contains("DB_MAX_CONNECTIONS"), "{err}");
        }
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
    fn iam_auth_needs_tls_a_user_a_region_and_no_password() {
        let iam = |url: &str, region: Option<&str>, plaintext: &str| {
            let mut vars = vec![
                ("DATABASE_URL", url),
                ("DATABASE_IAM_AUTH", "true"),
                ("DATABASE_ALLOW_PLAINTEXT", plaintext),
            ];
            vars.extend(region.map(|r| ("AWS_REGION", r)));
            MysqlConnector::new(&config(&vars).unwrap()).map(|c| c.iam.map(|(iam, _)| iam))
        };
        let tls = "mysql://app@proxy.internal:3307/db?require_ssl=true";
        assert_eq!(
            iam(tls, Some("eu-west-1"), "false").unwrap(),
            Some(IamAuth {
                host: "proxy.internal".into(),
                port: 3307,
                user: "app".into(),
                region: "eu-west-1".into(),
            })
        );
        for (url, region, plaintext, why) in [
            (
                "mysql://app:s3cret@h/db?require_ssl=true",
                Some("r"),
                "false",
                "password",
            ),
            ("mysql://app@h/db", Some("r"), "false", "TLS"),
            // Even where plain TCP is allowed, the token is never sent in clear.
            ("mysql://app@h/db", Some("r"), "true", "TLS"),
            ("mysql://h/db?require_ssl=true", Some("r"), "false", "user"),
            (tls, None, "false", "AWS_REGION"),
        ] {
            let err = iam(url, region, plaintext).unwrap_err();
            assert!(matches!(err, DbError::Config(_)), "{url}: {err:?}");
            assert!(err.to_string().contains(why), "{url}: {err}");
            assert!(!err.to_string().contains("s3cret"), "{err}");
        }
        let off = config(&[("DATABASE_URL", "mysql://u:p@h/db?require_ssl=true")]).unwrap();
        assert!(MysqlConnector::new(&off).unwrap().iam.is_none());
        let bad = config(&[
            ("DATABASE_URL", "mysql://h/db"),
            ("DATABASE_IAM_AUTH", "yes"),
        ]);
        assert!(matches!(bad, Err(DbError::Config(_))));
    }

    #[test]
    fn a_credentials_endpoint_that_is_not_a_url_fails_the_config_not_the_process() {
        let iam = |endpoint: &str| {
            MysqlConnector::new(
                &config(&[
                    ("DATABASE_URL", "mysql://app@h/db?require_ssl=true"),
                    ("DATABASE_IAM_AUTH", "true"),
                    ("AWS_REGION", "eu-west-1"),
                    (FULL_URI_VAR, endpoint),
                ])
                .unwrap(),
            )
        };
        assert!(iam("http://127.0.0.1:9000/creds").is_ok());
        let err = iam("127.0.0.1:9000").err().unwrap();
        assert!(matches!(err, DbError::Config(_)), "{err:?}");
        assert!(err.to_string().contains(FULL_URI_VAR), "{err}");
    }

    #[test]
    fn tls_is_required_unless_plain_tcp_is_allowed_for_a_local_database() {
        let connector = |url: &str, plaintext: Option<&str>| {
            let mut vars = vec![("DATABASE_URL", url)];
            vars.extend(plaintext.map(|p| ("DATABASE_ALLOW_PLAINTEXT", p)));
            config(&vars).and_then(|c| MysqlConnector::new(&c))
        };
        let plain = "mysql://u:s3cret@db.internal/app";
        for plaintext in [None, Some(""), Some("false")] {
            let err = connector(plain, plaintext).err().unwrap();
            assert!(matches!(err, DbError::Config(_)), "{err:?}");
            assert!(err.to_string().contains("require_ssl=true"), "{err}");
            assert!(!err.to_string().contains("s3cret"), "{err}");
        }
        assert!(connector(plain, Some("true"))
            .unwrap()
            .opts
            .ssl_opts()
            .is_none());
        let bad = connector(plain, Some("yes")).err().unwrap();
        assert!(
            bad.to_string().contains("DATABASE_ALLOW_PLAINTEXT"),
            "{bad}"
        );
        let ssl = connector("mysql://u:p@db.internal/app?require_ssl=true", None).unwrap();
        let ssl = ssl.opts.ssl_opts().unwrap();
        assert!(!ssl.accept_invalid_certs() && !ssl.skip_domain_validation());
    }

    /// Each URL form that would let a man in the middle read the password or the IAM token
    /// is refused, in every mode, before anything connects.
    #[test]
    fn turning_off_verification_is_refused_in_every_mode() {
        for (query, why) in [
            ("require_ssl=true&verify_ca=false", "verify_ca=false"),
            ("verify_ca=false&require_ssl=true", "verify_ca=false"),
            (
                "require_ssl=true&verify_identity=false",
                "verify_identity=false",
            ),
            (
                "require_ssl=true&verify_ca=false&verify_identity=false",
                "verify_ca=false",
            ),
            ("require_ssl=true&socket=/tmp/mysql.sock", "Unix socket"),
            ("socket=/tmp/mysql.sock", "Unix socket"),
        ] {
            for (iam, plaintext) in [("false", "false"), ("false", "true"), ("true", "true")] {
                let url = match iam {
                    "true" => format!("mysql://app@proxy.internal/db?{query}"),
                    _ => format!("mysql://app:s3cret@proxy.internal/db?{query}"),
                };
                let vars = [
                    ("DATABASE_URL", url.as_str()),
                    ("DATABASE_IAM_AUTH", iam),
                    ("DATABASE_ALLOW_PLAINTEXT", plaintext),
                    ("AWS_REGION", "eu-west-1"),
                ];
                let err = config(&vars).and_then(|c| c.connection_slots(1)).err();
                let err = err.unwrap_or_else(|| panic!("{url} accepted"));
                let kind = crate::ErrorKind::kind(&crate::enrich::EnrichError::Database(err));
                assert_eq!(kind, "DatabaseConfig", "{url}");
                let err = config(&vars)
                    .and_then(|c| MysqlConnector::new(&c))
                    .err()
                    .unwrap();
                assert!(err.to_string().contains(why), "{url}: {err}");
                assert!(!err.to_string().contains("s3cret"), "{err}");
            }
        }
    }

    /// A CA bundle written to a temporary file.
    fn ca_file(name: &str, contents: &[u8]) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("shared-mysql-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(name);
        std::fs::write(&path, contents).unwrap();
        path
    }

    const TEST_CA: &str = include_str!("../tests/data/test-ca.pem");

    fn connector_with_ca(url: &str, ca: &Path) -> Result<MysqlConnector, DbError> {
        let c = config(&[
            ("DATABASE_URL", url),
            ("DATABASE_CA_FILE", ca.to_str().unwrap()),
        ])?;
        MysqlConnector::new(&c)
    }

    #[tokio::test]
    async fn ca_file_needs_tls_in_the_url() {
        let ca = ca_file("ok.pem", TEST_CA.as_bytes());
        let err = connector_with_ca("mysql://u:p@h/db", &ca).err().unwrap();
        assert!(err.to_string().contains("require_ssl"), "{err}");
        let connector = connector_with_ca("mysql://u:p@h/db?require_ssl=true", &ca).unwrap();
        std::fs::remove_file(&ca).unwrap();
        let ssl = connector.opts.ssl_opts().unwrap();
        // Only the database's CA is trusted, and it was read once, at init: the file is
        // gone, its contents are still there.
        assert!(ssl.disable_built_in_roots());
        assert_eq!(ssl.root_certs().len(), 1);
        let pem = ssl.root_certs()[0].read().await.unwrap();
        assert_eq!(&*pem, TEST_CA.as_bytes());
    }

    #[test]
    fn a_missing_or_unparsable_ca_file_is_a_config_error_at_init() {
        let tls = "mysql://u:p@h/db?require_ssl=true";
        let garbage_der = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
        let cases = [
            ("missing", PathBuf::from("/nonexistent/ca.pem")),
            ("empty", ca_file("empty.pem", b"")),
            ("text", ca_file("text.pem", b"not a certificate")),
            (
                "bad base64",
                ca_file(
                    "b64.pem",
                    b"-----BEGIN CERTIFICATE-----\n!!\n-----END CERTIFICATE-----\n",
                ),
            ),
            ("bad DER", ca_file("der.pem", garbage_der.as_bytes())),
        ];
        for (what, path) in cases {
            let err = connector_with_ca(tls, &path)
                .err()
                .unwrap_or_else(|| panic!("{what}"));
            assert!(matches!(err, DbError::Config(_)), "{what}: {err:?}");
            assert!(
                err.to_string().contains("DATABASE_CA_FILE"),
                "{what}: {err}"
            );
            let kind = crate::ErrorKind::kind(&crate::enrich::EnrichError::Database(err));
            assert_eq!(kind, "DatabaseConfig", "{what}");
        }
    }

    #[test]
    fn connect_sends_nothing_but_the_handshake_and_the_table_is_configured() {
        let c = config(&[
            ("DATABASE_URL", "mysql://h/db?require_ssl=true"),
            ("PEOPLE_TABLE", "staff"),
        ])
        .unwrap();
        let connector = MysqlConnector::new(&c).unwrap();
        assert_eq!(&*connector.table, "staff");
        assert!(!connector.opts.prefer_socket());
        // Known values: connecting sends no settings query.
        assert_eq!(
            connector.opts.max_allowed_packet(),
            Some(MAX_ALLOWED_PACKET)
        );
        assert_eq!(connector.opts.wait_timeout(), Some(WAIT_TIMEOUT_S));
        assert!(connector.opts.init().is_empty() && connector.opts.setup().is_empty());
    }

    fn server_error(code: u16) -> mysql_async::Error {
        mysql_async::Error::Server(mysql_async::ServerError {
            code,
            message: "msg".into(),
            state: "HY000".into(),
        })
    }

    #[test]
    fn connect_errors_are_classified() {
        for code in [1040, 1203] {
            assert!(matches!(
                connect_error(server_error(code)),
                DbError::TooManyConnections(_)
            ));
        }
        // Access denied: a refused password or IAM token is its own error.
        assert!(matches!(
            connect_error(server_error(1045)),
            DbError::Auth(_)
        ));
        assert!(matches!(
            connect_error(server_error(1049)), // unknown database
            DbError::Connect(_)
        ));
    }

    #[test]
    fn server_errors_that_end_the_session_drop_the_connection() {
        // Shutdown, MariaDB's and MySQL's "killed", MySQL 8's idle timeout.
        for code in [1053, 1927, 3169, 4031] {
            let err = query_error(server_error(code));
            assert!(err.breaks_connection(), "{code}: {err:?}");
        }
    }

    #[test]
    fn server_errors_about_the_statement_keep_the_connection() {
        // No such table, KILL QUERY, lock wait timeout, syntax, and the client-side codes
        // (2006, 2013) that no server sends: if one came, the session still answered.
        for code in [1146, 1317, 1205, 1064, 2006, 2013] {
            let err = query_error(server_error(code));
            assert!(matches!(err, DbError::Query(_)), "{code}: {err:?}");
            assert!(!err.breaks_connection());
        }
    }

    #[test]
    fn io_and_driver_errors_drop_the_connection() {
        let io = mysql_async::Error::Io(mysql_async::IoError::Io(std::io::Error::from(
            std::io::ErrorKind::BrokenPipe,
        )));
        assert!(matches!(query_error(io), DbError::ConnectionLost(_)));
        let closed = mysql_async::Error::Driver(mysql_async::DriverError::ConnectionClosed);
        assert!(matches!(query_error(closed), DbError::ConnectionLost(_)));
        let order = mysql_async::Error::Driver(mysql_async::DriverError::PacketOutOfOrder);
        assert!(matches!(query_error(order), DbError::ConnectionLost(_)));
    }

    fn row(column_type: ColumnType, charset: u16, value: Value) -> Row {
        let column = mysql_async::Column::new(column_type)
            .with_name(b"name")
            .with_character_set(charset);
        mysql_common::row::new_row(vec![value], Arc::from(vec![column].into_boxed_slice()))
    }

    const UTF8MB4: u16 = 45;

    #[test]
    fn names_are_read_from_text_and_utf8_binary_columns() {
        use ColumnType::*;
        for (column_type, charset) in [
            (MYSQL_TYPE_VAR_STRING, UTF8MB4),
            (MYSQL_TYPE_STRING, UTF8MB4),
            (MYSQL_TYPE_BLOB, UTF8MB4),              // TEXT
            (MYSQL_TYPE_VAR_STRING, BINARY_CHARSET), // VARBINARY
        ] {
            let r = row(column_type, charset, Value::Bytes("Ada é".into()));
            assert_eq!(name_from_row(1, r).unwrap(), "Ada é", "{column_type:?}");
        }
    }

    #[test]
    fn bad_names_are_errors_not_panics() {
        use ColumnType::*;
        let problem = |r| match name_from_row(7, r) {
            Err(DbError::BadName { id: 7, problem }) => problem,
            other => panic!("{other:?}"),
        };
        assert_eq!(
            problem(row(MYSQL_TYPE_VAR_STRING, BINARY_CHARSET, Value::NULL)),
            BadName::Null
        );
        assert_eq!(
            problem(row(
                MYSQL_TYPE_VAR_STRING,
                BINARY_CHARSET,
                Value::Bytes(vec![0xFF, 0xFE, 0x41])
            )),
            BadName::NotUtf8 { len: 3 }
        );
        // The text protocol sends numbers as digits: the column type tells them apart.
        assert_eq!(
            problem(row(
                MYSQL_TYPE_LONG,
                BINARY_CHARSET,
                Value::Bytes(b"42".to_vec())
            )),
            BadName::NotText {
                column_type: "LONG".into()
            }
        );
        assert_eq!(
            problem(row(MYSQL_TYPE_LONGLONG, BINARY_CHARSET, Value::Int(42))),
            BadName::NotText {
                column_type: "LONGLONG".into()
            }
        );
        assert_eq!(
            problem(row(
                MYSQL_TYPE_BLOB,
                BINARY_CHARSET,
                Value::Bytes(b"Ada".to_vec())
            )),
            BadName::NotText {
                column_type: "BLOB".into()
            }
        );
    }

    use proptest::prelude::*;

    proptest! {
        /// Whatever a server sends in the name column, reading it is an answer or an
        /// error, never a panic; and only text that is UTF-8 is an answer.
        #[test]
        fn any_column_and_value_is_read_without_panicking(
            type_byte in prop::sample::select(vec![
                0x00u8, 0x01, 0x02, 0x03, 0x04, 0x05, 0x07, 0x08, 0x0a, 0x0b, 0x0c, 0x0f, 0x10,
                0xf5, 0xf6, 0xf7, 0xf8, 0xf9, 0xfa, 0xfb, 0xfc, 0xfd, 0xfe, 0xff,
            ]),
            charset in prop::sample::select(vec![UTF8MB4, BINARY_CHARSET, 8, 33]),
            value in prop_oneof![
                Just(Value::NULL),
                prop::collection::vec(any::<u8>(), 0..12).prop_map(Value::Bytes),
                ".{0,8}".prop_map(|s: String| Value::Bytes(s.into_bytes())),
                any::<i64>().prop_map(Value::Int),
                any::<u64>().prop_map(Value::UInt),
                any::<f64>().prop_map(Value::Double),
            ],
        ) {
            let Ok(column_type) = ColumnType::try_from(type_byte) else {
                return Ok(()); // not a type any server sends
            };
            let utf8 = matches!(&value, Value::Bytes(b) if std::str::from_utf8(b).is_ok());
            let text = is_text(column_type, charset == BINARY_CHARSET);
            match name_from_row(1, row(column_type, charset, value.clone())) {
                Ok(name) => {
                    prop_assert!(text && utf8);
                    prop_assert_eq!(Value::Bytes(name.into_bytes()), value);
                }
                Err(DbError::BadName { problem, .. }) => {
                    prop_assert!(!(text && utf8), "{problem}");
                    let expected_null = value == Value::NULL;
                    prop_assert_eq!(problem == BadName::Null, expected_null);
                }
                Err(other) => prop_assert!(false, "{other:?}"),
            }
        }
    }
}
