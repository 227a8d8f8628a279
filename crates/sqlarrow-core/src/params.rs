//! Named-parameter rewriting: `:name` markers become the engine's native markers.
//!
//! A small lexer walks the SQL text and only rewrites markers that sit in code, never
//! inside string literals (`'...'`, `E'...'`, dollar-quoted `$tag$...$tag$`), quoted
//! identifiers (`"..."`, `` `...` ``, `[...]`), comments (`-- ...`, `/* ... */`, MySQL's
//! `# ...`), or PostgreSQL casts (`::type`). Each engine's own rules for where those end
//! apply ([`Lexicon`]): MySQL's backslash escapes, which engines nest block comments.
//! Values are never interpolated: only markers change.

use crate::error::{Error, Result};

/// How an engine spells positional markers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MarkerStyle {
    /// `$1`, `$2`, ... (PostgreSQL, Redshift); a repeated name reuses its number.
    Dollar,
    /// `?` (SQLite, MySQL); a repeated name is bound again at each occurrence.
    Question,
    /// `@P1`, `@P2`, ... (SQL Server); a repeated name reuses its number.
    AtP,
}

/// The lexical rules of an engine's SQL text, as far as finding markers needs them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lexicon {
    /// PostgreSQL and Redshift: `$n` markers, dollar quoting, backslash escapes only in
    /// `E'...'`, nested block comments.
    Postgres,
    /// MySQL and MariaDB: `?` markers; a backslash escapes the next character in `'...'`
    /// and `"..."` strings (the default `sql_mode`, without `NO_BACKSLASH_ESCAPES`);
    /// `#` starts a line comment; block comments do not nest.
    MySql,
    /// SQLite: `?` markers, no backslash escapes, `[...]` identifiers, block comments do
    /// not nest.
    Sqlite,
    /// SQL Server: `@Pn` markers, `[...]` identifiers, nested block comments.
    MsSql,
}

impl Lexicon {
    /// The lexicon of an engine name (`postgres`, `postgresql`, `redshift`, `mysql`,
    /// `mariadb`, `sqlite`, `mssql`).
    pub fn for_engine(engine: &str) -> Option<Lexicon> {
        Some(match engine {
            "postgres" | "postgresql" | "redshift" => Lexicon::Postgres,
            "mysql" | "mariadb" => Lexicon::MySql,
            "sqlite" => Lexicon::Sqlite,
            "mssql" => Lexicon::MsSql,
            _ => return None,
        })
    }

    /// [`Lexicon::for_engine`], with PostgreSQL's rules for a name it does not know.
    pub fn for_engine_or_postgres(engine: &str) -> Lexicon {
        Lexicon::for_engine(engine).unwrap_or(Lexicon::Postgres)
    }

    /// How this engine spells positional markers.
    pub fn markers(self) -> MarkerStyle {
        match self {
            Lexicon::Postgres => MarkerStyle::Dollar,
            Lexicon::MySql | Lexicon::Sqlite => MarkerStyle::Question,
            Lexicon::MsSql => MarkerStyle::AtP,
        }
    }

    fn nested_comments(self) -> bool {
        matches!(self, Lexicon::Postgres | Lexicon::MsSql)
    }

    fn brackets(self) -> bool {
        matches!(self, Lexicon::Sqlite | Lexicon::MsSql)
    }
}

/// The rewritten SQL and, for each native marker position, the parameter name bound there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rewritten {
    pub sql: String,
    /// For `Dollar`/`AtP`: distinct names in marker-number order.
    /// For `Question`: one entry per `?`, in text order (names may repeat).
    pub names: Vec<String>,
    /// The highest native `$N` marker already in the text (Dollar style), or the
    /// number of `?` markers (Question style), counted only in code.
    pub positional: usize,
    /// Names given as empty lists that filled an `IN (...)` list (with `NULL`): used,
    /// though bound nowhere.
    pub empty_lists: Vec<String>,
}

fn is_ident_start(c: char) -> bool {
    c.is_alphabetic() || c == '_'
}

fn is_ident_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// Rewrite `:name` markers in `sql` to the native markers of `lexicon`'s engine.
///
/// Fails with a `ParameterError` when the text has an unterminated string, quoted
/// identifier or comment (the caller's SQL would be rejected by the server anyway, and
/// guessing where it ends could rewrite the wrong thing).
pub fn rewrite_named(sql: &str, lexicon: Lexicon) -> Result<Rewritten> {
    rewrite_named_lists(sql, lexicon, &|_| None)
}

/// The name bound at the `index`-th place of an expanded `IN (:name)` list, as it
/// appears in [`Rewritten::names`]: `name[index]` (a name is an identifier, so it
/// never holds `[` itself).
pub fn list_item_name(name: &str, index: usize) -> String {
    format!("{name}[{index}]")
}

