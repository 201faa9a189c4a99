//! Retrying transient failures — connection resets, timeouts, 5xx, 429 —
//! with capped exponential backoff and jitter (so that parallel uploads do
//! not retry in lockstep), a bounded number of times, saying so in the log.
//! Authentication failures and other 4xx answers are final.

use std::future::Future;
use std::time::Duration;

/// Whether a failure may pass if tried again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Transience {
    Transient,
    Permanent,
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct RetryPolicy {
    /// Tries in all, the first included.
    pub attempts: u32,
    pub base: Duration,
    pub cap: Duration,
}

pub(crate) const REGISTRY_POLICY: RetryPolicy =
    RetryPolicy { attempts: 5, base: Duration::from_millis(250), cap: Duration::from_secs(8) };

impl RetryPolicy {
    /// The longest wait before try `attempt` (2 is the first retry).
    pub(crate) fn delay(&self, attempt: u32) -> Duration {
        let exponent = attempt.saturating_sub(2).min(16);
        self.base.saturating_mul(1 << exponent).min(self.cap)
    }

    /// The wait before try `attempt`, with jitter: `delay` scaled by
    /// `fraction` (from 0.5 to 1.0), so concurrent retries spread out.
    pub(crate) fn jittered_delay(&self, attempt: u32, fraction: f64) -> Duration {
        self.delay(attempt).mul_f64(fraction.clamp(0.5, 1.0))
    }
}

/// Classifies an oci-client error.
pub(crate) fn registry_transience(error: &oci_client::errors::OciDistributionError) -> Transience {
    use oci_client::errors::OciDistributionError as E;
    match error {
        E::RequestError(e) if e.is_connect() || e.is_timeout() || e.is_request() || e.is_body() => {
            Transience::Transient
        }
        E::ServerError { code, .. } if *code >= 500 || *code == 429 || *code == 408 => {
            Transience::Transient
        }
        E::RegistryError { envelope, .. }
            if envelope.errors.iter().any(|e| transient_code(&e.code)) =>
        {
            Transience::Transient
        }
        E::IoError(_) => Transience::Transient,
        _ => Transience::Permanent,
    }
}

/// Registry error codes that say "try again": the spec's `TOOMANYREQUESTS`,
/// and `UNAVAILABLE`, which registries send as their own code.
fn transient_code(code: &oci_client::errors::OciErrorCode) -> bool {
    use oci_client::errors::OciErrorCode as C;
    match code {
        C::Toomanyrequests => true,
        C::Other(other) => {
            other.eq_ignore_ascii_case("UNAVAILABLE")
                || other.eq_ignore_ascii_case("TOOMANYREQUESTS")
        }
        _ => false,
    }
}

/// Classifies a bollard error.
pub(crate) fn daemon_transience(error: &bollard::errors::Error) -> Transience {
    use bollard::errors::Error as E;
    match error {
        E::DockerResponseServerError { status_code, .. }
            if *status_code >= 500 || *status_code == 429 =>
        {
            Transience::Transient
        }
        E::RequestTimeoutError | E::HyperResponseError { .. } | E::IOError { .. } => {
            Transience::Transient
        }
        _ => Transience::Permanent,
    }
}

/// Classifies a buildx failure by its message: a push or pull that met a
/// transient registry answer.
pub(crate) fn build_failure_transience(message: &str) -> Transience {
    const SIGNS: &[&str] = &[
        "503 Service Unavailable",
        "502 Bad Gateway",
        "504 Gateway Timeout",
        "500 Internal Server Error",
        "429 Too Many Requests",
        "connection reset by peer",
        "i/o timeout",
        "TLS handshake timeout",
        "unexpected EOF",
    ];
    if SIGNS.iter().any(|sign| message.contains(sign)) {
        Transience::Transient
    } else {
        Transience::Permanent
    }
}

