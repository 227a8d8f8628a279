//! MySQL and MariaDB: result rows decoded straight into Arrow, streamed batch by batch.
//!
//! Built on `mysql_async` (rustls with ring for TLS). Queries run as prepared statements
//! (binary protocol: integers, floats, dates and times arrive decoded, no per-cell text
//! parsing) through the connection's statement cache; a statement the server cannot
//! prepare (error 1295) falls back to the text protocol when it has no parameters.
//! Rows are read one packet at a time from the socket and pushed into Arrow buffers;
//! a batch goes to the [`Sink`] as soon as it is full, so the client never holds more
//! than one batch.
//!
//! Every connection sets `time_zone = '+00:00'` and `NAMES utf8mb4`, so TIMESTAMP values
//! arrive in UTC and text in UTF-8. Cancellation runs `KILL QUERY <connection id>` on a
//! side connection; a connection whose statement was cancelled (or abandoned mid-result)
//! is discarded rather than returned to the pool, so a late KILL can never hit the next
//! statement.

mod bulk;
pub mod decode;
pub mod introspect;
mod packet;
pub mod params;
pub mod scan;
mod tls;
pub mod tx;
pub mod wire;
pub mod write;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use mysql_async::prelude::{Protocol, Queryable};
use mysql_async::{Conn, DriverError, IoError, Opts, OptsBuilder, QueryResult, SslOpts};

use self::decode::{schema_for, DecodeOptions, RowDecoder};
use self::params::to_params;
use crate::cancel::CancelSlot;
use crate::error::{Error, ErrorKind, Result};
use crate::params::Lexicon;
use crate::pool::{Manager, Pool, PoolConfig, Pooled};
use crate::stream::Sink;
use crate::value::Params;

pub const LEXICON: Lexicon = Lexicon::MySql;

/// Statements every new connection runs: UTC timestamps, UTF-8 text.
/// Whether `host` names a Unix socket (an absolute path) rather than a host.
pub(crate) fn is_socket_path(host: &str) -> bool {
    cfg!(unix) && host.starts_with('/')
}

pub(crate) const SESSION_INIT: &str = "SET NAMES utf8mb4, time_zone = '+00:00'";

/// How to reach a MySQL/MariaDB server. `password` is never formatted anywhere.
#[derive(Clone)]
pub struct MySqlConfig {
    pub host: String,
    pub port: u16,
    pub database: Option<String>,
    pub user: Option<String>,
    pub password: Option<String>,
    /// `disabled`, `preferred` (TLS when the server offers it, unverified), `required`
    /// (TLS, unverified), `verify_ca` (chain checked), `verify_identity` (chain and host).
    /// libpq spellings (`disable`, `prefer`, `require`, `verify-ca`, `verify-full`) are
    /// accepted too.
    pub ssl_mode: String,
    /// PEM file of CA certificates for `verify_ca`/`verify_identity` (default: Mozilla roots).
    pub ssl_ca: Option<String>,
    /// Client certificate chain (PEM) and its private key, for servers that require
    /// X.509 client authentication. Both or neither.
    pub ssl_cert: Option<String>,
    pub ssl_key: Option<String>,
    pub connect_timeout: Duration,
    pub decode: DecodeOptions,
    /// Read-only mode, layer 1: `SET SESSION TRANSACTION READ ONLY` on every connection.
    pub read_only: bool,
    /// Connections a large single-table scan may be split across (1: never split); see
    /// [`scan`].
    pub scan_workers: usize,
    /// Tables the catalog estimates below this many rows are never split.
    pub scan_min_rows: u64,
    /// Session settings for every connection (one `SET SESSION` after the setup).
    pub settings: crate::settings::Settings,
    pub pool: PoolConfig,
}

impl Default for MySqlConfig {
    fn default() -> Self {
        MySqlConfig {
            host: "localhost".into(),
            port: 3306,
            database: None,
            user: None,
            password: None,
            ssl_mode: "preferred".into(),
            ssl_ca: None,
            ssl_cert: None,
            ssl_key: None,
            connect_timeout: Duration::from_secs(10),
            decode: DecodeOptions::default(),
            read_only: false,
            scan_workers: 1,
            scan_min_rows: scan::SCAN_MIN_ROWS,
            settings: Default::default(),
            pool: PoolConfig::default(),
        }
    }
}

impl std::fmt::Debug for MySqlConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MySqlConfig")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("database", &self.database)
            .field("user", &self.user)
            .field("password", &self.password.as_ref().map(|_| "***"))
            .field("ssl_mode", &self.ssl_mode)
            .finish()
    }
}

/// The TLS modes, normalized.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SslMode {
    Disabled,
    Preferred,
    Required,
    VerifyCa,
    VerifyIdentity,
}

impl SslMode {
    pub fn parse(s: &str) -> Result<SslMode> {
        let norm = s.trim().to_ascii_lowercase().replace('-', "_");
        Ok(match norm.as_str() {
            "disabled" | "disable" => SslMode::Disabled,
            "preferred" | "prefer" | "allow" | "" => SslMode::Preferred,
            "required" | "require" => SslMode::Required,
            "verify_ca" => SslMode::VerifyCa,
            "verify_identity" | "verify_full" => SslMode::VerifyIdentity,
            _ => {
                return Err(Error::config(format!(
                    "ssl_mode must be one of disabled, preferred, required, verify_ca, \
                     verify_identity; got {s:?}"
                )))
            }
        })
    }
}

/// Map a MySQL/MariaDB server error number to an error kind.
pub fn kind_for_code(code: u16) -> ErrorKind {
    match code {
        1062 | 1586 | 1557 => ErrorKind::UniqueViolation,
        1451 | 1452 | 1216 | 1217 => ErrorKind::ForeignKeyViolation,
        1048 | 1364 => ErrorKind::NotNullViolation,
        3819 | 4025 => ErrorKind::CheckViolation,
        1045 | 1044 | 1698 | 1251 => ErrorKind::Authentication,
        1064 | 1149 => ErrorKind::Syntax,
        1146 | 1054 | 1049 | 1051 | 1305 | 1109 | 1356 => ErrorKind::UndefinedObject,
        // 1390: more than 65,535 placeholders in one prepared statement.
        1210 | 1390 | 1582 | 1583 => ErrorKind::Parameter,
        1317 => ErrorKind::Cancelled,
        3024 | 1969 => ErrorKind::Timeout,
        1290 | 1792 | 1836 => ErrorKind::ReadOnly,
        1264 | 1265 | 1292 | 1366 | 1406 | 1365 | 1690 | 1367 => ErrorKind::Data,
        1040 | 1053 | 1077 | 1079 | 1080 | 1152 | 1153 | 1154 | 1155 | 1156 | 1157 | 1158
        | 1159 | 1160 | 1161 | 1927 | 2002 | 2003 | 2006 | 2013 => ErrorKind::Connection,
        _ => ErrorKind::Query,
    }
}

