//! Parser of PostgreSQL's binary COPY stream (`COPY ... TO STDOUT (FORMAT binary)`).
//!
//! The stream arrives as CopyData chunks that may split a tuple anywhere. Complete
//! tuples are decoded straight out of each chunk; only a tuple straddling two chunks is
//! copied (into a small carry-over buffer).

use bytes::{Buf as _, BytesMut};

use super::decode::{FieldAt, RowDecoder};
use crate::error::{Error, Result};

const SIGNATURE: &[u8; 11] = b"PGCOPY\n\xff\r\n\0";

/// Incremental parser state.
pub struct CopyParser {
    header_done: bool,
    finished: bool,
    carry: BytesMut,
    ncols: usize,
}

/// What parsing a chunk produced.
pub enum Progress {
    /// Keep feeding chunks.
    More,
    /// The trailer was seen.
    Done,
}

impl CopyParser {
    pub fn new(ncols: usize) -> Self {
        CopyParser {
            header_done: false,
            finished: false,
            carry: BytesMut::new(),
            ncols,
        }
    }

    pub fn is_finished(&self) -> bool {
        self.finished
    }

    /// Whether the next CopyData payload may be taken as whole tuples by a
    /// [`TupleBlock`]: the header is behind, no tuple is half-received, no trailer seen.
    #[inline]
    pub fn between_tuples(&self) -> bool {
        self.header_done && !self.finished && self.carry.is_empty()
    }

    /// Feed one CopyData payload; decodes every complete tuple into `rows`, calling
    /// `on_full` whenever the decoder's batch is full.
    pub fn feed(
        &mut self,
        chunk: &[u8],
        rows: &mut RowDecoder,
        on_full: &mut dyn FnMut(&mut RowDecoder) -> Result<()>,
    ) -> Result<Progress> {
        if self.finished {
            return Ok(Progress::Done);
        }
        if self.carry.is_empty() {
            let mut buf: &[u8] = chunk;
            let consumed = self.parse(&mut buf, rows, on_full)?;
            if !buf.is_empty() && !self.finished {
                self.carry.extend_from_slice(&chunk[consumed..]);
            }
        } else {
            self.carry.extend_from_slice(chunk);
            let carry = std::mem::take(&mut self.carry);
            let mut buf: &[u8] = &carry;
            let consumed = self.parse(&mut buf, rows, on_full)?;
            if !self.finished {
                let mut rest = carry;
                rest.advance(consumed);
                self.carry = rest;
            }
        }
        Ok(if self.finished {
            Progress::Done
        } else {
            Progress::More
        })
    }

    /// Parse as much as possible from `buf`; returns bytes consumed.
    fn parse(
        &mut self,
        buf: &mut &[u8],
        rows: &mut RowDecoder,
        on_full: &mut dyn FnMut(&mut RowDecoder) -> Result<()>,
    ) -> Result<usize> {
        let start_len = buf.len();
        if !self.header_done {
            if buf.len() < 19 {
                return Ok(0);
            }
            if &buf[..11] != SIGNATURE {
                return Err(Error::data("malformed COPY stream: bad signature"));
            }
            let ext = u32::from_be_bytes([buf[15], buf[16], buf[17], buf[18]]) as usize;
            if buf.len() < 19 + ext {
                return Ok(0);
            }
            *buf = &buf[19 + ext..];
            self.header_done = true;
        }
        loop {
            let b: &[u8] = buf;
            if b.len() < 2 {
                break;
            }
            let nfields = i16::from_be_bytes([b[0], b[1]]);
            if nfields == -1 {
                self.finished = true;
                *buf = &b[2..];
                break;
            }
            if nfields as usize != self.ncols {
                return Err(Error::data(format!(
                    "malformed COPY stream: tuple has {nfields} fields, expected {}",
                    self.ncols
                )));
            }
            // First check the whole tuple is present, then decode it.
            let mut pos = 2usize;
            let mut complete = true;
            for _ in 0..self.ncols {
                if b.len() < pos + 4 {
                    complete = false;
                    break;
                }
                let len = i32::from_be_bytes([b[pos], b[pos + 1], b[pos + 2], b[pos + 3]]);
                pos += 4;
                if len > 0 {
                    pos += len as usize;
                }
                if b.len() < pos {
                    complete = false;
                    break;
                }
            }
            if !complete {
                break;
            }
            let mut p = 2usize;
            for col in rows.columns.iter_mut() {
                let len = i32::from_be_bytes([b[p], b[p + 1], b[p + 2], b[p + 3]]);
                p += 4;
                if len < 0 {
                    col.push_null();
                } else {
                    let l = len as usize;
                    col.push(Some(&b[p..p + l]))?;
                    p += l;
                }
            }
            rows.rows += 1;
            *buf = &b[pos..];
            if rows.is_full() {
                on_full(rows)?;
            }
        }
        Ok(start_len - buf.len())
    }
}

