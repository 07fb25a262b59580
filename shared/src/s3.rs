//! `s3-get-object`: AWS's blueprint. For each record of an S3 event notification, the
//! object's content type, read with HeadObject (metadata only: no body is transferred).

use aws_lambda_events::event::s3::S3Event;
use aws_sdk_s3::error::DisplayErrorContext;
use aws_sdk_s3::operation::head_object::HeadObjectError;
use percent_encoding::percent_decode_str;
use serde::Serialize;

use crate::deadline::Deadline;
use crate::ErrorKind;
use std::time::Duration;

/// Why s3-get-object could not answer an event: `InvalidEvent` (what the event holds),
/// `NotFound`, `DeadlineExceeded` or `S3RequestFailed` as Lambda's `errorType`.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ObjectError {
    /// The payload is not an S3 event notification; the message names the field at fault.
    #[error("the event is not an S3 notification: {0}")]
    Unreadable(String),
    /// The event holds no record.
    #[error("the event has no records")]
    NoRecords,
    /// The invocation's deadline came first.
    #[error("the invocation's deadline came before S3 answered")]
    DeadlineExceeded,
    /// A record lacks its bucket name or object key.
    #[error("record {index} of the event has no {field}")]
    MissingField {
        /// The record's position in the event, from 0.
        index: usize,
        /// What it lacks.
        field: &'static str,
    },
    /// A key that does not decode ([`decode_key`]).
    #[error("object key {key:?} is not valid URL-encoded UTF-8")]
    InvalidKey {
        /// The key as the event sent it.
        key: String,
    },
    /// S3 has no such object (or version).
    #[error("object s3://{bucket}/{key} does not exist")]
    NotFound {
        /// The bucket.
        bucket: String,
        /// The decoded key.
        key: String,
    },
    /// Any other failure of the request: credentials, permissions, network, TLS. Its
    /// message goes to the log only.
    #[error("reading s3://{bucket}/{key} failed: {message}")]
    Request {
        /// The bucket.
        bucket: String,
        /// The decoded key.
        key: String,
        /// The SDK's error, with its causes.
        message: String,
    },
}

impl ErrorKind for ObjectError {
    fn kind(&self) -> &'static str {
        match self {
            Self::Unreadable(_)
            | Self::NoRecords
            | Self::MissingField { .. }
            | Self::InvalidKey { .. } => "InvalidEvent",
            Self::DeadlineExceeded => "DeadlineExceeded",
            Self::NotFound { .. } => "NotFound",
            Self::Request { .. } => "S3RequestFailed",
        }
    }

    /// All but a failed request describe the event: its records, keys and objects.
    fn message_is_public(&self) -> bool {
        !matches!(self, Self::Request { .. })
    }
}

/// One object version named by an event record.
#[derive(Debug, Clone, PartialEq)]
pub struct ObjectRef {
    /// The bucket's name.
    pub bucket: String,
    /// The object's key, decoded.
    pub key: String,
    /// Set for versioned buckets: the version the event is about, not whatever the key
    /// names by the time the function runs (it may have been overwritten meanwhile).
    pub version_id: Option<String>,
}

/// Reads an object's metadata.
#[allow(async_fn_in_trait)] // used with concrete types on one task; no Send bound needed
#[cfg_attr(test, mockall::automock)]
pub trait ObjectMetadata {
    /// The object's `Content-Type`, `None` if S3 has none for it; `NotFound` or `Request`
    /// when S3 cannot say.
    async fn content_type(&self, object: &ObjectRef) -> Result<Option<String>, ObjectError>;
}

/// What s3-get-object answers for one record: `{"bucket", "key", "content_type"}`, with
/// `"version_id"` when the record names one and `"removed": true` for a deletion.
#[derive(Debug, Serialize, PartialEq)]
pub struct ObjectContentType {
    /// The bucket's name.
    pub bucket: String,
    /// The object's key, decoded.
    pub key: String,
    /// The version the record names, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version_id: Option<String>,
    /// The object's `Content-Type`; `None` for a removal or an object without one.
    pub content_type: Option<String>,
    /// An `ObjectRemoved:*` record: nothing to read, and not an error (an error would make
    /// Lambda retry the event and send it to the failure destination).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub removed: bool,
}

/// S3 sends keys form-encoded: `+` for a space, `%XX` for other bytes of UTF-8.
/// (A literal `+` arrives as `%2B`, so replacing `+` first is exact.) Bytes that are not
/// UTF-8 are `InvalidKey`.
///
/// ```
/// use shared::s3::decode_key;
///
/// let key = decode_key("reports/2024+Q1%2Bnotes%C3%A9.csv").unwrap();
/// assert_eq!(key, "reports/2024 Q1+notesé.csv");
/// assert!(decode_key("%FF").is_err());
/// ```
pub fn decode_key(raw: &str) -> Result<String, ObjectError> {
    percent_decode_str(&raw.replace('+', " "))
        .decode_utf8()
        .map(|key| key.into_owned())
        .map_err(|_| ObjectError::InvalidKey {
            key: raw.to_string(),
        })
}