/// Split a name from [`Rewritten::names`] into the parameter's name and, for an item
/// of an expanded `IN (:name)` list, its index.
pub fn split_list_item(name: &str) -> (&str, Option<usize>) {
    match name.strip_suffix(']').and_then(|n| n.split_once('[')) {
        Some((base, idx)) => match idx.parse() {
            Ok(i) => (base, Some(i)),
            Err(_) => (name, None),
        },
        None => (name, None),
    }
}

/// [`rewrite_named`], expanding list parameters written as the whole of an `IN` list.
///
/// `list_len(name)` is the length of the value given for `:name` when that value is a
/// list, else `None`. A marker that is alone between the parentheses of `IN (...)` or
/// `NOT IN (...)` and names a list becomes one marker per item (bound to the names of
/// [`list_item_name`]): `id IN (:ids)` with three ids runs as `id IN ($1, $2, $3)`.
/// An empty list matches nothing: `IN (:ids)` becomes `IN (NULL)`. An empty list after
/// `NOT IN` is a `ParameterError`, because no SQL list is empty and `NOT IN (NULL)` is
/// never true. Elsewhere a list is one value (a PostgreSQL array, or JSON).
pub fn rewrite_named_lists(
    sql: &str,
    lexicon: Lexicon,
    list_len: &dyn Fn(&str) -> Option<usize>,
) -> Result<Rewritten> {
    let style = lexicon.markers();
    let mysql = lexicon == Lexicon::MySql;
    let chars: Vec<(usize, char)> = sql.char_indices().collect();
    let n = chars.len();
    let mut out = String::with_capacity(sql.len() + 8);
    let mut names: Vec<String> = Vec::new();
    let mut positional = 0usize;
    let mut empty_lists = Vec::new();
    let mut numbered = Numbered::new();
    let mut i = 0;
    let at = |k: usize| chars.get(k).map(|&(_, c)| c);
    let byte_at = |k: usize| chars.get(k).map(|&(b, _)| b).unwrap_or(sql.len());

    while i < n {
        let c = chars[i].1;
        if matches!(c, '-' | '#' | '/') {
            let start = byte_at(i);
            if let Some(end) = comment_end(sql.as_bytes(), start, lexicon) {
                let end = end.map_err(|()| unterminated("block comment", sql, start))?;
                out.push_str(&sql[start..end]);
                while i < n && byte_at(i) < end {
                    i += 1;
                }
                continue;
            }
        }
        match c {
            '\'' => {
                // Standard string; PostgreSQL E'' strings and every MySQL string also
                // honour backslash escapes.
                let escapes = mysql
                    || (i > 0
                        && matches!(at(i - 1), Some('e') | Some('E'))
                        && (i < 2 || !at(i - 2).is_some_and(is_ident_char)));
                let start = i;
                i += 1;
                loop {
                    match at(i) {
                        None => return Err(unterminated("string literal", sql, byte_at(start))),
                        Some('\\') if escapes => i += 2,
                        Some('\'') if at(i + 1) == Some('\'') => i += 2,
                        Some('\'') => {
                            i += 1;
                            break;
                        }
                        Some(_) => i += 1,
                    }
                }
                out.push_str(&sql[byte_at(start)..byte_at(i)]);
            }
            '"' | '`' => {
                // A quoted identifier; in MySQL `"..."` is a string, with backslash escapes.
                let (what, escapes) = if mysql && c == '"' {
                    ("string literal", true)
                } else {
                    ("quoted identifier", false)
                };
                let start = i;
                i += 1;
                loop {
                    match at(i) {
                        None => return Err(unterminated(what, sql, byte_at(start))),
                        Some('\\') if escapes => i += 2,
                        Some(q) if q == c && at(i + 1) == Some(c) => i += 2,
                        Some(q) if q == c => {
                            i += 1;
                            break;
                        }
                        Some(_) => i += 1,
                    }
                }
                out.push_str(&sql[byte_at(start)..byte_at(i)]);
            }
            '$' if style == MarkerStyle::Dollar => {
                // Dollar quoting: $$...$$ or $tag$...$tag$ (a tag does not start with a digit).
                let mut j = i + 1;
                while j < n && is_ident_char(chars[j].1) {
                    j += 1;
                }
                let tag_ok = at(j) == Some('$') && !at(i + 1).is_some_and(|c| c.is_ascii_digit());
                if tag_ok {
                    let tag = &sql[byte_at(i)..byte_at(j + 1)];
                    let body_start = byte_at(j + 1);
                    match sql[body_start..].find(tag) {
                        Some(rel) => {
                            let end = body_start + rel + tag.len();
                            out.push_str(&sql[byte_at(i)..end]);
                            while i < n && byte_at(i) < end {
                                i += 1;
                            }
                        }
                        None => return Err(unterminated("dollar-quoted string", sql, byte_at(i))),
                    }
                } else {
                    out.push('$');
                    i += 1;
                    let mut j = i;
                    let mut num = 0usize;
                    while j < n && chars[j].1.is_ascii_digit() {
                        num = num
                            .saturating_mul(10)
                            .saturating_add(chars[j].1 as usize - '0' as usize);
                        j += 1;
                    }
                    if j > i && !(i >= 2 && at(i - 2).is_some_and(is_ident_char)) {
                        positional = positional.max(num);
                    }
                }
            }
            ':' if at(i + 1) == Some(':') => {
                out.push_str("::");
                i += 2;
            }
            ':' if at(i + 1).is_some_and(is_ident_start)
                && !(i > 0 && at(i - 1).is_some_and(|p| is_ident_char(p) || p == ':')) =>
            {
                let mut j = i + 1;
                while j < n && is_ident_char(chars[j].1) {
                    j += 1;
                }
                let name = sql[byte_at(i + 1)..byte_at(j)].to_string();
                let closes = {
                    let mut k = j;
                    while at(k).is_some_and(char::is_whitespace) {
                        k += 1;
                    }
                    at(k) == Some(')')
                };
                let list = if closes {
                    in_list_context(&out).and_then(|not| list_len(&name).map(|n| (n, not)))
                } else {
                    None
                };
                match list {
                    None => push_marker(&mut out, &mut names, &mut numbered, style, name),
                    Some((0, false)) => {
                        out.push_str("NULL");
                        empty_lists.push(name);
                    }
                    Some((0, true)) => {
                        return Err(Error::parameter(format!(
                            "named parameter :{name} is an empty list after NOT IN; SQL has \
                             no empty list, and NOT IN (NULL) matches no row: leave the \
                             condition out when the list is empty"
                        )))
                    }
                    Some((n, _)) => {
                        for k in 0..n {
                            if k > 0 {
                                out.push_str(", ");
                            }
                            push_marker(
                                &mut out,
                                &mut names,
                                &mut numbered,
                                style,
                                list_item_name(&name, k),
                            );
                        }
                    }
                }
                i = j;
            }
            '[' if lexicon.brackets() => {
                let start = i;
                while i < n && chars[i].1 != ']' {
                    i += 1;
                }
                if i == n {
                    return Err(unterminated("bracketed identifier", sql, byte_at(start)));
                }
                i += 1;
                out.push_str(&sql[byte_at(start)..byte_at(i)]);
            }
            '?' if style == MarkerStyle::Question => {
                positional += 1;
                out.push(c);
                i += 1;
            }
            _ => {
                out.push(c);
                i += 1;
            }
        }
    }
    Ok(Rewritten {
        sql: out,
        names,
        positional,
        empty_lists,
    })
}