/// Whether a server error number names a condition that may clear on retry.
pub fn code_is_transient(code: u16) -> bool {
    matches!(
        code,
        1205 // lock wait timeout
            | 1213 // deadlock
            | 1040 // too many connections
            | 1053 // server shutdown in progress
            | 1927 // connection killed
            | 2002 | 2003 | 2006 | 2013 // client-side: cannot connect / gone away / lost
    )
}

/// A sqlarrow error for a server error packet.
pub fn server_error(code: u16, message: &str, state: &str) -> Error {
    let kind = kind_for_code(code);
    // As PostgreSQL's and SQLite's limits do, say how to pass a long list.
    let hint = if code == 1390 {
        "; MySQL takes at most 65535 per statement: pass a long list as one parameter \
         (a list binds as JSON there), e.g. `id IN (SELECT v FROM JSON_TABLE(:ids, '$[*]' \
         COLUMNS (v BIGINT PATH '$')) AS j)`"
    } else {
        ""
    };
    let mut err = Error::new(kind, format!("{message}{hint} (MySQL error {code})"))
        .with_detail("errno", code.to_string());
    if !state.is_empty() && state != "HY000" {
        err = err.with_sqlstate(state);
    }
    if code_is_transient(code) {
        err = err.transient(true);
    }
    err
}

/// Whether every parameter position holds values of one wire type in all of `sets`
/// (NULLs aside), as MariaDB's bulk execution needs: it sends each position's type
/// once, for every row. A text in one set and a number in the next, or a negative and
/// an unsigned integer, were sent under the first row's type and the server read the
/// bytes as something else: garbage values, and more rows than were given.
fn one_type_per_position(sets: &[mysql_async::Params]) -> bool {
    // Each variant is one wire type (Int and UInt differ in their unsigned flag).
    let kind = |v: &mysql_async::Value| {
        (!matches!(v, mysql_async::Value::NULL)).then(|| std::mem::discriminant(v))
    };
    let mut seen = Vec::new();
    for set in sets {
        let mysql_async::Params::Positional(values) = set else {
            return false;
        };
        if seen.is_empty() {
            seen = vec![None; values.len()];
        }
        for (slot, v) in seen.iter_mut().zip(values) {
            match (kind(v), *slot) {
                (None, _) => {}
                (Some(k), None) => *slot = Some(k),
                (Some(k), Some(s)) if k == s => {}
                _ => return false,
            }
        }
    }
    true
}

/// Map a `mysql_async` error (server fields kept, no secrets).
pub fn map_err(e: mysql_async::Error) -> Error {
    match e {
        mysql_async::Error::Server(se) => server_error(se.code, &se.message, &se.state),
        mysql_async::Error::Driver(d) => match d {
            DriverError::StmtParamsMismatch { required, supplied } => Error::parameter(format!(
                "the statement has {required} parameter marker(s) but {supplied} value(s) were given"
            )),
            DriverError::StmtParamsNumberExceedsLimit { .. }
            | DriverError::MixedParams
            | DriverError::Params(_)
            | DriverError::BulkExecute(_) => Error::parameter(d.to_string()),
            DriverError::UnknownAuthPlugin { .. }
            | DriverError::CleartextPluginDisabled
            | DriverError::MysqlOldPasswordDisabled => {
                Error::new(ErrorKind::Authentication, d.to_string())
            }
            DriverError::NoClientSslFlagFromServer => Error::connection(
                "the server does not support TLS; use ssl_mode='preferred' or 'disabled' \
                 to connect without it",
            )
            .transient(false),
            DriverError::ConnectionClosed
            | DriverError::PoolDisconnected
            | DriverError::PacketOutOfOrder
            | DriverError::UnexpectedPacket { .. }
            | DriverError::PacketTooLarge
            | DriverError::BadCompressedPacketHeader => Error::connection(d.to_string()),
            other => Error::interface(other.to_string()),
        },
        mysql_async::Error::Io(IoError::Tls(t)) => {
            Error::connection(format!("TLS error: {t}")).transient(false)
        }
        // The client's packet limit, not a network failure: retrying cannot help.
        mysql_async::Error::Io(IoError::Io(io)) if io.to_string().contains("max_allowed_packet") => {
            Error::data(format!(
                "{io}: a value or row is larger than the connection allows (raise the server's \
                 max_allowed_packet)"
            ))
            .transient(false)
        }
        mysql_async::Error::Io(IoError::Io(io)) => Error::connection(format!(
            "cannot reach the MySQL server: {io}"
        )),
        mysql_async::Error::Url(u) => Error::config(u.to_string()),
        mysql_async::Error::Other(o) => Error::interface(o.to_string()),
    }
}

/// Run `sql` on `conn`; returns the rows it affected, or for a statement that returns
/// rows the rows it returned (as PostgreSQL's command tag counts them). Without
/// parameters the text protocol is used (several statements separated by `;` allowed:
/// the counts are summed).
pub(crate) async fn execute_on(
    conn: &mut Conn,
    sql: &str,
    params: &Params,
    limit: &packet::PacketLimit,
) -> Result<u64> {
    async fn count<P: Protocol>(mut result: QueryResult<'_, 'static, P>) -> Result<u64> {
        let mut total = 0u64;
        for _ in 0..100_000 {
            let has_rows = result.columns().is_some_and(|c| !c.is_empty());
            if !has_rows {
                total += result.affected_rows();
            }
            if result.is_empty() {
                break;
            }
            let mut rows = 0u64;
            while result.next().await.map_err(map_err)?.is_some() {
                rows += 1;
            }
            if has_rows {
                total += rows;
            }
        }
        result.drop_result().await.map_err(map_err)?;
        Ok(total)
    }
    if params.is_empty() {
        limit.check(conn, packet::Part::Text, sql.len() + 1).await?;
        count(conn.query_iter(sql).await.map_err(map_err)?).await
    } else {
        let sql = trim_statement(sql);
        let args = to_params(params)?;
        check_command(conn, limit, sql, &args).await?;
        count(conn.exec_iter(sql, args).await.map_err(map_err)?).await
    }
}

