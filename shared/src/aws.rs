//! One AWS SDK configuration for every function: a single rustls + ring HTTPS client.
//!
//! The SDK's default features compile two TLS stacks (aws-lc and ring); with
//! `default-features = false` we install the one client ourselves, which keeps the
//! `bootstrap` small. `AWS_ENDPOINT_URL` is honoured as usual (the tests point it at moto).

use aws_config::{BehaviorVersion, SdkConfig};
use aws_smithy_http_client::tls::{rustls_provider::CryptoMode, Provider};

/// Loads region, credentials and endpoint from the environment, as Lambda provides them.
pub async fn sdk_config() -> SdkConfig {
    let https = aws_smithy_http_client::Builder::new()
        .tls_provider(Provider::Rustls(CryptoMode::Ring))
        .build_https();
    aws_config::defaults(BehaviorVersion::latest())
        .http_client(https)
        .load()
        .await
}
