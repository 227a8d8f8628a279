//! Encoding bound parameters for PostgreSQL.
//!
//! Statements are prepared with a type per parameter taken from the Python value
//! (int → int8, float → float8, bytes → bytea, ...); strings, decimals and JSON are
//! left for the server to infer (OID 0) and sent in text format, so the server's own
//! input functions parse them exactly as they would a literal.

use std::error::Error as StdError;

use bytes::{BufMut, BytesMut};
use tokio_postgres::types::{to_sql_checked, Format, IsNull, Kind, ToSql, Type};

use crate::value::{civil, Value};

const PG_EPOCH_DAYS: i32 = 10_957;
const PG_EPOCH_US: i64 = 946_684_800_000_000;

/// The type to declare in Parse for a value; `None` lets the server infer it.
pub fn declared_type(v: &Value) -> Type {
    match v {
        Value::Bool(_) => Type::BOOL,
        Value::Int(_) => Type::INT8,
        Value::Float(_) => Type::FLOAT8,
        Value::Bytes(_) => Type::BYTEA,
        Value::Date(_) => Type::DATE,
        Value::Time(_) => Type::TIME,
        Value::Timestamp(_) => Type::TIMESTAMP,
        Value::TimestampTz(_) => Type::TIMESTAMPTZ,
        Value::Uuid(_) => Type::UUID,
        Value::Duration(_) => Type::INTERVAL,
        Value::BigInt(_) | Value::Decimal(_) => Type::NUMERIC,
        Value::Null | Value::Str(_) | Value::Json(_) | Value::List(_) => unspecified(),
    }
}

/// OID 0: "let the server decide".
pub fn unspecified() -> Type {
    Type::new("unspecified".into(), 0, Kind::Pseudo, "pg_catalog".into())
}

/// A value ready to bind.
#[derive(Debug)]
pub struct PgParam<'a>(pub &'a Value);

fn text_of(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::Bool(b) => if *b { "t" } else { "f" }.into(),
        Value::Int(i) => i.to_string(),
        Value::BigInt(i) => i.to_string(),
        Value::Float(f) => {
            if f.is_nan() {
                "NaN".into()
            } else if f.is_infinite() {
                if *f > 0.0 { "Infinity" } else { "-Infinity" }.into()
            } else {
                format!("{f:?}")
            }
        }
        Value::Decimal(s) | Value::Str(s) | Value::Json(s) => s.clone(),
        Value::Bytes(b) => {
            let mut s = String::with_capacity(2 + b.len() * 2);
            s.push_str("\\x");
            for x in b {
                s.push_str(&format!("{x:02x}"));
            }
            s
        }
        Value::Date(d) => civil::format_date(*d as i64),
        Value::Time(t) => civil::format_time(*t),
        Value::Timestamp(t) => civil::format_timestamp(*t, " "),
        Value::TimestampTz(t) => format!("{}+00", civil::format_timestamp(*t, " ")),
        Value::Uuid(u) => civil::format_uuid(u),
        Value::Duration(us) => {
            let (days, rem) = (us.div_euclid(86_400_000_000), us.rem_euclid(86_400_000_000));
            format!("{days} days {}", civil::format_time(rem))
        }
        // Outside an array context (see `array_literal`): JSON, as `json`/`jsonb`
        // parameters and text expect.
        Value::List(_) => v.to_json().unwrap_or_default(),
    }
}

/// A list as a PostgreSQL array literal (`{1,2}`, `{"a","b \\"c\\""}`, `{{1,2},{3,4}}`):
/// every element quoted, backslashes and quotes escaped, `NULL` for None.
fn array_literal(items: &[Value], out: &mut String) {
    out.push('{');
    for (i, v) in items.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        match v {
            Value::Null => out.push_str("NULL"),
            Value::List(inner) => array_literal(inner, out),
            other => {
                out.push('"');
                for c in text_of(other).chars() {
                    if c == '"' || c == '\\' {
                        out.push('\\');
                    }
                    out.push(c);
                }
                out.push('"');
            }
        }
    }
    out.push('}');
}

impl PgParam<'_> {
    /// Whether this value is sent in binary for the resolved type `ty`.
    fn binary_for(&self, ty: &Type) -> bool {
        matches!(
            (self.0, ty),
            (Value::Bool(_), &Type::BOOL)
                | (
                    Value::Int(_),
                    &Type::INT2 | &Type::INT4 | &Type::INT8 | &Type::FLOAT4 | &Type::FLOAT8
                )
                | (Value::Float(_), &Type::FLOAT4 | &Type::FLOAT8)
                | (Value::Bytes(_), &Type::BYTEA)
                | (Value::Date(_), &Type::DATE)
                | (Value::Time(_), &Type::TIME)
                | (
                    Value::Timestamp(_) | Value::TimestampTz(_),
                    &Type::TIMESTAMP | &Type::TIMESTAMPTZ
                )
                | (Value::Uuid(_), &Type::UUID)
                | (Value::Duration(_), &Type::INTERVAL)
        )
    }
}

