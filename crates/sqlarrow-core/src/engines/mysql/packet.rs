//! The server's `max_allowed_packet`, checked before a command goes out.
//!
//! A command longer than `max_allowed_packet` (a statement text, or one execution's
//! parameters) makes the server drop the connection. The client then sees a reset
//! socket or packets out of order: a *transient* connection error that a retry policy
//! would repeat, and that does not name the cause. So statement texts and parameter
//! sets longer than the smallest limit a server accepts are measured against the
//! server's own value first, and refused with an error that names it.

use std::sync::atomic::{AtomicUsize, Ordering};

use mysql_async::prelude::Queryable;
use mysql_async::{Conn, Value as MyValue};

use super::map_err;
use crate::error::{Error, ErrorKind, Result};

/// The smallest `max_allowed_packet` a server accepts: shorter commands need no check.
pub(crate) const SMALLEST_LIMIT: usize = 1024;

/// Bytes of a `COM_STMT_EXECUTE` payload besides the values: command, statement id,
/// flags, iteration count, the "types follow" byte and two type bytes per value (as
/// mysql_common builds it).
pub(crate) fn execute_len(params: &[MyValue]) -> usize {
    let data: u64 = params.iter().map(MyValue::bin_len).sum();
    10 + params.len().div_ceil(8) + 1 + 2 * params.len() + data as usize
}

/// Bytes one parameter set adds to a `COM_STMT_BULK_EXECUTE` payload (an indicator
/// byte per value, as mysql_common counts it).
pub(crate) fn bulk_row_len(params: &[MyValue]) -> usize {
    params.iter().map(|p| p.bin_len() as usize + 1).sum()
}

/// Whether a command of `len` bytes fits a limit of `limit`. The server refuses a
/// `COM_QUERY` whose payload is exactly `max_allowed_packet` long (and takes a
/// `COM_STMT_EXECUTE` of that length): one byte short of it is the limit for all.
pub(crate) fn fits(len: usize, limit: usize) -> bool {
    len < limit
}

/// What a command carries, for the error that refuses it.
#[derive(Clone, Copy)]
pub(crate) enum Part {
    /// The statement's SQL text.
    Text,
    /// The values of one execution (`Some(i)`: parameter set `i` of an executemany).
    Params(Option<usize>),
}

/// The error for a command of `len` bytes against a server limit of `limit`.
pub(crate) fn too_large(part: Part, len: usize, limit: usize) -> Error {
    let mib = |n: usize| n as f64 / (1024.0 * 1024.0);
    let (kind, what) = match part {
        Part::Text => (ErrorKind::Query, "the statement text takes".to_string()),
        Part::Params(None) => (ErrorKind::Parameter, "the parameters take".to_string()),
        Part::Params(Some(i)) => (ErrorKind::Parameter, format!("parameter set {i} takes")),
    };
    Error::new(
        kind,
        format!(
            "{what} {len} bytes ({:.1} MiB) on the wire, which the server's \
             max_allowed_packet of {limit} bytes ({:.1} MiB) does not allow: the server \
             would drop the connection. Raise max_allowed_packet on the server, or send \
             the data in smaller pieces",
            mib(len),
            mib(limit)
        ),
    )
    .transient(false)
}

/// Read `@@max_allowed_packet` on `conn`.
pub(crate) async fn ask(conn: &mut Conn) -> Result<usize> {
    let v: Option<u64> = conn
        .query_first("SELECT @@max_allowed_packet")
        .await
        .map_err(map_err)?;
    Ok(v.map_or(usize::MAX, |v| v as usize))
}

/// The server's `max_allowed_packet` as a connector last saw it (0: not asked yet),
/// for commands sent through mysql_async. Each connection's value is the server's
/// global value when it connected.
#[derive(Default)]
pub(crate) struct PacketLimit(AtomicUsize);