/// Refuse a statement text or parameter set longer than the server's
/// max_allowed_packet (see [`packet`]) before mysql_async sends it.
async fn check_command(
    conn: &mut Conn,
    limit: &packet::PacketLimit,
    sql: &str,
    args: &mysql_async::Params,
) -> Result<()> {
    limit.check(conn, packet::Part::Text, sql.len() + 1).await?;
    if let mysql_async::Params::Positional(v) = args {
        limit
            .check(conn, packet::Part::Params(None), packet::execute_len(v))
            .await?;
    }
    Ok(())
}

/// Connection settings shared by the pool and the cancel side connections.
pub struct Settings {
    /// The same settings for the fast result reader ([`wire`]).
    wire: wire::WireConfig,
    tls: Opts,
    plain: Opts,
    /// `verify_ca`: the connection options before the TLS host name is set, and the
    /// probe that finds that name (see [`tls`]).
    verify_ca: Option<(OptsBuilder, SslOpts, tls::VerifyCa)>,
    mode: SslMode,
    /// `preferred` mode found the server without TLS: skip the TLS attempt.
    no_server_tls: AtomicBool,
    timeout: Duration,
    /// Whether the server is MariaDB, read from its greeting after a refused login (see
    /// [`Settings::open_inner`]).
    mariadb: OnceLock<bool>,
}

impl Settings {
    fn new(cfg: &MySqlConfig) -> Result<Self> {
        let mut mode = SslMode::parse(&cfg.ssl_mode)?;
        // A host that is a path is the server's Unix socket: a local connection, which
        // needs no TLS (and where a certificate's host name means nothing).
        let socket = is_socket_path(&cfg.host).then(|| cfg.host.clone());
        if socket.is_some() {
            mode = match mode {
                SslMode::Disabled | SslMode::Preferred => SslMode::Disabled,
                _ => {
                    return Err(Error::config(format!(
                        "ssl_mode={:?} asks for TLS, but host {:?} is a Unix socket (a local \
                         connection, without TLS): use ssl_mode=\"disabled\" or \
                         \"preferred\", or connect over TCP",
                        cfg.ssl_mode, cfg.host
                    )))
                }
            };
        }
        let user = cfg
            .user
            .clone()
            .or_else(|| std::env::var("USER").ok())
            .unwrap_or_else(|| "root".into());
        let mut wire = wire::WireConfig {
            host: cfg.host.clone(),
            port: cfg.port,
            user: user.clone(),
            password: cfg.password.clone(),
            database: cfg.database.clone(),
            mode,
            tls: None,
            read_only: cfg.read_only,
            settings: cfg.settings.mysql_statement(),
        };
        let base = OptsBuilder::default()
            .ip_or_hostname(if socket.is_some() {
                "localhost".to_string()
            } else {
                cfg.host.clone()
            })
            .tcp_port(cfg.port)
            .socket(socket)
            .user(Some(user))
            .pass(cfg.password.clone())
            .db_name(cfg.database.clone())
            .init({
                let mut init = vec![SESSION_INIT.to_string()];
                init.extend(cfg.settings.mysql_statement());
                if cfg.read_only {
                    init.push("SET SESSION TRANSACTION READ ONLY".into());
                }
                init
            })
            .tcp_nodelay(true)
            .tcp_keepalive(Some(Duration::from_secs(60)))
            // Stay on the host and port given. By default mysql_async, once connected to
            // a loopback address, reconnects through the Unix socket path the server
            // reports in @@socket: another server's socket when the port is forwarded
            // (Docker, SSH) to a server whose socket path also exists here.
            .prefer_socket(false)
            // The client's own packet limit (by default the server's max_allowed_packet)
            // refused result rows the server itself sends (a 40 MB LONGTEXT value when
            // max_allowed_packet is 16 MB), as a broken connection: accept up to the
            // protocol's 1 GiB, as the fast reader does.
            .max_allowed_packet(Some(1 << 30))
            .stmt_cache_size(64);
        let mut ssl = SslOpts::default();
        for (what, path) in [
            ("ssl_ca", &cfg.ssl_ca),
            ("ssl_cert", &cfg.ssl_cert),
            ("ssl_key", &cfg.ssl_key),
        ] {
            if let Some(p) = path {
                if !std::path::Path::new(p).is_file() {
                    return Err(Error::config(format!("{what}: no such file {p:?}")));
                }
            }
        }
        if let Some(ca) = &cfg.ssl_ca {
            ssl = ssl.with_root_certs(vec![std::path::PathBuf::from(ca).into()]);
        }
        match (&cfg.ssl_cert, &cfg.ssl_key) {
            (Some(cert), Some(key)) => {
                ssl = ssl.with_client_identity(Some(mysql_async::ClientIdentity::new(
                    std::path::PathBuf::from(cert).into(),
                    std::path::PathBuf::from(key).into(),
                )));
            }
            (None, None) => {}
            _ => return Err(Error::config("ssl_cert and ssl_key must be given together")),
        }
        // The fast reader's TLS (tls.rs), with the same roots, checks and identity.
        if mode != SslMode::Disabled {
            let identity = cfg.ssl_cert.as_deref().zip(cfg.ssl_key.as_deref());
            wire.tls = Some(tls::client_config(mode, cfg.ssl_ca.as_deref(), identity)?);
        }
        // verify_ca checks the full chain and a host name the certificate carries
        // (tls.rs); mysql_async's own skip of the name check does not work.
        let verify_ca = match (&wire.tls, mode) {
            (Some(config), SslMode::VerifyCa) => Some((
                base.clone(),
                ssl.clone(),
                tls::VerifyCa::new(config.clone()),
            )),
            _ => None,
        };
        ssl = match mode {
            SslMode::Disabled | SslMode::Preferred | SslMode::Required => ssl
                .with_danger_accept_invalid_certs(true)
                .with_danger_skip_domain_validation(true),
            SslMode::VerifyCa | SslMode::VerifyIdentity => ssl,
        };
        let plain: Opts = base.clone().ssl_opts(None::<SslOpts>).into();
        let tls: Opts = base.ssl_opts(Some(ssl)).into();
        Ok(Settings {
            wire,
            tls,
            plain,
            verify_ca,
            mode,
            no_server_tls: AtomicBool::new(false),
            mariadb: OnceLock::new(),
            timeout: cfg.connect_timeout,
        })
    }

