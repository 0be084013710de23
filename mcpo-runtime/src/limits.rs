//! `--max-concurrency` and `--max-queue`: at most N tool calls at the
//! upstream at once, the next ones waiting in a bounded first-come queue,
//! and a 503 with `Retry-After` for a call that finds the queue full (or
//! whose call timeout runs out while it waits).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;

use crate::error::ApiError;
use crate::metrics::Metrics;

/// What a refused call is told to wait before retrying, in seconds.
const RETRY_AFTER_SECS: u64 = 1;

/// The concurrency limit and its queue; unlimited when built with `None`.
pub struct Limiter {
    slots: Option<(Arc<Semaphore>, usize)>,
    max_queue: usize,
    queued: AtomicUsize,
}

impl Limiter {
    /// `max_concurrency` calls at once (`None`: no limit), `max_queue`
    /// more waiting.
    pub fn new(max_concurrency: Option<usize>, max_queue: usize) -> Limiter {
        Limiter {
            slots: max_concurrency.map(|limit| (Arc::new(Semaphore::new(limit)), limit)),
            max_queue,
            queued: AtomicUsize::new(0),
        }
    }

    /// A slot for one call, held until the permit is dropped (an async
    /// task keeps it until the task ends); waits in the queue until
    /// `deadline` when every slot is taken.
    pub async fn admit(
        &self,
        deadline: Instant,
        metrics: &Arc<Metrics>,
    ) -> Result<Option<OwnedSemaphorePermit>, ApiError> {
        let Some((slots, limit)) = &self.slots else {
            return Ok(None);
        };
        // Free slots go to the queue's head first, so this never overtakes
        // a waiting call.
        if let Ok(permit) = Arc::clone(slots).try_acquire_owned() {
            return Ok(Some(permit));
        }
        if self.queued.fetch_add(1, Ordering::SeqCst) >= self.max_queue {
            self.queued.fetch_sub(1, Ordering::SeqCst);
            metrics.rejected();
            return Err(ApiError::unavailable(
                format!(
                    "The proxy is busy: {limit} calls in flight (--max-concurrency) and {} waiting (--max-queue)",
                    self.max_queue
                ),
                RETRY_AFTER_SECS,
            ));
        }
        let _queued = metrics.enter_queue();
        let waited = tokio::time::timeout_at(deadline, Arc::clone(slots).acquire_owned()).await;
        self.queued.fetch_sub(1, Ordering::SeqCst);
        match waited {
            Ok(Ok(permit)) => Ok(Some(permit)),
            Ok(Err(_closed)) => Err(ApiError::unavailable("The proxy is shutting down", 1)),
            Err(_elapsed) => {
                metrics.rejected();
                Err(ApiError::unavailable(
                    format!(
                        "The proxy is busy: no call slot (--max-concurrency {limit}) became free within the call timeout"
                    ),
                    RETRY_AFTER_SECS,
                ))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn a_full_queue_is_refused_at_once_and_a_slot_goes_to_the_queue_first() {
        let metrics = Metrics::new(&[], 1);
        let limiter = Arc::new(Limiter::new(Some(1), 1));
        let later = Instant::now() + Duration::from_secs(5);
        let first = limiter.admit(later, &metrics).await;
        assert!(matches!(first, Ok(Some(_))));
        let waiting = {
            let limiter = Arc::clone(&limiter);
            let metrics = Arc::clone(&metrics);
            tokio::spawn(async move { limiter.admit(later, &metrics).await.map(|p| p.is_some()) })
        };
        while limiter.queued.load(Ordering::SeqCst) == 0 {
            tokio::task::yield_now().await;
        }
        let refused = limiter.admit(later, &metrics).await;
        let Err(refused) = refused else {
            panic!("the queue of 1 is full");
        };
        assert_eq!(refused.status, axum::http::StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(refused.retry_after, Some(1));
        drop(first);
        assert!(matches!(waiting.await, Ok(Ok(true))));
        let soon = Instant::now() + Duration::from_millis(20);
        let _held = limiter.admit(later, &metrics).await;
        let timed_out = limiter.admit(soon, &metrics).await;
        assert!(timed_out.is_err_and(|error| error.retry_after == Some(1)));
        assert!(matches!(
            Limiter::new(None, 0).admit(soon, &metrics).await,
            Ok(None)
        ));
    }
}
