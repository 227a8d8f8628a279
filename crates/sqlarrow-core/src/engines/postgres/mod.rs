//! PostgreSQL: binary COPY and binary extended protocol decoded straight into Arrow.

mod cancel;
pub mod copy;
pub mod decode;
pub mod introspect;
pub mod params;
pub mod redshift_write;
mod tap;
pub mod tls;
pub mod tx;
mod wire;
pub mod write;

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::{pin_mut, StreamExt, TryStreamExt};
use tokio_postgres::types::{FromSql, Type};
use tokio_postgres::{Client, Statement};
use tokio_postgres_rustls::MakeRustlsConnect;

use self::cancel::{CancelTarget, Canceller};
use self::copy::{CopyParser, Progress};
use self::decode::{schema_for, RowDecoder};
use self::params::{declared_type, PgParam};
use crate::cancel::CancelSlot;
use crate::error::{Error, ErrorKind, Result};
use crate::params::Lexicon;
use crate::pool::{Manager, Pool, PoolConfig, Pooled};
use crate::scan;
use crate::stream::Sink;
use crate::value::{Params, Value};

/// How to reach a PostgreSQL server. `password` is never formatted anywhere.
#[derive(Clone)]
pub struct PgConfig {
    pub host: String,
    pub port: u16,
    pub database: Option<String>,
    pub user: Option<String>,
    pub password: Option<String>,
    pub sslmode: String,
    pub sslrootcert: Option<String>,
    pub sslcert: Option<String>,
    pub sslkey: Option<String>,
    pub connect_timeout: Duration,
    pub application_name: Option<String>,
    /// Redshift: same wire protocol, but no `COPY ... TO STDOUT`, no `options`
    /// startup parameter; reads always use the binary extended protocol.
    pub redshift: bool,
    /// Return `uuid` columns as text instead of the `arrow.uuid` extension type.
    pub uuid_as_string: bool,
    /// Read-only mode, layer 1: `default_transaction_read_only=on` for every session.
    pub read_only: bool,
    /// Connections a large single-table scan may be split across (1: never split).
    pub scan_workers: usize,
    /// Tables smaller than this are never split.
    pub scan_min_bytes: u64,
    /// Session settings for every connection: startup `options` (Redshift: `SET`
    /// statements after connecting).
    pub settings: crate::settings::Settings,
    pub pool: PoolConfig,
}

impl std::fmt::Debug for PgConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgConfig")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("database", &self.database)
            .field("user", &self.user)
            .field("password", &self.password.as_ref().map(|_| "***"))
            .field("sslmode", &self.sslmode)
            .finish()
    }
}

pub const LEXICON: Lexicon = Lexicon::Postgres;

/// The most parameters one statement can carry (a 16-bit count in Bind).
const MAX_PARAMS: usize = u16::MAX as usize;

/// One pooled connection.
pub struct PgConn {
    client: Client,
    task: tokio::task::JoinHandle<()>,
    /// How the calling thread can drive this connection itself (TCP connections only).
    direct: Option<DirectParts>,
    /// Where this connection's cancel requests go.
    target: CancelTarget,
    /// The connection's byte stream, for bulk COPY reads spoken directly (TCP
    /// connections only; see [`tap`]).
    tap: Option<tap::Tap>,
    /// Prepared statements by SQL text (and parameter types), so a repeated query
    /// costs one round trip. Result-type changes are caught by the server (0A000).
    stmts: std::sync::Mutex<std::collections::HashMap<String, Prepared>>,
    /// The connector's catalog generation (see [`CatalogEpoch`]) and the one `stmts`
    /// was prepared under: the statements are dropped when they differ.
    catalog: CatalogEpoch,
    catalog_seen: std::sync::atomic::AtomicU64,
    /// Hashes of parameterless query texts run once, unprepared, on this connection: a
    /// text seen again is prepared and cached (see [`PgConnector::query_on`]).
    seen: std::sync::Mutex<std::collections::HashSet<u64>>,
    /// What the server said while tokio-postgres read for this connection.
    notices: Notices,
}

impl PgConn {
    /// The notices kept since the last call.
    fn take_notices(&self) -> Vec<String> {
        std::mem::take(&mut *self.notices.lock().unwrap_or_else(|p| p.into_inner()))
    }
}

/// The future that owns a connection's socket: it sends the client's requests and
/// routes the server's answers back.
type ConnectionFuture = std::pin::Pin<
    Box<dyn std::future::Future<Output = std::result::Result<(), tokio_postgres::Error>> + Send>,
>;

/// Notices (NOTICE, WARNING, INFO messages) the server sent on a connection while
/// tokio-postgres read its answers, for the statement that caused them (see
/// [`PgConnector::query_on`]). Reads spoken on the connection's own stream
/// ([`wire`]) hand theirs to the sink directly.
type Notices = Arc<std::sync::Mutex<Vec<String>>>;

/// A notice as one warning line, in the shape of MySQL's (`"WARNING 01000: ..."`),
/// with the server's detail and hint.
pub(crate) fn notice_line(
    severity: &str,
    code: &str,
    message: &str,
    detail: Option<&str>,
    hint: Option<&str>,
) -> String {
    let mut line = format!("{severity} {code}: {message}");
    for (label, text) in [("DETAIL", detail), ("HINT", hint)] {
        if let Some(text) = text {
            line.push_str(&format!(" {label}: {text}"));
        }
    }
    line
}

/// The connection future of `connection`, keeping the notices it reads in `notices`
/// (tokio-postgres's own future logs them and drops them), capped as a statement's
/// warnings are ([`crate::stream::keep_warnings`]): a server that sends many while
/// nobody collects them (an `execute` in a loop) must not grow it without bound.
fn keeping_notices<S, T>(
    mut connection: tokio_postgres::Connection<S, T>,
    notices: Notices,
) -> ConnectionFuture
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
    T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    use std::task::Poll;
    Box::pin(futures_util::future::poll_fn(move |cx| loop {
        match connection.poll_message(cx) {
            Poll::Ready(Some(Ok(tokio_postgres::AsyncMessage::Notice(n)))) => {
                let line = notice_line(
                    n.severity(),
                    n.code().code(),
                    n.message(),
                    n.detail(),
                    n.hint(),
                );
                let mut kept = notices.lock().unwrap_or_else(|p| p.into_inner());
                crate::stream::keep_warnings(&mut kept, vec![line]);
            }
            Poll::Ready(Some(Ok(_))) => {}
            Poll::Ready(Some(Err(e))) => return Poll::Ready(Err(e)),
            Poll::Ready(None) => return Poll::Ready(Ok(())),
            Poll::Pending => return Poll::Pending,
        }
    }))
}

/// The connection future, shared between its task on the runtime and a caller that
/// drives it directly (see [`crate::direct`]). The task polls it only when the lock
/// is free; a direct caller takes the lock for the whole statement and wakes the task
/// when it is done.
#[derive(Default)]
struct Driver {
    connection: std::sync::Mutex<Option<ConnectionFuture>>,
    waker: futures_util::task::AtomicWaker,
}

impl Driver {
    /// The connection future, for a direct caller (a caller that panicked while holding
    /// it left the connection itself sound).
    fn lock(&self) -> std::sync::MutexGuard<'_, Option<ConnectionFuture>> {
        self.connection.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn spawn(connection: ConnectionFuture) -> (Arc<Driver>, tokio::task::JoinHandle<()>) {
        let d = Arc::new(Driver {
            connection: std::sync::Mutex::new(Some(connection)),
            waker: Default::default(),
        });
        let shared = d.clone();
        let task = tokio::spawn(futures_util::future::poll_fn(move |cx| {
            shared.waker.register(cx.waker());
            let mut slot = match shared.connection.try_lock() {
                Ok(slot) => slot,
                // A direct caller that panicked: the connection itself is still sound.
                Err(std::sync::TryLockError::Poisoned(p)) => p.into_inner(),
                // A direct caller has it; it hands it back (or wakes this task) when done.
                Err(std::sync::TryLockError::WouldBlock) => return std::task::Poll::Pending,
            };
            poll_connection(&mut slot, cx)
        }));
        (d, task)
    }
}

