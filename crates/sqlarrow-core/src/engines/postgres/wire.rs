//! A binary COPY read spoken on a borrowed connection stream (see [`super::tap`]).
//!
//! The reader sends one simple-protocol Query with the COPY statement and reads the
//! server's messages itself: frames are parsed in place out of one large buffer, and
//! each CopyData payload goes straight to the [`CopyParser`]. Nothing is allocated per
//! message and no message crosses a channel.

use super::copy::{CopyParser, TupleBlock};
use super::decode::RowDecoder;
use super::tap::Borrowed;
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

/// A server error, or the connection was lost (the protocol is out of step: the
/// borrowed stream must not be given back).
pub enum CopyFailure {
    /// The server reported an error and is ready for the next statement.
    Server(Error),
    /// The connection cannot be used any more.
    Lost(Error),
}

impl From<CopyFailure> for Error {
    fn from(f: CopyFailure) -> Error {
        match f {
            CopyFailure::Server(e) | CopyFailure::Lost(e) => e,
        }
    }
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
    if name.as_bytes().contains(&0) || types.len() != params.len() || params.len() > 32767 {
        return Err(Error::interface("internal: bad statement for a bound read"));
    }
    let mut m = Vec::with_capacity(64);
    // Bind: portal "", statement, parameter formats, values, one result format (binary).
    m.push(b'B');
    m.extend_from_slice(&[0; 4]);
    m.push(0);
    m.extend_from_slice(name.as_bytes());
    m.push(0);
    m.extend_from_slice(&(params.len() as i16).to_be_bytes());
    for (p, t) in params.iter().zip(types) {
        let f: i16 = match p.encode_format(t) {
            Format::Text => 0,
            Format::Binary => 1,
        };
        m.extend_from_slice(&f.to_be_bytes());
    }
    m.extend_from_slice(&(params.len() as i16).to_be_bytes());
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
}

async fn exchange(
    io: &mut Borrowed,
    request: &[u8],
    reply: Reply,
    rows: &mut RowDecoder,
    sink: &mut Sink,
) -> std::result::Result<(), CopyFailure> {
    io.write_all(request)
        .await
        .map_err(|e| lost(io_error("sending the statement", e)))?;

    let mut parser = CopyParser::new(rows.columns.len());
    let mut block = TupleBlock::new(rows.columns.len());
    let mut full: Vec<arrow_array::RecordBatch> = Vec::new();
    let mut server: Option<Error> = None;
    let mut started = false;
    let mut want = FIRST_READ;
    let mut buf: Vec<u8> = Vec::with_capacity(want);
    let mut at = 0usize;
    loop {
        // Every complete message in the buffer.
        let mut ready = false;
        while buf.len() - at >= 5 {
            let tag = buf[at];
            let len =
                u32::from_be_bytes([buf[at + 1], buf[at + 2], buf[at + 3], buf[at + 4]]) as usize;
            if len < 4 {
                return Err(lost(Error::interface(format!(
                    "malformed message from the server (type {:?}, length {len})",
                    tag as char
                ))));
            }
            let end = at + 1 + len;
            if end > buf.len() {
                break;
            }
            let start = at + 5;
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
                // CopyDone, CommandComplete, NoticeResponse, ParameterStatus,
                // NotificationResponse, EmptyQueryResponse, BindComplete,
                // PortalSuspended.
                b'c' | b'C' | b'N' | b'S' | b'A' | b'I' | b'2' | b's' => {}
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
                return Err(lost(Error::cancelled("the reader was closed")));
            }
        }
        if ready {
            break;
        }
        // Keep the partial message, then read more behind it.
        if at > 0 {
            buf.copy_within(at.., 0);
            buf.truncate(buf.len() - at);
            at = 0;
        }
        if buf.capacity() - buf.len() < want / 2 {
            buf.reserve(want);
        }
        let spare = buf.capacity() - buf.len();
        // When the connection ends, the server's last word (e.g. "terminating
        // connection due to administrator command") says more than the I/O error.
        let n = match io.read(&mut buf).await {
            Ok(n) => n,
            Err(e) => {
                return Err(lost(
                    server
                        .take()
                        .unwrap_or_else(|| io_error("reading the COPY stream", e)),
                ))
            }
        };
        if n == spare && want < MAX_READ {
            want *= 2;
        }
        if n == 0 {
            return Err(lost(server.take().unwrap_or_else(|| {
                Error::connection("the server closed the connection in the middle of a COPY")
            })));
        }
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

fn io_error(what: &str, e: std::io::Error) -> Error {
    Error::connection(format!("error {what}: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

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
