//! A lean MySQL/MariaDB client connection for reading query results into Arrow.
//!
//! `mysql_async` builds a `Row` for every row: a vector of values, a separate heap
//! allocation for every string cell, a pooled buffer and an async state machine per
//! packet. On a full read that costs more client CPU than the server spends producing
//! the rows. This connection reads the socket in large chunks and decodes the
//! binary-protocol row packets in place, straight into the column buffers: no per-row
//! or per-cell allocation, no await per row.
//!
//! It speaks only what a query needs: the handshake with `mysql_native_password`,
//! `caching_sha2_password` (fast path) or MariaDB's `ed25519`, over plain TCP or TLS
//! (rustls, the connector's `ssl_mode`, see [`super::tls`]),
//! `COM_STMT_PREPARE`/`EXECUTE`/`CLOSE` and `COM_QUERY` for session setup. Anything else
//! it reports as [`Unsupported`] at connect (other auth plugins such as MariaDB's
//! `parsec`, a caching_sha2 full authentication, a server without
//! `CLIENT_DEPRECATE_EOF`, TLS required of a server without it) or per statement (a
//! statement the server cannot prepare, parameters sent as long data), and the connector
//! then uses `mysql_async`, which handles all of those (or reports them). Packet parsing
//! helpers (handshake, column definitions, error packets, execute requests) come from
//! `mysql_common`, the library under `mysql_async`.

use std::collections::HashMap;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use mysql_async::consts::{CapabilityFlags, ColumnFlags, ColumnType, StatusFlags};
use mysql_async::{Column, Value as MyValue};
use mysql_common::constants::MariadbCapabilities;
use mysql_common::io::ParseBuf;
use mysql_common::packets::{
    AuthPlugin, ComStmtClose, ComStmtExecuteRequestBuilder, ErrPacket, HandshakePacket,
    HandshakeResponse, SslRequest, StmtPacket,
};
use mysql_common::proto::MySerialize;
use rustls::pki_types::{CertificateDer, ServerName};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::TcpStream;

use super::decode::{schema_for, Cell, DecodeOptions, RowDecoder};
use super::{packet, server_error, SslMode, SESSION_INIT};
use crate::direct::{DirectFlags, HybridStream, ReadPacer};
use crate::error::{Error, Result};
use crate::stream::Sink;
pub(super) use crate::stream::MAX_WARNINGS;

/// The collation the handshake asks for (utf8mb4_general_ci).
const UTF8MB4_GENERAL_CI: u8 = 45;
/// Largest payload of one packet; a longer payload continues in the next packet.
const MAX_PAYLOAD: usize = 0xFF_FFFF;
/// Read buffer size: large reads mean few syscalls and wake-ups per batch.
const READ_CHUNK: usize = 256 << 10;
/// Prepared statements kept per connection (all closed when it overflows).
const STMT_CACHE: usize = 64;
/// ER_UNSUPPORTED_PS and ER_NEED_REPREPARE.
const ER_UNSUPPORTED_PS: u16 = 1295;
const ER_NEED_REPREPARE: u16 = 1615;

/// The detail key that marks an error as "this connection/statement cannot take the
/// fast path" (not a failure of the operation: the caller falls back to `mysql_async`).
pub const UNSUPPORTED: &str = "wire_unsupported";

fn unsupported(why: &str) -> Error {
    Error::interface(format!("fast reader unavailable: {why}")).with_detail(UNSUPPORTED, why)
}

/// Whether `e` means "use the `mysql_async` path instead".
pub fn is_unsupported(e: &Error) -> bool {
    e.detail(UNSUPPORTED).is_some()
}

/// Whether `e` is the reader's "caching_sha2_password wants a full authentication".
pub fn is_full_auth(e: &Error) -> bool {
    e.detail(UNSUPPORTED) == Some(FULL_AUTH)
}

const FULL_AUTH: &str = "caching_sha2_password full authentication";

/// The server error number of `e`, if it is a server error.
fn errno(e: &Error) -> Option<u16> {
    e.detail("errno")?.parse().ok()
}

fn protocol(what: &str) -> Error {
    Error::connection(format!("malformed packet from the server: {what}"))
}

/// How to open a fast-reader connection (the connector's settings, plain TCP).
#[derive(Clone)]
pub struct WireConfig {
    pub host: String,
    pub port: u16,
    pub user: String,
    pub password: Option<String>,
    pub database: Option<String>,
    pub mode: SslMode,
    /// The TLS settings (`None` when `mode` is `disabled`).
    pub tls: Option<Arc<rustls::ClientConfig>>,
    pub read_only: bool,
    /// The connector's `SET SESSION ...` of user settings, if any.
    pub settings: Option<String>,
}

/// The connection's byte stream: plain TCP, or TLS over it.
enum Sock {
    Plain(HybridStream),
    Tls(Box<tokio_rustls::client::TlsStream<HybridStream>>),
    /// Only while the plain stream is being upgraded to TLS.
    Upgrading,
}

fn upgrading() -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::NotConnected, "the TLS upgrade failed")
}

impl AsyncRead for Sock {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            Sock::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Sock::Tls(t) => Pin::new(t.as_mut()).poll_read(cx, buf),
            Sock::Upgrading => Poll::Ready(Err(upgrading())),
        }
    }
}

impl AsyncWrite for Sock {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        match self.get_mut() {
            Sock::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Sock::Tls(t) => Pin::new(t.as_mut()).poll_write(cx, buf),
            Sock::Upgrading => Poll::Ready(Err(upgrading())),
        }
    }
    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            Sock::Plain(s) => Pin::new(s).poll_flush(cx),
            Sock::Tls(t) => Pin::new(t.as_mut()).poll_flush(cx),
            Sock::Upgrading => Poll::Ready(Err(upgrading())),
        }
    }
    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            Sock::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Sock::Tls(t) => Pin::new(t.as_mut()).poll_shutdown(cx),
            Sock::Upgrading => Poll::Ready(Ok(())),
        }
    }
}

/// Where the payload of the last packet read is.
#[derive(Clone, Copy)]
enum Payload {
    /// `buf[start..end]`.
    Buf(usize, usize),
    /// Reassembled from several packets in `big`.
    Big,
}

/// One fast-reader connection.
pub struct WireConn {
    sock: Sock,
    /// The TCP socket's descriptor and direct-use switch, under TLS too.
    #[cfg(unix)]
    fd: std::os::fd::RawFd,
    flags: Arc<DirectFlags>,
    buf: Vec<u8>,
    pos: usize,
    end: usize,
    big: Vec<u8>,
    seq: u8,
    id: u32,
    caps: CapabilityFlags,
    /// Prepared statements by SQL text: (statement id, number of parameters).
    stmts: HashMap<String, (u32, usize)>,
    /// A statement's result was left unread (or the stream broke): not reusable.
    dirty: bool,
    /// A unit of work (a bulk write's transaction) is open: a connection dropped in
    /// this state (its future cancelled) must not go back to the pool.
    busy: bool,
    /// The server takes MariaDB's `COM_STMT_BULK_EXECUTE` (parameter arrays).
    bulk: bool,
    /// The session's `max_allowed_packet`, once asked (see [`super::packet`]).
    max_packet: Option<usize>,
}

/// What a statement produced.
pub enum Outcome {
    /// A result set was read to its end.
    Rows,
    /// No result set (DDL/DML): the schema was empty.
    NoRows,
}

impl WireConn {
    /// The server's id of this connection (for `KILL QUERY`).
    pub fn id(&self) -> u32 {
        self.id
    }

    pub fn is_dirty(&self) -> bool {
        self.dirty || self.busy
    }

    /// Whether the server takes `COM_STMT_BULK_EXECUTE` (MariaDB 10.2+).
    pub fn can_bulk(&self) -> bool {
        self.bulk
    }

    /// Open or close a unit of work that must not outlive a dropped connection (see
    /// [`WireConn::is_dirty`]).
    pub(super) fn set_busy(&mut self, busy: bool) {
        self.busy = busy;
    }

