//! Where Lambda's Runtime API is: `AWS_LAMBDA_RUNTIME_API`, checked before a client is
//! built on it.
//!
//! `lambda_runtime_api_client` (which lambda-extension uses too) `expect`s a usable value,
//! and a panic aborts the process. The variable is the platform's, so Lambda always sets
//! it right; this process's own calls (the init error, the shutdown extension) check it
//! first all the same, and fail with an error instead.

use http::Uri;

pub const VAR: &str = "AWS_LAMBDA_RUNTIME_API";

/// The endpoint `AWS_LAMBDA_RUNTIME_API` names: `host:port`, as Lambda sets it, or a URL
/// with `http://` and a base path, as emulators do.
pub fn endpoint() -> Result<Uri, String> {
    let value = std::env::var(VAR).map_err(|_| format!("{VAR} is not set"))?;
    parse(&value)
}

fn parse(value: &str) -> Result<Uri, String> {
    let not_host = || format!("{VAR} is not host:port: {value:?}");
    let uri: Uri = value.parse().map_err(|_| not_host())?;
    match (uri.scheme_str(), uri.authority()) {
        (None | Some("http"), Some(_)) => Ok(uri),
        _ => Err(not_host()),
    }
}

#[cfg(test)]
mod tests {
    use super::parse;

    #[test]
    fn a_host_and_port_or_an_http_url_is_an_endpoint() {
        for ok in [
            "127.0.0.1:9001",
            "localhost:9001",
            "http://127.0.0.1:9000/.rt/f",
        ] {
            assert!(parse(ok).is_ok(), "{ok}");
        }
    }

    #[test]
    fn anything_without_a_host_is_an_error_not_a_panic() {
        for bad in [
            "",
            "/2018-06-01",
            "not a host",
            "http://",
            "https://127.0.0.1:1",
        ] {
            assert!(parse(bad).is_err(), "{bad:?}");
        }
    }
}