/// Runs `op` until it succeeds, fails permanently, or runs out of tries.
pub(crate) async fn retry<T, E, F, Fut>(
    what: &str,
    policy: RetryPolicy,
    classify: impl Fn(&E) -> Transience,
    mut op: F,
) -> Result<T, E>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, E>>,
    E: std::fmt::Display,
{
    let mut attempt = 1;
    loop {
        match op().await {
            Ok(value) => return Ok(value),
            Err(error)
                if attempt < policy.attempts && classify(&error) == Transience::Transient =>
            {
                attempt += 1;
                let wait = policy.jittered_delay(attempt, rand::random_range(0.5..=1.0));
                tracing::warn!(
                    "{what} failed ({error}); retrying in {:.1}s (try {attempt} of {})",
                    wait.as_secs_f64(),
                    policy.attempts
                );
                tokio::time::sleep(wait).await;
            }
            Err(error) => return Err(error),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};

    #[test]
    fn backoff_doubles_and_is_capped() {
        let policy = RetryPolicy {
            attempts: 8,
            base: Duration::from_millis(250),
            cap: Duration::from_secs(2),
        };
        let delays: Vec<u128> = (2..=7).map(|a| policy.delay(a).as_millis()).collect();
        assert_eq!(delays, [250, 500, 1000, 2000, 2000, 2000]);
    }

    #[test]
    fn jitter_spreads_waits_between_half_and_the_whole_delay() {
        let policy = RetryPolicy {
            attempts: 8,
            base: Duration::from_millis(400),
            cap: Duration::from_secs(8),
        };
        assert_eq!(policy.jittered_delay(2, 0.5), Duration::from_millis(200));
        assert_eq!(policy.jittered_delay(3, 1.0), Duration::from_millis(800));
        assert_eq!(policy.jittered_delay(2, 0.0), Duration::from_millis(200), "never below half");
        let waits: std::collections::BTreeSet<u128> = (0..50)
            .map(|_| policy.jittered_delay(2, rand::random_range(0.5..=1.0)).as_micros())
            .collect();
        assert!(waits.len() > 10, "concurrent retries do not wait alike: {waits:?}");
    }

    #[test]
    fn registry_error_codes_are_matched_by_variant() {
        use oci_client::errors::OciErrorCode as C;
        for (code, transient) in [
            (C::Toomanyrequests, true),
            (C::Other("UNAVAILABLE".into()), true),
            (C::Other("unavailable".into()), true),
            (C::Unauthorized, false),
            (C::Denied, false),
            (C::Other("SOMETHING_UNAVAILABLE_ELSE".into()), false),
        ] {
            assert_eq!(transient_code(&code), transient, "{code:?}");
        }
    }

    #[test]
    fn build_failures_are_classified_by_message() {
        let cases = [
            (
                "failed to push r/a:1: unexpected status from PUT request: 503 Service Unavailable",
                Transience::Transient,
            ),
            (
                "failed to do request: Head \"http://r/v2/\": read tcp: connection reset by peer",
                Transience::Transient,
            ),
            (
                "failed to solve: process \"/bin/sh -c make\" did not complete successfully: exit code: 2",
                Transience::Permanent,
            ),
            ("failed to authorize: 401 Unauthorized", Transience::Permanent),
        ];
        for (message, expected) in cases {
            assert_eq!(build_failure_transience(message), expected, "{message}");
        }
    }

    #[tokio::test]
    async fn transient_failures_are_retried_and_permanent_ones_are_not() {
        let policy = RetryPolicy {
            attempts: 4,
            base: Duration::from_millis(10),
            cap: Duration::from_millis(40),
        };
        let calls = AtomicU32::new(0);
        let result: Result<u32, String> = retry(
            "op",
            policy,
            |e: &String| if e == "503" { Transience::Transient } else { Transience::Permanent },
            || {
                let n = calls.fetch_add(1, Ordering::SeqCst);
                async move { if n < 2 { Err("503".to_string()) } else { Ok(n) } }
            },
        )
        .await;
        assert_eq!(result, Ok(2));
        assert_eq!(calls.load(Ordering::SeqCst), 3);

        let calls = AtomicU32::new(0);
        let result: Result<u32, String> = retry(
            "op",
            policy,
            |_: &String| Transience::Permanent,
            || {
                calls.fetch_add(1, Ordering::SeqCst);
                async { Err("401".to_string()) }
            },
        )
        .await;
        assert_eq!(result, Err("401".to_string()));
        assert_eq!(calls.load(Ordering::SeqCst), 1);

        let calls = AtomicU32::new(0);
        let result: Result<u32, String> = retry(
            "op",
            policy,
            |_: &String| Transience::Transient,
            || {
                calls.fetch_add(1, Ordering::SeqCst);
                async { Err("503".to_string()) }
            },
        )
        .await;
        assert!(result.is_err());
        assert_eq!(calls.load(Ordering::SeqCst), 4, "bounded");
    }
}
