//! Column defaults across dialects.
//!
//! Engines report a default as SQL text in their own dialect (`now()`,
//! `'abc'::character varying`, `current_timestamp(6)`, `nextval('t_id_seq'::regclass)`).
//! Introspection keeps one canonical text for the portable ones, so that the same
//! default compares equal across engines ([`canonical_default`]), and DDL rendering
//! writes it the way each dialect accepts ([`render_default`]):
//!
//! - the current moment: `CURRENT_TIMESTAMP` (`now()`, `current_timestamp(6)`,
//!   `transaction_timestamp()`, `localtimestamp`, SQLite's `datetime('now')`);
//! - the current date: `CURRENT_DATE` (`curdate()`, SQLite's `date('now')`);
//! - literals, without PostgreSQL's casts (`'abc'::text` is `'abc'`, `'-1'::integer`
//!   is `-1`, `NULL::text` is `NULL`);
//! - a PostgreSQL sequence (`nextval(...)`): kept as is; MySQL gets `AUTO_INCREMENT`,
//!   other dialects an error naming the column.
//!
//! Any other expression is kept verbatim: it is valid in the dialect it came from, and
//! one that is plainly PostgreSQL's (a `::` cast) is refused for other dialects
//! rather than sent to fail on the server.

use super::ddl::Dialect;
use super::{Column, LogicalType};
use crate::error::{Error, Result};

/// What a default is, as far as rendering cares.
#[derive(Debug, Clone, PartialEq, Eq)]
enum DefaultKind {
    CurrentTimestamp,
    CurrentDate,
    Sequence,
    Other,
}

/// `s` without parentheses that enclose all of it: `((now()))` is `now()`.
fn strip_outer_parens(mut s: &str) -> &str {
    loop {
        let t = s.trim();
        if !(t.starts_with('(') && t.ends_with(')')) {
            return t;
        }
        // The first '(' must close at the very end.
        let mut depth = 0i32;
        let mut in_quote = false;
        let mut closes_at_end = true;
        for (i, ch) in t.char_indices() {
            match ch {
                '\'' => in_quote = !in_quote,
                '(' if !in_quote => depth += 1,
                ')' if !in_quote => {
                    depth -= 1;
                    if depth == 0 && i != t.len() - 1 {
                        closes_at_end = false;
                        break;
                    }
                }
                _ => {}
            }
        }
        if !closes_at_end || depth != 0 {
            return t;
        }
        s = &t[1..t.len() - 1];
    }
}

fn classify(text: &str) -> DefaultKind {
    let t = strip_outer_parens(text).to_ascii_lowercase();
    let t = t.as_str();
    let with_precision = |name: &str| {
        t.strip_prefix(name)
            .and_then(|r| r.strip_prefix('('))
            .and_then(|r| r.strip_suffix(')'))
            .is_some_and(|p| p.trim().chars().all(|c| c.is_ascii_digit()))
    };
    let moment = matches!(
        t,
        "now()"
            | "current_timestamp"
            | "transaction_timestamp()"
            | "localtimestamp"
            | "datetime('now')"
            | "getdate()"
            | "sysdatetime()"
    ) || with_precision("current_timestamp")
        || with_precision("localtimestamp")
        || with_precision("now");
    if moment {
        return DefaultKind::CurrentTimestamp;
    }
    if matches!(
        t,
        "current_date" | "current_date()" | "curdate()" | "date('now')"
    ) {
        return DefaultKind::CurrentDate;
    }
    if t.starts_with("nextval(") {
        return DefaultKind::Sequence;
    }
    DefaultKind::Other
}

/// A literal with PostgreSQL's casts dropped (`'abc'::character varying` → `'abc'`,
/// `'-1'::integer` → `-1`, `NULL::text` → `NULL`, `(-1)` → `-1`), if `text` is one.
fn literal_without_casts(text: &str) -> Option<String> {
    let t = strip_outer_parens(text);
    let (lit, rest) = if let Some(body) = t.strip_prefix('\'') {
        // The end of the quoted literal ('' is an escaped quote).
        let bytes = body.as_bytes();
        let mut i = 0;
        let end = loop {
            match bytes.get(i) {
                None => return None,
                Some(b'\'') if bytes.get(i + 1) == Some(&b'\'') => i += 2,
                Some(b'\'') => break i,
                Some(_) => i += 1,
            }
        };
        (&t[..end + 2], &body[end + 1..])
    } else if t.len() >= 4 && t[..4].eq_ignore_ascii_case("null") {
        ("NULL", &t[4..])
    } else {
        let n = t
            .char_indices()
            .find(|(i, c)| !(c.is_ascii_digit() || *c == '.' || (*i == 0 && *c == '-')))
            .map_or(t.len(), |(i, _)| i);
        let num = &t[..n];
        if num.is_empty() || num == "-" || num.parse::<f64>().is_err() {
            return None;
        }
        (num, &t[n..])
    };
    // Only casts may follow: `::type`, repeated; a type name is words, digits, spaces,
    // parentheses, commas, brackets and double quotes.
    let rest = rest.trim();
    if !rest.is_empty() {
        if !rest.starts_with("::") {
            return None;
        }
        let types_only = rest
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || " _:(),[]\"".contains(c));
        if !types_only {
            return None;
        }
    }
    // A number, and a quoted number cast to a numeric type, in one spelling:
    // `0.000` (MySQL's report of a DECIMAL(12,3) default 0) and `0` are one default.
    if !lit.starts_with('\'') && lit != "NULL" {
        return Some(plain_number(lit));
    }
    // A quoted number cast to a numeric type is that number.
    if let Some(inner) = lit.strip_prefix('\'').and_then(|l| l.strip_suffix('\'')) {
        let numeric_cast = [
            "::integer",
            "::bigint",
            "::smallint",
            "::numeric",
            "::real",
            "::double precision",
        ]
        .iter()
        .any(|c| rest.to_ascii_lowercase().starts_with(c));
        if numeric_cast && !inner.is_empty() && inner.parse::<f64>().is_ok() {
            return Some(plain_number(inner));
        }
    }
    Some(lit.to_string())
}