    /// Whether the byte stream is still in step with the server (no broken read or
    /// write, no result left unread): a statement can still be sent.
    pub(super) fn in_step(&self) -> bool {
        !self.dirty
    }

    /// The socket and its switch, to drive a statement on the calling thread
    /// ([`crate::direct`]).
    #[cfg(unix)]
    pub fn direct_parts(&self) -> (std::os::fd::RawFd, Arc<DirectFlags>) {
        (self.fd, self.flags.clone())
    }

    /// Connect, authenticate and run the session setup.
    pub async fn connect(cfg: &WireConfig) -> Result<WireConn> {
        let mut c = WireConn::open(&cfg.host, cfg.port).await?;
        c.handshake(cfg).await?;
        c.simple(SESSION_INIT).await?;
        if let Some(set) = &cfg.settings {
            c.simple(set)
                .await
                .map_err(|e| e.context("the connector's settings were refused"))?;
        }
        if cfg.read_only {
            c.simple("SET SESSION TRANSACTION READ ONLY").await?;
        }
        Ok(c)
    }

    /// The TCP connection, before the server's greeting is read.
    async fn open(host: &str, port: u16) -> Result<WireConn> {
        #[cfg(unix)]
        let sock = if super::is_socket_path(host) {
            let sock = tokio::net::UnixStream::connect(host).await.map_err(|e| {
                Error::connection(format!(
                    "cannot reach the MySQL server through the Unix socket {host}: {e}"
                ))
            })?;
            HybridStream::new_unix(sock)
        } else {
            Self::tcp(host, port).await?
        };
        #[cfg(not(unix))]
        let sock = Self::tcp(host, port).await?;
        Ok(WireConn {
            #[cfg(unix)]
            fd: sock.fd(),
            flags: sock.flags(),
            sock: Sock::Plain(sock),
            buf: vec![0; READ_CHUNK],
            pos: 0,
            end: 0,
            big: Vec::new(),
            seq: 0,
            id: 0,
            caps: CapabilityFlags::empty(),
            stmts: HashMap::new(),
            dirty: false,
            busy: false,
            bulk: false,
            max_packet: None,
        })
    }

    async fn tcp(host: &str, port: u16) -> Result<HybridStream> {
        let sock = TcpStream::connect((host, port))
            .await
            .map_err(|e| Error::connection(format!("cannot reach the MySQL server: {e}")))?;
        let _ = sock.set_nodelay(true);
        Ok(HybridStream::new(sock))
    }

    /// The server's greeting (a handshake packet, parsed by the caller), or the error
    /// it sent instead.
    async fn greeting(&mut self) -> Result<Vec<u8>> {
        let p = self.packet().await?;
        if self.data(p).first() == Some(&0xFF) {
            return Err(self.err_packet(p));
        }
        Ok(self.data(p).to_vec())
    }

    /// Whether the server at `host:port` is MariaDB, from its greeting (the connection
    /// is dropped before any login).
    pub async fn server_is_mariadb(host: &str, port: u16) -> Result<bool> {
        let mut c = WireConn::open(host, port).await?;
        let data = c.greeting().await?;
        let hs = parse_greeting(&data)?;
        Ok(hs.maria_db_server_version_parsed().is_some()
            || hs.server_version_str().contains("MariaDB"))
    }

