//! A binary COPY read spoken on a borrowed connection stream (see [`super::tap`]).
//!
//! The reader sends one simple-protocol Query with the COPY statement and reads the
//! server's messages itself: frames are parsed in place out of one large buffer, and
//! each CopyData payload goes straight to the [`CopyParser`]. Nothing is allocated per
//! message and no message crosses a channel.

use super::copy::{CopyParser, TupleBlock};
use super::decode::RowDecoder;
use super::tap::Borrowed;
use crate::direct::ReadPacer;
use crate::error::{Error, Result};
use crate::stream::Sink;

/// The read buffer starts small (most answers are small, and a large allocation is an
/// `mmap` and page faults per statement) and doubles while reads fill it, up to
/// `MAX_READ` bytes asked of the socket at a time.
const FIRST_READ: usize = 8 * 1024;
const MAX_READ: usize = 256 * 1024;

/// The fields of an ErrorResponse that reach the user.
#[derive(Default, Debug)]
pub struct ServerError<'a> {
    /// ERROR, WARNING, NOTICE, ... (not localized when the server says it both ways).
    pub severity: &'a str,
    pub code: &'a str,
    pub message: &'a str,
    pub detail: Option<&'a str>,
    pub hint: Option<&'a str>,
    pub where_: Option<&'a str>,
    pub constraint: Option<&'a str>,
    pub table: Option<&'a str>,
    pub column: Option<&'a str>,
}

/// Parse an ErrorResponse (or NoticeResponse) body: (type byte, C string) pairs ending
/// in a zero byte.
pub fn parse_error_fields(mut body: &[u8]) -> Result<ServerError<'_>> {
    let malformed = || Error::interface("malformed ErrorResponse from the server");
    let mut e = ServerError::default();
    loop {
        let (&ty, rest) = body.split_first().ok_or_else(malformed)?;
        if ty == 0 {
            return Ok(e);
        }
        let end = rest.iter().position(|&b| b == 0).ok_or_else(malformed)?;
        let value = std::str::from_utf8(&rest[..end]).map_err(|_| malformed())?;
        body = &rest[end + 1..];
        match ty {
            b'V' => e.severity = value,
            b'S' if e.severity.is_empty() => e.severity = value,
            b'C' => e.code = value,
            b'M' => e.message = value,
            b'D' => e.detail = Some(value),
            b'H' => e.hint = Some(value),
            b'W' => e.where_ = Some(value),
            b'n' => e.constraint = Some(value),
            b't' => e.table = Some(value),
            b'c' => e.column = Some(value),
            _ => {}
        }
    }
}

/// A NoticeResponse as one line for the statement's warnings (see
/// [`super::notice_line`]); a malformed one as what could be read of it.
pub fn notice(body: &[u8]) -> String {
    match parse_error_fields(body) {
        Ok(n) => super::notice_line(n.severity, n.code, n.message, n.detail, n.hint),
        Err(e) => e.message,
    }
}

/// A server error, the connection lost (the protocol is out of step: the borrowed
/// stream must not be given back), or the reader gone in the middle of the answer.
pub enum CopyFailure {
    /// The server reported an error and is ready for the next statement.
    Server(Error),
    /// The connection cannot be used any more.
    Lost(Error),
    /// The sink refused a batch (a stream's reader closed it): the statement is still
    /// sending. Cancel it, then [`discard`] the rest of the answer to keep the
    /// connection; dropping the stream instead ends the connection.
    Closed(Unread),
}

/// What was read of an answer whose reader went away, for [`discard`].
pub struct Unread(Answer);

impl From<CopyFailure> for Error {
    fn from(f: CopyFailure) -> Error {
        match f {
            CopyFailure::Server(e) | CopyFailure::Lost(e) => e,
            CopyFailure::Closed(_) => closed(),
        }
    }
}

/// The error of a read whose reader went away.
pub fn closed() -> Error {
    Error::cancelled("the reader was closed")
}

