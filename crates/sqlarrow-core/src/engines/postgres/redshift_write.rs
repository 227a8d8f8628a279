//! Writes to Redshift, which has no `COPY ... FROM STDIN`: batched multi-row
//! `INSERT ... VALUES` with every value bound as a parameter in text form (the server
//! parses it with the column's own input function), all in one transaction.
//! Modes append, create and replace (upsert/update need MERGE: not yet).

use arrow_array::{Array, ArrayRef, RecordBatchReader};
use arrow_cast::display::{ArrayFormatter, FormatOptions};
use arrow_schema::DataType;

use super::params::PgParam;
use super::{map_err, PgConnector};
use crate::cancel::CancelSlot;
use crate::error::{Error, ErrorKind, Result};
use crate::schema::{CanonicalSchema, DdlOptions, Dialect, TableName};
use crate::value::Value;
use crate::write::{
    mapped_names, next_batch, quote_ident, TableRef, WriteMode, WriteOptions, WriteResult,
};

/// Bound parameters per INSERT statement (PostgreSQL's protocol allows 65535).
const MAX_PARAMS: usize = 30_000;

/// The text form of one cell for the server's input function (`None`: SQL NULL).
fn cell_text(
    a: &ArrayRef,
    f: &ArrayFormatter<'_>,
    i: usize,
    column: &str,
) -> Result<Option<String>> {
    if a.is_null(i) {
        return Ok(None);
    }
    Ok(Some(match a.data_type() {
        DataType::Binary | DataType::LargeBinary | DataType::BinaryView => {
            // bytea hex input form (one backslash: the parameter is not a literal).
            let hex = f.value(i).to_string();
            format!("\\x{hex}")
        }
        DataType::List(_) | DataType::LargeList(_) | DataType::Struct(_) | DataType::Map(..) => {
            return Err(Error::unsupported_write_type(
                column,
                &a.data_type().to_string(),
                "Redshift",
                "Redshift writes take scalar columns only",
            ))
        }
        _ => f.value(i).to_string(),
    }))
}

async fn existing_columns(
    client: &tokio_postgres::Client,
    table: &TableRef,
) -> Result<Option<Vec<String>>> {
    let rows = client
        .query(
            "select column_name::text from information_schema.columns \
             where table_schema = coalesce($1, current_schema()) and table_name = $2 \
             order by ordinal_position",
            &[&table.schema, &table.name],
        )
        .await
        .map_err(map_err)?;
    Ok(if rows.is_empty() {
        None
    } else {
        Some(rows.iter().map(|r| r.get::<_, String>(0)).collect())
    })
}

