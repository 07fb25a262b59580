//! The one HTTPS client of the AWS SDK calls: rustls with ring, trusting Amazon Trust
//! Services' roots and `SSL_CERT_FILE`'s ([`crate::trust`]). With `default-features = false`
//! the SDK compiles no TLS stack of its own (its defaults bring aws-lc and ring). The AWS
//! functions send their S3 and KMS calls through it; every function fetches its credentials
//! from the container credentials endpoint through it (`crate::credentials`).

use aws_smithy_http_client::tls::{rustls_provider::CryptoMode, Provider, TlsContext};
use aws_smithy_runtime_api::client::connector_metadata::ConnectorMetadata;
use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnectorSettings, SharedHttpClient, SharedHttpConnector,
};
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;

use crate::trust::{trust_store, TrustStoreError};

/// The client, trusting the embedded roots and those of `cert_file` (`SSL_CERT_FILE`).
/// Fails only on an unusable `cert_file`.
pub fn https_client(cert_file: Option<&str>) -> Result<SharedHttpClient, TrustStoreError> {
    let roots = trust_store(cert_file)?;
    let https = aws_smithy_http_client::Builder::new()
        .tls_provider(Provider::Rustls(CryptoMode::Ring))
        .tls_context(
            TlsContext::builder()
                .with_trust_store(roots)
                .build()
                .map_err(|err| TrustStoreError::Refused(err.to_string()))?,
        )
        .build_https();
    Ok(SharedHttpClient::new(ConnectorOnFirstRequest(https)))
}

/// The SDK's HTTPS client, minus the connector it builds and throws away when a client is
/// constructed.
///
/// aws-smithy-http-client builds a connector in `validate_base_client_config` only so that
/// the system's root certificates load in init rather than on the first request; it does
/// not keep it, and builds the connector again (parsing the roots again) for the first
/// request. Ours are embedded and cost microseconds, so that warm-up is pure cost: 5 PEM
/// roots parsed, a rustls configuration built, in every client's construction. Connectors
/// are still built and cached by the SDK's client exactly as before.
#[derive(Debug)]
struct ConnectorOnFirstRequest(SharedHttpClient);

impl HttpClient for ConnectorOnFirstRequest {
    fn http_connector(
        &self,
        settings: &HttpConnectorSettings,
        components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        self.0.http_connector(settings, components)
    }

    fn connector_metadata(&self) -> Option<ConnectorMetadata> {
        self.0.connector_metadata()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_credential_types::Credentials;
    use aws_smithy_http_client::test_util::infallible_client_fn;
    use std::sync::Arc;

    /// An HTTP client that counts what the SDK asks of it, answering every request 200.
    #[derive(Debug)]
    struct Counting {
        inner: SharedHttpClient,
        warm_ups: Arc<std::sync::atomic::AtomicUsize>,
        connectors: Arc<std::sync::atomic::AtomicUsize>,
    }

    impl HttpClient for Counting {
        fn http_connector(
            &self,
            settings: &HttpConnectorSettings,
            components: &RuntimeComponents,
        ) -> SharedHttpConnector {
            self.connectors
                .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            self.inner.http_connector(settings, components)
        }

        fn validate_base_client_config(
            &self,
            _: &aws_smithy_runtime_api::client::runtime_components::RuntimeComponentsBuilder,
            _: &aws_smithy_types::config_bag::ConfigBag,
        ) -> Result<(), aws_smithy_runtime_api::box_error::BoxError> {
            // Where aws-smithy-http-client builds its throwaway connector.
            self.warm_ups
                .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            Ok(())
        }
    }

    #[cfg(feature = "aws")]
    #[tokio::test]
    async fn building_a_client_builds_no_connector_the_first_request_does() {
        let (warm_ups, connectors) = (Arc::default(), Arc::default());
        let counting = Counting {
            inner: infallible_client_fn(|_| {
                http::Response::builder()
                    .status(200)
                    .body(String::new())
                    .unwrap()
            }),
            warm_ups: Arc::clone(&warm_ups),
            connectors: Arc::clone(&connectors),
        };
        let http = SharedHttpClient::new(ConnectorOnFirstRequest(SharedHttpClient::new(counting)));
        let s3 = aws_sdk_s3::config::Builder::from(&crate::aws::sdk_config_from(|_| None).unwrap())
            .region(aws_sdk_s3::config::Region::new("us-east-1"))
            .credentials_provider(Credentials::for_tests())
            .http_client(http)
            .build();
        let client = aws_sdk_s3::Client::from_conf(s3);
        let count =
            |c: &Arc<std::sync::atomic::AtomicUsize>| c.load(std::sync::atomic::Ordering::SeqCst);
        assert_eq!((count(&warm_ups), count(&connectors)), (0, 0));
        let _ = client.head_object().bucket("b").key("k").send().await;
        assert_eq!((count(&warm_ups), count(&connectors)), (0, 1));
    }
}