/// Refuse a text with no statement in it: empty, or only whitespace, comments (by
/// `lexicon`'s rules) and semicolons. Servers differ on such a text (PostgreSQL answers
/// with nothing, MySQL with "Query was empty", SQLite with "API misuse"), so sqlarrow
/// names the problem the same way on each.
pub fn check_has_statement(sql: &str, lexicon: Lexicon) -> Result<()> {
    let b = sql.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i].is_ascii_whitespace() || b[i] == b';' {
            i += 1;
            continue;
        }
        match comment_end(b, i, lexicon) {
            Some(Ok(end)) => i = end,
            // Code, or an unterminated comment (the server names that better).
            Some(Err(())) | None => return Ok(()),
        }
    }
    Err(Error::new(
        crate::error::ErrorKind::Query,
        "the SQL text holds no statement (it is empty, or only whitespace, comments and semicolons)",
    ))
}

/// Whether `sql` leaves state on its connection that outlives a transaction: session
/// settings (`SET` other than `SET LOCAL`/`SET TRANSACTION`/`SET CONSTRAINTS`, `RESET`,
/// MySQL's `USE`, `SET NAMES`, user variables), temporary tables, named prepared
/// statements, `LISTEN`, held cursors, loaded libraries. A pooled connection that ran
/// one inside a transaction is closed instead of being handed to the next caller.
pub fn changes_session(sql: &str, lexicon: Lexicon) -> bool {
    statement_heads(sql, lexicon).iter().any(|h| {
        let w = |i: usize| h.get(i).map(String::as_str).unwrap_or("");
        match w(0) {
            "SET" => !matches!(w(1), "LOCAL" | "TRANSACTION" | "CONSTRAINTS" | "CONSTRAINT"),
            "RESET" | "USE" | "LISTEN" | "PREPARE" | "DECLARE" | "ATTACH" | "PRAGMA" => true,
            // PostgreSQL's `LOAD 'library'`, not MySQL's `LOAD DATA` / `LOAD XML`.
            "LOAD" => !matches!(w(1), "DATA" | "XML"),
            "CREATE" => {
                matches!(w(1), "TEMP" | "TEMPORARY")
                    || (w(1) == "GLOBAL" || w(1) == "LOCAL") && matches!(w(2), "TEMP" | "TEMPORARY")
            }
            _ => false,
        }
    })
}

