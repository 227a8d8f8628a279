//! Decoder speed without a server: a PostgreSQL binary COPY stream of a mixed table
//! (bigint, int, double, numeric(18,4), short and long text, bool, timestamptz, date,
//! uuid, jsonb; ~10% NULLs), built in memory once and fed to the parser in CopyData-sized
//! chunks (one tuple per chunk, as the server sends them).
//!
//! `mixed_100k_rows` feeds the parser message by message (the path of streams read
//! through tokio-postgres); `mixed_100k_rows_wire_blocks` decodes the messages laid out
//! in one buffer, in blocks of tuples column by column, as the connection-stream reader
//! (`wire.rs`) does.
//!
//! `numeric_15_2_1m_values` decodes one million `numeric(15,2)` values shaped like TPC-H
//! lineitem's (quantities, prices, discounts and taxes) one by one, the column type that
//! leads the client's profile of the lineitem read.
//!
//! `cargo bench -p sqlarrow-core --bench decode`

use std::sync::Arc;

use arrow_schema::Schema;
use bytes::{BufMut, Bytes, BytesMut};
use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use sqlarrow_core::engines::postgres::copy::{CopyParser, TupleBlock};
use sqlarrow_core::engines::postgres::decode::{
    decode_numeric_i128, field_for, PgKind, RowDecoder,
};
use sqlarrow_core::engines::postgres::write::encode_numeric_i128;

const ROWS: usize = 100_000;

fn kinds() -> Vec<PgKind> {
    vec![
        PgKind::Int8,
        PgKind::Int4,
        PgKind::Float8,
        PgKind::Numeric {
            precision: 18,
            scale: 4,
            declared: true,
        },
        PgKind::Text,
        PgKind::Text,
        PgKind::Bool,
        PgKind::TimestampTz,
        PgKind::Date,
        PgKind::Uuid,
        PgKind::Jsonb,
    ]
}

/// One tuple per chunk, like the server's CopyData messages.
fn stream() -> Vec<Bytes> {
    let mut chunks = Vec::with_capacity(ROWS + 2);
    let mut head = BytesMut::new();
    head.put_slice(b"PGCOPY\n\xff\r\n\0");
    head.put_i32(0);
    head.put_i32(0);
    chunks.push(head.freeze());
    let long = "x".repeat(60);
    for i in 0..ROWS as i64 {
        let mut t = BytesMut::with_capacity(256);
        t.put_i16(11);
        let null = i % 10 == 7;
        let field = |t: &mut BytesMut, bytes: &[u8]| {
            if null {
                t.put_i32(-1);
            } else {
                t.put_i32(bytes.len() as i32);
                t.put_slice(bytes);
            }
        };
        t.put_i32(8);
        t.put_i64(i);
        field(&mut t, &(i as i32).to_be_bytes());
        field(&mut t, &(i as f64 * 0.5).to_be_bytes());
        // numeric 1234.5678: ndigits 2, weight 0, sign +, dscale 4, digits [1234, 5678]
        field(&mut t, &[0, 2, 0, 0, 0, 0, 0, 4, 0x04, 0xd2, 0x16, 0x2e]);
        field(&mut t, format!("name {i}").as_bytes());
        field(&mut t, long.as_bytes());
        field(&mut t, &[(i % 2) as u8]);
        field(&mut t, &(i * 1_000_000).to_be_bytes());
        field(&mut t, &((i % 10_000) as i32).to_be_bytes());
        field(&mut t, &[7u8; 16]);
        let mut j = vec![1u8];
        j.extend_from_slice(format!("{{\"id\": {i}, \"tag\": \"t{}\"}}", i % 7).as_bytes());
        field(&mut t, &j);
        chunks.push(t.freeze());
    }
    let mut tail = BytesMut::new();
    tail.put_i16(-1);
    chunks.push(tail.freeze());
    chunks
}

/// A decoder for the table's columns, in batches of 64k rows.
fn decoder(kinds: &[PgKind]) -> RowDecoder {
    let fields: Vec<_> = kinds
        .iter()
        .enumerate()
        .map(|(i, k)| field_for(&format!("c{i}"), *k))
        .collect();
    RowDecoder::new(Arc::new(Schema::new(fields)), kinds, 65_536)
}

