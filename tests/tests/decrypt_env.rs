//! decrypt-env against a private moto (KMS), so a test can stop it without disturbing others.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use e2e::webhook;
use e2e::{run, workspace_root, Function, Services};
use serde_json::{json, Value};

const PLAINTEXT: &str = "e2e secret: tr0ub4dor&3";

/// A moto server of this test's own, seeded with an ENCRYPTED_KEY for `function_name`.
struct Moto {
    child: Child,
    endpoint: String,
    encrypted_key: String,
}

impl Moto {
    fn start() -> Self {
        // Port 0: moto binds a free port itself and prints it (probing for a free port and
        // handing it over could collide with a test running beside this one).
        let mut child = Command::new("moto_server")
            .args(["-H", "127.0.0.1", "-p", "0"])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("moto_server (installed by `make services`)");
        let (tx, rx) = std::sync::mpsc::channel();
        let stderr = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            // Reads moto's log to the end, so that it never blocks on a full pipe.
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(port) = line.split("http://127.0.0.1:").nth(1) {
                    let _ = tx.send(port.trim().to_string());
                }
            }
        });
        let port = rx
            .recv_timeout(Duration::from_secs(60))
            .expect("moto did not say which port it listens on");
        let endpoint = format!("http://127.0.0.1:{port}");
        let seeded = run(Command::new("python3")
            .arg(workspace_root().join("scripts/seed-aws.py"))
            .args([
                "--endpoint",
                &endpoint,
                "--plaintext",
                PLAINTEXT,
                "--function-name",
                "decrypt-env",
            ]));
        let encrypted_key = seeded
            .lines()
            .find_map(|l| l.strip_prefix("ENCRYPTED_KEY="))
            .unwrap()
            .to_string();
        Self {
            child,
            endpoint,
            encrypted_key,
        }
    }

    fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        self.stop();
    }
}

fn env<'a>(moto: &'a Moto, function_name_in_context: Option<&'a str>) -> Vec<(&'a str, &'a str)> {
    let mut env = vec![
        // The most verbose level: the SDK logs its requests and responses.
        ("AWS_LAMBDA_LOG_LEVEL", "TRACE"),
        ("AWS_ENDPOINT_URL", moto.endpoint.as_str()),
        ("AWS_REGION", "us-east-1"),
        ("AWS_ACCESS_KEY_ID", "test"),
        ("AWS_SECRET_ACCESS_KEY", "test"),
        ("ENCRYPTED_KEY", moto.encrypted_key.as_str()),
    ];
    if let Some(name) = function_name_in_context {
        env.push(("AWS_LAMBDA_FUNCTION_NAME", name));
    }
    env
}

