//! When a failed request is sent again: exponential backoff with jitter, under a retry budget,
//! and only when it is safe.
//!
//! Safe means the server cannot have run the request (it was never sent: a connect failure),
//! or running it twice cannot change the database (a read-only statement outside a
//! transaction). A write whose fate is unknown is reported as `OUTCOME_UNKNOWN`, never
//! replayed. The policy is private: callers choose timeouts and attempts on the builder.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use rand::Rng as _;
use tower::retry::budget::{Budget, TpsBudget};

use crate::error::{code, Error};

/// Backoff and budget settings (see `Builder` for the defaults).
#[derive(Clone, Debug)]
pub struct RetrySettings {
    pub max_attempts: u32,
    pub initial_backoff: Duration,
    pub max_backoff: Duration,
}

impl Default for RetrySettings {
    fn default() -> Self {
        RetrySettings {
            max_attempts: 4,
            initial_backoff: Duration::from_millis(25),
            max_backoff: Duration::from_secs(2),
        }
    }
}

/// A request that knows whether replaying it is safe.
pub trait Replayable {
    /// True when running the request twice cannot change the database.
    fn is_idempotent(&self) -> bool;
}

/// The tower retry policy.
#[derive(Clone, Debug)]
pub struct Policy {
    settings: Arc<RetrySettings>,
    budget: Arc<TpsBudget>,
    attempt: u32,
}

impl Policy {
    pub fn new(settings: RetrySettings) -> Self {
        // Retries may add at most 20% to the request rate, with a floor of 10 per second.
        let budget = TpsBudget::new(Duration::from_secs(10), 10, 0.2);
        Policy {
            settings: Arc::new(settings),
            budget: Arc::new(budget),
            attempt: 0,
        }
    }

    fn backoff(&self) -> Duration {
        let exp = self
            .settings
            .initial_backoff
            .saturating_mul(1 << self.attempt.min(16));
        let cap = exp.min(self.settings.max_backoff);
        // Full jitter: anywhere between zero and the capped exponential delay.
        let nanos =
            rand::thread_rng().gen_range(0..=cap.as_nanos().min(u128::from(u64::MAX)) as u64);
        Duration::from_nanos(nanos)
    }
}

/// Whether an error from a request may be retried, given whether the request is idempotent.
pub fn may_retry(error: &Error, idempotent: bool) -> bool {
    match error.code() {
        code::CONNECT_FAILED => true,
        code::NETWORK | code::TIMEOUT => idempotent,
        "SQLITE_BUSY" => idempotent,
        _ => false,
    }
}

impl<Req: Replayable + Clone, Res> tower::retry::Policy<Req, Res, Error> for Policy {
    type Future = Pin<Box<dyn Future<Output = ()> + Send>>;

    fn retry(
        &mut self,
        req: &mut Req,
        result: &mut Result<Res, Error>,
    ) -> Option<<Self as tower::retry::Policy<Req, Res, Error>>::Future> {
        match result {
            Ok(_) => {
                self.budget.deposit();
                None
            }
            Err(error) => {
                if self.attempt + 1 >= self.settings.max_attempts
                    || !may_retry(error, req.is_idempotent())
                    || !self.budget.withdraw()
                {
                    return None;
                }
                let delay = self.backoff();
                self.attempt += 1;
                tracing::debug!(
                    code = error.code(),
                    attempt = self.attempt,
                    ?delay,
                    "retrying"
                );
                Some(Box::pin(tokio::time::sleep(delay)))
            }
        }
    }

    fn clone_request(&mut self, req: &Req) -> Option<Req> {
        Some(req.clone())
    }
}

/// Whether SQL text certainly cannot write: a conservative look at its leading keyword.
/// Anything unclear counts as a write.
pub fn is_read_only_sql(sql: &str) -> bool {
    // Runs for every statement: compares words in place rather than upper-casing a copy.
    let mut words = sql
        .split(|c: char| !c.is_ascii_alphabetic())
        .filter(|w| !w.is_empty());
    let is = |word: &str, keywords: &[&str]| keywords.iter().any(|k| word.eq_ignore_ascii_case(k));
    let writes = [
        "INSERT",
        "UPDATE",
        "DELETE",
        "REPLACE",
        "RETURNING",
        "CREATE",
        "DROP",
        "ALTER",
    ];
    // The first word, as the text starts (leading whitespace allowed, nothing else).
    let first_is_word = sql
        .trim_start()
        .starts_with(|c: char| c.is_ascii_alphabetic());
    match words.next() {
        Some(first) if first_is_word && is(first, &["SELECT", "VALUES", "EXPLAIN"]) => true,
        Some(first) if first_is_word && is(first, &["WITH"]) => !words.any(|w| is(w, &writes)),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;

    #[test]
    fn read_only_classification_is_conservative() {
        assert!(is_read_only_sql("  select 1"));
        assert!(is_read_only_sql("WITH x AS (SELECT 1) SELECT * FROM x"));
        assert!(!is_read_only_sql("WITH x AS (SELECT 1) DELETE FROM t"));
        assert!(!is_read_only_sql("INSERT INTO t VALUES (1)"));
        assert!(!is_read_only_sql("BEGIN"));
        assert!(!is_read_only_sql("PRAGMA user_version = 3"));
    }

    #[test]
    fn writes_with_unknown_outcome_are_never_retried() {
        let unknown = Error::new(ErrorKind::Network, code::OUTCOME_UNKNOWN, "reset");
        assert!(!may_retry(&unknown, true));
        let network = Error::new(ErrorKind::Network, code::NETWORK, "reset");
        assert!(may_retry(&network, true) && !may_retry(&network, false));
        let refused = Error::new(ErrorKind::Network, code::CONNECT_FAILED, "refused");
        assert!(may_retry(&refused, false));
    }

    #[test]
    fn backoff_grows_and_is_capped() {
        let mut p = Policy::new(RetrySettings {
            max_attempts: 10,
            initial_backoff: Duration::from_millis(10),
            max_backoff: Duration::from_millis(50),
        });
        for attempt in 0..10 {
            p.attempt = attempt;
            assert!(p.backoff() <= Duration::from_millis(50));
        }
    }
}