/// Tuples per block: the fields of one block stay in the L1/L2 cache while they are
/// decoded column by column.
const BLOCK_ROWS: usize = 256;

/// A block of tuples located in a read buffer but not yet decoded.
///
/// A reader records each complete tuple (a binary COPY tuple, or a DataRow body, which
/// has the same layout) as it finds it in its buffer: the field walk that checks the
/// tuple is whole also notes where each field lies. The block is then decoded one
/// column at a time ([`ColumnDecoder::push_block`](super::decode::ColumnDecoder::push_block)),
/// so the type dispatch happens once per column per block instead of once per value.
/// The recorded offsets point into the reader's buffer, so the block must be flushed
/// before that buffer is moved, compacted or refilled.
pub struct TupleBlock {
    ncols: usize,
    /// Column-major: field `c` of tuple `t` is at `fields[c * BLOCK_ROWS + t]`.
    fields: Vec<FieldAt>,
    n: usize,
}

impl TupleBlock {
    pub fn new(ncols: usize) -> Self {
        TupleBlock {
            ncols,
            fields: vec![FieldAt::default(); ncols * BLOCK_ROWS],
            n: 0,
        }
    }

    /// Tuples recorded and not yet decoded.
    #[inline]
    pub fn len(&self) -> usize {
        self.n
    }

    #[inline]
    pub fn is_empty(&self) -> bool {
        self.n == 0
    }

    /// Record `data[start..end]` as one tuple if it is exactly one well-formed tuple of
    /// the expected width, and return whether it was; otherwise nothing is recorded
    /// (the caller takes the slow path, which reports what is wrong).
    #[inline]
    pub fn record(&mut self, data: &[u8], start: usize, end: usize) -> bool {
        if end > u32::MAX as usize || end > data.len() || start + 2 > end {
            return false;
        }
        let nfields = i16::from_be_bytes([data[start], data[start + 1]]);
        if nfields < 0 || nfields as usize != self.ncols {
            return false;
        }
        let mut pos = start + 2;
        let t = self.n;
        for c in 0..self.ncols {
            if pos + 4 > end {
                return false;
            }
            let len = i32::from_be_bytes([data[pos], data[pos + 1], data[pos + 2], data[pos + 3]]);
            pos += 4;
            self.fields[c * BLOCK_ROWS + t] = FieldAt {
                off: pos as u32,
                len,
            };
            if len > 0 {
                pos += len as usize;
                if pos > end {
                    return false;
                }
            }
        }
        if pos != end {
            return false;
        }
        self.n += 1;
        true
    }

    /// Whether the block should be decoded now: it is full, or it holds as many
    /// tuples as the batch being built has room for.
    #[inline]
    pub fn should_flush(&self, rows: &RowDecoder) -> bool {
        self.n >= BLOCK_ROWS.min(rows.room().max(1))
    }

    /// Take one CopyData message whose payload is `data[start..end]`: a whole tuple
    /// is recorded (and the block decoded when it should be); anything else (the
    /// header, the trailer, a tuple split over messages, a malformed tuple) goes to
    /// `parser` once the block before it is decoded. `on_full` gets each full batch.
    #[inline]
    pub fn take_copy_data(
        &mut self,
        parser: &mut CopyParser,
        data: &[u8],
        start: usize,
        end: usize,
        rows: &mut RowDecoder,
        on_full: &mut dyn FnMut(&mut RowDecoder) -> Result<()>,
    ) -> Result<()> {
        if !self.take(parser.between_tuples(), data, start, end, rows, on_full)? {
            parser.feed(&data[start..end], rows, on_full)?;
        }
        Ok(())
    }

