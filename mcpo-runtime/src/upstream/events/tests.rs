use super::*;
use rmcp::model::NumberOrString;

#[test]
fn a_form_tied_to_no_task_goes_to_the_only_request_in_flight() {
    let events = UpstreamEvents::default();
    let (sink, _asks) = mpsc::unbounded_channel();
    let call = events.request_in_flight();
    let forms = events.plain_call_forms(sink);
    assert!(events.sole_call_forms().is_some());
    // Another request in flight: whose form it is cannot be known.
    let other = events.request_in_flight();
    assert!(events.sole_call_forms().is_none());
    drop(other);
    assert!(events.sole_call_forms().is_some());
    drop(forms);
    assert!(events.sole_call_forms().is_none());
    drop(call);
    assert_eq!(events.inner.in_flight.load(Ordering::Relaxed), 0);
}

#[test]
fn progress_goes_to_its_call_under_the_callers_token_until_the_route_drops() {
    let events = UpstreamEvents::default();
    let (sink, mut received) = mpsc::unbounded_channel();
    let caller = ProgressToken(NumberOrString::String("caller".into()));
    let upstream_token = ProgressToken(NumberOrString::Number(7));
    let route = events.progress_route(upstream_token.clone(), caller.clone(), sink);
    events.forward_progress(ProgressNotificationParam::new(upstream_token.clone(), 1.0));
    let forwarded = received.try_recv().expect("forwarded");
    assert_eq!(forwarded.progress_token, caller);
    assert_eq!(forwarded.progress, 1.0);
    // Someone else's token goes nowhere.
    events.forward_progress(ProgressNotificationParam::new(
        ProgressToken(NumberOrString::Number(8)),
        2.0,
    ));
    assert!(received.try_recv().is_err());
    drop(route);
    events.forward_progress(ProgressNotificationParam::new(upstream_token, 3.0));
    assert!(received.try_recv().is_err());
}

/// A sink that records the URIs it gets.
fn recorder() -> (ResourceSink, Arc<Mutex<Vec<String>>>) {
    let got = Arc::new(Mutex::new(Vec::new()));
    let sink: ResourceSink = {
        let got = Arc::clone(&got);
        Arc::new(move |uri: &str| got.lock().unwrap().push(uri.to_string()))
    };
    (sink, got)
}

fn taken(got: &Mutex<Vec<String>>) -> Vec<String> {
    std::mem::take(&mut *got.lock().unwrap())
}

fn update(events: &UpstreamEvents, uri: &str) {
    events.forward_resource_updated(&ResourceUpdatedNotificationParam::new(uri));
}

/// Lets the spawned tasks run until `done` holds.
async fn until(mut done: impl FnMut() -> bool) {
    for _ in 0..1000 {
        if done() {
            return;
        }
        tokio::task::yield_now().await;
    }
    panic!("never happened");
}

/// Subscribes `uri` with a subscribe that counts in `sent` and answers
/// what `answer` says (Ok at once without one).
fn subscriber(
    events: &UpstreamEvents,
    uri: &'static str,
    sink: ResourceSink,
    sent: &Arc<AtomicU64>,
    answer: Option<tokio::sync::oneshot::Receiver<Result<(), &'static str>>>,
) -> tokio::task::JoinHandle<(u64, Result<(), &'static str>)> {
    let events = events.clone();
    let sent = Arc::clone(sent);
    tokio::spawn(async move {
        let route = events.new_resource_route();
        let subscribed = events
            .subscribe_resource(uri, route, sink, || async move {
                sent.fetch_add(1, Ordering::SeqCst);
                match answer {
                    Some(answer) => answer.await.unwrap_or(Err("dropped")),
                    None => Ok(()),
                }
            })
            .await;
        (route, subscribed)
    })
}

fn count(sent: &AtomicU64) -> u64 {
    sent.load(Ordering::SeqCst)
}