    /// One login through mysql_async, tried a second time after "Access denied" from a
    /// MariaDB server when a password was given.
    ///
    /// mysql_async (through mysql_common's `AuthSwitchRequest::plugin_data`) drops the last
    /// byte of an auth switch's data when it is 0, as if it ended a 20-byte scramble.
    /// MariaDB's ed25519 nonce is 32 random bytes with no terminator, so one ed25519 login in
    /// 256 signs the wrong nonce and is refused. The server draws a new nonce for each
    /// login, so a second try makes that one in 65,536; a wrong password costs one more
    /// round trip. MySQL has no ed25519 and may lock an account after failed logins
    /// (`FAILED_LOGIN_ATTEMPTS`), so it gets no second try. The fast reader ([`wire`])
    /// reads the nonce whole and needs no retry.
    async fn open_inner(&self) -> Result<Conn> {
        match self.open_once().await {
            Err(e)
                if self.wire.password.is_some()
                    && e.detail("errno") == Some("1045")
                    && self.is_mariadb().await =>
            {
                self.open_once().await
            }
            r => r,
        }
    }

    /// Whether the server is MariaDB, from its greeting (read once; `false` when the
    /// server cannot be reached).
    async fn is_mariadb(&self) -> bool {
        if let Some(v) = self.mariadb.get() {
            return *v;
        }
        match wire::WireConn::server_is_mariadb(&self.wire.host, self.wire.port).await {
            Ok(v) => *self.mariadb.get_or_init(|| v),
            Err(_) => false,
        }
    }

    async fn open_once(&self) -> Result<Conn> {
        if let Some(v) = &self.verify_ca {
            return self.open_verify_ca(v).await;
        }
        let r = match self.mode {
            SslMode::Disabled => Conn::new(self.plain.clone()).await,
            SslMode::Preferred if self.no_server_tls.load(Ordering::Relaxed) => {
                Conn::new(self.plain.clone()).await
            }
            SslMode::Preferred => match Conn::new(self.tls.clone()).await {
                Err(mysql_async::Error::Driver(DriverError::NoClientSslFlagFromServer)) => {
                    self.no_server_tls.store(true, Ordering::Relaxed);
                    Conn::new(self.plain.clone()).await
                }
                r => r,
            },
            _ => Conn::new(self.tls.clone()).await,
        };
        r.map_err(map_err)
    }

    /// A `verify_ca` connection: mysql_async checks the chain and the host name the
    /// probe found in the server's certificate (see [`tls`]).
    async fn open_verify_ca(
        &self,
        (base, ssl, probe): &(OptsBuilder, SslOpts, tls::VerifyCa),
    ) -> Result<Conn> {
        let opts = |name: String| -> Opts {
            let ssl = ssl.clone().with_danger_tls_hostname_override(Some(name));
            base.clone().ssl_opts(Some(ssl)).into()
        };
        let (name, known) = probe.host_name(&self.wire.host, self.wire.port).await?;
        match Conn::new(opts(name)).await {
            Err(mysql_async::Error::Io(IoError::Tls(_))) if known => {
                // The server may have a new certificate with other names: look again.
                probe.forget();
                let (name, _) = probe.host_name(&self.wire.host, self.wire.port).await?;
                Conn::new(opts(name)).await.map_err(map_err)
            }
            r => r.map_err(map_err),
        }
    }

    /// Open one connection within the connect timeout.
    pub async fn open(&self) -> Result<Conn> {
        match tokio::time::timeout(self.timeout, self.open_inner()).await {
            Ok(r) => r,
            Err(_) => Err(Error::connection(format!(
                "timed out after {:.1}s connecting to the server (connect_timeout)",
                self.timeout.as_secs_f64()
            ))),
        }
    }

    /// Ask the server to stop the statement running on connection `id`.
    pub async fn kill_query(&self, id: u32) {
        let fut = async {
            let mut side = self.open().await?;
            let r = side
                .query_drop(format!("KILL QUERY {id}"))
                .await
                .map_err(map_err);
            let _ = side.disconnect().await;
            r
        };
        let _ = tokio::time::timeout(Duration::from_secs(10), fut).await;
    }
}

/// How long a mysql_async connection may sit idle before it is pinged on checkout.
const MYSQL_ASYNC_PING_AFTER: Duration = Duration::from_secs(1);

pub struct MySqlManager {
    settings: Arc<Settings>,
}

impl Manager for MySqlManager {
    type Conn = Conn;

    async fn connect(&self) -> Result<Conn> {
        self.settings.open().await
    }

    fn is_valid(&self, conn: &Conn) -> bool {
        !conn.is_disconnected()
    }

    async fn ping(&self, conn: &mut Conn) -> Result<()> {
        conn.ping().await.map_err(map_err)
    }
}

/// Connections of the fast result reader ([`wire`]).
pub struct WireManager {
    settings: Arc<Settings>,
}

impl Manager for WireManager {
    type Conn = wire::WireConn;

    async fn connect(&self) -> Result<wire::WireConn> {
        let s = &self.settings;
        match tokio::time::timeout(s.timeout, wire::WireConn::connect(&s.wire)).await {
            Ok(r) => r,
            Err(_) => Err(Error::connection(format!(
                "timed out after {:.1}s connecting to the server (connect_timeout)",
                s.timeout.as_secs_f64()
            ))),
        }
    }

    fn is_valid(&self, conn: &wire::WireConn) -> bool {
        !conn.is_dirty()
    }

    /// Nothing watches an idle reader's socket: input waiting there means the server
    /// closed the connection (or the stream is out of step).
    #[cfg(unix)]
    fn revalidate(&self, conn: &mut wire::WireConn) -> bool {
        !conn.is_dirty() && !crate::direct::readable(conn.direct_parts().0)
    }

    async fn ping(&self, conn: &mut wire::WireConn) -> Result<()> {
        conn.ping().await
    }
}

