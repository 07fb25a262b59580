//! Every AWS call a function makes carries its own invocation's X-Ray trace header
//! (`X-Amzn-Trace-Id`), on both execution models: eight invocations at once in one process
//! (Managed Instances, where no `_X_AMZN_TRACE_ID` is set) and one at a time (classic).
//! Checked at a recording proxy in front of moto, with the trace ids handed out by a Runtime
//! API of the test's own (the emulator makes up its own).

use std::collections::HashMap;
use std::process::Child;
use std::time::Duration;

use e2e::proxy::TestProxy;
use e2e::runtime_api::{Extensions, Invocation, RuntimeApi};
use e2e::{bootstrap, spawn_bootstrap, webhook, workspace_root, Services};

fn trace_id(i: usize) -> String {
    format!(
        "Root=1-6750a1b2-{:024x};Parent=53995c3f42cd8ad8;Sampled=1",
        i + 1
    )
}

/// `function` against its own Runtime API, its AWS calls through a recording proxy before
/// moto (50 ms each way, so that invocations served at once overlap).
fn start(
    services: &Services,
    function: &str,
    concurrency: &str,
    extra: &[(&str, &str)],
) -> (RuntimeApi, TestProxy, Child) {
    let moto = format!("127.0.0.1:{}", services.var("MOTO_PORT"));
    let proxy = TestProxy::recording(moto.parse().unwrap(), Duration::from_millis(50));
    let api = RuntimeApi::start(Extensions::Accept);
    let url = format!("http://{}", proxy.addr());
    let mut env = vec![
        ("AWS_LAMBDA_MAX_CONCURRENCY", concurrency),
        ("AWS_ENDPOINT_URL", url.as_str()),
        ("AWS_REGION", "us-east-1"),
        ("AWS_ACCESS_KEY_ID", "test"),
        ("AWS_SECRET_ACCESS_KEY", "test"),
    ];
    env.extend_from_slice(extra);
    let logs = workspace_root().join("target/e2e/logs");
    std::fs::create_dir_all(&logs).unwrap();
    let log = logs.join(format!(
        "{function}-trace-{concurrency}-{}.log",
        std::process::id()
    ));
    let child = spawn_bootstrap(&bootstrap(function), &api.address(), function, &env, &log);
    (api, proxy, child)
}

/// Hands out `payloads`, the i-th with `trace_id(i)`, all at once; waits for every answer.
fn invoke_all(api: &RuntimeApi, payloads: &[String]) {
    for (i, payload) in payloads.iter().enumerate() {
        api.invoke(Invocation {
            request_id: format!("r-{i}"),
            payload: payload.clone(),
            trace_id: Some(trace_id(i)),
            deadline: Duration::from_secs(30),
        });
    }
    for i in 0..payloads.len() {
        let answer = api.answer(&format!("r-{i}"), Duration::from_secs(30));
        assert!(answer.is_some(), "no answer to r-{i}");
    }
}

/// Each S3 request's trace header, by the object key it names.
fn s3_headers(proxy: &TestProxy) -> HashMap<String, Vec<Option<String>>> {
    let mut by_key: HashMap<String, Vec<Option<String>>> = HashMap::new();
    for (line, headers) in proxy.requests() {
        let Some(key) = line
            .split_whitespace()
            .nth(1)
            .and_then(|p| p.rsplit('/').next())
        else {
            continue;
        };
        by_key
            .entry(key.to_string())
            .or_default()
            .push(headers.get("x-amzn-trace-id").cloned());
    }
    by_key
}

fn s3_calls_carry_their_own_header(concurrency: &str, n: usize) {
    let services = Services::load();
    let (api, proxy, mut child) = start(&services, "s3-get-object", concurrency, &[]);
    let bucket = services.var("S3_BUCKET");
    let keys: Vec<String> = (0..n).map(|i| format!("trace-{i}.txt")).collect();
    let payloads: Vec<String> = keys
        .iter()
        .map(|key| e2e::s3_event(&[(bucket, key)]).to_string())
        .collect();
    invoke_all(&api, &payloads);
    let _ = child.kill();
    let _ = child.wait();
    let seen = s3_headers(&proxy);
    for (i, key) in keys.iter().enumerate() {
        let headers = seen
            .get(key)
            .unwrap_or_else(|| panic!("no request for {key}: {seen:?}"));
        for header in headers {
            assert_eq!(header.as_deref(), Some(trace_id(i).as_str()), "{key}");
        }
    }
}

#[test]
fn eight_s3_invocations_at_once_each_send_their_own_trace_header() {
    s3_calls_carry_their_own_header("8", 8);
}

/// One at a time, as on classic Lambda: lambda_runtime sets `_X_AMZN_TRACE_ID` and the SDK
/// would send it; the header is that same value.
#[test]
fn on_classic_lambda_each_s3_call_sends_its_invocation_s_header() {
    s3_calls_carry_their_own_header("1", 3);
}

/// Eight cold invocations at once make one KMS call (single flight): it carries the trace
/// header of one of them, the one that made it, whole.
#[test]
fn decrypt_env_s_one_kms_call_carries_an_invocation_s_own_header() {
    let services = Services::load();
    for (concurrency, n) in [("8", 8), ("1", 1)] {
        let extra = [
            ("ENCRYPTED_KEY", services.var("ENCRYPTED_KEY")),
            (
                "AWS_LAMBDA_FUNCTION_NAME",
                services.var("ENCRYPTED_KEY_FUNCTION_NAME"),
            ),
        ];
        let (api, proxy, mut child) = start(&services, "decrypt-env", concurrency, &extra);
        let secret = services.var("ENCRYPTED_KEY_PLAINTEXT");
        let payloads: Vec<String> = (0..n)
            .map(|i| webhook::signed(secret, "{}", &format!("d-{i}")).to_string())
            .collect();
        invoke_all(&api, &payloads);
        let _ = child.kill();
        let _ = child.wait();
        let decrypts: Vec<Option<String>> = proxy
            .requests()
            .into_iter()
            .filter(|(_, h)| {
                h.get("x-amz-target").map(String::as_str) == Some("TrentService.Decrypt")
            })
            .map(|(_, h)| h.get("x-amzn-trace-id").cloned())
            .collect();
        assert_eq!(decrypts.len(), 1, "{concurrency}: {decrypts:?}");
        let ids: Vec<String> = (0..n).map(trace_id).collect();
        let sent = decrypts[0].clone().unwrap_or_default();
        assert!(
            ids.contains(&sent),
            "{concurrency}: {sent:?} is none of {ids:?}"
        );
    }
}
