//! `decrypt-env`'s use of its secret: receiving signed webhooks, as GitHub (and most
//! providers) sign them. The signature is HMAC-SHA256 over the raw request body, keyed with
//! the shared secret, sent as `X-Hub-Signature-256: sha256=<hex>`. Requests come from a
//! Lambda function URL or an API Gateway HTTP API (the same payload format, 2.0).
//!
//! The function only ever answers whether a signature is right: it never computes an HMAC
//! for a caller to read (that would let anyone who may invoke it sign with the secret).
//! Nor does it remember deliveries: a captured request sent again is accepted again, and
//! the headers it echoes are not signed (docs/deploy.md, "Send it a signed request").

use aws_lambda_events::apigw::{ApiGatewayV2httpRequest, ApiGatewayV2httpResponse};
use aws_lambda_events::encodings::Body;
use aws_lambda_events::http::{header::CONTENT_TYPE, HeaderMap, HeaderValue};
use base64::{engine::general_purpose::STANDARD as BASE64, Engine};
use hmac::{Hmac, Mac};
use secrecy::{ExposeSecret, SecretString};
use serde_json::json;
use sha2::Sha256;

/// The header that carries the signature (HTTP header names are case-insensitive).
pub const SIGNATURE_HEADER: &str = "x-hub-signature-256";
/// The delivery's id and event type, as GitHub names them: what a 200 says was accepted.
const DELIVERY_HEADER: &str = "x-github-delivery";
const EVENT_HEADER: &str = "x-github-event";
const PREFIX: &str = "sha256=";

/// Why a request is not accepted. None of them says anything of the secret.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Rejected {
    /// No signature header.
    #[error("no {SIGNATURE_HEADER} header")]
    NoSignature,
    /// A header that is not `sha256=` and 64 hex digits (another algorithm, truncated).
    #[error("the signature is not sha256=<64 hex digits>")]
    MalformedSignature,
    /// A well-formed signature of another body, or made with another secret.
    #[error("the signature does not match the body")]
    WrongSignature,
    /// `isBase64Encoded` with a body that is not base64.
    #[error("the body is marked base64 but is not base64")]
    UnreadableBody,
}

impl Rejected {
    /// The HTTP status to answer: 400 for a body that cannot be read, 401 otherwise.
    pub fn status(&self) -> u16 {
        match self {
            Self::UnreadableBody => 400,
            _ => 401,
        }
    }
}

/// A request whose signature is well formed, with its body as it was signed; the secret is
/// needed only from here on (a request without one is refused without decrypting it).
#[derive(Debug)]
pub struct Delivery {
    body: Vec<u8>,
    digest: Vec<u8>,
    id: Option<String>,
    event: Option<String>,
}

/// What a verified delivery was: the answer to its sender.
#[derive(Debug, PartialEq, Eq)]
pub struct Accepted {
    /// `X-GitHub-Delivery`, if it is a short plain token.
    pub id: Option<String>,
    /// `X-GitHub-Event`, likewise.
    pub event: Option<String>,
    /// The body's length.
    pub bytes: usize,
}

impl Delivery {
    /// The request's signature and raw body, before any secret is needed:
    /// `NoSignature`, `MalformedSignature` or `UnreadableBody` when they cannot be read.
    pub fn read(request: &ApiGatewayV2httpRequest) -> Result<Self, Rejected> {
        let header = |name: &str| request.headers.get(name).and_then(|v| v.to_str().ok());
        let signature = request
            .headers
            .get(SIGNATURE_HEADER)
            .ok_or(Rejected::NoSignature)?;
        let digest = signature
            .to_str()
            .ok()
            .and_then(parse_signature)
            .ok_or(Rejected::MalformedSignature)?;
        let body = raw_body(request.body.as_deref(), request.is_base64_encoded)?;
        Ok(Self {
            body,
            digest,
            id: header(DELIVERY_HEADER).and_then(token),
            event: header(EVENT_HEADER).and_then(token),
        })
    }

