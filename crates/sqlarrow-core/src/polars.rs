//! Making a result importable by polars.
//!
//! polars has no type for Arrow's `month_day_nano` intervals or for `decimal256`, and
//! its import does not fail on them: it panics (a Python `PanicException`, which
//! `except Exception` does not catch). [`for_polars`] hands polars what it can take:
//!
//! - intervals (PostgreSQL `interval`, also inside lists) become `duration[ns]` with a
//!   day counted as 24 hours, as PostgreSQL's own `extract(epoch from ...)` counts it,
//!   when no value has months (a month has no fixed length, so no duration holds it);
//! - anything else polars cannot take is a typed error naming the column and what to
//!   do, before polars sees it.
//!
//! Columns of other types are passed through untouched (no copy).

use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::IntervalMonthDayNanoType;
use arrow_array::{
    Array, ArrayRef, DurationNanosecondArray, GenericListArray, OffsetSizeTrait, RecordBatch,
};
use arrow_schema::{DataType, Field, FieldRef, IntervalUnit, Schema, SchemaRef, TimeUnit};

use crate::error::{Error, ErrorKind, Result};

const NANOS_PER_DAY: i64 = 86_400_000_000_000;

/// Whether `dt` holds a type [`for_polars`] has to change or refuse.
fn needs_care(dt: &DataType) -> bool {
    match dt {
        DataType::Interval(_) | DataType::Decimal256(..) => true,
        DataType::List(f) | DataType::LargeList(f) | DataType::FixedSizeList(f, _) => {
            needs_care(f.data_type())
        }
        DataType::Struct(fields) => fields.iter().any(|f| needs_care(f.data_type())),
        DataType::Map(f, _) => needs_care(f.data_type()),
        _ => false,
    }
}

/// The type polars is handed for `dt` (`Err`: it has none).
fn polars_type(dt: &DataType, column: &str) -> Result<DataType> {
    Ok(match dt {
        DataType::Interval(IntervalUnit::MonthDayNano) => DataType::Duration(TimeUnit::Nanosecond),
        DataType::List(f) => DataType::List(polars_field(f, column)?),
        DataType::LargeList(f) => DataType::LargeList(polars_field(f, column)?),
        DataType::Decimal256(p, s) => {
            return Err(refuse(
                column,
                &format!(
                    "is decimal256({p}, {s}); polars decimals hold at most 38 digits. Cast it \
                     in SQL to numeric(38, {s}) or to text, or use to_arrow()"
                ),
            ))
        }
        other if needs_care(other) => {
            return Err(refuse(
                column,
                &format!("has type {other}, which polars cannot import; use to_arrow()"),
            ))
        }
        other => other.clone(),
    })
}

fn polars_field(f: &FieldRef, column: &str) -> Result<FieldRef> {
    Ok(Arc::new(
        Field::new(
            f.name(),
            polars_type(f.data_type(), column)?,
            f.is_nullable(),
        )
        .with_metadata(f.metadata().clone()),
    ))
}

fn refuse(column: &str, what: &str) -> Error {
    Error::new(
        ErrorKind::UnsupportedType,
        format!("column \"{column}\" {what}"),
    )
    .with_detail("column", column.to_string())
}

/// `array` converted to `to` (the type [`polars_type`] chose for it).
fn convert(array: &ArrayRef, to: &DataType, column: &str) -> Result<ArrayRef> {
    if array.data_type() == to {
        return Ok(array.clone());
    }
    match (array.data_type(), to) {
        (DataType::Interval(IntervalUnit::MonthDayNano), DataType::Duration(_)) => {
            let ivs = array.as_primitive::<IntervalMonthDayNanoType>();
            let mut out = Vec::with_capacity(ivs.len());
            for (i, v) in ivs.iter().enumerate() {
                out.push(match v {
                    None => None,
                    Some(v) if v.months != 0 => {
                        return Err(refuse(
                            column,
                            &format!(
                                "holds an interval of {} month(s) (row {i}); polars has \
                                 durations only, and a month has no fixed length. Convert it \
                                 in SQL (e.g. extract(epoch from col)), or use to_arrow()",
                                v.months
                            ),
                        ))
                    }
                    Some(v) => Some(
                        i64::from(v.days)
                            .checked_mul(NANOS_PER_DAY)
                            .and_then(|d| d.checked_add(v.nanoseconds))
                            .ok_or_else(|| {
                                refuse(
                                    column,
                                    &format!(
                                        "holds an interval too long for a polars duration \
                                         (row {i})"
                                    ),
                                )
                            })?,
                    ),
                });
            }
            Ok(Arc::new(DurationNanosecondArray::from(out)))
        }
        (DataType::List(_), DataType::List(child)) => {
            convert_list(array.as_list::<i32>(), child, column)
        }
        (DataType::LargeList(_), DataType::LargeList(child)) => {
            convert_list(array.as_list::<i64>(), child, column)
        }
        (from, to) => Err(Error::interface(format!(
            "internal: no polars conversion from {from} to {to} (column \"{column}\")"
        ))),
    }
}