/// The content type of every object named in the event, in record order, by the
/// invocation's deadline (the SDK's own timeouts apply too). The first record that fails
/// fails the invocation, so that Lambda retries the event.
pub async fn content_types<M: ObjectMetadata>(
    event: &S3Event,
    store: &M,
    deadline: Deadline,
) -> Result<Vec<ObjectContentType>, ObjectError> {
    if event.records.is_empty() {
        return Err(ObjectError::NoRecords);
    }
    let mut found = Vec::with_capacity(event.records.len());
    for (index, record) in event.records.iter().enumerate() {
        let missing = |field| ObjectError::MissingField { index, field };
        let bucket = record
            .s3
            .bucket
            .name
            .clone()
            .ok_or(missing("bucket name"))?;
        let key = decode_key(
            record
                .s3
                .object
                .key
                .as_deref()
                .ok_or(missing("object key"))?,
        )?;
        let object = ObjectRef {
            bucket,
            key,
            version_id: record
                .s3
                .object
                .version_id
                .clone()
                .filter(|v| !v.is_empty()),
        };
        let removed = record
            .event_name
            .as_deref()
            .is_some_and(|name| name.starts_with("ObjectRemoved:"));
        let content_type = if removed {
            None
        } else {
            deadline
                .run(Duration::MAX, store.content_type(&object))
                .await
                .map_err(|_| ObjectError::DeadlineExceeded)??
        };
        found.push(ObjectContentType {
            bucket: object.bucket,
            key: object.key,
            version_id: object.version_id,
            content_type,
            removed,
        });
    }
    Ok(found)
}

/// The real store: an S3 client, built once per environment. Clones share the client.
#[derive(Clone)]
pub struct S3Metadata {
    client: aws_sdk_s3::Client,
}

impl S3Metadata {
    /// The store over `client` (build it with [`crate::aws::s3_client`], so that its calls
    /// carry the trace header).
    pub fn new(client: aws_sdk_s3::Client) -> Self {
        Self { client }
    }
}

impl ObjectMetadata for S3Metadata {
    async fn content_type(&self, object: &ObjectRef) -> Result<Option<String>, ObjectError> {
        let (bucket, key) = (object.bucket.as_str(), object.key.as_str());
        match self
            .client
            .head_object()
            .bucket(bucket)
            .key(key)
            .set_version_id(object.version_id.clone())
            .send()
            .await
        {
            Ok(head) => Ok(head.content_type),
            Err(err) => Err(match err.into_service_error() {
                HeadObjectError::NotFound(_) => ObjectError::NotFound {
                    bucket: bucket.into(),
                    key: key.into(),
                },
                other => ObjectError::Request {
                    bucket: bucket.into(),
                    key: key.into(),
                    message: DisplayErrorContext(other).to_string(),
                },
            }),
        }
    }
}

