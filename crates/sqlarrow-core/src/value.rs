//! Bound parameter values, engine-neutral.

/// A parameter value as given by the caller. Engines encode it for the type the
/// server expects (e.g. an `Int` bound to a PostgreSQL `numeric` is sent as numeric).
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Bool(bool),
    Int(i64),
    /// An integer that does not fit i64 (e.g. u64 > i64::MAX) kept exactly.
    BigInt(i128),
    Float(f64),
    /// A decimal number in canonical text form (`-123.4500`), kept exact.
    Decimal(String),
    Str(String),
    Bytes(Vec<u8>),
    /// Days since 1970-01-01.
    Date(i32),
    /// Microseconds since midnight.
    Time(i64),
    /// Microseconds since 1970-01-01 00:00:00, no time zone.
    Timestamp(i64),
    /// Microseconds since 1970-01-01 00:00:00 UTC.
    TimestampTz(i64),
    Uuid([u8; 16]),
    /// JSON text.
    Json(String),
    /// A length of time in microseconds (a Python `timedelta`).
    Duration(i64),
    /// A list of values (a Python list): a PostgreSQL array where the statement
    /// expects one (`id = ANY(:ids)`), JSON text everywhere else (see [`Value::to_json`]).
    List(Vec<Value>),
}

impl Value {
    /// A short name of the variant for error messages.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Null => "None",
            Value::Bool(_) => "bool",
            Value::Int(_) | Value::BigInt(_) => "int",
            Value::Float(_) => "float",
            Value::Decimal(_) => "Decimal",
            Value::Str(_) => "str",
            Value::Bytes(_) => "bytes",
            Value::Date(_) => "date",
            Value::Time(_) => "time",
            Value::Timestamp(_) => "datetime",
            Value::TimestampTz(_) => "datetime (tz-aware)",
            Value::Uuid(_) => "UUID",
            Value::Json(_) => "JSON",
            Value::Duration(_) => "timedelta",
            Value::List(_) => "list",
        }
    }

    /// The value as JSON text: numbers and decimals as JSON numbers, dates and times
    /// as ISO 8601 strings, UUIDs as strings, JSON as itself, lists as arrays. Bytes,
    /// and floats or decimals JSON has no number for (NaN, infinities), have no JSON
    /// form: `Err` names the value's type.
    pub fn to_json(&self) -> std::result::Result<String, String> {
        let mut out = String::new();
        self.write_json(&mut out)?;
        Ok(out)
    }

    fn write_json(&self, out: &mut String) -> std::result::Result<(), String> {
        let string = |s: &str, out: &mut String| {
            out.push_str(&serde_json::Value::String(s.to_string()).to_string())
        };
        match self {
            Value::Null => out.push_str("null"),
            Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            Value::Int(i) => out.push_str(&i.to_string()),
            Value::BigInt(i) => out.push_str(&i.to_string()),
            Value::Float(f) if f.is_finite() => out.push_str(&format!("{f:?}")),
            Value::Decimal(s) if serde_json::from_str::<serde_json::Number>(s).is_ok() => {
                out.push_str(s)
            }
            Value::Float(_) | Value::Decimal(_) => {
                return Err(format!("{} {self:?} has no JSON number", self.type_name()))
            }
            Value::Str(s) => string(s, out),
            Value::Bytes(_) => return Err("bytes have no JSON form".into()),
            Value::Duration(_) => return Err("timedelta has no JSON form".into()),
            Value::Date(d) => string(&civil::format_date(*d as i64), out),
            Value::Time(t) => string(&civil::format_time(*t), out),
            Value::Timestamp(t) => string(&civil::format_timestamp(*t, "T"), out),
            Value::TimestampTz(t) => string(&(civil::format_timestamp(*t, "T") + "+00:00"), out),
            Value::Uuid(u) => string(&civil::format_uuid(u), out),
            Value::Json(s) => out.push_str(s),
            Value::List(items) => {
                out.push('[');
                for (i, v) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    v.write_json(out)?;
                }
                out.push(']');
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod json_tests {
    use super::Value;

    #[test]
    fn json_forms() {
        let v = Value::List(vec![
            Value::Int(1),
            Value::BigInt(1 << 70),
            Value::Float(0.5),
            Value::Decimal("-1.10".into()),
            Value::Str("a\"b".into()),
            Value::Null,
            Value::Bool(true),
            Value::Date(0),
            Value::TimestampTz(1_500_000),
            Value::Uuid([0x12; 16]),
            Value::Json(r#"{"k":[1]}"#.into()),
            Value::List(vec![]),
        ]);
        assert_eq!(
            v.to_json().unwrap(),
            r#"[1,1180591620717411303424,0.5,-1.10,"a\"b",null,true,"1970-01-01","1970-01-01T00:00:01.500000+00:00","12121212-1212-1212-1212-121212121212",{"k":[1]},[]]"#
        );
        assert!(Value::List(vec![Value::Float(f64::NAN)]).to_json().is_err());
        assert!(Value::List(vec![Value::Decimal("NaN".into())])
            .to_json()
            .is_err());
        let e = Value::List(vec![Value::Bytes(vec![1])])
            .to_json()
            .unwrap_err();
        assert!(e.contains("bytes"), "{e}");
    }
}

/// Parameters for one statement.
#[derive(Debug, Clone, Default)]
pub struct Params(pub Vec<Value>);

impl Params {
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
    pub fn len(&self) -> usize {
        self.0.len()
    }
}

/// Civil-date helpers shared by engines (proleptic Gregorian, no time zones).
pub mod civil {
    /// Days since 1970-01-01 for a year/month/day (Howard Hinnant's algorithm).
    pub fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
        let y = if m <= 2 { y - 1 } else { y };
        let era = if y >= 0 { y } else { y - 399 } / 400;
        let yoe = y - era * 400;
        let m = m as i64;
        let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d as i64 - 1;
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        era * 146097 + doe - 719468
    }

    /// (year, month, day) for days since 1970-01-01.
    pub fn civil_from_days(z: i64) -> (i64, u32, u32) {
        let z = z + 719468;
        let era = if z >= 0 { z } else { z - 146096 } / 146097;
        let doe = z - era * 146097;
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
        let y = yoe + era * 400;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
        let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
        (if m <= 2 { y + 1 } else { y }, m, d)
    }

    fn digits(s: &[u8]) -> Option<i64> {
        if s.is_empty() || s.len() > 9 {
            return None;
        }
        let mut v = 0i64;
        for &c in s {
            if !c.is_ascii_digit() {
                return None;
            }
            v = v * 10 + (c - b'0') as i64;
        }
        Some(v)
    }

    /// The digit at `b[i]`, if it is one.
    #[inline(always)]
    fn digit(b: &[u8], i: usize) -> Option<i64> {
        let c = b[i].wrapping_sub(b'0');
        (c < 10).then_some(c as i64)
    }

    /// Days since the epoch of the exact 10-byte form `YYYY-MM-DD`, without a scan or
    /// UTF-8 check; `None` for any other shape (then [`parse_date`] decides).
    #[inline]
    fn fixed_date(b: &[u8]) -> Option<i64> {
        if b.len() < 10 || b[4] != b'-' || b[7] != b'-' {
            return None;
        }
        let y = digit(b, 0)? * 1000 + digit(b, 1)? * 100 + digit(b, 2)? * 10 + digit(b, 3)?;
        let m = (digit(b, 5)? * 10 + digit(b, 6)?) as u32;
        let d = (digit(b, 8)? * 10 + digit(b, 9)?) as u32;
        if !(1..=12).contains(&m) || d == 0 || d > days_in_month(y, m) {
            return None;
        }
        Some(days_from_civil(y, m, d))
    }

    /// [`parse_date`] of raw bytes: the canonical `YYYY-MM-DD` is decoded in place,
    /// anything else goes through the general parser.
    #[inline]
    pub fn parse_date_bytes(b: &[u8]) -> Option<i32> {
        if b.len() == 10 {
            if let Some(d) = fixed_date(b) {
                return i32::try_from(d).ok();
            }
        }
        parse_date(std::str::from_utf8(b).ok()?)
    }

    /// [`parse_timestamp`] of raw bytes: the canonical zoneless
    /// `YYYY-MM-DD[ T]HH:MM:SS[.f…]` (up to 6 fraction digits) is decoded in place,
    /// anything else goes through the general parser. Same results as the general one.
    #[inline]
    pub fn parse_timestamp_bytes(b: &[u8]) -> Option<(i64, bool)> {
        if (b.len() == 19 || (21..=26).contains(&b.len()))
            && (b[10] == b' ' || b[10] == b'T')
            && b[13] == b':'
            && b[16] == b':'
        {
            let fixed = (|| {
                let days = fixed_date(b)?;
                let h = digit(b, 11)? * 10 + digit(b, 12)?;
                let mi = digit(b, 14)? * 10 + digit(b, 15)?;
                let s = digit(b, 17)? * 10 + digit(b, 18)?;
                let mut us = 0i64;
                if b.len() > 19 {
                    if b[19] != b'.' {
                        return None;
                    }
                    let mut scale = 100_000i64;
                    for i in 20..b.len() {
                        us += digit(b, i)? * scale;
                        scale /= 10;
                    }
                }
                if h > 24 || mi > 59 || s > 60 {
                    return None;
                }
                Some(days * 86_400_000_000 + ((h * 60 + mi) * 60 + s) * 1_000_000 + us)
            })();
            if let Some(us) = fixed {
                return Some((us, false));
            }
        }
        parse_timestamp(std::str::from_utf8(b).ok()?)
    }

    /// Parse `YYYY-MM-DD` into days since the epoch.
    pub fn parse_date(s: &str) -> Option<i32> {
        let b = s.trim().as_bytes();
        let (neg, b) = match b.first() {
            Some(b'-') => (true, &b[1..]),
            _ => (false, b),
        };
        let dash1 = b.iter().position(|&c| c == b'-')?;
        let y = digits(&b[..dash1])?;
        let rest = &b[dash1 + 1..];
        if rest.len() != 5 || rest[2] != b'-' {
            return None;
        }
        let m = digits(&rest[..2])? as u32;
        let d = digits(&rest[3..])? as u32;
        if !(1..=12).contains(&m) || d == 0 || d > days_in_month(if neg { -y } else { y }, m) {
            return None;
        }
        i32::try_from(days_from_civil(if neg { -y } else { y }, m, d)).ok()
    }

    pub fn days_in_month(y: i64, m: u32) -> u32 {
        match m {
            1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
            4 | 6 | 9 | 11 => 30,
            _ => {
                if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 {
                    29
                } else {
                    28
                }
            }
        }
    }

    /// Parse `HH:MM[:SS[.ffffff]]` into microseconds since midnight.
    pub fn parse_time(s: &str) -> Option<i64> {
        let b = s.trim().as_bytes();
        if b.len() < 5 || b[2] != b':' {
            return None;
        }
        let h = digits(&b[..2])?;
        let mi = digits(&b[3..5])?;
        let mut us = 0i64;
        let mut sec = 0i64;
        if b.len() > 5 {
            if b[5] != b':' || b.len() < 8 {
                return None;
            }
            sec = digits(&b[6..8])?;
            if b.len() > 8 {
                if b[8] != b'.' || b.len() == 9 {
                    return None;
                }
                let frac = &b[9..];
                let mut scale = 100_000i64;
                for &c in frac {
                    // Digits past the microsecond must be zeros: a finer time is not
                    // cut without a word.
                    if !c.is_ascii_digit() || (scale == 0 && c != b'0') {
                        return None;
                    }
                    us += (c - b'0') as i64 * scale;
                    scale /= 10;
                }
            }
        }
        if h > 24 || mi > 59 || sec > 60 {
            return None;
        }
        Some(((h * 60 + mi) * 60 + sec) * 1_000_000 + us)
    }

    /// Parse `YYYY-MM-DD[ T]HH:MM[:SS[.ffffff]][Z|±HH[:MM]]` into microseconds since the
    /// epoch, converted to UTC when an offset is present. Returns (micros, had_offset).
    pub fn parse_timestamp(s: &str) -> Option<(i64, bool)> {
        let s = s.trim();
        if s.len() == 10 {
            return Some((parse_date(s)? as i64 * 86_400_000_000, false));
        }
        let sep = s.find(['T', ' '])?;
        let days = parse_date(&s[..sep])? as i64;
        let rest = &s[sep + 1..];
        // Split off a trailing zone.
        let (time_part, offset_us, had_offset) = if let Some(t) = rest.strip_suffix('Z') {
            (t, 0i64, true)
        } else if let Some(pos) = rest.rfind(['+', '-']).filter(|&p| p >= 5) {
            let tz = &rest[pos + 1..];
            let sign = if rest.as_bytes()[pos] == b'-' { -1 } else { 1 };
            let tzb = tz.as_bytes();
            let (hh, mm) = match tzb.len() {
                2 => (digits(tzb)?, 0),
                4 => (digits(&tzb[..2])?, digits(&tzb[2..])?),
                5 if tzb[2] == b':' => (digits(&tzb[..2])?, digits(&tzb[3..])?),
                _ => return None,
            };
            (&rest[..pos], sign * (hh * 3600 + mm * 60) * 1_000_000, true)
        } else {
            (rest, 0, false)
        };
        let t = parse_time(time_part)?;
        Some((days * 86_400_000_000 + t - offset_us, had_offset))
    }

    /// Format days since the epoch as `YYYY-MM-DD`.
    pub fn format_date(days: i64) -> String {
        let (y, m, d) = civil_from_days(days);
        format!("{y:04}-{m:02}-{d:02}")
    }

    /// `HH:MM:SS.ffffff` for microseconds since midnight.
    pub fn format_time(us: i64) -> String {
        let (s, f) = (us.div_euclid(1_000_000), us.rem_euclid(1_000_000));
        format!("{:02}:{:02}:{:02}.{f:06}", s / 3600, (s / 60) % 60, s % 60)
    }

    /// Date and time of microseconds since the epoch, joined by `sep` (" " or "T").
    pub fn format_timestamp(us: i64, sep: &str) -> String {
        let days = us.div_euclid(86_400_000_000);
        let rem = us.rem_euclid(86_400_000_000);
        format!("{}{sep}{}", format_date(days), format_time(rem))
    }

    /// The canonical hyphenated text of a UUID.
    pub fn format_uuid(u: &[u8; 16]) -> String {
        let h: String = u.iter().map(|b| format!("{b:02x}")).collect();
        format!(
            "{}-{}-{}-{}-{}",
            &h[0..8],
            &h[8..12],
            &h[12..16],
            &h[16..20],
            &h[20..]
        )
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn round_trips_dates() {
            for days in [-719_528i64, -1, 0, 1, 10_957, 2_932_896] {
                let (y, m, d) = civil_from_days(days);
                assert_eq!(days_from_civil(y, m, d), days);
            }
            assert_eq!(parse_date("2000-01-01"), Some(10_957));
            assert_eq!(parse_date("1970-01-01"), Some(0));
            assert_eq!(parse_date("9999-12-31"), Some(2_932_896));
            assert_eq!(parse_date("2023-02-29"), None);
            assert_eq!(parse_date("2024-02-29"), Some(19_782));
            assert_eq!(parse_date("nope"), None);
            assert_eq!(format_date(19_782), "2024-02-29");
        }

        #[test]
        fn byte_fast_paths_agree_with_the_general_parsers() {
            let stamps = [
                "1970-01-01 00:00:01",
                "2024-02-29T23:59:59.5",
                "2023-05-01 12:34:56.123456",
                "2023-05-01 12:34:56.12",
                "0001-01-01 00:00:00.000001",
                "9999-12-31 24:00:00",
                "2023-02-29 00:00:00",
                "2023-13-01 00:00:00",
                "2023-05-01 12:60:00",
                "2023-05-01 12:34:56.1234567",
                "2023-05-01 12:34:56Z",
                "2023-05-01 12:34:56+02:00",
                "2023-05-01 12:34:56.",
                "2023-05-01x12:34:56",
                " 2023-05-01 12:34:56",
                "2023-05-01",
                "20230501 12:34:56.1",
                "2023-05-01 1a:34:56",
            ];
            for s in stamps {
                assert_eq!(
                    parse_timestamp_bytes(s.as_bytes()),
                    parse_timestamp(s),
                    "{s}"
                );
            }
            assert_eq!(parse_timestamp_bytes(b"\xff\xfe"), None);
            for s in [
                "2024-02-29",
                "2023-02-29",
                "0000-01-01",
                "2023-00-10",
                "2023-1-10",
                "-2023-01-10",
                " 2023-01-1",
            ] {
                assert_eq!(parse_date_bytes(s.as_bytes()), parse_date(s), "{s}");
            }
        }

        #[test]
        fn parses_times_and_timestamps() {
            assert_eq!(parse_time("01:02:03.5"), Some(3_723_500_000));
            assert_eq!(parse_time("23:59"), Some(86_340_000_000));
            assert_eq!(parse_time("1:2"), None);
            assert_eq!(parse_time("01:02:03.123456000"), Some(3_723_123_456));
            assert_eq!(parse_time("01:02:03.1234567"), None);
            assert_eq!(parse_timestamp("1970-01-01 00:00:00.000000001"), None);
            assert_eq!(
                parse_timestamp("1970-01-01 00:00:01"),
                Some((1_000_000, false))
            );
            assert_eq!(
                parse_timestamp("1970-01-01T01:00:00+01:00"),
                Some((0, true))
            );
            assert_eq!(parse_timestamp("1970-01-01T00:00:00Z"), Some((0, true)));
            assert_eq!(parse_timestamp("1970-01-02"), Some((86_400_000_000, false)));
            assert_eq!(parse_timestamp("garbage"), None);
        }
    }
}
