//! One AWS SDK configuration for every function, made for Lambda.
//!
//! - One HTTPS client (rustls + ring): with `default-features = false` the SDK compiles no
//!   TLS stack of its own (its defaults bring aws-lc and ring).
//! - Credentials and region straight from the environment, where Lambda always puts them
//!   (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`, `AWS_REGION`).
//!   `aws_config::defaults(..).load()` would link the whole default chain (profile files,
//!   SSO, STS web identity, ECS, IMDS) into every `bootstrap` for nothing.
//! - `AWS_ENDPOINT_URL` is honoured, as the SDK's loader does (the tests point it at moto).

use aws_config::environment::EnvironmentVariableCredentialsProvider;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_credential_types::provider::SharedCredentialsProvider;
use aws_smithy_async::rt::sleep::default_async_sleep;
use aws_smithy_http_client::tls::{rustls_provider::CryptoMode, Provider};

/// Reads region, credentials and endpoint from the environment, as Lambda provides them.
pub fn sdk_config() -> SdkConfig {
    sdk_config_from(|name| std::env::var(name).ok().filter(|v| !v.is_empty()))
}

pub fn sdk_config_from(var: impl Fn(&str) -> Option<String>) -> SdkConfig {
    let https = aws_smithy_http_client::Builder::new()
        .tls_provider(Provider::Rustls(CryptoMode::Ring))
        .build_https();
    let mut config = SdkConfig::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(
            var("AWS_REGION")
                .or_else(|| var("AWS_DEFAULT_REGION"))
                .map(Region::new),
        )
        .credentials_provider(SharedCredentialsProvider::new(
            EnvironmentVariableCredentialsProvider::new(),
        ))
        .http_client(https);
    config.set_sleep_impl(default_async_sleep());
    if let Some(endpoint) = var("AWS_ENDPOINT_URL") {
        config = config.endpoint_url(endpoint);
    }
    config.build()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_region_and_endpoint_from_the_environment() {
        let config = sdk_config_from(|name| match name {
            "AWS_DEFAULT_REGION" => Some("eu-west-1".into()),
            "AWS_ENDPOINT_URL" => Some("http://127.0.0.1:4566".into()),
            _ => None,
        });
        assert_eq!(config.region().map(|r| r.as_ref()), Some("eu-west-1"));
        assert_eq!(config.endpoint_url(), Some("http://127.0.0.1:4566"));
        assert!(config.credentials_provider().is_some());
        assert!(config.http_client().is_some());
    }

    #[test]
    fn aws_region_wins_over_the_default_region() {
        let config = sdk_config_from(|name| match name {
            "AWS_REGION" => Some("us-west-2".into()),
            "AWS_DEFAULT_REGION" => Some("eu-west-1".into()),
            _ => None,
        });
        assert_eq!(config.region().map(|r| r.as_ref()), Some("us-west-2"));
        assert_eq!(config.endpoint_url(), None);
    }
}
