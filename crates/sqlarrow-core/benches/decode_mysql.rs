//! The MySQL/MariaDB fast reader's decoder without a server: a captured result stream of
//! binary-protocol row packets for a mixed table (bigint, int, double, decimal(18,4),
//! short and long text, tinyint(1), datetime(6), date, char(36) uuid, json; ~10% NULLs),
//! built in memory once and decoded packet by packet into Arrow batches, as the reader
//! does with what it reads from the socket.
//!
//! `cargo bench -p sqlarrow-core --bench decode_mysql`

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use mysql_common::constants::{ColumnFlags, ColumnType};
use mysql_common::packets::Column;
use sqlarrow_core::engines::mysql::decode::DecodeOptions;
use sqlarrow_core::engines::mysql::wire::decode_captured;

const ROWS: usize = 100_000;
const UTF8MB4: u16 = 45;

fn columns() -> Vec<Column> {
    use ColumnType::*;
    let col = |name: &str, t: ColumnType| Column::new(t).with_name(name.as_bytes());
    vec![
        col("id", MYSQL_TYPE_LONGLONG).with_flags(ColumnFlags::NOT_NULL_FLAG),
        col("i32", MYSQL_TYPE_LONG),
        col("f64", MYSQL_TYPE_DOUBLE),
        col("num", MYSQL_TYPE_NEWDECIMAL)
            .with_column_length(20)
            .with_decimals(4),
        col("txt_short", MYSQL_TYPE_VAR_STRING).with_character_set(UTF8MB4),
        col("txt_long", MYSQL_TYPE_BLOB).with_character_set(UTF8MB4),
        col("flag", MYSQL_TYPE_TINY).with_column_length(1),
        col("ts", MYSQL_TYPE_DATETIME).with_decimals(6),
        col("d", MYSQL_TYPE_DATE),
        col("u", MYSQL_TYPE_STRING)
            .with_character_set(UTF8MB4)
            .with_column_length(36 * 4),
        col("j", MYSQL_TYPE_BLOB).with_character_set(UTF8MB4),
    ]
}

fn lenenc(out: &mut Vec<u8>, b: &[u8]) {
    assert!(b.len() < 251);
    out.push(b.len() as u8);
    out.extend_from_slice(b);
}

/// The row packets (with their headers) and the EOF packet that ends the result set.
fn stream() -> Vec<u8> {
    let ncols = columns().len();
    let bitmap_len = (ncols + 7 + 2) / 8;
    let long = "x".repeat(60);
    let mut out = Vec::with_capacity(ROWS * 220);
    let mut row = Vec::with_capacity(256);
    for i in 0..ROWS {
        row.clear();
        row.push(0x00);
        let at = row.len();
        row.resize(at + bitmap_len, 0);
        let null = i % 10 == 7;
        for c in 1..ncols {
            if null {
                let bit = c + 2;
                row[at + bit / 8] |= 1 << (bit % 8);
            }
        }
        row.extend_from_slice(&(i as i64).to_le_bytes());
        if !null {
            row.extend_from_slice(&(i as i32).to_le_bytes());
            row.extend_from_slice(&(i as f64 * 0.5).to_le_bytes());
            lenenc(&mut row, format!("{}.{:04}", i, i % 10_000).as_bytes());
            lenenc(&mut row, format!("name {i}").as_bytes());
            lenenc(&mut row, long.as_bytes());
            row.push((i % 2) as u8);
            let us = (i % 1_000_000) as u32;
            row.extend_from_slice(&[11, 0xE8, 0x07, 2, 29, 12, 30, (i % 60) as u8]);
            row.extend_from_slice(&us.to_le_bytes());
            row.extend_from_slice(&[4, 0xE8, 0x07, 1 + (i % 12) as u8, 1 + (i % 28) as u8]);
            lenenc(
                &mut row,
                format!("{:08x}-0000-4000-8000-{:012x}", i, i).as_bytes(),
            );
            lenenc(
                &mut row,
                format!("{{\"id\": {i}, \"tag\": \"t{}\"}}", i % 7).as_bytes(),
            );
        }
        out.extend_from_slice(&(row.len() as u32).to_le_bytes()[..3]);
        out.push((i + 1) as u8);
        out.extend_from_slice(&row);
    }
    // EOF (an OK packet with the 0xFE header: CLIENT_DEPRECATE_EOF).
    out.extend_from_slice(&[7, 0, 0, 0, 0xFE, 0, 0, 0x02, 0, 0, 0]);
    out
}

fn bench(c: &mut Criterion) {
    let data = stream();
    let cols = columns();
    let decode = DecodeOptions::default();
    let check = decode_captured(&data, &cols, &decode, 65_536).expect("valid stream");
    assert_eq!(check.iter().map(|b| b.num_rows()).sum::<usize>(), ROWS);
    let mut g = c.benchmark_group("mysql_rows");
    g.throughput(Throughput::Bytes(data.len() as u64));
    g.sample_size(20);
    g.bench_function("mixed_100k_rows", |b| {
        b.iter(|| {
            let batches = decode_captured(&data, &cols, &decode, 65_536).expect("valid stream");
            assert_eq!(batches.iter().map(|b| b.num_rows()).sum::<usize>(), ROWS);
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