    /// Checks the signature against the body with `secret`, in constant time.
    pub fn verify(self, secret: &SecretString) -> Result<Accepted, Rejected> {
        verify_digest(secret, &self.body, &self.digest)?;
        Ok(Accepted {
            id: self.id,
            event: self.event,
            bytes: self.body.len(),
        })
    }
}

/// The HTTP answer: 200 with what was accepted, else the rejection's status and reason.
pub fn response(outcome: Result<Accepted, Rejected>) -> ApiGatewayV2httpResponse {
    let (status, body) = match outcome {
        Ok(accepted) => (
            200,
            json!({"accepted": true, "delivery": accepted.id, "event": accepted.event,
                   "bytes": accepted.bytes}),
        ),
        Err(rejected) => (rejected.status(), json!({"error": rejected.to_string()})),
    };
    let mut headers = HeaderMap::new();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    let mut response = ApiGatewayV2httpResponse::default();
    response.status_code = status.into();
    response.headers = headers;
    response.body = Some(Body::Text(body.to_string()));
    response
}

/// A header's value, echoed back only if it is a short plain token (ids and event names
/// are), so that a 200 never carries markup or a long string a caller chose.
fn token(value: &str) -> Option<String> {
    let plain = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.');
    (!value.is_empty() && value.len() <= 64 && value.chars().all(plain)).then(|| value.into())
}

/// `sha256=<64 hex digits>` → the digest's 32 bytes.
fn parse_signature(header: &str) -> Option<Vec<u8>> {
    let hex = header.trim().strip_prefix(PREFIX)?;
    (hex.len() == 64).then(|| hex::decode(hex).ok()).flatten()
}

/// The raw body as it was signed: function URLs and HTTP APIs send a binary body base64
/// encoded (`isBase64Encoded`), a text body as it is.
pub fn raw_body(body: Option<&str>, is_base64_encoded: bool) -> Result<Vec<u8>, Rejected> {
    let body = body.unwrap_or_default();
    match is_base64_encoded {
        true => BASE64.decode(body).map_err(|_| Rejected::UnreadableBody),
        false => Ok(body.as_bytes().to_vec()),
    }
}

/// Checks `signature` (the header's value) against the body, in constant time.
///
/// ```
/// use secrecy::SecretString;
/// use shared::webhook::{verify, Rejected};
///
/// // GitHub's example in "Validating webhook deliveries".
/// let secret = SecretString::from("It's a Secret to Everybody");
/// let signature = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";
/// let check = |body: &[u8], signature| verify(&secret, body, signature);
/// assert_eq!(check(b"Hello, World!", Some(signature)), Ok(()));
/// assert_eq!(check(b"Hello, World?", Some(signature)), Err(Rejected::WrongSignature));
/// assert_eq!(check(b"Hello, World!", None), Err(Rejected::NoSignature));
/// ```
pub fn verify(secret: &SecretString, body: &[u8], signature: Option<&str>) -> Result<(), Rejected> {
    let signature = signature.ok_or(Rejected::NoSignature)?;
    let digest = parse_signature(signature).ok_or(Rejected::MalformedSignature)?;
    verify_digest(secret, body, &digest)
}

