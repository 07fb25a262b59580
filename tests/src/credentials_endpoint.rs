//! A container credentials endpoint on 127.0.0.1, as Lambda serves one to SnapStart (and
//! the SDKs read through `AWS_CONTAINER_CREDENTIALS_FULL_URI`): it answers requests that
//! carry the right `Authorization` token with a key pair and an expiry, anything else with
//! 403, and counts the requests.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

pub struct CredentialsEndpoint {
    pub url: String,
    requests: Arc<AtomicUsize>,
}

/// What the endpoint hands out.
#[derive(Clone)]
pub struct Served {
    pub access_key_id: String,
    pub secret_access_key: String,
    /// Each answer expires this long after it is given.
    pub lifetime: Duration,
}

impl CredentialsEndpoint {
    /// Serves `served` to requests whose `Authorization` header is `token`.
    pub fn start(token: &str, served: Served) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!(
            "http://{}/2018-06-01/credentials",
            listener.local_addr().unwrap()
        );
        let requests = Arc::new(AtomicUsize::new(0));
        let count = requests.clone();
        let token = token.to_string();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let (count, token, served) = (count.clone(), token.clone(), served.clone());
                std::thread::spawn(move || {
                    let mut reader = BufReader::new(&stream);
                    loop {
                        let mut line = String::new();
                        if reader.read_line(&mut line).unwrap_or(0) == 0 {
                            return;
                        }
                        let mut authorized = false;
                        loop {
                            let mut header = String::new();
                            if reader.read_line(&mut header).unwrap_or(0) == 0 {
                                return;
                            }
                            if header.trim().is_empty() {
                                break;
                            }
                            if let Some((name, value)) = header.split_once(':') {
                                authorized |= name.eq_ignore_ascii_case("authorization")
                                    && value.trim() == token;
                            }
                        }
                        count.fetch_add(1, Ordering::SeqCst);
                        let (status, body) = match authorized {
                            true => ("200 OK", answer(&served)),
                            false => ("403 Forbidden", r#"{"message":"bad token"}"#.into()),
                        };
                        let mut out = &stream;
                        let _ = write!(
                            out,
                            "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
                            body.len()
                        );
                    }
                });
            }
        });
        Self { url, requests }
    }

    /// How many requests it has answered.
    pub fn requests(&self) -> usize {
        self.requests.load(Ordering::SeqCst)
    }
}

fn answer(served: &Served) -> String {
    let expiration = rfc3339(SystemTime::now() + served.lifetime);
    serde_json::json!({
        "AccessKeyId": served.access_key_id,
        "SecretAccessKey": served.secret_access_key,
        "Token": "session-token",
        "Expiration": expiration,
    })
    .to_string()
}

/// `2026-12-01T10:45:23Z`: civil date from days since the epoch (Howard Hinnant's method).
fn rfc3339(at: SystemTime) -> String {
    let secs = at.duration_since(UNIX_EPOCH).unwrap().as_secs() as i64;
    let (days, rest) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rest / 3600,
        rest % 3600 / 60,
        rest % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_rfc_3339() {
        let at = |s| UNIX_EPOCH + Duration::from_secs(s);
        assert_eq!(rfc3339(at(0)), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(at(951_782_400)), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(at(1_796_125_523)), "2026-12-01T11:45:23Z");
    }
}
