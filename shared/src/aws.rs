//! One AWS SDK configuration for every function, made for Lambda.
//!
//! - One HTTPS client (rustls + ring): with `default-features = false` the SDK compiles no
//!   TLS stack of its own (its defaults bring aws-lc and ring). It trusts Amazon Trust
//!   Services' roots, embedded, plus `SSL_CERT_FILE`'s ([`crate::trust`]): not the system
//!   store, whose loading was most of s3-get-object's init.
//! - Credentials where Lambda puts them, in the SDK default chain's order: the key variables
//!   (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`), then the container
//!   credentials endpoint (`AWS_CONTAINER_CREDENTIALS_FULL_URI` with
//!   `AWS_CONTAINER_AUTHORIZATION_TOKEN` or `..._TOKEN_FILE`), which SnapStart uses instead
//!   (Managed Instances: docs/managed-instances.md, "Credentials"). Both are the SDK's own providers; the rest of
//!   `aws_config::defaults(..).load()` (profile files, SSO, STS web identity, IMDS) would
//!   be linked into every `bootstrap` for nothing. Region from `AWS_REGION`.
//! - The endpoint variables the SDK's own loader reads from the environment are read the
//!   same way: `AWS_ENDPOINT_URL_<SERVICE>` (e.g. `AWS_ENDPOINT_URL_S3`), then
//!   `AWS_ENDPOINT_URL`, both off when `AWS_IGNORE_CONFIGURED_ENDPOINT_URLS=true`;
//!   `AWS_USE_FIPS_ENDPOINT` (GovCloud, FedRAMP) and `AWS_USE_DUALSTACK_ENDPOINT`.

use std::sync::Arc;

/// What every SDK client of a function is built from.
pub use aws_config::SdkConfig;
use aws_config::{BehaviorVersion, Region};
use aws_smithy_async::rt::sleep::default_async_sleep;
use aws_types::service_config::{LoadServiceConfig, ServiceConfigKey};

use crate::credentials::{function_credentials, InvalidEndpoint, FULL_URI_VAR};
use crate::https::https_client;
use crate::trace_header::TraceHeader;
use crate::trust::{TrustStoreError, CERT_FILE_VAR};

/// An S3 client for `config` whose calls carry the invocation's X-Ray trace header.
pub fn s3_client(config: &SdkConfig) -> aws_sdk_s3::Client {
    let config = aws_sdk_s3::config::Builder::from(config).interceptor(TraceHeader);
    aws_sdk_s3::Client::from_conf(config.build())
}

/// A KMS client for `config` whose calls carry the invocation's X-Ray trace header.
pub fn kms_client(config: &SdkConfig) -> aws_sdk_kms::Client {
    let config = aws_sdk_kms::config::Builder::from(config).interceptor(TraceHeader);
    aws_sdk_kms::Client::from_conf(config.build())
}

/// Why the SDK's configuration cannot be built: an unusable `SSL_CERT_FILE`, or a container
/// credentials endpoint that is not a URL.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum AwsConfigError {
    /// `SSL_CERT_FILE` cannot be used.
    #[error(transparent)]
    TrustStore(#[from] TrustStoreError),
    /// `AWS_CONTAINER_CREDENTIALS_FULL_URI` cannot be used.
    #[error(transparent)]
    CredentialsEndpoint(#[from] InvalidEndpoint),
}

impl crate::ErrorKind for AwsConfigError {
    fn kind(&self) -> &'static str {
        match self {
            Self::TrustStore(err) => err.kind(),
            Self::CredentialsEndpoint(err) => err.kind(),
        }
    }
}

