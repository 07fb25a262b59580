//! A secret in an environment variable, the way the console's "encryption helpers" put it
//! there: base64 KMS ciphertext made under the context `{"LambdaFunctionName": <function
//! name>}`. Decrypted once per container and kept in memory, never logged.

use std::collections::HashMap;
use std::future::Future;

use aws_sdk_kms::error::DisplayErrorContext;
use aws_sdk_kms::primitives::Blob;
use base64::{engine::general_purpose::STANDARD as BASE64, Engine};
use secrecy::SecretString;
use tokio::sync::OnceCell;

use crate::deadline::Deadline;
use crate::ErrorKind;
use std::time::Duration;

/// The variable holding the ciphertext when `ENCRYPTED_ENV_VAR` does not name another.
pub const DEFAULT_ENCRYPTED_VAR: &str = "ENCRYPTED_KEY";

/// Why decrypt-env could not get its secret, or read a request: `Config`, `SecretNotSet`,
/// `DecryptFailed`, `InvalidPayload` or `DeadlineExceeded` as Lambda's `errorType`. Errors
/// never carry the plaintext: only names, lengths and KMS's own messages.
#[derive(Clone, Debug, thiserror::Error)]
pub enum SecretError {
    /// The encrypted variable is not base64, or the function's name is unknown: found at
    /// init, which it fails.
    #[error("invalid configuration: {0}")]
    Config(String),
    /// The encrypted variable is not set yet (a first deployment: the ciphertext can only be
    /// made once the function's name is known). Each signed request gets this error.
    #[error("{0} is not set: the function has no secret yet")]
    NotSet(String),
    /// KMS refused or failed (access denied, a wrong encryption context, throttled, the
    /// network): not kept, so the next invocation tries again.
    #[error("KMS could not decrypt {var}: {message}")]
    Decrypt {
        /// The variable that holds the ciphertext.
        var: String,
        /// KMS's (or the SDK's) error, for the log only.
        message: String,
    },
    /// The request is not a function URL or HTTP API event.
    #[error("invalid payload: {0}")]
    InvalidPayload(std::borrow::Cow<'static, str>),
    /// The invocation's deadline came first.
    #[error("the invocation's deadline came before KMS answered")]
    DeadlineExceeded,
}

impl ErrorKind for SecretError {
    fn kind(&self) -> &'static str {
        match self {
            Self::Config(_) => "Config",
            Self::NotSet(_) => "SecretNotSet",
            Self::Decrypt { .. } => "DecryptFailed",
            Self::InvalidPayload(_) => "InvalidPayload",
            Self::DeadlineExceeded => "DeadlineExceeded",
        }
    }

    fn message_is_public(&self) -> bool {
        matches!(self, Self::InvalidPayload(_) | Self::DeadlineExceeded)
    }
}

/// Decrypts KMS ciphertext.
#[allow(async_fn_in_trait)] // used with concrete types on one task; no Send bound needed
#[cfg_attr(test, mockall::automock)]
pub trait Decryptor {
    /// The plaintext of `ciphertext`, made under `context`; the error is KMS's message.
    async fn decrypt(
        &self,
        ciphertext: &[u8],
        context: HashMap<String, String>,
    ) -> Result<SecretString, String>;
}

/// The encrypted variable, read from the environment.
#[derive(Debug)]
pub struct EncryptedEnv {
    var: String,
    ciphertext: Vec<u8>,
    function_name: String,
}

impl EncryptedEnv {
    /// `ENCRYPTED_ENV_VAR` names the variable (default `ENCRYPTED_KEY`); the context uses
    /// `AWS_LAMBDA_FUNCTION_NAME`, as the console's helper does.
    pub fn from_env() -> Result<Self, SecretError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// As [`from_env`](Self::from_env), with `var` for the environment (for tests). A
    /// missing or empty variable is `NotSet`; one that is not base64 is `Config`.
    pub fn from_lookup(var: impl Fn(&str) -> Option<String>) -> Result<Self, SecretError> {
        let name = var("ENCRYPTED_ENV_VAR").unwrap_or_else(|| DEFAULT_ENCRYPTED_VAR.into());
        let encoded = var(&name)
            .filter(|v| !v.is_empty())
            .ok_or_else(|| SecretError::NotSet(name.clone()))?;
        let ciphertext = BASE64
            .decode(encoded.trim())
            // Not base64's own error: it quotes the offending byte, and a plaintext secret
            // pasted here by mistake would leak, a byte at a time, to logs and callers.
            .map_err(|_| {
                SecretError::Config(format!(
                    "{name} is not base64 (it must hold KMS ciphertext, not a plaintext value)"
                ))
            })?;
        let function_name = var("AWS_LAMBDA_FUNCTION_NAME")
            .filter(|v| !v.is_empty())
            .ok_or_else(|| SecretError::Config("AWS_LAMBDA_FUNCTION_NAME is not set".into()))?;
        Ok(Self {
            var: name,
            ciphertext,
            function_name,
        })
    }