fn verify_digest(secret: &SecretString, body: &[u8], digest: &[u8]) -> Result<(), Rejected> {
    // HMAC takes keys of any length: `new_from_slice` cannot fail for it.
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret.expose_secret().as_bytes())
        .map_err(|_| Rejected::WrongSignature)?;
    mac.update(body);
    // `verify_slice` compares in constant time: how long it takes says nothing of how
    // many bytes were right.
    mac.verify_slice(digest)
        .map_err(|_| Rejected::WrongSignature)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// GitHub's example in "Validating webhook deliveries".
    const SECRET: &str = "It's a Secret to Everybody";
    const BODY: &[u8] = b"Hello, World!";
    const SIGNATURE: &str =
        "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";

    fn secret() -> SecretString {
        SecretString::from(SECRET)
    }

    #[test]
    fn githubs_example_verifies() {
        assert_eq!(verify(&secret(), BODY, Some(SIGNATURE)), Ok(()));
        let upper = SIGNATURE.to_uppercase().replace("SHA256=", "sha256=");
        assert_eq!(
            verify(&secret(), BODY, Some(&upper)),
            Ok(()),
            "hex in capitals"
        );
    }

    #[test]
    fn a_wrong_body_secret_or_signature_is_refused() {
        let wrong = |secret: &str, body: &[u8], signature: &str| {
            verify(&SecretString::from(secret), body, Some(signature))
        };
        assert_eq!(
            wrong(SECRET, b"Hello, World?", SIGNATURE),
            Err(Rejected::WrongSignature)
        );
        assert_eq!(
            wrong("another secret", BODY, SIGNATURE),
            Err(Rejected::WrongSignature)
        );
        let flipped = format!("{}8", &SIGNATURE[..SIGNATURE.len() - 1]);
        assert_eq!(wrong(SECRET, BODY, &flipped), Err(Rejected::WrongSignature));
    }

    #[test]
    fn a_missing_truncated_or_other_algorithm_signature_is_refused() {
        assert_eq!(verify(&secret(), BODY, None), Err(Rejected::NoSignature));
        for bad in [
            &SIGNATURE[..SIGNATURE.len() - 2], // truncated
            &SIGNATURE[..7],                   // the prefix alone
            "",
            "757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17", // no prefix
            "sha1=01234567890abcdef01234567890abcdef012345", // GitHub's older header's form
            "sha512=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17",
            "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e1z",
        ] {
            assert_eq!(
                verify(&secret(), BODY, Some(bad)),
                Err(Rejected::MalformedSignature),
                "{bad:?}"
            );
        }
        assert_eq!(Rejected::MalformedSignature.status(), 401);
    }

    #[test]
    fn an_empty_body_is_signed_like_any_other() {
        // HMAC-SHA256 of no bytes under GitHub's example secret, by Python's `hmac`.
        let empty = "sha256=66a0c074deaa0f489ead6537e0d32f9a344b90bbeda705b6ed45ecd3b413fb40";
        let raw = raw_body(None, false).unwrap();
        assert_eq!(verify(&secret(), &raw, Some(empty)), Ok(()));
        assert_eq!(
            verify(&secret(), &raw, Some(SIGNATURE)),
            Err(Rejected::WrongSignature)
        );
    }

    #[test]
    fn a_base64_body_is_verified_as_the_bytes_it_encodes() {
        let encoded = BASE64.encode(BODY);
        let raw = raw_body(Some(&encoded), true).unwrap();
        assert_eq!(raw, BODY);
        assert_eq!(verify(&secret(), &raw, Some(SIGNATURE)), Ok(()));
        // The encoded text is not what was signed.
        let as_text = raw_body(Some(&encoded), false).unwrap();
        assert_eq!(
            verify(&secret(), &as_text, Some(SIGNATURE)),
            Err(Rejected::WrongSignature)
        );
        let err = raw_body(Some("not base64!"), true).unwrap_err();
        assert_eq!((err.clone(), err.status()), (Rejected::UnreadableBody, 400));
    }

    use proptest::prelude::*;

    proptest! {
        /// Whatever the body and the header, verifying is an answer, never a panic; and only
        /// the body's own signature is accepted.
        #[test]
        fn any_body_and_signature_is_answered_and_only_the_right_one_accepted(
            body in prop::collection::vec(any::<u8>(), 0..256),
            header in prop_oneof![
                ".{0,80}",
                "sha256=[0-9a-fA-F]{0,70}",
                Just(String::new()),
            ],
            base64 in any::<bool>(),
        ) {
            let text = String::from_utf8_lossy(&body).into_owned();
            let raw = match raw_body(Some(&text), base64) {
                Ok(raw) => raw,
                Err(err) => {
                    prop_assert!(base64);
                    prop_assert_eq!(err, Rejected::UnreadableBody);
                    return Ok(());
                }
            };
            let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(SECRET.as_bytes()).unwrap();
            mac.update(&raw);
            let right = format!("sha256={}", hex::encode(mac.finalize().into_bytes()));
            prop_assert_eq!(verify(&secret(), &raw, Some(&right)), Ok(()));
            if !header.eq_ignore_ascii_case(&right) {
                prop_assert!(verify(&secret(), &raw, Some(&header)).is_err());
            }
        }
    }

    fn request(
        headers: &[(&str, &str)],
        body: Option<&str>,
        base64: bool,
    ) -> ApiGatewayV2httpRequest {
        let mut request = ApiGatewayV2httpRequest::default();
        for (name, value) in headers {
            request.headers.insert(
                aws_lambda_events::http::HeaderName::from_bytes(name.as_bytes()).unwrap(),
                HeaderValue::from_str(value).unwrap(),
            );
        }
        request.body = body.map(str::to_owned);
        request.is_base64_encoded = base64;
        request
    }

    fn answer(request: &ApiGatewayV2httpRequest) -> (i64, serde_json::Value) {
        let outcome = Delivery::read(request).and_then(|d| d.verify(&secret()));
        let response = response(outcome);
        let Some(Body::Text(body)) = response.body else {
            panic!("{response:?}")
        };
        assert_eq!(response.headers[CONTENT_TYPE], "application/json");
        (response.status_code, serde_json::from_str(&body).unwrap())
    }

    #[test]
    fn a_signed_delivery_is_answered_200_with_what_was_accepted_and_nothing_of_the_secret() {
        let signed = request(
            &[
                ("X-Hub-Signature-256", SIGNATURE),
                ("X-GitHub-Delivery", "72d3162e-cc78-11e3-81ab-4c9367dc0958"),
                ("X-GitHub-Event", "push"),
            ],
            Some("Hello, World!"),
            false,
        );
        let (status, body) = answer(&signed);
        assert_eq!(status, 200);
        assert_eq!(
            body,
            json!({"accepted": true, "delivery": "72d3162e-cc78-11e3-81ab-4c9367dc0958",
                   "event": "push", "bytes": 13})
        );
        let text = body.to_string();
        assert!(
            !text.contains(&SIGNATURE[7..]) && !text.contains("Secret"),
            "{text}"
        );
    }

    #[test]
    fn refusals_are_401_and_400_with_the_reason() {
        let cases = [
            (
                request(&[], Some("Hello, World!"), false),
                401,
                Rejected::NoSignature,
            ),
            (
                request(
                    &[(SIGNATURE_HEADER, "sha256=00")],
                    Some("Hello, World!"),
                    false,
                ),
                401,
                Rejected::MalformedSignature,
            ),
            (
                request(
                    &[(SIGNATURE_HEADER, SIGNATURE)],
                    Some("Hello, World?"),
                    false,
                ),
                401,
                Rejected::WrongSignature,
            ),
            (
                request(&[(SIGNATURE_HEADER, SIGNATURE)], Some("%%%"), true),
                400,
                Rejected::UnreadableBody,
            ),
        ];
        for (request, want_status, why) in cases {
            let (status, body) = answer(&request);
            assert_eq!(
                (status, body),
                (want_status, json!({"error": why.to_string()}))
            );
        }
    }

    #[test]
    fn only_plain_short_tokens_are_echoed() {
        let odd = request(
            &[
                (SIGNATURE_HEADER, SIGNATURE),
                ("x-github-delivery", "<script>alert(1)</script>"),
                ("x-github-event", &"a".repeat(65)),
            ],
            Some("Hello, World!"),
            false,
        );
        let (status, body) = answer(&odd);
        assert_eq!(status, 200);
        assert_eq!(
            (&body["delivery"], &body["event"]),
            (&json!(null), &json!(null))
        );
    }
}