/// Fails if the secret shows in `logs` in any form it could take: as text, in base64 (as
/// KMS sends it; padded or not, standard or URL-safe), in hex, or as Rust prints bytes.
/// And fails if the SDK's own TRACE lines are missing: then nothing was really searched.
fn assert_no_secret_in(logs: &str) {
    use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
    use base64::Engine;
    let bytes = PLAINTEXT.as_bytes();
    let forms = [
        ("text", PLAINTEXT.to_string()),
        ("base64", STANDARD.encode(bytes)),
        ("base64, unpadded", STANDARD_NO_PAD.encode(bytes)),
        ("base64, URL-safe", URL_SAFE.encode(bytes)),
        ("base64, URL-safe unpadded", URL_SAFE_NO_PAD.encode(bytes)),
        ("hex", hex::encode(bytes)),
        ("HEX", hex::encode_upper(bytes)),
        ("Debug of the bytes", format!("{bytes:?}")),
    ];
    for (form, needle) in &forms {
        assert!(
            !logs.contains(needle.as_str()),
            "the secret as {form} in the logs:\n{logs}"
        );
    }
    // The SDK signs each KMS request and logs it at TRACE: the level really reached it.
    assert!(
        logs.contains(r#""level":"TRACE","fields":{"message":"signing request""#),
        "no SDK TRACE output was captured:\n{logs}"
    );
}

/// A delivery signed with the secret, and what decrypt-env answers for it when accepted.
fn delivery(id: &str) -> (Value, Value) {
    let body = r#"{"ref":"refs/heads/main","commits":[]}"#;
    let accepted = json!({"accepted": true, "delivery": id, "event": "push", "bytes": body.len()});
    (webhook::signed(PLAINTEXT, body, id), accepted)
}

#[test]
fn decrypts_once_and_keeps_the_secret_when_kms_goes_away() {
    let services = Services::load();
    let mut moto = Moto::start();
    let f = Function::start(&services, "decrypt-env", &env(&moto, None));
    let (request, accepted) = delivery("d-1");
    assert_eq!(webhook::answer(&f.call(&request)), (200, accepted.clone()));

    // KMS is gone: the warm container still verifies with the kept plaintext.
    moto.stop();
    for _ in 0..3 {
        assert_eq!(webhook::answer(&f.call(&request)), (200, accepted.clone()));
    }
    f.assert_answers(&request);
    let warm_logs = f.logs();
    drop(f);

    // A fresh container has nothing kept and KMS is unreachable. An unsigned request is
    // refused without the secret; a signed one needs it: a clear error.
    let fresh = Function::start(&services, "decrypt-env", &env(&moto, None));
    let unsigned = webhook::event("{}", &[]);
    let (status, _) = webhook::answer(&fresh.call(&unsigned));
    assert_eq!(status, 401);
    let reply = fresh.invoke(&request);
    fresh.assert_details_only_in_log(
        &reply,
        "DecryptFailed",
        &["KMS could not decrypt ENCRYPTED_KEY"],
    );
    // Still the same process, answering the same way.
    let again = fresh.assert_answers(&request);
    assert_eq!(again.error_type(), "DecryptFailed");

    for logs in [warm_logs, fresh.logs()] {
        assert_no_secret_in(&logs);
    }
}

#[test]
fn a_wrong_encryption_context_is_refused_without_revealing_anything() {
    let services = Services::load();
    let moto = Moto::start();
    // Encrypted for "decrypt-env", running as another function: KMS refuses.
    let f = Function::start(&services, "decrypt-env", &env(&moto, Some("someone-else")));
    let (request, _) = delivery("d-2");
    for _ in 0..2 {
        // Not cached: each invocation asks KMS again and gets the same clear error.
        let reply = f.invoke(&request);
        f.assert_details_only_in_log(&reply, "DecryptFailed", &["InvalidCiphertextException"]);
        assert!(!reply.body.to_string().contains(PLAINTEXT));
    }
    f.assert_answers(&request);
    let logs = f.logs();
    assert!(
        logs.contains("DecryptFailed"),
        "the failures are logged:\n{logs}"
    );
    assert_no_secret_in(&logs);
}

/// What GitHub's documentation shows, through the whole function: a wrong, truncated or
/// differently prefixed signature is a 401, a body that cannot be read a 400, an event that
/// is not an HTTP request an error; a base64 body is verified as the bytes it encodes; and
/// the answer never carries an HMAC.
#[test]
fn signatures_are_checked_as_github_signs_them() {
    let services = Services::load();
    let moto = Moto::start();
    let f = Function::start(&services, "decrypt-env", &env(&moto, None));
    let body = "Hello, World!";
    let right = webhook::signature(PLAINTEXT, body.as_bytes());
    let sign = |signature: &str| webhook::event(body, &[("x-hub-signature-256", signature)]);
    let status = |request: &Value| webhook::answer(&f.call(request)).0;
    assert_eq!(status(&sign(&right)), 200);
    let wrong = webhook::signature("another secret", body.as_bytes());
    let truncated = &right[..right.len() - 2];
    let sha1 = right.replace("sha256=", "sha1=");
    for bad in [wrong.as_str(), truncated, &sha1, ""] {
        assert_eq!(status(&sign(bad)), 401, "{bad:?}");
    }
    // Base64 (as a function URL sends a binary body): verified as the bytes it encodes.
    use base64::Engine;
    let mut encoded = sign(&right);
    encoded["body"] = json!(base64::engine::general_purpose::STANDARD.encode(body));
    encoded["isBase64Encoded"] = json!(true);
    assert_eq!(status(&encoded), 200);
    encoded["body"] = json!("%%% not base64");
    assert_eq!(status(&encoded), 400);
    // An empty body is signed like any other.
    let empty = webhook::signature(PLAINTEXT, b"");
    let mut request = webhook::event("", &[("x-hub-signature-256", &empty)]);
    assert_eq!(status(&request), 200);
    request["body"] = Value::Null;
    assert_eq!(status(&request), 200);
    // Not an HTTP request at all: the function's own error, and it serves on.
    let reply = f.assert_answers(&json!({"message": "sign me"}));
    assert_eq!(reply.error_type(), "InvalidPayload", "{}", reply.body);
    let answered = f.call(&sign(&right)).to_string();
    assert!(
        !answered.contains(&right[7..]),
        "an HMAC in the answer: {answered}"
    );
    assert_no_secret_in(&f.logs());
}

/// A first deployment: the ciphertext can only be made once the function's name is known,
/// so the variable is empty. The function starts (an init error would fail a deployment on
/// Managed Instances); it refuses unsigned requests as always, and answers signed ones
/// `SecretNotSet` until the variable is set, without calling KMS.
#[test]
fn an_encrypted_variable_not_set_yet_is_an_error_per_request_not_an_init_failure() {
    let services = Services::load();
    let moto = Moto::start();
    let mut env = env(&moto, None);
    env.retain(|(name, _)| *name != "ENCRYPTED_KEY");
    env.push(("ENCRYPTED_KEY", ""));
    let f = Function::start(&services, "decrypt-env", &env);
    let (status, _) = webhook::answer(&f.call(&webhook::event("{}", &[])));
    assert_eq!(status, 401);
    let (request, _) = delivery("d-3");
    for _ in 0..2 {
        let reply = f.assert_answers(&request);
        f.assert_details_only_in_log(&reply, "SecretNotSet", &["ENCRYPTED_KEY is not set"]);
    }
    assert!(
        !f.logs().contains("TrentService.Decrypt"),
        "KMS was called:\n{}",
        f.logs()
    );
}
