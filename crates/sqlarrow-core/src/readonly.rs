//! Read-only mode, layer 2: SQL validation with a real parser (`sqlparser`).
//!
//! Only one read statement passes: `SELECT`/`VALUES`/`TABLE`, `WITH … SELECT` without
//! data-modifying CTEs, `EXPLAIN` of those (never `EXPLAIN ANALYZE`, which runs the
//! statement) and `SHOW`/`DESCRIBE`. Everything else is refused with a
//! [`ErrorKind::ReadOnly`] error naming the reason: several statements, DML/DDL,
//! `COPY`, `SELECT … INTO`, `FOR UPDATE/SHARE`, `INTO OUTFILE/DUMPFILE`, functions
//! with side effects (file access, sleeping, sequences, settings, dblink, …), `SET`,
//! transaction control, `CALL`, `DO`, and SQL the parser does not understand.
//!
//! The check is deliberately conservative (a deny-list of words on the token level on
//! top of the statement allow-list): a refused harmless query is a nuisance, a passed
//! write is a breach. It is one layer of three: the session is read-only too
//! (layer one) and the database role should have no write privileges (layer three,
//! see `docs/read-only.md`).

use std::ops::ControlFlow;

use sqlparser::ast::{
    Expr, ObjectName, Query, Select, SetExpr, Statement, TableFactor, Visit, Visitor,
};
use sqlparser::dialect::{Dialect, MySqlDialect, PostgreSqlDialect, SQLiteDialect};
use sqlparser::parser::Parser;
use sqlparser::tokenizer::{Token, Tokenizer, Whitespace};

use crate::error::{Error, ErrorKind, Result};

/// The SQL dialect to validate with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SqlDialect {
    Postgres,
    MySql,
    Sqlite,
}

impl SqlDialect {
    pub(crate) fn parser_dialect(self) -> Box<dyn Dialect> {
        match self {
            SqlDialect::Postgres => Box::new(PostgreSqlDialect {}),
            SqlDialect::MySql => Box::new(MySqlDialect {}),
            SqlDialect::Sqlite => Box::new(SQLiteDialect {}),
        }
    }

    /// The dialect of an engine name (`postgres`, `redshift`, `mysql`, `sqlite`).
    pub fn for_engine(engine: &str) -> SqlDialect {
        match engine {
            "mysql" => SqlDialect::MySql,
            "sqlite" => SqlDialect::Sqlite,
            _ => SqlDialect::Postgres,
        }
    }
}

/// Words refused anywhere in a read-only statement (identifiers and keywords, quoted or
/// not, compared case-insensitively): functions with side effects or file access, and
/// the clauses that turn a SELECT into a write.
const DENIED_WORDS: &[&str] = &[
    // SELECT ... INTO table / INTO OUTFILE / INTO DUMPFILE / INTO @var
    "into",
    "outfile",
    "dumpfile",
    // MySQL `LOCK IN SHARE MODE` (`FOR UPDATE/SHARE` is checked on the syntax tree)
    "lock",
    // PostgreSQL: files, large objects, other servers, sleeping, settings, sequences,
    // backends, locks, notifications, WAL, SQL executed from strings.
    "pg_read_file",
    "pg_read_binary_file",
    "pg_ls_dir",
    "pg_stat_file",
    "pg_ls_logdir",
    "pg_ls_waldir",
    "pg_ls_tmpdir",
    "pg_ls_archive_statusdir",
    "pg_file_write",
    "pg_file_rename",
    "pg_file_unlink",
    "pg_file_sync",
    "lo_import",
    "lo_export",
    "lo_create",
    "lo_creat",
    "lo_unlink",
    "lo_put",
    "lo_from_bytea",
    "lo_truncate",
    "lowrite",
    "lo_open",
    "pg_sleep",
    "pg_sleep_for",
    "pg_sleep_until",
    "set_config",
    "nextval",
    "setval",
    "lastval",
    "pg_terminate_backend",
    "pg_cancel_backend",
    "pg_reload_conf",
    "pg_rotate_logfile",
    "pg_notify",
    "pg_logical_emit_message",
    "pg_switch_wal",
    "pg_create_restore_point",
    "pg_promote",
    "pg_create_logical_replication_slot",
    "pg_create_physical_replication_slot",
    "pg_drop_replication_slot",
    "pg_replication_origin_create",
    "pg_stat_reset",
    "pg_stat_statements_reset",
    "pg_import_system_collations",
    "txid_current",
    "pg_current_xact_id",
    "query_to_xml",
    "query_to_xml_and_xmlschema",
    "query_to_xmlschema",
    "cursor_to_xml",
    "table_to_xml",
    "table_to_xml_and_xmlschema",
    "database_to_xml",
    "schema_to_xml",
    "xpath_table",
    "crosstab",
    "crosstab2",
    "crosstab3",
    "crosstab4",
    "connectby",
    "pg_execute_server_program",
    // MySQL / MariaDB
    "load_file",
    "sleep",
    "benchmark",
    "get_lock",
    "release_lock",
    "release_all_locks",
    "is_free_lock",
    "master_pos_wait",
    "source_pos_wait",
    "master_gtid_wait",
    "sys_exec",
    "sys_eval",
    "sql_no_cache_write",
    // SQLite
    "load_extension",
    "readfile",
    "writefile",
    "edit",
    "fts3_tokenizer",
];