fn convert_list<O: OffsetSizeTrait>(
    list: &GenericListArray<O>,
    child: &FieldRef,
    column: &str,
) -> Result<ArrayRef> {
    let values = convert(list.values(), child.data_type(), column)?;
    Ok(Arc::new(GenericListArray::<O>::try_new(
        child.clone(),
        list.offsets().clone(),
        values,
        list.nulls().cloned(),
    )?))
}

/// `schema` and `batches` in the types polars can import (see the module docs).
pub fn for_polars(
    schema: &SchemaRef,
    batches: &[RecordBatch],
) -> Result<(SchemaRef, Vec<RecordBatch>)> {
    if !schema.fields().iter().any(|f| needs_care(f.data_type())) {
        return Ok((schema.clone(), batches.to_vec()));
    }
    let fields = schema
        .fields()
        .iter()
        .map(|f| polars_field(f, f.name()))
        .collect::<Result<Vec<_>>>()?;
    let out_schema = Arc::new(Schema::new_with_metadata(
        fields.clone(),
        schema.metadata().clone(),
    ));
    let out = batches
        .iter()
        .map(|b| {
            let columns = b
                .columns()
                .iter()
                .zip(&fields)
                .map(|(a, f)| convert(a, f.data_type(), f.name()))
                .collect::<Result<Vec<_>>>()?;
            Ok(RecordBatch::try_new(out_schema.clone(), columns)?)
        })
        .collect::<Result<Vec<_>>>()?;
    Ok((out_schema, out))
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::types::IntervalMonthDayNano;
    use arrow_array::{Int32Array, IntervalMonthDayNanoArray, ListArray};

    fn iv(months: i32, days: i32, nanos: i64) -> Option<IntervalMonthDayNano> {
        Some(IntervalMonthDayNano::new(months, days, nanos))
    }

    #[test]
    fn intervals_without_months_become_durations() {
        let ivs: ArrayRef = Arc::new(IntervalMonthDayNanoArray::from(vec![
            iv(0, 1, 5),
            None,
            iv(0, -1, 3_600_000_000_000),
        ]));
        let ints: ArrayRef = Arc::new(Int32Array::from(vec![1, 2, 3]));
        let schema = Arc::new(Schema::new(vec![
            Field::new("iv", ivs.data_type().clone(), true),
            Field::new("n", DataType::Int32, false),
        ]));
        let batch = RecordBatch::try_new(schema.clone(), vec![ivs, ints.clone()]).unwrap();
        let (s, out) = for_polars(&schema, &[batch]).unwrap();
        assert_eq!(
            s.field(0).data_type(),
            &DataType::Duration(TimeUnit::Nanosecond)
        );
        let d = out[0]
            .column(0)
            .as_primitive::<arrow_array::types::DurationNanosecondType>();
        assert_eq!(d.value(0), NANOS_PER_DAY + 5);
        assert!(d.is_null(1));
        assert_eq!(d.value(2), -NANOS_PER_DAY + 3_600_000_000_000);
        // Other columns are the same arrays, not copies.
        assert!(Arc::ptr_eq(out[0].column(1), &ints));
    }

    #[test]
    fn intervals_in_lists_and_refusals() {
        let values = IntervalMonthDayNanoArray::from(vec![iv(0, 2, 0), iv(0, 0, 7)]);
        let field = Arc::new(Field::new_list_field(values.data_type().clone(), true));
        let list: ArrayRef = Arc::new(
            ListArray::try_new(
                field,
                arrow_buffer::OffsetBuffer::from_lengths([2, 0]),
                Arc::new(values),
                None,
            )
            .unwrap(),
        );
        let schema = Arc::new(Schema::new(vec![Field::new(
            "l",
            list.data_type().clone(),
            true,
        )]));
        let batch = RecordBatch::try_new(schema.clone(), vec![list]).unwrap();
        let (s, out) = for_polars(&schema, &[batch]).unwrap();
        let DataType::List(child) = s.field(0).data_type() else {
            panic!("list expected")
        };
        assert_eq!(child.data_type(), &DataType::Duration(TimeUnit::Nanosecond));
        assert_eq!(out[0].num_rows(), 2);

        let months: ArrayRef = Arc::new(IntervalMonthDayNanoArray::from(vec![iv(1, 0, 0)]));
        let schema = Arc::new(Schema::new(vec![Field::new(
            "m",
            months.data_type().clone(),
            true,
        )]));
        let batch = RecordBatch::try_new(schema.clone(), vec![months]).unwrap();
        let e = for_polars(&schema, &[batch]).unwrap_err();
        assert!(
            e.to_string()
                .contains("column \"m\" holds an interval of 1 month"),
            "{e}"
        );

        let schema = Arc::new(Schema::new(vec![Field::new(
            "d",
            DataType::Decimal256(60, 2),
            true,
        )]));
        let e = for_polars(&schema, &[]).unwrap_err();
        assert!(e.to_string().contains("numeric(38, 2)"), "{e}");
    }
}
