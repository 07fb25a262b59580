//! s3-get-object against moto's S3, sent the event notifications S3 sends.

use e2e::{s3_encode_key, s3_event, Function, Services};
use serde_json::{json, Value};

fn aws_env(services: &Services) -> Vec<(&str, &str)> {
    vec![
        ("AWS_ENDPOINT_URL", services.var("AWS_ENDPOINT_URL")),
        ("AWS_REGION", "us-east-1"),
        ("AWS_ACCESS_KEY_ID", "test"),
        ("AWS_SECRET_ACCESS_KEY", "test"),
    ]
}

fn seeded_objects(services: &Services) -> Vec<(String, String)> {
    let objects: serde_json::Map<String, Value> =
        serde_json::from_str(services.var("S3_OBJECTS")).unwrap();
    objects
        .into_iter()
        .map(|(key, ct)| (key, ct.as_str().unwrap().to_string()))
        .collect()
}

#[test]
fn returns_the_content_type_of_every_seeded_key() {
    let services = Services::load();
    let bucket = services.var("S3_BUCKET");
    let f = Function::start(&services, "s3-get-object", &aws_env(&services));
    let objects = seeded_objects(&services);
    assert!(objects.len() >= 5);
    for (key, content_type) in &objects {
        let out = f.call(&s3_event(&[(bucket, key)]));
        assert_eq!(
            out,
            json!([{ "bucket": bucket, "key": key, "content_type": content_type }]),
            "key {key:?} sent as {:?}",
            s3_encode_key(key)
        );
    }
}

#[test]
fn one_event_with_several_records_answers_each_in_order() {
    let services = Services::load();
    let bucket = services.var("S3_BUCKET");
    let f = Function::start(&services, "s3-get-object", &aws_env(&services));
    let objects = seeded_objects(&services);
    let records: Vec<(&str, &str)> = objects.iter().map(|(k, _)| (bucket, k.as_str())).collect();
    let out = f.call(&s3_event(&records));
    let got: Vec<&str> = out
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["content_type"].as_str().unwrap())
        .collect();
    let want: Vec<&str> = objects.iter().map(|(_, ct)| ct.as_str()).collect();
    assert_eq!(got, want);
}

#[test]
fn a_missing_object_is_a_clear_error_naming_bucket_and_key() {
    let services = Services::load();
    let bucket = services.var("S3_BUCKET");
    let f = Function::start(&services, "s3-get-object", &aws_env(&services));
    let reply = f.invoke(&s3_event(&[(bucket, "no such/file+name.txt")]));
    assert!(reply.failed);
    assert_eq!(reply.error_type(), "NotFound", "{}", reply.body);
    assert_eq!(
        reply.error_message(),
        format!("object s3://{bucket}/no such/file+name.txt does not exist")
    );
    // The container survives and serves the next event.
    let next = f.assert_answers(&s3_event(&[(bucket, "plain.txt")]));
    assert_eq!(next.body[0]["content_type"], "text/plain");
}

#[test]
fn an_event_without_records_is_a_clear_error() {
    let services = Services::load();
    let f = Function::start(&services, "s3-get-object", &aws_env(&services));
    let reply = f.invoke(&json!({"Records": []}));
    assert_eq!(reply.error_type(), "InvalidEvent", "{}", reply.body);
    assert_eq!(reply.error_message(), "the event has no records");
    // Not an S3 event at all, or one without a field the notification always has: the
    // function's own error, naming the field, and the same process serves the next event.
    let reply = f.invoke(&json!({"hello": "world"}));
    assert_eq!(reply.error_type(), "InvalidEvent", "{}", reply.body);
    assert!(
        reply.error_message().contains("missing field `Records`"),
        "{}",
        reply.body
    );
    let mut event = s3_event(&[(services.var("S3_BUCKET"), "plain.txt")]);
    event["Records"][0]
        .as_object_mut()
        .unwrap()
        .remove("eventTime");
    let reply = f.invoke(&event);
    assert_eq!(reply.error_type(), "InvalidEvent", "{}", reply.body);
    assert!(
        reply
            .error_message()
            .contains("Records[0]: missing field `eventTime`"),
        "{}",
        reply.body
    );
    let next = f.assert_answers(&s3_event(&[(services.var("S3_BUCKET"), "plain.txt")]));
    assert!(!next.failed, "{}", next.body);
}

#[test]
fn the_version_named_in_the_event_is_the_one_read() {
    let services = Services::load();
    let bucket = services.var("S3_VERSIONED_BUCKET");
    let old = services.var("S3_OLD_VERSION");
    let f = Function::start(&services, "s3-get-object", &aws_env(&services));
    // "report" was overwritten (text/plain, then application/json) before the function ran.
    let mut event = s3_event(&[(bucket, "report")]);
    assert_eq!(f.call(&event)[0]["content_type"], "application/json");
    event["Records"][0]["s3"]["object"]["versionId"] = json!(old);
    assert_eq!(
        f.call(&event),
        json!([{ "bucket": bucket, "key": "report", "version_id": old, "content_type": "text/plain" }])
    );
}

#[test]
fn a_removed_object_is_reported_not_an_error() {
    let services = Services::load();
    let bucket = services.var("S3_BUCKET");
    let f = Function::start(&services, "s3-get-object", &aws_env(&services));
    let mut event = s3_event(&[(bucket, "deleted long ago.txt"), (bucket, "plain.txt")]);
    event["Records"][0]["eventName"] = json!("ObjectRemoved:Delete");
    assert_eq!(
        f.call(&event),
        json!([
            { "bucket": bucket, "key": "deleted long ago.txt", "content_type": null, "removed": true },
            { "bucket": bucket, "key": "plain.txt", "content_type": "text/plain" },
        ])
    );
}