/// A pooled MySQL/MariaDB connector.
pub struct MySqlConnector {
    pool: Pool<MySqlManager>,
    /// Query results are read through these connections when the server and settings
    /// allow it (plain TCP or TLS; native, caching_sha2 or ed25519 passwords); see
    /// [`wire`].
    wire: Pool<WireManager>,
    /// The fast reader cannot serve this server or these settings: always mysql_async.
    wire_off: AtomicBool,
    /// Logins the reader could not finish because caching_sha2_password wanted a full
    /// authentication (its server-side cache is filled by the first mysql_async login,
    /// so a later attempt usually takes the fast path).
    wire_auth_misses: std::sync::atomic::AtomicU32,
    decode: DecodeOptions,
    /// Connections a large single-table scan may be split across (see [`scan`]).
    scan_workers: usize,
    scan_min_rows: u64,
    /// Tables the catalog said cannot be split, and until when that is trusted.
    scan_skip: std::sync::Mutex<std::collections::HashMap<String, std::time::Instant>>,
    /// Whether the server is MariaDB (bulk executemany), learned on first use.
    mariadb: OnceLock<bool>,
    /// The server's max_allowed_packet, for commands sent through mysql_async.
    packet_limit: packet::PacketLimit,
}

/// Remove trailing semicolons and whitespace (a prepared statement is one statement).
fn trim_statement(sql: &str) -> &str {
    sql.trim_end().trim_end_matches(';').trim_end()
}

/// ER_UNSUPPORTED_PS: "This command is not supported in the prepared statement protocol yet".
const ER_UNSUPPORTED_PS: u16 = 1295;

fn is_unsupported_ps(e: &mysql_async::Error) -> bool {
    matches!(e, mysql_async::Error::Server(se) if se.code == ER_UNSUPPORTED_PS)
}

/// Run one statement on a fast-reader connection and hand the connection back: a
/// connection left mid-result (reader gone, decode error, broken stream) has its
/// statement killed and is discarded, as is one whose statement was cancelled. With
/// `in_tx` the connection holds an open (read-only) transaction: it is committed after
/// a complete read, and the connection discarded after anything else.
#[allow(clippy::too_many_arguments)]
async fn wire_run(
    mut conn: Pooled<WireManager>,
    sql: String,
    args: Vec<mysql_async::Value>,
    decode: DecodeOptions,
    batch_size: usize,
    mut sink: Sink,
    settings: Arc<Settings>,
    cancel: CancelSlot,
    in_tx: bool,
) -> (Result<wire::Outcome>, Sink) {
    let res = conn
        .query(&sql, &args, &decode, batch_size, &mut sink)
        .await;
    if in_tx {
        let ended = res.is_ok() && !conn.is_dirty() && conn.simple("COMMIT").await.is_ok();
        if !ended {
            conn.mark_broken();
        }
    }
    if conn.is_dirty() {
        if !cancel.is_cancelled() {
            settings.kill_query(conn.id()).await;
        }
        conn.mark_broken();
    }
    if cancel.is_cancelled() {
        conn.mark_broken();
    }
    conn.observe(&res);
    cancel.clear();
    (res, sink)
}

impl MySqlConnector {
    pub fn new(cfg: MySqlConfig) -> Result<Self> {
        let settings = Arc::new(Settings::new(&cfg)?);
        Ok(MySqlConnector {
            wire: Pool::new(
                WireManager {
                    settings: settings.clone(),
                },
                cfg.pool.clone(),
            ),
            // Escape hatch (and the A/B switch of the tests): SQLARROW_MYSQL_FAST_READER=0.
            wire_auth_misses: std::sync::atomic::AtomicU32::new(0),
            wire_off: AtomicBool::new(
                std::env::var("SQLARROW_MYSQL_FAST_READER").is_ok_and(|v| v.trim() == "0"),
            ),
            scan_workers: cfg.scan_workers.clamp(1, cfg.pool.max_size.max(1)),
            scan_min_rows: cfg.scan_min_rows,
            scan_skip: Default::default(),
            pool: Pool::new(
                MySqlManager { settings },
                PoolConfig {
                    // mysql_async learns that the server closed a connection (a restart, a
                    // KILL, wait_timeout) only when it next uses it, and the statement
                    // given to it then fails: a connection idle for a second is pinged
                    // first.
                    ping_after: cfg.pool.ping_after.min(MYSQL_ASYNC_PING_AFTER),
                    ..cfg.pool
                },
            ),
            decode: cfg.decode,
            mariadb: OnceLock::new(),
            packet_limit: packet::PacketLimit::default(),
        })
    }

    pub fn pool(&self) -> &Pool<MySqlManager> {
        &self.pool
    }

    /// Both pools together: the statement connections and the result readers'.
    pub fn stats(&self) -> crate::pool::PoolStats {
        let mut s = self.pool.stats();
        let w = self.wire.stats();
        s.size += w.size;
        s.idle += w.idle;
        s.in_use += w.in_use;
        s.waiting += w.waiting;
        s.created += w.created;
        s.closed += w.closed;
        s
    }

    /// Close both pools.
    pub fn close(&self) {
        self.wire.close();
        self.pool.close();
    }

    fn settings(&self) -> &Arc<Settings> {
        &self.pool.manager().settings
    }

    /// Check out a connection and register `KILL QUERY` for it in `cancel`.
    async fn checkout(&self, cancel: &CancelSlot) -> Result<Pooled<MySqlManager>> {
        if cancel.is_cancelled() {
            return Err(Error::cancelled("cancelled before it started"));
        }
        let conn = self.pool.get().await?;
        if self.register_kill(cancel, conn.id()) {
            return Err(Error::cancelled("cancelled before it started"));
        }
        Ok(conn)
    }

    /// Make `KILL QUERY <id>` (on a side connection) the way `cancel` stops what runs on
    /// connection `id`. True when cancellation was already requested: no KILL was sent
    /// (the connection stays usable) and the operation must not start (see
    /// [`CancelSlot::register_before_start`]).
    pub(super) fn register_kill(&self, cancel: &CancelSlot, id: u32) -> bool {
        let settings = self.settings().clone();
        cancel.register_before_start(move || {
            let s = settings.clone();
            Box::pin(async move { s.kill_query(id).await })
        })
    }