fn lost(e: Error) -> CopyFailure {
    CopyFailure::Lost(e)
}

/// Run `copy_sql` (a `COPY ... TO STDOUT (FORMAT binary)`) on `io` and decode every row
/// into `rows`, handing full batches (and the last one) to `sink`. On `Ok` and on
/// [`CopyFailure::Server`] the server has sent ReadyForQuery and the stream can be
/// given back.
pub async fn copy_out(
    io: &mut Borrowed,
    copy_sql: &str,
    rows: &mut RowDecoder,
    sink: &mut Sink,
) -> std::result::Result<(), CopyFailure> {
    if copy_sql.as_bytes().contains(&0) {
        return Err(CopyFailure::Server(Error::parameter(
            "the statement contains a NUL character",
        )));
    }
    // Query: 'Q', length, the statement as a C string.
    let mut query = Vec::with_capacity(copy_sql.len() + 6);
    query.push(b'Q');
    query.extend_from_slice(&((copy_sql.len() + 5) as u32).to_be_bytes());
    query.extend_from_slice(copy_sql.as_bytes());
    query.push(0);
    exchange(io, &query, Reply::Copy, rows, sink).await
}

/// Bind `params` to the prepared statement `name` (results in binary), execute it and
/// sync: the messages for [`rows_out`].
pub fn bind_execute(
    name: &str,
    types: &[tokio_postgres::types::Type],
    params: &[super::params::PgParam<'_>],
) -> Result<Vec<u8>> {
    use tokio_postgres::types::{Format, IsNull, ToSql};
    // The protocol counts parameters in an unsigned 16-bit field: up to 65,535.
    if name.as_bytes().contains(&0) || types.len() != params.len() || params.len() > 65_535 {
        return Err(Error::interface("internal: bad statement for a bound read"));
    }
    let mut m = Vec::with_capacity(64);
    // Bind: portal "", statement, parameter formats, values, one result format (binary).
    m.push(b'B');
    m.extend_from_slice(&[0; 4]);
    m.push(0);
    m.extend_from_slice(name.as_bytes());
    m.push(0);
    m.extend_from_slice(&(params.len() as u16).to_be_bytes());
    for (p, t) in params.iter().zip(types) {
        let f: i16 = match p.encode_format(t) {
            Format::Text => 0,
            Format::Binary => 1,
        };
        m.extend_from_slice(&f.to_be_bytes());
    }
    m.extend_from_slice(&(params.len() as u16).to_be_bytes());
    let mut value = bytes::BytesMut::new();
    for (i, (p, t)) in params.iter().zip(types).enumerate() {
        value.clear();
        match p.to_sql_checked(t, &mut value) {
            Ok(IsNull::Yes) => m.extend_from_slice(&(-1i32).to_be_bytes()),
            Ok(IsNull::No) => {
                let len = i32::try_from(value.len())
                    .map_err(|_| Error::parameter(format!("parameter {} is too large", i + 1)))?;
                m.extend_from_slice(&len.to_be_bytes());
                m.extend_from_slice(&value);
            }
            Err(e) => {
                return Err(Error::parameter(format!(
                    "error serializing parameter {}: {e}",
                    i + 1
                )))
            }
        }
    }
    m.extend_from_slice(&1i16.to_be_bytes());
    m.extend_from_slice(&1i16.to_be_bytes());
    let len = i32::try_from(m.len() - 1)
        .map_err(|_| Error::parameter("the parameters are too large for one message"))?;
    m[1..5].copy_from_slice(&len.to_be_bytes());
    // Execute: portal "", no row limit. Sync.
    m.extend_from_slice(&[b'E', 0, 0, 0, 9, 0, 0, 0, 0, 0]);
    m.extend_from_slice(&[b'S', 0, 0, 0, 4]);
    Ok(m)
}

/// Send `request` (from [`bind_execute`]) on `io` and decode the DataRows of the answer
/// into `rows` and `sink`, as [`copy_out`] does for a COPY.
pub async fn rows_out(
    io: &mut Borrowed,
    request: &[u8],
    rows: &mut RowDecoder,
    sink: &mut Sink,
) -> std::result::Result<(), CopyFailure> {
    exchange(io, request, Reply::Rows, rows, sink).await
}

/// What answer an [`exchange`] expects.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Reply {
    /// A binary COPY out (CopyOutResponse, CopyData, CopyDone).
    Copy,
    /// DataRows of an executed portal.
    Rows,
    /// DataRows kept whole (type byte, length, body) for decoding later, when the
    /// columns' types were not known as the rows arrived.
    Stash,
}

