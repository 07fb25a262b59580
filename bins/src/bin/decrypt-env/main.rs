//! `decrypt-env`: the console's KMS "encryption helpers". An environment variable
//! (`ENCRYPTED_KEY`, or the one `ENCRYPTED_ENV_VAR` names) holds base64 KMS ciphertext; the
//! function decrypts it and uses the secret to sign `{"message": "…"}` with HMAC-SHA256.
//!
//! Global: a `static`, initialised on FIRST USE and then kept: one KMS call per container,
//! not one per invocation (KMS calls cost money, add latency and are rate-limited). A failed
//! decryption is not kept, so the next invocation tries again. The plaintext is a
//! `SecretString`: it is never logged and its `Debug` output is redacted.

// The KMS client's nested futures exceed the compiler's default layout depth.
#![recursion_limit = "256"]

use aws_sdk_kms::Client as KmsClient;
use functions::{diagnostic, report, start};
use lambda_runtime::{service_fn, Diagnostic, Error, LambdaEvent};
use secrecy::SecretString;
use serde_json::value::RawValue;
use serde_json::Value;
use shared::deadline::Deadline;
use shared::payload;
use shared::secret::{sign, DecryptedOnce, EncryptedEnv, KmsDecryptor, SecretError};

/// The decrypted value, for the life of the container.
static SECRET: DecryptedOnce = DecryptedOnce::new();

fn main() -> Result<(), Error> {
    // Init: nothing to build; KMS is reached only by the first invocation. Invocations
    // arriving together at a new environment wait for that one decryption (single flight).
    start(lambda_runtime::run_concurrent(service_fn(handler)))
}

async fn handler(event: LambdaEvent<Box<RawValue>>) -> Result<Value, Diagnostic> {
    report(async {
        let payload: Value = payload::read(&event.payload)
            .map_err(|err| diagnostic(SecretError::InvalidPayload(err.into())))?;
        let deadline = Deadline::from_epoch_millis(event.context.deadline);
        let secret = SECRET
            .get_or_decrypt(|| decrypt_from_env(deadline))
            .await
            .map_err(diagnostic)?;
        sign(secret, &payload).map_err(diagnostic)
    })
    .await
}

/// Runs once per container (and again only after a failure). The KMS client is built
/// here, so warm invocations never pay for it.
async fn decrypt_from_env(deadline: Deadline) -> Result<SecretString, SecretError> {
    let env = EncryptedEnv::from_env()?;
    let kms = KmsDecryptor::new(KmsClient::new(&shared::aws::sdk_config()?));
    env.decrypt(&kms, deadline).await
}