/// Poll the connection future once; `Ready` (and the slot emptied) when it has ended.
fn poll_connection(
    slot: &mut Option<ConnectionFuture>,
    cx: &mut std::task::Context<'_>,
) -> std::task::Poll<()> {
    match slot.as_mut() {
        None => std::task::Poll::Ready(()),
        Some(f) => match f.as_mut().poll(cx) {
            std::task::Poll::Ready(_) => {
                *slot = None;
                std::task::Poll::Ready(())
            }
            std::task::Poll::Pending => std::task::Poll::Pending,
        },
    }
}

/// Drive `fut`, a statement on the connection of `parts`, on the calling thread (see
/// [`crate::direct`]), polling the connection future alongside it, then hand the
/// connection back to its task ([`hand_back`]). The socket stays out of the reactor
/// while the connection is idle: registering it again would fire an edge-triggered
/// "writable" event at once and wake a runtime worker for nothing after every query.
/// [`PgManager::revalidate`] reads what the server sent meanwhile before the next use.
#[cfg(unix)]
fn drive_direct<T>(
    parts: &DirectParts,
    fut: std::pin::Pin<&mut dyn std::future::Future<Output = Result<T>>>,
    deadline: Option<Instant>,
    interrupted: &dyn Fn() -> bool,
) -> std::result::Result<Result<T>, crate::direct::Stop> {
    let mut slot = parts.driver.lock();
    let _direct = parts.flags.enter();
    let res = {
        let mut also = |cx: &mut std::task::Context<'_>| {
            let _ = poll_connection(&mut slot, cx);
        };
        crate::direct::drive(
            parts.fd,
            &parts.flags,
            fut,
            Some(&mut also),
            deadline,
            interrupted,
        )
    };
    hand_back(&parts.driver, &mut slot);
    res
}

/// Poll the connection future once with its task's waker, in direct mode (the caller
/// holds the lock and the direct switch): it reads whatever the server sent, and waits
/// for the next request with its task's waker, so an async use wakes the task, which
/// then registers the socket with the reactor again. When the task must run anyway
/// (the connection ended, or the task was never polled), it is woken.
#[cfg(unix)]
fn hand_back(driver: &Driver, slot: &mut Option<ConnectionFuture>) {
    let handed_back = match driver.waker.take() {
        Some(w) => {
            let ended = poll_connection(slot, &mut std::task::Context::from_waker(&w)).is_ready();
            driver.waker.register(&w);
            !ended
        }
        None => false,
    };
    if !handed_back {
        driver.waker.wake();
    }
}

#[derive(Clone)]
struct DirectParts {
    #[cfg(unix)]
    fd: std::os::fd::RawFd,
    flags: Arc<crate::direct::DirectFlags>,
    driver: Arc<Driver>,
}

/// A cached prepared statement and its name on the server.
#[derive(Clone)]
struct Prepared {
    stmt: Statement,
    /// `None` when it could not be learned (the raw read path is then not used).
    name: Option<Arc<str>>,
    /// The highest `$n` marker in the text's code (see [`dollar_markers`]).
    markers: usize,
}

/// The highest `$n` parameter marker in `sql` outside strings, quoted names and
/// comments; `or` when the text cannot be lexed. A text without `$` has none, and is
/// not lexed (most reads without parameters).
fn dollar_markers(sql: &str, or: usize) -> usize {
    if !sql.contains('$') {
        return 0;
    }
    crate::params::rewrite_named(sql, LEXICON).map_or(or, |r| r.positional)
}

/// The server-side name of a statement prepared by tokio-postgres, which keeps it
/// private but shows it in the statement's `Debug` output (`Statement { name: "s12",
/// ...`). A [`wire::rows_out`] read binds it by name. If the form ever changes, the name
/// is `None` and reads go through tokio-postgres as before (slower, still correct).
fn statement_name(stmt: &Statement) -> Option<Arc<str>> {
    name_in_debug(&format!("{stmt:?}"))
}

fn name_in_debug(dbg: &str) -> Option<Arc<str>> {
    let rest = dbg.strip_prefix("Statement { name: \"")?;
    let name = &rest[..rest.find('"')?];
    (!name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'))
        .then(|| Arc::from(name))
}

const STATEMENT_CACHE_SIZE: usize = 256;
/// How many once-run query texts a connection remembers (hashes, 8 bytes each).
const SEEN_TEXTS: usize = 4096;

/// A counter shared by a connector's connections, moved on whenever a table's shape may
/// have changed: a statement of this connector that alters the catalog (`ALTER`,
/// `CREATE`, `DROP`, `SET`, ...), or the server refusing a cached statement whose result
/// type changed (0A000: someone else altered a table). Each connection then drops its
/// cached statements before its next one. Outside a transaction a stale statement is
/// simply prepared again; inside one, PostgreSQL aborts the transaction, so a statement
/// prepared before another session's `ALTER TABLE` failed every later transaction on
/// that connection that ran it (and one this transaction's own DDL had altered, the
/// rest of the transaction).
type CatalogEpoch = Arc<std::sync::atomic::AtomicU64>;

/// Whether `sql` may change what a cached statement returns: DDL (also inside `DO`
/// and procedures), and `search_path`, which decides which table a name means.
fn may_alter_catalog(sql: &str) -> bool {
    crate::params::statement_heads(sql, crate::params::Lexicon::Postgres)
        .iter()
        .any(|h| match h.first().map(String::as_str) {
            Some("ALTER" | "CREATE" | "DROP" | "DISCARD" | "DO" | "CALL" | "IMPORT") => true,
            // `ROLLBACK TO SAVEPOINT` may undo DDL that statements were prepared against.
            Some("ROLLBACK") => true,
            Some("SET" | "RESET") => h[1..]
                .iter()
                .any(|w| w == "SEARCH_PATH" || w == "ALL" || w.starts_with("SEARCH_PATH=")),
            _ => false,
        })
}

impl PgConn {
    fn cached(&self, key: &str) -> Option<Prepared> {
        use std::sync::atomic::Ordering;
        let mut stmts = self.stmts.lock().unwrap_or_else(|e| e.into_inner());
        let now = self.catalog.load(Ordering::Acquire);
        if self.catalog_seen.swap(now, Ordering::AcqRel) != now {
            stmts.clear();
        }
        stmts.get(key).cloned()
    }

    fn catalog_generation(&self) -> u64 {
        self.catalog.load(std::sync::atomic::Ordering::Acquire)
    }

    /// A transaction that began at generation `begun` is rolled back: DDL it ran (and
    /// statements prepared against it) is undone, so the cached statements go again.
    fn rolled_back_since(&self, begun: u64) {
        if self.catalog_generation() != begun {
            self.catalog_changed();
        }
    }

    /// Drop every connection's cached statements before its next statement.
    fn catalog_changed(&self) {
        self.catalog
            .fetch_add(1, std::sync::atomic::Ordering::AcqRel);
    }

    /// After `sql` ran here: a catalog change it made, or a stale cached statement the
    /// server refused, drops the connector's cached statements.
    fn note_outcome<T>(&self, sql: &str, res: &Result<T>) {
        match res {
            Err(e) if stale_statement(e) => self.catalog_changed(),
            Ok(_) if may_alter_catalog(sql) => self.catalog_changed(),
            _ => {}
        }
    }

    fn remember(&self, key: String, stmt: &Prepared) {
        let mut m = self.stmts.lock().unwrap_or_else(|e| e.into_inner());
        if m.len() >= STATEMENT_CACHE_SIZE {
            m.clear();
        }
        m.insert(key, stmt.clone());
    }

    /// Whether `sql` runs here for the first time (recently): remembered as seen.
    fn first_sight(&self, sql: &str) -> bool {
        use std::hash::{BuildHasher, BuildHasherDefault};
        let h = BuildHasherDefault::<std::collections::hash_map::DefaultHasher>::default()
            .hash_one(sql);
        let mut seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        if seen.len() >= SEEN_TEXTS {
            seen.clear();
        }
        seen.insert(h)
    }

    fn forget_all(&self) {
        self.stmts.lock().unwrap_or_else(|e| e.into_inner()).clear();
    }

    /// What a cancel request for this connection's backend needs.
    fn canceller(&self) -> Canceller {
        Canceller {
            token: self.client.cancel_token(),
            target: self.target.clone(),
        }
    }

    /// A request (on a new connection, within 10 s) that the server cancel whatever
    /// this connection runs.
    fn cancel_request(
        &self,
        tls: &MakeRustlsConnect,
    ) -> impl std::future::Future<Output = ()> + Send + 'static {
        self.canceller().send(tls)
    }
}