/// Prefixes of denied function names (`dblink`, `dblink_exec`, `pg_advisory_lock`, ...).
const DENIED_PREFIXES: &[&str] = &[
    "dblink",
    "pg_advisory",
    "pg_try_advisory",
    "lo_",
    "pg_file_",
];

fn denied_word(word: &str) -> bool {
    let w = word.to_lowercase();
    DENIED_WORDS.contains(&w.as_str()) || DENIED_PREFIXES.iter().any(|p| w.starts_with(p))
}

fn refuse(reason: impl Into<String>) -> Error {
    Error::new(
        ErrorKind::ReadOnly,
        format!("read-only mode refused the statement: {}", reason.into()),
    )
    .transient(false)
    .with_detail("reason", "read_only")
}

/// The first word of a statement's debug form, e.g. `Insert`, `CreateTable`.
fn statement_kind(stmt: &Statement) -> String {
    let dbg = format!("{stmt:?}");
    dbg.split(|c: char| !c.is_alphanumeric())
        .next()
        .unwrap_or("statement")
        .to_string()
}

/// The checks every statement text of `engine` (`postgres`, `redshift`, `mysql`,
/// `sqlite`) passes before it runs, on a connector or in its transactions: in read-only
/// mode that it is one read (which refuses an empty text too), and that it holds a
/// statement at all.
pub fn check_statement_text(
    sql: &str,
    engine: &str,
    read_only: bool,
    in_transaction: bool,
) -> Result<()> {
    if read_only {
        check_read_only(sql, SqlDialect::for_engine(engine))?;
    }
    let lexicon = crate::params::Lexicon::for_engine_or_postgres(engine);
    crate::params::check_has_statement(sql, lexicon)?;
    check_transaction_control(sql, lexicon, in_transaction)?;
    match lexicon {
        crate::params::Lexicon::Postgres => check_copy_stdio(sql)?,
        crate::params::Lexicon::MySql => check_load_local(sql)?,
        _ => {}
    }
    Ok(())
}

/// Refuse MySQL's `LOAD DATA LOCAL INFILE` / `LOAD XML LOCAL INFILE` as statement text:
/// sqlarrow sends no client file for a statement (the server names the file, and a
/// hostile server could ask for any), so it failed mid-statement with a
/// "handler is not specified" error that also dropped the connection and with it an
/// open transaction.
pub fn check_load_local(sql: &str) -> Result<()> {
    let heads = crate::params::statement_heads(sql, crate::params::Lexicon::MySql);
    if heads
        .iter()
        .any(|h| h[0] == "LOAD" && h[1..].iter().any(|w| w == "LOCAL"))
    {
        return Err(Error::interface(
            "`LOAD DATA LOCAL INFILE` cannot run as statement text: sqlarrow sends no \
             client file for a statement; load Arrow data with write(table, data) (which \
             streams it through LOAD DATA LOCAL from memory), or LOAD DATA INFILE a file \
             on the server",
        )
        .transient(false));
    }
    Ok(())
}