    /// Hand a connection back after an operation: discard it when the operation was
    /// cancelled (a KILL may still be in flight) or left a result unread (after killing
    /// the statement, so the server stops producing rows).
    async fn finish<T>(
        &self,
        mut conn: Pooled<MySqlManager>,
        res: &Result<T>,
        pending: bool,
        cancel: &CancelSlot,
    ) {
        if pending && !cancel.is_cancelled() {
            self.settings().kill_query(conn.id()).await;
        }
        if pending || cancel.is_cancelled() {
            conn.mark_broken();
        }
        conn.observe(res);
        cancel.clear();
    }

    /// Run a query through the fast reader. `Ok(false)`: it cannot serve this query
    /// (nothing was sent, or the server refused to prepare it); use mysql_async.
    async fn query_wire(
        &self,
        sql: &str,
        params: &Params,
        batch_size: usize,
        sink: &mut Sink,
        cancel: &CancelSlot,
    ) -> Result<bool> {
        if self.wire_off.load(Ordering::Relaxed) || cancel.is_cancelled() {
            return Ok(false);
        }
        let args = match to_params(params)? {
            mysql_async::Params::Empty => Vec::new(),
            mysql_async::Params::Positional(v) => v,
            mysql_async::Params::Named(_) => return Ok(false),
        };
        let conn = match self.wire.get().await {
            Ok(c) => c,
            Err(e) if wire::is_unsupported(&e) => {
                let retry_later = wire::is_full_auth(&e)
                    && self.wire_auth_misses.fetch_add(1, Ordering::Relaxed) < 3;
                if !retry_later {
                    self.wire_off.store(true, Ordering::Relaxed);
                }
                return Ok(false);
            }
            Err(e) => return Err(e),
        };
        if self.register_kill(cancel, conn.id()) {
            return Err(Error::cancelled("cancelled before it started"));
        }
        let run = wire_run(
            conn,
            trim_statement(sql).to_string(),
            args,
            self.decode,
            batch_size.max(1),
            std::mem::replace(sink, Sink::collect()),
            self.settings().clone(),
            cancel.clone(),
            false,
        );
        // (Connector::query already runs this on a runtime worker, next to the socket.)
        let (res, back) = run.await;
        *sink = back;
        match res {
            Err(e) if wire::is_unsupported(&e) => Ok(false),
            Err(e) => Err(e),
            Ok(_) => Ok(true),
        }
    }

    /// The plan of a read that may be split into a parallel scan (see [`scan`]): an
    /// unfiltered single-table SELECT without parameters, when splitting is on.
    fn scan_candidate(&self, sql: &str, params: &Params) -> Option<crate::scan::ScanPlan> {
        if !params.is_empty() || self.scan_workers < 2 {
            return None;
        }
        crate::scan::plan_unfiltered(trim_statement(sql), crate::scan::Flavor::MySql)
    }

    /// Run a query to completion on the calling thread through an idle fast-reader
    /// connection (see [`crate::direct`]): no hand-off to a runtime worker, one thread
    /// wake-up per round trip. `None`: this path does not apply (no idle reader right
    /// now, the fast reader is off, named parameters, a read that may become a parallel
    /// scan, or a statement the reader cannot prepare); use [`MySqlConnector::query`].
    ///
    /// At `deadline`, or when `interrupted` (asked every 50 ms) says so, the statement
    /// is stopped with `KILL QUERY` (run on `rt`) and its connection discarded.
    #[cfg(unix)]
    pub fn query_direct(
        &self,
        sql: &str,
        params: &Params,
        batch_size: usize,
        deadline: Option<std::time::Instant>,
        interrupted: &dyn Fn() -> bool,
        rt: &tokio::runtime::Handle,
    ) -> Option<Result<Sink>> {
        if self.wire_off.load(Ordering::Relaxed) {
            return None;
        }
        if self.scan_candidate(sql, params).is_some() {
            return None;
        }
        let sql = trim_statement(sql);
        let args = match to_params(params) {
            Ok(mysql_async::Params::Empty) => Vec::new(),
            Ok(mysql_async::Params::Positional(v)) => v,
            Ok(mysql_async::Params::Named(_)) => return None,
            Err(e) => return Some(Err(e)),
        };
        let mut conn = self.wire.try_idle()?;
        // Anything the statement's future creates on tokio (timers) belongs to `rt`.
        let _ctx = rt.enter();
        let (fd, flags) = conn.direct_parts();
        let mut sink = Sink::collect();
        let res = {
            let _direct = flags.enter();
            let fut = conn.query(sql, &args, &self.decode, batch_size.max(1), &mut sink);
            let mut fut = std::pin::pin!(fut);
            crate::direct::drive(fd, &flags, fut.as_mut(), None, deadline, interrupted)
        };
        let (res, abandoned) = match res {
            Ok(r) => (r, conn.is_dirty()),
            Err(stop) => (Err(stop.error()), true),
        };
        if abandoned {
            // Stopped mid-statement, or left mid-result (a decode error): stop it on
            // the server, drop the connection.
            rt.block_on(self.settings().kill_query(conn.id()));
            conn.mark_broken();
        }
        conn.observe(&res);
        match res {
            Err(e) if wire::is_unsupported(&e) => None,
            Err(e) => Some(Err(e)),
            Ok(_) => Some(Ok(sink)),
        }
    }

    /// Run a query, delivering batches of up to `batch_size` rows to `sink`.
    pub async fn query(
        &self,
        sql: &str,
        params: &Params,
        batch_size: usize,
        sink: &mut Sink,
        cancel: &CancelSlot,
    ) -> Result<()> {
        if sink.is_collect() {
            if let Some(plan) = self.scan_candidate(sql, params) {
                if self
                    .parallel_scan(&plan, batch_size.max(1), sink, cancel)
                    .await?
                {
                    return Ok(());
                }
            }
        }
        if self
            .query_wire(sql, params, batch_size, sink, cancel)
            .await?
        {
            return Ok(());
        }
        let mut conn = self.checkout(cancel).await?;
        let mut pending = false;
        let res = self
            .query_on(
                &mut conn,
                sql,
                params,
                batch_size.max(1),
                sink,
                &mut pending,
            )
            .await;
        self.finish(conn, &res, pending, cancel).await;
        res
    }

