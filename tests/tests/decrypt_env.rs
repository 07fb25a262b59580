//! decrypt-env against a private moto (KMS), so a test can stop it without disturbing others.

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

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
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new("moto_server")
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("moto_server (installed by `make services`)");
        let endpoint = format!("http://127.0.0.1:{port}");
        let start = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                start.elapsed() < Duration::from_secs(60),
                "moto did not start"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
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

/// Fails if the secret shows in `logs`, as text or as KMS sends it (base64 in JSON).
fn assert_no_secret_in(logs: &str) {
    use base64::Engine;
    let encoded = base64::engine::general_purpose::STANDARD.encode(PLAINTEXT);
    assert!(!logs.contains(PLAINTEXT), "plaintext in logs:\n{logs}");
    assert!(
        !logs.contains(&encoded),
        "base64 plaintext in logs:\n{logs}"
    );
    assert!(logs.lines().count() > 10, "the logs were captured:\n{logs}");
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
    let mut f = Function::start(&services, "decrypt-env", &env(&moto, None));
    let want = json!({ "hmac_sha256": expected_hmac() });
    assert_eq!(f.call(&json!({ "message": MESSAGE })), want);

    // KMS is gone: the warm container still answers from the kept plaintext.
    moto.stop();
    for _ in 0..3 {
        assert_eq!(f.call(&json!({ "message": MESSAGE })), want);
    }
    assert!(f.is_running());
    let warm_logs = f.logs();
    drop(f);

    // A fresh container has nothing kept and KMS is unreachable: a clear error.
    let mut fresh = Function::start(&services, "decrypt-env", &env(&moto, None));
    let reply = fresh.invoke(&json!({ "message": MESSAGE }));
    assert!(reply.failed);
    assert_eq!(reply.error_type(), "DecryptFailed", "{}", reply.body);
    assert!(
        reply
            .error_message()
            .starts_with("KMS could not decrypt ENCRYPTED_KEY"),
        "{}",
        reply.body
    );
    assert!(fresh.is_running());

    for logs in [warm_logs, fresh.logs()] {
        assert_no_secret_in(&logs);
    }
}

#[test]
fn a_wrong_encryption_context_is_refused_without_revealing_anything() {
    let services = Services::load();
    let moto = Moto::start();
    // Encrypted for "decrypt-env", running as another function: KMS refuses.
    let mut f = Function::start(&services, "decrypt-env", &env(&moto, Some("someone-else")));
    for _ in 0..2 {
        // Not cached: each invocation asks KMS again and gets the same clear error.
        let reply = f.invoke(&json!({ "message": MESSAGE }));
        assert_eq!(reply.error_type(), "DecryptFailed", "{}", reply.body);
        assert!(
            reply.error_message().contains("InvalidCiphertextException"),
            "{}",
            reply.body
        );
        assert!(!reply.body.to_string().contains(PLAINTEXT));
    }
    assert!(f.is_running());
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