    /// The server's certificate, checked as `config` checks it, from a connection that
    /// goes as far as the TLS upgrade and is then dropped (verify_ca's probe, see
    /// [`super::tls`]).
    pub async fn peer_certificate(
        host: &str,
        port: u16,
        config: Arc<rustls::ClientConfig>,
    ) -> Result<CertificateDer<'static>> {
        let mut c = WireConn::open(host, port).await?;
        let data = c.greeting().await?;
        let hs = parse_greeting(&data)?;
        if !hs.capabilities().contains(CapabilityFlags::CLIENT_SSL) {
            return Err(Error::connection(
                "the server does not support TLS; use ssl_mode='preferred' or 'disabled' to \
                 connect without it",
            )
            .transient(false));
        }
        c.caps = (CapabilityFlags::CLIENT_PROTOCOL_41
            | CapabilityFlags::CLIENT_SECURE_CONNECTION
            | CapabilityFlags::CLIENT_LONG_PASSWORD)
            & hs.capabilities();
        c.start_tls(config, host, MariadbCapabilities::empty())
            .await?;
        let cert = match &c.sock {
            Sock::Tls(t) => t.get_ref().1.peer_certificates().and_then(|c| c.first()),
            _ => None,
        };
        let cert = cert
            .map(|c| c.clone().into_owned())
            .ok_or_else(|| Error::connection("TLS error: the server sent no certificate"))?;
        let _ = c.sock.shutdown().await;
        Ok(cert)
    }

    async fn handshake(&mut self, cfg: &WireConfig) -> Result<()> {
        let data = self.greeting().await?;
        let hs = parse_greeting(&data)?;
        let server = hs.capabilities();
        let offered = server.contains(CapabilityFlags::CLIENT_SSL);
        let tls = match (cfg.mode, &cfg.tls) {
            (SslMode::Disabled, _) => None,
            (_, Some(config)) if offered => Some(config.clone()),
            (SslMode::Preferred, _) => None,
            // TLS required of a server without it: mysql_async reports that.
            _ => return Err(unsupported("TLS required but not offered")),
        };
        if !server.contains(CapabilityFlags::CLIENT_DEPRECATE_EOF)
            || !server.contains(CapabilityFlags::CLIENT_PROTOCOL_41)
        {
            return Err(unsupported("server without CLIENT_DEPRECATE_EOF"));
        }
        let mut want = CapabilityFlags::CLIENT_LONG_PASSWORD
            | CapabilityFlags::CLIENT_LONG_FLAG
            | CapabilityFlags::CLIENT_PROTOCOL_41
            | CapabilityFlags::CLIENT_TRANSACTIONS
            | CapabilityFlags::CLIENT_SECURE_CONNECTION
            | CapabilityFlags::CLIENT_MULTI_RESULTS
            | CapabilityFlags::CLIENT_PS_MULTI_RESULTS
            | CapabilityFlags::CLIENT_PLUGIN_AUTH
            | CapabilityFlags::CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA
            | CapabilityFlags::CLIENT_DEPRECATE_EOF;
        if cfg.database.is_some() {
            want |= CapabilityFlags::CLIENT_CONNECT_WITH_DB;
        }
        self.caps = want & server;
        self.id = hs.connection_id();
        let nonce = hs.nonce();
        let plugin = hs
            .auth_plugin()
            .map(|p| p.into_owned())
            .unwrap_or(AuthPlugin::MysqlNativePassword);
        let version = hs
            .maria_db_server_version_parsed()
            .or_else(|| hs.server_version_parsed())
            .unwrap_or((5, 7, 0));
        let pass = cfg.password.as_deref();
        let auth_data = auth_response(&plugin, pass, &nonce)?;
        // MariaDB announces its extended capabilities by leaving out CLIENT_MYSQL (the
        // old CLIENT_LONG_PASSWORD bit); the one wanted here is parameter arrays.
        let ext = if hs.maria_db_server_version_parsed().is_some()
            && !server.contains(CapabilityFlags::CLIENT_LONG_PASSWORD)
        {
            hs.mariadb_ext_capabilities() & MariadbCapabilities::MARIADB_CLIENT_STMT_BULK_OPERATIONS
        } else {
            MariadbCapabilities::empty()
        };
        self.bulk = !ext.is_empty();
        if let Some(config) = tls {
            self.start_tls(config, &cfg.host, ext).await?;
        }
        let resp = HandshakeResponse::new(
            Some(auth_data.as_slice()),
            version,
            Some(cfg.user.as_bytes()),
            cfg.database.as_deref().map(str::as_bytes),
            Some(plugin.clone()),
            self.caps,
            None,
            1 << 30,
        )
        .with_mariadb_ext_capabilities(ext);
        let mut out = Vec::new();
        resp.serialize(&mut out);
        self.write_packet(&out).await?;
        self.authenticate(plugin, pass).await
    }

    /// Ask for TLS (an SSLRequest: the capabilities without the credentials) and
    /// continue the handshake over rustls.
    async fn start_tls(
        &mut self,
        config: Arc<rustls::ClientConfig>,
        host: &str,
        ext: MariadbCapabilities,
    ) -> Result<()> {
        if self.pos != self.end {
            return Err(protocol("bytes after the server's greeting"));
        }
        self.caps |= CapabilityFlags::CLIENT_SSL;
        let mut out = Vec::new();
        SslRequest::new(self.caps, 1 << 30, UTF8MB4_GENERAL_CI)
            .with_mariadb_capabilities(ext)
            .serialize(&mut out);
        self.write_packet(&out).await?;
        let name = ServerName::try_from(host.to_string()).map_err(|e| {
            Error::config(format!("host {host:?} is not a valid TLS server name: {e}"))
        })?;
        let Sock::Plain(tcp) = std::mem::replace(&mut self.sock, Sock::Upgrading) else {
            return Err(protocol("TLS started twice"));
        };
        let tls = tokio_rustls::TlsConnector::from(config)
            .connect(name, tcp)
            .await
            .map_err(|e| Error::connection(format!("TLS error: {e}")).transient(false))?;
        self.sock = Sock::Tls(Box::new(tls));
        Ok(())
    }

    /// The server's answers after the handshake response, until OK or an error.
    async fn authenticate(
        &mut self,
        mut plugin: AuthPlugin<'static>,
        pass: Option<&str>,
    ) -> Result<()> {
        for _ in 0..8 {
            let p = self.packet().await?;
            let data = self.data(p);
            match data.first().copied() {
                Some(0x00) => return Ok(()),
                Some(0xFF) => return Err(self.err_packet(p)),
                Some(0xFE) => {
                    // Auth switch: answer for the plugin the server names.
                    let (named, nonce) = auth_switch(data)?;
                    plugin = named.into_owned();
                    let nonce = nonce.to_vec();
                    let reply = auth_response(&plugin, pass, &nonce)?;
                    self.write_packet(&reply).await?;
                }
                Some(0x01) => {
                    // More data: caching_sha2_password says whether its cache matched.
                    match (data.get(1).copied(), &plugin) {
                        (Some(0x03), AuthPlugin::CachingSha2Password) => {} // fast auth: OK follows
                        (Some(0x04), AuthPlugin::CachingSha2Password) => {
                            return Err(unsupported(FULL_AUTH))
                        }
                        _ => return Err(unsupported("authentication exchange")),
                    }
                }
                _ => return Err(protocol("unexpected authentication packet")),
            }
        }
        Err(protocol("authentication did not finish"))
    }

    // -- packets ---------------------------------------------------------------------------

    fn data(&self, p: Payload) -> &[u8] {
        match p {
            Payload::Buf(s, e) => &self.buf[s..e],
            Payload::Big => &self.big,
        }
    }

    /// The next complete packet already in the buffer, if any.
    fn try_packet(&mut self) -> Result<Option<Payload>> {
        let avail = &self.buf[self.pos..self.end];
        if avail.len() < 4 {
            return Ok(None);
        }
        let len = u32::from_le_bytes([avail[0], avail[1], avail[2], 0]) as usize;
        if len < MAX_PAYLOAD {
            if avail.len() < 4 + len {
                return Ok(None);
            }
            self.check_seq(avail[3])?;
            let start = self.pos + 4;
            self.pos = start + len;
            return Ok(Some(Payload::Buf(start, start + len)));
        }
        // A payload of 16 MiB or more: every part must be here before reassembling.
        let mut at = 0;
        loop {
            let rest = &avail[at..];
            if rest.len() < 4 {
                return Ok(None);
            }
            let l = u32::from_le_bytes([rest[0], rest[1], rest[2], 0]) as usize;
            if rest.len() < 4 + l {
                return Ok(None);
            }
            at += 4 + l;
            if l < MAX_PAYLOAD {
                break;
            }
        }
        self.big.clear();
        let mut p = self.pos;
        loop {
            let h = &self.buf[p..p + 4];
            let l = u32::from_le_bytes([h[0], h[1], h[2], 0]) as usize;
            let s = h[3];
            self.check_seq(s)?;
            self.big.extend_from_slice(&self.buf[p + 4..p + 4 + l]);
            p += 4 + l;
            if l < MAX_PAYLOAD {
                break;
            }
        }
        self.pos = p;
        Ok(Some(Payload::Big))
    }

    fn check_seq(&mut self, s: u8) -> Result<()> {
        if s != self.seq {
            self.dirty = true;
            return Err(Error::connection(format!(
                "packets out of order (expected sequence {}, got {s})",
                self.seq
            )));
        }
        self.seq = self.seq.wrapping_add(1);
        Ok(())
    }

    /// Read more bytes from the socket (compacting or growing the buffer first); returns
    /// how many came.
    async fn fill(&mut self) -> Result<usize> {
        if self.pos == self.end {
            self.pos = 0;
            self.end = 0;
            if self.buf.len() > 4 * READ_CHUNK {
                // A huge row grew the buffer: do not keep it for the pooled connection's life.
                self.buf = vec![0; READ_CHUNK];
            }
            if self.big.capacity() > 4 * READ_CHUNK {
                self.big = Vec::new();
            }
        } else if self.buf.len() - self.end < READ_CHUNK / 4 {
            if self.pos > 0 {
                self.buf.copy_within(self.pos..self.end, 0);
                self.end -= self.pos;
                self.pos = 0;
            }
            if self.buf.len() - self.end < READ_CHUNK / 4 {
                // One packet larger than the buffer: grow it.
                let n = (self.buf.len() * 2).max(READ_CHUNK);
                self.buf.resize(n, 0);
            }
        }
        let n = self
            .sock
            .read(&mut self.buf[self.end..])
            .await
            .map_err(|e| {
                self.dirty = true;
                Error::connection(format!("lost the connection to the MySQL server: {e}"))
            })?;
        if n == 0 {
            self.dirty = true;
            return Err(Error::connection("the MySQL server closed the connection"));
        }
        self.end += n;
        Ok(n)
    }

    async fn packet(&mut self) -> Result<Payload> {
        loop {
            if let Some(p) = self.try_packet()? {
                return Ok(p);
            }
            self.fill().await?;
        }
    }

    /// Write one logical packet (split at 16 MiB) with the running sequence number.
    async fn write_packet(&mut self, payload: &[u8]) -> Result<()> {
        let mut out = Vec::with_capacity(payload.len() + 8);
        self.frame(payload, &mut out);
        self.send(&out).await
    }

    /// Append `payload` to `out` as one logical packet (split at 16 MiB), numbered from
    /// the running sequence number.
    fn frame(&mut self, payload: &[u8], out: &mut Vec<u8>) {
        let mut rest = payload;
        loop {
            let n = rest.len().min(MAX_PAYLOAD);
            out.extend_from_slice(&(n as u32).to_le_bytes()[..3]);
            out.push(self.seq);
            self.seq = self.seq.wrapping_add(1);
            out.extend_from_slice(&rest[..n]);
            rest = &rest[n..];
            if n < MAX_PAYLOAD {
                break;
            }
        }
    }

    /// Write framed bytes to the socket.
    async fn send(&mut self, out: &[u8]) -> Result<()> {
        // TLS keeps records it could not write yet: flush them (a no-op on plain TCP).
        let r = match self.sock.write_all(out).await {
            Ok(()) => self.sock.flush().await,
            Err(e) => Err(e),
        };
        r.map_err(|e| {
            self.dirty = true;
            Error::connection(format!("lost the connection to the MySQL server: {e}"))
        })
    }

    /// Start a command: sequence numbers restart at 0.
    async fn command(&mut self, payload: &[u8]) -> Result<()> {
        self.check_in_step()?;
        self.seq = 0;
        self.write_packet(payload).await
    }

    /// Fail (and mark the connection dirty) when bytes of an earlier exchange are still
    /// unread: the stream is out of step and no new command may start.
    fn check_in_step(&mut self) -> Result<()> {
        if self.pos != self.end {
            self.dirty = true;
            return Err(Error::connection("unexpected data from the server"));
        }
        Ok(())
    }

    /// Start a command whose argument is SQL text (`COM_QUERY` 0x03, `COM_STMT_PREPARE`
    /// 0x16).
    async fn command_text(&mut self, command: u8, sql: &str) -> Result<()> {
        let mut payload = Vec::with_capacity(sql.len() + 1);
        payload.push(command);
        payload.extend_from_slice(sql.as_bytes());
        self.command(&payload).await
    }

    fn err_packet(&self, p: Payload) -> Error {
        match ParseBuf(self.data(p)).parse::<ErrPacket<'_>>(self.caps) {
            Ok(ErrPacket::Error(se)) => {
                let state = se
                    .sql_state_ref()
                    .map(|s| s.as_str().into_owned())
                    .unwrap_or_default();
                server_error(se.error_code(), &se.message_str(), &state)
            }
            _ => protocol("error packet"),
        }
    }

    /// `COM_QUERY` for a statement without a result set (session setup, cleanup).
    pub(super) async fn simple(&mut self, sql: &str) -> Result<()> {
        self.command_text(0x03, sql).await?;
        loop {
            let p = self.packet().await?;
            let status = match self.data(p).first() {
                Some(0x00) => ok_status(self.data(p))?,
                Some(0xFF) => return Err(self.err_packet(p)),
                _ => {
                    self.dirty = true;
                    return Err(protocol("a setup statement returned rows"));
                }
            };
            if !status.contains(StatusFlags::SERVER_MORE_RESULTS_EXISTS) {
                return Ok(());
            }
        }
    }

    // -- statements ------------------------------------------------------------------------

    /// The session's `max_allowed_packet` (asked once per connection).
    pub(super) async fn max_packet(&mut self) -> Result<usize> {
        if let Some(limit) = self.max_packet {
            return Ok(limit);
        }
        let limit = match self.text_row("SELECT @@max_allowed_packet").await? {
            Some(row) => row
                .first()
                .cloned()
                .flatten()
                .and_then(|v| v.parse::<usize>().ok())
                .unwrap_or(usize::MAX),
            None => usize::MAX,
        };
        self.max_packet = Some(limit);
        Ok(limit)
    }

    /// Refuse a command of `len` bytes that is longer than the server's
    /// `max_allowed_packet`: the server would drop the connection (see [`super::packet`]).
    async fn check_len(&mut self, part: packet::Part, len: usize) -> Result<()> {
        if packet::fits(len, packet::SMALLEST_LIMIT) {
            return Ok(());
        }
        let limit = self.max_packet().await?;
        if !packet::fits(len, limit) {
            return Err(packet::too_large(part, len, limit));
        }
        Ok(())
    }

    /// Prepare `sql` (or find it in the cache): its statement id and parameter count.
    async fn prepare(&mut self, sql: &str) -> Result<(u32, usize)> {
        if let Some(found) = self.stmts.get(sql) {
            return Ok(*found);
        }
        self.check_len(packet::Part::Text, sql.len() + 1).await?;
        self.make_room().await?;
        self.command_text(0x16, sql).await?;
        self.prepared(sql).await
    }

    /// Close every cached statement when the cache is full.
    async fn make_room(&mut self) -> Result<()> {
        if self.stmts.len() >= STMT_CACHE {
            for (_, (id, _)) in std::mem::take(&mut self.stmts) {
                self.close_stmt(id).await?;
            }
        }
        Ok(())
    }

    /// Read the answer to `COM_STMT_PREPARE` of `sql` and cache the statement.
    async fn prepared(&mut self, sql: &str) -> Result<(u32, usize)> {
        let p = self.packet().await?;
        if self.data(p).first() == Some(&0xFF) {
            return Err(self.prepare_error(p));
        }
        self.prepared_from(p, sql).await
    }

    fn prepare_error(&self, p: Payload) -> Error {
        let e = self.err_packet(p);
        if errno(&e) == Some(ER_UNSUPPORTED_PS) {
            return unsupported("statement cannot be prepared");
        }
        e
    }

    /// The rest of a successful `COM_STMT_PREPARE` answer, whose first packet is `p`.
    async fn prepared_from(&mut self, p: Payload, sql: &str) -> Result<(u32, usize)> {
        let ok: StmtPacket = ParseBuf(self.data(p))
            .parse(())
            .map_err(|e| protocol(&format!("prepare response: {e}")))?;
        // Parameter and column definitions follow (no EOF packets: CLIENT_DEPRECATE_EOF);
        // the execute response repeats the column definitions, so skip these.
        for _ in 0..(ok.num_params() as usize + ok.num_columns() as usize) {
            self.packet().await?;
        }
        let found = (ok.statement_id(), ok.num_params() as usize);
        self.stmts.insert(sql.to_string(), found);
        Ok(found)
    }

    /// MariaDB (10.2+) prepares and executes a parameterless statement in one round
    /// trip: `COM_STMT_PREPARE` and `COM_STMT_EXECUTE` of "the statement just prepared"
    /// (id `0xFFFFFFFF`) go out together. `sql` must not be cached and must have no
    /// parameter markers, and its prepare must fit in one packet. The statement is cached
    /// for the next run.
    async fn prepare_execute(&mut self, sql: &str) -> Result<()> {
        self.check_len(packet::Part::Text, sql.len() + 1).await?;
        self.make_room().await?;
        self.check_in_step()?;
        let mut prepare = Vec::with_capacity(sql.len() + 1);
        prepare.push(0x16);
        prepare.extend_from_slice(sql.as_bytes());
        let mut execute = Vec::new();
        ComStmtExecuteRequestBuilder::new(u32::MAX)
            .build(&[])
            .0
            .serialize(&mut execute);
        let mut out = Vec::with_capacity(prepare.len() + execute.len() + 16);
        self.seq = 0;
        self.frame(&prepare, &mut out);
        self.seq = 0;
        self.frame(&execute, &mut out);
        self.send(&out).await?;
        self.dirty = true;
        let p = self.packet().await?;
        if self.data(p).first() == Some(&0xFF) {
            let e = self.prepare_error(p);
            // The execute found no statement to run: its error follows, numbered as
            // the answer to a command of its own.
            self.seq = 1;
            let q = self.packet().await?;
            if self.data(q).first() == Some(&0xFF) {
                self.dirty = false;
            }
            return Err(e);
        }
        let (_, wanted) = self.prepared_from(p, sql).await?;
        // The execute's answer is numbered as the answer to a command of its own.
        self.seq = 1;
        if wanted != 0 {
            // Markers the scan did not see (cannot happen for valid SQL): the execute
            // went out without values, so the connection stays dirty (not reused).
            return Err(Error::parameter(format!(
                "the statement has {wanted} parameter marker(s) but 0 value(s) were given"
            )));
        }
        Ok(())
    }

    /// Prepare `sql` afresh, closing a cached copy first: for a write's `INSERT`, whose
    /// table may have been dropped and created again since (a bulk execution cannot be
    /// retried after its rows went out).
    pub(super) async fn prepare_fresh(&mut self, sql: &str) -> Result<(u32, usize)> {
        self.forget_stmt(sql).await?;
        self.prepare(sql).await
    }

    /// Drop `sql`'s cached statement (if any) and close it on the server.
    async fn forget_stmt(&mut self, sql: &str) -> Result<()> {
        match self.stmts.remove(sql) {
            Some((id, _)) => self.close_stmt(id).await,
            None => Ok(()),
        }
    }

    async fn close_stmt(&mut self, id: u32) -> Result<()> {
        let mut out = Vec::new();
        ComStmtClose::new(id).serialize(&mut out);
        // No response.
        self.command(&out).await
    }

    /// Run `sql` with `params` and stream its rows into `sink` in batches of `batch_size`.
    /// `pending` is true while a result is being read (an early return leaves it unread).
    pub async fn query(
        &mut self,
        sql: &str,
        params: &[MyValue],
        decode: &DecodeOptions,
        batch_size: usize,
        sink: &mut Sink,
    ) -> Result<Outcome> {
        match self.query_once(sql, params, decode, batch_size, sink).await {
            Err(e) if errno(&e) == Some(ER_NEED_REPREPARE) && !sink.delivered_any() => {
                // The table changed under a cached statement: prepare it afresh.
                self.forget_stmt(sql).await?;
                self.query_once(sql, params, decode, batch_size, sink).await
            }
            r => r,
        }
    }

    async fn query_once(
        &mut self,
        sql: &str,
        params: &[MyValue],
        decode: &DecodeOptions,
        batch_size: usize,
        sink: &mut Sink,
    ) -> Result<Outcome> {
        if params.is_empty()
            && self.bulk
            && sql.len() < MAX_PAYLOAD - 1
            && !self.stmts.contains_key(sql)
            && no_markers(sql)
        {
            // MariaDB: prepare and execute in one round trip (for a text that fits in
            // one protocol packet: the answers are numbered after the prepare's packets).
            self.prepare_execute(sql).await?;
        } else {
            let (id, wanted) = self.prepare(sql).await?;
            if params.len() != wanted {
                // The server would read whatever bytes follow as the missing values.
                return Err(Error::parameter(format!(
                    "the statement has {wanted} parameter marker(s) but {} value(s) were given",
                    params.len()
                )));
            }
            self.check_len(packet::Part::Params(None), packet::execute_len(params))
                .await?;
            let (req, long_data) = ComStmtExecuteRequestBuilder::new(id).build(params);
            if long_data {
                // (mysql_async sends such values ahead, as COM_STMT_SEND_LONG_DATA.)
                return Err(unsupported("parameters too long for one packet"));
            }
            let mut out = Vec::new();
            req.serialize(&mut out);
            self.command(&out).await?;
            self.dirty = true;
        }
        let p = self.packet().await?;
        let data = self.data(p);
        match data.first() {
            Some(0x00) => {
                // No result set.
                let status = ok_status(data)?;
                sink.schema(Arc::new(arrow_schema::Schema::empty()));
                self.skip_more(status).await?;
                self.dirty = false;
                return Ok(Outcome::NoRows);
            }
            Some(0xFF) => {
                let e = self.err_packet(p);
                self.dirty = false;
                return Err(e);
            }
            _ => {}
        }
        let ncols = lenenc(&mut &data[..]).ok_or_else(|| protocol("column count"))? as usize;
        let mut columns = Vec::with_capacity(ncols);
        for _ in 0..ncols {
            let p = self.packet().await?;
            let col: Column = ParseBuf(self.data(p))
                .parse(())
                .map_err(|e| protocol(&format!("column definition: {e}")))?;
            columns.push(col);
        }
        let (schema, kinds) = schema_for(&columns, decode)?;
        let wires: Vec<Wire> = columns.iter().map(Wire::of).collect();
        sink.schema(schema.clone());
        let mut rows = RowDecoder::new(schema, &kinds, batch_size, decode);
        let bitmap_len = (ncols + 7 + 2) / 8;
        // Naps between reads of a large result that trickles in (see `ReadPacer`).
        let mut pacer = ReadPacer::default();
        loop {
            // Decode every complete row already buffered, then read more.
            while let Some(p) = self.try_packet()? {
                let data = self.data(p);
                match data.first() {
                    Some(0x00) => {
                        decode_row(data, bitmap_len, &wires, &mut rows)?;
                        if rows.is_full() {
                            let b = rows.finish()?;
                            if !sink.batch(b).await {
                                return Err(Error::cancelled("the reader was closed"));
                            }
                        }
                    }
                    Some(0xFE) if data.len() < MAX_PAYLOAD => {
                        let status = ok_status(data)?;
                        let warnings = ok_counts(data)?.1;
                        self.skip_more(status).await?;
                        self.dirty = false;
                        if warnings > 0 {
                            // Before the last batch: a stream's reader sees the
                            // warnings once it has every row.
                            sink.warn(self.show_warnings().await?);
                        }
                        if rows.rows > 0 {
                            let b = rows.finish()?;
                            sink.batch(b).await;
                        }
                        return Ok(Outcome::Rows);
                    }
                    Some(0xFF) => {
                        let e = self.err_packet(p);
                        self.dirty = false;
                        return Err(e);
                    }
                    _ => return Err(protocol("unexpected packet in a result set")),
                }
            }
            pacer.pace();
            pacer.record(self.fill().await?);
        }
    }

    /// The server's warnings about the last statement (`SHOW WARNINGS`), as
    /// `"Warning 1931: ..."` lines: a result the server cut short (MariaDB's
    /// `max_recursive_iterations`), values it truncated in a cast.
    pub(super) async fn show_warnings(&mut self) -> Result<Vec<String>> {
        let rows = self.text_rows("SHOW WARNINGS", MAX_WARNINGS).await?;
        Ok(warning_lines(rows))
    }

    /// Read and drop the result sets that follow (e.g. the status of a CALL).
    async fn skip_more(&mut self, mut status: StatusFlags) -> Result<()> {
        while status.contains(StatusFlags::SERVER_MORE_RESULTS_EXISTS) {
            let p = self.packet().await?;
            let data = self.data(p);
            match data.first() {
                Some(0x00) => status = ok_status(data)?,
                Some(0xFF) => return Err(self.err_packet(p)),
                _ => {
                    let n = lenenc(&mut &data[..]).ok_or_else(|| protocol("column count"))?;
                    for _ in 0..n {
                        self.packet().await?;
                    }
                    loop {
                        let p = self.packet().await?;
                        let d = self.data(p);
                        match d.first() {
                            Some(0xFE) if d.len() < MAX_PAYLOAD => {
                                status = ok_status(d)?;
                                break;
                            }
                            Some(0xFF) => return Err(self.err_packet(p)),
                            _ => {}
                        }
                    }
                }
            }
        }
        Ok(())
    }

    /// Send one complete `COM_STMT_BULK_EXECUTE` payload (see `super::bulk`) and read
    /// its answer: the rows affected and the number of warnings. MariaDB answers a
    /// bulk execution with one OK packet carrying the total, or the first error.
    pub(super) async fn bulk_execute(&mut self, payload: &[u8]) -> Result<(u64, u16)> {
        self.command(payload).await?;
        let p = self.packet().await?;
        match self.data(p).first() {
            Some(0x00) => ok_counts(self.data(p)),
            Some(0xFF) => Err(self.err_packet(p)),
            _ => {
                self.dirty = true;
                Err(protocol("a bulk execution returned rows"))
            }
        }
    }

    /// `COM_QUERY` for a statement with a small text result (`SHOW WARNINGS LIMIT 1`,
    /// `SELECT @@max_allowed_packet`): the first row, its NULLs as `None`; `Ok(None)`
    /// when there is no row (or no result set).
    pub(super) async fn text_row(&mut self, sql: &str) -> Result<Option<Vec<Option<String>>>> {
        Ok(self.text_rows(sql, 1).await?.into_iter().next())
    }

    /// `COM_QUERY` for a statement with a small text result: its first `max` rows (the
    /// rest are read and dropped), NULLs as `None`.
    pub(super) async fn text_rows(
        &mut self,
        sql: &str,
        max: usize,
    ) -> Result<Vec<Vec<Option<String>>>> {
        self.command_text(0x03, sql).await?;
        let p = self.packet().await?;
        let n = match self.data(p).first() {
            Some(0x00) => return Ok(Vec::new()),
            Some(0xFF) => return Err(self.err_packet(p)),
            _ => lenenc(&mut self.data(p)).ok_or_else(|| protocol("column count"))?,
        };
        for _ in 0..n {
            self.packet().await?;
        }
        let mut rows = Vec::new();
        loop {
            let p = self.packet().await?;
            let data = self.data(p);
            match data.first() {
                Some(0xFE) if data.len() < MAX_PAYLOAD => {
                    if ok_status(data)?.contains(StatusFlags::SERVER_MORE_RESULTS_EXISTS) {
                        self.dirty = true;
                        return Err(protocol("more than one result set"));
                    }
                    return Ok(rows);
                }
                Some(0xFF) => return Err(self.err_packet(p)),
                _ if rows.len() < max => {
                    let mut b = data;
                    let mut row = Vec::with_capacity(n as usize);
                    for _ in 0..n {
                        if b.first() == Some(&0xFB) {
                            b = &b[1..];
                            row.push(None);
                            continue;
                        }
                        let len = lenenc(&mut b).ok_or_else(|| protocol("text row"))? as usize;
                        let v = take(&mut b, len)?;
                        row.push(Some(String::from_utf8_lossy(v).into_owned()));
                    }
                    rows.push(row);
                }
                _ => {}
            }
        }
    }

    /// A round trip (`COM_PING`) to check an idle connection.
    pub async fn ping(&mut self) -> Result<()> {
        self.command(&[0x0E]).await?;
        let p = self.packet().await?;
        match self.data(p).first() {
            Some(0x00) => Ok(()),
            Some(0xFF) => Err(self.err_packet(p)),
            _ => {
                self.dirty = true;
                Err(protocol("ping"))
            }
        }
    }
}