/// Whether an error means a cached statement went stale (retry with a fresh one).
fn stale_statement(e: &Error) -> bool {
    matches!(e.sqlstate.as_deref(), Some("0A000") | Some("26000"))
        && (e.message.contains("cached plan") || e.message.contains("prepared statement"))
}

impl Drop for PgConn {
    fn drop(&mut self) {
        // Dropping the client closes the socket; the connection task then ends by itself.
        let _ = &self.task;
    }
}

pub struct PgManager {
    config: tokio_postgres::Config,
    tls: MakeRustlsConnect,
    timeout: Duration,
    redshift: bool,
    uuid_as_string: bool,
    /// Redshift: the connector's settings as `SET` statements (it ignores `options`).
    redshift_settings: Option<String>,
    /// Shared with every connection (see [`CatalogEpoch`]).
    catalog: CatalogEpoch,
}

/// A sqlarrow error from an ErrorResponse's fields.
pub(crate) fn server_error(db: &wire::ServerError<'_>) -> Error {
    let code = db.code;
    let kind = ErrorKind::from_sqlstate(code);
    let mut msg = db.message.to_string();
    if let Some(d) = db.detail {
        msg.push_str("\nDETAIL: ");
        msg.push_str(d);
    }
    if let Some(h) = db.hint {
        msg.push_str("\nHINT: ");
        msg.push_str(h);
    }
    // Server errors are transient only when their SQLSTATE says so.
    let mut err = Error::new(kind, msg)
        .transient(crate::error::sqlstate_is_transient(code))
        .with_sqlstate(code);
    if let Some(c) = db.constraint {
        err = err.with_detail("constraint", c);
    }
    if let Some(t) = db.table {
        err = err.with_detail("table", t);
    }
    if let Some(c) = db.column {
        err = err.with_detail("column", c);
    }
    // During COPY FROM the server names the failing input row ("COPY t, line 3").
    if let Some(w) = db.where_ {
        if let Some(line) = w
            .strip_prefix("COPY ")
            .and_then(|r| r.split(", line ").nth(1))
            .and_then(|r| r.split(|c: char| !c.is_ascii_digit()).next())
            .and_then(|n| n.parse::<u64>().ok())
        {
            err = err.with_detail("row_index", (line.saturating_sub(1)).to_string());
            err.message
                .push_str(&format!("\n(input row {})", line.saturating_sub(1)));
        }
    }
    err
}

/// Map a tokio-postgres error to a sqlarrow error (server fields kept, no secrets).
pub fn map_err(e: tokio_postgres::Error) -> Error {
    if let Some(db) = e.as_db_error() {
        return server_error(&wire::ServerError {
            severity: db.severity(),
            code: db.code().code(),
            message: db.message(),
            detail: db.detail(),
            hint: db.hint(),
            where_: db.where_(),
            constraint: db.constraint(),
            table: db.table(),
            column: db.column(),
        });
    }
    let mut text = e.to_string();
    // Append the cause chain (e.g. the TLS verification failure or the I/O error).
    let mut source = std::error::Error::source(&e);
    while let Some(s) = source {
        let more = s.to_string();
        if !text.contains(&more) {
            text.push_str(": ");
            text.push_str(&more);
        }
        source = s.source();
    }
    if text.starts_with("error performing TLS handshake") {
        return Error::connection(text).transient(false);
    }
    if text.starts_with("error serializing parameter") {
        return Error::parameter(text);
    }
    if text.contains("password missing") || text.starts_with("authentication error") {
        return Error::new(ErrorKind::Authentication, text);
    }
    if text.starts_with("invalid configuration") {
        return Error::config(text);
    }
    Error::connection(text)
}

impl PgManager {
    /// Open a connection. Over TCP the socket is a [`HybridStream`] whose connection
    /// future a caller can drive itself (see [`crate::direct`]); a Unix-socket host goes
    /// through tokio-postgres's own connect.
    async fn open(
        &self,
        notices: &Notices,
    ) -> Result<(
        Client,
        tokio::task::JoinHandle<()>,
        Option<DirectParts>,
        CancelTarget,
        Option<tap::Tap>,
    )> {
        let (host, port) = match (self.config.get_hosts(), self.config.get_ports()) {
            ([tokio_postgres::config::Host::Tcp(h)], [p]) => (h.clone(), *p),
            hosts_ports => {
                let target = match hosts_ports {
                    #[cfg(unix)]
                    ([tokio_postgres::config::Host::Unix(dir)], [p]) => {
                        CancelTarget::Unix(dir.join(format!(".s.PGSQL.{p}")))
                    }
                    _ => CancelTarget::Token,
                };
                let (client, connection) = self
                    .config
                    .connect(self.tls.clone())
                    .await
                    .map_err(map_err)?;
                let connection = keeping_notices(connection, notices.clone());
                let task = tokio::spawn(async move {
                    let _ = connection.await;
                });
                return Ok((client, task, None, target, None));
            }
        };
        let tcp = tokio::net::TcpStream::connect((host.as_str(), port))
            .await
            .map_err(|e| {
                Error::connection(format!("error connecting to server at {host}:{port}: {e}"))
            })?;
        let _ = tcp.set_nodelay(true);
        let _ = socket2::SockRef::from(&tcp).set_keepalive(true);
        let stream = crate::direct::HybridStream::new(tcp);
        #[cfg(unix)]
        let fd = stream.fd();
        let flags = stream.flags();
        // The connection's byte stream is tapped where the protocol runs in the clear:
        // on the socket, or above TLS when the server accepts it (the connector then
        // replaces the tap in `slot`).
        let (stream, raw_tap) = tap::Tapped::new(stream);
        let slot = Arc::new(std::sync::Mutex::new(Some(raw_tap)));
        let mut tls = self.tls.clone();
        let connector = <MakeRustlsConnect as tokio_postgres::tls::MakeTlsConnect<
            tap::Tapped<crate::direct::HybridStream>,
        >>::make_tls_connect(&mut tls, &host)
        .map_err(|e| Error::config(format!("TLS setup failed: {e}")))?;
        let connector = tap::TapConnect {
            inner: connector,
            slot: slot.clone(),
        };
        let (client, connection) = self
            .config
            .connect_raw(stream, connector)
            .await
            .map_err(map_err)?;
        let tap = slot.lock().unwrap_or_else(|e| e.into_inner()).take();
        // Set up and idle: from here on the tap follows the connection's traffic.
        if let Some(t) = &tap {
            t.arm();
        }
        let (driver, task) = Driver::spawn(keeping_notices(connection, notices.clone()));
        let parts = DirectParts {
            #[cfg(unix)]
            fd,
            flags,
            driver,
        };
        Ok((
            client,
            task,
            Some(parts),
            CancelTarget::Tcp(host, port),
            tap,
        ))
    }
}

impl Manager for PgManager {
    type Conn = PgConn;