#[tokio::test]
async fn resource_updates_go_to_every_route_of_their_uri_until_it_ends() {
    let events = UpstreamEvents::default();
    let sent = Arc::new(AtomicU64::new(0));
    let (one, to_one) = recorder();
    let (two, to_two) = recorder();
    let (first, _) = subscriber(&events, "demo://a", one, &sent, None)
        .await
        .unwrap();
    for (uri, sink) in [("demo://a", Arc::clone(&two)), ("demo://b", two)] {
        let (_, subscribed) = subscriber(&events, uri, sink, &sent, None).await.unwrap();
        assert_eq!(subscribed, Ok(()));
    }
    assert_eq!(count(&sent), 2, "demo://a subscribed upstream once");

    update(&events, "demo://a");
    assert_eq!(taken(&to_one), ["demo://a"]);
    assert_eq!(taken(&to_two), ["demo://a"], "one copy per route");
    update(&events, "demo://c");
    assert!(taken(&to_one).is_empty());

    events.remove_resource_route("demo://a", first);
    let unsubscribed = events.release_resource("demo://a", || async {}).await;
    assert!(!unsubscribed, "a route of demo://a is left");
    update(&events, "demo://a");
    assert!(taken(&to_one).is_empty(), "its route ended");
    assert_eq!(taken(&to_two), ["demo://a"]);
}

#[tokio::test]
async fn a_second_subscriber_waits_for_the_first_ones_subscribe() {
    let events = UpstreamEvents::default();
    let sent = Arc::new(AtomicU64::new(0));
    let (answer, answered) = tokio::sync::oneshot::channel();
    let (one, to_one) = recorder();
    let (two, to_two) = recorder();
    let first = subscriber(&events, "demo://a", one, &sent, Some(answered));
    until(|| count(&sent) == 1).await;
    let second = subscriber(&events, "demo://a", two, &sent, None);
    tokio::task::yield_now().await;
    assert!(
        !second.is_finished(),
        "it waits for the subscribe in flight"
    );

    answer.send(Ok(())).unwrap();
    assert_eq!(first.await.unwrap().1, Ok(()));
    assert_eq!(second.await.unwrap().1, Ok(()));
    assert_eq!(count(&sent), 1, "subscribed upstream once");
    update(&events, "demo://a");
    assert_eq!(taken(&to_one), ["demo://a"]);
    assert_eq!(taken(&to_two), ["demo://a"]);
}

#[tokio::test]
async fn a_second_subscriber_subscribes_itself_when_the_first_ones_subscribe_failed() {
    let events = UpstreamEvents::default();
    let sent = Arc::new(AtomicU64::new(0));
    let (answer, answered) = tokio::sync::oneshot::channel();
    let (one, to_one) = recorder();
    let (two, to_two) = recorder();
    let first = subscriber(&events, "demo://a", one, &sent, Some(answered));
    until(|| count(&sent) == 1).await;
    let second = subscriber(&events, "demo://a", two, &sent, None);
    tokio::task::yield_now().await;
    assert!(
        !second.is_finished(),
        "it waits for the subscribe in flight"
    );

    answer.send(Err("refused")).unwrap();
    assert_eq!(first.await.unwrap().1, Err("refused"));
    assert_eq!(second.await.unwrap().1, Ok(()));
    assert_eq!(count(&sent), 2, "the second one sent its own subscribe");
    update(&events, "demo://a");
    assert!(
        taken(&to_one).is_empty(),
        "a refused subscriber gets no route"
    );
    assert_eq!(taken(&to_two), ["demo://a"]);
}

#[tokio::test]
async fn a_subscriber_during_an_unsubscribe_waits_for_it_and_subscribes_again() {
    let events = UpstreamEvents::default();
    let sent = Arc::new(AtomicU64::new(0));
    let (one, _) = recorder();
    let (two, to_two) = recorder();
    let (first, _) = subscriber(&events, "demo://a", one, &sent, None)
        .await
        .unwrap();

    events.remove_resource_route("demo://a", first);
    let (done, unsubscribed) = tokio::sync::oneshot::channel::<()>();
    let unsubscribing = Arc::new(AtomicU64::new(0));
    let release = tokio::spawn({
        let events = events.clone();
        let unsubscribing = Arc::clone(&unsubscribing);
        async move {
            events
                .release_resource("demo://a", || async move {
                    unsubscribing.fetch_add(1, Ordering::SeqCst);
                    let _ = unsubscribed.await;
                })
                .await
        }
    });
    until(|| count(&unsubscribing) == 1).await;
    let second = subscriber(&events, "demo://a", two, &sent, None);
    tokio::task::yield_now().await;
    assert!(
        !second.is_finished(),
        "it waits for the unsubscribe in flight"
    );
    assert_eq!(count(&sent), 1);

    done.send(()).unwrap();
    assert!(release.await.unwrap(), "the last route's end unsubscribed");
    assert_eq!(second.await.unwrap().1, Ok(()));
    assert_eq!(count(&sent), 2, "subscribed again after the unsubscribe");
    update(&events, "demo://a");
    assert_eq!(taken(&to_two), ["demo://a"]);
}

