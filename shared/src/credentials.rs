//! The function's own AWS credentials, where Lambda puts them, in the SDK default chain's
//! order: the key variables (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`,
//! `AWS_SESSION_TOKEN`), then the container credentials endpoint
//! (`AWS_CONTAINER_CREDENTIALS_FULL_URI` with `AWS_CONTAINER_AUTHORIZATION_TOKEN` or
//! `..._TOKEN_FILE`), which SnapStart uses instead of the key variables. Both are the SDK's
//! own providers; the rest of `aws_config::defaults(..).load()` (profile files, SSO, STS
//! web identity, IMDS) would be linked into every `bootstrap` for nothing.
//!
//! The SDK clients cache what this chain gives them and refresh it before it expires.
//! rds-enrich signs its IAM tokens without an SDK client, so it keeps them in
//! `CachedCredentials`, which does the same: an environment that lives for days never signs
//! with credentials that have expired.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, SystemTime};

use aws_config::ecs::EcsCredentialsProvider;
use aws_config::environment::EnvironmentVariableCredentialsProvider;
use aws_config::meta::credentials::CredentialsProviderChain;
use aws_config::provider_config::ProviderConfig;
use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider};
use aws_credential_types::Credentials;
use aws_smithy_async::rt::sleep::TokioSleep;
use aws_smithy_runtime_api::client::http::SharedHttpClient;
use futures_util::future::{BoxFuture, FutureExt, Shared};

/// Credentials are fetched again once they expire within this margin. The SDK clients'
/// own cache refreshes 10 s ahead (aws-smithy-runtime's `DEFAULT_BUFFER_TIME`); a token is
/// presented at once, so that would do, but 5 minutes also covers a clock a few minutes
/// off and costs one local request a few minutes early.
pub const REFRESH_MARGIN: Duration = Duration::from_secs(5 * 60);

/// The most one fetch may take. The provider bounds its connects (2 s) and its wait for an
/// answer's headers (5 s), 3 attempts, but not the body: a fetch stalled there would
/// otherwise be the one every caller waits on, for the life of the process.
pub const FETCH_LIMIT: Duration = Duration::from_secs(30);

/// The variable naming the container credentials endpoint.
pub const FULL_URI_VAR: &str = "AWS_CONTAINER_CREDENTIALS_FULL_URI";

/// `AWS_CONTAINER_CREDENTIALS_FULL_URI` is not a URL the provider can use.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{FULL_URI_VAR} is not an http:// or https:// URL with a host: {0:?}")]
pub struct InvalidEndpoint(pub String);

impl crate::ErrorKind for InvalidEndpoint {
    fn kind(&self) -> &'static str {
        "InvalidCredentialsEndpoint"
    }
}

/// The key variables first, then the container credentials endpoint (loopback or the
/// link-local addresses Lambda uses, checked by the provider), fetched through `http`.
///
/// `full_uri` is `AWS_CONTAINER_CREDENTIALS_FULL_URI`, checked here: aws-config's provider
/// `expect`s a scheme on a loopback address (`127.0.0.1:9000` would abort the process at
/// the first fetch). The variable is the platform's, so Lambda sets it right.
pub fn function_credentials(
    http: &SharedHttpClient,
    full_uri: Option<&str>,
) -> Result<SharedCredentialsProvider, InvalidEndpoint> {
    if let Some(uri) = full_uri {
        let usable = uri.parse::<http::Uri>().is_ok_and(|parsed| {
            matches!(parsed.scheme_str(), Some("http" | "https")) && parsed.host().is_some()
        });
        if !usable {
            return Err(InvalidEndpoint(uri.into()));
        }
    }
    let container = EcsCredentialsProvider::builder()
        .configure(
            &ProviderConfig::empty()
                .with_http_client(http.clone())
                .with_sleep_impl(TokioSleep::new()),
        )
        .build();
    Ok(SharedCredentialsProvider::new(
        CredentialsProviderChain::first_try(
            "Environment",
            EnvironmentVariableCredentialsProvider::new(),
        )
        .or_else("ContainerEndpoint", container),
    ))
}

/// Credentials from a provider, kept until they come within `REFRESH_MARGIN` of their
/// expiry. Fetches are single flight: invocations that need credentials at once wait for
/// one fetch. A failed fetch is not kept (the next call tries again).
///
/// The fetch runs in a task of its own, so that a caller that stops waiting (its connect
/// timeout) does not cancel it for the others: an endpoint slower than one caller's
/// patience still answers the next.
#[derive(Debug)]
pub struct CachedCredentials {
    provider: SharedCredentialsProvider,
    state: Arc<Mutex<State>>,
}

/// What is kept, and the fetch in progress if there is one. Never locked across an await.
#[derive(Debug, Default)]
struct State {
    current: Option<Credentials>,
    fetching: Option<Fetch>,
}

/// One fetch, awaited by every caller that came while it ran.
type Fetch = Shared<BoxFuture<'static, Result<Credentials, String>>>;