/// A client for unit tests: test credentials, `http` for its HTTP layer (nothing leaves).
#[cfg(test)]
pub(crate) fn test_client_config(
    http: aws_smithy_runtime_api::client::http::SharedHttpClient,
) -> aws_sdk_s3::config::Builder {
    use aws_sdk_s3::config::{BehaviorVersion, Credentials, Region};
    aws_sdk_s3::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::for_tests())
        .endpoint_url("http://127.0.0.1:1")
        .force_path_style(true)
        .http_client(http)
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_smithy_http_client::test_util::infallible_client_fn;
    use mockall::predicate::eq;
    use serde_json::json;
    use std::sync::{Arc, Mutex};

    /// An event as S3 sends it (trimmed of fields the function does not read).
    fn event(records: &[(&str, &str)]) -> S3Event {
        let records: Vec<_> = records
            .iter()
            .map(|(bucket, key)| {
                json!({
                    "eventVersion": "2.1",
                    "eventSource": "aws:s3",
                    "awsRegion": "us-east-1",
                    "eventTime": "2026-11-29T12:00:00.000Z",
                    "eventName": "ObjectCreated:Put",
                    "userIdentity": {"principalId": "EXAMPLE"},
                    "requestParameters": {"sourceIPAddress": "127.0.0.1"},
                    "responseElements": {"x-amz-request-id": "R", "x-amz-id-2": "I"},
                    "s3": {
                        "s3SchemaVersion": "1.0",
                        "configurationId": "testConfigRule",
                        "bucket": {"name": bucket, "ownerIdentity": {"principalId": "EXAMPLE"},
                                   "arn": format!("arn:aws:s3:::{bucket}")},
                        "object": {"key": key, "size": 1024, "eTag": "0123456789abcdef",
                                   "sequencer": "0A1B2C3D4E5F678901"}
                    }
                })
            })
            .collect();
        serde_json::from_value(json!({ "Records": records })).unwrap()
    }

    #[test]
    fn keys_are_url_decoded() {
        let cases = [
            ("plain.txt", "plain.txt"),
            ("a+b.txt", "a b.txt"),
            ("a%2Bb.txt", "a+b.txt"),
            ("caf%C3%A9.txt", "café.txt"),
            ("dir%2Fsub/file+name%21.json", "dir/sub/file name!.json"),
            ("nested/path/to/x.csv", "nested/path/to/x.csv"),
            ("%E2%82%AC+100%25", "€ 100%"),
        ];
        for (raw, want) in cases {
            assert_eq!(decode_key(raw).unwrap(), want, "{raw}");
        }
    }

    #[test]
    fn invalid_utf8_keys_are_rejected() {
        let err = decode_key("bad%FF").unwrap_err();
        assert_eq!(err.kind(), "InvalidEvent");
    }

    #[tokio::test]
    async fn returns_the_content_type_of_each_record() {
        let mut store = MockObjectMetadata::new();
        store
            .expect_content_type()
            .with(eq(object("photos", "summer holiday/café.jpg")))
            .times(1)
            .returning(|_| Ok(Some("image/jpeg".into())));
        store
            .expect_content_type()
            .with(eq(object("docs", "a+b.txt")))
            .times(1)
            .returning(|_| Ok(Some("text/plain".into())));
        let event = event(&[
            ("photos", "summer+holiday/caf%C3%A9.jpg"),
            ("docs", "a%2Bb.txt"),
        ]);
        let found = content_types(&event, &store, Deadline::NONE).await.unwrap();
        assert_eq!(
            found,
            vec![
                ObjectContentType {
                    bucket: "photos".into(),
                    key: "summer holiday/café.jpg".into(),
                    version_id: None,
                    content_type: Some("image/jpeg".into()),
                    removed: false,
                },
                ObjectContentType {
                    bucket: "docs".into(),
                    key: "a+b.txt".into(),
                    version_id: None,
                    content_type: Some("text/plain".into()),
                    removed: false,
                },
            ]
        );
    }

    fn object(bucket: &str, key: &str) -> ObjectRef {
        ObjectRef {
            bucket: bucket.into(),
            key: key.into(),
            version_id: None,
        }
    }

    #[tokio::test]
    async fn the_version_the_event_names_is_the_one_read() {
        let mut store = MockObjectMetadata::new();
        let v1 = ObjectRef {
            version_id: Some("3HL4kqtJlcpXroDTDmJ+rmSpXd3dIbrHY".into()),
            ..object("b", "report.txt")
        };
        store
            .expect_content_type()
            .with(eq(v1))
            .times(1)
            .returning(|_| Ok(Some("text/plain".into())));
        let mut event = event(&[("b", "report.txt")]);
        event.records[0].s3.object.version_id = Some("3HL4kqtJlcpXroDTDmJ+rmSpXd3dIbrHY".into());
        let found = content_types(&event, &store, Deadline::NONE).await.unwrap();
        let json = serde_json::to_value(&found).unwrap();
        assert_eq!(
            json,
            json!([{"bucket": "b", "key": "report.txt", "content_type": "text/plain",
                    "version_id": "3HL4kqtJlcpXroDTDmJ+rmSpXd3dIbrHY"}])
        );
    }

    #[tokio::test]
    async fn removed_objects_are_reported_not_read() {
        let mut store = MockObjectMetadata::new();
        store
            .expect_content_type()
            .with(eq(object("b", "kept.txt")))
            .times(1)
            .returning(|_| Ok(Some("text/plain".into())));
        let mut event = event(&[("b", "gone.txt"), ("b", "gone+too.txt"), ("b", "kept.txt")]);
        event.records[0].event_name = Some("ObjectRemoved:Delete".into());
        event.records[1].event_name = Some("ObjectRemoved:DeleteMarkerCreated".into());
        let found = content_types(&event, &store, Deadline::NONE).await.unwrap();
        assert_eq!(
            serde_json::to_value(&found).unwrap(),
            json!([
                {"bucket": "b", "key": "gone.txt", "content_type": null, "removed": true},
                {"bucket": "b", "key": "gone too.txt", "content_type": null, "removed": true},
                {"bucket": "b", "key": "kept.txt", "content_type": "text/plain"},
            ])
        );
    }

    /// A store that never answers (a black-holed endpoint): the deadline ends the wait.
    struct NeverAnswers;
    impl ObjectMetadata for NeverAnswers {
        async fn content_type(&self, _: &ObjectRef) -> Result<Option<String>, ObjectError> {
            std::future::pending().await
        }
    }

    #[tokio::test(start_paused = true)]
    async fn s3_calls_end_at_the_deadline() {
        let start = tokio::time::Instant::now();
        let deadline = Deadline::after(std::time::Duration::from_millis(700));
        let err = content_types(&event(&[("b", "k")]), &NeverAnswers, deadline)
            .await
            .unwrap_err();
        assert_eq!(err, ObjectError::DeadlineExceeded);
        assert_eq!(err.kind(), "DeadlineExceeded");
        assert_eq!(start.elapsed(), std::time::Duration::from_millis(700));
    }

    #[tokio::test]
    async fn an_event_without_records_is_an_error() {
        let mut store = MockObjectMetadata::new();
        store.expect_content_type().never();
        let err = content_types(&event(&[]), &store, Deadline::NONE)
            .await
            .unwrap_err();
        assert_eq!(err, ObjectError::NoRecords);
    }

    #[tokio::test]
    async fn a_missing_object_names_bucket_and_key() {
        let mut store = MockObjectMetadata::new();
        store.expect_content_type().returning(|o| {
            Err(ObjectError::NotFound {
                bucket: o.bucket.clone(),
                key: o.key.clone(),
            })
        });
        let err = content_types(&event(&[("b1", "gone+away.txt")]), &store, Deadline::NONE)
            .await
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "object s3://b1/gone away.txt does not exist"
        );
        assert_eq!(err.kind(), "NotFound");
    }

    #[tokio::test]
    async fn a_record_without_a_key_is_an_error() {
        let mut event = event(&[("b", "k")]);
        event.records[0].s3.object.key = None;
        let store = MockObjectMetadata::new();
        let err = content_types(&event, &store, Deadline::NONE)
            .await
            .unwrap_err();
        assert_eq!(
            err,
            ObjectError::MissingField {
                index: 0,
                field: "object key"
            }
        );
    }

    /// (method, URI) of each request the fake HTTP layer saw.
    type SeenRequests = Arc<Mutex<Vec<(String, String)>>>;

    /// An S3 client whose HTTP layer answers every request with `status` and records the URIs.
    fn s3_answering(
        status: u16,
        headers: &'static [(&'static str, &'static str)],
    ) -> (aws_sdk_s3::Client, SeenRequests) {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let log = seen.clone();
        let http = infallible_client_fn(move |req| {
            log.lock()
                .unwrap()
                .push((req.method().to_string(), req.uri().to_string()));
            let mut resp = http::Response::builder().status(status);
            for (k, v) in headers {
                resp = resp.header(*k, *v);
            }
            resp.body(String::new()).unwrap()
        });
        let config = super::test_client_config(http).build();
        (aws_sdk_s3::Client::from_conf(config), seen)
    }

    #[tokio::test]
    async fn adapter_sends_head_object_for_the_decoded_key() {
        let (client, seen) = s3_answering(200, &[("content-type", "image/png")]);
        let store = S3Metadata::new(client);
        let ct = store
            .content_type(&object("pics", "a b/é+.png"))
            .await
            .unwrap();
        assert_eq!(ct.as_deref(), Some("image/png"));
        let seen = seen.lock().unwrap();
        assert_eq!(seen.len(), 1);
        assert_eq!(seen[0].0, "HEAD");
        // The SDK re-encodes the key on the wire.
        assert!(
            seen[0].1.ends_with("/pics/a%20b/%C3%A9%2B.png"),
            "{}",
            seen[0].1
        );
    }

    #[tokio::test]
    async fn adapter_asks_for_the_event_s_version() {
        let (client, seen) = s3_answering(200, &[("content-type", "text/plain")]);
        let v = ObjectRef {
            version_id: Some("v+1/=".into()),
            ..object("pics", "a.txt")
        };
        S3Metadata::new(client).content_type(&v).await.unwrap();
        let uri = &seen.lock().unwrap()[0].1;
        assert!(uri.ends_with("/pics/a.txt?versionId=v%2B1%2F%3D"), "{uri}");
    }

    #[tokio::test]
    async fn adapter_maps_404_to_not_found() {
        let (client, _) = s3_answering(404, &[]);
        let err = S3Metadata::new(client)
            .content_type(&object("pics", "missing.png"))
            .await
            .unwrap_err();
        assert_eq!(
            err,
            ObjectError::NotFound {
                bucket: "pics".into(),
                key: "missing.png".into()
            }
        );
    }

    #[tokio::test]
    async fn adapter_reports_other_failures_with_bucket_and_key() {
        let (client, _) = s3_answering(403, &[]);
        let err = S3Metadata::new(client)
            .content_type(&object("pics", "secret.png"))
            .await
            .unwrap_err();
        assert_eq!(err.kind(), "S3RequestFailed");
        assert!(err.to_string().contains("s3://pics/secret.png"), "{err}");
    }
}