/// What a call that runs one statement says when given several.
pub const SEVERAL_STATEMENTS: &str = "several statements were given, and this call runs one: \
     run them one at a time (execute() without parameters runs a script of several)";

/// A server's error for a text of several statements where one statement runs (a
/// query, a stream, a statement with parameters) named as such. The servers said it
/// three ways: PostgreSQL "cannot insert multiple commands into a prepared statement",
/// MySQL a syntax error "near" the second statement, SQLite (rusqlite) "Multiple
/// statements provided". Compound bodies (`CREATE PROCEDURE ... BEGIN ...; END`,
/// `BEGIN NOT ATOMIC`), whose inner semicolons split them here too, are left as the
/// server named them.
pub fn name_several_statements(mut e: Error, sql: &str, lexicon: Lexicon) -> Error {
    use crate::error::ErrorKind;
    if !matches!(e.kind, ErrorKind::Syntax | ErrorKind::Query)
        || e.message.starts_with(SEVERAL_STATEMENTS)
    {
        return e;
    }
    let heads = statement_heads(sql, lexicon);
    let compound = heads
        .first()
        .and_then(|h| h.first())
        .is_some_and(|w| matches!(w.as_str(), "CREATE" | "BEGIN" | "DECLARE" | "DELIMITER"));
    if heads.len() < 2 || compound {
        return e;
    }
    e.kind = ErrorKind::Query;
    e.message = format!("{SEVERAL_STATEMENTS} (the server said: {})", e.message);
    e
}

/// The first words (up to four, upper-cased) of each statement in `sql`, the text cut
/// at semicolons outside strings, quoted names, comments (by `lexicon`'s rules) and
/// PostgreSQL's dollar quotes; statements without a word are left out. An unterminated
/// string or comment ends the scan there (the server names that error). A compound
/// body (a MySQL procedure's `BEGIN ... END`, a SQLite trigger's) is cut at its inner
/// semicolons too: callers read the heads knowing that.
pub fn statement_heads(sql: &str, lexicon: Lexicon) -> Vec<Vec<String>> {
    statement_words(sql, lexicon, 4)
}

/// The first `limit` words of each statement, as [`statement_heads`] reads them.
pub fn statement_words(sql: &str, lexicon: Lexicon, limit: usize) -> Vec<Vec<String>> {
    let b = sql.as_bytes();
    let pg = lexicon == Lexicon::Postgres;
    let mysql = lexicon == Lexicon::MySql;
    let word_byte =
        |c: u8| c.is_ascii_alphanumeric() || c == b'_' || c >= 0x80 || (pg && c == b'$');
    // The end (the byte after the closing quote) of the quoted text opened at `at`.
    let quoted = |at: usize, escapes: bool| -> Option<usize> {
        let q = b[at];
        let mut j = at + 1;
        loop {
            match b.get(j) {
                None => return None,
                Some(b'\\') if escapes => j += 2,
                Some(&c) if c == q && b.get(j + 1) == Some(&q) => j += 2,
                Some(&c) if c == q => return Some(j + 1),
                Some(_) => j += 1,
            }
        }
    };
    let mut heads: Vec<Vec<String>> = vec![Vec::new()];
    let mut i = 0;
    while i < b.len() {
        match comment_end(b, i, lexicon) {
            Some(Ok(end)) => {
                i = end;
                continue;
            }
            Some(Err(())) => break,
            None => {}
        }
        let c = b[i];
        let next = match c {
            b';' => {
                heads.push(Vec::new());
                Some(i + 1)
            }
            b'\'' => quoted(i, mysql),
            b'"' => quoted(i, mysql),
            b'`' if mysql || lexicon == Lexicon::Sqlite => quoted(i, false),
            b'[' if lexicon.brackets() => b[i..].iter().position(|&x| x == b']').map(|k| i + k + 1),
            b'$' if pg && !b.get(i + 1).is_some_and(u8::is_ascii_digit) => {
                // $tag$ ... $tag$ (or $$ ... $$); a lone `$` is an operator character.
                let mut j = i + 1;
                while j < b.len() && (b[j].is_ascii_alphanumeric() || b[j] == b'_' || b[j] >= 0x80)
                {
                    j += 1;
                }
                if b.get(j) == Some(&b'$') {
                    let tag = &sql[i..=j];
                    sql[j + 1..].find(tag).map(|k| j + 1 + k + tag.len())
                } else {
                    Some(i + 1)
                }
            }
            c if word_byte(c) => {
                let mut j = i;
                while j < b.len() && word_byte(b[j]) {
                    j += 1;
                }
                if pg && j == i + 1 && matches!(c, b'e' | b'E') && b.get(j) == Some(&b'\'') {
                    // E'...': a string with backslash escapes.
                    quoted(j, true)
                } else {
                    let head = heads.last_mut().expect("never empty");
                    if head.len() < limit && !c.is_ascii_digit() {
                        head.push(sql[i..j].to_ascii_uppercase());
                    }
                    Some(j)
                }
            }
            _ => Some(i + 1),
        };
        match next {
            Some(n) => i = n,
            None => break,
        }
    }
    heads.retain(|h| !h.is_empty());
    heads
}