#[tokio::test]
async fn a_release_waits_for_a_subscribe_in_flight_and_leaves_its_route_subscribed() {
    let events = UpstreamEvents::default();
    let sent = Arc::new(AtomicU64::new(0));
    let (one, _) = recorder();
    let (two, to_two) = recorder();
    let (first, _) = subscriber(&events, "demo://a", one, &sent, None)
        .await
        .unwrap();
    // A second subscriber of an already subscribed URI sends nothing, so
    // make the URI's next subscribe one in flight: release it first.
    events.remove_resource_route("demo://a", first);
    assert!(events.release_resource("demo://a", || async {}).await);

    let (answer, answered) = tokio::sync::oneshot::channel();
    let second = subscriber(&events, "demo://a", two, &sent, Some(answered));
    until(|| count(&sent) == 2).await;
    let unsubscribes = Arc::new(AtomicU64::new(0));
    let release = tokio::spawn({
        let events = events.clone();
        let unsubscribes = Arc::clone(&unsubscribes);
        async move {
            events
                .release_resource("demo://a", || async move {
                    unsubscribes.fetch_add(1, Ordering::SeqCst);
                })
                .await
        }
    });
    tokio::task::yield_now().await;
    assert!(
        !release.is_finished(),
        "it waits for the subscribe in flight"
    );
    answer.send(Ok(())).unwrap();
    assert_eq!(second.await.unwrap().1, Ok(()));
    assert!(
        !release.await.unwrap(),
        "a route is left: nothing unsubscribed"
    );
    assert_eq!(count(&unsubscribes), 0);
    update(&events, "demo://a");
    assert_eq!(taken(&to_two), ["demo://a"]);
}

#[tokio::test]
async fn a_subscribe_dropped_halfway_is_unsubscribed_when_released() {
    let events = UpstreamEvents::default();
    let sent = Arc::new(AtomicU64::new(0));
    let (one, _) = recorder();
    let (_answer, answered) = tokio::sync::oneshot::channel();
    let first = subscriber(&events, "demo://a", one, &sent, Some(answered));
    until(|| count(&sent) == 1).await;
    first.abort();
    assert!(first.await.unwrap_err().is_cancelled());

    // Its route id is the first one: what the subscriber's guard ends.
    events.remove_resource_route("demo://a", 0);
    assert!(
        events.release_resource("demo://a", || async {}).await,
        "perhaps subscribed upstream: unsubscribed"
    );
    assert!(events.resources().is_empty(), "nothing left of demo://a");
    assert!(
        !events.release_resource("demo://a", || async {}).await,
        "unsubscribed once"
    );
    assert!(events.resources().is_empty());
}

#[tokio::test]
async fn the_last_release_unsubscribes_and_forgets_the_uri() {
    let events = UpstreamEvents::default();
    let sent = Arc::new(AtomicU64::new(0));
    let (one, _) = recorder();
    let (two, _) = recorder();
    let (first, _) = subscriber(&events, "demo://a", one, &sent, None)
        .await
        .unwrap();
    let (second, _) = subscriber(&events, "demo://a", two, &sent, None)
        .await
        .unwrap();
    events.remove_resource_route("demo://a", first);
    assert!(!events.release_resource("demo://a", || async {}).await);
    events.remove_resource_route("demo://a", second);
    assert!(events.release_resource("demo://a", || async {}).await);
    assert!(events.resources().is_empty());
    // A refused subscribe leaves nothing either.
    let (three, _) = recorder();
    let (answer, answered) = tokio::sync::oneshot::channel();
    answer.send(Err("refused")).unwrap();
    let (_, refused) = subscriber(&events, "demo://a", three, &sent, Some(answered))
        .await
        .unwrap();
    assert_eq!(refused, Err("refused"));
    assert!(events.resources().is_empty());
}
