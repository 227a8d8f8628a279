//! The one error type of the core crate.
//!
//! Every variant maps to one class of the Python exception tree (see
//! `python/sqlarrow/exceptions.py`); [`Error::kind`] names it. Messages are built so
//! that they never contain a password: connection strings are never formatted into
//! them, and server messages are passed through as the server wrote them.

use std::fmt;

/// The exception class an [`Error`] becomes in Python.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    Config,
    Interface,
    Connection,
    Authentication,
    PoolTimeout,
    Query,
    Syntax,
    UndefinedObject,
    Parameter,
    Data,
    Timeout,
    Cancelled,
    Constraint,
    UniqueViolation,
    ForeignKeyViolation,
    NotNullViolation,
    CheckViolation,
    UnsupportedType,
    ReadOnly,
}

impl ErrorKind {
    /// The class name in `sqlarrow.exceptions`.
    pub fn class_name(self) -> &'static str {
        match self {
            ErrorKind::Config => "ConfigError",
            ErrorKind::Interface => "InterfaceError",
            ErrorKind::Connection => "DatabaseConnectionError",
            ErrorKind::Authentication => "AuthenticationError",
            ErrorKind::PoolTimeout => "PoolTimeoutError",
            ErrorKind::Query => "QueryError",
            ErrorKind::Syntax => "SqlSyntaxError",
            ErrorKind::UndefinedObject => "UndefinedObjectError",
            ErrorKind::Parameter => "ParameterError",
            ErrorKind::Data => "DataError",
            ErrorKind::Timeout => "QueryTimeoutError",
            ErrorKind::Cancelled => "QueryCancelledError",
            ErrorKind::Constraint => "ConstraintViolation",
            ErrorKind::UniqueViolation => "UniqueViolation",
            ErrorKind::ForeignKeyViolation => "ForeignKeyViolation",
            ErrorKind::NotNullViolation => "NotNullViolation",
            ErrorKind::CheckViolation => "CheckViolation",
            ErrorKind::UnsupportedType => "UnsupportedTypeError",
            ErrorKind::ReadOnly => "ReadOnlyViolation",
        }
    }

    /// Map a SQLSTATE code to the most specific kind.
    pub fn from_sqlstate(code: &str) -> ErrorKind {
        match code {
            "23505" => ErrorKind::UniqueViolation,
            "23503" => ErrorKind::ForeignKeyViolation,
            "23502" => ErrorKind::NotNullViolation,
            "23514" => ErrorKind::CheckViolation,
            "57014" => ErrorKind::Cancelled,
            "25006" => ErrorKind::ReadOnly,
            "3D000" => ErrorKind::Connection,
            "42P01" | "42703" | "42883" | "42704" | "3F000" | "42P02" => ErrorKind::UndefinedObject,
            "42601" => ErrorKind::Syntax,
            "08P01" | "22P02" | "42P18" | "42804" => ErrorKind::Parameter,
            c if c.starts_with("23") => ErrorKind::Constraint,
            c if c.starts_with("28") => ErrorKind::Authentication,
            c if c.starts_with("08") || c.starts_with("57P") || c == "53300" => {
                ErrorKind::Connection
            }
            c if c.starts_with("22") => ErrorKind::Data,
            _ => ErrorKind::Query,
        }
    }

    /// Whether errors of this kind are worth retrying by default.
    pub fn default_transient(self) -> bool {
        matches!(
            self,
            ErrorKind::Connection | ErrorKind::PoolTimeout | ErrorKind::Timeout
        )
    }
}

/// Whether a SQLSTATE names a condition that may clear on retry.
pub fn sqlstate_is_transient(code: &str) -> bool {
    matches!(
        code,
        "40001" // serialization_failure
            | "40P01" // deadlock_detected
            | "55P03" // lock_not_available
            | "53300" // too_many_connections
            | "57P01" // admin_shutdown
            | "57P02" // crash_shutdown
            | "57P03" // cannot_connect_now
            | "08000"
            | "08003"
            | "08006"
            | "08001"
            | "08004"
    )
}