/// Where the comment starting at byte `at` of `sql` ends (the byte after it; a line
/// comment stops before its newline), by `lexicon`'s rules: `--` and MySQL's `#` run to
/// the end of the line, `/* */` nest where the engine nests them. `None`: no comment
/// starts there; `Some(Err(()))`: a block comment that never ends.
fn comment_end(sql: &[u8], at: usize, lexicon: Lexicon) -> Option<std::result::Result<usize, ()>> {
    match (sql.get(at), sql.get(at + 1)) {
        (Some(b'-'), Some(b'-')) | (Some(b'#'), _)
            if sql[at] == b'-' || lexicon == Lexicon::MySql =>
        {
            let len = sql[at..]
                .iter()
                .position(|&c| c == b'\n')
                .unwrap_or(sql.len() - at);
            Some(Ok(at + len))
        }
        (Some(b'/'), Some(b'*')) => {
            let nested = lexicon.nested_comments();
            let (mut i, mut depth) = (at, 0usize);
            loop {
                match (sql.get(i), sql.get(i + 1)) {
                    (Some(b'/'), Some(b'*')) if nested || depth == 0 => {
                        depth += 1;
                        i += 2;
                    }
                    (Some(b'*'), Some(b'/')) => {
                        depth -= 1;
                        i += 2;
                        if depth == 0 {
                            return Some(Ok(i));
                        }
                    }
                    (Some(_), _) => i += 1,
                    (None, _) => return Some(Err(())),
                }
            }
        }
        _ => None,
    }
}

/// Append the native marker for `name`.
/// Names already given a number (`Dollar`/`AtP`), for a lookup that stays constant
/// time with tens of thousands of markers (an expanded `IN` list).
type Numbered = std::collections::HashMap<String, usize>;

fn push_marker(
    out: &mut String,
    names: &mut Vec<String>,
    numbered: &mut Numbered,
    style: MarkerStyle,
    name: String,
) {
    match style {
        MarkerStyle::Question => {
            out.push('?');
            names.push(name);
        }
        MarkerStyle::Dollar | MarkerStyle::AtP => {
            let pos = match numbered.get(&name) {
                Some(p) => *p,
                None => {
                    numbered.insert(name.clone(), names.len());
                    names.push(name);
                    names.len() - 1
                }
            };
            out.push_str(if style == MarkerStyle::Dollar {
                "$"
            } else {
                "@P"
            });
            out.push_str(&(pos + 1).to_string());
        }
    }
}

/// Whether the rewritten text so far ends with `IN (` (then `Some(false)`) or
/// `NOT IN (` (`Some(true)`), keywords in any case, whitespace anywhere between.
fn in_list_context(out: &str) -> Option<bool> {
    let before = out.trim_end().strip_suffix('(')?.trim_end();
    let word_end = |s: &str, w: &str| -> Option<usize> {
        let cut = s.len().checked_sub(w.len())?;
        let tail = s.get(cut..)?;
        let boundary = !s[..cut].chars().next_back().is_some_and(is_ident_char);
        (tail.eq_ignore_ascii_case(w) && boundary).then_some(cut)
    };
    let cut = word_end(before, "in")?;
    Some(word_end(before[..cut].trim_end(), "not").is_some())
}

