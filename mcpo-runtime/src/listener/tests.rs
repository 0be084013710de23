use super::*;

fn tracked(in_flight: u64) -> Tracked {
    receiving(in_flight, 0)
}

/// In flight and receiving its body since `since` (0: not receiving).
fn receiving(in_flight: u64, since: u64) -> Tracked {
    Tracked {
        in_flight: Arc::new(AtomicU64::new(in_flight)),
        receiving_since: Arc::new(AtomicU64::new(since)),
        evict: watch::channel(false).0,
        closing: Arc::new(AtomicBool::new(false)),
    }
}

fn closing_ids(registry: &Mutex<Registry>) -> Vec<u64> {
    lock(registry)
        .open
        .iter()
        .filter(|(_, tracked)| tracked.closing.load(Ordering::SeqCst))
        .map(|(id, _)| *id)
        .collect()
}

#[test]
fn slow_bodies_past_the_grace_are_evicted_after_idle_connections() {
    let registry = Mutex::new(Registry::default());
    {
        let mut registry = lock(&registry);
        // Receiving since 1 s (the grace), 10 s and 5 s before "now" (20 s); one
        // working on its request (body whole), one idle.
        registry.open.insert(0, receiving(1, 19_000));
        registry.open.insert(1, receiving(1, 10_000));
        registry.open.insert(2, receiving(1, 15_000));
        registry.open.insert(3, tracked(1));
        registry.open.insert(4, tracked(0));
    }
    // Closing connections no longer count: each call makes one more room.
    assert!(make_room(&registry, 5, 20_000));
    assert_eq!(closing_ids(&registry), vec![4], "the idle one first");
    assert!(make_room(&registry, 4, 20_000));
    assert_eq!(closing_ids(&registry), vec![1, 4], "then the longest body");
    assert!(make_room(&registry, 3, 20_000));
    assert_eq!(closing_ids(&registry), vec![1, 2, 4]);
    // The one within its grace and the one at work are never cut.
    assert!(!make_room(&registry, 2, 20_000));
    assert_eq!(closing_ids(&registry), vec![1, 2, 4]);
    assert!(make_room(&registry, 2, 20_001));
    assert_eq!(
        closing_ids(&registry),
        vec![0, 1, 2, 4],
        "once past its grace"
    );
}

/// A body that stops arriving is cut at its deadline, or at once on
/// eviction; a whole body is not, and no longer counts as receiving.
#[tokio::test]
async fn a_body_is_cut_at_its_deadline_or_on_eviction() {
    use tokio::io::AsyncWriteExt as _;

    /// The whole body, or its first error.
    async fn collect(mut body: TimedBody) -> Result<Vec<u8>, BoxError> {
        let mut bytes = Vec::new();
        while let Some(frame) = std::future::poll_fn(|cx| Pin::new(&mut body).poll_frame(cx)).await
        {
            if let Ok(data) = frame?.into_data() {
                bytes.extend_from_slice(&data);
            }
        }
        Ok(bytes)
    }

    // A real connection gives a real `Incoming`: the service hands each
    // request's body out through a channel.
    async fn one_request(
        timeout: Duration,
        head_and_body: &'static [u8],
    ) -> (
        TimedBody,
        Arc<AtomicU64>,
        watch::Sender<bool>,
        tokio::net::TcpStream,
    ) {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let address = listener.local_addr().expect("address");
        let mut client = tokio::net::TcpStream::connect(address)
            .await
            .expect("connect");
        let (server, _) = listener.accept().await.expect("accept");
        let (bodies, mut received) = tokio::sync::mpsc::unbounded_channel();
        let receiving_since = Arc::new(AtomicU64::new(0));
        let (evict_sender, evict) = watch::channel(false);
        let since = Arc::clone(&receiving_since);
        let service = hyper::service::service_fn(move |request: hyper::Request<Incoming>| {
            let body = TimedBody::new(
                request.into_body(),
                timeout,
                evict.clone(),
                Arc::clone(&since),
            );
            let _ = bodies.send(body);
            async { Ok::<_, std::convert::Infallible>(hyper::Response::new(String::new())) }
        });
        tokio::spawn(
            hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(server), service),
        );
        client.write_all(head_and_body).await.expect("send");
        let body = received.recv().await.expect("a request");
        (body, receiving_since, evict_sender, client)
    }
    let stalled: &[u8] = b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc";
    let (body, since, _evict, _client) = one_request(Duration::from_millis(300), stalled).await;
    assert_ne!(since.load(Ordering::SeqCst), 0, "receiving");
    let error = collect(body).await.expect_err("cut");
    assert_eq!(
        BodyCut::of(&*error),
        Some(BodyCut::Deadline(Duration::from_millis(300)))
    );
    assert_eq!(since.load(Ordering::SeqCst), 0, "no longer receiving");

    let (body, _since, evict, _client) = one_request(Duration::from_secs(600), stalled).await;
    let _ = evict.send(true);
    let error = collect(body).await.expect_err("cut");
    assert_eq!(BodyCut::of(&*error), Some(BodyCut::Evicted));

    let whole: &[u8] = b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc";
    let (body, since, _evict, _client) = one_request(Duration::from_secs(600), whole).await;
    let bytes = collect(body).await.ok();
    assert_eq!(bytes.as_deref(), Some(&b"abc"[..]));
    assert_eq!(since.load(Ordering::SeqCst), 0);
}