impl CachedCredentials {
    /// Nothing fetched yet: the first [`get`](Self::get) asks `provider`.
    pub fn new(provider: SharedCredentialsProvider) -> Self {
        Self {
            provider,
            state: Arc::default(),
        }
    }

    /// Credentials valid for at least `REFRESH_MARGIN` more (or with no expiry at all). The
    /// error is the provider's, as text: no key variables and no endpoint, an endpoint that
    /// refuses the token or does not answer (within `FETCH_LIMIT`). Call it on a Tokio
    /// runtime (the fetch is a task).
    pub async fn get(&self) -> Result<Credentials, String> {
        let fetch = {
            let mut state = lock(&self.state);
            if let Some(credentials) = state
                .current
                .as_ref()
                .filter(|c| fresh(c, SystemTime::now()))
            {
                return Ok(credentials.clone());
            }
            let state = &mut *state;
            // A fetch already resolved but still here ended without clearing itself (its
            // task was cancelled): its result is stale, start another.
            if state.fetching.as_ref().is_some_and(|f| f.peek().is_some()) {
                state.fetching = None;
            }
            state
                .fetching
                .get_or_insert_with(|| spawn_fetch(self.provider.clone(), self.state.clone()))
                .clone()
        };
        fetch.await
    }
}

/// Starts a fetch that keeps its result (if it is credentials) and then clears itself.
fn spawn_fetch(provider: SharedCredentialsProvider, state: Arc<Mutex<State>>) -> Fetch {
    let task = tokio::spawn(async move {
        let fetched = match tokio::time::timeout(FETCH_LIMIT, provider.provide_credentials()).await
        {
            Ok(fetched) => fetched.map_err(|err| {
                aws_smithy_types::error::display::DisplayErrorContext(err).to_string()
            }),
            Err(_) => Err(format!("no credentials within {FETCH_LIMIT:?}")),
        };
        let mut state = lock(&state);
        if let Ok(credentials) = &fetched {
            state.current = Some(credentials.clone());
        }
        state.fetching = None;
        fetched
    });
    async move { task.await.unwrap_or_else(|err| Err(err.to_string())) }
        .boxed()
        .shared()
}

/// The state, even if a thread panicked holding it (nothing is left half written).
fn lock(state: &Mutex<State>) -> MutexGuard<'_, State> {
    state.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Whether `credentials` may still be used at `now` without fetching new ones.