/// Refuse PostgreSQL's `COPY ... TO STDOUT` and `COPY ... FROM STDIN` as statement
/// text: their data flows in a sub-protocol of its own, which the server starts
/// unasked; the connection was then lost, with a transient "unexpected message"
/// error that retries repeated. sqlarrow runs COPY itself where it helps.
pub fn check_copy_stdio(sql: &str) -> Result<()> {
    if !sql
        .as_bytes()
        .windows(4)
        .any(|w| w.eq_ignore_ascii_case(b"copy"))
    {
        return Ok(());
    }
    let statements =
        crate::params::statement_words(sql, crate::params::Lexicon::Postgres, usize::MAX);
    for words in statements.iter().filter(|w| w[0] == "COPY") {
        let (dir, data) = if words.iter().any(|w| w == "STDOUT") {
            ("TO STDOUT", "read rows with query(\"SELECT ...\") (sqlarrow reads them through binary COPY already)")
        } else if words.iter().any(|w| w == "STDIN") {
            ("FROM STDIN", "load rows with write(table, arrow_data) (sqlarrow loads them through binary COPY already)")
        } else {
            continue;
        };
        return Err(Error::interface(format!(
            "`COPY ... {dir}` cannot run as statement text: its data travels in COPY's own \
             exchange, not as rows or parameters; {data}, or COPY to or from a file on the \
             server"
        ))
        .transient(false));
    }
    Ok(())
}

/// Refuse transaction control that would outlive the call or undercut a transaction
/// object. A connector runs each call on whichever pooled connection is free: a `BEGIN`
/// through `execute` left its connection inside a transaction that later calls might
/// or might not run in (their rows invisible to others, and lost at close), and a
/// later `COMMIT` went to another connection. Inside a [`crate::Transaction`], a
/// `COMMIT` or `BEGIN` ended the transaction behind its back. A text that opens and
/// then ends its own transaction (`BEGIN; ...; COMMIT`) is fine, as are savepoints
/// inside a transaction object.
pub fn check_transaction_control(
    sql: &str,
    lexicon: crate::params::Lexicon,
    in_transaction: bool,
) -> Result<()> {
    use crate::params::Lexicon;
    let heads = crate::params::statement_heads(sql, lexicon);
    fn word(h: &[String], k: usize) -> &str {
        h.get(k).map_or("", String::as_str)
    }
    // MariaDB's `BEGIN NOT ATOMIC ... END` is a compound statement, not a transaction.
    let opens = |h: &[String]| match word(h, 0) {
        "BEGIN" => word(h, 1) != "NOT",
        "START" => word(h, 1) == "TRANSACTION",
        _ => false,
    };
    let to_savepoint = |h: &[String]| h[1..].iter().take(2).any(|w| w == "TO");
    // PostgreSQL's COMMIT/ROLLBACK PREPARED finish a prepared transaction on their own.
    let ends = |h: &[String]| match word(h, 0) {
        "COMMIT" | "ABORT" => word(h, 1) != "PREPARED",
        "ROLLBACK" => word(h, 1) != "PREPARED" && !to_savepoint(h),
        "END" => true,
        "PREPARE" => word(h, 1) == "TRANSACTION",
        _ => false,
    };
    let savepoint = |h: &[String]| {
        matches!(word(h, 0), "SAVEPOINT" | "RELEASE")
            || (word(h, 0) == "ROLLBACK" && to_savepoint(h))
    };
    let autocommit = |h: &[String]| {
        lexicon == Lexicon::MySql && word(h, 0) == "SET" && h.iter().any(|w| w == "AUTOCOMMIT")
    };
    let named = |h: &[String]| {
        let n = if opens(h) || word(h, 0) == "PREPARE" || word(h, 0) == "SET" {
            2
        } else {
            1
        };
        h.iter().take(n).cloned().collect::<Vec<_>>().join(" ")
    };
    let refuse = |msg: String| Err(Error::interface(msg).transient(false));
    let use_tx = "use `with conn.transaction() as tx:` (tx.query, tx.execute and tx.write run \
                  on the transaction's one connection, and it commits when the block ends)";
    if in_transaction {
        for (k, h) in heads.iter().enumerate() {
            // A trigger's or procedure's body can end in an `END` statement head.
            let ending = ends(h) && (word(h, 0) != "END" || k == 0);
            if opens(h) || ending || autocommit(h) {
                return refuse(format!(
                    "`{}` inside a sqlarrow transaction would end or restart it behind its \
                     back: use tx.commit() or tx.rollback() (or leave the `with` block); \
                     savepoints (SAVEPOINT, RELEASE, ROLLBACK TO) are fine",
                    named(h)
                ));
            }
        }
        return Ok(());
    }
    let mut open = false;
    for (k, h) in heads.iter().enumerate() {
        if autocommit(h) {
            return refuse(format!(
                "`{}` would change the session of one pooled connection for later calls, \
                 which run on whichever connection is free; for a transaction, {use_tx}",
                named(h)
            ));
        }
        if opens(h) {
            open = true;
        } else if ends(h) || savepoint(h) {
            if k == 0 && !open && word(h, 0) != "END" {
                return refuse(format!(
                    "`{}` has no transaction of this call to act on: each call runs on \
                     whichever pooled connection is free, so a transaction cannot span \
                     calls; {use_tx}",
                    named(h)
                ));
            }
            if ends(h) {
                open = false;
            }
        }
    }
    if open {
        return refuse(format!(
            "`{}` would leave a transaction open on one pooled connection, and later \
             calls run on whichever connection is free; {use_tx}",
            heads
                .iter()
                .rev()
                .find(|h| opens(h))
                .map(|h| named(h))
                .unwrap_or_default()
        ));
    }
    Ok(())
}