#[test]
fn at_the_cap_the_oldest_idle_connection_makes_room() {
    let registry = Mutex::new(Registry::default());
    {
        let mut registry = lock(&registry);
        registry.open.insert(0, tracked(1));
        registry.open.insert(1, tracked(0));
        registry.open.insert(2, tracked(0));
    }
    assert!(make_room(&registry, 4, 1), "below the cap");
    assert!(make_room(&registry, 3, 1), "one idle is closed");
    let registry_now = lock(&registry);
    let closing: Vec<u64> = registry_now
        .open
        .iter()
        .filter(|(_, tracked)| tracked.closing.load(Ordering::SeqCst))
        .map(|(id, _)| *id)
        .collect();
    assert_eq!(closing, vec![1], "the oldest idle one, not the busy one");
}

#[test]
fn with_every_connection_busy_a_new_one_is_refused() {
    let registry = Mutex::new(Registry::default());
    lock(&registry).open.insert(0, tracked(1));
    assert!(!make_room(&registry, 1, 1));
}

#[test]
fn tls_files_that_cannot_serve_are_named_in_the_error() {
    let dir = std::env::temp_dir().join(format!("mcpo-tls-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let garbage = dir.join("garbage.pem");
    std::fs::write(&garbage, "not PEM\n").unwrap();
    let missing = dir.join("missing.pem");
    let error = |cert: &std::path::Path, key: &std::path::Path| {
        tls_acceptor(cert, key)
            .err()
            .map(|error| error.0)
            .unwrap_or_default()
    };
    let text = error(&missing, &garbage);
    assert!(
        text.starts_with(&format!(
            "--ssl-certfile {}: cannot read it",
            missing.display()
        )),
        "{text}"
    );
    let text = error(&garbage, &garbage);
    assert!(
        text.starts_with(&format!(
            "--ssl-certfile {}: no certificate in it",
            garbage.display()
        )),
        "{text}"
    );
    // A certificate block that is not base64 at all.
    let broken = dir.join("broken.pem");
    std::fs::write(
        &broken,
        "-----BEGIN CERTIFICATE-----\n!!\n-----END CERTIFICATE-----\n",
    )
    .unwrap();
    let text = error(&broken, &garbage);
    assert!(
        text.starts_with(&format!(
            "--ssl-certfile {}: not a valid PEM file",
            broken.display()
        )),
        "{text}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_default_cap_leaves_room_for_the_upstream() {
    let cap = default_max_connections(64);
    assert!((16..=65_536).contains(&cap), "{cap}");
}