/// Decode a captured result stream: binary-protocol row packets, each with its 4-byte
/// header as read from the socket, up to the EOF packet that ends the result set, for
/// `columns` (the column definitions the server sent). This is the reader's per-row
/// work without a server or a socket, for the Criterion benchmark
/// (`benches/decode_mysql.rs`) and tests.
pub fn decode_captured(
    stream: &[u8],
    columns: &[Column],
    decode: &DecodeOptions,
    batch_size: usize,
) -> Result<Vec<arrow_array::RecordBatch>> {
    let (schema, kinds) = schema_for(columns, decode)?;
    let wires: Vec<Wire> = columns.iter().map(Wire::of).collect();
    let mut rows = RowDecoder::new(schema, &kinds, batch_size.max(1), decode);
    let bitmap_len = (columns.len() + 7 + 2) / 8;
    let mut out = Vec::new();
    let mut b = stream;
    while b.len() >= 4 {
        let len = u32::from_le_bytes([b[0], b[1], b[2], 0]) as usize;
        let data = b
            .get(4..4 + len)
            .ok_or_else(|| protocol("truncated packet"))?;
        b = &b[4 + len..];
        match data.first() {
            Some(0x00) => {
                decode_row(data, bitmap_len, &wires, &mut rows)?;
                if rows.is_full() {
                    out.push(rows.finish()?);
                }
            }
            Some(0xFE) => break,
            _ => return Err(protocol("unexpected packet in a result set")),
        }
    }
    if rows.rows > 0 {
        out.push(rows.finish()?);
    }
    Ok(out)
}

