//! Bound parameters: sqlarrow values → `mysql_async` values, sent with
//! COM_STMT_EXECUTE (binary protocol). Values are never interpolated into SQL text.

use mysql_async::Value as MyValue;

use crate::error::{Error, Result};
use crate::value::civil::civil_from_days;
use crate::value::{Params, Value};

const US_PER_DAY: i64 = 86_400_000_000;

fn date_value(days: i64, rem: i64, what: &str) -> Result<MyValue> {
    let (y, m, d) = civil_from_days(days);
    if !(0..=9999).contains(&y) {
        return Err(Error::parameter(format!(
            "a {what} in year {y} cannot be sent to MySQL (years 0–9999 only)"
        )));
    }
    let secs = rem / 1_000_000;
    Ok(MyValue::Date(
        y as u16,
        m as u8,
        d as u8,
        (secs / 3600) as u8,
        ((secs / 60) % 60) as u8,
        (secs % 60) as u8,
        (rem % 1_000_000) as u32,
    ))
}

/// Convert one value.
pub fn to_my_value(v: &Value) -> Result<MyValue> {
    Ok(match v {
        Value::Null => MyValue::NULL,
        Value::Bool(b) => MyValue::Int(*b as i64),
        Value::Int(i) => MyValue::Int(*i),
        Value::BigInt(i) => match u64::try_from(*i) {
            Ok(u) => MyValue::UInt(u),
            // Beyond 64 bits: as decimal text (the server converts for DECIMAL columns).
            Err(_) => MyValue::Bytes(i.to_string().into_bytes()),
        },
        Value::Float(f) => MyValue::Double(*f),
        Value::Decimal(s) => MyValue::Bytes(s.as_bytes().to_vec()),
        Value::Str(s) | Value::Json(s) => MyValue::Bytes(s.as_bytes().to_vec()),
        Value::List(_) => MyValue::Bytes(
            v.to_json()
                .map_err(|e| Error::parameter(format!("a list is sent as JSON: {e}")))?
                .into_bytes(),
        ),
        Value::Bytes(b) => MyValue::Bytes(b.clone()),
        Value::Date(days) => date_value(*days as i64, 0, "date")?,
        Value::Time(us) | Value::Duration(us) => {
            // The server would clamp a longer one to ±838:59:59 without an error (a
            // 40-day duration was inserted as 838:59:59).
            super::write::check_time_range(*us).map_err(|e| Error::parameter(e.message))?;
            let neg = *us < 0;
            let a = us.unsigned_abs();
            let secs = a / 1_000_000;
            MyValue::Time(
                neg,
                (secs / 86_400) as u32,
                ((secs / 3600) % 24) as u8,
                ((secs / 60) % 60) as u8,
                (secs % 60) as u8,
                (a % 1_000_000) as u32,
            )
        }
        // The session time zone is +00:00, so a UTC instant is sent as its UTC wall time.
        Value::Timestamp(us) | Value::TimestampTz(us) => date_value(
            us.div_euclid(US_PER_DAY),
            us.rem_euclid(US_PER_DAY),
            "datetime",
        )?,
        Value::Uuid(b) => MyValue::Bytes(crate::value::civil::format_uuid(b).into_bytes()),
    })
}

/// Convert a parameter list (empty → no parameters).
pub fn to_params(params: &Params) -> Result<mysql_async::Params> {
    if params.is_empty() {
        return Ok(mysql_async::Params::Empty);
    }
    let values = params
        .0
        .iter()
        .enumerate()
        .map(|(i, v)| to_my_value(v).map_err(|e| e.context(format!("parameter {}", i + 1))))
        .collect::<Result<Vec<_>>>()?;
    Ok(mysql_async::Params::Positional(values))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn converts_values() {
        assert_eq!(to_my_value(&Value::Bool(true)).unwrap(), MyValue::Int(1));
        assert_eq!(
            to_my_value(&Value::BigInt(u64::MAX as i128)).unwrap(),
            MyValue::UInt(u64::MAX)
        );
        assert_eq!(
            to_my_value(&Value::BigInt(-(1i128 << 70))).unwrap(),
            MyValue::Bytes(b"-1180591620717411303424".to_vec())
        );
        assert_eq!(
            to_my_value(&Value::Date(-1)).unwrap(),
            MyValue::Date(1969, 12, 31, 0, 0, 0, 0)
        );
        assert_eq!(
            to_my_value(&Value::Timestamp(86_400_000_000 + 3_723_000_001)).unwrap(),
            MyValue::Date(1970, 1, 2, 1, 2, 3, 1)
        );
        assert_eq!(
            to_my_value(&Value::Time(-(90_000_000_000))).unwrap(),
            MyValue::Time(true, 1, 1, 0, 0, 0)
        );
        assert!(to_my_value(&Value::Date(3_000_000)).is_err());
        assert_eq!(
            to_my_value(&Value::Uuid([0xab; 16])).unwrap(),
            MyValue::Bytes(b"abababab-abab-abab-abab-abababababab".to_vec())
        );
        assert_eq!(
            to_params(&Params::default()).unwrap(),
            mysql_async::Params::Empty
        );
        let e = to_params(&Params(vec![Value::Int(1), Value::Date(i32::MAX)])).unwrap_err();
        assert!(e.message.starts_with("parameter 2"), "{}", e.message);
        // TIME holds ±838:59:59; past it the server would clamp without an error.
        let max = (838 * 3600 + 59 * 60 + 59) * 1_000_000;
        assert_eq!(
            to_my_value(&Value::Duration(-max)).unwrap(),
            MyValue::Time(true, 34, 22, 59, 59, 0)
        );
        for us in [max + 1, -max - 1, 40 * 86_400_000_000, i64::MIN] {
            let e = to_my_value(&Value::Duration(us)).unwrap_err();
            assert_eq!(e.kind, crate::error::ErrorKind::Parameter);
            assert!(
                e.message.contains("outside MySQL's TIME range"),
                "{}",
                e.message
            );
        }
    }
}