    async fn connect(&self) -> Result<PgConn> {
        let notices = Notices::default();
        let (client, task, direct, target, tap) =
            match tokio::time::timeout(self.timeout, self.open(&notices)).await {
                Ok(r) => r?,
                Err(_) => {
                    return Err(Error::connection(format!(
                        "timed out after {:.1}s connecting to the server (connect_timeout)",
                        self.timeout.as_secs_f64()
                    )))
                }
            };
        if self.redshift {
            // Redshift ignores the `options` startup parameter: set the session here.
            client
                .batch_execute(
                    "SET timezone TO 'UTC'; SET datestyle TO 'ISO'; SET client_encoding TO 'UTF8'",
                )
                .await
                .map_err(map_err)?;
            if let Some(set) = &self.redshift_settings {
                client
                    .batch_execute(set)
                    .await
                    .map_err(|e| map_err(e).context("the connector's settings were refused"))?;
            }
        }
        Ok(PgConn {
            client,
            task,
            direct,
            target,
            tap,
            stmts: Default::default(),
            catalog_seen: self
                .catalog
                .load(std::sync::atomic::Ordering::Acquire)
                .into(),
            catalog: self.catalog.clone(),
            seen: Default::default(),
            notices,
        })
    }

    fn is_valid(&self, conn: &PgConn) -> bool {
        !conn.client.is_closed() && !conn.tap.as_ref().is_some_and(|t| t.is_abandoned())
    }

    /// After a direct statement the socket is left out of the reactor (see
    /// [`drive_direct`]): input that arrived while idle (a notice, or the server
    /// closing the connection) is read here, by the connection future, before the
    /// connection is handed out.
    #[cfg(unix)]
    fn revalidate(&self, conn: &mut PgConn) -> bool {
        if !self.is_valid(conn) {
            return false;
        }
        if let Some(p) = &conn.direct {
            if crate::direct::readable(p.fd) {
                {
                    let mut slot = p.driver.lock();
                    let _direct = p.flags.enter();
                    hand_back(&p.driver, &mut slot);
                }
                return !conn.client.is_closed();
            }
        }
        true
    }

    async fn ping(&self, conn: &mut PgConn) -> Result<()> {
        conn.client
            .simple_query("")
            .await
            .map(|_| ())
            .map_err(map_err)
    }
}

/// A pooled PostgreSQL connector.
pub struct PgConnector {
    pool: Pool<PgManager>,
    scan_workers: usize,
    scan_min_bytes: u64,
    /// Tables found too small (or not splittable) recently: not probed again for a while.
    unsplit: std::sync::Mutex<std::collections::HashMap<String, Instant>>,
}

/// How long a "do not split this table" verdict is trusted.
const UNSPLIT_TTL: Duration = Duration::from_secs(30);

/// Zero-copy access to a field's raw binary bytes.
struct Raw<'a>(&'a [u8]);

impl<'a> FromSql<'a> for Raw<'a> {
    fn from_sql(_: &Type, raw: &'a [u8]) -> Result<Self, Box<dyn std::error::Error + Sync + Send>> {
        Ok(Raw(raw))
    }
    fn accepts(_: &Type) -> bool {
        true
    }
}

/// Whether a statement can be wrapped in `COPY (...) TO STDOUT`.
fn copyable(sql: &str) -> bool {
    let first: String = strip_leading_comments(sql)
        .chars()
        .take_while(|c| c.is_alphabetic())
        .collect::<String>()
        .to_ascii_lowercase();
    matches!(first.as_str(), "select" | "with" | "values" | "table")
}

fn strip_leading_comments(sql: &str) -> &str {
    let mut s = sql.trim_start();
    loop {
        if let Some(rest) = s.strip_prefix("--") {
            s = rest
                .split_once('\n')
                .map(|x| x.1)
                .unwrap_or("")
                .trim_start();
        } else if let Some(rest) = s.strip_prefix("/*") {
            s = rest
                .split_once("*/")
                .map(|x| x.1)
                .unwrap_or("")
                .trim_start();
        } else if let Some(rest) = s.strip_prefix('(') {
            s = rest.trim_start();
        } else {
            return s;
        }
    }
}

/// Remove trailing semicolons and whitespace (COPY (...) cannot contain them).
fn trim_statement(sql: &str) -> &str {
    sql.trim_end().trim_end_matches(';').trim_end()
}

/// Decode one binary row into `rows`, handing a full batch to `sink`.
async fn push_row(row: &tokio_postgres::Row, rows: &mut RowDecoder, sink: &mut Sink) -> Result<()> {
    for (i, col) in rows.columns.iter_mut().enumerate() {
        let raw: Option<Raw<'_>> = row
            .try_get(i)
            .map_err(|e| Error::data(format!("column {i}: {e}")))?;
        col.push(raw.map(|r| r.0))?;
    }
    rows.rows += 1;
    if rows.is_full() {
        let b = rows.finish()?;
        if !sink.batch(b).await {
            return Err(Error::cancelled("the reader was closed"));
        }
    }
    Ok(())
}

/// Hand the decoded batches to `sink`; an error when the reader was closed.
async fn hand_over(full: &mut Vec<arrow_array::RecordBatch>, sink: &mut Sink) -> Result<()> {
    for b in full.drain(..) {
        if !sink.batch(b).await {
            return Err(Error::cancelled("the reader was closed"));
        }
    }
    Ok(())
}

/// Hand the last, partly filled batch of `rows` to `sink`.
async fn finish_rows(rows: &mut RowDecoder, sink: &mut Sink) -> Result<()> {
    if rows.rows > 0 {
        let b = rows.finish()?;
        sink.batch(b).await;
    }
    Ok(())
}

/// The end of a read on a borrowed stream: given back when the server is ready for
/// the next statement, else abandoned (dropped), which ends the connection.
fn settle(io: tap::Borrowed, res: std::result::Result<(), wire::CopyFailure>) -> Result<()> {
    match res {
        Ok(()) => {
            io.give_back();
            Ok(())
        }
        Err(wire::CopyFailure::Server(e)) => {
            io.give_back();
            Err(e)
        }
        Err(wire::CopyFailure::Lost(e)) => Err(e),
        // The statement is still sending: the stream is dropped, which ends the
        // connection (see `settle_closing` for a read that keeps it).
        Err(wire::CopyFailure::Closed(_)) => Err(wire::closed()),
    }
}

/// [`settle`] for a read whose sink may refuse batches (a stream closed by its reader):
/// the statement is cancelled and the rest of its answer read and dropped, so the
/// connection goes back to the pool ready for the next statement. The read then ends
/// without an error (nobody is left to receive one).
async fn settle_closing(
    conn: &PgConn,
    tls: &MakeRustlsConnect,
    mut io: tap::Borrowed,
    res: std::result::Result<(), wire::CopyFailure>,
) -> Result<()> {
    match res {
        Err(wire::CopyFailure::Closed(rest)) => {
            conn.cancel_request(tls).await;
            let res = wire::discard(&mut io, rest).await;
            settle(io, res)
        }
        res => settle(io, res),
    }
}

/// Run `copy_sql` (a binary `COPY ... TO STDOUT`) on `conn` and decode it into `sink`:
/// on the connection's own stream when it can be borrowed ([`wire::copy_out`]), else
/// through tokio-postgres. A read that stopped in the middle of the protocol leaves the
/// connection abandoned (the caller discards it).
async fn copy_into(
    conn: &mut Pooled<PgManager>,
    copy_sql: &str,
    rows: &mut RowDecoder,
    sink: &mut Sink,
) -> Result<()> {
    if let Some(mut io) = conn.tap.as_ref().and_then(|t| t.borrow()) {
        let res = wire::copy_out(&mut io, copy_sql, rows, sink).await;
        return settle(io, res);
    }
    let stream = conn.client.copy_out(copy_sql).await.map_err(map_err)?;
    drain_copy(stream, rows, sink).await
}

/// Decode a running binary COPY into `sink`, batch by batch.
async fn drain_copy<S>(stream: S, rows: &mut RowDecoder, sink: &mut Sink) -> Result<()>
where
    S: futures_util::Stream<Item = std::result::Result<bytes::Bytes, tokio_postgres::Error>>,
{
    pin_mut!(stream);
    let mut parser = CopyParser::new(rows.columns.len());
    let mut full: Vec<arrow_array::RecordBatch> = Vec::new();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(map_err)?;
        let p = parser.feed(&chunk, rows, &mut |r| {
            full.push(r.finish()?);
            Ok(())
        })?;
        hand_over(&mut full, sink).await?;
        if let Progress::Done = p {
            // Drain to the command completion.
            while let Some(c) = stream.next().await {
                c.map_err(map_err)?;
            }
            break;
        }
    }
    if !parser.is_finished() {
        return Err(Error::connection(
            "the COPY stream ended before its trailer",
        ));
    }
    finish_rows(rows, sink).await
}

