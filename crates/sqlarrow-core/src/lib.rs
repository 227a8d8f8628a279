//! sqlarrow-core: Arrow-native database connectors in pure Rust.
//!
//! Each engine decodes its wire format straight into Arrow buffers
//! ([`builders`]); [`connector::Connector`] puts every engine behind one API with
//! pooling ([`pool`]), bound parameters ([`value`], [`params`]) and cancellation
//! ([`cancel`]). No Python here: the bindings crate wraps this one.

#[cfg(not(any(feature = "postgres", feature = "sqlite", feature = "mysql")))]
compile_error!("enable at least one engine feature of sqlarrow-core: postgres, sqlite or mysql");

pub mod builders;
pub mod cancel;
pub mod connector;
pub mod direct;
pub mod engines;
pub mod error;
pub mod params;
pub mod polars;
pub mod pool;
pub mod readonly;
pub mod scan;
pub mod schema;
pub mod settings;
pub mod stream;
#[cfg(any(feature = "postgres", feature = "mysql"))]
pub(crate) mod tls;
pub mod transaction;
pub mod types;
pub mod value;
pub mod write;

pub use connector::{ConnectionStatus, Connector, QueryOptions, QueryOutput};
pub use error::{Error, ErrorKind, Result};
pub use value::{Params, Value};