/// A decimal number without trailing fractional zeros (`1.50` → `1.5`, `0.000` → `0`).
fn plain_number(n: &str) -> String {
    if !n.contains('.') || n.contains(['e', 'E']) {
        return n.to_string();
    }
    let t = n.trim_end_matches('0').trim_end_matches('.');
    match t {
        "" | "-" => "0".to_string(),
        "-0" => "0".to_string(),
        _ => t.to_string(),
    }
}

/// The canonical text of a default as an engine reports it (see the module docs).
pub fn canonical_default(raw: &str) -> String {
    match classify(raw) {
        DefaultKind::CurrentTimestamp => "CURRENT_TIMESTAMP".to_string(),
        DefaultKind::CurrentDate => "CURRENT_DATE".to_string(),
        DefaultKind::Sequence => raw.trim().to_string(),
        DefaultKind::Other => literal_without_casts(raw).unwrap_or_else(|| raw.trim().to_string()),
    }
}

/// The clause after a column's type for its default in dialect `d`
/// (`DEFAULT CURRENT_TIMESTAMP(6)`, `AUTO_INCREMENT`), or `None` for no default.
pub fn render_default(d: Dialect, c: &Column) -> Result<Option<String>> {
    let Some(raw) = c.default.as_deref() else {
        return Ok(None);
    };
    let pg_like = matches!(d, Dialect::Postgres | Dialect::Redshift);
    let clause = match classify(raw) {
        DefaultKind::CurrentTimestamp => match d {
            Dialect::Mysql
                if matches!(
                    c.data_type,
                    LogicalType::Timestamp | LogicalType::TimestampTz
                ) =>
            {
                // The precision must be the column's (sqlarrow creates DATETIME(6) and
                // TIMESTAMP(6)).
                "DEFAULT CURRENT_TIMESTAMP(6)".to_string()
            }
            Dialect::Bigquery => "DEFAULT CURRENT_TIMESTAMP()".to_string(),
            _ => "DEFAULT CURRENT_TIMESTAMP".to_string(),
        },
        DefaultKind::CurrentDate => match d {
            Dialect::Mysql => "DEFAULT (CURRENT_DATE)".to_string(),
            Dialect::Bigquery => "DEFAULT CURRENT_DATE()".to_string(),
            Dialect::Mssql => "DEFAULT CAST(GETDATE() AS DATE)".to_string(),
            _ => "DEFAULT CURRENT_DATE".to_string(),
        },
        DefaultKind::Sequence if pg_like => format!("DEFAULT {}", raw.trim()),
        DefaultKind::Sequence if d == Dialect::Mysql && c.data_type.is_integer() => {
            "AUTO_INCREMENT".to_string()
        }
        DefaultKind::Sequence => {
            return Err(Error::config(format!(
                "column \"{}\": its default {} draws from a PostgreSQL sequence, which {} \
                 has no equivalent for; set the column's default to None first",
                c.name,
                raw.trim(),
                d.name()
            ))
            .with_detail("column", c.name.clone()))
        }
        DefaultKind::Other => {
            let text = if pg_like {
                raw.trim().to_string()
            } else {
                literal_without_casts(raw).unwrap_or_else(|| raw.trim().to_string())
            };
            if !pg_like && d != Dialect::Snowflake && has_pg_cast(&text) {
                return Err(Error::config(format!(
                    "column \"{}\": its default {} is a PostgreSQL expression that {} cannot \
                     run; set the column's default to one {} understands (or None) first",
                    c.name,
                    raw.trim(),
                    d.name(),
                    d.name()
                ))
                .with_detail("column", c.name.clone()));
            }
            format!("DEFAULT {text}")
        }
    };
    Ok(Some(clause))
}

