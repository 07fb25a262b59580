//! `decrypt-env`: a webhook receiver. A request (function URL or HTTP API event) must carry
//! `X-Hub-Signature-256: sha256=<hex>`, the HMAC-SHA256 of its body with a shared secret:
//! 200 if it matches, 401 if not, 400 for a body it cannot read. The secret is held the way
//! the console's KMS "encryption helpers" put it: base64 ciphertext in `ENCRYPTED_KEY`.
//!
//! Global: the plaintext, a `static` decrypted on FIRST USE and then kept: one KMS call per
//! container (KMS calls cost money, add latency and are rate-limited). A failure is not
//! kept: the next invocation tries again. It is a `SecretString`, never logged. Init reads
//! the configuration only: one that cannot work fails the init; a variable not set yet (a
//! first deployment) gets `SecretNotSet` on each signed request instead.

// The KMS client's nested futures exceed the compiler's default layout depth.
#![recursion_limit = "256"]

use std::sync::Arc;

use aws_lambda_events::apigw::{ApiGatewayV2httpRequest, ApiGatewayV2httpResponse};
use functions::{diagnostic, init_or_report, report, start};
use lambda_runtime::{service_fn, Diagnostic, Error, LambdaEvent};
use secrecy::SecretString;
use serde_json::value::RawValue;
use shared::aws::SdkConfig;
use shared::deadline::Deadline;
use shared::payload;
use shared::secret::{DecryptedOnce, EncryptedEnv, KmsDecryptor, SecretError};
use shared::trace_header::traced;
use shared::webhook::{response, Delivery};

/// The decrypted secret, for the life of the container.
static SECRET: DecryptedOnce = DecryptedOnce::new();

/// Where the secret comes from, read in init.
struct Source {
    /// The encrypted variable, unless it is not set yet.
    env: Result<EncryptedEnv, SecretError>,
    /// How to reach KMS.
    aws: SdkConfig,
}

fn main() -> Result<(), Error> {
    start(async {
        // Init: the configuration only; KMS is reached only by the first invocation.
        // Invocations arriving together at a new environment wait for that one decryption
        // (single flight).
        let env = match EncryptedEnv::from_env() {
            Err(not_set @ SecretError::NotSet(_)) => Err(not_set),
            read => Ok(init_or_report(read).await?),
        };
        let aws = init_or_report(shared::aws::sdk_config()).await?;
        let source = Arc::new(Source { env, aws });
        lambda_runtime::run_concurrent(service_fn(move |event| {
            let source = source.clone();
            async move { handler(&source, event).await }
        }))
        .await
    })
}

async fn handler(
    source: &Source,
    event: LambdaEvent<Box<RawValue>>,
) -> Result<ApiGatewayV2httpResponse, Diagnostic> {
    // Every AWS call of this invocation (the KMS one) carries its X-Ray trace header.
    let trace_id = event.context.xray_trace_id.clone();
    report(traced(trace_id, async {
        let request: ApiGatewayV2httpRequest = payload::read(&event.payload)
            .map_err(|err| diagnostic(SecretError::InvalidPayload(err.into())))?;
        // Refused before the secret is needed: no KMS call for an unsigned request.
        let delivery = match Delivery::read(&request) {
            Ok(delivery) => delivery,
            Err(rejected) => return Ok(response(Err(rejected))),
        };
        let deadline = Deadline::from_epoch_millis(event.context.deadline);
        let secret = SECRET
            .get_or_decrypt(|| decrypt(source, deadline))
            .await
            .map_err(diagnostic)?;
        Ok(response(delivery.verify(secret)))
    }))
    .await
}

/// Runs once per container (and again only after a failure). The KMS client is built
/// here, so warm invocations never pay for it.
async fn decrypt(source: &Source, deadline: Deadline) -> Result<SecretString, SecretError> {
    let env = source.env.as_ref().map_err(Clone::clone)?;
    let kms = KmsDecryptor::new(shared::aws::kms_client(&source.aws));
    env.decrypt(&kms, deadline).await
}
