//! TLS pieces shared by the PostgreSQL and MySQL engines (rustls with ring, no system
//! OpenSSL): the crypto provider, the verifier of the modes that check less than the
//! full chain and host name, and PEM files.

use std::fs::File;
use std::io::BufReader;
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, SignatureScheme};

use crate::error::{Error, Result};

pub(crate) fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// A verifier that checks less than webpki's full check: the chain but not the host
/// name (`verify-ca`, [`Lenient::chain_only`]), or no certificate at all (`prefer`,
/// `require`: encrypted, not verified, [`Lenient::any_cert`]). The handshake's
/// signatures are checked either way.
#[derive(Debug)]
pub(crate) struct Lenient {
    chain: Option<Arc<WebPkiServerVerifier>>,
    provider: Arc<CryptoProvider>,
}

impl Lenient {
    pub(crate) fn chain_only(
        webpki: Arc<WebPkiServerVerifier>,
        provider: Arc<CryptoProvider>,
    ) -> Arc<Self> {
        Arc::new(Lenient {
            chain: Some(webpki),
            provider,
        })
    }

    pub(crate) fn any_cert(provider: Arc<CryptoProvider>) -> Arc<Self> {
        Arc::new(Lenient {
            chain: None,
            provider,
        })
    }
}

impl ServerCertVerifier for Lenient {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let Some(chain) = &self.chain else {
            return Ok(ServerCertVerified::assertion());
        };
        match chain.verify_server_cert(end_entity, intermediates, server_name, ocsp, now) {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }
    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        let algs = &self.provider.signature_verification_algorithms;
        verify_tls12_signature(message, cert, dss, algs)
    }
    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        let algs = &self.provider.signature_verification_algorithms;
        verify_tls13_signature(message, cert, dss, algs)
    }
    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

pub(crate) fn read_certs(path: &str) -> Result<Vec<CertificateDer<'static>>> {
    let f = File::open(path)
        .map_err(|e| Error::config(format!("cannot read certificate file {path}: {e}")))?;
    let certs = rustls_pemfile::certs(&mut BufReader::new(f))
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|e| Error::config(format!("cannot parse certificate file {path}: {e}")))?;
    if certs.is_empty() {
        return Err(Error::config(format!("no PEM certificate found in {path}")));
    }
    Ok(certs)
}

pub(crate) fn read_key(path: &str) -> Result<PrivateKeyDer<'static>> {
    let f =
        File::open(path).map_err(|e| Error::config(format!("cannot read key file {path}: {e}")))?;
    rustls_pemfile::private_key(&mut BufReader::new(f))
        .map_err(|e| Error::config(format!("cannot parse key file {path}: {e}")))?
        .ok_or_else(|| Error::config(format!("no PEM private key found in {path}")))
}