impl PacketLimit {
    /// Refuse a command of `len` bytes that `conn`'s server would not take. The value
    /// is asked once per connector, and asked again before refusing (the global may
    /// have been raised since).
    pub(crate) async fn check(&self, conn: &mut Conn, part: Part, len: usize) -> Result<()> {
        let known = self.0.load(Ordering::Relaxed);
        if fits(len, SMALLEST_LIMIT) || (known != 0 && fits(len, known)) {
            return Ok(());
        }
        let limit = self.fetch(conn).await?;
        if !fits(len, limit) {
            return Err(too_large(part, len, limit));
        }
        Ok(())
    }

    /// The value last seen, or asked on `conn` when there is none yet.
    pub(crate) async fn value(&self, conn: &mut Conn) -> Result<usize> {
        match self.0.load(Ordering::Relaxed) {
            0 => self.fetch(conn).await,
            known => Ok(known),
        }
    }

    /// The current value, asked on `conn`.
    pub(crate) async fn fetch(&self, conn: &mut Conn) -> Result<usize> {
        let limit = ask(conn).await?;
        self.0.store(limit, Ordering::Relaxed);
        Ok(limit)
    }
}

/// Cut parameter sets of `lens` bytes each into runs of at most `max_rows` sets whose
/// bulk command (`head` bytes plus the sets) fits in `limit` bytes. A set that does not
/// fit even alone gets a run of its own (the caller refuses it first).
pub(crate) fn chunks(
    lens: &[usize],
    head: usize,
    limit: usize,
    max_rows: usize,
) -> Vec<std::ops::Range<usize>> {
    let mut out = Vec::new();
    let (mut start, mut bytes) = (0, head);
    for (i, len) in lens.iter().enumerate() {
        if i > start && (i - start == max_rows || !fits(bytes.saturating_add(*len), limit)) {
            out.push(start..i);
            (start, bytes) = (i, head);
        }
        bytes = bytes.saturating_add(*len);
    }
    if start < lens.len() {
        out.push(start..lens.len());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lengths_follow_the_protocol() {
        // 10 fixed bytes, 1 bitmap byte, the "types follow" byte, 2×2 type bytes, an
        // 8-byte int and a 3-byte string with its 1-byte length.
        let p = [MyValue::Int(1), MyValue::Bytes(b"abc".to_vec())];
        assert_eq!(execute_len(&p), 10 + 1 + 1 + 4 + 8 + 4);
        assert_eq!(execute_len(&[MyValue::NULL]), 10 + 1 + 1 + 2);
        assert_eq!(bulk_row_len(&p), 9 + 5);
        let e = too_large(Part::Params(Some(3)), 20 << 20, 16 << 20);
        assert_eq!(e.kind, ErrorKind::Parameter);
        assert!(!e.transient);
        assert!(e
            .message
            .starts_with("parameter set 3 takes 20971520 bytes (20.0 MiB)"));
        assert!(e
            .message
            .contains("max_allowed_packet of 16777216 bytes (16.0 MiB)"));
        assert!(fits(1023, 1024) && !fits(1024, 1024));
        assert_eq!(too_large(Part::Text, 2000, 1024).kind, ErrorKind::Query);
    }

    #[test]
    fn bulk_sets_are_cut_to_fit() {
        assert_eq!(
            chunks(&[], 10, 100, 5),
            Vec::<std::ops::Range<usize>>::new()
        );
        // By bytes: 10 + 40 + 40 = 90 fits in 100, a third set would not.
        assert_eq!(chunks(&[40; 5], 10, 100, 1000), vec![0..2, 2..4, 4..5]);
        // One byte short of the limit still fits; the limit itself does not.
        assert_eq!(chunks(&[45, 44, 1], 10, 100, 1000), vec![0..2, 2..3]);
        assert_eq!(chunks(&[45, 45, 1], 10, 100, 1000), vec![0..1, 1..3]);
        // By count.
        assert_eq!(chunks(&[1; 7], 10, usize::MAX, 3), vec![0..3, 3..6, 6..7]);
        // A set too large alone is a run of its own.
        assert_eq!(chunks(&[5, 500, 5], 10, 100, 1000), vec![0..1, 1..2, 2..3]);
    }
}