    /// The context the console's helper encrypts with; KMS refuses any other.
    pub fn encryption_context(&self) -> HashMap<String, String> {
        HashMap::from([("LambdaFunctionName".into(), self.function_name.clone())])
    }

    /// Decrypts with `kms`, by the invocation's deadline (the SDK's own timeouts apply too).
    pub async fn decrypt<D: Decryptor>(
        &self,
        kms: &D,
        deadline: Deadline,
    ) -> Result<SecretString, SecretError> {
        deadline
            .run(
                Duration::MAX,
                kms.decrypt(&self.ciphertext, self.encryption_context()),
            )
            .await
            .map_err(|_| SecretError::DeadlineExceeded)?
            .map_err(|message| SecretError::Decrypt {
                var: self.var.clone(),
                message,
            })
    }
}

/// A plaintext decrypted at most once per container: the first successful decryption is
/// kept, a failed one is not (the next invocation tries again). Invocations that ask at
/// once wait for one decryption (single flight). Meant for a `static`.
///
/// ```
/// use secrecy::{ExposeSecret, SecretString};
/// use shared::secret::{DecryptedOnce, SecretError};
///
/// static SECRET: DecryptedOnce = DecryptedOnce::new();
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), SecretError> {
/// let failed = SECRET.get_or_decrypt(|| async { Err(SecretError::DeadlineExceeded) }).await;
/// assert!(failed.is_err() && !SECRET.is_decrypted()); // a failure is not kept
/// let secret = SECRET.get_or_decrypt(|| async { Ok(SecretString::from("s3cret")) }).await?;
/// assert_eq!(secret.expose_secret(), "s3cret");
/// // Kept: this decryption never runs.
/// let again = SECRET.get_or_decrypt(|| async { Ok(SecretString::from("other")) }).await?;
/// assert_eq!(again.expose_secret(), "s3cret");
/// # Ok(())
/// # }
/// ```
pub struct DecryptedOnce(OnceCell<SecretString>);

impl DecryptedOnce {
    /// Nothing decrypted yet (`const`, for a `static`).
    pub const fn new() -> Self {
        Self(OnceCell::const_new())
    }

    /// Whether a decryption succeeded and is kept.
    pub fn is_decrypted(&self) -> bool {
        self.0.initialized()
    }

    /// The kept plaintext, or the one `decrypt` gives, kept if it succeeds. Its error is
    /// returned as it is, and the next call tries again.
    pub async fn get_or_decrypt<F, Fut>(&self, decrypt: F) -> Result<&SecretString, SecretError>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<SecretString, SecretError>>,
    {
        self.0.get_or_try_init(decrypt).await
    }
}

impl Default for DecryptedOnce {
    fn default() -> Self {
        Self::new()
    }
}

/// The real decryptor: a KMS client.
pub struct KmsDecryptor {
    client: aws_sdk_kms::Client,
}

impl KmsDecryptor {
    /// The decryptor over `client` (build it with [`crate::aws::kms_client`], so that its
    /// calls carry the trace header).
    pub fn new(client: aws_sdk_kms::Client) -> Self {
        Self { client }
    }
}

impl Decryptor for KmsDecryptor {
    async fn decrypt(
        &self,
        ciphertext: &[u8],
        context: HashMap<String, String>,
    ) -> Result<SecretString, String> {
        let out = self
            .client
            .decrypt()
            .ciphertext_blob(Blob::new(ciphertext))
            .set_encryption_context(Some(context))
            .send()
            .await
            .map_err(|e| DisplayErrorContext(e.into_service_error()).to_string())?;
        let plaintext = out
            .plaintext
            .ok_or("KMS returned no plaintext")?
            .into_inner();
        String::from_utf8(plaintext)
            .map(SecretString::from)
            .map_err(|_| "the plaintext is not UTF-8 text".into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_kms::config::{BehaviorVersion, Credentials, Region};
    use aws_smithy_http_client::test_util::infallible_client_fn;
    use secrecy::ExposeSecret;
    use serde_json::{json, Value};
    use std::sync::{Arc, Mutex};

    const PLAINTEXT: &str = "Jefe";

    fn env() -> EncryptedEnv {
        EncryptedEnv::from_lookup(|name| match name {
            "ENCRYPTED_KEY" => Some(BASE64.encode(b"ciphertext-bytes")),
            "AWS_LAMBDA_FUNCTION_NAME" => Some("decrypt-env".into()),
            _ => None,
        })
        .unwrap()
    }

    fn kms_returning_plaintext(times: usize) -> MockDecryptor {
        let mut kms = MockDecryptor::new();
        kms.expect_decrypt()
            .times(times)
            .returning(|_, _| Ok(SecretString::from(PLAINTEXT)));
        kms
    }

    #[test]
    fn config_reads_the_named_variable() {
        let env = EncryptedEnv::from_lookup(|name| match name {
            "ENCRYPTED_ENV_VAR" => Some("DB_PASSWORD".into()),
            "DB_PASSWORD" => Some(BASE64.encode(b"abc")),
            "AWS_LAMBDA_FUNCTION_NAME" => Some("f".into()),
            _ => None,
        })
        .unwrap();
        assert_eq!(env.var, "DB_PASSWORD");
        assert_eq!(env.ciphertext, b"abc");
    }

    #[test]
    fn config_errors_are_clear() {
        let missing = EncryptedEnv::from_lookup(|_| None).unwrap_err();
        assert_eq!(
            missing.to_string(),
            "ENCRYPTED_KEY is not set: the function has no secret yet"
        );
        assert_eq!(missing.kind(), "SecretNotSet");
        // A plaintext pasted instead of ciphertext: none of it reaches the message.
        for pasted in ["hunter2!", "pa$$word", "Zm9v~", "abc", "p@ss w0rd"] {
            let not_base64 = EncryptedEnv::from_lookup(|name| match name {
                "ENCRYPTED_KEY" => Some(pasted.into()),
                "AWS_LAMBDA_FUNCTION_NAME" => Some("f".into()),
                _ => None,
            })
            .unwrap_err();
            assert_eq!(
                not_base64.to_string(),
                "invalid configuration: ENCRYPTED_KEY is not base64 (it must hold KMS \
                 ciphertext, not a plaintext value)",
                "{pasted}"
            );
        }
        let no_name = EncryptedEnv::from_lookup(|name| match name {
            "ENCRYPTED_KEY" => Some("YWJj".into()),
            _ => None,
        })
        .unwrap_err();
        assert!(no_name.to_string().contains("AWS_LAMBDA_FUNCTION_NAME"));
    }

    #[tokio::test]
    async fn decrypts_with_the_function_name_as_context() {
        let mut kms = MockDecryptor::new();
        kms.expect_decrypt()
            .withf(|ct, ctx| {
                ct == b"ciphertext-bytes"
                    && ctx.len() == 1
                    && ctx.get("LambdaFunctionName").map(String::as_str) == Some("decrypt-env")
            })
            .times(1)
            .returning(|_, _| Ok(SecretString::from(PLAINTEXT)));
        let secret = env().decrypt(&kms, Deadline::NONE).await.unwrap();
        assert_eq!(secret.expose_secret(), PLAINTEXT);
    }

    #[tokio::test]
    async fn decrypts_once_across_invocations() {
        let kms = kms_returning_plaintext(1);
        let env = env();
        let once = DecryptedOnce::new();
        for _ in 0..10 {
            let secret = once
                .get_or_decrypt(|| env.decrypt(&kms, Deadline::NONE))
                .await
                .unwrap();
            assert_eq!(secret.expose_secret(), PLAINTEXT);
        }
        assert!(once.is_decrypted());
    }

    #[tokio::test]
    async fn a_failed_decryption_is_retried_next_time() {
        let mut kms = MockDecryptor::new();
        let mut calls = 0;
        kms.expect_decrypt().times(2).returning(move |_, _| {
            calls += 1;
            if calls == 1 {
                Err("InvalidCiphertextException".into())
            } else {
                Ok(SecretString::from(PLAINTEXT))
            }
        });
        let env = env();
        let once = DecryptedOnce::new();
        let err = once
            .get_or_decrypt(|| env.decrypt(&kms, Deadline::NONE))
            .await
            .unwrap_err();
        assert_eq!(err.kind(), "DecryptFailed");
        assert!(err.to_string().contains("ENCRYPTED_KEY"), "{err}");
        assert!(!once.is_decrypted());
        once.get_or_decrypt(|| env.decrypt(&kms, Deadline::NONE))
            .await
            .unwrap();
        once.get_or_decrypt(|| env.decrypt(&kms, Deadline::NONE))
            .await
            .unwrap();
    }

    /// N invocations arrive together at a new environment (Managed Instances): one
    /// decryption, which all of them wait for; a failure is shared, then retried by the next.
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn concurrent_first_uses_decrypt_once() {
        use std::sync::atomic::{AtomicUsize, Ordering};
        static ONCE: DecryptedOnce = DecryptedOnce::new();
        static CALLS: AtomicUsize = AtomicUsize::new(0);
        let decrypt = || async {
            CALLS.fetch_add(1, Ordering::SeqCst);
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            Ok(SecretString::from(PLAINTEXT))
        };
        let tasks: Vec<_> = (0..8)
            .map(|_| tokio::spawn(async move { ONCE.get_or_decrypt(decrypt).await.is_ok() }))
            .collect();
        for task in tasks {
            assert!(task.await.unwrap());
        }
        assert_eq!(
            CALLS.load(Ordering::SeqCst),
            1,
            "one KMS call for 8 invocations"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn kms_calls_end_at_the_deadline() {
        let mut kms = MockDecryptor::new();
        kms.expect_decrypt()
            .returning(|_, _| Ok(SecretString::from(PLAINTEXT)));
        struct NeverAnswers;
        impl Decryptor for NeverAnswers {
            async fn decrypt(
                &self,
                _: &[u8],
                _: HashMap<String, String>,
            ) -> Result<SecretString, String> {
                std::future::pending().await
            }
        }
        let deadline = Deadline::after(Duration::from_millis(400));
        let err = env().decrypt(&NeverAnswers, deadline).await.unwrap_err();
        assert_eq!(err.kind(), "DeadlineExceeded");
        env().decrypt(&kms, Deadline::NONE).await.unwrap();
    }

    #[test]
    fn the_secret_never_shows_in_debug_output() {
        let secret = SecretString::from("hunter2-plaintext");
        let shown = format!("{secret:?}");
        assert!(!shown.contains("hunter2"), "{shown}");
    }

    /// A KMS client whose HTTP layer answers with `status`/`body` and records request bodies.
    fn kms_answering(status: u16, body: &'static str) -> (KmsDecryptor, Arc<Mutex<Vec<Value>>>) {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let log = seen.clone();
        let http = infallible_client_fn(move |req| {
            let sent: Value = serde_json::from_slice(req.body().bytes().unwrap()).unwrap();
            log.lock().unwrap().push(sent);
            http::Response::builder()
                .status(status)
                .header("content-type", "application/x-amz-json-1.1")
                .body(body)
                .unwrap()
        });
        let config = aws_sdk_kms::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .credentials_provider(Credentials::for_tests())
            .endpoint_url("http://127.0.0.1:1")
            .http_client(http)
            .build();
        (
            KmsDecryptor::new(aws_sdk_kms::Client::from_conf(config)),
            seen,
        )
    }

    #[tokio::test]
    async fn kms_adapter_sends_ciphertext_and_context() {
        // "SmVmZQ==" is base64 for "Jefe".
        let (kms, seen) = kms_answering(200, r#"{"KeyId":"k","Plaintext":"SmVmZQ=="}"#);
        let secret = env().decrypt(&kms, Deadline::NONE).await.unwrap();
        assert_eq!(secret.expose_secret(), "Jefe");
        let sent = &seen.lock().unwrap()[0];
        assert_eq!(sent["CiphertextBlob"], BASE64.encode(b"ciphertext-bytes"));
        assert_eq!(
            sent["EncryptionContext"],
            json!({"LambdaFunctionName": "decrypt-env"})
        );
    }

    #[tokio::test]
    async fn kms_adapter_reports_a_rejected_ciphertext() {
        let (kms, _) = kms_answering(
            400,
            r#"{"__type":"InvalidCiphertextException","message":"context mismatch"}"#,
        );
        let err = env().decrypt(&kms, Deadline::NONE).await.unwrap_err();
        assert!(
            err.to_string().contains("InvalidCiphertextException"),
            "{err}"
        );
    }
}
