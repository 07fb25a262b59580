//! `decrypt-env`: the console's KMS "encryption helpers". An environment variable
//! (`ENCRYPTED_KEY`, or the one `ENCRYPTED_ENV_VAR` names) holds base64 KMS ciphertext; the
//! function decrypts it and uses the secret to sign `{"message": "…"}` with HMAC-SHA256.
//!
//! Global: a `static`, initialised on FIRST USE and then kept: one KMS call per container,
//! not one per invocation (KMS calls cost money, add latency and are rate-limited). A failed
//! decryption is not kept, so the next invocation tries again. The plaintext is a
//! `SecretString`: it is never logged and its `Debug` output is redacted. The configuration
//! (the variable, the trust store) is read in init: one that cannot work fails the init.

// The KMS client's nested futures exceed the compiler's default layout depth.
#![recursion_limit = "256"]

use std::sync::Arc;

use aws_sdk_kms::Client as KmsClient;
use functions::{diagnostic, init_or_report, report, start};
use lambda_runtime::{service_fn, Diagnostic, Error, LambdaEvent};
use secrecy::SecretString;
use serde_json::value::RawValue;
use serde_json::Value;
use shared::aws::SdkConfig;
use shared::deadline::Deadline;
use shared::payload;
use shared::secret::{sign, DecryptedOnce, EncryptedEnv, KmsDecryptor, SecretError};

/// The decrypted value, for the life of the container.
static SECRET: DecryptedOnce = DecryptedOnce::new();

/// Where the secret comes from: the encrypted variable, and how to reach KMS.
type Source = Arc<(EncryptedEnv, SdkConfig)>;

fn main() -> Result<(), Error> {
    start(async {
        // Init: the configuration only; KMS is reached only by the first invocation.
        // Invocations arriving together at a new environment wait for that one decryption
        // (single flight).
        let env = init_or_report(EncryptedEnv::from_env()).await?;
        let aws = init_or_report(shared::aws::sdk_config()).await?;
        let source: Source = Arc::new((env, aws));
        lambda_runtime::run_concurrent(service_fn(move |event| {
            let source = source.clone();
            async move { handler(&source, event).await }
        }))
        .await
    })
}

async fn handler(source: &Source, event: LambdaEvent<Box<RawValue>>) -> Result<Value, Diagnostic> {
    report(async {
        let payload: Value = payload::read(&event.payload)
            .map_err(|err| diagnostic(SecretError::InvalidPayload(err.into())))?;
        let deadline = Deadline::from_epoch_millis(event.context.deadline);
        let secret = SECRET
            .get_or_decrypt(|| decrypt(source, deadline))
            .await
            .map_err(diagnostic)?;
        sign(secret, &payload).map_err(diagnostic)
    })
    .await
}

/// Runs once per container (and again only after a failure). The KMS client is built
/// here, so warm invocations never pay for it.
async fn decrypt(source: &Source, deadline: Deadline) -> Result<SecretString, SecretError> {
    let (env, aws) = &**source;
    let kms = KmsDecryptor::new(KmsClient::new(aws));
    env.decrypt(&kms, deadline).await
}
