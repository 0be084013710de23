//! Per-caller (and optionally per-tool) token buckets: 429 with Retry-After.
//!
//! A bucket is kept the GCRA way (generic cell rate algorithm): as the one
//! instant at which it is full again. Tokens are whole intervals of time
//! rather than fractions, so refills are exact and a bucket is one word.

use std::cmp::Reverse;
use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use http::{HeaderName, HeaderValue};
use tokio::time::Instant;

/// Buckets kept at most, beside the overflow's (see [`RateLimiter::take`]).
const MAX_BUCKETS: usize = 10_000;

const RATE_FORMAT: &str = "COUNT/PERIOD, PERIOD being s, min or h, optionally followed by \
                           :burst=N (10/s, 600/min, 5000/h, 20/s:burst=40)";

/// `--rate-limit 10/s`, `600/min`, `5000/h`, optional burst
/// `20/s:burst=40` (by default the count per period).
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Rate {
    pub per_period: u32,
    pub period: Duration,
    pub burst: u32,
}

impl Rate {
    /// How long one token takes to come back.
    fn interval(&self) -> Duration {
        self.period / self.per_period
    }
}

pub(crate) fn parse_rate(text: &str) -> Result<Rate, String> {
    let invalid = |why: String| format!("invalid rate {text:?}: {why}; expected {RATE_FORMAT}");
    let (rate, burst) = match text.split_once(':') {
        Some((rate, option)) => match option.strip_prefix("burst=") {
            Some(burst) => (rate, Some(burst)),
            None => return Err(invalid(format!("unknown option {option:?}"))),
        },
        None => (text, None),
    };
    let Some((count, unit)) = rate.split_once('/') else {
        return Err(invalid("no /".to_owned()));
    };
    let per_period: u32 = count
        .parse()
        .map_err(|_| invalid(format!("{count:?} is not a count")))?;
    if per_period == 0 {
        return Err(invalid("the count must be at least 1".to_owned()));
    }
    let period = Duration::from_secs(match unit {
        "s" | "sec" | "second" => 1,
        "m" | "min" | "minute" => 60,
        "h" | "hour" => 3600,
        _ => return Err(invalid(format!("unknown period {unit:?}"))),
    });
    // Under a nanosecond a token, the interval would be zero: no limit.
    if period.as_nanos() < u128::from(per_period) {
        return Err(invalid("more than one call a nanosecond".to_owned()));
    }
    let burst = match burst {
        None => per_period,
        Some(burst) => match burst.parse::<u32>() {
            Ok(0) => return Err(invalid("the burst must be at least 1".to_owned())),
            Ok(burst) => burst,
            Err(_) => return Err(invalid(format!("{burst:?} is not a burst size"))),
        },
    };
    Ok(Rate {
        per_period,
        period,
        burst,
    })
}

/// `--tool-rate-limit NAME=RATE` (RATE as in [`parse_rate`]).
pub(crate) fn parse_tool_rate(text: &str) -> Result<(String, Rate), String> {
    match text.split_once('=') {
        Some((name, rate)) if !name.is_empty() => Ok((name.to_owned(), parse_rate(rate)?)),
        _ => Err(format!(
            "invalid tool rate {text:?}: expected NAME=RATE, RATE being {RATE_FORMAT}"
        )),
    }
}

/// Whose bucket: a caller's own (for all its calls, or for one tool), or
/// the overflow's, which callers share when there is no room for theirs.
#[derive(Clone, Debug, Hash, PartialEq, Eq)]
struct BucketKey {
    caller: Option<Box<str>>,
    tool: Option<Box<str>>,
}

pub(crate) struct RateLimiter {
    per_caller: Option<Rate>,
    per_tool: HashMap<String, Rate>,
    max_buckets: usize,
    /// Each bucket's full-again instant; absent is full.
    buckets: Mutex<HashMap<BucketKey, Instant>>,
}

/// A call let through, with the state of the tightest bucket it took from.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Allowance {
    /// Calls per `window`.
    pub limit: u32,
    pub window: Duration,
    pub remaining: u32,
    /// Until the bucket is full again.
    pub reset: Duration,
}

/// A call refused: the bucket that refused it, and how long until it lets a
/// call through.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Limited {
    pub limit: u32,
    pub window: Duration,
    pub retry_after: Duration,
    /// Until the bucket is full again.
    pub reset: Duration,
}