/// Reads region, credentials, endpoint settings and extra trusted roots from the
/// environment, as Lambda provides them. Fails only on an unusable `SSL_CERT_FILE` or
/// container credentials endpoint. Nothing is fetched here: the credentials are, by the
/// first call that needs them.
///
/// ```no_run
/// # fn main() -> Result<(), shared::aws::AwsConfigError> {
/// // In init, once per environment; clones of the client share its connection pool.
/// let config = shared::aws::sdk_config()?;
/// let s3 = shared::aws::s3_client(&config);
/// # let _ = s3;
/// # Ok(())
/// # }
/// ```
pub fn sdk_config() -> Result<SdkConfig, AwsConfigError> {
    sdk_config_from(|name| std::env::var(name).ok())
}

/// As [`sdk_config`], with `var` for the environment (for tests).
pub fn sdk_config_from(
    var: impl Fn(&str) -> Option<String> + Send + Sync + 'static,
) -> Result<SdkConfig, AwsConfigError> {
    let var = EnvVars(Arc::new(move |name| var(name).filter(|v| !v.is_empty())));
    let https = https_client(var.get(CERT_FILE_VAR).as_deref())?;
    let credentials = function_credentials(&https, var.get(FULL_URI_VAR).as_deref())?;
    let mut config = SdkConfig::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(
            var.get("AWS_REGION")
                .or_else(|| var.get("AWS_DEFAULT_REGION"))
                .map(Region::new),
        )
        .credentials_provider(credentials)
        .http_client(https)
        // Each client asks this for its endpoint (and other per-service settings).
        .service_config(var.clone());
    config.set_sleep_impl(default_async_sleep());
    config.set_use_fips(var.flag("AWS_USE_FIPS_ENDPOINT"));
    config.set_use_dual_stack(var.flag("AWS_USE_DUALSTACK_ENDPOINT"));
    Ok(config.build())
}

/// The environment, as the SDK clients' per-service settings. aws-config's own
/// `EnvServiceConfig` does this but is private to its loader, which we do not link.
#[derive(Clone)]
struct EnvVars(Arc<VarLookup>);

type VarLookup = dyn Fn(&str) -> Option<String> + Send + Sync;

impl EnvVars {
    fn get(&self, name: &str) -> Option<String> {
        (self.0)(name)
    }

    /// `true`/`false` in any case; anything else is ignored, with a warning.
    fn flag(&self, name: &str) -> Option<bool> {
        let value = self.get(name)?;
        match value.to_ascii_lowercase().as_str() {
            "true" => Some(true),
            "false" => Some(false),
            _ => {
                tracing::warn!(variable = name, "ignored: not true or false");
                None
            }
        }
    }
}

impl std::fmt::Debug for EnvVars {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("EnvVars")
    }
}

