//! The certificate authorities the AWS SDK's HTTPS client trusts: Amazon Trust Services'
//! roots, embedded, plus those of `SSL_CERT_FILE` when it is set.
//!
//! Why not the SDK's default (the system's roots, via rustls-native-certs): it reads and
//! parses the whole system store when the client is built, in init, and parses it again
//! for the first connection. With Debian's layout (a 146-root bundle and a directory of
//! the same roots) that was 3.8 ms of s3-get-object's 4.9 ms init on the bench machine;
//! the bundle alone, 1 ms. AWS service endpoints present certificates that chain to these
//! five roots (S3, the last to move, finished in June 2022), and parsing five costs
//! microseconds. Verification is unchanged, only stricter: fewer roots are trusted.
//!
//! An endpoint whose certificate chains elsewhere (a custom `AWS_ENDPOINT_URL`, an
//! S3-compatible store, a TLS-inspecting proxy) needs its CA in `SSL_CERT_FILE`; pointing
//! it at the system bundle (`/etc/pki/tls/certs/ca-bundle.crt` on Amazon Linux 2023)
//! trusts every system root again, at the cost measured above.

use aws_smithy_http_client::tls::TrustStore;
use rustls::RootCertStore;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::CertificateDer;

use crate::ErrorKind;

/// Amazon Root CA 1 to 4 and Starfield Services Root CA G2, as PEM.
pub const AMAZON_TRUST_SERVICES: &str = include_str!("../certs/amazon-trust-services.pem");

/// Where additional roots come from, as OpenSSL and rustls-native-certs read it.
pub const CERT_FILE_VAR: &str = "SSL_CERT_FILE";

/// Why `SSL_CERT_FILE` cannot be used (`InvalidTrustStore` as Lambda's `errorType`):
/// found at init, which it fails.
#[derive(Clone, Debug, thiserror::Error, PartialEq)]
pub enum TrustStoreError {
    /// The file cannot be read.
    #[error("{CERT_FILE_VAR} {path:?} cannot be read: {message}")]
    Unreadable {
        /// The file's path.
        path: String,
        /// The I/O error.
        message: String,
    },
    /// The file holds no PEM certificate.
    #[error("{CERT_FILE_VAR} {path:?} holds no PEM certificate")]
    NoCertificate {
        /// The file's path.
        path: String,
    },
    /// A certificate that does not parse, or that rustls does not accept as a root.
    #[error("{CERT_FILE_VAR} {path:?}: certificate {index} is not a usable root: {message}")]
    InvalidCertificate {
        /// The file's path.
        path: String,
        /// The certificate's position in the file, from 0.
        index: usize,
        /// What is wrong with it.
        message: String,
    },
    /// The SDK's TLS settings builder can fail in principle; today it never does.
    #[error("the SDK refused the TLS settings: {0}")]
    Refused(String),
}

impl ErrorKind for TrustStoreError {
    fn kind(&self) -> &'static str {
        "InvalidTrustStore"
    }
}

/// The SDK's trust store: the embedded roots, then every certificate of `cert_file`.
///
/// The file is checked here, certificate by certificate, the way the SDK will parse it:
/// the SDK `expect`s its PEM to be valid when it builds a connector, and a panic would
/// abort the process (`panic = "abort"`), so a bad file is an error at init instead.
pub fn trust_store(cert_file: Option<&str>) -> Result<TrustStore, TrustStoreError> {
    let store = TrustStore::empty().with_pem_certificate(AMAZON_TRUST_SERVICES.as_bytes());
    let Some(path) = cert_file else {
        return Ok(store);
    };
    let pem = std::fs::read(path).map_err(|err| TrustStoreError::Unreadable {
        path: path.into(),
        message: err.to_string(),
    })?;
    let count = usable_roots(&pem, path)?;
    tracing::info!(path, count, "trusting the roots of {CERT_FILE_VAR} too");
    Ok(store.with_pem_certificate(pem))
}