    /// Take one DataRow message whose body is `data[start..end]`, as
    /// [`TupleBlock::take_copy_data`] does; a body that is not one well-formed row goes
    /// to [`decode_data_row`], which reports what is wrong with it.
    #[inline]
    pub fn take_data_row(
        &mut self,
        data: &[u8],
        start: usize,
        end: usize,
        rows: &mut RowDecoder,
        on_full: &mut dyn FnMut(&mut RowDecoder) -> Result<()>,
    ) -> Result<()> {
        if !self.take(true, data, start, end, rows, on_full)? {
            decode_data_row(&data[start..end], rows)?;
            if rows.is_full() {
                on_full(rows)?;
            }
        }
        Ok(())
    }

    /// Record `data[start..end]` when `eligible` and it is one whole tuple, decoding the
    /// block when it should be, and return true; otherwise decode what the block holds
    /// (so the caller's slow path sees the rows in order) and return false.
    #[inline]
    fn take(
        &mut self,
        eligible: bool,
        data: &[u8],
        start: usize,
        end: usize,
        rows: &mut RowDecoder,
        on_full: &mut dyn FnMut(&mut RowDecoder) -> Result<()>,
    ) -> Result<bool> {
        let recorded = eligible && self.record(data, start, end);
        if !recorded || self.should_flush(rows) {
            self.decode(data, rows, on_full)?;
        }
        Ok(recorded)
    }

    /// Decode the recorded tuples (whose offsets point into `data`) into `rows`, then
    /// hand a full batch to `on_full`. Does nothing when the block is empty.
    #[inline]
    pub fn decode(
        &mut self,
        data: &[u8],
        rows: &mut RowDecoder,
        on_full: &mut dyn FnMut(&mut RowDecoder) -> Result<()>,
    ) -> Result<()> {
        let n = std::mem::take(&mut self.n);
        if n == 0 {
            return Ok(());
        }
        for (c, col) in rows.columns.iter_mut().enumerate() {
            col.push_block(data, &self.fields[c * BLOCK_ROWS..c * BLOCK_ROWS + n])?;
        }
        rows.rows += n;
        if rows.is_full() {
            on_full(rows)?;
        }
        Ok(())
    }
}