impl LoadServiceConfig for EnvVars {
    fn load_config(&self, key: ServiceConfigKey<'_>) -> Option<String> {
        if key.env() == "AWS_ENDPOINT_URL"
            && self.flag("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS") == Some(true)
        {
            return None;
        }
        // `AWS_ENDPOINT_URL_S3`, `AWS_ENDPOINT_URL_KMS`: the service id in upper snake case.
        let service = key.service_id().to_ascii_uppercase().replace(' ', "_");
        self.get(&format!("{}_{service}", key.env()))
            .or_else(|| self.get(key.env()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_s3::config::Credentials;
    use aws_smithy_http_client::test_util::infallible_client_fn;
    use std::collections::HashMap;
    use std::sync::Mutex;

    fn config(vars: &[(&str, &str)]) -> SdkConfig {
        let vars: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        sdk_config_from(move |name| vars.get(name).cloned()).unwrap()
    }

    /// The URI of the one request each client makes with `config`: (S3 HeadObject, KMS Decrypt).
    async fn uris(config: &SdkConfig) -> (String, String) {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let log = seen.clone();
        let http = infallible_client_fn(move |req| {
            log.lock().unwrap().push(req.uri().to_string());
            http::Response::builder()
                .status(200)
                .body(String::new())
                .unwrap()
        });
        let s3 = aws_sdk_s3::config::Builder::from(config)
            .credentials_provider(Credentials::for_tests())
            .http_client(http.clone())
            .build();
        let kms = aws_sdk_kms::config::Builder::from(config)
            .credentials_provider(Credentials::for_tests())
            .http_client(http)
            .build();
        let _ = aws_sdk_s3::Client::from_conf(s3)
            .head_object()
            .bucket("my-bucket")
            .key("k")
            .send()
            .await;
        let _ = aws_sdk_kms::Client::from_conf(kms)
            .decrypt()
            .ciphertext_blob(aws_sdk_kms::primitives::Blob::new("c"))
            .send()
            .await;
        let seen = seen.lock().unwrap();
        assert_eq!(seen.len(), 2, "{seen:?}");
        (seen[0].clone(), seen[1].clone())
    }

    #[test]
    fn reads_the_region_from_the_environment() {
        let config = config(&[("AWS_DEFAULT_REGION", "eu-west-1")]);
        assert_eq!(config.region().map(|r| r.as_ref()), Some("eu-west-1"));
        assert!(config.credentials_provider().is_some());
        assert!(config.http_client().is_some());
        let config = super::tests::config(&[
            ("AWS_REGION", "us-west-2"),
            ("AWS_DEFAULT_REGION", "eu-west-1"),
        ]);
        assert_eq!(config.region().map(|r| r.as_ref()), Some("us-west-2"));
    }

    #[tokio::test]
    async fn default_endpoints_are_aws_s() {
        let (s3, kms) = uris(&config(&[("AWS_REGION", "us-east-1")])).await;
        assert!(
            s3.starts_with("https://my-bucket.s3.us-east-1.amazonaws.com/k"),
            "{s3}"
        );
        assert!(
            kms.starts_with("https://kms.us-east-1.amazonaws.com"),
            "{kms}"
        );
    }

    #[tokio::test]
    async fn a_service_s_own_endpoint_wins_over_the_shared_one() {
        let vars = [
            ("AWS_REGION", "us-east-1"),
            ("AWS_ENDPOINT_URL", "http://127.0.0.1:4566"),
            ("AWS_ENDPOINT_URL_KMS", "http://127.0.0.1:4599"),
        ];
        let (s3, kms) = uris(&config(&vars)).await;
        assert!(s3.starts_with("http://127.0.0.1:4566/my-bucket/k"), "{s3}");
        assert!(kms.starts_with("http://127.0.0.1:4599"), "{kms}");
    }

    #[tokio::test]
    async fn configured_endpoints_can_be_ignored() {
        let vars = [
            ("AWS_REGION", "us-east-1"),
            ("AWS_ENDPOINT_URL", "http://127.0.0.1:4566"),
            ("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "TRUE"),
        ];
        let (s3, _) = uris(&config(&vars)).await;
        assert!(
            s3.starts_with("https://my-bucket.s3.us-east-1.amazonaws.com/"),
            "{s3}"
        );
    }

    #[tokio::test]
    async fn fips_and_dual_stack_endpoints_are_honoured() {
        let (s3, kms) = uris(&config(&[
            ("AWS_REGION", "us-gov-west-1"),
            ("AWS_USE_FIPS_ENDPOINT", "true"),
        ]))
        .await;
        assert!(
            s3.starts_with("https://my-bucket.s3-fips.us-gov-west-1.amazonaws.com/"),
            "{s3}"
        );
        assert!(
            kms.starts_with("https://kms-fips.us-gov-west-1.amazonaws.com"),
            "{kms}"
        );
        let (s3, _) = uris(&config(&[
            ("AWS_REGION", "eu-west-1"),
            ("AWS_USE_DUALSTACK_ENDPOINT", "true"),
        ]))
        .await;
        assert!(
            s3.starts_with("https://my-bucket.s3.dualstack.eu-west-1.amazonaws.com/"),
            "{s3}"
        );
        // A value that is not a boolean is ignored, not a crash.
        let config = config(&[("AWS_USE_FIPS_ENDPOINT", "yes")]);
        assert_eq!(config.use_fips(), None);
    }
}
