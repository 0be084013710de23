use super::*;

const SEC: Duration = Duration::from_secs(1);
const MIN: Duration = Duration::from_secs(60);

fn rate(text: &str) -> Rate {
    parse_rate(text).unwrap()
}

fn limiter(per_caller: Option<&str>, per_tool: &[(&str, &str)]) -> RateLimiter {
    let per_tool = per_tool
        .iter()
        .map(|(tool, text)| (tool.to_string(), rate(text)));
    RateLimiter::new(per_caller.map(rate), per_tool.collect())
}

/// The call's allowance, which must be there.
fn allowed(limiter: &RateLimiter, caller: &str, tool: &str, now: Instant) -> Allowance {
    limiter.take_at(caller, tool, now).unwrap().unwrap()
}

fn text<const N: usize>(headers: [(HeaderName, HeaderValue); N]) -> String {
    let line =
        |(name, value): (HeaderName, HeaderValue)| format!("{name}: {}\n", value.to_str().unwrap());
    headers.into_iter().map(line).collect()
}

#[test]
fn rates_parse() {
    let rate_of = |per_period, period, burst| Rate {
        per_period,
        period,
        burst,
    };
    assert_eq!(rate("10/s"), rate_of(10, SEC, 10));
    assert_eq!(rate("600/min"), rate_of(600, MIN, 600));
    assert_eq!(rate("5000/h"), rate_of(5000, 60 * MIN, 5000));
    assert_eq!(rate("20/s:burst=40"), rate_of(20, SEC, 40));
    assert_eq!(rate("1/h:burst=1"), rate_of(1, 60 * MIN, 1));
    let tool = parse_tool_rate("get_time=5/min:burst=2");
    assert_eq!(tool, Ok(("get_time".to_owned(), rate_of(5, MIN, 2))));
    let bad = "0/s 10/fortnight abc 10/s:burst=0 10/s:burst=x 10/s:bust=4 /s -1/s 10/ \
                   5000000000/s 2000000000/s";
    for bad in bad.split(' ').chain([""]) {
        let error = parse_rate(bad).unwrap_err();
        assert!(error.contains(&format!("{bad:?}: ")) && error.contains("COUNT/PERIOD"));
    }
    for bad in ["=10/s", "get_time", "get_time=abc", "get_time=0/s"] {
        assert!(parse_tool_rate(bad).is_err(), "{bad}");
    }
}

#[test]
fn a_burst_past_its_size_is_limited_once_and_refills() {
    let limiter = limiter(Some("10/s"), &[]);
    let start = Instant::now();
    let refused: Vec<_> = (0..11)
        .filter_map(|_| limiter.take_at("al", "t", start).err())
        .collect();
    let limited = &refused[0];
    let retry_after = Duration::from_millis(100);
    let fields = (
        limited.limit,
        limited.window,
        limited.retry_after,
        limited.reset,
    );
    assert_eq!((refused.len(), fields), (1, (10, SEC, retry_after, SEC)));
    let expected = r#"retry-after: 1
ratelimit-policy: "default";q=10;w=1
ratelimit: "default";r=0;t=1
"#;
    assert_eq!(text(limited.headers()), expected);

    let later = start + retry_after;
    assert_eq!(allowed(&limiter, "al", "t", later).remaining, 0);
    assert!(limiter.take_at("al", "t", later).is_err());
    let refilled = later + SEC;
    for left in (0..10).rev() {
        assert_eq!(allowed(&limiter, "al", "t", refilled).remaining, left);
    }
}

