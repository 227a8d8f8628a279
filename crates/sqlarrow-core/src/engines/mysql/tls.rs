//! TLS for MySQL and MariaDB: the rustls configuration of the fast reader's
//! connections, and `ssl_mode=verify_ca` for the connections mysql_async opens.
//!
//! The modes: `preferred` and `required` encrypt without verifying the certificate,
//! `verify_ca` checks its chain, `verify_identity` its chain and host name. The roots
//! are those mysql_async trusts: the built-in (Mozilla) set and `ssl_ca`'s.
//!
//! mysql_async 0.37.1 skips the host-name check (`with_danger_skip_domain_validation`)
//! only when its rustls verifier finds the text "NotValidForName" in the error, which
//! rustls 0.23 no longer renders (blackbeam/mysql_async#404, fixed upstream by #408,
//! not in a release). So every verify_ca connection to a server whose certificate does
//! not name the host it was reached by failed, which is the case verify_ca exists for.
//!
//! Instead, one probe per connector reads the server's certificate: it does the MySQL
//! handshake up to the TLS upgrade, and rustls checks the chain but not the name. A DNS
//! name from that certificate then becomes mysql_async's TLS host name
//! (`with_danger_tls_hostname_override`), so mysql_async verifies its own connection in
//! full: the chain, and that name. Any certificate of a trusted CA still passes, as
//! verify_ca promises; a certificate that names no DNS host is checked against the host
//! itself (verify_identity).

use std::sync::{Arc, Mutex};

use rustls::client::WebPkiServerVerifier;
use rustls::pki_types::CertificateDer;
use rustls::{ClientConfig, RootCertStore};

use super::wire::WireConn;
use super::SslMode;
use crate::error::{Error, Result};
use crate::tls::{provider, read_certs, read_key, Lenient};

/// The rustls configuration for `mode` (not `disabled`), with the client certificate
/// when one is given.
pub fn client_config(
    mode: SslMode,
    ssl_ca: Option<&str>,
    identity: Option<(&str, &str)>,
) -> Result<Arc<ClientConfig>> {
    let provider = provider();
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::config(format!("TLS setup failed: {e}")))?;
    let builder = match mode {
        SslMode::VerifyCa | SslMode::VerifyIdentity => {
            let mut roots = RootCertStore::empty();
            roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
            if let Some(path) = ssl_ca {
                for c in read_certs(path)? {
                    roots.add(c).map_err(|e| {
                        Error::config(format!("invalid CA certificate in {path}: {e}"))
                    })?;
                }
            }
            let webpki =
                WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
                    .build()
                    .map_err(|e| Error::config(format!("TLS setup failed: {e}")))?;
            if mode == SslMode::VerifyIdentity {
                builder.with_webpki_verifier(webpki)
            } else {
                builder
                    .dangerous()
                    .with_custom_certificate_verifier(Lenient::chain_only(webpki, provider))
            }
        }
        _ => builder
            .dangerous()
            .with_custom_certificate_verifier(Lenient::any_cert(provider)),
    };
    let config = match identity {
        Some((cert, key)) => builder
            .with_client_auth_cert(read_certs(cert)?, read_key(key)?)
            .map_err(|e| Error::config(format!("invalid client certificate or key: {e}")))?,
        None => builder.with_no_client_auth(),
    };
    Ok(Arc::new(config))
}

/// The host name found for a connector's `verify_ca` server.
pub struct VerifyCa {
    /// [`client_config`] for `verify_ca`: the chain is checked, not the name.
    config: Arc<ClientConfig>,
    name: Mutex<Option<String>>,
}

impl VerifyCa {
    pub fn new(config: Arc<ClientConfig>) -> Self {
        VerifyCa {
            config,
            name: Mutex::new(None),
        }
    }

    /// The TLS host name to verify the server's certificate against, and whether it was
    /// known before this call (a failure with a known name may mean a new certificate).
    pub async fn host_name(&self, host: &str, port: u16) -> Result<(String, bool)> {
        if let Some(n) = self.name.lock().unwrap_or_else(|p| p.into_inner()).clone() {
            return Ok((n, true));
        }
        let cert = WireConn::peer_certificate(host, port, self.config.clone()).await?;
        let n = name_in(&cert, host)?;
        *self.name.lock().unwrap_or_else(|p| p.into_inner()) = Some(n.clone());
        Ok((n, false))
    }

    /// Forget the name: the next connection probes the certificate again.
    pub fn forget(&self) {
        *self.name.lock().unwrap_or_else(|p| p.into_inner()) = None;
    }
}

/// The name to verify `cert` against (see [`override_for`]).
fn name_in(cert: &CertificateDer<'_>, host: &str) -> Result<String> {
    let ee = webpki::EndEntityCert::try_from(cert)
        .map_err(|e| Error::connection(format!("TLS error: unreadable server certificate: {e}")))?;
    Ok(override_for(ee.valid_dns_names().next(), host))
}

/// A certificate's first DNS name, a wildcard's label filled in; or, when it names no
/// DNS host, the host itself.
fn override_for(first_dns_name: Option<&str>, host: &str) -> String {
    match first_dns_name {
        Some(n) => match n.strip_prefix("*.") {
            Some(rest) => format!("sqlarrow-verify-ca.{rest}"),
            None => n.to_owned(),
        },
        None => host.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::override_for;

    #[test]
    fn the_host_name_to_verify_comes_from_the_certificate() {
        assert_eq!(override_for(Some("db.internal"), "10.0.0.5"), "db.internal");
        assert_eq!(
            override_for(Some("*.rds.example.com"), "10.0.0.5"),
            "sqlarrow-verify-ca.rds.example.com"
        );
        // No DNS name (an IP-only certificate): the host itself, as verify_identity.
        assert_eq!(override_for(None, "10.0.0.5"), "10.0.0.5");
    }
}