/// Check that `sql` is one read statement; `Err(ReadOnly)` names why it is not.
pub fn check_read_only(sql: &str, dialect: SqlDialect) -> Result<()> {
    if sql.contains('\0') {
        return Err(refuse("the statement contains a NUL character"));
    }
    if dialect == SqlDialect::MySql && (sql.contains("/*!") || sql.contains("/*M!")) {
        return Err(refuse(
            "MySQL executable comments (/*! ... */) are not allowed",
        ));
    }
    if dialect == SqlDialect::MySql && sql.contains('\\') {
        // Whether a backslash escapes a quote depends on the server's sql_mode
        // (NO_BACKSLASH_ESCAPES): refuse rather than guess where a string ends.
        return Err(refuse(
            "backslashes are ambiguous in MySQL (NO_BACKSLASH_ESCAPES); bind the value as a parameter",
        ));
    }
    let d = dialect.parser_dialect();
    let tokens = Tokenizer::new(d.as_ref(), sql)
        .tokenize()
        .map_err(|e| refuse(format!("the SQL could not be tokenized ({e})")))?;
    for token in &tokens {
        match token {
            Token::Word(w) if denied_word(&w.value) => {
                let what = w.value.to_lowercase();
                let reason = match what.as_str() {
                    "into" => "SELECT ... INTO and INSERT INTO write data".to_string(),
                    "outfile" | "dumpfile" => "INTO OUTFILE/DUMPFILE writes files".to_string(),
                    "lock" => "locking clauses are not allowed".to_string(),
                    _ => format!("{what} has side effects or reads server files"),
                };
                return Err(refuse(reason));
            }
            Token::Whitespace(Whitespace::SingleLineComment { comment, prefix })
                if dialect == SqlDialect::MySql
                    && prefix == "--"
                    && comment.chars().next().is_some_and(|c| !c.is_whitespace()) =>
            {
                // MySQL needs whitespace after `--`: `--x` is not a comment there.
                return Err(refuse("'--' not followed by a space is ambiguous in MySQL"));
            }
            Token::Word(w) if w.quote_style.is_none() && !w.value.is_ascii() => {
                return Err(refuse(
                    "unquoted non-ASCII words are not allowed (look-alike characters)",
                ));
            }
            Token::Char(c) if !c.is_ascii() => {
                return Err(refuse(format!(
                    "the character U+{:04X} is not allowed outside quotes",
                    *c as u32
                )));
            }
            t if dialect == SqlDialect::MySql => {
                let text = t.to_string();
                if text.starts_with('@') || text == ":=" {
                    return Err(refuse("user variables and assignments are not allowed"));
                }
            }
            _ => {}
        }
    }
    let statements = Parser::parse_sql(d.as_ref(), sql)
        .map_err(|e| refuse(format!("the SQL could not be parsed ({e})")))?;
    match statements.as_slice() {
        [] => Err(refuse("no statement")),
        [one] => check_statement(one, true),
        many => Err(refuse(format!(
            "{} statements were given; only one is allowed",
            many.len()
        ))),
    }
}