async fn exchange(
    io: &mut Borrowed,
    request: &[u8],
    reply: Reply,
    rows: &mut RowDecoder,
    sink: &mut Sink,
) -> std::result::Result<(), CopyFailure> {
    send(io, request).await?;
    let buf = Vec::with_capacity(FIRST_READ);
    read_answer(io, Answer::new(buf), reply, rows, sink, &mut Vec::new()).await
}

async fn send(io: &mut Borrowed, request: &[u8]) -> std::result::Result<(), CopyFailure> {
    io.write_all(request)
        .await
        .map_err(|e| lost(io_error("sending the statement", e)))
}

/// What has been read of an answer: the buffer, where its unread messages start, the
/// next read's size, and the first server error seen.
struct Answer {
    buf: Vec<u8>,
    at: usize,
    want: usize,
    server: Option<Error>,
}

impl Answer {
    fn new(buf: Vec<u8>) -> Self {
        Answer {
            buf,
            at: 0,
            want: FIRST_READ,
            server: None,
        }
    }

    /// Move the unread bytes to the front and read more behind them; returns how many
    /// bytes were read.
    async fn fill(&mut self, io: &mut Borrowed) -> std::result::Result<usize, CopyFailure> {
        let Answer {
            buf,
            at,
            want,
            server,
        } = self;
        if *at > 0 {
            buf.copy_within(*at.., 0);
            buf.truncate(buf.len() - *at);
            *at = 0;
        }
        if buf.capacity() - buf.len() < *want / 2 {
            buf.reserve(*want);
        }
        let spare = buf.capacity() - buf.len();
        // When the connection ends, the server's last word (e.g. "terminating
        // connection due to administrator command") says more than the I/O error.
        let n = match io.read(buf).await {
            Ok(n) => n,
            Err(e) => {
                return Err(lost(
                    server
                        .take()
                        .unwrap_or_else(|| io_error("reading the answer", e)),
                ))
            }
        };
        if n == spare && *want < MAX_READ {
            *want *= 2;
        }
        if n == 0 {
            return Err(lost(server.take().unwrap_or_else(|| {
                Error::connection("the server closed the connection in the middle of a read")
            })));
        }
        Ok(n)
    }

    /// The next complete message as (type, body start, end), or None when the buffer
    /// holds only part of one.
    fn next(&mut self) -> std::result::Result<Option<(u8, usize, usize)>, CopyFailure> {
        let m = frame(&self.buf, self.at).map_err(lost)?;
        if let Some((_, _, end)) = m {
            self.at = end;
        }
        Ok(m)
    }
}

/// The message that starts at `buf[at]` as (type, body start, end), or None when `buf`
/// holds only part of it.
#[inline]
pub fn frame(buf: &[u8], at: usize) -> Result<Option<(u8, usize, usize)>> {
    if buf.len() - at < 5 {
        return Ok(None);
    }
    let tag = buf[at];
    let len = u32::from_be_bytes([buf[at + 1], buf[at + 2], buf[at + 3], buf[at + 4]]) as usize;
    if len < 4 {
        return Err(Error::interface(format!(
            "malformed message from the server (type {:?}, length {len})",
            tag as char
        )));
    }
    let end = at + 1 + len;
    if end > buf.len() {
        return Ok(None);
    }
    Ok(Some((tag, at + 5, end)))
}

