//! The invocations in flight, counted from the handler's call (lambda_runtime has read the
//! event and built its context just before) to the response posted, so that shutdown can
//! let them finish first.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};

use tokio::sync::Notify;

/// Counts the invocations in flight. Add it to the runtime with `Runtime::layer`: the
/// service it wraps includes the POST of the response.
#[derive(Clone, Default)]
pub struct InFlight(Arc<Counter>);

#[derive(Default)]
struct Counter {
    running: AtomicUsize,
    /// Every invocation so far, finished or not.
    started: AtomicUsize,
    idle: Notify,
}

impl InFlight {
    pub fn count(&self) -> usize {
        self.0.running.load(Ordering::SeqCst)
    }

    /// How many invocations this environment has received: none until init is over.
    pub fn started(&self) -> usize {
        self.0.started.load(Ordering::SeqCst)
    }

    /// Returns once no invocation is in flight.
    pub async fn wait_idle(&self) {
        loop {
            let idle = self.0.idle.notified();
            if self.count() == 0 {
                return;
            }
            idle.await;
        }
    }

    fn enter(&self) -> InFlightGuard {
        self.0.started.fetch_add(1, Ordering::SeqCst);
        self.0.running.fetch_add(1, Ordering::SeqCst);
        InFlightGuard(self.clone())
    }
}

/// Counts one invocation until it is dropped.
struct InFlightGuard(InFlight);

impl Drop for InFlightGuard {
    fn drop(&mut self) {
        let counter = &(self.0).0;
        if counter.running.fetch_sub(1, Ordering::SeqCst) == 1 {
            counter.idle.notify_waiters();
        }
    }
}

impl<S> lambda_runtime::tower::Layer<S> for InFlight {
    type Service = Tracked<S>;
    fn layer(&self, inner: S) -> Tracked<S> {
        Tracked {
            inner,
            in_flight: self.clone(),
        }
    }
}

/// A runtime service whose calls count as in flight until they complete.
#[derive(Clone)]
pub struct Tracked<S> {
    inner: S,
    in_flight: InFlight,
}

impl<S, R> lambda_runtime::Service<R> for Tracked<S>
where
    S: lambda_runtime::Service<R>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = TrackedFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: R) -> Self::Future {
        let guard = self.in_flight.enter();
        TrackedFuture {
            inner: Box::pin(self.inner.call(request)),
            _guard: guard,
        }
    }
}

/// The wrapped future, and the guard that counts it until it completes or is dropped.
pub struct TrackedFuture<F> {
    inner: Pin<Box<F>>,
    _guard: InFlightGuard,
}

impl<F: Future> Future for TrackedFuture<F> {
    type Output = F::Output;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        self.inner.as_mut().poll(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn waits_until_every_counted_invocation_is_done() {
        let in_flight = InFlight::default();
        let (first, second) = (in_flight.enter(), in_flight.enter());
        assert_eq!((in_flight.count(), in_flight.started()), (2, 2));
        let waiter = {
            let in_flight = in_flight.clone();
            tokio::spawn(async move { in_flight.wait_idle().await })
        };
        drop(first);
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(!waiter.is_finished(), "one is still in flight");
        drop(second);
        tokio::time::timeout(Duration::from_secs(1), waiter)
            .await
            .expect("idle once both are done")
            .unwrap();
        assert_eq!((in_flight.count(), in_flight.started()), (0, 2));
    }
}