impl PgConnector {
    pub(crate) async fn write_redshift(
        &self,
        table: &TableRef,
        reader: Box<dyn RecordBatchReader + Send>,
        opts: &WriteOptions,
        cancel: &CancelSlot,
    ) -> Result<WriteResult> {
        if matches!(opts.mode, WriteMode::Upsert | WriteMode::Update) {
            return Err(Error::interface(
                "upsert and update are not supported on Redshift yet (they need MERGE); \
                 use mode=\"append\", \"create\" or \"replace\"",
            ));
        }
        let start = std::time::Instant::now();
        let mut reader = reader;
        let mut conn = self.checkout(cancel).await?;
        let res = async {
            let client = &conn.client;
            let schema = reader.schema();
            let names = mapped_names(&schema, &opts.column_map)?;
            crate::write::check_name_lengths(crate::schema::Dialect::Redshift, table, &names)?;
            client.batch_execute("BEGIN").await.map_err(map_err)?;
            let existing = existing_columns(client, table).await?;
            match (&existing, opts.mode) {
                (Some(_), WriteMode::Create) => {
                    return Err(Error::new(
                        ErrorKind::Query,
                        format!("table {} already exists (mode=\"create\")", table.quoted()),
                    ))
                }
                (None, m) if m == WriteMode::Create || opts.create_if_missing => {
                    let mut canonical = CanonicalSchema::from_arrow(&schema)?;
                    for (c, n) in canonical.columns.iter_mut().zip(&names) {
                        c.name = n.clone();
                    }
                    let mut parts = Vec::new();
                    if let Some(s) = &table.schema {
                        parts.push(s.clone());
                    }
                    parts.push(table.name.clone());
                    let ddl = canonical.to_ddl(
                        Dialect::Redshift,
                        &TableName::new(parts)?,
                        false,
                        DdlOptions::default(),
                    )?;
                    client.batch_execute(&ddl).await.map_err(map_err)?;
                }
                (None, _) => {
                    return Err(Error::new(
                        ErrorKind::UndefinedObject,
                        format!(
                            "table {} does not exist (create_if_missing=False)",
                            table.quoted()
                        ),
                    ))
                }
                (Some(cols), _) => {
                    if let Some(n) = names.iter().find(|n| !cols.contains(n)) {
                        return Err(crate::write::unknown_input_column(
                            n,
                            &cols.iter().map(|c| c.as_str()).collect::<Vec<_>>(),
                            opts.mode,
                            "",
                        ));
                    }
                }
            }
            if opts.mode == WriteMode::Replace && existing.is_some() {
                // DELETE, not TRUNCATE: TRUNCATE commits implicitly on Redshift.
                client
                    .batch_execute(&format!("DELETE FROM {}", table.quoted()))
                    .await
                    .map_err(map_err)?;
            }
            let cols: Vec<String> = names.iter().map(|n| quote_ident(n)).collect();
            let per_stmt = (MAX_PARAMS / names.len().max(1)).max(1);
            let head = format!(
                "INSERT INTO {} ({}) VALUES ",
                table.quoted(),
                cols.join(", ")
            );
            let fmt_opts = FormatOptions::default();
            let mut total = 0u64;
            while let Some(batch) = next_batch(reader.as_mut())? {
                // Render the batch's statements first: the formatters are not Send, so
                // none may live across an await.
                let mut statements: Vec<(String, Vec<Value>, usize)> = Vec::new();
                {
                    let formatters = batch
                        .columns()
                        .iter()
                        .map(|a| ArrayFormatter::try_new(a.as_ref(), &fmt_opts))
                        .collect::<std::result::Result<Vec<_>, _>>()?;
                    let mut row = 0;
                    while row < batch.num_rows() {
                        let end = (row + per_stmt).min(batch.num_rows());
                        let mut values: Vec<Value> = Vec::with_capacity((end - row) * names.len());
                        let mut sql = head.clone();
                        let mut k = 0;
                        for r in row..end {
                            sql.push_str(if r == row { "(" } else { ", (" });
                            for (c, (a, f)) in batch.columns().iter().zip(&formatters).enumerate() {
                                k += 1;
                                sql.push_str(&format!("{}${k}", if c == 0 { "" } else { ", " }));
                                let text = cell_text(a, f, r, &names[c])?;
                                values.push(match text {
                                    Some(t) => Value::Str(t),
                                    None => Value::Null,
                                });
                            }
                            sql.push(')');
                        }
                        statements.push((sql, values, row));
                        row = end;
                    }
                }
                for (sql, values, row) in statements {
                    let params: Vec<PgParam<'_>> = values.iter().map(PgParam).collect();
                    let n = client
                        .execute_raw(sql.as_str(), params)
                        .await
                        .map_err(|e| {
                            map_err(e).with_detail("row_index", (total + row as u64).to_string())
                        })?;
                    total += n;
                }
            }
            client
                .batch_execute("COMMIT")
                .await
                .map_err(|e| map_err(e).commit_in_doubt())?;
            Ok(WriteResult {
                rows_written: total,
                elapsed_ms: start.elapsed().as_secs_f64() * 1000.0,
                ..Default::default()
            })
        }
        .await;
        if res.is_err() && !conn.client.is_closed() {
            let _ = conn.client.batch_execute("ROLLBACK").await;
        }
        conn.observe(&res);
        cancel.clear();
        res
    }
}
