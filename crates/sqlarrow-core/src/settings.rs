//! Session settings applied to every pooled connection (`settings=` on a connector).
//!
//! A `SET` run through `execute()` reaches only the pooled connection that ran it, so
//! the next statement may or may not see it. Settings given to the connector are part
//! of how each connection is opened instead:
//! - PostgreSQL: `-c name=value` in the startup packet's `options` (no extra round trip).
//! - Redshift, which ignores `options`: `set_config(name, value, false)` after
//!   connecting.
//! - MySQL/MariaDB: one `SET SESSION name = value, ...` after the session setup, on
//!   the fast reader's connections and mysql_async's alike.
//!
//! Settings sqlarrow itself depends on (the client encoding, the date style, MySQL's
//! time zone and character set, autocommit) or that have a connector option of their
//! own (`statement_timeout`, `read_only`) are refused with a [`crate::ErrorKind::Config`]
//! error that says what to use instead.

use crate::error::{Error, Result};

/// A setting's value, as given.
#[derive(Debug, Clone, PartialEq)]
pub enum SettingValue {
    Text(String),
    /// An integer or a float, in its decimal form (`10`, `0.5`).
    Number(String),
    Bool(bool),
}

/// The engine settings are checked and written for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SettingsDialect {
    Postgres,
    Redshift,
    MySql,
    /// SQLite: the settings are PRAGMAs.
    Sqlite,
}

/// Checked session settings, in the order given.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Settings(Vec<(String, SettingValue)>);

/// Names sqlarrow will not let a connector set, and why (lower-case names).
fn refused(dialect: SettingsDialect, name: &str) -> Option<&'static str> {
    let lower = name.to_ascii_lowercase();
    let why = match dialect {
        SettingsDialect::Postgres | SettingsDialect::Redshift => match lower.as_str() {
            "client_encoding" => "sqlarrow reads and writes text as UTF-8",
            "datestyle" | "intervalstyle" => {
                "sqlarrow parses the server's ISO date and interval text"
            }
            "statement_timeout" => {
                "use the connector's statement_timeout= (seconds), which also cancels the statement"
            }
            "default_transaction_read_only" | "transaction_read_only" => {
                "use the connector's read_only=True"
            }
            "session_authorization" => "connect as that user instead",
            "application_name" => "use the connector's application_name=",
            _ => return None,
        },
        SettingsDialect::MySql => match lower.as_str() {
            "time_zone" => "sqlarrow reads TIMESTAMP columns in UTC ('+00:00')",
            "character_set_client"
            | "character_set_connection"
            | "character_set_results"
            | "collation_connection"
            | "names" => "sqlarrow talks to the server in utf8mb4",
            "autocommit" => "sqlarrow manages transactions (use connector.transaction())",
            "transaction_read_only" | "tx_read_only" => "use the connector's read_only=True",
            "max_statement_time" | "max_execution_time" => {
                "use the connector's statement_timeout= (seconds), which also stops the statement"
            }
            _ => return None,
        },
        SettingsDialect::Sqlite => match lower.rsplit('.').next().unwrap_or_default() {
            "query_only" => "use the connector's read_only=True",
            "busy_timeout" => {
                "sqlarrow waits for locks itself, up to pool_timeout, and stays interruptible"
            }
            "encoding" => "sqlarrow reads and writes text as UTF-8",
            "writable_schema" => "it lets a statement corrupt the database file",
            _ => return None,
        },
    };
    Some(why)
}

/// `sql_mode` flags that change how sqlarrow's own statements are read (quoting,
/// escapes, what `''` means).
const MYSQL_LEXICAL_MODES: &[&str] = &[
    "ANSI_QUOTES",
    "ANSI",
    "NO_BACKSLASH_ESCAPES",
    "EMPTY_STRING_IS_NULL",
    "ORACLE",
    "MSSQL",
    "DB2",
    "POSTGRESQL",
    "MAXDB",
];

fn valid_name(dialect: SettingsDialect, name: &str) -> bool {
    // PostgreSQL's extension settings have one dot (`pg_trgm.similarity_threshold`), as
    // has a SQLite PRAGMA for one attached database (`main.cache_size`).
    let max_parts = if dialect == SettingsDialect::MySql {
        1
    } else {
        2
    };
    let parts: Vec<&str> = name.split('.').collect();
    parts.len() <= max_parts
        && parts.iter().all(|p| {
            let mut chars = p.chars();
            matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
                && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        })
}