impl PgConnector {
    pub fn new(cfg: PgConfig) -> Result<Self> {
        let mut c = tokio_postgres::Config::new();
        c.host(&cfg.host).port(cfg.port);
        if let Some(db) = &cfg.database {
            c.dbname(db);
        }
        let user = cfg
            .user
            .clone()
            .or_else(|| std::env::var("PGUSER").ok())
            .or_else(|| std::env::var("USER").ok())
            .unwrap_or_else(|| "postgres".into());
        c.user(&user);
        if let Some(p) = &cfg.password {
            c.password(p);
        }
        c.connect_timeout(cfg.connect_timeout);
        c.application_name(cfg.application_name.as_deref().unwrap_or("sqlarrow"));
        c.keepalives(true);
        // Text values arrive in UTF-8 whatever the database encoding; dates in ISO form.
        if !cfg.redshift {
            let mut options =
                String::from("-c client_encoding=UTF8 -c DateStyle=ISO -c TimeZone=UTC");
            if cfg.read_only {
                options.push_str(" -c default_transaction_read_only=on");
            }
            options.push_str(&cfg.settings.pg_options());
            c.options(&options);
        }
        let (mode, tls) = tls::make_tls(&tls::TlsOptions {
            sslmode: cfg.sslmode.clone(),
            sslrootcert: cfg.sslrootcert.clone(),
            sslcert: cfg.sslcert.clone(),
            sslkey: cfg.sslkey.clone(),
        })?;
        c.ssl_mode(mode);
        let manager = PgManager {
            config: c,
            tls,
            timeout: cfg.connect_timeout + Duration::from_secs(1),
            redshift: cfg.redshift,
            uuid_as_string: cfg.uuid_as_string,
            redshift_settings: (cfg.redshift && !cfg.settings.is_empty())
                .then(|| cfg.settings.pg_set_statements()),
            catalog: CatalogEpoch::default(),
        };
        Ok(PgConnector {
            pool: Pool::new(manager, cfg.pool),
            scan_workers: cfg.scan_workers.max(1),
            scan_min_bytes: cfg.scan_min_bytes,
            unsplit: Default::default(),
        })
    }

    pub fn pool(&self) -> &Pool<PgManager> {
        &self.pool
    }

    pub fn is_redshift(&self) -> bool {
        self.pool.manager().redshift
    }

    async fn checkout(&self, cancel: &CancelSlot) -> Result<Pooled<PgManager>> {
        if cancel.is_cancelled() {
            return Err(Error::cancelled("cancelled before it started"));
        }
        let conn = self.pool.get().await?;
        if self.register_cancel(&conn, cancel) {
            return Err(Error::cancelled("cancelled before it started"));
        }
        Ok(conn)
    }

    /// Make `cancel` send a PostgreSQL cancel request for `conn`'s backend. True when
    /// cancellation was already requested: nothing was sent and the operation must not
    /// start (see [`CancelSlot::register_before_start`]).
    fn register_cancel(&self, conn: &PgConn, cancel: &CancelSlot) -> bool {
        let (canceller, tls) = (conn.canceller(), self.pool.manager().tls.clone());
        cancel.register_before_start(move || Box::pin(canceller.send(&tls)))
    }

    /// The statement-cache key: SQL text plus the declared parameter types.
    fn statement_key(sql: &str, types: &[Type]) -> String {
        let mut key = String::with_capacity(sql.len() + 16);
        key.push_str(sql);
        for t in types {
            key.push('\0');
            key.push_str(&t.oid().to_string());
        }
        key
    }

    async fn prepare(conn: &PgConn, sql: &str, params: &Params) -> Result<Statement> {
        Ok(Self::prepare_named(conn, sql, params).await?.stmt)
    }

    /// [`Self::prepare`], with the statement's server-side name when it is known.
    async fn prepare_named(conn: &PgConn, sql: &str, params: &Params) -> Result<Prepared> {
        Self::prepare_with(conn, sql, params, true).await
    }

    /// [`Self::prepare_named`]; with `reuse` false the text is prepared afresh even when
    /// cached (and the new statement cached instead).
    async fn prepare_with(
        conn: &PgConn,
        sql: &str,
        params: &Params,
        reuse: bool,
    ) -> Result<Prepared> {
        // The protocol counts parameters in 16 bits; past that the driver failed while
        // encoding ("value too large to transmit", raised as a connection error).
        if params.len() > MAX_PARAMS {
            return Err(Error::parameter(format!(
                "PostgreSQL takes at most {MAX_PARAMS} parameters per statement, and {} were \
                 given; pass a list as one array parameter instead (e.g. `id = ANY(:ids)`)",
                params.len()
            )));
        }
        let types: Vec<Type> = params.0.iter().map(declared_type).collect();
        let key = Self::statement_key(sql, &types);
        let prepared = match conn.cached(&key).filter(|_| reuse) {
            Some(s) => s,
            None => {
                let s = conn
                    .client
                    .prepare_typed(sql, &types)
                    .await
                    .map_err(map_err)?;
                let p = Prepared {
                    name: statement_name(&s),
                    markers: dollar_markers(sql, s.params().len()),
                    stmt: s,
                };
                conn.remember(key, &p);
                p
            }
        };
        let (stmt, markers) = (&prepared.stmt, prepared.markers);
        if stmt.params().len() != params.len() || markers != params.len() {
            return Err(Error::parameter(format!(
                "the statement has {} parameter marker(s) but {} value(s) were given",
                markers.max(stmt.params().len()),
                params.len()
            )));
        }
        Ok(prepared)
    }

    fn remember_unsplit(&self, table: &str) {
        let mut m = self.unsplit.lock().unwrap_or_else(|e| e.into_inner());
        if m.len() > 1024 {
            m.clear();
        }
        m.insert(table.to_string(), Instant::now());
    }

    /// Read a large single table over several connections (see [`scan`]). Returns
    /// `Ok(false)` without side effects when the table is small or cannot be split
    /// (the caller then runs the query on one connection).
    async fn parallel_scan(
        &self,
        plan: &scan::ScanPlan,
        sql: &str,
        batch_size: usize,
        sink: &mut Sink,
        cancel: &CancelSlot,
    ) -> Result<bool> {
        let res = self
            .parallel_scan_on(plan, sql, batch_size, sink, cancel)
            .await;
        cancel.clear();
        res
    }

