//! Release builds abort on panic, killing the warm container: feed arbitrary JSON to each
//! function's logic and require an `Ok` or a clear error, never a panic.

use aws_lambda_events::apigw::ApiGatewayV2httpRequest;
use aws_lambda_events::event::s3::S3Event;
use proptest::prelude::*;
use secrecy::SecretString;
use serde_json::{json, Value};
use shared::deadline::Deadline;
use shared::enrich::{enrich, Connector, DbError, EnrichError, LazyConnection, NameLookup};
use shared::s3::{content_types, decode_key, ObjectError, ObjectMetadata, ObjectRef};
use shared::webhook::Delivery;

/// Any JSON, biased towards the fields the functions read.
fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>().prop_map(|f| json!(f)),
        ".{0,12}".prop_map(Value::String),
        "[%+a-f0-9é/ ]{0,12}".prop_map(Value::String),
    ];
    let key = prop_oneof![
        Just("id".to_string()),
        Just("message".to_string()),
        Just("Records".to_string()),
        Just("s3".to_string()),
        Just("bucket".to_string()),
        Just("object".to_string()),
        Just("name".to_string()),
        Just("key".to_string()),
        ".{0,6}",
    ];
    leaf.prop_recursive(5, 96, 8, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map(key.clone(), inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// One generated S3 record: `None` fields are left out of the JSON.
#[derive(Debug, Clone)]
struct Record {
    bucket: Option<String>,
    key: Option<String>,
    event_name: Option<&'static str>,
    version_id: Option<String>,
}

impl Record {
    fn to_json(&self) -> Value {
        let mut object = json!({"size": 1, "eTag": "e", "sequencer": "s"});
        if let Some(key) = &self.key {
            object["key"] = json!(key);
        }
        if let Some(version) = &self.version_id {
            object["versionId"] = json!(version);
        }
        let mut bucket = json!({"ownerIdentity": {"principalId": "P"}, "arn": "arn:aws:s3:::b"});
        if let Some(name) = &self.bucket {
            bucket["name"] = json!(name);
        }
        let mut record = json!({
            "eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": "us-east-1",
            "eventTime": "2026-11-29T12:00:00.000Z",
            "userIdentity": {"principalId": "P"}, "requestParameters": {"sourceIPAddress": "127.0.0.1"},
            "responseElements": {},
            "s3": {"s3SchemaVersion": "1.0", "configurationId": "c", "bucket": bucket, "object": object}
        });
        if let Some(name) = self.event_name {
            record["eventName"] = json!(name);
        }
        record
    }
}

fn any_record() -> impl Strategy<Value = Record> {
    let key = prop_oneof![
        "[a-zA-Z0-9/._ -]{1,20}",                // plain
        "([a-z+/ é]|%[0-9A-F]{2}){1,12}",        // encoded, maybe not UTF-8
        "[a-z]{0,4}(%|%Z|%F|%FF|%C3)[a-z]{0,4}", // badly encoded
    ];
    (
        prop::option::weighted(0.9, "[a-z0-9.-]{3,20}"),
        prop::option::weighted(0.9, key),
        prop::option::of(prop::sample::select(vec![
            "ObjectCreated:Put",
            "ObjectCreated:CompleteMultipartUpload",
            "ObjectRemoved:Delete",
            "ObjectRemoved:DeleteMarkerCreated",
        ])),
        prop::option::of("[a-zA-Z0-9._]{1,32}"),
    )
        .prop_map(|(bucket, key, event_name, version_id)| Record {
            bucket,
            key,
            event_name,
            version_id,
        })
}

/// What the function must answer: per record (bucket, decoded key, version, removed), or
/// the error the first bad record calls for.
#[allow(clippy::type_complexity)]
fn expected(
    records: &[Record],
) -> Result<Vec<(String, String, Option<String>, bool)>, ObjectError> {
    if records.is_empty() {
        return Err(ObjectError::NoRecords);
    }
    let mut found = Vec::new();
    for (index, r) in records.iter().enumerate() {
        let bucket = r.bucket.clone().ok_or(ObjectError::MissingField {
            index,
            field: "bucket name",
        })?;
        let raw = r.key.as_deref().ok_or(ObjectError::MissingField {
            index,
            field: "object key",
        })?;
        // The decoding itself is checked against fixed cases in the unit tests.
        let key = decode_key(raw)?;
        let removed = r
            .event_name
            .is_some_and(|n| n.starts_with("ObjectRemoved:"));
        found.push((bucket, key, r.version_id.clone(), removed));
    }
    Ok(found)
}

/// A database with every name: any failure is the payload's fault.
struct Everyone;
struct EveryoneConn;
impl Connector for Everyone {
    type Conn = EveryoneConn;
    async fn connect(&self, _: Deadline) -> Result<EveryoneConn, DbError> {
        Ok(EveryoneConn)
    }
}
impl NameLookup for EveryoneConn {
    async fn find_name(&mut self, id: u64, _: Deadline) -> Result<Option<String>, DbError> {
        Ok(Some(format!("Person {id}")))
    }
    async fn ping(&mut self, _: Deadline) -> Result<(), DbError> {
        Ok(())
    }
    async fn close(self) -> Result<(), DbError> {
        Ok(())
    }
}

/// An S3 where every object is text.
struct TextObjects;
impl ObjectMetadata for TextObjects {
    async fn content_type(&self, _: &ObjectRef) -> Result<Option<String>, ObjectError> {
        Ok(Some("text/plain".into()))
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 2000,
        failure_persistence: None, // a failure prints its minimal input; nothing is written
        ..ProptestConfig::default()
    })]

    #[test]
    fn rds_enrich_never_panics(payload in any_json()) {
        let mut db = LazyConnection::new(Everyone);
        match runtime().block_on(enrich(payload.clone(), &mut db, Deadline::NONE)) {
            Ok(out) => {
                prop_assert_eq!(&out["id"], &payload["id"]);
                prop_assert!(out["name"].is_string());
            }
            Err(err) => prop_assert!(matches!(err, EnrichError::InvalidPayload(_)), "{err}"),
        }
    }

    /// Well-formed notifications (every field S3 always sends), with what varies: record
    /// counts, buckets and keys (raw, encoded, badly encoded), absent names, removals and
    /// versions. Each reaches `content_types`, and its outcome is checked against the rules.
    #[test]
    fn s3_events_get_the_answer_their_records_call_for(
        records in prop::collection::vec(any_record(), 0..4),
    ) {
        let event: S3Event = serde_json::from_value(json!({
            "Records": records.iter().map(Record::to_json).collect::<Vec<_>>()
        })).expect("a well-formed notification deserialises");
        let outcome = runtime().block_on(content_types(&event, &TextObjects, Deadline::NONE));
        match expected(&records) {
            Ok(found) => {
                let got = outcome.map_err(|e| TestCaseError::fail(e.to_string()))?;
                prop_assert_eq!(got.len(), found.len());
                for (got, (bucket, key, version, removed)) in got.iter().zip(found) {
                    prop_assert_eq!(&got.bucket, &bucket);
                    prop_assert_eq!(&got.key, &key);
                    prop_assert_eq!(&got.version_id, &version);
                    prop_assert_eq!(got.removed, removed);
                    let content_type = (!removed).then(|| "text/plain".to_string());
                    prop_assert_eq!(&got.content_type, &content_type);
                }
            }
            Err(want) => prop_assert_eq!(outcome.unwrap_err(), want),
        }
    }

    #[test]
    fn s3_events_with_any_key_never_panic(
        key in prop_oneof![".{0,40}", "([a-z+/ é]|%[0-9A-Fa-f]{2}|%){0,20}"],
        bucket in "[a-z0-9.-]{0,20}",
    ) {
        let event: S3Event = serde_json::from_value(json!({"Records": [{
            "eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": "us-east-1",
            "eventTime": "2026-11-29T12:00:00.000Z", "eventName": "ObjectCreated:Put",
            "userIdentity": {"principalId": "P"}, "requestParameters": {"sourceIPAddress": "127.0.0.1"},
            "responseElements": {},
            "s3": {"s3SchemaVersion": "1.0", "configurationId": "c",
                   "bucket": {"name": bucket, "ownerIdentity": {"principalId": "P"}, "arn": "arn:aws:s3:::b"},
                   "object": {"key": key, "size": 1, "eTag": "e", "sequencer": "s"}}
        }]})).unwrap();
        let _ = runtime().block_on(content_types(&event, &TextObjects, Deadline::NONE));
        if let Ok(decoded) = decode_key(&key) {
            // Keys without escapes decode to themselves, but for '+' (a space).
            if !key.contains('%') {
                prop_assert_eq!(decoded, key.replace('+', " "));
            }
        }
    }

    /// What decrypt-env does with a request: read it as a function URL / HTTP API event,
    /// then its signature. Headers, body and flags of any shape; the request context too.
    #[test]
    fn decrypt_env_never_panics(
        headers in prop::collection::btree_map(
            prop_oneof![Just("x-hub-signature-256".to_string()), Just("x-github-delivery".to_string()), ".{0,8}"],
            prop_oneof![".{0,80}".prop_map(Value::String), any_json()],
            0..4,
        ),
        body in prop_oneof![Just(Value::Null), ".{0,40}".prop_map(Value::String), any_json()],
        base64 in prop_oneof![any::<bool>().prop_map(Value::Bool), any_json()],
        // What a function URL sends (the method is the one field the type requires), or
        // anything at all.
        context in prop_oneof![
            3 => Just(json!({"http": {"method": "POST", "path": "/", "sourceIp": "192.0.2.1"}})),
            1 => any_json(),
        ],
    ) {
        let event = json!({
            "version": "2.0", "rawPath": "/", "headers": headers, "body": body,
            "isBase64Encoded": base64, "requestContext": context,
        });
        let raw = serde_json::value::to_raw_value(&event).unwrap();
        let Ok(request) = shared::payload::read::<ApiGatewayV2httpRequest>(&raw) else {
            return Ok(()); // InvalidPayload: the function answers that
        };
        match Delivery::read(&request).and_then(|d| d.verify(&SecretString::from("k"))) {
            Ok(_) => prop_assert!(false, "a random signature was accepted: {event}"),
            Err(rejected) => prop_assert!(matches!(rejected.status(), 400 | 401), "{rejected:?}"),
        }
    }
}