impl Settings {
    /// Check `pairs` for `dialect`: valid names, each name once, no setting sqlarrow
    /// depends on, values without NUL characters, numbers that are numbers.
    pub fn new(dialect: SettingsDialect, pairs: Vec<(String, SettingValue)>) -> Result<Self> {
        let mut seen = std::collections::HashSet::new();
        for (name, value) in &pairs {
            if !valid_name(dialect, name) {
                return Err(Error::config(format!(
                    "settings: {name:?} is not a setting name (letters, digits and _{})",
                    match dialect {
                        SettingsDialect::MySql => "",
                        SettingsDialect::Sqlite => ", with one . after a database name",
                        _ => ", with one . for an extension's setting",
                    }
                ))
                .with_detail("setting", name.clone()));
            }
            if let Some(why) = refused(dialect, name) {
                return Err(Error::config(format!(
                    "settings: sqlarrow sets {name:?} itself: {why}"
                ))
                .with_detail("setting", name.clone()));
            }
            if !seen.insert(name.to_ascii_lowercase()) {
                return Err(Error::config(format!(
                    "settings: {name:?} is given twice (names are case-insensitive)"
                ))
                .with_detail("setting", name.clone()));
            }
            match value {
                SettingValue::Text(t) if t.contains('\0') => {
                    return Err(Error::config(format!(
                        "settings: the value of {name:?} contains a NUL character"
                    ))
                    .with_detail("setting", name.clone()));
                }
                SettingValue::Number(n) if n.parse::<f64>().map_or(true, |f| !f.is_finite()) => {
                    return Err(Error::config(format!(
                        "settings: the value of {name:?} ({n}) is not a finite number"
                    ))
                    .with_detail("setting", name.clone()));
                }
                SettingValue::Text(t)
                    if dialect == SettingsDialect::MySql
                        && name.eq_ignore_ascii_case("sql_mode") =>
                {
                    let modes: Vec<String> = t
                        .split(',')
                        .map(|m| m.trim().to_ascii_uppercase())
                        .collect();
                    if let Some(bad) = MYSQL_LEXICAL_MODES
                        .iter()
                        .find(|m| modes.iter().any(|x| x == *m))
                    {
                        return Err(Error::config(format!(
                            "settings: sql_mode {bad} changes how sqlarrow's own statements \
                             are parsed (quotes, escapes or empty strings), so it cannot be \
                             a connector setting"
                        ))
                        .with_detail("setting", name.clone()));
                    }
                }
                _ => {}
            }
        }
        Ok(Settings(pairs))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The names, in order.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(|(n, _)| n.as_str())
    }

    fn text(value: &SettingValue) -> String {
        match value {
            SettingValue::Text(t) => t.clone(),
            SettingValue::Number(n) => n.clone(),
            SettingValue::Bool(b) => (if *b { "on" } else { "off" }).to_string(),
        }
    }

    /// `value` as a SQL literal for MySQL's `SET` and SQLite's `PRAGMA`: text quoted
    /// (backslashes doubled where they escape, as in MySQL), numbers and booleans bare.
    /// A text that is a plain decimal number goes unquoted: MySQL refuses `'100'` for a
    /// numeric variable, and values read from a URL or `${VAR}` arrive as text.
    fn literal(value: &SettingValue, backslash_escapes: bool) -> String {
        match value {
            SettingValue::Text(t) if is_plain_number(t) => t.clone(),
            SettingValue::Text(t) => {
                let t = if backslash_escapes {
                    t.replace('\\', "\\\\")
                } else {
                    t.clone()
                };
                format!("'{}'", t.replace('\'', "''"))
            }
            SettingValue::Number(n) => n.clone(),
            SettingValue::Bool(b) => (if *b { "ON" } else { "OFF" }).to_string(),
        }
    }

    /// PostgreSQL startup `options`: ` -c name=value` for each, with whitespace and
    /// backslashes escaped as the server splits the string (a backslash takes the
    /// next character literally).
    pub fn pg_options(&self) -> String {
        let mut out = String::new();
        for (name, value) in &self.0 {
            out.push_str(" -c ");
            out.push_str(name);
            out.push('=');
            for c in Self::text(value).chars() {
                if c.is_whitespace() || c == '\\' {
                    out.push('\\');
                }
                out.push(c);
            }
        }
        out
    }