/// An error from the sqlarrow core.
#[derive(Debug, Clone)]
pub struct Error {
    pub kind: ErrorKind,
    pub message: String,
    pub sqlstate: Option<String>,
    pub transient: bool,
    /// Structured details (column, type_name, constraint, ...), exposed as attributes in Python.
    pub details: Vec<(&'static str, String)>,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}

impl Error {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Error {
            kind,
            message: message.into(),
            sqlstate: None,
            transient: kind.default_transient(),
            details: Vec::new(),
        }
    }

    pub fn with_sqlstate(mut self, code: impl Into<String>) -> Self {
        let code = code.into();
        if sqlstate_is_transient(&code) {
            self.transient = true;
        }
        self.sqlstate = Some(code);
        self
    }

    pub fn with_detail(mut self, key: &'static str, value: impl Into<String>) -> Self {
        self.details.push((key, value.into()));
        self
    }

    /// The value of detail `key`, if set.
    pub fn detail(&self, key: &str) -> Option<&str> {
        self.details
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, v)| v.as_str())
    }

    pub fn transient(mut self, transient: bool) -> Self {
        self.transient = transient;
        self
    }

    pub fn config(message: impl Into<String>) -> Self {
        Error::new(ErrorKind::Config, message)
    }
    pub fn interface(message: impl Into<String>) -> Self {
        Error::new(ErrorKind::Interface, message)
    }
    pub fn connection(message: impl Into<String>) -> Self {
        Error::new(ErrorKind::Connection, message)
    }
    pub fn parameter(message: impl Into<String>) -> Self {
        Error::new(ErrorKind::Parameter, message)
    }
    pub fn data(message: impl Into<String>) -> Self {
        Error::new(ErrorKind::Data, message)
    }
    pub fn cancelled(message: impl Into<String>) -> Self {
        Error::new(ErrorKind::Cancelled, message)
    }

    pub fn unsupported_type(column: &str, type_name: &str, hint: &str) -> Self {
        let what = format!(
            "column \"{column}\" has type {type_name}, which sqlarrow cannot convert to Arrow"
        );
        Self::unsupported(what, column, type_name, hint)
    }

    /// An input column of a write whose Arrow type the engine's writer does not take.
    pub fn unsupported_write_type(column: &str, type_name: &str, engine: &str, hint: &str) -> Self {
        let what = format!(
            "column \"{column}\" has Arrow type {type_name}, which sqlarrow cannot write to {engine}"
        );
        Self::unsupported(what, column, type_name, hint)
    }

    fn unsupported(mut msg: String, column: &str, type_name: &str, hint: &str) -> Self {
        if !hint.is_empty() {
            msg.push_str("; ");
            msg.push_str(hint);
        }
        Error::new(ErrorKind::UnsupportedType, msg)
            .with_detail("column", column)
            .with_detail("type_name", type_name)
    }

    /// Mark a failure of COMMIT itself: the transaction may or may not have committed,
    /// so the work must not be retried blindly (`commit_in_doubt`, never transient).
    pub fn commit_in_doubt(mut self) -> Self {
        // The server's own answer to COMMIT (a deferred constraint, a serialization
        // failure) means it rolled the transaction back: nothing is in doubt. Only a
        // connection that failed leaves the outcome unknown.
        let answered = (self.sqlstate.is_some() || self.detail("errno").is_some())
            && self.kind != ErrorKind::Connection;
        if answered {
            return self;
        }
        self.transient = false;
        self.details.push(("commit_in_doubt", "true".into()));
        self.message.push_str(
            "\n(the connection failed during COMMIT: the write may or may not have been committed)",
        );
        self
    }

    /// Prefix the message with context (e.g. the column being decoded).
    pub fn context(mut self, ctx: impl fmt::Display) -> Self {
        self.message = format!("{ctx}: {}", self.message);
        self
    }
}

impl From<arrow_schema::ArrowError> for Error {
    fn from(e: arrow_schema::ArrowError) -> Self {
        Error::data(format!("Arrow error: {e}"))
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commit_in_doubt_only_when_the_connection_failed() {
        let lost = Error::connection("connection closed").commit_in_doubt();
        assert_eq!(lost.detail("commit_in_doubt"), Some("true"));
        assert!(!lost.transient);
        // A deferred foreign key refused at COMMIT: rolled back, and said so plainly.
        let fk = Error::new(ErrorKind::ForeignKeyViolation, "violates foreign key")
            .with_sqlstate("23503")
            .commit_in_doubt();
        assert_eq!(fk.detail("commit_in_doubt"), None);
        assert!(!fk.message.contains("may or may not"));
        // A serialization failure at COMMIT stays transient: nothing was committed.
        let ser = Error::new(ErrorKind::Query, "could not serialize")
            .with_sqlstate("40001")
            .commit_in_doubt();
        assert!(ser.transient && ser.detail("commit_in_doubt").is_none());
        // MySQL's server errors carry an errno; a killed connection stays in doubt.
        let my = Error::new(ErrorKind::Query, "error during COMMIT")
            .with_detail("errno", "1180")
            .commit_in_doubt();
        assert_eq!(my.detail("commit_in_doubt"), None);
        let killed = Error::new(ErrorKind::Connection, "Connection was killed")
            .with_detail("errno", "1927")
            .commit_in_doubt();
        assert_eq!(killed.detail("commit_in_doubt"), Some("true"));
    }
}