impl RateLimiter {
    pub(crate) fn new(per_caller: Option<Rate>, per_tool: HashMap<String, Rate>) -> Self {
        RateLimiter {
            per_caller,
            per_tool,
            max_buckets: MAX_BUCKETS,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    pub(crate) fn is_enabled(&self) -> bool {
        self.per_caller.is_some() || !self.per_tool.is_empty()
    }

    /// Takes one token from the caller's bucket and, if the tool has its own
    /// rate, from the caller's bucket for that tool. When either is empty,
    /// nothing is taken from either. `Ok(None)`: no rate applies to this call.
    ///
    /// Memory is bounded: with [`MAX_BUCKETS`] kept, a new bucket first makes
    /// room by dropping the full ones (idle callers: a full bucket is the same
    /// as none, so this loses nothing). If every one is in use, the new caller
    /// shares one overflow bucket with every other caller that found no room,
    /// limited as if they were one caller: the proxy's load stays bounded and
    /// the callers already kept keep their own limits.
    pub(crate) fn take(&self, caller: &str, tool: &str) -> Result<Option<Allowance>, Limited> {
        self.take_at(caller, tool, Instant::now())
    }

    fn take_at(
        &self,
        caller: &str,
        tool: &str,
        now: Instant,
    ) -> Result<Option<Allowance>, Limited> {
        let rates = [
            self.per_caller.map(|rate| (None, rate)),
            self.per_tool.get(tool).map(|rate| (Some(tool), *rate)),
        ];
        if rates.iter().all(Option::is_none) {
            return Ok(None);
        }
        let mut buckets = self.buckets.lock().unwrap_or_else(PoisonError::into_inner);
        let mut used: Vec<(BucketKey, Rate)> = Vec::with_capacity(2);
        for (tool, rate) in rates.into_iter().flatten() {
            let key = BucketKey {
                caller: Some(caller.into()),
                tool: tool.map(Into::into),
            };
            let key = self.make_room(&mut buckets, key, &used, now);
            used.push((key, rate));
        }

        // Every bucket is checked before any is taken from.
        let refusal = used.iter().filter_map(|(key, rate)| {
            let reset = full_again(&buckets, key, now) - now;
            // A bucket holds a token while it is full again at most burst - 1
            // intervals from now.
            let retry_after = reset.saturating_sub(rate.interval() * (rate.burst - 1));
            let limited = Limited {
                limit: rate.per_period,
                window: rate.period,
                retry_after,
                reset,
            };
            (!retry_after.is_zero()).then_some(limited)
        });
        if let Some(limited) = refusal.max_by_key(|limited| limited.retry_after) {
            return Err(limited);
        }
        let allowances = used.into_iter().map(|(key, rate)| {
            let full_again = full_again(&buckets, &key, now) + rate.interval();
            buckets.insert(key, full_again);
            let reset = full_again - now;
            let interval = rate.interval().as_nanos();
            let room = (u128::from(rate.burst) * interval).saturating_sub(reset.as_nanos());
            let remaining = u32::try_from(room / interval).unwrap_or(u32::MAX);
            Allowance {
                limit: rate.per_period,
                window: rate.period,
                remaining,
                reset,
            }
        });
        Ok(allowances.min_by_key(|allowance| (allowance.remaining, Reverse(allowance.reset))))
    }

    /// The key this call's bucket is kept under, which is there on return:
    /// its own, or the overflow's when there is no room (see [`Self::take`]).
    fn make_room(
        &self,
        buckets: &mut HashMap<BucketKey, Instant>,
        key: BucketKey,
        in_use: &[(BucketKey, Rate)],
        now: Instant,
    ) -> BucketKey {
        if buckets.contains_key(&key) {
            return key;
        }
        if buckets.len() >= self.max_buckets {
            buckets.retain(|kept, full_again| {
                *full_again > now || in_use.iter().any(|(used, _)| used == kept)
            });
        }
        let key = if buckets.len() < self.max_buckets {
            key
        } else {
            BucketKey {
                caller: None,
                tool: key.tool,
            }
        };
        buckets.entry(key.clone()).or_insert(now);
        key
    }
}

/// When the bucket is full again: now at the latest, full being the past's
/// state too.
fn full_again(buckets: &HashMap<BucketKey, Instant>, key: &BucketKey, now: Instant) -> Instant {
    buckets.get(key).map_or(now, |at| (*at).max(now))
}

impl Allowance {
    /// `RateLimit-Policy` and `RateLimit` (draft-ietf-httpapi-ratelimit-headers-10).
    pub(crate) fn headers(&self) -> [(HeaderName, HeaderValue); 2] {
        let (limit, window, remaining) = (self.limit, self.window.as_secs(), self.remaining);
        let reset = ceil_secs(self.reset);
        [
            header(
                "ratelimit-policy",
                format!("\"default\";q={limit};w={window}"),
            ),
            header("ratelimit", format!("\"default\";r={remaining};t={reset}")),
        ]
    }
}

impl Limited {
    /// `Retry-After` in whole seconds (rounded up, at least 1), then
    /// `RateLimit-Policy` and `RateLimit` with no call remaining.
    pub(crate) fn headers(&self) -> [(HeaderName, HeaderValue); 3] {
        let (limit, window, reset) = (self.limit, self.window, self.reset);
        let [policy, state] = Allowance {
            limit,
            window,
            remaining: 0,
            reset,
        }
        .headers();
        let retry_after = ceil_secs(self.retry_after).max(1);
        [
            header("retry-after", retry_after.to_string()),
            policy,
            state,
        ]
    }
}

fn header(name: &'static str, value: String) -> (HeaderName, HeaderValue) {
    let value = HeaderValue::try_from(value).expect("quotes, digits, ; and = make a header value");
    (HeaderName::from_static(name), value)
}

fn ceil_secs(duration: Duration) -> u64 {
    duration.as_secs() + u64::from(duration.subsec_nanos() > 0)
}

#[cfg(test)]
mod tests;