/// The auth plugin's answer to `nonce`, or [`Unsupported`] for plugins this reader
/// does not implement.
fn auth_response(plugin: &AuthPlugin<'_>, pass: Option<&str>, nonce: &[u8]) -> Result<Vec<u8>> {
    match plugin {
        // ed25519 (MariaDB): the nonce signed with a key derived from the password.
        AuthPlugin::MysqlNativePassword | AuthPlugin::CachingSha2Password | AuthPlugin::Ed25519 => {
            Ok(plugin
                .gen_data(pass, nonce)
                .map(|d| d.to_vec())
                .unwrap_or_default())
        }
        _ => Err(unsupported("authentication plugin")),
    }
}

/// The plugin name and the nonce of an auth switch request (`0xFE`, the name up to a
/// NUL, then the plugin's data).
///
/// The nonce is the data as sent, but for the NUL that ends the 20-byte scrambles of
/// `mysql_native_password` and `caching_sha2_password`. MariaDB's ed25519 sends 32 random
/// bytes with no terminator, so a last byte that happens to be 0 is part of the nonce:
/// mysql_common's `AuthSwitchRequest::plugin_data` drops it whatever the plugin, and one
/// ed25519 login in 256 then failed with "Access denied".
fn auth_switch(data: &[u8]) -> Result<(AuthPlugin<'_>, &[u8])> {
    let body = data
        .strip_prefix(&[0xFE])
        .ok_or_else(|| protocol("auth switch"))?;
    let end = body
        .iter()
        .position(|&b| b == 0)
        .ok_or_else(|| protocol("auth switch: the plugin name has no end"))?;
    let (plugin, rest) = (AuthPlugin::from_bytes(&body[..end]), &body[end + 1..]);
    let nonce = match (&plugin, rest) {
        (AuthPlugin::Ed25519, _) => rest,
        (_, [head @ .., 0]) => head,
        _ => rest,
    };
    Ok((plugin, nonce))
}