#[test]
fn an_allowance_reports_its_bucket() {
    let allowance = allowed(&limiter(Some("5000/h"), &[]), "al", "t", Instant::now());
    let reset = Duration::from_millis(720);
    let fields = (
        allowance.limit,
        allowance.window,
        allowance.remaining,
        allowance.reset,
    );
    assert_eq!(fields, (5000, 60 * MIN, 4999, reset));
    let expected = r#"ratelimit-policy: "default";q=5000;w=3600
ratelimit: "default";r=4999;t=1
"#;
    assert_eq!(text(allowance.headers()), expected);
    let retry_after = Duration::from_millis(30_200);
    let slow = Limited {
        limit: 1,
        window: MIN,
        retry_after,
        reset: MIN,
    };
    assert!(text(slow.headers()).starts_with("retry-after: 31\n"));
}

#[test]
fn callers_are_independent() {
    let limiter = limiter(Some("1/min"), &[]);
    let now = Instant::now();
    assert!(limiter.take_at("al", "t", now).is_ok());
    assert!(limiter.take_at("al", "t", now).is_err());
    assert!(limiter.take_at("bo", "t", now).is_ok());
}

#[test]
fn a_tool_rate_is_tighter_and_takes_nothing_when_limited() {
    let limiter = limiter(Some("3/min"), &[("slow", "1/min")]);
    let now = Instant::now();
    let first = allowed(&limiter, "al", "slow", now);
    assert_eq!((first.limit, first.remaining), (1, 0));
    let refused = limiter.take_at("al", "slow", now).unwrap_err();
    assert_eq!((refused.limit, refused.retry_after), (1, MIN));
    // The refused call took nothing from al's own bucket: 2 are left.
    assert_eq!(allowed(&limiter, "al", "fast", now).remaining, 1);
    assert_eq!(allowed(&limiter, "al", "fast", now).remaining, 0);
    // A minute on, both are full; al empties her own bucket, which then
    // refuses a slow call without taking the tool's token.
    let later = now + MIN;
    for _ in 0..3 {
        allowed(&limiter, "al", "fast", later);
    }
    assert_eq!(limiter.take_at("al", "slow", later).unwrap_err().limit, 3);
    // Had it taken the tool's token, this would wait 40 s more.
    assert!(limiter.take_at("al", "slow", later + 20 * SEC).is_ok());
}

#[test]
fn without_a_rate_nothing_is_limited() {
    assert!(!limiter(None, &[]).is_enabled());
    assert_eq!(limiter(None, &[]).take("al", "t"), Ok(None));
    let per_tool = limiter(None, &[("slow", "1/h")]);
    assert!(per_tool.is_enabled());
    assert_eq!(per_tool.take("al", "other"), Ok(None));
    assert!(per_tool.take("al", "slow").unwrap().is_some());
}

#[test]
fn buckets_are_capped_and_idle_ones_go_first() {
    let limiter = RateLimiter {
        max_buckets: 3,
        ..limiter(Some("1/min"), &[])
    };
    let now = Instant::now();
    for caller in ["a", "b", "c", "d"] {
        allowed(&limiter, caller, "t", now);
    }
    // d found no room: e shares its overflow bucket, a keeps its own.
    assert!(limiter.take_at("e", "t", now).is_err());
    assert!(limiter.take_at("a", "t", now).is_err());
    assert_eq!(limiter.buckets.lock().unwrap().len(), 4);
    // A minute on, every bucket is full again and a new caller makes room.
    let later = now + MIN;
    allowed(&limiter, "f", "t", later);
    assert!(limiter.take_at("f", "t", later).is_err());
    allowed(&limiter, "g", "t", later);
    assert_eq!(limiter.buckets.lock().unwrap().len(), 2);
}

#[test]
fn the_real_cap_holds() {
    let limiter = limiter(Some("1/h"), &[("slow", "1/h")]);
    let now = Instant::now();
    // Two buckets a caller: the first half fill the map, one more gets the overflow's.
    for caller in 0..=MAX_BUCKETS / 2 {
        allowed(&limiter, &caller.to_string(), "slow", now);
    }
    assert!(limiter.take_at("late", "slow", now).is_err());
    assert_eq!(limiter.buckets.lock().unwrap().len(), MAX_BUCKETS + 2);
}