    /// Redshift: one `SELECT set_config('name', 'value', false), ...`. Unlike
    /// `SET name TO 'value'`, which makes `'a, b'` one element of a list setting such as
    /// `search_path`, `set_config` reads the value as `options` and the config file do.
    pub fn pg_set_statements(&self) -> String {
        let calls: Vec<String> = self
            .0
            .iter()
            .map(|(name, value)| {
                format!(
                    "set_config('{name}', '{}', false)",
                    Self::text(value).replace('\'', "''")
                )
            })
            .collect();
        format!("SELECT {}", calls.join(", "))
    }

    /// SQLite: one `PRAGMA name = value` per setting, with the pragma's name (without
    /// a database prefix) and the value as text. Text is a string literal, numbers and
    /// booleans go bare.
    pub fn sqlite_pragmas(&self) -> Vec<SqlitePragma> {
        self.0
            .iter()
            .map(|(name, value)| SqlitePragma {
                pragma: name.rsplit('.').next().unwrap_or(name).to_ascii_lowercase(),
                statement: format!("PRAGMA {name} = {}", Self::literal(value, false)),
                value: Self::text(value),
            })
            .collect()
    }

    /// MySQL/MariaDB: one `SET SESSION a = 'text', b = 10, c = ON` statement, or `None`.
    pub fn mysql_statement(&self) -> Option<String> {
        if self.0.is_empty() {
            return None;
        }
        let parts: Vec<String> = self
            .0
            .iter()
            .map(|(name, value)| format!("{name} = {}", Self::literal(value, true)))
            .collect();
        Some(format!("SET SESSION {}", parts.join(", ")))
    }
}

/// One SQLite PRAGMA of a connector's settings.
#[derive(Debug, Clone, PartialEq)]
pub struct SqlitePragma {
    /// The pragma's name, lower-case, without a database prefix (`cache_size`).
    pub pragma: String,
    /// `PRAGMA main.cache_size = -20000`
    pub statement: String,
    /// The value as given, as text (`wal`, `-20000`, `on`).
    pub value: String,
}

