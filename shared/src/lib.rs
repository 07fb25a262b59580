//! Domain logic of the three functions, free of Lambda types so it can be unit-tested
//! without a runtime, a network or an AWS account.
//!
//! Each expensive resource sits behind a small trait ([`enrich::Connector`] and
//! [`enrich::NameLookup`], [`s3::ObjectMetadata`], [`secret::Decryptor`]); the real
//! implementations wrap `mysql_async` and the AWS SDK, and the tests use `mockall` mocks of
//! the same traits.
//!
//! - rds-enrich: [`enrich`] (the kept connections and the lookup), [`mysql`] (the real
//!   connector, its configuration), [`iam_auth`] (login tokens), [`credentials`].
//! - s3-get-object: [`s3`], over the SDK configuration of [`aws`].
//! - decrypt-env: [`secret`] (the secret decrypted once), [`webhook`] (what it does with it).
//! - Every function: [`deadline`] (every call bounded by the invocation's deadline),
//!   [`payload`] (reading the event), [`trace_header`], [`https`] and [`trust`] (the SDK's
//!   HTTPS client and the roots it trusts), and [`ErrorKind`], what an error tells Lambda.
//!
//! The features `mysql` and `aws` (both by default) select the modules each group of
//! functions needs. Nothing here panics on input, configuration or I/O: every failure is an
//! error whose [`ErrorKind::kind`] becomes Lambda's `errorType`.

#[cfg(feature = "aws")]
pub mod aws;
#[cfg(any(feature = "aws", feature = "mysql"))]
pub mod credentials;
pub mod deadline;
pub mod enrich;
#[cfg(any(feature = "aws", feature = "mysql"))]
pub mod https;
#[cfg(feature = "mysql")]
pub mod iam_auth;
#[cfg(feature = "mysql")]
pub mod mysql;
pub mod payload;
#[cfg(feature = "aws")]
pub mod s3;
#[cfg(feature = "aws")]
pub mod secret;
#[cfg(feature = "aws")]
pub mod trace_header;
#[cfg(any(feature = "aws", feature = "mysql"))]
pub mod trust;
#[cfg(feature = "aws")]
pub mod webhook;

/// What the functions' errors tell Lambda, and through it their callers.
pub trait ErrorKind: std::fmt::Display {
    /// A short, stable name for the error's kind, used as Lambda's `errorType`.
    fn kind(&self) -> &'static str;

    /// Whether the message only describes what the caller sent (a payload it cannot read,
    /// an id that does not exist), and so may be returned to the caller. Otherwise the
    /// caller gets the kind and a generic message; the full text goes to the log only
    /// (driver and AWS error texts name users, hosts, roles and keys).
    fn message_is_public(&self) -> bool {
        false
    }
}