/// The server's greeting (from [`WireConn::greeting`]) as a handshake packet.
fn parse_greeting(data: &[u8]) -> Result<HandshakePacket<'_>> {
    ParseBuf(data)
        .parse(())
        .map_err(|e| protocol(&format!("handshake: {e}")))
}

/// Read a length-encoded integer, advancing `b`.
fn lenenc(b: &mut &[u8]) -> Option<u64> {
    let (&first, rest) = b.split_first()?;
    let (v, used) = match first {
        0..=0xFA => (first as u64, 0),
        0xFC => (
            u16::from_le_bytes(rest.get(..2)?.try_into().ok()?) as u64,
            2,
        ),
        0xFD => {
            let r = rest.get(..3)?;
            (u32::from_le_bytes([r[0], r[1], r[2], 0]) as u64, 3)
        }
        0xFE => (u64::from_le_bytes(rest.get(..8)?.try_into().ok()?), 8),
        _ => return None,
    };
    *b = &rest[used..];
    Some(v)
}

/// `SHOW WARNINGS` rows (level, code, message) as `"Warning 1292: message"` lines.
pub(super) fn warning_lines(rows: Vec<Vec<Option<String>>>) -> Vec<String> {
    rows.into_iter()
        .map(|r| {
            let mut it = r.into_iter().map(Option::unwrap_or_default);
            let (level, code, msg) = (
                it.next().unwrap_or_default(),
                it.next().unwrap_or_default(),
                it.next().unwrap_or_default(),
            );
            format!("{level} {code}: {msg}")
        })
        .collect()
}

/// Rows affected and warnings of an OK packet.
fn ok_counts(data: &[u8]) -> Result<(u64, u16)> {
    let mut b = data.get(1..).ok_or_else(|| protocol("OK packet"))?;
    let affected = lenenc(&mut b).ok_or_else(|| protocol("OK packet"))?;
    lenenc(&mut b).ok_or_else(|| protocol("OK packet"))?; // last insert id
    let w = b.get(2..4).ok_or_else(|| protocol("OK packet"))?;
    Ok((affected, u16::from_le_bytes([w[0], w[1]])))
}

/// Status flags of an OK packet (header 0x00, or 0xFE ending a result set).
fn ok_status(data: &[u8]) -> Result<StatusFlags> {
    let mut b = data.get(1..).ok_or_else(|| protocol("OK packet"))?;
    lenenc(&mut b).ok_or_else(|| protocol("OK packet"))?; // affected rows
    lenenc(&mut b).ok_or_else(|| protocol("OK packet"))?; // last insert id
    let s = b.get(..2).ok_or_else(|| protocol("OK packet"))?;
    Ok(StatusFlags::from_bits_truncate(u16::from_le_bytes([
        s[0], s[1],
    ])))
}

/// How a column's binary-protocol value is laid out.
#[derive(Debug, Clone, Copy)]
enum Wire {
    I8,
    U8,
    I16,
    U16,
    I32,
    U32,
    I64,
    U64,
    F32,
    F64,
    DateTime,
    Time,
    Bytes,
}