fn unterminated(what: &str, sql: &str, at: usize) -> Error {
    let snippet: String = sql[at..].chars().take(30).collect();
    Error::parameter(format!(
        "cannot rewrite named parameters: unterminated {what} starting at byte {at} ({snippet:?})"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rw(sql: &str, lexicon: Lexicon) -> (String, Vec<String>) {
        let r = rewrite_named(sql, lexicon).unwrap();
        (r.sql, r.names)
    }

    #[test]
    fn statement_heads_read_first_words_and_never_split_a_character() {
        assert_eq!(
            statement_heads(
                "/* x */ begin; insert into t values ('a;b'); COMMIT",
                Lexicon::Postgres
            ),
            vec![
                vec!["BEGIN".to_string()],
                vec!["INSERT".into(), "INTO".into(), "T".into(), "VALUES".into()],
                vec!["COMMIT".into()],
            ]
        );
        // Quoting of every kind hides its semicolons and words.
        for (sql, lex) in [
            (
                "select $q$; begin$q$, E'\\'; begin', \"a;b\"",
                Lexicon::Postgres,
            ),
            (
                "select 'x\\'; begin', `a;b`, \"c\\\"; d\" # ; begin",
                Lexicon::MySql,
            ),
            ("select [a;b], 'it''s; begin'", Lexicon::Sqlite),
        ] {
            assert_eq!(
                statement_heads(sql, lex),
                vec![vec!["SELECT".to_string()]],
                "{sql}"
            );
        }
        // Multi-byte text anywhere (after a backslash, in names, unterminated) is read
        // without slicing inside a character.
        for sql in [
            "select 'é\\é; x' ; ÉTÉ",
            "select E'\\é'; begin",
            "select `é\\é` ; ünïcode wörds",
            "select $é$ x $é$; begin",
            "select 'unterminated é",
            "select \"é",
            "/* é",
            "é;é;;é",
        ] {
            for lex in [
                Lexicon::Postgres,
                Lexicon::MySql,
                Lexicon::Sqlite,
                Lexicon::MsSql,
            ] {
                let _ = statement_words(sql, lex, usize::MAX);
            }
        }
        assert_eq!(
            statement_heads("select $é$ x $é$; begin", Lexicon::Postgres)[1],
            vec!["BEGIN".to_string()]
        );
    }

    #[test]
    fn lists_fill_in_lists() {
        let lens = |name: &str| match name {
            "ids" => Some(3),
            "none" => Some(0),
            _ => None,
        };
        let go = |sql: &str, lex| {
            let r = rewrite_named_lists(sql, lex, &lens).unwrap();
            (r.sql, r.names)
        };
        let (s, n) = go(
            "select * from t where id in (:ids) and k = :k",
            Lexicon::Postgres,
        );
        assert_eq!(s, "select * from t where id in ($1, $2, $3) and k = $4");
        assert_eq!(n, ["ids[0]", "ids[1]", "ids[2]", "k"]);
        // A repeated list reuses its numbers on PostgreSQL and binds again with `?`.
        let (s, _) = go("a IN(:ids) or b NOT  IN ( :ids )", Lexicon::Postgres);
        assert_eq!(s, "a IN($1, $2, $3) or b NOT  IN ( $1, $2, $3 )");
        let (s, n) = go("a in (:ids) or b in (:ids)", Lexicon::MySql);
        assert_eq!(s, "a in (?, ?, ?) or b in (?, ?, ?)");
        assert_eq!(n.len(), 6);
        // An empty list matches nothing; after NOT IN it is an error.
        assert_eq!(go("a in (:none)", Lexicon::Sqlite).0, "a in (NULL)");
        let e = rewrite_named_lists("a not in (:none)", Lexicon::Sqlite, &lens).unwrap_err();
        assert!(e.message.contains("NOT IN"), "{}", e.message);
        // Only a marker that is the whole IN list expands; a list elsewhere is one value.
        assert_eq!(go("a = any(:ids)", Lexicon::Postgres).0, "a = any($1)");
        assert_eq!(go("a in (:ids, 4)", Lexicon::Sqlite).0, "a in (?, 4)");
        assert_eq!(go("join_in (:ids)", Lexicon::Sqlite).0, "join_in (?)");
        assert_eq!(go("a in (:k)", Lexicon::Sqlite).0, "a in (?)");
        assert_eq!(go("a in ((:ids))", Lexicon::Sqlite).0, "a in ((?))");
        assert_eq!(split_list_item("ids[2]"), ("ids", Some(2)));
        assert_eq!(split_list_item("ids"), ("ids", None));
    }

    #[test]
    fn dollar_markers_reuse_numbers() {
        let (s, n) = rw(
            "select * from t where a = :a and b = :b or a2 = :a",
            Lexicon::Postgres,
        );
        assert_eq!(s, "select * from t where a = $1 and b = $2 or a2 = $1");
        assert_eq!(n, vec!["a", "b"]);
    }

    #[test]
    fn question_markers_repeat_names() {
        let (s, n) = rw("select :x, :y, :x", Lexicon::Sqlite);
        assert_eq!(s, "select ?, ?, ?");
        assert_eq!(n, vec!["x", "y", "x"]);
    }

    #[test]
    fn skips_literals_comments_casts() {
        let sql = "select ':no', \"co:l\", x::text, E'\\':no', $$ :no $$, $t$ :no $t$ -- :no\n /* :no /* :no */ */ from t where id = :id";
        let (s, n) = rw(sql, Lexicon::Postgres);
        assert!(s.ends_with("where id = $1"), "{s}");
        assert!(s.contains("x::text"));
        assert!(s.contains("':no'"));
        assert_eq!(n, vec!["id"]);
    }

    #[test]
    fn leaves_native_markers_alone() {
        let (s, n) = rw("select $1, :a", Lexicon::Postgres);
        assert_eq!(s, "select $1, $1");
        assert_eq!(n, vec!["a"]);
        let (s, _) = rw("select '2020-01-01 10:20:30'::timestamp", Lexicon::Postgres);
        assert_eq!(s, "select '2020-01-01 10:20:30'::timestamp");
    }

    #[test]
    fn counts_native_markers_in_code_only() {
        let r = rewrite_named(
            "select $1, $3, '$9', $$ $8 $$, a$2 -- $7",
            Lexicon::Postgres,
        )
        .unwrap();
        assert_eq!(r.positional, 3);
        let r = rewrite_named("select ?, '?', \"?\", ? /* ? */", Lexicon::Sqlite).unwrap();
        assert_eq!(r.positional, 2);
    }

    #[test]
    fn unicode_names_and_text() {
        let (s, n) = rw("select 'ñ:x', :naïve", Lexicon::Sqlite);
        assert_eq!(s, "select 'ñ:x', ?");
        assert_eq!(n, vec!["naïve"]);
    }

    #[test]
    fn at_p_markers_and_brackets() {
        let (s, n) = rw("select [a:b], :v, :v", Lexicon::MsSql);
        assert_eq!(s, "select [a:b], @P1, @P1");
        assert_eq!(n, vec!["v"]);
    }

    #[test]
    fn unterminated_is_an_error() {
        assert!(rewrite_named("select 'abc", Lexicon::Postgres).is_err());
        assert!(rewrite_named("select /* x", Lexicon::Sqlite).is_err());
        assert!(rewrite_named("select $q$ x", Lexicon::Postgres).is_err());
    }

    #[test]
    fn mysql_backslash_escapes_hash_comments_and_double_quoted_strings() {
        // A backslash-escaped quote does not end a MySQL string: the marker after the
        // string is rewritten, the text inside it is not.
        let (s, n) = rw(
            r"select * from t where name = 'O\'Brien :no' and id = :id",
            Lexicon::MySql,
        );
        assert_eq!(s, r"select * from t where name = 'O\'Brien :no' and id = ?");
        assert_eq!(n, vec!["id"]);
        let (s, n) = rw(r#"select "say \"hi :no\"", 'C:\\', :a"#, Lexicon::MySql);
        assert_eq!(s, r#"select "say \"hi :no\"", 'C:\\', ?"#);
        assert_eq!(n, vec!["a"]);
        let (s, n) = rw("select :a # it's :no\n, :b", Lexicon::MySql);
        assert_eq!(s, "select ? # it's :no\n, ?");
        assert_eq!(n, vec!["a", "b"]);
        // `?` inside such strings is not a marker either.
        let r = rewrite_named(r"select 'it\'s ?', ?", Lexicon::MySql).unwrap();
        assert_eq!(r.positional, 1);
        // The same text on the other engines keeps their rules: no backslash escapes.
        assert!(rewrite_named(r"select 'O\'Brien' and id = :id", Lexicon::Sqlite).is_err());
        let (s, _) = rw(r"select 'C:\', :a", Lexicon::Sqlite);
        assert_eq!(s, r"select 'C:\', ?");
        let (s, _) = rw("select 1 # :a", Lexicon::Postgres);
        assert_eq!(s, "select 1 # $1");
    }

    #[test]
    fn block_comments_nest_only_where_the_engine_nests_them() {
        let (s, n) = rw("select /* /* */ :a", Lexicon::MySql);
        assert_eq!(s, "select /* /* */ ?");
        assert_eq!(n, vec!["a"]);
        let (s, _) = rw("select /* /* */ :a", Lexicon::Sqlite);
        assert_eq!(s, "select /* /* */ ?");
        let (s, n) = rw("select /* /* */ :no */ :a", Lexicon::Postgres);
        assert_eq!(s, "select /* /* */ :no */ $1");
        assert_eq!(n, vec!["a"]);
    }

    #[test]
    fn texts_without_a_statement() {
        for blank in [
            "",
            "  \n\t",
            ";",
            " ; ;",
            "-- x",
            "/* a */ -- b\n;",
            "/* /* */ */",
        ] {
            assert!(
                check_has_statement(blank, Lexicon::Postgres).is_err(),
                "{blank:?}"
            );
        }
        assert!(check_has_statement("# note", Lexicon::MySql).is_err());
        assert!(check_has_statement("# note", Lexicon::Postgres).is_ok());
        // MySQL's comments do not nest: `*/` ends the first, and text follows.
        assert!(check_has_statement("/* /* */ */", Lexicon::MySql).is_ok());
        for sql in [
            "select 1",
            " -- c\nselect 1",
            "/* c */ values (1)",
            "/* open",
        ] {
            assert!(check_has_statement(sql, Lexicon::Sqlite).is_ok(), "{sql:?}");
        }
        let e = check_has_statement(" ", Lexicon::Sqlite).unwrap_err();
        assert!(e.to_string().contains("holds no statement"), "{e}");
    }

    #[test]
    fn sqlite_bracketed_identifiers() {
        let (s, n) = rw("select [a:b] from t where id = :id", Lexicon::Sqlite);
        assert_eq!(s, "select [a:b] from t where id = ?");
        assert_eq!(n, vec!["id"]);
    }

    #[test]
    fn several_statements_are_named_only_where_there_are_several() {
        use crate::error::ErrorKind;
        let syntax = || Error::new(ErrorKind::Syntax, "syntax error near 'select 2'");
        let e = name_several_statements(syntax(), "select 1; select 2", Lexicon::MySql);
        assert_eq!(e.kind, ErrorKind::Query);
        assert!(e.message.starts_with(SEVERAL_STATEMENTS), "{e}");
        assert!(e
            .message
            .ends_with("(the server said: syntax error near 'select 2')"));
        // One statement (a trailing semicolon, semicolons inside literals, quoted names
        // or comments), a compound body, or an error of another kind: unchanged.
        for (sql, lexicon) in [
            ("select 1;", Lexicon::MySql),
            ("select ';' ; -- ; x", Lexicon::MySql),
            ("select \"a;b\" from t", Lexicon::Postgres),
            ("select $$;$$", Lexicon::Postgres),
            (
                "CREATE PROCEDURE p() BEGIN SELECT 1; SELECT 2 END",
                Lexicon::MySql,
            ),
            ("BEGIN NOT ATOMIC SELECT 1; SELECT 2; END", Lexicon::MySql),
        ] {
            let e = name_several_statements(syntax(), sql, lexicon);
            assert_eq!(e.kind, ErrorKind::Syntax, "{sql}");
        }
        let unique = Error::new(ErrorKind::UniqueViolation, "dup");
        let e = name_several_statements(unique, "insert 1; insert 2", Lexicon::Sqlite);
        assert_eq!(e.kind, ErrorKind::UniqueViolation);
        let once = name_several_statements(syntax(), "select 1; select 2", Lexicon::Sqlite);
        let twice = name_several_statements(once.clone(), "select 1; select 2", Lexicon::Sqlite);
        assert_eq!(once.message, twice.message);
    }

    #[test]
    fn statements_that_outlive_a_transaction_are_told_apart() {
        for sql in [
            "SET search_path = x",
            "set @v = 1",
            "SET NAMES utf8mb4",
            "SET SESSION sql_mode = ''",
            "reset all",
            "USE other",
            "create temp table t (x int)",
            "CREATE TEMPORARY TABLE t (x int)",
            "CREATE LOCAL TEMP TABLE t (x int)",
            "listen ch",
            "PREPARE p AS SELECT 1",
            "select 1; set role x",
            "PRAGMA foreign_keys = off",
        ] {
            assert!(changes_session(sql, Lexicon::MySql), "{sql}");
        }
        for sql in [
            "SET LOCAL search_path = x",
            "SET TRANSACTION ISOLATION LEVEL SERIALIZABLE",
            "SET CONSTRAINTS ALL DEFERRED",
            "select 'set x = 1'",
            "update t set a = 1",
            "create table t (x int)",
            "-- SET x = 1\nselect 1",
            "LOAD DATA LOCAL INFILE 'x' INTO TABLE t",
        ] {
            assert!(!changes_session(sql, Lexicon::Postgres), "{sql}");
        }
    }
}
