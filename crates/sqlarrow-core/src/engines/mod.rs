//! One module per database engine, each behind its Cargo feature.

#[cfg(feature = "mysql")]
pub mod mysql;
#[cfg(feature = "postgres")]
pub mod postgres;
#[cfg(feature = "sqlite")]
pub mod sqlite;

/// The engines compiled into this build.
pub fn compiled_engines() -> Vec<&'static str> {
    let mut v = Vec::new();
    if cfg!(feature = "postgres") {
        v.push("postgres");
    }
    if cfg!(feature = "sqlite") {
        v.push("sqlite");
    }
    if cfg!(feature = "mysql") {
        v.push("mysql");
    }
    v
}