impl Wire {
    fn of(c: &Column) -> Wire {
        use ColumnType::*;
        let unsigned = c.flags().contains(ColumnFlags::UNSIGNED_FLAG);
        match (c.column_type(), unsigned) {
            (MYSQL_TYPE_TINY, false) => Wire::I8,
            (MYSQL_TYPE_TINY, true) => Wire::U8,
            (MYSQL_TYPE_SHORT | MYSQL_TYPE_YEAR, false) => Wire::I16,
            (MYSQL_TYPE_SHORT | MYSQL_TYPE_YEAR, true) => Wire::U16,
            (MYSQL_TYPE_LONG | MYSQL_TYPE_INT24, false) => Wire::I32,
            (MYSQL_TYPE_LONG | MYSQL_TYPE_INT24, true) => Wire::U32,
            (MYSQL_TYPE_LONGLONG, false) => Wire::I64,
            (MYSQL_TYPE_LONGLONG, true) => Wire::U64,
            (MYSQL_TYPE_FLOAT, _) => Wire::F32,
            (MYSQL_TYPE_DOUBLE, _) => Wire::F64,
            (
                MYSQL_TYPE_DATE
                | MYSQL_TYPE_DATETIME
                | MYSQL_TYPE_TIMESTAMP
                | MYSQL_TYPE_NEWDATE
                | MYSQL_TYPE_DATETIME2
                | MYSQL_TYPE_TIMESTAMP2,
                _,
            ) => Wire::DateTime,
            (MYSQL_TYPE_TIME | MYSQL_TYPE_TIME2, _) => Wire::Time,
            _ => Wire::Bytes,
        }
    }
}

fn take<'a>(b: &mut &'a [u8], n: usize) -> Result<&'a [u8]> {
    if b.len() < n {
        return Err(protocol("row shorter than its columns"));
    }
    let (head, rest) = b.split_at(n);
    *b = rest;
    Ok(head)
}

fn arr<const N: usize>(b: &mut &[u8]) -> Result<[u8; N]> {
    let s = take(b, N)?;
    let mut a = [0u8; N];
    a.copy_from_slice(s);
    Ok(a)
}

/// Decode one binary-protocol row (header 0x00, NULL bitmap with a 2-bit offset, then
/// the non-NULL values) into `rows`.
fn decode_row(data: &[u8], bitmap_len: usize, wires: &[Wire], rows: &mut RowDecoder) -> Result<()> {
    let bitmap = data
        .get(1..1 + bitmap_len)
        .ok_or_else(|| protocol("row NULL bitmap"))?;
    let mut b = &data[1 + bitmap_len..];
    for (i, (w, col)) in wires.iter().zip(rows.columns.iter_mut()).enumerate() {
        let bit = i + 2;
        let cell = if bitmap[bit >> 3] & (1 << (bit & 7)) != 0 {
            Cell::Null
        } else {
            match w {
                Wire::I8 => Cell::Int(i8::from_le_bytes(arr(&mut b)?) as i64),
                Wire::U8 => Cell::UInt(u8::from_le_bytes(arr(&mut b)?) as u64),
                Wire::I16 => Cell::Int(i16::from_le_bytes(arr(&mut b)?) as i64),
                Wire::U16 => Cell::UInt(u16::from_le_bytes(arr(&mut b)?) as u64),
                Wire::I32 => Cell::Int(i32::from_le_bytes(arr(&mut b)?) as i64),
                Wire::U32 => Cell::UInt(u32::from_le_bytes(arr(&mut b)?) as u64),
                Wire::I64 => Cell::Int(i64::from_le_bytes(arr(&mut b)?)),
                Wire::U64 => Cell::UInt(u64::from_le_bytes(arr(&mut b)?)),
                Wire::F32 => Cell::F32(f32::from_le_bytes(arr(&mut b)?)),
                Wire::F64 => Cell::F64(f64::from_le_bytes(arr(&mut b)?)),
                Wire::DateTime => {
                    let n = take(&mut b, 1)?[0] as usize;
                    let v = take(&mut b, n)?;
                    let (mut y, mut mo, mut d, mut h, mut mi, mut s, mut us) =
                        (0, 0, 0, 0, 0, 0, 0);
                    if n >= 4 {
                        y = u16::from_le_bytes([v[0], v[1]]);
                        mo = v[2];
                        d = v[3];
                    }
                    if n >= 7 {
                        h = v[4];
                        mi = v[5];
                        s = v[6];
                    }
                    if n >= 11 {
                        us = u32::from_le_bytes([v[7], v[8], v[9], v[10]]);
                    }
                    Cell::Date(y, mo, d, h, mi, s, us)
                }
                Wire::Time => {
                    let n = take(&mut b, 1)?[0] as usize;
                    let v = take(&mut b, n)?;
                    let (mut neg, mut days, mut h, mut mi, mut s, mut us) = (false, 0, 0, 0, 0, 0);
                    if n >= 8 {
                        neg = v[0] == 1;
                        days = u32::from_le_bytes([v[1], v[2], v[3], v[4]]);
                        h = v[5];
                        mi = v[6];
                        s = v[7];
                    }
                    if n >= 12 {
                        us = u32::from_le_bytes([v[8], v[9], v[10], v[11]]);
                    }
                    Cell::Time(neg, days, h, mi, s, us)
                }
                Wire::Bytes => {
                    let n = lenenc(&mut b).ok_or_else(|| protocol("value length"))?;
                    let n = usize::try_from(n).map_err(|_| protocol("value length"))?;
                    Cell::Bytes(take(&mut b, n)?)
                }
            }
        };
        col.push_cell(cell)
            .map_err(|e| e.context(format!("column \"{}\"", col.name())))?;
    }
    rows.rows += 1;
    Ok(())
}