fn decode_all(chunks: &[Bytes]) -> usize {
    let kinds = kinds();
    let mut rows = decoder(&kinds);
    let mut parser = CopyParser::new(kinds.len());
    let mut total = 0;
    for c in chunks {
        parser
            .feed(c, &mut rows, &mut |r| {
                total += r.finish()?.num_rows();
                Ok(())
            })
            .expect("valid stream");
    }
    if rows.rows > 0 {
        total += rows.finish().expect("batch").num_rows();
    }
    total
}

/// The same stream as the wire reader sees it: CopyData messages (`d`, length, payload)
/// back to back in one buffer.
fn wire(chunks: &[Bytes]) -> Vec<u8> {
    let mut buf = Vec::new();
    for c in chunks {
        buf.push(b'd');
        buf.extend_from_slice(&(c.len() as u32 + 4).to_be_bytes());
        buf.extend_from_slice(c);
    }
    buf
}

/// Decode the way the wire reader does (`TupleBlock::take_copy_data` per message):
/// tuples are recorded in a block as their messages are found and decoded column by
/// column; the header and trailer go to the parser.
fn decode_wire(buf: &[u8]) -> usize {
    let kinds = kinds();
    let mut rows = decoder(&kinds);
    let mut parser = CopyParser::new(kinds.len());
    let mut block = TupleBlock::new(kinds.len());
    let mut total = 0;
    let mut at = 0;
    while at < buf.len() {
        let len = u32::from_be_bytes([buf[at + 1], buf[at + 2], buf[at + 3], buf[at + 4]]) as usize;
        let (start, end) = (at + 5, at + 1 + len);
        at = end;
        block
            .take_copy_data(&mut parser, buf, start, end, &mut rows, &mut |r| {
                total += r.finish()?.num_rows();
                Ok(())
            })
            .expect("valid stream");
    }
    block
        .decode(buf, &mut rows, &mut |r| {
            total += r.finish()?.num_rows();
            Ok(())
        })
        .expect("valid block");
    if rows.rows > 0 {
        total += rows.finish().expect("batch").num_rows();
    }
    total
}

/// One million lineitem-like values, cycling quantity, price, discount and tax, each
/// with its value in hundredths, encoded at display scale 2 as the server sends them
/// (the writer's encoder: base-10000 digits, leading and trailing zero digits stripped).
fn numeric_values() -> Vec<(Vec<u8>, i128)> {
    let mut x: u64 = 0x2545_F491_4F6C_DD1D;
    (0..1_000_000)
        .map(|i| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let cents = match i % 4 {
                0 => (1 + x % 50) * 100,
                1 => 90_000 + x % 10_410_000,
                2 => x % 11,
                _ => x % 9,
            };
            let mut v = Vec::new();
            encode_numeric_i128(cents as i128, 2, &mut v);
            (v, cents as i128)
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let (values, cents): (Vec<_>, Vec<_>) = numeric_values().into_iter().unzip();
    for (v, c) in values.iter().zip(&cents) {
        assert_eq!(decode_numeric_i128(v, 2, 15), Ok(*c), "{v:?}");
    }
    let mut g = c.benchmark_group("postgres_numeric");
    g.throughput(Throughput::Elements(values.len() as u64));
    g.sample_size(20);
    g.bench_function("numeric_15_2_1m_values", |b| {
        b.iter(|| {
            let mut sum = 0i128;
            for v in &values {
                sum += decode_numeric_i128(std::hint::black_box(v), 2, 15).expect("valid numeric");
            }
            sum
        })
    });
    g.finish();

    let chunks = stream();
    let bytes: usize = chunks.iter().map(|c| c.len()).sum();
    let mut g = c.benchmark_group("postgres_copy");
    g.throughput(Throughput::Bytes(bytes as u64));
    g.sample_size(20);
    g.bench_function("mixed_100k_rows", |b| {
        b.iter_batched(
            || chunks.clone(),
            |ch| assert_eq!(decode_all(&ch), ROWS),
            BatchSize::LargeInput,
        )
    });
    let buf = wire(&chunks);
    g.bench_function("mixed_100k_rows_wire_blocks", |b| {
        b.iter(|| assert_eq!(decode_wire(&buf), ROWS))
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
