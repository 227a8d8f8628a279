//! TLS for PostgreSQL with rustls (no system OpenSSL), following libpq's `sslmode`:
//! `disable` never, `allow`/`prefer` opportunistic without verification, `require`
//! encrypted without verification, `verify-ca` chain checked, `verify-full` chain and
//! host name checked. Roots come from `sslrootcert` or, without it, the Mozilla set.

use std::fs::File;
use std::io::BufReader;
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use tokio_postgres::config::SslMode;
use tokio_postgres_rustls::MakeRustlsConnect;

use crate::error::{Error, Result};
use crate::tls::{provider, read_certs, ChainOnly};

/// TLS settings of a connector.
#[derive(Clone, Debug, Default)]
pub struct TlsOptions {
    pub sslmode: String,
    pub sslrootcert: Option<String>,
    pub sslcert: Option<String>,
    pub sslkey: Option<String>,
}

#[derive(Debug)]
struct AcceptAnyCert(Arc<CryptoProvider>);

impl ServerCertVerifier for AcceptAnyCert {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }
    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }
    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }
    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

fn read_key(path: &str) -> Result<PrivateKeyDer<'static>> {
    let f =
        File::open(path).map_err(|e| Error::config(format!("cannot read key file {path}: {e}")))?;
    rustls_pemfile::private_key(&mut BufReader::new(f))
        .map_err(|e| Error::config(format!("cannot parse key file {path}: {e}")))?
        .ok_or_else(|| Error::config(format!("no PEM private key found in {path}")))
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
                .with_custom_certificate_verifier(Arc::new(ChainOnly(webpki)))
        }
    } else {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AcceptAnyCert(provider.clone())))
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