fn check_statement(stmt: &Statement, top: bool) -> Result<()> {
    match stmt {
        Statement::Query(q) => check_query(q),
        Statement::Explain {
            analyze,
            statement,
            options,
            ..
        } if top => {
            let analyze_option = options.as_ref().is_some_and(|opts| {
                opts.iter()
                    .any(|o| o.name.value.eq_ignore_ascii_case("analyze"))
            });
            if *analyze || analyze_option {
                return Err(refuse("EXPLAIN ANALYZE runs the statement"));
            }
            check_statement(statement, false)
        }
        Statement::ExplainTable { .. } if top => Ok(()),
        other => {
            let kind = statement_kind(other);
            if top && kind.starts_with("Show") {
                return Ok(());
            }
            Err(refuse(format!("{kind} statements are not allowed")))
        }
    }
}

struct ReadVisitor;

impl Visitor for ReadVisitor {
    type Break = Error;

    fn pre_visit_statement(&mut self, stmt: &Statement) -> ControlFlow<Error> {
        match stmt {
            Statement::Query(_) => ControlFlow::Continue(()),
            other => ControlFlow::Break(refuse(format!(
                "{} inside a query (data-modifying CTE or subquery) is not allowed",
                statement_kind(other)
            ))),
        }
    }

    fn pre_visit_query(&mut self, q: &Query) -> ControlFlow<Error> {
        if !q.locks.is_empty() {
            return ControlFlow::Break(refuse("SELECT ... FOR UPDATE/SHARE takes row locks"));
        }
        if let Err(e) = check_set_expr(&q.body) {
            return ControlFlow::Break(e);
        }
        ControlFlow::Continue(())
    }

    fn pre_visit_select(&mut self, s: &Select) -> ControlFlow<Error> {
        if s.into.is_some() {
            return ControlFlow::Break(refuse("SELECT ... INTO creates a table"));
        }
        ControlFlow::Continue(())
    }

    fn pre_visit_relation(&mut self, name: &ObjectName) -> ControlFlow<Error> {
        check_name(name)
    }

    fn pre_visit_table_factor(&mut self, tf: &TableFactor) -> ControlFlow<Error> {
        if let TableFactor::Function { name, .. } = tf {
            return check_name(name);
        }
        ControlFlow::Continue(())
    }

    fn pre_visit_expr(&mut self, e: &Expr) -> ControlFlow<Error> {
        if let Expr::Function(f) = e {
            return check_name(&f.name);
        }
        ControlFlow::Continue(())
    }
}

fn check_name(name: &ObjectName) -> ControlFlow<Error> {
    let text = name.to_string();
    let last = text
        .rsplit('.')
        .next()
        .unwrap_or("")
        .trim_matches(|c| c == '"' || c == '`' || c == '[' || c == ']');
    if denied_word(last) {
        return ControlFlow::Break(refuse(format!(
            "{} has side effects or reads server files",
            last.to_lowercase()
        )));
    }
    ControlFlow::Continue(())
}

fn check_set_expr(body: &SetExpr) -> Result<()> {
    match body {
        SetExpr::Select(_) | SetExpr::Query(_) | SetExpr::Values(_) | SetExpr::Table(_) => Ok(()),
        SetExpr::SetOperation { left, right, .. } => {
            check_set_expr(left)?;
            check_set_expr(right)
        }
        other => {
            let dbg = format!("{other:?}");
            let kind = dbg
                .split(|c: char| !c.is_alphanumeric())
                .next()
                .unwrap_or("statement");
            Err(refuse(format!("{kind} inside a query is not allowed")))
        }
    }
}

fn check_query(q: &Query) -> Result<()> {
    match q.visit(&mut ReadVisitor) {
        ControlFlow::Break(e) => Err(e),
        ControlFlow::Continue(()) => Ok(()),
    }
}

