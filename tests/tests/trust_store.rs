//! The AWS functions' HTTPS client verifies what it talks to: an endpoint on 127.0.0.1
//! whose certificate comes from an unknown CA is refused, and accepted once that CA is
//! given in `SSL_CERT_FILE`. The system store is not read (that was most of
//! s3-get-object's init): a CA in `SSL_CERT_DIR`, which the system-store loader reads,
//! is still refused. A bad `SSL_CERT_FILE` is an error per invocation, not a crash.
//! No AWS here: the endpoint is a few lines of Python's http.server behind TLS.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use e2e::{s3_event, Function, Services};

/// An HTTPS server on 127.0.0.1 (a port it picks) with the services' test certificate,
/// signed by their test CA. It answers every HEAD with 200 and `text/plain`.
struct TlsServer {
    child: Child,
    url: String,
}

const SERVER: &str = r#"
import http.server, ssl, sys
class Head(http.server.BaseHTTPRequestHandler):
    def do_HEAD(self):
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", "0")
        self.end_headers()
    def log_message(self, *args):
        pass
server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Head)
tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
tls.load_cert_chain(sys.argv[1], sys.argv[2])
server.socket = tls.wrap_socket(server.socket, server_side=True)
print(server.server_address[1], flush=True)
server.serve_forever()
"#;

impl TlsServer {
    fn start(services: &Services) -> Self {
        let certs = format!("{}/certs", services.var("SERVICES_DIR"));
        let mut child = Command::new("python3")
            .args(["-c", SERVER])
            .arg(format!("{certs}/server.pem"))
            .arg(format!("{certs}/server-key.pem"))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("python3");
        let mut port = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut port)
            .expect("the server's port");
        Self {
            child,
            url: format!("https://127.0.0.1:{}", port.trim()),
        }
    }
}

impl Drop for TlsServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn s3_against<'a>(server: &'a TlsServer, roots: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
    let mut env = vec![
        ("AWS_ENDPOINT_URL", server.url.as_str()),
        ("AWS_REGION", "us-east-1"),
        ("AWS_ACCESS_KEY_ID", "test"),
        ("AWS_SECRET_ACCESS_KEY", "test"),
    ];
    env.extend_from_slice(roots);
    env
}

/// Refused by the certificate check: the caller gets the kind, the log the reason.
fn assert_refused(f: &Function, reply: &e2e::Reply) {
    f.assert_details_only_in_log(reply, "S3RequestFailed", &["certificate"]);
}

#[test]
fn an_unknown_ca_is_refused_and_accepted_once_given() {
    let services = Services::load();
    let server = TlsServer::start(&services);
    let event = s3_event(&[("bucket", "key.txt")]);

    let f = Function::start(&services, "s3-get-object", &s3_against(&server, &[]));
    assert_refused(&f, &f.invoke(&event));
    drop(f);

    // A directory holding the CA: what the system-store loader (rustls-native-certs)
    // would read. Not read, so still refused.
    let certs = format!("{}/certs", services.var("SERVICES_DIR"));
    let env = s3_against(&server, &[("SSL_CERT_DIR", &certs)]);
    let f = Function::start(&services, "s3-get-object", &env);
    assert_refused(&f, &f.invoke(&event));
    drop(f);

    let ca = format!("{certs}/ca.pem");
    let f = Function::start(
        &services,
        "s3-get-object",
        &s3_against(&server, &[("SSL_CERT_FILE", &ca)]),
    );
    let reply = f.invoke(&event);
    // Verified, and trusted: the request reached the server and got its answer.
    assert!(!reply.failed, "{}", reply.body);
    assert_eq!(
        reply.body[0]["content_type"], "text/plain",
        "{}",
        reply.body
    );
}