/// Parse (the unnamed statement), Bind (results in binary), Describe (the portal),
/// Execute and Sync for `sql`, a statement without parameters: the request for
/// [`described_out`].
pub fn parse_execute(sql: &str) -> Result<Vec<u8>> {
    if sql.as_bytes().contains(&0) {
        return Err(Error::parameter("the statement contains a NUL character"));
    }
    let parse_len = u32::try_from(4 + 1 + sql.len() + 1 + 2)
        .map_err(|_| Error::parameter("the statement is too large for one message"))?;
    let mut m = Vec::with_capacity(sql.len() + 64);
    // Parse: statement "", the text, no parameter types.
    m.push(b'P');
    m.extend_from_slice(&parse_len.to_be_bytes());
    m.push(0);
    m.extend_from_slice(sql.as_bytes());
    m.push(0);
    m.extend_from_slice(&0i16.to_be_bytes());
    // Bind: portal "", statement "", no parameters, one result format (binary).
    m.extend_from_slice(&[b'B', 0, 0, 0, 14, 0, 0, 0, 0, 0, 0, 0, 1, 0, 1]);
    // Describe the portal, Execute it with no row limit, Sync.
    m.extend_from_slice(&[b'D', 0, 0, 0, 6, b'P', 0]);
    m.extend_from_slice(&[b'E', 0, 0, 0, 9, 0, 0, 0, 0, 0]);
    m.extend_from_slice(&[b'S', 0, 0, 0, 4]);
    Ok(m)
}

/// One column of a RowDescription.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ColumnDesc<'a> {
    pub name: &'a str,
    pub type_oid: u32,
    pub modifier: i32,
}

/// Parse a RowDescription body: a field count, then per field its name (a C string),
/// table OID, attribute number, type OID, type size, type modifier and format code.
pub fn parse_row_description(body: &[u8]) -> Result<Vec<ColumnDesc<'_>>> {
    let malformed = || Error::interface("malformed RowDescription from the server");
    let n = i16::from_be_bytes(body.get(..2).ok_or_else(malformed)?.try_into().unwrap());
    let n = usize::try_from(n).map_err(|_| malformed())?;
    let mut cols = Vec::with_capacity(n);
    let mut rest = &body[2..];
    for _ in 0..n {
        let end = rest.iter().position(|&b| b == 0).ok_or_else(malformed)?;
        let name = std::str::from_utf8(&rest[..end]).map_err(|_| malformed())?;
        let f = rest.get(end + 1..end + 19).ok_or_else(malformed)?;
        cols.push(ColumnDesc {
            name,
            type_oid: u32::from_be_bytes([f[6], f[7], f[8], f[9]]),
            modifier: i32::from_be_bytes([f[12], f[13], f[14], f[15]]),
        });
        rest = &rest[end + 19..];
    }
    if !rest.is_empty() {
        return Err(malformed());
    }
    Ok(cols)
}

/// How a [`described_out`] read ended (the server is ready for the next statement).
pub enum Described {
    /// The rows were decoded into the sink.
    Rows,
    /// The statement returns no rows (NoData): nothing was sent to the sink.
    NoData,
    /// The rows' types were not all known: the DataRow messages, whole, to decode
    /// once they are.
    Stashed(Vec<u8>),
}