    async fn query_on(
        &self,
        conn: &mut Conn,
        sql: &str,
        params: &Params,
        batch_size: usize,
        sink: &mut Sink,
        pending: &mut bool,
    ) -> Result<()> {
        let sql = trim_statement(sql);
        let args = to_params(params)?;
        check_command(conn, &self.packet_limit, sql, &args).await?;
        let warnings = match conn.exec_iter(sql, args).await {
            Ok(result) => self.read_result(result, batch_size, sink, pending).await?,
            Err(e) if is_unsupported_ps(&e) && params.is_empty() => {
                let result = conn.query_iter(sql).await.map_err(map_err)?;
                self.read_result(result, batch_size, sink, pending).await?
            }
            Err(e) => return Err(map_err(e)),
        };
        if warnings > 0 {
            let rows: Vec<(Option<String>, Option<String>, Option<String>)> = conn
                .query(format!("SHOW WARNINGS LIMIT {}", wire::MAX_WARNINGS))
                .await
                .map_err(map_err)?;
            sink.warn(wire::warning_lines(
                rows.into_iter().map(|(a, b, c)| vec![a, b, c]).collect(),
            ));
        }
        Ok(())
    }

    /// Read a result into `sink`; returns the server's warning count for it.
    async fn read_result<P: Protocol>(
        &self,
        mut result: QueryResult<'_, 'static, P>,
        batch_size: usize,
        sink: &mut Sink,
        pending: &mut bool,
    ) -> Result<u16> {
        let columns = result.columns().unwrap_or_else(|| Vec::new().into());
        *pending = !columns.is_empty();
        let (schema, kinds) = schema_for(&columns, &self.decode)?;
        sink.schema(schema.clone());
        if columns.is_empty() {
            // Not a query (DDL/DML): it ran; no columns, no batches.
            *pending = false;
            result.drop_result().await.map_err(map_err)?;
            return Ok(0);
        }
        let mut rows = RowDecoder::new(schema, &kinds, batch_size, &self.decode);
        loop {
            let row = match result.next().await {
                Ok(Some(row)) => row,
                Ok(None) => break,
                Err(e) => {
                    // The server ended the result with an error: nothing left to read.
                    *pending = false;
                    return Err(map_err(e));
                }
            };
            rows.push_row(&row)?;
            if rows.is_full() {
                let b = rows.finish()?;
                if !sink.batch(b).await {
                    return Err(Error::cancelled("the reader was closed"));
                }
            }
        }
        *pending = false;
        let warnings = result.warnings();
        // Later result sets (e.g. the status of a CALL) are read and ignored.
        result.drop_result().await.map_err(map_err)?;
        if rows.rows > 0 {
            let b = rows.finish()?;
            sink.batch(b).await;
        }
        Ok(warnings)
    }

    /// Run one statement; returns rows affected. Without parameters the text protocol
    /// is used (any statement, several separated by `;` allowed: the counts are summed).
    pub async fn execute(&self, sql: &str, params: &Params, cancel: &CancelSlot) -> Result<u64> {
        let mut conn = self.checkout(cancel).await?;
        let res = execute_on(&mut conn, sql, params, &self.packet_limit).await;
        self.finish(conn, &res, false, cancel).await;
        res
    }

    async fn is_mariadb(&self, conn: &mut Conn) -> Result<bool> {
        if let Some(v) = self.mariadb.get() {
            return Ok(*v);
        }
        let v = Self::version_on(conn).await?.contains("MariaDB");
        Ok(*self.mariadb.get_or_init(|| v))
    }

    /// Run one statement per parameter set in one transaction. On MariaDB the sets go
    /// in bulk (COM_STMT_BULK_EXECUTE); on MySQL one prepared execution per set.
    pub async fn executemany(
        &self,
        sql: &str,
        sets: &[Params],
        cancel: &CancelSlot,
    ) -> Result<u64> {
        if sets.is_empty() {
            return Ok(0);
        }
        let width = sets[0].len();
        if let Some((i, bad)) = sets.iter().enumerate().find(|(_, p)| p.len() != width) {
            return Err(Error::parameter(format!(
                "parameter set {i} has {} value(s), the first has {width}",
                bad.len()
            )));
        }
        let all: Vec<mysql_async::Params> =
            sets.iter().map(to_params).collect::<Result<Vec<_>>>()?;
        let mut conn = self.checkout(cancel).await?;
        let res = async {
            let sql = trim_statement(sql);
            let bulk =
                width > 0 && one_type_per_position(&all) && self.is_mariadb(&mut conn).await?;
            let rows: Vec<&[mysql_async::Value]> = all
                .iter()
                .map(|p| match p {
                    mysql_async::Params::Positional(v) => v.as_slice(),
                    _ => &[],
                })
                .collect();
            // Commands the server would refuse by dropping the connection (see [`packet`]);
            // bulk commands are cut to fit.
            let limit = &self.packet_limit;
            limit
                .check(&mut conn, packet::Part::Text, sql.len() + 1)
                .await?;
            let chunks = if bulk {
                // A COM_STMT_BULK_EXECUTE holds 11 bytes of header, 2 type bytes per
                // position and each set's values (mysql_common's count).
                let head = 11 + 2 * width;
                let lens: Vec<usize> = rows.iter().map(|r| packet::bulk_row_len(r)).collect();
                let mut budget = usize::MAX;
                if !packet::fits(head + lens.iter().sum::<usize>(), packet::SMALLEST_LIMIT) {
                    budget = limit.value(&mut conn).await?;
                    for (i, len) in lens.iter().enumerate() {
                        if !packet::fits(head + len, budget) {
                            limit
                                .check(&mut conn, packet::Part::Params(Some(i)), head + len)
                                .await?;
                        }
                    }
                }
                packet::chunks(&lens, head, budget, 10_000)
            } else {
                for (i, r) in rows.iter().enumerate() {
                    limit
                        .check(
                            &mut conn,
                            packet::Part::Params(Some(i)),
                            packet::execute_len(r),
                        )
                        .await?;
                }
                Vec::new()
            };
            let stmt = conn.prep(sql).await.map_err(map_err)?;
            if stmt.num_params() as usize != width {
                return Err(Error::parameter(format!(
                    "the statement has {} parameter marker(s) but {width} value(s) were given",
                    stmt.num_params()
                )));
            }
            conn.query_drop("START TRANSACTION")
                .await
                .map_err(map_err)?;
            let outcome: Result<u64> = async {
                let mut total = 0u64;
                if bulk {
                    // MariaDB answers a bulk execution with one OK carrying the total.
                    for range in chunks {
                        conn.exec_batch(&stmt, all[range].iter().cloned())
                            .await
                            .map_err(map_err)?;
                        total += conn.affected_rows();
                    }
                } else {
                    for p in all {
                        conn.exec_drop(&stmt, p).await.map_err(map_err)?;
                        total += conn.affected_rows();
                    }
                }
                Ok(total)
            }
            .await;
            match outcome {
                Ok(total) => {
                    conn.query_drop("COMMIT").await.map_err(map_err)?;
                    Ok(total)
                }
                Err(e) => {
                    let _ = conn.query_drop("ROLLBACK").await;
                    Err(e)
                }
            }
        }
        .await;
        self.finish(conn, &res, false, cancel).await;
        res
    }