/// How many certificates `pem` holds, each accepted as a root by rustls.
fn usable_roots(pem: &[u8], path: &str) -> Result<usize, TrustStoreError> {
    let invalid = |index, message: String| TrustStoreError::InvalidCertificate {
        path: path.into(),
        index,
        message,
    };
    let mut roots = RootCertStore::empty();
    for (index, cert) in CertificateDer::pem_slice_iter(pem).enumerate() {
        let cert = cert.map_err(|err| invalid(index, err.to_string()))?;
        roots
            .add(cert)
            .map_err(|err| invalid(index, err.to_string()))?;
    }
    match roots.len() {
        0 => Err(TrustStoreError::NoCertificate { path: path.into() }),
        count => Ok(count),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sha2::{Digest, Sha256};

    fn fingerprints(pem: &[u8]) -> Vec<String> {
        CertificateDer::pem_slice_iter(pem)
            .map(|cert| hex::encode(Sha256::digest(cert.unwrap().as_ref())))
            .collect()
    }

    #[test]
    fn the_embedded_roots_are_amazons_five_and_all_usable() {
        // SHA-256 fingerprints as https://www.amazontrust.com/repository/ lists them.
        assert_eq!(
            fingerprints(AMAZON_TRUST_SERVICES.as_bytes()),
            [
                "8ecde6884f3d87b1125ba31ac3fcb13d7016de7f57cc904fe1cb97c6ae98196e",
                "1ba5b2aa8c65401a82960118f80bec4f62304d83cec4713a19c39c011ea46db4",
                "18ce6cfe7bf14e60b2e347b8dfe868cb31d02ebb3ada271569f50343b46db3a4",
                "e35d28419ed02025cfa69038cd623962458da5c695fbdea3c22b0bfb25897092",
                "568d6905a2c88708a4b3025190edcfedb1974a606a13c6e5290fcb2ae63edab5",
            ]
        );
        assert_eq!(
            usable_roots(AMAZON_TRUST_SERVICES.as_bytes(), "embedded"),
            Ok(5)
        );
    }

    /// A file that is removed when dropped.
    struct TempFile(std::path::PathBuf);

    impl Drop for TempFile {
        fn drop(&mut self) {
            let _ = std::fs::remove_file(&self.0);
        }
    }

    fn file_with(contents: &[u8]) -> (TempFile, String) {
        use std::sync::atomic::{AtomicUsize, Ordering};
        static N: AtomicUsize = AtomicUsize::new(0);
        let path = std::env::temp_dir().join(format!(
            "trust-{}-{}.pem",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::write(&path, contents).unwrap();
        let name = path.to_str().unwrap().to_string();
        (TempFile(path), name)
    }

    #[test]
    fn a_cert_file_of_valid_roots_is_accepted() {
        let (_path, name) = file_with(AMAZON_TRUST_SERVICES.as_bytes());
        assert!(trust_store(Some(&name)).is_ok());
        assert!(trust_store(None).is_ok());
    }

    #[test]
    fn a_bad_cert_file_is_an_error_not_a_panic_later() {
        let missing = "/nonexistent/roots.pem";
        assert!(matches!(
            trust_store(Some(missing)),
            Err(TrustStoreError::Unreadable { .. })
        ));

        let (_p, empty) = file_with(b"no certificates here\n");
        assert_eq!(
            trust_store(Some(&empty)).err(),
            Some(TrustStoreError::NoCertificate { path: empty })
        );

        // Valid base64 in a CERTIFICATE section, but not a certificate: the SDK would
        // `expect` it to parse and abort the process.
        let (_p, garbage) =
            file_with(b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n");
        assert!(matches!(
            trust_store(Some(&garbage)),
            Err(TrustStoreError::InvalidCertificate { index: 0, .. })
        ));

        // Broken base64: the PEM reader itself fails.
        let mut broken = AMAZON_TRUST_SERVICES.as_bytes().to_vec();
        broken.extend_from_slice(b"-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n");
        let (_p, broken) = file_with(&broken);
        assert!(matches!(
            trust_store(Some(&broken)),
            Err(TrustStoreError::InvalidCertificate { index: 5, .. })
        ));
    }
}