/// The expression of a column's default in dialect `d`, for `ALTER ... SET DEFAULT`.
/// A default that is no expression there (MySQL's `AUTO_INCREMENT`) is an error.
pub fn default_expr(d: Dialect, c: &Column) -> Result<String> {
    match render_default(d, c)? {
        Some(clause) => match clause.strip_prefix("DEFAULT ") {
            Some(expr) => Ok(expr.to_string()),
            None => Err(Error::config(format!(
                "column \"{}\": its default becomes {clause} in {}, which ALTER ... SET \
                 DEFAULT cannot set; change the column by hand",
                c.name,
                d.name()
            ))
            .with_detail("column", c.name.clone())),
        },
        None => Err(Error::interface("no default to render")),
    }
}

/// Whether `s` has a `::` outside quoted literals.
fn has_pg_cast(s: &str) -> bool {
    let mut in_quote = false;
    let b = s.as_bytes();
    for i in 0..b.len() {
        match b[i] {
            b'\'' => in_quote = !in_quote,
            b':' if !in_quote && b.get(i + 1) == Some(&b':') => return true,
            _ => {}
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_forms() {
        for (raw, want) in [
            ("now()", "CURRENT_TIMESTAMP"),
            ("CURRENT_TIMESTAMP", "CURRENT_TIMESTAMP"),
            ("current_timestamp(6)", "CURRENT_TIMESTAMP"),
            ("current_timestamp()", "CURRENT_TIMESTAMP"),
            ("(datetime('now'))", "CURRENT_TIMESTAMP"),
            ("curdate()", "CURRENT_DATE"),
            ("CURRENT_DATE", "CURRENT_DATE"),
            ("'abc'::character varying", "'abc'"),
            ("'it''s'::text", "'it''s'"),
            ("'-1'::integer", "-1"),
            ("'1.50'::numeric", "1.5"),
            ("0.000", "0"),
            ("-0.50", "-0.5"),
            ("10", "10"),
            ("100.0", "100"),
            ("'{}'::jsonb", "'{}'"),
            ("'a'::\"MyEnum\"", "'a'"),
            ("NULL::character varying", "NULL"),
            ("(-1)", "-1"),
            ("0", "0"),
            ("true", "true"),
            ("'x'", "'x'"),
            (
                "nextval('s.t_id_seq'::regclass)",
                "nextval('s.t_id_seq'::regclass)",
            ),
            ("gen_random_uuid()", "gen_random_uuid()"),
            ("('a'::text || 'b'::text)", "('a'::text || 'b'::text)"),
            ("(1 + 2)", "(1 + 2)"),
            ("'a' || 'b'", "'a' || 'b'"),
        ] {
            assert_eq!(canonical_default(raw), want, "{raw}");
        }
    }

    #[test]
    fn rendered_per_dialect() {
        let col = |t: LogicalType, d: &str| {
            let mut c = Column::new("c", t, true);
            c.default = Some(d.to_string());
            c
        };
        let r = |d: Dialect, c: &Column| render_default(d, c).unwrap().unwrap();
        let ts = col(LogicalType::TimestampTz, "now()");
        assert_eq!(r(Dialect::Mysql, &ts), "DEFAULT CURRENT_TIMESTAMP(6)");
        assert_eq!(r(Dialect::Sqlite, &ts), "DEFAULT CURRENT_TIMESTAMP");
        assert_eq!(r(Dialect::Postgres, &ts), "DEFAULT CURRENT_TIMESTAMP");
        let d = col(LogicalType::Date, "curdate()");
        assert_eq!(r(Dialect::Mysql, &d), "DEFAULT (CURRENT_DATE)");
        assert_eq!(r(Dialect::Postgres, &d), "DEFAULT CURRENT_DATE");
        let seq = col(LogicalType::Int64, "nextval('t_id_seq'::regclass)");
        assert_eq!(r(Dialect::Mysql, &seq), "AUTO_INCREMENT");
        assert_eq!(
            r(Dialect::Postgres, &seq),
            "DEFAULT nextval('t_id_seq'::regclass)"
        );
        let e = render_default(Dialect::Sqlite, &seq).unwrap_err();
        assert!(e.message.contains("PostgreSQL sequence"), "{e}");
        let lit = col(LogicalType::String(None), "'abc'::character varying");
        assert_eq!(r(Dialect::Mysql, &lit), "DEFAULT 'abc'");
        let expr = col(LogicalType::String(None), "('a'::text || 'b'::text)");
        assert!(render_default(Dialect::Mysql, &expr).is_err());
        assert_eq!(
            r(Dialect::Postgres, &expr),
            "DEFAULT ('a'::text || 'b'::text)"
        );
        let none = Column::new("c", LogicalType::Int32, true);
        assert_eq!(render_default(Dialect::Mysql, &none).unwrap(), None);
    }
}