    async fn version_on(conn: &mut Conn) -> Result<String> {
        let v: Option<String> = conn
            .query_first("SELECT VERSION()")
            .await
            .map_err(map_err)?;
        Ok(v.unwrap_or_default())
    }

    /// Connect (or reuse a pooled connection) and read the server version,
    /// e.g. `10.11.6-MariaDB` or `8.0.36`.
    pub async fn server_version(&self) -> Result<String> {
        let mut conn = self.pool.get().await?;
        let res = Self::version_on(&mut conn).await;
        if let Ok(v) = &res {
            let _ = self.mariadb.set(v.contains("MariaDB"));
        }
        conn.observe(&res);
        res
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bulk_needs_one_type_per_position() {
        use mysql_async::{Params::Positional as P, Value as V};
        let ints = [
            P(vec![V::Int(1), V::NULL]),
            P(vec![V::NULL, V::Bytes(b"a".to_vec())]),
        ];
        assert!(one_type_per_position(&ints));
        let text_then_int = [P(vec![V::Bytes(b"a".to_vec())]), P(vec![V::Int(1)])];
        assert!(!one_type_per_position(&text_then_int));
        let int_then_double = [
            P(vec![V::NULL]),
            P(vec![V::Int(1)]),
            P(vec![V::Double(2.5)]),
        ];
        assert!(!one_type_per_position(&int_then_double));
        let signed_and_unsigned = [P(vec![V::Int(-1)]), P(vec![V::UInt(u64::MAX)])];
        assert!(!one_type_per_position(&signed_and_unsigned));
        assert!(!one_type_per_position(&[mysql_async::Params::Named(
            Default::default()
        )]));
    }

    #[test]
    fn client_packet_limit_is_a_data_error_not_a_lost_connection() {
        let io = std::io::Error::other("Packet is larger than max_allowed_packet");
        let e = map_err(mysql_async::Error::Io(IoError::Io(io)));
        assert_eq!(e.kind, ErrorKind::Data);
        assert!(!e.transient);
        assert!(e.message.contains("max_allowed_packet"), "{}", e.message);
        let io = std::io::Error::from(std::io::ErrorKind::ConnectionReset);
        let e = map_err(mysql_async::Error::Io(IoError::Io(io)));
        assert_eq!(e.kind, ErrorKind::Connection);
    }

    #[test]
    fn error_codes_map_to_kinds() {
        let e = server_error(1062, "Duplicate entry '1' for key 'PRIMARY'", "23000");
        assert_eq!(e.kind, ErrorKind::UniqueViolation);
        assert_eq!(e.sqlstate.as_deref(), Some("23000"));
        assert!(!e.transient);
        assert_eq!(
            server_error(1452, "", "23000").kind,
            ErrorKind::ForeignKeyViolation
        );
        assert_eq!(
            server_error(1048, "", "23000").kind,
            ErrorKind::NotNullViolation
        );
        assert_eq!(
            server_error(4025, "", "23000").kind,
            ErrorKind::CheckViolation
        );
        assert_eq!(
            server_error(3819, "", "HY000").kind,
            ErrorKind::CheckViolation
        );
        let auth = server_error(1045, "Access denied", "28000");
        assert_eq!(auth.kind, ErrorKind::Authentication);
        assert!(!auth.transient);
        assert_eq!(server_error(1064, "", "42000").kind, ErrorKind::Syntax);
        assert_eq!(
            server_error(1146, "", "42S02").kind,
            ErrorKind::UndefinedObject
        );
        assert_eq!(
            server_error(1054, "", "42S22").kind,
            ErrorKind::UndefinedObject
        );
        let lock = server_error(1205, "Lock wait timeout exceeded", "HY000");
        assert!(lock.transient);
        assert_eq!(lock.sqlstate, None);
        assert!(server_error(1213, "Deadlock", "40001").transient);
        for code in [2002, 2003, 2006, 2013] {
            let e = server_error(code, "", "HY000");
            assert_eq!(e.kind, ErrorKind::Connection);
            assert!(e.transient);
        }
        assert_eq!(server_error(1317, "", "70100").kind, ErrorKind::Cancelled);
        assert_eq!(server_error(9999, "", "HY000").kind, ErrorKind::Query);
        assert!(e.details.iter().any(|(k, v)| *k == "errno" && v == "1062"));
    }

    #[test]
    fn driver_errors_map_to_kinds() {
        let e = map_err(mysql_async::Error::Driver(
            DriverError::StmtParamsMismatch {
                required: 2,
                supplied: 1,
            },
        ));
        assert_eq!(e.kind, ErrorKind::Parameter);
        let e = map_err(mysql_async::Error::Io(IoError::Io(std::io::Error::from(
            std::io::ErrorKind::ConnectionRefused,
        ))));
        assert_eq!(e.kind, ErrorKind::Connection);
        assert!(e.transient);
    }

    #[test]
    fn ssl_modes_parse() {
        assert_eq!(SslMode::parse("DISABLED").unwrap(), SslMode::Disabled);
        assert_eq!(SslMode::parse("prefer").unwrap(), SslMode::Preferred);
        assert_eq!(
            SslMode::parse("verify-full").unwrap(),
            SslMode::VerifyIdentity
        );
        assert_eq!(SslMode::parse("VERIFY_CA").unwrap(), SslMode::VerifyCa);
        assert_eq!(SslMode::parse("bogus").unwrap_err().kind, ErrorKind::Config);
        let cfg = MySqlConfig {
            password: Some("hunter2".into()),
            ..MySqlConfig::default()
        };
        assert!(!format!("{cfg:?}").contains("hunter2"));
        assert!(MySqlConnector::new(cfg).is_ok());
    }

    #[test]
    fn trims_statements() {
        assert_eq!(trim_statement("select 1 ; \n"), "select 1");
    }
}
