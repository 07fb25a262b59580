//! decrypt-env against a private moto (KMS), so a test can stop it without disturbing others.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use e2e::{run, workspace_root, Function, Services};
use hmac::{Hmac, Mac};
use serde_json::json;
use sha2::Sha256;

const PLAINTEXT: &str = "e2e secret: tr0ub4dor&3";
const MESSAGE: &str = "sign me";

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

fn expected_hmac() -> String {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(PLAINTEXT.as_bytes()).unwrap();
    mac.update(MESSAGE.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

#[test]
fn decrypts_once_and_keeps_the_secret_when_kms_goes_away() {
    let services = Services::load();
    let mut moto = Moto::start();
    let f = Function::start(&services, "decrypt-env", &env(&moto, None));
    let want = json!({ "hmac_sha256": expected_hmac() });
    assert_eq!(f.call(&json!({ "message": MESSAGE })), want);

    // KMS is gone: the warm container still answers from the kept plaintext.
    moto.stop();
    for _ in 0..3 {
        assert_eq!(f.call(&json!({ "message": MESSAGE })), want);
    }
    f.assert_answers(&json!({ "message": MESSAGE }));
    let warm_logs = f.logs();
    drop(f);

    // A fresh container has nothing kept and KMS is unreachable: a clear error.
    let fresh = Function::start(&services, "decrypt-env", &env(&moto, None));
    let reply = fresh.invoke(&json!({ "message": MESSAGE }));
    fresh.assert_details_only_in_log(
        &reply,
        "DecryptFailed",
        &["KMS could not decrypt ENCRYPTED_KEY"],
    );
    // Still the same process, answering the same way.
    let again = fresh.assert_answers(&json!({ "message": MESSAGE }));
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
    for _ in 0..2 {
        // Not cached: each invocation asks KMS again and gets the same clear error.
        let reply = f.invoke(&json!({ "message": MESSAGE }));
        f.assert_details_only_in_log(&reply, "DecryptFailed", &["InvalidCiphertextException"]);
        assert!(!reply.body.to_string().contains(PLAINTEXT));
    }
    f.assert_answers(&json!({ "message": MESSAGE }));
    let logs = f.logs();
    assert!(
        logs.contains("DecryptFailed"),
        "the failure is logged:\n{logs}"
    );
    assert_no_secret_in(&logs);
}

#[test]
fn a_payload_without_a_message_is_a_clear_error() {
    let services = Services::load();
    let moto = Moto::start();
    let f = Function::start(&services, "decrypt-env", &env(&moto, None));
    let reply = f.invoke(&json!({ "msg": 1 }));
    assert_eq!(reply.error_type(), "InvalidPayload", "{}", reply.body);
    assert_eq!(
        f.call(&json!({ "message": MESSAGE }))["hmac_sha256"],
        expected_hmac()
    );
    assert_no_secret_in(&f.logs());
}