    /// The body of [`Self::parallel_scan`], which clears `cancel` whichever way it ends.
    async fn parallel_scan_on(
        &self,
        plan: &scan::ScanPlan,
        sql: &str,
        batch_size: usize,
        sink: &mut Sink,
        cancel: &CancelSlot,
    ) -> Result<bool> {
        if let Some(t) = self
            .unsplit
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&plan.table)
        {
            if t.elapsed() < UNSPLIT_TTL {
                return Ok(false);
            }
        }
        let first = self.checkout(cancel).await?;
        // One round trip: is it an ordinary, permanent, uninherited table, how big is
        // it, and does the server have TID range scans (PostgreSQL 14+)?
        let probe = format!(
            "SELECT c.relkind = ANY ('{{r,m}}') AND c.relpersistence <> 't' AND NOT c.relhassubclass \
             AND current_setting('server_version_num')::int >= 140000, \
             pg_relation_size(c.oid), current_setting('block_size') \
             FROM pg_class c WHERE c.oid = to_regclass({})",
            scan::quote_literal(&plan.table)
        );
        let rows = match first.client.simple_query(&probe).await {
            Ok(r) => r,
            Err(_) => {
                return Ok(false);
            }
        };
        let info = rows.iter().find_map(|m| match m {
            tokio_postgres::SimpleQueryMessage::Row(r) => Some((
                r.get(0) == Some("t"),
                r.get(1).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0),
                r.get(2).and_then(|v| v.parse::<u64>().ok()).unwrap_or(8192),
            )),
            _ => None,
        });
        let Some((true, bytes, block_size)) = info else {
            self.remember_unsplit(&plan.table);
            return Ok(false);
        };
        if bytes < self.scan_min_bytes.max(1) || bytes < 2 * block_size {
            self.remember_unsplit(&plan.table);
            return Ok(false);
        }
        // The result schema, from the statement itself (cached like any query).
        let stmt = Self::prepare(&first, trim_statement(sql), &Params::default()).await?;
        let (schema, kinds) = schema_for(stmt.columns(), self.pool.manager().uuid_as_string)?;
        if kinds.is_empty() {
            return Ok(false);
        }
        // Only connections that are free right now: a busy pool runs the scan on fewer.
        let mut conns = vec![first];
        while conns.len() < self.scan_workers {
            match self.pool.try_get().await {
                Some(Ok(c)) => conns.push(c),
                _ => break,
            }
        }
        if conns.len() < 2 {
            return Ok(false);
        }
        // One snapshot for every range. The lock timeout keeps a range from waiting
        // forever behind DDL queued on the table after the first range locked it.
        let begin =
            "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY; SET LOCAL lock_timeout = '10s'";
        let exported = async {
            let msgs = conns[0]
                .client
                .simple_query(&format!("{begin}; SELECT pg_export_snapshot()"))
                .await
                .map_err(map_err)?;
            msgs.iter()
                .find_map(|m| match m {
                    tokio_postgres::SimpleQueryMessage::Row(r) => r.get(0).map(str::to_string),
                    _ => None,
                })
                .ok_or_else(|| Error::interface("pg_export_snapshot returned no row"))
        }
        .await;
        let snapshot = match exported {
            Ok(s) => s,
            Err(_) => {
                // E.g. a hot standby that cannot export snapshots: one connection.
                let _ = conns[0].client.simple_query("ROLLBACK").await;
                self.remember_unsplit(&plan.table);
                return Ok(false);
            }
        };
        let import = format!(
            "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY; SET TRANSACTION SNAPSHOT {}; \
             SET LOCAL lock_timeout = '10s'",
            scan::quote_literal(&snapshot)
        );
        let imports = futures_util::future::join_all(
            conns[1..].iter().map(|c| c.client.simple_query(&import)),
        )
        .await;
        if imports.iter().any(|r| r.is_err()) {
            for c in &conns {
                let _ = c.client.simple_query("ROLLBACK").await;
            }
            return Ok(false);
        }
        // Cancelling the query cancels every range.
        let cancellers: Vec<Canceller> = conns.iter().map(|c| c.canceller()).collect();
        let tls = self.pool.manager().tls.clone();
        let cancel_all = move || -> crate::cancel::CancelFuture {
            let all = futures_util::future::join_all(cancellers.iter().map(|c| c.send(&tls)));
            Box::pin(async move {
                all.await;
            })
        };
        if let Some(fut) = cancel.register(cancel_all.clone()) {
            // Cancelled while the ranges were being set up: nothing runs yet.
            fut.await;
            for c in &conns {
                let _ = c.client.simple_query("ROLLBACK").await;
            }
            return Err(Error::cancelled("cancelled before it started"));
        }
        let blocks = bytes / block_size;
        let ranges = scan::ranges(blocks, conns.len());
        // Each range decodes on its own task (so on its own worker thread).
        let tasks: Vec<_> = conns
            .into_iter()
            .zip(ranges)
            .map(|(conn, (lo, hi))| {
                let copy_sql = format!(
                    "COPY ({}) TO STDOUT (FORMAT binary)",
                    plan.range_sql(lo, hi)
                );
                let schema = schema.clone();
                let kinds = kinds.clone();
                tokio::spawn(async move {
                    let mut conn = conn;
                    let res = async {
                        let mut rows = RowDecoder::new(schema, &kinds, batch_size.max(1));
                        let mut part = Sink::collect();
                        copy_into(&mut conn, &copy_sql, &mut rows, &mut part).await?;
                        match part {
                            Sink::Collect { batches, .. } => Ok(batches),
                            Sink::Channel { .. } => unreachable!("collect sink"),
                        }
                    }
                    .await;
                    if conn.tap.as_ref().is_some_and(|t| t.is_abandoned()) {
                        conn.mark_broken();
                        return res;
                    }
                    // Each range ends its own transaction (also when the caller is gone),
                    // so no connection goes back to the pool inside one.
                    let end = if res.is_ok() { "COMMIT" } else { "ROLLBACK" };
                    let ended = conn.client.simple_query(end).await.map_err(map_err);
                    conn.observe(&ended);
                    if ended.is_err() {
                        conn.mark_broken();
                    }
                    res
                })
            })
            .collect();
        // The first error stops the other ranges and is the one reported.
        let parts = crate::stream::gather_parts(tasks, cancel_all).await?;
        sink.schema(schema);
        for b in parts.into_iter().flatten() {
            sink.batch(b).await;
        }
        Ok(true)
    }

    /// Run a query to completion on the calling thread through an idle pooled
    /// connection, driving its socket here (see [`crate::direct`]): one thread wake-up
    /// per round trip instead of three. `None`: this path does not apply (no idle TCP
    /// connection right now, or a read that may become a parallel scan); use
    /// [`PgConnector::query`].
    ///
    /// At `deadline`, or when `interrupted` (asked every 50 ms) says so, a cancel
    /// request (run on `rt`) stops the statement and the connection is discarded.
    #[cfg(unix)]
    pub fn query_direct(
        &self,
        sql: &str,
        params: &Params,
        batch_size: usize,
        deadline: Option<Instant>,
        interrupted: &dyn Fn() -> bool,
        rt: &tokio::runtime::Handle,
    ) -> Option<Result<Sink>> {
        if self.scan_candidate(sql, params).is_some() {
            return None;
        }
        let mut conn = self.pool.try_idle()?;
        let parts = conn.direct.clone()?;
        // Anything the statement's future creates on tokio belongs to `rt`.
        let _ctx = rt.enter();
        let mut sink = Sink::collect();
        let res = {
            let fut = self.query_fresh(&conn, sql, params, batch_size, &mut sink);
            let mut fut = std::pin::pin!(fut);
            drive_direct(&parts, fut.as_mut(), deadline, interrupted)
        };
        Some(self.finish_direct(&mut conn, res, rt).map(|()| sink))
    }

    /// [`PgConnector::execute`] on the calling thread, as [`PgConnector::query_direct`]
    /// does for queries. `None`: no idle TCP connection right now.
    #[cfg(unix)]
    pub fn execute_direct(
        &self,
        sql: &str,
        params: &Params,
        deadline: Option<Instant>,
        interrupted: &dyn Fn() -> bool,
        rt: &tokio::runtime::Handle,
    ) -> Option<Result<u64>> {
        let mut conn = self.pool.try_idle()?;
        let parts = conn.direct.clone()?;
        let _ctx = rt.enter();
        let res = {
            let fut = Self::execute_on(&conn, sql, params);
            let mut fut = std::pin::pin!(fut);
            drive_direct(&parts, fut.as_mut(), deadline, interrupted)
        };
        Some(self.finish_direct(&mut conn, res, rt))
    }

    /// The outcome of a statement driven by [`drive_direct`]. One stopped at its
    /// deadline or by Ctrl-C is cancelled on the server and its connection discarded.
    #[cfg(unix)]
    fn finish_direct<T>(
        &self,
        conn: &mut Pooled<PgManager>,
        res: std::result::Result<Result<T>, crate::direct::Stop>,
        rt: &tokio::runtime::Handle,
    ) -> Result<T> {
        match res {
            Ok(r) => {
                conn.observe(&r);
                r
            }
            Err(stop) => {
                rt.block_on(conn.cancel_request(&self.pool.manager().tls));
                conn.mark_broken();
                Err(stop.error())
            }
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
                    .parallel_scan(&plan, sql, batch_size, sink, cancel)
                    .await?
                {
                    return Ok(());
                }
            }
        }
        let mut conn = self.checkout(cancel).await?;
        let res = self.query_fresh(&conn, sql, params, batch_size, sink).await;
        if matches!(&res, Err(e) if e.kind == ErrorKind::Cancelled) && !cancel.is_cancelled() {
            // The reader went away mid-result: stop the server from sending the rest.
            // Awaited before the connection returns to the pool, so a late cancel
            // cannot hit the next statement.
            conn.cancel_request(&self.pool.manager().tls).await;
        }
        conn.observe(&res);
        cancel.clear();
        res
    }

    /// The plan of a read that may be split into a parallel scan: an unfiltered
    /// single-table SELECT without parameters, when splitting is on (never on
    /// Redshift). Only unfiltered scans: a WHERE clause may be a selective index
    /// lookup, and telling it apart costs a round trip (EXPLAIN) on every such query.
    fn scan_candidate(&self, sql: &str, params: &Params) -> Option<scan::ScanPlan> {
        if self.scan_workers < 2 || !params.is_empty() || self.pool.manager().redshift {
            return None;
        }
        scan::plan_unfiltered(trim_statement(sql), scan::Flavor::Postgres)
    }

    /// [`PgConnector::query_on`], run once more with a fresh statement when the cached
    /// one went stale (and nothing was delivered yet).
    async fn query_fresh(
        &self,
        conn: &PgConn,
        sql: &str,
        params: &Params,
        batch_size: usize,
        sink: &mut Sink,
    ) -> Result<()> {
        let res = self.query_on(conn, sql, params, batch_size, sink).await;
        if matches!(&res, Err(e) if stale_statement(e)) && !sink.delivered_any() {
            conn.forget_all();
            return self.query_on(conn, sql, params, batch_size, sink).await;
        }
        res
    }

    /// Run a read on `conn`; the notices the server sent about it (a `RAISE NOTICE` in
    /// a function, a deprecation WARNING) go to `sink` as the statement's warnings.
    async fn query_on(
        &self,
        conn: &PgConn,
        sql: &str,
        params: &Params,
        batch_size: usize,
        sink: &mut Sink,
    ) -> Result<()> {
        // Notices of earlier statements (an `execute`, a write) are not this read's.
        conn.take_notices();
        let res = self.read_on(conn, sql, params, batch_size, sink).await;
        sink.warn(conn.take_notices());
        conn.note_outcome(sql, &res);
        res
    }

    async fn read_on(
        &self,
        conn: &PgConn,
        sql: &str,
        params: &Params,
        batch_size: usize,
        sink: &mut Sink,
    ) -> Result<()> {
        let sql = trim_statement(sql);
        if params.is_empty() {
            let markers = dollar_markers(sql, 0);
            if markers > 0 {
                return Err(Error::parameter(format!(
                    "the statement has {markers} parameter marker(s) but no values were given"
                )));
            }
        }
        // A parameterless read whose text this connection has not run recently goes
        // unprepared: one round trip, one parse. A text seen again is prepared and
        // cached, so its later runs are one Bind/Execute round trip without a parse.
        // Streams are always prepared: an unprepared read may have to keep its rows
        // whole until their types are known (`decode_stash`), which a stream must not.
        if params.is_empty()
            && sink.is_collect()
            && copyable(sql)
            && !self.pool.manager().redshift
            && conn.cached(&Self::statement_key(sql, &[])).is_none()
            && conn.first_sight(sql)
        {
            return self.query_unprepared(conn, sql, batch_size, sink).await;
        }
        // A stream hands its schema to the reader before the statement runs, so a
        // cached statement the server then refuses as stale (0A000, a table altered
        // since) could not be run again: a stream prepares afresh (one round trip more,
        // for a result read in batches).
        let prepared = Self::prepare_with(conn, sql, params, sink.is_collect()).await?;
        let stmt = &prepared.stmt;
        let (schema, kinds) = schema_for(stmt.columns(), self.pool.manager().uuid_as_string)?;
        sink.schema(schema.clone());
        let mut rows = RowDecoder::new(schema, &kinds, batch_size.max(1));
        if stmt.columns().is_empty() {
            // Not a query (DDL/DML without RETURNING): run it, return no columns.
            let p: Vec<PgParam<'_>> = params.0.iter().map(PgParam).collect();
            conn.client.execute_raw(stmt, p).await.map_err(map_err)?;
            return Ok(());
        }
        // Rows are read on the connection's own stream: DataRows decoded in place (see
        // [`wire::rows_out`]). A stream's reader that falls behind stops the reading,
        // and with it the server (TCP's flow control); one that closes the stream early
        // has the statement cancelled.
        if let (Some(name), Some(tap)) = (&prepared.name, &conn.tap) {
            let p: Vec<PgParam<'_>> = params.0.iter().map(PgParam).collect();
            let request = wire::bind_execute(name, stmt.params(), &p)?;
            if let Some(mut io) = tap.borrow() {
                let res = wire::rows_out(&mut io, &request, &mut rows, sink).await;
                return settle_closing(conn, &self.pool.manager().tls, io, res).await;
            }
        }
        {
            let p: Vec<PgParam<'_>> = params.0.iter().map(PgParam).collect();
            let stream = conn.client.query_raw(stmt, p).await.map_err(map_err)?;
            pin_mut!(stream);
            while let Some(row) = stream.try_next().await.map_err(map_err)? {
                push_row(&row, &mut rows, sink).await?;
            }
        }
        finish_rows(&mut rows, sink).await
    }

    /// A parameterless read run without preparing: the unnamed statement parsed, bound,
    /// described and executed in one round trip, rows in binary (each field encoded as
    /// in binary COPY). The schema comes from the rows' description; an empty result
    /// has no row to carry it, so its statement is then described (and cached).
    async fn query_unprepared(
        &self,
        conn: &PgConn,
        sql: &str,
        batch_size: usize,
        sink: &mut Sink,
    ) -> Result<()> {
        // The result is read on the connection's own stream when it can be borrowed:
        // the answer's DataRows decoded in place, as for prepared statements.
        if let Some(mut io) = conn.tap.as_ref().and_then(|t| t.borrow()) {
            let request = wire::parse_execute(sql)?;
            let uuid_as_string = self.pool.manager().uuid_as_string;
            let mut describe = |cols: &[wire::ColumnDesc<'_>]| {
                // A type of this database (an enum, a domain, an extension's) is
                // not built in: tokio-postgres looks it up once the rows are in.
                let types: Option<Vec<Type>> =
                    cols.iter().map(|c| Type::from_oid(c.type_oid)).collect();
                let Some(types) = types else {
                    return Ok(None);
                };
                let named = cols
                    .iter()
                    .zip(&types)
                    .map(|(c, t)| (c.name, t, c.modifier));
                let (schema, kinds) = decode::schema_of(named, uuid_as_string)?;
                Ok(Some(RowDecoder::new(schema, &kinds, batch_size.max(1))))
            };
            let res = wire::described_out(&mut io, &request, &mut describe, sink).await;
            let stash = match res {
                Ok(wire::Described::Rows) => return settle(io, Ok(())),
                Ok(wire::Described::NoData) => {
                    settle(io, Ok(()))?;
                    sink.schema(Arc::new(arrow_schema::Schema::empty()));
                    return Ok(());
                }
                Ok(wire::Described::Stashed(stash)) => {
                    settle(io, Ok(()))?;
                    stash
                }
                Err(e) => return settle(io, Err(e)),
            };
            return self.decode_stash(conn, sql, &stash, batch_size, sink).await;
        }
        let none = std::iter::empty::<(&(dyn tokio_postgres::types::ToSql + Sync), Type)>();
        let stream = conn
            .client
            .query_typed_raw(sql, none)
            .await
            .map_err(map_err)?;
        pin_mut!(stream);
        let mut rows: Option<RowDecoder> = None;
        while let Some(row) = stream.try_next().await.map_err(map_err)? {
            let dec = match rows.as_mut() {
                Some(dec) => dec,
                None => {
                    let (schema, kinds) =
                        match schema_for(row.columns(), self.pool.manager().uuid_as_string) {
                            Ok(x) => x,
                            Err(e) => {
                                // Stop the server from sending the rest before reporting.
                                conn.cancel_request(&self.pool.manager().tls).await;
                                return Err(e);
                            }
                        };
                    sink.schema(schema.clone());
                    rows.insert(RowDecoder::new(schema, &kinds, batch_size.max(1)))
                }
            };
            push_row(&row, dec, sink).await?;
        }
        match rows.as_mut() {
            Some(dec) => finish_rows(dec, sink).await,
            None => {
                let stmt = Self::prepare(conn, sql, &Params::default()).await?;
                let (schema, _) = schema_for(stmt.columns(), self.pool.manager().uuid_as_string)?;
                sink.schema(schema);
                Ok(())
            }
        }
    }

    /// Decode DataRow messages kept whole by [`wire::described_out`] (whose columns had
    /// types tokio-postgres had to look up): the statement is prepared, which resolves
    /// its types and caches it, and the rows go through the same block decoder.
    async fn decode_stash(
        &self,
        conn: &PgConn,
        sql: &str,
        stash: &[u8],
        batch_size: usize,
        sink: &mut Sink,
    ) -> Result<()> {
        let stmt = Self::prepare(conn, sql, &Params::default()).await?;
        let (schema, kinds) = schema_for(stmt.columns(), self.pool.manager().uuid_as_string)?;
        sink.schema(schema.clone());
        let mut rows = RowDecoder::new(schema, &kinds, batch_size.max(1));
        let mut block = copy::TupleBlock::new(kinds.len());
        let mut full = Vec::new();
        let mut at = 0;
        while let Some((_, start, end)) = wire::frame(stash, at)? {
            block.take_data_row(stash, start, end, &mut rows, &mut |r| {
                full.push(r.finish()?);
                Ok(())
            })?;
            at = end;
            hand_over(&mut full, sink).await?;
        }
        if at != stash.len() {
            return Err(Error::interface(
                "malformed DataRow message from the server",
            ));
        }
        block.decode(stash, &mut rows, &mut |r| {
            full.push(r.finish()?);
            Ok(())
        })?;
        hand_over(&mut full, sink).await?;
        finish_rows(&mut rows, sink).await
    }

    /// Run one statement; returns rows affected.
    pub async fn execute(&self, sql: &str, params: &Params, cancel: &CancelSlot) -> Result<u64> {
        let mut conn = self.checkout(cancel).await?;
        let res = Self::execute_on(&conn, sql, params).await;
        conn.observe(&res);
        cancel.clear();
        res
    }

    /// One statement on `conn`: the simple protocol (scripts, utility commands) when
    /// nothing is bound, else the cached prepared statement. Returns rows affected.
    pub(crate) async fn execute_on(conn: &PgConn, sql: &str, params: &Params) -> Result<u64> {
        let res = Self::execute_statement(conn, sql, params).await;
        conn.note_outcome(sql, &res);
        res
    }

    async fn execute_statement(conn: &PgConn, sql: &str, params: &Params) -> Result<u64> {
        if params.is_empty() {
            // Simple protocol: allows several statements and utility commands.
            let msgs = conn.client.simple_query(sql).await.map_err(map_err)?;
            Ok(msgs
                .iter()
                .filter_map(|m| match m {
                    tokio_postgres::SimpleQueryMessage::CommandComplete(n) => Some(*n),
                    _ => None,
                })
                .sum())
        } else {
            let stmt = Self::prepare(conn, sql, params).await?;
            let p: Vec<PgParam<'_>> = params.0.iter().map(PgParam).collect();
            conn.client.execute_raw(&stmt, p).await.map_err(map_err)
        }
    }

    /// Run one statement per parameter set in one transaction (pipelined).
    pub async fn executemany(
        &self,
        sql: &str,
        sets: &[Params],
        cancel: &CancelSlot,
    ) -> Result<u64> {
        if sets.is_empty() {
            return Ok(0);
        }
        let mut conn = self.checkout(cancel).await?;
        let res = async {
            // Declare each parameter's type from its non-NULL values. Where they are of
            // different kinds (1 in one set, 2.5 in the next), leave it undeclared for the
            // server to take from the statement (the column of an INSERT): declared from
            // the first value, 2.5 was refused by an int8 parameter for a float8 column.
            let width = sets[0].len();
            if let Some((i, bad)) = sets.iter().enumerate().find(|(_, p)| p.len() != width) {
                return Err(Error::parameter(format!(
                    "parameter set {i} has {} value(s), the first has {width}",
                    bad.len()
                )));
            }
            let probe = Params(
                (0..width)
                    .map(|j| {
                        let mut values = sets
                            .iter()
                            .map(|p| &p.0[j])
                            .filter(|v| !matches!(v, Value::Null));
                        let Some(first) = values.next() else {
                            return Value::Null;
                        };
                        let kind = std::mem::discriminant(first);
                        if values.all(|v| std::mem::discriminant(v) == kind) {
                            first.clone()
                        } else {
                            Value::Null
                        }
                    })
                    .collect(),
            );
            let stmt = Self::prepare(&conn, sql, &probe).await?;
            conn.client.batch_execute("BEGIN").await.map_err(map_err)?;
            let mut total = 0u64;
            let outcome: Result<()> = async {
                for chunk in sets.chunks(256) {
                    let futs = chunk.iter().map(|p| {
                        let args: Vec<PgParam<'_>> = p.0.iter().map(PgParam).collect();
                        conn.client.execute_raw(&stmt, args)
                    });
                    let counts = futures_util::future::try_join_all(futs)
                        .await
                        .map_err(map_err)?;
                    total += counts.iter().sum::<u64>();
                }
                Ok(())
            }
            .await;
            match outcome {
                Ok(()) => {
                    conn.client.batch_execute("COMMIT").await.map_err(map_err)?;
                    Ok(total)
                }
                Err(e) => {
                    let _ = conn.client.batch_execute("ROLLBACK").await;
                    Err(e)
                }
            }
        }
        .await;
        conn.observe(&res);
        cancel.clear();
        res
    }

    /// Connect (or reuse a pooled connection) and read the server version.
    pub async fn server_version(&self) -> Result<String> {
        let mut conn = self.pool.get().await?;
        let res = conn
            .client
            .simple_query("SHOW server_version")
            .await
            .map_err(map_err)
            .map(|msgs| {
                msgs.iter()
                    .find_map(|m| match m {
                        tokio_postgres::SimpleQueryMessage::Row(r) => {
                            r.get(0).map(|s| s.to_string())
                        }
                        _ => None,
                    })
                    .unwrap_or_default()
            });
        conn.observe(&res);
        res
    }
}

/// Latency of one round trip plus the version, for `test_connection`.
pub async fn probe(c: &PgConnector) -> Result<(f64, String)> {
    let t = Instant::now();
    let v = c.server_version().await?;
    Ok((t.elapsed().as_secs_f64() * 1000.0, v))
}

pub type Shared = Arc<PgConnector>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statement_names_come_from_the_debug_form() {
        let n = name_in_debug(r#"Statement { name: "s12", params: [], columns: [] }"#);
        assert_eq!(n.as_deref(), Some("s12"));
        for other in [
            r#"Statement { params: [], name: "s1" }"#,
            r#"Statement { name: "", params: [] }"#,
            r#"Statement { name: "a b", params: [] }"#,
            r#"Statement { name: "s1"#,
        ] {
            assert!(name_in_debug(other).is_none(), "{other}");
        }
    }

    #[test]
    fn copyable_detection() {
        assert!(copyable("select 1"));
        assert!(copyable(
            "  -- c\n /* x */ WITH a as (select 1) select * from a"
        ));
        assert!(copyable("(select 1) union (select 2)"));
        assert!(!copyable("show server_version"));
        assert!(!copyable("insert into t values (1) returning *"));
        assert_eq!(trim_statement("select 1 ; \n"), "select 1");
    }
}