/// Send `request` (from [`parse_execute`]) on `io`; when the RowDescription arrives,
/// `describe` makes the decoder for its columns (None: types it does not know, so the
/// rows are stashed), its schema goes to `sink`, and the DataRows are decoded as
/// [`rows_out`] does. An error from `describe` (a type sqlarrow cannot read) abandons
/// the connection, so that the server stops sending.
pub async fn described_out(
    io: &mut Borrowed,
    request: &[u8],
    describe: &mut (dyn FnMut(&[ColumnDesc<'_>]) -> Result<Option<RowDecoder>> + Send),
    sink: &mut Sink,
) -> std::result::Result<Described, CopyFailure> {
    send(io, request).await?;
    let mut answer = Answer::new(Vec::with_capacity(FIRST_READ));
    loop {
        while let Some((tag, start, end)) = answer.next()? {
            let body = &answer.buf[start..end];
            match tag {
                b'T' => {
                    let cols = parse_row_description(body).map_err(lost)?;
                    let Some(mut rows) = describe(&cols).map_err(lost)? else {
                        let mut stash = Vec::new();
                        read_answer(
                            io,
                            answer,
                            Reply::Stash,
                            &mut no_columns(),
                            sink,
                            &mut stash,
                        )
                        .await?;
                        return Ok(Described::Stashed(stash));
                    };
                    sink.schema(rows.schema.clone());
                    read_answer(io, answer, Reply::Rows, &mut rows, sink, &mut Vec::new()).await?;
                    return Ok(Described::Rows);
                }
                b'n' => {
                    read_answer(
                        io,
                        answer,
                        Reply::Rows,
                        &mut no_columns(),
                        sink,
                        &mut Vec::new(),
                    )
                    .await?;
                    return Ok(Described::NoData);
                }
                b'E' => {
                    let fields = parse_error_fields(body).map_err(lost)?;
                    answer.server.get_or_insert(super::server_error(&fields));
                }
                b'Z' => {
                    return Err(match answer.server.take() {
                        Some(e) => CopyFailure::Server(e),
                        None => lost(Error::interface(
                            "the server answered a query without describing its rows",
                        )),
                    })
                }
                b'N' => sink.warn(vec![notice(body)]),
                // ParseComplete, BindComplete, ParameterStatus, NotificationResponse.
                b'1' | b'2' | b'S' | b'A' => {}
                other => {
                    return Err(lost(Error::interface(format!(
                        "unexpected message type {:?} from the server before a RowDescription",
                        other as char
                    ))))
                }
            }
        }
        answer.fill(io).await?;
    }
}

/// A decoder of no columns, for answers whose rows are not decoded here.
fn no_columns() -> RowDecoder {
    RowDecoder::new(std::sync::Arc::new(arrow_schema::Schema::empty()), &[], 1)
}

/// Read the rest of an answer (from `answer`'s unread messages on) up to ReadyForQuery,
/// decoding rows as `reply` says.
async fn read_answer(
    io: &mut Borrowed,
    answer: Answer,
    reply: Reply,
    rows: &mut RowDecoder,
    sink: &mut Sink,
    stash: &mut Vec<u8>,
) -> std::result::Result<(), CopyFailure> {
    // Locals, not the struct's fields, in the message loop: reading through the struct
    // there cost about 10% more client CPU (session 13). Packed again to refill.
    let Answer {
        mut buf,
        mut at,
        mut want,
        mut server,
    } = answer;
    let mut parser = CopyParser::new(rows.columns.len());
    let mut block = TupleBlock::new(rows.columns.len());
    let mut full: Vec<arrow_array::RecordBatch> = Vec::new();
    let mut started = false;
    // Naps between reads of a large answer that trickles in (see `ReadPacer`).
    let mut pacer = ReadPacer::default();
    loop {
        // Every complete message in the buffer.
        let mut ready = false;
        while let Some((tag, start, end)) = frame(&buf, at).map_err(lost)? {
            let body = &buf[start..end];
            at = end;
            match tag {
                // DataRow.
                b'D' if reply == Reply::Rows => {
                    if server.is_none() {
                        block
                            .take_data_row(&buf, start, end, rows, &mut |r| {
                                full.push(r.finish()?);
                                Ok(())
                            })
                            .map_err(lost)?;
                    }
                }
                b'D' if reply == Reply::Stash => {
                    if server.is_none() {
                        stash.extend_from_slice(&buf[start - 5..end]);
                    }
                }
                // CopyData: PostgreSQL sends one tuple per message once the header
                // is out; anything else (the header, the trailer, a tuple split over
                // messages) goes to the parser after the block is decoded.
                b'd' if reply == Reply::Copy => {
                    block
                        .take_copy_data(&mut parser, &buf, start, end, rows, &mut |r| {
                            full.push(r.finish()?);
                            Ok(())
                        })
                        .map_err(lost)?;
                }
                // CopyOutResponse: overall format 1 is binary.
                b'H' => {
                    if body.first() != Some(&1) {
                        return Err(lost(Error::interface(
                            "the server started a COPY that is not in binary format",
                        )));
                    }
                    started = true;
                }
                b'E' => {
                    let fields = parse_error_fields(body).map_err(lost)?;
                    server.get_or_insert(super::server_error(&fields));
                }
                b'Z' => {
                    ready = true;
                    break;
                }
                b'N' => sink.warn(vec![notice(body)]),
                // CopyDone, CommandComplete, ParameterStatus, NotificationResponse,
                // EmptyQueryResponse, BindComplete, PortalSuspended.
                b'c' | b'C' | b'S' | b'A' | b'I' | b'2' | b's' => {}
                other => {
                    return Err(lost(Error::interface(format!(
                        "unexpected message type {:?} from the server during a bulk read",
                        other as char
                    ))))
                }
            }
        }
        // The block's offsets point into `buf`: decode it before the buffer moves.
        block
            .decode(&buf, rows, &mut |r| {
                full.push(r.finish()?);
                Ok(())
            })
            .map_err(lost)?;
        for b in full.drain(..) {
            if !sink.batch(b).await {
                if ready {
                    // The answer is complete: nothing left to stop.
                    break;
                }
                return Err(CopyFailure::Closed(Unread(Answer {
                    buf,
                    at,
                    want,
                    server,
                })));
            }
        }
        if ready {
            break;
        }
        // Keep the partial message, then read more behind it.
        let mut more = Answer {
            buf: std::mem::take(&mut buf),
            at,
            want,
            server: server.take(),
        };
        pacer.pace();
        pacer.record(more.fill(io).await?);
        Answer {
            buf,
            at,
            want,
            server,
        } = more;
    }
    if let Some(e) = server {
        return Err(CopyFailure::Server(e));
    }
    if reply == Reply::Copy && (!started || !parser.is_finished()) {
        return Err(CopyFailure::Server(Error::connection(
            "the COPY stream ended before its trailer",
        )));
    }
    if rows.rows > 0 {
        let b = rows.finish().map_err(CopyFailure::Server)?;
        sink.batch(b).await;
    }
    Ok(())
}

/// How much of an abandoned answer [`discard`] reads before it gives up on the
/// connection instead: a cancelled statement stops within the socket buffers' worth
/// (a few MiB); one that goes on sending was not cancelled.
const DISCARD_LIMIT: usize = 64 << 20;

/// Read and drop the rest of an answer whose reader went away, up to ReadyForQuery (the
/// statement should be cancelled first). The server's error (the cancellation) is
/// dropped with the rest; `Ok` means the stream can be given back. After
/// [`DISCARD_LIMIT`] bytes the connection is given up ([`CopyFailure::Lost`]).
pub async fn discard(io: &mut Borrowed, rest: Unread) -> std::result::Result<(), CopyFailure> {
    let mut answer = rest.0;
    let mut read = 0usize;
    loop {
        while let Some((tag, _, _)) = answer.next()? {
            if tag == b'Z' {
                return Ok(());
            }
        }
        if read > DISCARD_LIMIT {
            return Err(lost(closed()));
        }
        read += answer.fill(io).await?;
    }
}

fn io_error(what: &str, e: std::io::Error) -> Error {
    Error::connection(format!("error {what}: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Split a request into (type, body) messages, checking every length.
    fn messages(mut m: &[u8]) -> Vec<(u8, &[u8])> {
        let mut out = Vec::new();
        while !m.is_empty() {
            let len = u32::from_be_bytes([m[1], m[2], m[3], m[4]]) as usize;
            out.push((m[0], &m[5..1 + len]));
            m = &m[1 + len..];
        }
        out
    }

    #[test]
    fn parse_execute_is_one_well_formed_round_trip() {
        let m = parse_execute("select 1 as \"é\"").unwrap();
        let msgs = messages(&m);
        let tags: Vec<u8> = msgs.iter().map(|(t, _)| *t).collect();
        assert_eq!(tags, b"PBDES");
        assert_eq!(msgs[0].1, "\0select 1 as \"é\"\0\0\0".as_bytes());
        // Portal "", statement "", no parameter formats or values, one binary result format.
        assert_eq!(msgs[1].1, &[0, 0, 0, 0, 0, 0, 0, 1, 0, 1]);
        assert_eq!(msgs[2].1, b"P\0");
        assert_eq!(msgs[3].1, &[0, 0, 0, 0, 0]);
        assert!(msgs[4].1.is_empty());
        let err = parse_execute("select '\0'").unwrap_err();
        assert!(err.message.contains("NUL"), "{}", err.message);
    }

    #[test]
    fn notices_become_one_line_each() {
        // Localized severity (S) first, the untranslated one (V) wins; detail and hint
        // follow the message; unknown fields are skipped.
        let body = b"SAVISO\0VWARNING\0C01000\0Mvalue 3 is odd\0Dold\0Huse 4\0Fx.c\0\0";
        assert_eq!(
            notice(body),
            "WARNING 01000: value 3 is odd DETAIL: old HINT: use 4"
        );
        assert_eq!(notice(b"SNOTICE\0C00000\0Mhi\0\0"), "NOTICE 00000: hi");
        assert!(notice(b"SNOTICE\0Mcut").contains("malformed"));
    }

    fn row_description(cols: &[(&str, u32, i32)]) -> Vec<u8> {
        let mut b = (cols.len() as i16).to_be_bytes().to_vec();
        for (name, oid, modifier) in cols {
            b.extend(name.as_bytes());
            b.push(0);
            b.extend(16384u32.to_be_bytes());
            b.extend(3i16.to_be_bytes());
            b.extend(oid.to_be_bytes());
            b.extend((-1i16).to_be_bytes());
            b.extend(modifier.to_be_bytes());
            b.extend(1i16.to_be_bytes());
        }
        b
    }

    #[test]
    fn row_descriptions_parse_and_malformed_ones_are_errors() {
        let body = row_description(&[("id", 20, -1), ("prix €", 1700, (12 << 16 | 2) + 4)]);
        let cols = parse_row_description(&body).unwrap();
        assert_eq!(
            cols,
            vec![
                ColumnDesc {
                    name: "id",
                    type_oid: 20,
                    modifier: -1
                },
                ColumnDesc {
                    name: "prix €",
                    type_oid: 1700,
                    modifier: (12 << 16 | 2) + 4
                },
            ]
        );
        assert!(parse_row_description(&row_description(&[]))
            .unwrap()
            .is_empty());
        for bad in [
            &body[..1],
            &body[..body.len() - 1],
            &body[..5],
            &[0xff, 0xff][..],
        ] {
            let err = parse_row_description(bad).unwrap_err();
            assert!(err.message.contains("RowDescription"), "{}", err.message);
        }
        let mut longer = body.clone();
        longer.push(0);
        assert!(parse_row_description(&longer).is_err());
        let mut bad_name = row_description(&[("x", 23, -1)]);
        bad_name[2] = 0xff;
        assert!(parse_row_description(&bad_name).is_err());
    }

    #[test]
    fn error_fields_parse_and_garbage_is_rejected() {
        let body = b"SERROR\0C57014\0Mcanceling statement due to user request\0Dmore\0\0";
        let e = parse_error_fields(body).unwrap();
        assert_eq!(e.code, "57014");
        assert_eq!(e.message, "canceling statement due to user request");
        assert_eq!(e.detail, Some("more"));
        assert!(parse_error_fields(b"Cabc").is_err());
        assert!(parse_error_fields(b"").is_err());
        assert!(parse_error_fields(b"M\xff\0\0").is_err());
    }
}
