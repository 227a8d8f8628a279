//! Parser of PostgreSQL's binary COPY stream (`COPY ... TO STDOUT (FORMAT binary)`).
//!
//! The stream arrives as CopyData chunks that may split a tuple anywhere. Complete
//! tuples are decoded straight out of each chunk; only a tuple straddling two chunks is
//! copied (into a small carry-over buffer).

use bytes::{Buf as _, BytesMut};

use super::decode::RowDecoder;
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
    use arrow_array::{cast::AsArray, types::Int32Type};
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