impl ToSql for PgParam<'_> {
    fn to_sql(
        &self,
        ty: &Type,
        out: &mut BytesMut,
    ) -> Result<IsNull, Box<dyn StdError + Sync + Send>> {
        if matches!(self.0, Value::Null) {
            return Ok(IsNull::Yes);
        }
        if !self.binary_for(ty) {
            match self.0 {
                Value::List(items) if matches!(ty.kind(), Kind::Array(_)) => {
                    let mut text = String::new();
                    array_literal(items, &mut text);
                    out.put_slice(text.as_bytes());
                }
                Value::List(_) => {
                    let json = self.0.to_json().map_err(|e| {
                        format!("a list is sent as JSON where the statement expects {ty}: {e}")
                    })?;
                    out.put_slice(json.as_bytes());
                }
                v => out.put_slice(text_of(v).as_bytes()),
            }
            return Ok(IsNull::No);
        }
        match (self.0, ty) {
            (Value::Bool(b), _) => out.put_u8(*b as u8),
            (Value::Int(i), &Type::INT2) => out.put_i16(
                i16::try_from(*i).map_err(|_| format!("{i} is out of range for smallint"))?,
            ),
            (Value::Int(i), &Type::INT4) => out.put_i32(
                i32::try_from(*i).map_err(|_| format!("{i} is out of range for integer"))?,
            ),
            (Value::Int(i), &Type::INT8) => out.put_i64(*i),
            (Value::Int(i), &Type::FLOAT4) => out.put_f32(*i as f32),
            (Value::Int(i), _) => out.put_f64(*i as f64),
            (Value::Float(f), &Type::FLOAT4) => out.put_f32(*f as f32),
            (Value::Float(f), _) => out.put_f64(*f),
            (Value::Bytes(b), _) => out.put_slice(b),
            (Value::Date(d), _) => out.put_i32(d - PG_EPOCH_DAYS),
            (Value::Time(t), _) => out.put_i64(*t),
            (Value::Timestamp(t) | Value::TimestampTz(t), _) => out.put_i64(t - PG_EPOCH_US),
            (Value::Uuid(u), _) => out.put_slice(u),
            (Value::Duration(us), _) => {
                // As Python's timedelta: whole days, and the time within the day.
                let days = us.div_euclid(86_400_000_000);
                let days = i32::try_from(days)
                    .map_err(|_| format!("{days} days is out of range for interval"))?;
                out.put_i64(us.rem_euclid(86_400_000_000));
                out.put_i32(days);
                out.put_i32(0);
            }
            _ => return Err("internal: unexpected binary parameter".into()),
        }
        Ok(IsNull::No)
    }

    fn accepts(_ty: &Type) -> bool {
        true
    }

    fn encode_format(&self, ty: &Type) -> Format {
        if self.binary_for(ty) {
            Format::Binary
        } else {
            Format::Text
        }
    }

    to_sql_checked!();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_as_array_literals() {
        let mut s = String::new();
        array_literal(
            &[
                Value::Int(1),
                Value::Null,
                Value::Str(r#"a "b" \c,{}"#.into()),
                Value::List(vec![Value::Str(String::new()), Value::Str("NULL".into())]),
                Value::Date(0),
            ],
            &mut s,
        );
        assert_eq!(s, r#"{"1",NULL,"a \"b\" \\c,{}",{"","NULL"},"1970-01-01"}"#);
        let mut s = String::new();
        array_literal(&[], &mut s);
        assert_eq!(s, "{}");
    }

    #[test]
    fn text_forms() {
        assert_eq!(text_of(&Value::Date(0)), "1970-01-01");
        assert_eq!(
            text_of(&Value::Timestamp(1_500_000)),
            "1970-01-01 00:00:01.500000"
        );
        assert_eq!(text_of(&Value::Bytes(vec![0, 255])), "\\x00ff");
        assert_eq!(text_of(&Value::Float(f64::NAN)), "NaN");
        assert_eq!(
            text_of(&Value::Uuid([0x12; 16])),
            "12121212-1212-1212-1212-121212121212"
        );
    }
}
