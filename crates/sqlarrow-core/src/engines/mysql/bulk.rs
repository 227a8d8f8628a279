//! Plain appends to MariaDB as parameter arrays (`COM_STMT_BULK_EXECUTE`).
//!
//! `LOAD DATA LOCAL INFILE` makes the server parse text one character at a time
//! (`READ_INFO::read_field`), which is most of the server's work on a load. A bulk
//! execution of a prepared `INSERT` carries the values in the binary protocol instead:
//! integers, floats, dates and timestamps as fixed-width fields, text and bytes with a
//! length prefix, nothing to scan or unescape. The server's CPU per load drops by about
//! a tenth on narrow integer rows and by a third on rows with text, decimals and
//! timestamps (see `benches/NOTES.md`), and a load no longer needs `local_infile`.
//!
//! The values are encoded on a blocking thread straight from the Arrow arrays into
//! command payloads of up to [`CHUNK_BYTES`]; the connection sends each and reads its
//! OK while the next one is being encoded. Everything runs in one transaction on a
//! fast-reader connection ([`super::wire`]); any error or warning rolls it back.

use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::*;
use arrow_array::{Array, ArrayRef, BooleanArray, PrimitiveArray, StringArray};
use arrow_buffer::NullBuffer;

use super::wire::WireConn;
use super::write::{Kind, Plan, Reader, HEX};
use crate::cancel::CancelSlot;
use crate::error::{Error, Result};
use crate::value::civil;
use crate::write::next_batch;

/// Target size of one bulk command. Large enough that the round trip per command is
/// noise (tens of thousands of rows), small enough to keep two in flight cheaply.
const CHUNK_BYTES: usize = 4 << 20;
/// `COM_STMT_BULK_EXECUTE` and its flag `STMT_BULK_FLAG_SEND_TYPES_TO_SERVER`.
const COM_STMT_BULK_EXECUTE: u8 = 0xFA;
const SEND_TYPES_TO_SERVER: u16 = 128;
/// Per-value indicators.
const INDICATOR_NONE: u8 = 0;
const INDICATOR_NULL: u8 = 1;

/// The binary-protocol parameter type (and flag byte) a column is sent as.
fn param_type(kind: Kind) -> (u8, u8) {
    match kind {
        Kind::Null => (0x06, 0),                    // MYSQL_TYPE_NULL
        Kind::Bool => (0x01, 0),                    // TINY
        Kind::I64 => (0x08, 0),                     // LONGLONG
        Kind::U64 => (0x08, 0x80),                  // LONGLONG, unsigned
        Kind::F32 => (0x04, 0),                     // FLOAT
        Kind::F64 => (0x05, 0),                     // DOUBLE
        Kind::D128(_) | Kind::D256(_) => (0xF6, 0), // NEWDECIMAL (as text)
        Kind::Text | Kind::Uuid => (0xFD, 0),       // VAR_STRING: in the connection's utf8mb4
        Kind::Bin => (0xFC, 0),                     // BLOB: binary, no character set conversion
        Kind::Date => (0x0A, 0),                    // DATE
        Kind::Time | Kind::Dur => (0x0B, 0),        // TIME
        Kind::Ts => (0x0C, 0),                      // DATETIME (UTC: the session's time zone)
    }
}

/// The command header: command byte, statement id, flags, and the parameter types.
fn header(stmt_id: u32, kinds: &[Kind]) -> Vec<u8> {
    let mut h = Vec::with_capacity(7 + 2 * kinds.len());
    h.push(COM_STMT_BULK_EXECUTE);
    h.extend_from_slice(&stmt_id.to_le_bytes());
    h.extend_from_slice(&SEND_TYPES_TO_SERVER.to_le_bytes());
    for k in kinds {
        let (t, f) = param_type(*k);
        h.push(t);
        h.push(f);
    }
    h
}

