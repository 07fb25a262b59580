//! RDS IAM database authentication: instead of a password, each new connection presents
//! a token, a SigV4 query-string presign of `Action=connect&DBUser=<user>` for the
//! `rds-db` service, made with the function's own credentials (`crate::credentials`, as the
//! AWS functions get theirs) and valid 15 minutes. The
//! server (RDS, or RDS Proxy) checks the signature and that the role may `rds-db:connect`
//! as that user. The token travels as a cleartext password, so TLS is required.
//!
//! Why `aws-sigv4` and not `aws-sdk-rds`: the SDK crate's token generator is the same
//! presign around a whole RDS client; the signer alone is what the token needs.

use std::time::{Duration, SystemTime};

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{
    sign, SignableBody, SignableRequest, SignatureLocation, SigningSettings,
};
use aws_sigv4::sign::v4;
use secrecy::SecretString;

use crate::enrich::DbError;

/// Percent-encoded in a query value: all but the unreserved characters, as botocore does.
const QUERY_VALUE: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// How long a token may be used to log in (RDS's maximum).
pub const TOKEN_LIFETIME: Duration = Duration::from_secs(900);

/// What the tokens are for: the endpoint and user of the connection, and the region that
/// signs them.
///
/// ```
/// use std::time::SystemTime;
/// use aws_credential_types::Credentials;
/// use secrecy::ExposeSecret;
/// use shared::iam_auth::IamAuth;
///
/// let auth = IamAuth {
///     host: "proxy.example.internal".into(),
///     port: 3306,
///     user: "app".into(),
///     region: "us-east-1".into(),
/// };
/// let credentials = Credentials::new("AKIDEXAMPLE", "secret", None, None, "example");
/// let token = auth.token(&credentials, SystemTime::now()).unwrap();
/// let token = token.expose_secret();
/// assert!(token.starts_with("proxy.example.internal:3306/?Action=connect&DBUser=app&"));
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct IamAuth {
    /// The database's (or the proxy's) host name, as the connection names it.
    pub host: String,
    /// Its port.
    pub port: u16,
    /// The database user the token logs in as.
    pub user: String,
    /// The region the token is signed for.
    pub region: String,
}

impl IamAuth {
    /// A token for logging in from `now` for `TOKEN_LIFETIME`: the presigned URL without
    /// its scheme, as botocore's `generate_db_auth_token` makes it. Secret: never logged.
    /// Signing is local; it fails (`DbError::Auth`) only on parameters the signer refuses.
    pub fn token(
        &self,
        credentials: &Credentials,
        now: SystemTime,
    ) -> Result<SecretString, DbError> {
        let failed = |e: &dyn std::fmt::Display| DbError::Auth(format!("signing failed: {e}"));
        let url = format!(
            "https://{}:{}/?Action=connect&DBUser={}",
            self.host,
            self.port,
            percent_encoding::utf8_percent_encode(&self.user, QUERY_VALUE)
        );
        let mut settings = SigningSettings::default();
        settings.signature_location = SignatureLocation::QueryParams;
        settings.expires_in = Some(TOKEN_LIFETIME);
        let identity = credentials.clone().into();
        let params = v4::SigningParams::builder()
            .identity(&identity)
            .region(&self.region)
            .name("rds-db")
            .time(now)
            .settings(settings)
            .build()
            .map_err(|e| failed(&e))?
            .into();
        let host = format!("{}:{}", self.host, self.port);
        let request = SignableRequest::new(
            "GET",
            &url,
            std::iter::once(("host", host.as_str())),
            SignableBody::Bytes(&[]),
        )
        .map_err(|e| failed(&e))?;
        let (instructions, _signature) =
            sign(request, &params).map_err(|e| failed(&e))?.into_parts();
        // The signing parameters appended to the query, the signature last, as botocore
        // orders them (the server reads them by name; the tests compare byte for byte).
        let (_headers, mut added) = instructions.into_parts();
        added.sort_by_key(|(name, _)| *name == "X-Amz-Signature");
        let mut token = url.strip_prefix("https://").unwrap_or(&url).to_string();
        for (name, value) in added {
            let value = percent_encoding::utf8_percent_encode(&value, QUERY_VALUE);
            token.push_str(&format!("&{name}={value}"));
        }
        Ok(SecretString::from(token))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::ExposeSecret;

    fn auth() -> IamAuth {
        IamAuth {
            host: "proxy.example.internal".into(),
            port: 3306,
            user: "app".into(),
            region: "eu-west-1".into(),
        }
    }

    fn creds(token: Option<&str>) -> Credentials {
        Credentials::new(
            "AKIDEXAMPLE",
            "secret",
            token.map(String::from),
            None,
            "test",
        )
    }

    #[test]
    fn the_token_is_a_presigned_connect_for_the_user_valid_15_minutes() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let token = auth().token(&creds(Some("session")), now).unwrap();
        let token = token.expose_secret();
        assert!(
            token.starts_with("proxy.example.internal:3306/?Action=connect&DBUser=app&"),
            "{token}"
        );
        for part in [
            "X-Amz-Algorithm=AWS4-HMAC-SHA256",
            "X-Amz-Credential=AKIDEXAMPLE%2F20231114%2Feu-west-1%2Frds-db%2Faws4_request",
            "X-Amz-Date=20231114T221320Z",
            "X-Amz-Expires=900",
            "X-Amz-SignedHeaders=host",
            "X-Amz-Security-Token=session",
        ] {
            assert!(token.contains(part), "{part} missing from {token}");
        }
        // Another second, another signature; the same second, the same token.
        let later = auth().token(&creds(Some("session")), now + Duration::from_secs(1));
        assert_ne!(later.unwrap().expose_secret(), token);
        let again = auth().token(&creds(Some("session")), now).unwrap();
        assert_eq!(again.expose_secret(), token);
    }
}