/// Whether `sql` has no `?` parameter marker outside quotes and comments (`false`
/// when it cannot be scanned, e.g. an unterminated quote). A text without `?` is not
/// scanned.
fn no_markers(sql: &str) -> bool {
    if !sql.contains('?') {
        return true;
    }
    crate::params::rewrite_named(sql, super::LEXICON)
        .map(|r| r.positional == 0)
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::Array;

    #[test]
    fn auth_responses_for_the_plugins_the_reader_speaks() {
        let nonce = [7u8; 32];
        let native = auth_response(&AuthPlugin::MysqlNativePassword, Some("pw"), &nonce[..20]);
        assert_eq!(native.unwrap().len(), 20);
        let sha2 = auth_response(&AuthPlugin::CachingSha2Password, Some("pw"), &nonce[..20]);
        assert_eq!(sha2.unwrap().len(), 32);
        // ed25519 signs the server's 32-byte nonce: a 64-byte signature.
        let ed = auth_response(&AuthPlugin::Ed25519, Some("pw"), &nonce).unwrap();
        assert_eq!(ed.len(), 64);
        assert_ne!(
            ed,
            auth_response(&AuthPlugin::Ed25519, Some("pw2"), &nonce).unwrap()
        );
        // Any other plugin goes to mysql_async, without a panic.
        let other = AuthPlugin::Other(std::borrow::Cow::Borrowed(&b"dialog"[..]));
        assert!(is_unsupported(
            &auth_response(&other, Some("pw"), &nonce).unwrap_err()
        ));
        assert!(is_unsupported(
            &auth_response(&AuthPlugin::MysqlClearPassword, Some("pw"), &nonce).unwrap_err()
        ));
    }

    #[test]
    fn an_auth_switch_keeps_an_ed25519_nonce_whole() {
        let switch = |name: &[u8], data: &[u8]| [&[0xFE][..], name, &[0], data].concat();
        // ed25519: 32 random bytes, no terminator; a last byte of 0 is part of them.
        let mut nonce = [9u8; 32];
        nonce[31] = 0;
        let p = switch(b"client_ed25519", &nonce);
        let (plugin, got) = auth_switch(&p).unwrap();
        assert!(matches!(plugin, AuthPlugin::Ed25519));
        assert_eq!(got, &nonce[..]);
        // mysql_native_password: a 20-byte scramble and its NUL.
        let p = switch(
            b"mysql_native_password",
            &[[5u8; 20].as_slice(), &[0]].concat(),
        );
        let (plugin, got) = auth_switch(&p).unwrap();
        assert!(matches!(plugin, AuthPlugin::MysqlNativePassword));
        assert_eq!(got, &[5u8; 20][..]);
        // Malformed packets are protocol errors, not panics.
        assert!(auth_switch(&[0xFE, b'x']).is_err());
        assert!(auth_switch(&[0x01]).is_err());
        assert!(auth_switch(&[]).is_err());
    }

    #[test]
    fn lenenc_forms() {
        let mut b: &[u8] = &[0x05, 0xAA];
        assert_eq!(lenenc(&mut b), Some(5));
        assert_eq!(b, &[0xAA]);
        let mut b: &[u8] = &[0xFC, 0x01, 0x02];
        assert_eq!(lenenc(&mut b), Some(0x0201));
        let mut b: &[u8] = &[0xFD, 0x01, 0x02, 0x03];
        assert_eq!(lenenc(&mut b), Some(0x030201));
        let mut b: &[u8] = &[0xFE, 1, 0, 0, 0, 0, 0, 0, 0];
        assert_eq!(lenenc(&mut b), Some(1));
        // Truncated or invalid: None, never a panic.
        for bad in [
            &[][..],
            &[0xFC, 1][..],
            &[0xFD][..],
            &[0xFE, 1, 2][..],
            &[0xFF][..],
        ] {
            let mut b = bad;
            assert_eq!(lenenc(&mut b), None);
        }
    }

    fn decoder() -> (RowDecoder, Vec<Wire>) {
        use super::super::decode::Kind;
        let kinds = [Kind::I64, Kind::Utf8, Kind::Datetime, Kind::F64, Kind::U8];
        let names = ["i", "s", "dt", "f", "u"];
        let fields: Vec<_> = kinds.iter().zip(names).map(|(k, n)| k.field(n)).collect();
        let schema = Arc::new(arrow_schema::Schema::new(fields));
        let rows = RowDecoder::new(schema, &kinds, 16, &DecodeOptions::default());
        let wires = vec![Wire::I64, Wire::Bytes, Wire::DateTime, Wire::F64, Wire::U8];
        (rows, wires)
    }

    /// A binary row: header, NULL bitmap (2-bit offset), then the non-NULL values.
    fn row(nulls: &[usize], values: &[u8]) -> Vec<u8> {
        let mut bitmap = vec![0u8; (5 + 7 + 2) / 8];
        for &i in nulls {
            bitmap[(i + 2) / 8] |= 1 << ((i + 2) % 8);
        }
        let mut r = vec![0x00];
        r.extend_from_slice(&bitmap);
        r.extend_from_slice(values);
        r
    }

    #[test]
    fn decodes_a_captured_stream_in_batches() {
        use arrow_array::cast::AsArray;
        use mysql_async::consts::ColumnType;
        let cols = vec![
            Column::new(ColumnType::MYSQL_TYPE_LONGLONG).with_name(b"i"),
            Column::new(ColumnType::MYSQL_TYPE_VAR_STRING)
                .with_name(b"s")
                .with_character_set(45),
        ];
        let mut stream = Vec::new();
        for i in 0..5u8 {
            let mut r = vec![0x00, if i == 3 { 1 << 3 } else { 0 }];
            r.extend_from_slice(&(i as i64).to_le_bytes());
            if i != 3 {
                r.extend_from_slice(&[1, b'a' + i]);
            }
            stream.extend_from_slice(&[r.len() as u8, 0, 0, i + 1]);
            stream.extend_from_slice(&r);
        }
        stream.extend_from_slice(&[7, 0, 0, 6, 0xFE, 0, 0, 2, 0, 0, 0]);
        let batches = decode_captured(&stream, &cols, &DecodeOptions::default(), 2).unwrap();
        assert_eq!(
            batches.iter().map(|b| b.num_rows()).collect::<Vec<_>>(),
            [2, 2, 1]
        );
        let s = batches[1].column(1).as_string::<i32>();
        assert_eq!((s.value(0), s.is_null(1)), ("c", true));
        // A stream cut inside a packet is an error, not a panic.
        let cut = &stream[..stream.len() - 20];
        assert!(decode_captured(cut, &cols, &DecodeOptions::default(), 2).is_err());
    }

    #[test]
    fn decodes_binary_rows_in_place() {
        let (mut rows, wires) = decoder();
        let mut v = Vec::new();
        v.extend_from_slice(&(-5i64).to_le_bytes());
        v.extend_from_slice(&[3, b'a', b'b', b'c']);
        v.extend_from_slice(&[11, 0xE8, 0x07, 2, 29, 12, 30, 1, 5, 0, 0, 0]);
        v.extend_from_slice(&2.5f64.to_le_bytes());
        v.push(200);
        decode_row(&row(&[], &v), 1, &wires, &mut rows).unwrap();
        // NULLs take no bytes; a zero-length date is the zero date (NULL by default).
        let mut v = Vec::new();
        v.extend_from_slice(&7i64.to_le_bytes());
        v.push(0);
        decode_row(&row(&[1, 3, 4], &v), 1, &wires, &mut rows).unwrap();
        let b = rows.finish().unwrap();
        assert_eq!(b.num_rows(), 2);
        let i = b
            .column(0)
            .as_any()
            .downcast_ref::<arrow_array::Int64Array>()
            .unwrap();
        assert_eq!(i.values(), &[-5, 7]);
        let s = b
            .column(1)
            .as_any()
            .downcast_ref::<arrow_array::StringArray>()
            .unwrap();
        assert_eq!(s.value(0), "abc");
        assert!(s.is_null(1));
        let dt = b
            .column(2)
            .as_any()
            .downcast_ref::<arrow_array::TimestampMicrosecondArray>()
            .unwrap();
        assert_eq!(dt.value(0), 1_709_209_801_000_005);
        assert!(dt.is_null(1));
        let u = b
            .column(4)
            .as_any()
            .downcast_ref::<arrow_array::UInt8Array>()
            .unwrap();
        assert_eq!(u.value(0), 200);
        assert!(u.is_null(1));
    }

    #[test]
    fn truncated_rows_are_errors_not_panics() {
        let mut full = Vec::new();
        full.extend_from_slice(&1i64.to_le_bytes());
        full.extend_from_slice(&[3, b'a', b'b', b'c', 4, 0xE8, 0x07, 1, 1]);
        full.extend_from_slice(&1.0f64.to_le_bytes());
        full.push(1);
        let r = row(&[], &full);
        for cut in 0..r.len() {
            let (mut rows, wires) = decoder();
            assert!(
                decode_row(&r[..cut], 1, &wires, &mut rows).is_err(),
                "cut at {cut}"
            );
        }
        // A string length beyond the packet.
        let (mut rows, wires) = decoder();
        let mut v = 1i64.to_le_bytes().to_vec();
        v.extend_from_slice(&[0xFC, 0xFF, 0xFF, b'x']);
        assert!(decode_row(&row(&[2, 3, 4], &v), 1, &wires, &mut rows).is_err());
    }

    #[test]
    fn warning_lines_name_level_and_code() {
        let rows = vec![
            vec![
                Some("Warning".to_string()),
                Some("1292".to_string()),
                Some("Truncated incorrect INTEGER value: 'x'".to_string()),
            ],
            vec![Some("Note".to_string()), None, None],
        ];
        assert_eq!(
            warning_lines(rows),
            vec![
                "Warning 1292: Truncated incorrect INTEGER value: 'x'".to_string(),
                "Note : ".to_string()
            ]
        );
    }

    #[test]
    fn ok_status_reads_flags_and_rejects_short_packets() {
        let s = ok_status(&[0xFE, 0, 0, 0x02, 0x00, 0, 0]).unwrap();
        assert!(!s.contains(StatusFlags::SERVER_MORE_RESULTS_EXISTS));
        assert!(s.contains(StatusFlags::SERVER_STATUS_AUTOCOMMIT));
        let s = ok_status(&[0x00, 0, 0, 0x08, 0x00]).unwrap();
        assert!(s.contains(StatusFlags::SERVER_MORE_RESULTS_EXISTS));
        assert!(ok_status(&[0x00, 0]).is_err());
        assert!(ok_status(&[0xFE]).is_err());
    }
}