/// Decode one DataRow message body (a field count, then each field as a length and its
/// bytes, -1 for NULL: the same layout as a binary COPY tuple) into `rows`.
pub fn decode_data_row(body: &[u8], rows: &mut RowDecoder) -> Result<()> {
    let malformed = || Error::interface("malformed DataRow message from the server");
    let n = body.get(..2).ok_or_else(malformed)?;
    let nfields = i16::from_be_bytes([n[0], n[1]]);
    if nfields < 0 || nfields as usize != rows.columns.len() {
        return Err(Error::interface(format!(
            "the server sent a row of {nfields} fields, expected {}",
            rows.columns.len()
        )));
    }
    // Check the lengths first, so a malformed row leaves no column half-filled.
    let mut p = 2usize;
    for _ in 0..nfields {
        let l = body.get(p..p + 4).ok_or_else(malformed)?;
        p += 4 + i32::from_be_bytes([l[0], l[1], l[2], l[3]]).max(0) as usize;
    }
    if p != body.len() {
        return Err(malformed());
    }
    let mut p = 2usize;
    for col in rows.columns.iter_mut() {
        let len = i32::from_be_bytes([body[p], body[p + 1], body[p + 2], body[p + 3]]);
        p += 4;
        if len < 0 {
            col.push_null();
        } else {
            let end = p + len as usize;
            col.push(Some(&body[p..end]))?;
            p = end;
        }
    }
    rows.rows += 1;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::decode::{field_for, PgKind, RowDecoder};
    use super::*;
    use arrow_array::{cast::AsArray, types::Int32Type, RecordBatch};
    use arrow_schema::Schema;
    use std::sync::Arc;

    fn stream(rows: &[Option<i32>]) -> Vec<u8> {
        let mut v = SIGNATURE.to_vec();
        v.extend(0u32.to_be_bytes());
        v.extend(0u32.to_be_bytes());
        for r in rows {
            v.extend(1i16.to_be_bytes());
            match r {
                Some(x) => {
                    v.extend(4i32.to_be_bytes());
                    v.extend(x.to_be_bytes());
                }
                None => v.extend((-1i32).to_be_bytes()),
            }
        }
        v.extend((-1i16).to_be_bytes());
        v
    }

    #[test]
    fn parses_across_arbitrary_chunk_boundaries() {
        let data: Vec<Option<i32>> = (0..100)
            .map(|i| if i % 7 == 0 { None } else { Some(i) })
            .collect();
        let bytes = stream(&data);
        for chunk_size in [1usize, 2, 3, 5, 7, 19, 64, 1000] {
            let schema = Arc::new(Schema::new(vec![field_for("x", PgKind::Int4)]));
            let mut rows = RowDecoder::new(schema, &[PgKind::Int4], 30);
            let mut parser = CopyParser::new(1);
            let mut batches = Vec::new();
            for c in bytes.chunks(chunk_size) {
                parser
                    .feed(c, &mut rows, &mut |r| {
                        batches.push(r.finish()?);
                        Ok(())
                    })
                    .unwrap();
            }
            assert!(parser.is_finished());
            if rows.rows > 0 {
                batches.push(rows.finish().unwrap());
            }
            let got: Vec<Option<i32>> = batches
                .iter()
                .flat_map(|b| {
                    b.column(0)
                        .as_primitive::<Int32Type>()
                        .iter()
                        .collect::<Vec<_>>()
                })
                .collect();
            assert_eq!(got, data, "chunk size {chunk_size}");
            assert_eq!(batches[0].num_rows(), 30);
        }
    }

    #[test]
    fn data_rows_decode_and_truncated_ones_are_errors() {
        let schema = Arc::new(Schema::new(vec![
            field_for("a", PgKind::Int4),
            field_for("b", PgKind::Int4),
        ]));
        let mut rows = RowDecoder::new(schema, &[PgKind::Int4, PgKind::Int4], 10);
        let mut body = 2i16.to_be_bytes().to_vec();
        body.extend(4i32.to_be_bytes());
        body.extend(7i32.to_be_bytes());
        body.extend((-1i32).to_be_bytes());
        decode_data_row(&body, &mut rows).unwrap();
        for bad in [&body[..1], &body[..9], &body[..body.len() - 1]] {
            assert!(decode_data_row(bad, &mut rows).is_err());
        }
        let mut long = body.clone();
        long.push(0);
        assert!(decode_data_row(&long, &mut rows).is_err());
        let mut one = 1i16.to_be_bytes().to_vec();
        one.extend((-1i32).to_be_bytes());
        assert!(decode_data_row(&one, &mut rows)
            .unwrap_err()
            .message
            .contains("1 fields, expected 2"));
        let b = rows.finish().unwrap();
        assert_eq!(b.num_rows(), 1);
        assert_eq!(b.column(0).as_primitive::<Int32Type>().value(0), 7);
        assert!(b.column(1).is_null(0));
    }

    /// A decoder for columns of `kinds` named c0, c1, ...
    fn decoder(kinds: &[PgKind], capacity: usize) -> RowDecoder {
        let fields: Vec<_> = kinds
            .iter()
            .enumerate()
            .map(|(i, k)| field_for(&format!("c{i}"), *k))
            .collect();
        RowDecoder::new(Arc::new(Schema::new(fields)), kinds, capacity)
    }

    /// Lay `messages` out in one buffer as a reader sees them (with bytes of other
    /// messages between them) and return the buffer and each message's span.
    fn laid_out(messages: &[&[u8]]) -> (Vec<u8>, Vec<(usize, usize)>) {
        let mut buf = vec![0xAAu8; 3];
        let mut spans = Vec::new();
        for m in messages {
            let start = buf.len();
            buf.extend_from_slice(m);
            spans.push((start, buf.len()));
            buf.extend_from_slice(&[0x55; 5]);
        }
        (buf, spans)
    }

    type OnFull<'a> = dyn FnMut(&mut RowDecoder) -> Result<()> + 'a;

    /// Lay `messages` out in one buffer, hand each to `take` with a fresh block and
    /// decoder, decode what is left in the block and return every batch.
    fn drive(
        kinds: &[PgKind],
        capacity: usize,
        messages: &[&[u8]],
        mut take: impl FnMut(
            &mut TupleBlock,
            &[u8],
            usize,
            usize,
            &mut RowDecoder,
            &mut OnFull<'_>,
        ) -> Result<()>,
    ) -> Vec<RecordBatch> {
        let (buf, spans) = laid_out(messages);
        let mut rows = decoder(kinds, capacity);
        let mut block = TupleBlock::new(kinds.len());
        let mut got = Vec::new();
        let mut on_full = |r: &mut RowDecoder| {
            got.push(r.finish()?);
            Ok(())
        };
        for &(s, e) in &spans {
            take(&mut block, &buf, s, e, &mut rows, &mut on_full).unwrap();
        }
        block.decode(&buf, &mut rows, &mut on_full).unwrap();
        if rows.rows > 0 {
            got.push(rows.finish().unwrap());
        }
        got
    }

    /// Decode `tuples` (tuple bodies) three ways: as DataRows through
    /// `TupleBlock::take_data_row`, as a binary COPY stream through
    /// `TupleBlock::take_copy_data` (header and trailer in messages of their own, and
    /// one tuple split over two messages, so the parser's slow path takes part), and
    /// value by value through `decode_data_row`; the batches must be equal.
    fn block_and_rows_agree(kinds: &[PgKind], tuples: &[Vec<u8>], capacity: usize) {
        let mut want_rows = decoder(kinds, capacity);
        let mut want = Vec::new();
        for t in tuples {
            decode_data_row(t, &mut want_rows).unwrap();
            if want_rows.is_full() {
                want.push(want_rows.finish().unwrap());
            }
        }
        if want_rows.rows > 0 {
            want.push(want_rows.finish().unwrap());
        }

        let messages: Vec<&[u8]> = tuples.iter().map(|t| &t[..]).collect();
        let got = drive(
            kinds,
            capacity,
            &messages,
            |block, buf, s, e, rows, on_full| block.take_data_row(buf, s, e, rows, on_full),
        );
        assert_eq!(got, want, "DataRows, batches of {capacity}");

        let mut header = SIGNATURE.to_vec();
        header.extend(0u32.to_be_bytes());
        header.extend(0u32.to_be_bytes());
        let trailer = (-1i16).to_be_bytes();
        let split = tuples.len() / 2;
        let (first, second) = tuples[split].split_at(tuples[split].len() / 2);
        let mut messages: Vec<&[u8]> = vec![&header];
        messages.extend(tuples[..split].iter().map(|t| &t[..]));
        messages.extend([first, second]);
        messages.extend(tuples[split + 1..].iter().map(|t| &t[..]));
        messages.push(&trailer);
        let mut parser = CopyParser::new(kinds.len());
        let got = drive(
            kinds,
            capacity,
            &messages,
            |block, buf, s, e, rows, on_full| {
                block.take_copy_data(&mut parser, buf, s, e, rows, on_full)
            },
        );
        assert!(parser.is_finished());
        assert_eq!(got, want, "COPY, batches of {capacity}");
    }

    fn tuple(fields: &[Option<Vec<u8>>]) -> Vec<u8> {
        let mut t = (fields.len() as i16).to_be_bytes().to_vec();
        for f in fields {
            match f {
                Some(v) => {
                    t.extend((v.len() as i32).to_be_bytes());
                    t.extend(v);
                }
                None => t.extend((-1i32).to_be_bytes()),
            }
        }
        t
    }

    #[test]
    fn block_decoding_matches_value_by_value_decoding() {
        let kinds = [
            PgKind::Int8,
            PgKind::Int4,
            PgKind::Int2,
            PgKind::Float8,
            PgKind::Float4,
            PgKind::Numeric {
                precision: 15,
                scale: 2,
                declared: true,
            },
            PgKind::Text,
            PgKind::Bool,
            PgKind::TimestampTz,
            PgKind::Date,
            PgKind::Uuid,
            PgKind::Jsonb,
            PgKind::Interval,
        ];
        let tuples: Vec<Vec<u8>> = (0..3000i64)
            .map(|i| {
                let n = |v: Vec<u8>| if i % 11 == 3 { None } else { Some(v) };
                tuple(&[
                    Some(i.to_be_bytes().to_vec()),
                    n((i as i32 * 3).to_be_bytes().to_vec()),
                    n((i as i16).to_be_bytes().to_vec()),
                    n((i as f64 / 4.0).to_be_bytes().to_vec()),
                    n((i as f32).to_be_bytes().to_vec()),
                    // 1234.56: ndigits 2, weight 0, sign +, dscale 2, [1234, 5600]
                    n(vec![0, 2, 0, 0, 0, 0, 0, 2, 0x04, 0xd2, 0x15, 0xe0]),
                    n(format!("text {i}").into_bytes()),
                    n(vec![(i % 2) as u8]),
                    n((i * 1_000_003).to_be_bytes().to_vec()),
                    n((i as i32 - 1500).to_be_bytes().to_vec()),
                    n([i as u8; 16].to_vec()),
                    n([&[1u8][..], format!("{{\"i\": {i}}}").as_bytes()].concat()),
                    n([7i64.to_be_bytes(), (i.to_be_bytes())].concat()),
                ])
            })
            .collect();
        // Batch sizes below, at and above the block and the 1024-row check.
        for cap in [1usize, 7, 256, 1000, 1024, 5000] {
            block_and_rows_agree(&kinds, &tuples, cap);
        }
    }

    #[test]
    fn block_refuses_what_is_not_exactly_one_tuple() {
        let t = tuple(&[Some(5i32.to_be_bytes().to_vec()), None]);
        let mut block = TupleBlock::new(2);
        assert!(!block.record(&t, 0, t.len() - 1), "truncated");
        let mut longer = t.clone();
        longer.push(0);
        assert!(!block.record(&longer, 0, longer.len()), "trailing byte");
        assert!(!block.record(&t, 0, 1), "shorter than the field count");
        assert!(!TupleBlock::new(3).record(&t, 0, t.len()), "wrong width");
        let trailer = (-1i16).to_be_bytes();
        assert!(!block.record(&trailer, 0, 2), "the trailer");
        let mut huge = 1i16.to_be_bytes().to_vec();
        huge.extend(i32::MAX.to_be_bytes());
        assert!(
            !TupleBlock::new(1).record(&huge, 0, huge.len()),
            "length past the end"
        );
        assert!(block.is_empty());
        assert!(block.record(&t, 0, t.len()));
        assert_eq!(block.len(), 1);
    }

    #[test]
    fn block_reports_bad_values_like_the_row_path() {
        let kinds = [PgKind::Int4, PgKind::Date];
        let bad_len = tuple(&[Some(vec![0, 0, 1]), Some(0i32.to_be_bytes().to_vec())]);
        let inf = tuple(&[
            Some(1i32.to_be_bytes().to_vec()),
            Some(i32::MAX.to_be_bytes().to_vec()),
        ]);
        for (t, want) in [
            (bad_len, "malformed Int4 value of 3 bytes"),
            (inf, "infinite date"),
        ] {
            let mut rows = decoder(&kinds, 100);
            let mut block = TupleBlock::new(2);
            assert!(block.record(&t, 0, t.len()));
            let err = block.decode(&t, &mut rows, &mut |_| Ok(())).unwrap_err();
            assert!(err.message.contains(want), "{}", err.message);
        }
    }

    #[test]
    fn rejects_garbage() {
        let schema = Arc::new(Schema::new(vec![field_for("x", PgKind::Int4)]));
        let mut rows = RowDecoder::new(schema, &[PgKind::Int4], 10);
        let mut parser = CopyParser::new(1);
        let err = parser
            .feed(b"NOTPGCOPY-----------------", &mut rows, &mut |_| Ok(()))
            .err()
            .unwrap();
        assert!(err.message.contains("signature"));
    }
}