fn fresh(credentials: &Credentials, now: SystemTime) -> bool {
    credentials
        .expiry()
        .is_none_or(|expiry| expiry > now + REFRESH_MARGIN)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[test]
    fn an_endpoint_that_is_not_an_http_url_is_refused_not_handed_to_the_provider() {
        let http = aws_smithy_http_client::test_util::infallible_client_fn(|_| {
            http::Response::builder()
                .status(200)
                .body(String::new())
                .unwrap()
        });
        let lambda = [
            "http://127.0.0.1:9000/creds",
            "http://169.254.170.2/v2/credentials/x",
            "http://169.254.170.23/v1/credentials",
            "http://[fd00:ec2::23]/v1/credentials",
            "https://example.com/c",
        ];
        for ok in std::iter::once(None).chain(lambda.map(Some)) {
            assert!(function_credentials(&http, ok).is_ok(), "{ok:?}");
        }
        // Without a scheme, a host that is (or resolves to) an address the provider allows
        // aborts the process in aws-config's provider (the first three); the others it
        // would refuse, or send nowhere, only at the first fetch.
        for bad in [
            "127.0.0.1:9000",
            "localhost:9000",
            "[::1]:80",
            "ftp://127.0.0.1/",
            "/creds",
            "not a url",
        ] {
            let err = function_credentials(&http, Some(bad)).err();
            assert_eq!(err, Some(InvalidEndpoint(bad.into())), "{bad}");
        }
    }

    /// A provider that hands out credentials expiring `lifetime` after each fetch (50 ms
    /// after it is asked: long enough for callers at once to overlap), and counts the fetches
    /// asked for (a cancelled one too).
    #[derive(Debug)]
    struct Endpoint {
        lifetime: Option<Duration>,
        fetches: Arc<AtomicUsize>,
    }

    impl ProvideCredentials for Endpoint {
        fn provide_credentials<'a>(
            &'a self,
        ) -> aws_credential_types::provider::future::ProvideCredentials<'a>
        where
            Self: 'a,
        {
            let (fetches, lifetime) = (self.fetches.clone(), self.lifetime);
            aws_credential_types::provider::future::ProvideCredentials::new(async move {
                let n = fetches.fetch_add(1, Ordering::SeqCst); // counted when asked
                tokio::time::sleep(Duration::from_millis(50)).await;
                let expiry = lifetime.map(|l| SystemTime::now() + l);
                Ok(Credentials::new(
                    format!("AKID{n}"),
                    "secret",
                    None,
                    expiry,
                    "test",
                ))
            })
        }
    }

    fn cached(lifetime: Option<Duration>) -> (CachedCredentials, Arc<AtomicUsize>) {
        let fetches = Arc::new(AtomicUsize::new(0));
        let endpoint = Endpoint {
            lifetime,
            fetches: fetches.clone(),
        };
        let cached = CachedCredentials::new(SharedCredentialsProvider::new(endpoint));
        (cached, fetches)
    }

    #[tokio::test]
    async fn credentials_far_from_their_expiry_are_kept() {
        let (cached, fetches) = cached(Some(Duration::from_secs(3600)));
        for _ in 0..5 {
            assert_eq!(cached.get().await.unwrap().access_key_id(), "AKID0");
        }
        assert_eq!(fetches.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn credentials_near_their_expiry_are_fetched_again() {
        // Each set expires within the margin: every use fetches a new one.
        let (cached, fetches) = cached(Some(REFRESH_MARGIN - Duration::from_secs(1)));
        assert_eq!(cached.get().await.unwrap().access_key_id(), "AKID0");
        assert_eq!(cached.get().await.unwrap().access_key_id(), "AKID1");
        assert_eq!(fetches.load(Ordering::SeqCst), 2);
    }

    #[test]
    fn the_margin_is_measured_from_now() {
        let now = SystemTime::now();
        let expiring = |after| Credentials::new("a", "s", None, Some(now + after), "t");
        assert!(fresh(
            &expiring(REFRESH_MARGIN + Duration::from_secs(1)),
            now
        ));
        assert!(!fresh(&expiring(REFRESH_MARGIN), now));
        assert!(!fresh(&expiring(Duration::ZERO), now), "expired");
        assert!(
            fresh(&Credentials::new("a", "s", None, None, "t"), now),
            "no expiry"
        );
    }

    /// The first caller gives up after 10 ms (its deadline); the fetch, 50 ms long, goes on:
    /// a caller that came at 20 ms joins it, and one after it gets its result, one fetch in all.
    #[tokio::test]
    async fn a_caller_that_stops_waiting_does_not_cancel_the_fetch() {
        let (cached, fetches) = cached(Some(Duration::from_secs(3600)));
        let (gave_up, joined) = tokio::join!(
            tokio::time::timeout(Duration::from_millis(10), cached.get()),
            async {
                tokio::time::sleep(Duration::from_millis(20)).await;
                cached.get().await
            },
        );
        assert!(gave_up.is_err());
        assert_eq!(joined.unwrap().access_key_id(), "AKID0", "a second fetch");
        assert_eq!(cached.get().await.unwrap().access_key_id(), "AKID0");
        assert_eq!(fetches.load(Ordering::SeqCst), 1);
    }

    /// A fetch that never ends is given up at `FETCH_LIMIT`, and the next call fetches again.
    #[tokio::test(start_paused = true)]
    async fn a_fetch_that_never_ends_is_given_up() {
        let attempts = Arc::new(AtomicUsize::new(0));
        let counted = attempts.clone();
        let stalled = aws_credential_types::credential_fn::provide_credentials_fn(move || {
            counted.fetch_add(1, Ordering::SeqCst);
            std::future::pending()
        });
        let cached = CachedCredentials::new(SharedCredentialsProvider::new(stalled));
        let started = tokio::time::Instant::now(); // the paused clock: exact
        let err = cached.get().await.unwrap_err();
        assert!(err.contains("no credentials within"), "{err}");
        assert_eq!(started.elapsed().as_secs(), FETCH_LIMIT.as_secs());
        let _ = cached.get().await;
        assert_eq!(attempts.load(Ordering::SeqCst), 2);
    }

    /// A failed fetch is not kept: the next call fetches again.
    #[tokio::test]
    async fn a_failed_fetch_is_tried_again() {
        let attempts = Arc::new(AtomicUsize::new(0));
        let counted = attempts.clone();
        let flaky = aws_credential_types::credential_fn::provide_credentials_fn(move || {
            let n = counted.fetch_add(1, Ordering::SeqCst);
            async move {
                match n {
                    0 => Err(
                        aws_credential_types::provider::error::CredentialsError::not_loaded("down"),
                    ),
                    _ => Ok(Credentials::new("AKID", "s", None, None, "t")),
                }
            }
        });
        let cached = CachedCredentials::new(SharedCredentialsProvider::new(flaky));
        assert!(cached.get().await.unwrap_err().contains("down"));
        assert_eq!(cached.get().await.unwrap().access_key_id(), "AKID");
        assert_eq!(attempts.load(Ordering::SeqCst), 2);
    }

    /// Eight invocations that need credentials at once on a new environment: one fetch.
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn concurrent_first_uses_fetch_once() {
        let (cached, fetches) = cached(Some(Duration::from_secs(3600)));
        let cached = Arc::new(cached);
        let gets: Vec<_> = (0..8)
            .map(|_| {
                let cached = cached.clone();
                tokio::spawn(async move { cached.get().await.unwrap() })
            })
            .collect();
        for get in gets {
            assert_eq!(get.await.unwrap().access_key_id(), "AKID0");
        }
        assert_eq!(fetches.load(Ordering::SeqCst), 1);
    }
}
