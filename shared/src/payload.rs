//! Reading an invocation's payload ourselves, so that one that does not fit is the
//! function's own error (`InvalidPayload`, `InvalidEvent`) with a message naming the field,
//! instead of the runtime's `&lambda_runtime::deserializer::DeserializeError`.
//!
//! The handlers take the payload as a `RawValue` (checked as JSON, nothing converted: a
//! number beyond f64's range still gets through) and convert it here.

use serde::de::DeserializeOwned;
use serde_json::value::RawValue;

/// The payload as `T`; the error names the path of the field at fault, if any.
///
/// ```
/// use serde_json::value::RawValue;
///
/// #[derive(serde::Deserialize)]
/// struct Event {
///     id: u64,
/// }
///
/// let raw = RawValue::from_string(r#"{"id": "x"}"#.to_string()).unwrap();
/// let err = shared::payload::read::<Event>(&raw).err().unwrap();
/// assert!(err.starts_with("id: invalid type"), "{err}");
/// ```
pub fn read<T: DeserializeOwned>(raw: &RawValue) -> Result<T, String> {
    let json = &mut serde_json::Deserializer::from_str(raw.get());
    serde_path_to_error::deserialize(json).map_err(|err| {
        let path = err.path().to_string();
        if path == "." {
            err.into_inner().to_string()
        } else {
            format!("{path}: {}", err.into_inner())
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    fn raw(text: &str) -> Box<RawValue> {
        serde_json::from_str(text).unwrap()
    }

    #[test]
    fn a_number_beyond_f64_gets_through_the_runtime_and_is_an_error_here() {
        let payload = raw(r#"{"id": 1e400}"#);
        let err = read::<Value>(&payload).unwrap_err();
        assert!(err.contains("number out of range"), "{err}");
    }

    #[test]
    fn the_error_names_the_field_and_its_path() {
        #[derive(serde::Deserialize, Debug)]
        #[allow(dead_code)]
        struct Event {
            #[serde(rename = "Records")]
            records: Vec<Record>,
        }
        #[derive(serde::Deserialize, Debug)]
        #[allow(dead_code)]
        struct Record {
            #[serde(rename = "eventTime")]
            event_time: String,
        }
        let err = read::<Event>(&raw(r#"{"Records": [{"eventTime": "t"}, {}]}"#)).unwrap_err();
        assert_eq!(
            err,
            "Records[1]: missing field `eventTime` at line 1 column 35"
        );
        assert_eq!(
            read::<Value>(&raw("[1, 2]")).unwrap(),
            serde_json::json!([1, 2])
        );
    }
}
