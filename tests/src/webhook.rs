//! Webhook requests for decrypt-env, as a Lambda function URL hands them over (payload
//! format 2.0), signed the way GitHub signs: `X-Hub-Signature-256: sha256=<hex>` of the body.

use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::Sha256;

/// `sha256=<hex>` of `body` under `secret`.
pub fn signature(secret: &str, body: &[u8]) -> String {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret.as_bytes()).expect("any key");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// A function URL event for `body` with `headers` (names lowercased, as function URLs send
/// them).
pub fn event(body: &str, headers: &[(&str, &str)]) -> Value {
    let headers: serde_json::Map<String, Value> = [("content-type", "application/json")]
        .iter()
        .chain(headers)
        .map(|(name, value)| (name.to_ascii_lowercase(), json!(value)))
        .collect();
    json!({
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": "/",
        "rawQueryString": "",
        "headers": headers,
        "requestContext": {
            "accountId": "anonymous",
            "apiId": "e2e",
            "domainName": "e2e.lambda-url.us-east-1.on.aws",
            "http": {"method": "POST", "path": "/", "protocol": "HTTP/1.1",
                     "sourceIp": "192.0.2.1", "userAgent": "GitHub-Hookshot/e2e"},
            "requestId": "e2e-request",
            "routeKey": "$default",
            "stage": "$default",
            "time": "01/Dec/2026:10:00:00 +0000",
            "timeEpoch": 1796119200000u64
        },
        "body": body,
        "isBase64Encoded": false
    })
}

/// A delivery signed with `secret`, with GitHub's event and delivery headers.
pub fn signed(secret: &str, body: &str, delivery: &str) -> Value {
    let signature = signature(secret, body.as_bytes());
    event(
        body,
        &[
            ("x-hub-signature-256", &signature),
            ("x-github-event", "push"),
            ("x-github-delivery", delivery),
        ],
    )
}

/// The HTTP status and JSON body of decrypt-env's answer.
pub fn answer(reply: &Value) -> (u64, Value) {
    let status = reply["statusCode"].as_u64().unwrap_or_default();
    let body = reply["body"]
        .as_str()
        .and_then(|b| serde_json::from_str(b).ok());
    (status, body.unwrap_or(Value::Null))
}
