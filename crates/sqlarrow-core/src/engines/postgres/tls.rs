//! TLS for PostgreSQL with rustls (no system OpenSSL), following libpq's `sslmode`:
//! `disable` never, `allow`/`prefer` opportunistic without verification, `require`
//! encrypted without verification, `verify-ca` chain checked, `verify-full` chain and
//! host name checked. Roots come from `sslrootcert` or, without it, the Mozilla set.

use std::sync::Arc;

use rustls::client::WebPkiServerVerifier;
use rustls::{ClientConfig, RootCertStore};
use tokio_postgres::config::SslMode;
use tokio_postgres_rustls::MakeRustlsConnect;

use crate::error::{Error, Result};
use crate::tls::{provider, read_certs, read_key, Lenient};

/// TLS settings of a connector.
#[derive(Clone, Debug, Default)]
pub struct TlsOptions {
    pub sslmode: String,
    pub sslrootcert: Option<String>,
    pub sslcert: Option<String>,
    pub sslkey: Option<String>,
}

/// The tokio-postgres SSL mode and the TLS connector for `opts`.
pub fn make_tls(opts: &TlsOptions) -> Result<(SslMode, MakeRustlsConnect)> {
    let mode = match opts.sslmode.as_str() {
        "disable" => SslMode::Disable,
        "allow" | "prefer" => SslMode::Prefer,
        "require" | "verify-ca" | "verify-full" => SslMode::Require,
        other => {
            return Err(Error::config(format!(
                "unknown sslmode {other:?}; expected disable, allow, prefer, require, verify-ca or verify-full"
            )))
        }
    };
    let provider = provider();
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::config(format!("TLS setup failed: {e}")))?;
    let verify = matches!(opts.sslmode.as_str(), "verify-ca" | "verify-full");
    let builder = if verify {
        let mut roots = RootCertStore::empty();
        match &opts.sslrootcert {
            Some(path) => {
                for c in read_certs(path)? {
                    roots.add(c).map_err(|e| {
                        Error::config(format!("invalid CA certificate in {path}: {e}"))
                    })?;
                }
            }
            None => roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
        }
        let webpki = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
            .build()
            .map_err(|e| Error::config(format!("TLS setup failed: {e}")))?;
        if opts.sslmode == "verify-full" {
            builder.with_webpki_verifier(webpki)
        } else {
            builder
                .dangerous()
                .with_custom_certificate_verifier(Lenient::chain_only(webpki, provider.clone()))
        }
    } else {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Lenient::any_cert(provider.clone()))
    };
    let config = match (&opts.sslcert, &opts.sslkey) {
        (Some(cert), Some(key)) => builder
            .with_client_auth_cert(read_certs(cert)?, read_key(key)?)
            .map_err(|e| Error::config(format!("invalid client certificate or key: {e}")))?,
        (None, None) => builder.with_no_client_auth(),
        _ => return Err(Error::config("sslcert and sslkey must be given together")),
    };
    Ok((mode, MakeRustlsConnect::new(config)))
}
