//! Domain logic of the three functions, free of Lambda types so it can be unit-tested
//! without a runtime, a network or an AWS account.
//!
//! Each expensive resource sits behind a small trait (`Connector`/`NameLookup`,
//! `ObjectMetadata`, `Decryptor`); the real implementations wrap `mysql_async` and the AWS
//! SDK, and the tests use `mockall` mocks of the same traits.

#[cfg(feature = "aws")]
pub mod aws;
pub mod deadline;
pub mod enrich;
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
pub mod trust;

/// A short, stable name for an error's kind, used as Lambda's `errorType`.
pub trait ErrorKind {
    fn kind(&self) -> &'static str;
}