/// A batch's column, resolved to its concrete array once.
enum Col<'a> {
    Null,
    Bool(&'a BooleanArray),
    I64(&'a PrimitiveArray<Int64Type>),
    U64(&'a PrimitiveArray<UInt64Type>),
    F32(&'a PrimitiveArray<Float32Type>),
    F64(&'a PrimitiveArray<Float64Type>),
    D128(&'a PrimitiveArray<Decimal128Type>, i8),
    D256(&'a PrimitiveArray<Decimal256Type>, i8),
    Text(&'a StringArray),
    Bin(&'a arrow_array::BinaryArray),
    Uuid(&'a arrow_array::FixedSizeBinaryArray),
    Date(&'a PrimitiveArray<Date32Type>),
    Time(&'a PrimitiveArray<Time64MicrosecondType>),
    Dur(&'a PrimitiveArray<DurationMicrosecondType>),
    Ts(&'a PrimitiveArray<TimestampMicrosecondType>),
}

fn resolve(a: &ArrayRef, kind: Kind) -> Col<'_> {
    match kind {
        Kind::Null => Col::Null,
        Kind::Bool => Col::Bool(a.as_boolean()),
        Kind::I64 => Col::I64(a.as_primitive()),
        Kind::U64 => Col::U64(a.as_primitive()),
        Kind::F32 => Col::F32(a.as_primitive()),
        Kind::F64 => Col::F64(a.as_primitive()),
        Kind::D128(s) => Col::D128(a.as_primitive(), s),
        Kind::D256(s) => Col::D256(a.as_primitive(), s),
        Kind::Text => Col::Text(a.as_string::<i32>()),
        Kind::Bin => Col::Bin(a.as_binary::<i32>()),
        Kind::Uuid => Col::Uuid(a.as_fixed_size_binary()),
        Kind::Date => Col::Date(a.as_primitive()),
        Kind::Time => Col::Time(a.as_primitive()),
        Kind::Dur => Col::Dur(a.as_primitive()),
        Kind::Ts => Col::Ts(a.as_primitive()),
    }
}

/// Append a length-encoded integer.
fn put_lenenc(out: &mut Vec<u8>, n: usize) {
    if n < 251 {
        out.push(n as u8);
    } else if n < 1 << 16 {
        out.push(0xFC);
        out.extend_from_slice(&(n as u16).to_le_bytes());
    } else if n < 1 << 24 {
        out.push(0xFD);
        out.extend_from_slice(&(n as u32).to_le_bytes()[..3]);
    } else {
        out.push(0xFE);
        out.extend_from_slice(&(n as u64).to_le_bytes());
    }
}

fn put_bytes(out: &mut Vec<u8>, b: &[u8]) {
    put_lenenc(out, b.len());
    out.extend_from_slice(b);
}

/// A decimal's text form (`-123.4500` for 1234500 at scale 4), length-prefixed,
/// without allocating.
fn put_decimal(out: &mut Vec<u8>, v: i128, scale: i8) {
    let mut digits = [0u8; 80];
    let mut n = 0;
    let mut m = v.unsigned_abs();
    if m <= u64::MAX as u128 {
        let mut m64 = m as u64;
        loop {
            digits[n] = b'0' + (m64 % 10) as u8;
            n += 1;
            m64 /= 10;
            if m64 == 0 {
                break;
            }
        }
    } else {
        while m > 0 {
            digits[n] = b'0' + (m % 10) as u8;
            n += 1;
            m /= 10;
        }
    }
    let s = scale.max(0) as usize;
    // At least one digit before the point.
    while n < s + 1 {
        digits[n] = b'0';
        n += 1;
    }
    let zeros = (-(scale.min(0) as i32)) as usize;
    let len = usize::from(v < 0) + n + usize::from(s > 0) + zeros;
    put_lenenc(out, len);
    if v < 0 {
        out.push(b'-');
    }
    for i in (0..n).rev() {
        out.push(digits[i]);
        if i == s && s > 0 {
            out.push(b'.');
        }
    }
    out.resize(out.len() + zeros, b'0');
}

fn put_uuid(out: &mut Vec<u8>, b: &[u8]) {
    out.push(36);
    for (i, x) in b.iter().enumerate() {
        if matches!(i, 4 | 6 | 8 | 10) {
            out.push(b'-');
        }
        out.push(HEX[(x >> 4) as usize]);
        out.push(HEX[(x & 15) as usize]);
    }
}

/// `MYSQL_TYPE_DATE`/`DATETIME` in the binary protocol: year, month, day, then
/// (with `us`) hour, minute, second and microseconds. MySQL's year range is 0..=9999.
fn put_datetime(out: &mut Vec<u8>, days: i64, us_of_day: Option<i64>) -> Result<()> {
    let (y, m, d) = civil::civil_from_days(days);
    if !(0..=9999).contains(&y) {
        return Err(Error::data(format!(
            "the year {y} is outside MySQL's range (0 to 9999)"
        )));
    }
    match us_of_day {
        None => {
            out.extend_from_slice(&[4, y as u8, (y >> 8) as u8, m as u8, d as u8]);
        }
        Some(us) => {
            let s = us / 1_000_000;
            let micro = (us % 1_000_000) as u32;
            out.extend_from_slice(&[
                11,
                y as u8,
                (y >> 8) as u8,
                m as u8,
                d as u8,
                (s / 3600) as u8,
                ((s / 60) % 60) as u8,
                (s % 60) as u8,
            ]);
            out.extend_from_slice(&micro.to_le_bytes());
        }
    }
    Ok(())
}

/// `MYSQL_TYPE_TIME`: sign, days, hours, minutes, seconds, microseconds.
fn put_time(out: &mut Vec<u8>, us: i64) {
    let neg = us < 0;
    let a = us.unsigned_abs();
    let s = a / 1_000_000;
    let days = (s / 86_400) as u32;
    out.push(12);
    out.push(u8::from(neg));
    out.extend_from_slice(&days.to_le_bytes());
    out.extend_from_slice(&[
        ((s / 3600) % 24) as u8,
        ((s / 60) % 60) as u8,
        (s % 60) as u8,
    ]);
    out.extend_from_slice(&((a % 1_000_000) as u32).to_le_bytes());
}

fn finite<T: Into<f64> + Copy>(v: T) -> Result<T> {
    let f: f64 = v.into();
    if f.is_finite() {
        Ok(v)
    } else {
        Err(Error::data(format!("MySQL cannot store the float {f}")))
    }
}

/// Append one value (indicator first).
fn put_value(out: &mut Vec<u8>, col: &Col<'_>, nulls: Option<&NullBuffer>, i: usize) -> Result<()> {
    if matches!(col, Col::Null) || nulls.is_some_and(|n| n.is_null(i)) {
        out.push(INDICATOR_NULL);
        return Ok(());
    }
    out.push(INDICATOR_NONE);
    match col {
        Col::Null => {}
        Col::Bool(a) => out.push(u8::from(a.value(i))),
        Col::I64(a) => out.extend_from_slice(&a.value(i).to_le_bytes()),
        Col::U64(a) => out.extend_from_slice(&a.value(i).to_le_bytes()),
        Col::F32(a) => out.extend_from_slice(&finite(a.value(i))?.to_le_bytes()),
        Col::F64(a) => out.extend_from_slice(&finite(a.value(i))?.to_le_bytes()),
        Col::D128(a, s) => put_decimal(out, a.value(i), *s),
        Col::D256(a, s) => {
            let v = a.value(i);
            match v.to_i128() {
                Some(small) => put_decimal(out, small, *s),
                None => {
                    // Beyond 38 digits: MySQL's DECIMAL holds at most 65, as text.
                    let t = super::write::decimal_text(v.to_string(), *s);
                    put_bytes(out, t.as_bytes());
                }
            }
        }
        Col::Text(a) => put_bytes(out, a.value(i).as_bytes()),
        Col::Bin(a) => put_bytes(out, a.value(i)),
        Col::Uuid(a) => put_uuid(out, a.value(i)),
        Col::Date(a) => put_datetime(out, a.value(i) as i64, None)?,
        Col::Time(a) => put_time(out, a.value(i)),
        Col::Dur(a) => put_time(out, super::write::check_time_range(a.value(i))?),
        Col::Ts(a) => {
            let us = a.value(i);
            put_datetime(
                out,
                us.div_euclid(86_400_000_000),
                Some(us.rem_euclid(86_400_000_000)),
            )?
        }
    }
    Ok(())
}

/// Encode every row of `reader` into bulk command payloads of about `limit` bytes
/// (never more than `max_payload`) and hand each to `send`. Returns the number of rows.
/// Runs on a blocking thread.
pub(super) fn encode_all(
    plan: &Plan,
    stmt_id: u32,
    mut reader: Reader,
    limit: usize,
    max_payload: usize,
    mut send: impl FnMut(Vec<u8>) -> Result<()>,
) -> Result<u64> {
    let head = header(stmt_id, &plan.kinds);
    // A new command: the header, with room for `limit` bytes of rows and one more row.
    let fresh = || {
        let mut v = Vec::with_capacity(limit + (64 << 10));
        v.extend_from_slice(&head);
        v
    };
    let mut buf = fresh();
    let mut row_no = 0u64;
    while let Some(batch) = next_batch(reader.as_mut())? {
        let arrays = plan
            .prepare(&batch)
            .map_err(|e| crate::write::at_input_row(e, row_no))?;
        let cols: Vec<(Col<'_>, Option<&NullBuffer>)> = arrays
            .iter()
            .zip(&plan.kinds)
            .map(|(a, k)| (resolve(a, *k), a.nulls()))
            .collect();
        for i in 0..batch.num_rows() {
            let start = buf.len();
            for (k, (col, nulls)) in cols.iter().enumerate() {
                put_value(&mut buf, col, *nulls, i).map_err(|e| {
                    e.context(format!("column \"{}\", input row {row_no}", plan.names[k]))
                })?;
            }
            if buf.len() > max_payload && start > head.len() {
                // This row starts the next command.
                let tail = buf.split_off(start);
                send(std::mem::replace(&mut buf, fresh()))?;
                buf.extend_from_slice(&tail);
            }
            if buf.len() > max_payload {
                return Err(Error::data(format!(
                    "input row {row_no} takes {} bytes, more than the server's \
                     max_allowed_packet allows ({max_payload}); raise max_allowed_packet",
                    buf.len() - head.len()
                )));
            }
            if buf.len() >= limit {
                send(std::mem::replace(&mut buf, fresh()))?;
            }
            row_no += 1;
        }
    }
    if buf.len() > head.len() {
        send(buf)?;
    }
    Ok(row_no)
}

/// Run a plain append on `w`: `before` (e.g. the `DELETE` of a replace), then the rows
/// through the prepared `insert`, in one transaction. Returns the rows written. On
/// an error the transaction is rolled back when the connection is still in step (or
/// left for the server to roll back when the connection is dropped). Cancellation
/// (Ctrl-C) is also checked before every command: between two commands no statement
/// runs for `KILL QUERY` to stop.
pub(super) async fn append(
    w: &mut WireConn,
    insert: &str,
    before: Option<&str>,
    plan: &Arc<Plan>,
    reader: Reader,
    cancel: &CancelSlot,
) -> Result<u64> {
    w.set_busy(true);
    let res: Result<u64> = async {
        let max_packet = w.max_packet().await?;
        // The command must fit in max_allowed_packet, and one protocol packet.
        let max_payload = max_packet.saturating_sub(1024).clamp(4096, 0xFF_FFFF - 1);
        let limit = CHUNK_BYTES.min(max_payload);
        w.simple("START TRANSACTION").await?;
        if let Some(sql) = before {
            w.simple(sql).await?;
        }
        let (stmt_id, nparams) = w.prepare_fresh(insert).await?;
        if nparams != plan.kinds.len() {
            return Err(Error::interface(format!(
                "the INSERT has {nparams} parameters for {} columns",
                plan.kinds.len()
            )));
        }
        let (tx, mut rx) = tokio::sync::mpsc::channel::<Vec<u8>>(2);
        let plan2 = plan.clone();
        let encoder = tokio::task::spawn_blocking(move || {
            encode_all(&plan2, stmt_id, reader, limit, max_payload, |payload| {
                tx.blocking_send(payload)
                    .map_err(|_| Error::interface("the server stopped taking the data"))
            })
        });
        let mut affected = 0u64;
        let mut failed: Option<Error> = None;
        while let Some(payload) = rx.recv().await {
            if cancel.is_cancelled() {
                failed = Some(Error::cancelled("the write was cancelled"));
                break;
            }
            match w.bulk_execute(&payload).await {
                Ok((n, 0)) => affected += n,
                Ok((_, _)) => {
                    failed = Some(match w.text_row("SHOW WARNINGS LIMIT 1").await {
                        Ok(Some(row)) => {
                            let code = row.get(1).cloned().flatten().unwrap_or_default();
                            let msg = row.get(2).cloned().flatten().unwrap_or_default();
                            super::write::warning_error(&code, &msg)
                        }
                        Ok(None) => Error::data("the server reported a warning while inserting"),
                        Err(e) => e,
                    });
                    break;
                }
                Err(e) => {
                    failed = Some(e);
                    break;
                }
            }
        }
        // Stop the encoder (its next send fails) and collect its outcome.
        drop(rx);
        let encoded = encoder
            .await
            .map_err(|e| Error::interface(format!("the bulk encoder failed: {e}")))?;
        if let Some(e) = failed {
            return Err(e);
        }
        let rows = encoded?;
        if affected != rows {
            return Err(Error::interface(format!(
                "the server inserted {affected} rows of {rows}"
            )));
        }
        Ok(rows)
    }
    .await;
    match res {
        Ok(rows) => {
            w.simple("COMMIT").await.map_err(|e| e.commit_in_doubt())?;
            w.set_busy(false);
            Ok(rows)
        }
        Err(e) => {
            if w.in_step() && w.simple("ROLLBACK").await.is_ok() {
                w.set_busy(false);
            }
            Err(e)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dec(v: i128, s: i8) -> String {
        let mut out = Vec::new();
        put_decimal(&mut out, v, s);
        assert_eq!(out[0] as usize, out.len() - 1, "length prefix");
        String::from_utf8(out[1..].to_vec()).unwrap()
    }

    #[test]
    fn decimals_as_text() {
        assert_eq!(dec(1234500, 4), "123.4500");
        assert_eq!(dec(-1, 4), "-0.0001");
        assert_eq!(dec(0, 2), "0.00");
        assert_eq!(dec(0, 0), "0");
        assert_eq!(dec(-42, 0), "-42");
        assert_eq!(dec(7, -3), "7000");
        assert_eq!(dec(i128::MAX, 0), i128::MAX.to_string());
        assert_eq!(
            dec(i128::MIN, 38),
            format!("-1.{}", &i128::MIN.to_string()[2..])
        );
        for (v, s) in [(123456789012345678i128, 4i8), (-98765, 2), (5, 10)] {
            let want = super::super::write::decimal_text(v.to_string(), s);
            assert_eq!(dec(v, s), want);
        }
    }

    /// Rows of (int64, nullable text) split into commands of at most `max` bytes.
    fn encode(
        n: usize,
        text: impl Fn(usize) -> Option<String>,
        limit: usize,
        max: usize,
    ) -> Result<Vec<Vec<u8>>> {
        use arrow_array::{Int64Array, RecordBatch, RecordBatchIterator};
        let schema = Arc::new(arrow_schema::Schema::new(vec![
            arrow_schema::Field::new("id", arrow_schema::DataType::Int64, false),
            arrow_schema::Field::new("t", arrow_schema::DataType::Utf8, true),
        ]));
        let plan = super::super::write::plan_for(&schema, &Default::default())?;
        let batch = |r: std::ops::Range<usize>| {
            RecordBatch::try_new(
                schema.clone(),
                vec![
                    Arc::new(Int64Array::from_iter_values(r.clone().map(|i| i as i64))),
                    Arc::new(StringArray::from_iter(r.map(&text))),
                ],
            )
        };
        let batches = vec![batch(0..n / 2), batch(n / 2..n)];
        let reader: Reader = Box::new(RecordBatchIterator::new(batches, schema.clone()));
        let mut out = Vec::new();
        let rows = encode_all(&plan, 7, reader, limit, max, |p| {
            out.push(p);
            Ok(())
        })?;
        assert_eq!(rows, n as u64);
        Ok(out)
    }

    #[test]
    fn commands_split_at_the_limit_and_never_exceed_the_packet() {
        let head = header(7, &[Kind::I64, Kind::Text]);
        assert_eq!(head, [0xFA, 7, 0, 0, 0, 128, 0, 0x08, 0, 0xFD, 0]);
        // Every row: indicator + 8 bytes, then indicator (+ length + "abc" when not NULL).
        let text = |i: usize| (i % 3 != 0).then(|| "abc".to_string());
        let cmds = encode(1000, text, 200, 250).unwrap();
        assert!(cmds.len() > 1);
        let mut rows = 0;
        for c in &cmds {
            assert!(c.len() <= 250, "{}", c.len());
            assert_eq!(&c[..head.len()], &head[..]);
            // Walk the rows: each one decodes, none is cut between two commands.
            let mut b = &c[head.len()..];
            while !b.is_empty() {
                assert_eq!(b[0], INDICATOR_NONE);
                let id = i64::from_le_bytes(b[1..9].try_into().unwrap());
                assert_eq!(id, rows);
                b = &b[9..];
                if rows % 3 == 0 {
                    assert_eq!(b[0], INDICATOR_NULL);
                    b = &b[1..];
                } else {
                    assert_eq!(&b[..5], &[INDICATOR_NONE, 3, b'a', b'b', b'c']);
                    b = &b[5..];
                }
                rows += 1;
            }
        }
        assert_eq!(rows, 1000);
        // A row that cannot fit a command on its own is an error naming it.
        let big = |i: usize| {
            Some(if i == 5 {
                "x".repeat(300)
            } else {
                "y".to_string()
            })
        };
        let e = encode(10, big, 200, 250).unwrap_err();
        assert!(e.message.contains("input row 5"), "{}", e.message);
        assert!(e.message.contains("max_allowed_packet"), "{}", e.message);
    }

    #[test]
    fn dates_times_and_uuids() {
        let mut out = Vec::new();
        // 2024-02-29 12:00:00.123456
        let days = civil::days_from_civil(2024, 2, 29);
        put_datetime(&mut out, days, Some(12 * 3_600_000_000 + 123_456)).unwrap();
        assert_eq!(out, [11, 0xE8, 0x07, 2, 29, 12, 0, 0, 0x40, 0xE2, 0x01, 0]);
        out.clear();
        put_datetime(&mut out, civil::days_from_civil(1000, 1, 1), None).unwrap();
        assert_eq!(out, [4, 0xE8, 0x03, 1, 1]);
        assert!(put_datetime(&mut out, civil::days_from_civil(10000, 1, 1), None).is_err());
        assert!(put_datetime(&mut out, civil::days_from_civil(-1, 1, 1), None).is_err());
        out.clear();
        put_time(&mut out, -(25 * 3_600_000_000 + 1));
        assert_eq!(out, [12, 1, 1, 0, 0, 0, 1, 0, 0, 1, 0, 0, 0]);
        out.clear();
        put_uuid(&mut out, &[0xAB; 16]);
        assert_eq!(
            std::str::from_utf8(&out[1..]).unwrap(),
            "abababab-abab-abab-abab-abababababab"
        );
        out.clear();
        put_lenenc(&mut out, 300);
        assert_eq!(out, [0xFC, 0x2C, 0x01]);
    }
}