/// Whether `sql` is one read statement (for retry decisions: only reads are retried).
pub fn is_read_statement(sql: &str, dialect: SqlDialect) -> bool {
    check_read_only(sql, dialect).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn load_data_local_is_refused() {
        for sql in [
            "load data local infile '/etc/passwd' into table t",
            "LOAD DATA LOW_PRIORITY LOCAL INFILE 'x' INTO TABLE t",
            "select 1; load xml local infile 'x' into table t",
        ] {
            let e = check_load_local(sql).unwrap_err();
            assert!(e.message.contains("write(table, data)"), "{}", e.message);
        }
        for sql in [
            "load data infile '/srv/x' into table t",
            "select 'load data local'",
        ] {
            assert!(check_load_local(sql).is_ok(), "{sql}");
        }
    }

    #[test]
    fn copy_through_stdio_is_refused() {
        for sql in [
            "copy t to stdout",
            "COPY (select a, b, c, d from t where x > 1) TO STDOUT WITH (FORMAT csv)",
            "select 1; copy t from stdin",
        ] {
            let e = check_copy_stdio(sql).unwrap_err();
            assert_eq!(e.kind, ErrorKind::Interface, "{sql}");
            assert!(
                e.message.contains("cannot run as statement text"),
                "{}",
                e.message
            );
        }
        for sql in [
            "copy t to '/tmp/x'",
            "copy t from program 'cat'",
            "select 'copy t to stdout'",
            "select stdout from copy",
            "select 1",
        ] {
            assert!(check_copy_stdio(sql).is_ok(), "{sql}");
        }
    }

    #[test]
    fn transaction_control_that_outlives_a_call_is_refused() {
        use crate::params::Lexicon::{MySql, Postgres, Sqlite};
        let passes = |sql: &str, lex, in_tx| {
            if let Err(e) = check_transaction_control(sql, lex, in_tx) {
                panic!("{sql:?} (in a transaction: {in_tx}) was refused: {e}");
            }
        };
        let refused =
            |sql: &str, lex, in_tx, says: &str| match check_transaction_control(sql, lex, in_tx) {
                Ok(()) => panic!("{sql:?} (in a transaction: {in_tx}) passed"),
                Err(e) => {
                    assert_eq!(e.kind, ErrorKind::Interface, "{sql}");
                    assert!(e.message.contains(says), "{sql}: {}", e.message);
                }
            };
        for (sql, lex) in [
            ("select 1", Postgres),
            ("begin; insert into t values (1); commit", Postgres),
            ("BEGIN TRANSACTION; insert into t values (1); END TRANSACTION;", Sqlite),
            ("start transaction; insert into t values (1); rollback", MySql),
            ("create trigger tr after insert on t begin insert into u values (1); end", Sqlite),
            ("do $$ begin commit; end $$", Postgres),
            ("do $x$ begin perform 1; end $x$; select 'a'", Postgres),
            ("create function f() returns int language sql begin atomic select 1; end", Postgres),
            (
                "create procedure p() begin start transaction; insert into t values (1); commit; end",
                MySql,
            ),
            ("begin not atomic select 1; end", MySql),
            ("commit prepared 'x'", Postgres),
            ("rollback prepared 'x'", Postgres),
            ("select 'begin'; select \"commit\"", Postgres),
            ("select 'it''s; begin'", Sqlite),
            ("select E'it\\'s; begin'", Postgres),
            ("select 'it\\'s; begin', \"a\\\"; commit\"", MySql),
            ("select 1 -- ; begin", Postgres),
            ("select 1 # ; begin", MySql),
            ("select [begin; x] from t", Sqlite),
            ("select 1 /* ; begin */", Postgres),
            ("end", Postgres),
            ("set search_path = x", Postgres),
        ] {
            passes(sql, lex, false);
        }
        for (sql, lex, says) in [
            ("begin", Postgres, "`BEGIN` would leave a transaction open"),
            ("  /* hi */ BEGIN WORK", MySql, "`BEGIN WORK`"),
            ("start transaction read only", MySql, "`START TRANSACTION`"),
            ("begin immediate", Sqlite, "`BEGIN IMMEDIATE`"),
            (
                "insert into t values (1); begin",
                Postgres,
                "leave a transaction open",
            ),
            ("begin; commit; begin", Postgres, "leave a transaction open"),
            (
                "commit",
                Postgres,
                "`COMMIT` has no transaction of this call",
            ),
            ("ROLLBACK", Sqlite, "`ROLLBACK` has no transaction"),
            ("savepoint a", Postgres, "`SAVEPOINT` has no transaction"),
            (
                "rollback to savepoint a",
                MySql,
                "no transaction of this call",
            ),
            (
                "prepare transaction 'x'",
                Postgres,
                "`PREPARE TRANSACTION` has no",
            ),
            (
                "set autocommit = 0",
                MySql,
                "`SET AUTOCOMMIT` would change the session",
            ),
            ("SET @@session.autocommit=OFF", MySql, "change the session"),
        ] {
            refused(sql, lex, false, says);
            assert!(
                check_transaction_control(sql, lex, false)
                    .unwrap_err()
                    .message
                    .contains("conn.transaction()"),
                "{sql}"
            );
        }
        for (sql, lex) in [
            ("savepoint a", Postgres),
            ("rollback to savepoint a", Postgres),
            ("ROLLBACK WORK TO SAVEPOINT a", MySql),
            ("release savepoint a", Sqlite),
            (
                "create trigger tr after insert on t begin insert into u values (1); end",
                Sqlite,
            ),
            ("insert into t values (1)", MySql),
        ] {
            passes(sql, lex, true);
        }
        for (sql, lex) in [
            ("commit", Postgres),
            ("begin", Sqlite),
            ("rollback", MySql),
            ("end", Postgres),
            ("start transaction", MySql),
            ("select 1; commit", Postgres),
            ("abort", Postgres),
            ("set autocommit = 1", MySql),
        ] {
            refused(sql, lex, true, "tx.commit() or tx.rollback()");
        }
    }

    fn ok(sql: &str, d: SqlDialect) {
        if let Err(e) = check_read_only(sql, d) {
            panic!("{sql:?} was refused: {e}");
        }
    }

    fn refused(sql: &str, d: SqlDialect) {
        match check_read_only(sql, d) {
            Ok(()) => panic!("{sql:?} passed"),
            Err(e) => assert_eq!(e.kind, ErrorKind::ReadOnly, "{sql}"),
        }
    }

    #[test]
    fn reads_pass() {
        use SqlDialect::*;
        for d in [Postgres, MySql, Sqlite] {
            ok("select 1", d);
            ok(
                "SELECT a, count(*) FROM t WHERE b = 'x; delete from t' GROUP BY a;",
                d,
            );
            ok("with x as (select 1 as a) select * from x", d);
            ok("select * from t1 union all select * from t2", d);
            ok("select (select max(a) from t) as m", d);
            ok("EXPLAIN SELECT * FROM t", d);
        }
        ok("values (1), (2)", Postgres);
        ok("show search_path", Postgres);
        ok("SHOW TABLES", MySql);
        ok("select * from t -- trailing comment", Postgres);
        ok("select /* c */ 1", MySql);
    }

    #[test]
    fn writes_refused() {
        use SqlDialect::*;
        for d in [Postgres, MySql, Sqlite] {
            refused("insert into t values (1)", d);
            refused("update t set a = 1", d);
            refused("delete from t", d);
            refused("drop table t", d);
            refused("create table x (a int)", d);
            refused("select 1; delete from t", d);
            refused("select * from t for update", d);
            refused("", d);
            refused("selec 1", d);
        }
        refused(
            "with d as (delete from t returning *) select * from d",
            Postgres,
        );
        refused("select * into newt from t", Postgres);
        refused("explain analyze delete from t", Postgres);
        refused("explain (analyze) select 1", Postgres);
        refused("explain delete from t", Postgres);
        refused("copy t to program 'rm -rf /'", Postgres);
        refused("select pg_sleep(10)", Postgres);
        refused("select * from pg_catalog.pg_ls_dir('.')", Postgres);
        refused("select \"PG_READ_FILE\"('/etc/passwd')", Postgres);
        refused("select set_config('x', 'y', false)", Postgres);
        refused("select nextval('s')", Postgres);
        refused("set x = 1", Postgres);
        refused("begin", Postgres);
        refused("do $$ begin delete from t; end $$", Postgres);
        refused("call p()", Postgres);
        refused("select * from t into outfile '/tmp/x'", MySql);
        refused("select load_file('/etc/passwd')", MySql);
        refused("select 1 /*!, sleep(5) */", MySql);
        refused("select 1 --x; delete from t", MySql);
        refused("select * from t lock in share mode", MySql);
        refused("attach database 'x.db' as x", Sqlite);
        refused("pragma writable_schema = on", Sqlite);
    }
}