/// `-12`, `100`, `0.5`: digits with an optional sign and one decimal point.
fn is_plain_number(t: &str) -> bool {
    let digits = t.strip_prefix('-').unwrap_or(t);
    let (int, frac) = digits.split_once('.').unwrap_or((digits, ""));
    !int.is_empty()
        && int.bytes().all(|b| b.is_ascii_digit())
        && frac.bytes().all(|b| b.is_ascii_digit())
        && !(digits.contains('.') && frac.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;
    use SettingValue::*;

    fn s(d: SettingsDialect, pairs: &[(&str, SettingValue)]) -> Result<Settings> {
        Settings::new(
            d,
            pairs
                .iter()
                .map(|(n, v)| (n.to_string(), v.clone()))
                .collect(),
        )
    }

    #[test]
    fn postgres_options_escape_what_the_server_splits_on() {
        let st = s(
            SettingsDialect::Postgres,
            &[
                ("search_path", Text("a, \"my schema\"".into())),
                ("work_mem", Text("64MB".into())),
                ("pg_trgm.similarity_threshold", Number("0.5".into())),
                ("enable_seqscan", Bool(false)),
                ("application_name2", Text("back\\slash\ttab".into())),
            ],
        )
        .unwrap();
        assert_eq!(
            st.pg_options(),
            " -c search_path=a,\\ \"my\\ schema\" -c work_mem=64MB \
             -c pg_trgm.similarity_threshold=0.5 -c enable_seqscan=off \
             -c application_name2=back\\\\slash\\\ttab"
        );
        assert_eq!(
            s(
                SettingsDialect::Redshift,
                &[("search_path", Text("o'k".into()))]
            )
            .unwrap()
            .pg_set_statements(),
            "SELECT set_config('search_path', 'o''k', false)"
        );
    }

    #[test]
    fn mysql_statement_quotes_text_only() {
        let st = s(
            SettingsDialect::MySql,
            &[
                ("sql_mode", Text("TRADITIONAL".into())),
                ("group_concat_max_len", Number("100000".into())),
                ("foreign_key_checks", Bool(false)),
                ("lc_time_names", Text("it's\\".into())),
                ("max_sp_recursion_depth", Text("10".into())),
                ("optimizer_search_depth", Text("1e3".into())),
            ],
        )
        .unwrap();
        assert_eq!(
            st.mysql_statement().unwrap(),
            "SET SESSION sql_mode = 'TRADITIONAL', group_concat_max_len = 100000, \
             foreign_key_checks = OFF, lc_time_names = 'it''s\\\\', \
             max_sp_recursion_depth = 10, optimizer_search_depth = '1e3'"
        );
        assert!(Settings::default().mysql_statement().is_none());
    }

    #[test]
    fn sqlite_pragmas() {
        let st = s(
            SettingsDialect::Sqlite,
            &[
                ("journal_mode", Text("wal".into())),
                ("main.cache_size", Number("-20000".into())),
                ("foreign_keys", Bool(false)),
                ("synchronous", Text("1".into())),
            ],
        )
        .unwrap();
        let stmts: Vec<String> = st
            .sqlite_pragmas()
            .into_iter()
            .map(|p| p.statement)
            .collect();
        assert_eq!(
            stmts,
            [
                "PRAGMA journal_mode = 'wal'",
                "PRAGMA main.cache_size = -20000",
                "PRAGMA foreign_keys = OFF",
                "PRAGMA synchronous = 1"
            ]
        );
        assert_eq!(st.sqlite_pragmas()[1].pragma, "cache_size");
        for bad in [
            "query_only",
            "main.busy_timeout",
            "ENCODING",
            "writable_schema",
        ] {
            let e = s(SettingsDialect::Sqlite, &[(bad, Bool(true))]).unwrap_err();
            assert!(e.message.contains("sqlarrow sets"), "{bad}: {}", e.message);
        }
    }

    #[test]
    fn bad_settings_are_config_errors_that_name_them() {
        let cases: &[(SettingsDialect, &str, SettingValue, &str)] = &[
            (
                SettingsDialect::Postgres,
                "search_path; drop",
                Text("x".into()),
                "not a setting name",
            ),
            (
                SettingsDialect::Postgres,
                "a.b.c",
                Text("x".into()),
                "not a setting name",
            ),
            (
                SettingsDialect::MySql,
                "a.b",
                Text("x".into()),
                "not a setting name",
            ),
            (
                SettingsDialect::Postgres,
                "",
                Text("x".into()),
                "not a setting name",
            ),
            (
                SettingsDialect::Postgres,
                "Client_Encoding",
                Text("LATIN1".into()),
                "UTF-8",
            ),
            (
                SettingsDialect::Postgres,
                "statement_timeout",
                Number("5".into()),
                "statement_timeout=",
            ),
            (
                SettingsDialect::Redshift,
                "DateStyle",
                Text("SQL".into()),
                "ISO",
            ),
            (
                SettingsDialect::Postgres,
                "default_transaction_read_only",
                Bool(true),
                "read_only=True",
            ),
            (
                SettingsDialect::MySql,
                "time_zone",
                Text("+05:00".into()),
                "UTC",
            ),
            (
                SettingsDialect::MySql,
                "autocommit",
                Bool(false),
                "transaction",
            ),
            (
                SettingsDialect::MySql,
                "sql_mode",
                Text("STRICT_ALL_TABLES, ansi_quotes".into()),
                "ANSI_QUOTES",
            ),
            (
                SettingsDialect::MySql,
                "sql_mode",
                Text("NO_BACKSLASH_ESCAPES".into()),
                "NO_BACKSLASH_ESCAPES",
            ),
            (
                SettingsDialect::Postgres,
                "search_path",
                Text("a\0b".into()),
                "NUL",
            ),
            (SettingsDialect::MySql, "x", Number("nan".into()), "finite"),
        ];
        for (d, name, value, needle) in cases {
            let e = s(*d, &[(name, value.clone())]).unwrap_err();
            assert_eq!(e.kind, crate::ErrorKind::Config, "{name}");
            assert!(e.message.contains(needle), "{name}: {}", e.message);
        }
        let e = s(
            SettingsDialect::Postgres,
            &[
                ("work_mem", Text("1MB".into())),
                ("WORK_MEM", Text("2MB".into())),
            ],
        )
        .unwrap_err();
        assert!(e.message.contains("twice"), "{}", e.message);
    }
}
