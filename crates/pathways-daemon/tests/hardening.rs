//! The daemon under hostile or broken clients, over real TCP on loopback (the accept loop and
//! the whole middleware stack): a declared body over the limit is refused at once, a body that
//! stalls is cut off with 408 (and headers that stall too), a request hyper cannot read is
//! refused in the API's JSON shape, and connections that stall without a key cannot lock anyone
//! out — the operational routes never wait for a slot.

mod support;

use std::time::{Duration, Instant};

use pathways_daemon::Limits;
use support::Harness;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Serves the harness's daemon on a loopback port; its address.
async fn serve(h: &Harness) -> std::net::SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let daemon = h.daemon.clone();
    tokio::spawn(async move { daemon.serve(listener, std::future::pending()).await });
    addr
}

/// Writes `head` (request line and headers) and then `body`, and returns the connection.
async fn send_raw(addr: std::net::SocketAddr, head: &str, body: &[u8]) -> TcpStream {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(body).await.unwrap();
    stream
}

/// The status code of the answer on `stream`, read within `within`.
async fn status_of(stream: &mut TcpStream, within: Duration) -> u16 {
    let mut buffer = vec![0u8; 4096];
    let n = tokio::time::timeout(within, stream.read(&mut buffer))
        .await
        .expect("an answer in time")
        .unwrap();
    let text = String::from_utf8_lossy(&buffer[..n]);
    text.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or_else(|| panic!("{text}"))
}

fn post_head(path: &str, token: Option<&str>, length: u64) -> String {
    let auth = token.map(|t| format!("Authorization: Bearer {t}\r\n")).unwrap_or_default();
    format!(
        "POST {path} HTTP/1.1\r\nHost: localhost\r\n{auth}Content-Type: application/json\r\n\
         Content-Length: {length}\r\n\r\n"
    )
}

/// The whole answer on `stream` (head and the body its `content-length` announces), read
/// within `within`.
async fn answer_of(stream: &mut TcpStream, within: Duration) -> String {
    let mut answer = Vec::new();
    let deadline = tokio::time::Instant::now() + within;
    loop {
        let text = String::from_utf8_lossy(&answer).into_owned();
        if let Some((head, body)) = text.split_once("\r\n\r\n") {
            let length = head
                .lines()
                .find_map(|l| {
                    l.to_ascii_lowercase()
                        .strip_prefix("content-length:")
                        .map(|v| v.trim().to_string())
                })
                .and_then(|v| v.parse::<usize>().ok())
                .unwrap_or(0);
            if body.len() >= length {
                return text;
            }
        }
        let mut buffer = vec![0u8; 8192];
        let n = tokio::time::timeout_at(deadline, stream.read(&mut buffer))
            .await
            .expect("an answer in time")
            .unwrap();
        if n == 0 {
            return text;
        }
        answer.extend_from_slice(&buffer[..n]);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_header_that_may_appear_once_sent_twice_is_a_json_400() {
    let h = Harness::new().await;
    let addr = serve(&h).await;
    let (a, b) = (&h.pathfinder_a, &h.pathfinder_b);
    let probes = [
        // Two keys: either could be taken, so neither is.
        format!("GET /v1/partners HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {a}\r\nAuthorization: Bearer {b}\r\n\r\n"),
        // Two idempotency keys: which request is this?
        format!("POST /v1/cases/{}/referrals HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {a}\r\nIdempotency-Key: k1\r\nIdempotency-Key: k2\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{{}}", "a".repeat(32)),
    ];
    for probe in probes {
        let mut stream = send_raw(addr, &probe, b"").await;
        let answer = answer_of(&mut stream, Duration::from_secs(3)).await;
        let first_line = answer.lines().next().unwrap_or_default();
        assert!(first_line.contains(" 400 "), "{probe:?} → {answer}");
        assert!(
            answer.contains("application/json") && answer.contains("\"duplicate_header\""),
            "{probe:?} → {answer}"
        );
    }
    let audit = h.audit_actions().await;
    assert!(
        !audit.iter().any(|a| a.starts_with("referral.create")),
        "nothing reached a handler: {audit:?}"
    );
}

/// The status, `error.code` and whole text of a JSON refusal on `stream`, which must then close.
async fn json_refusal(stream: &mut TcpStream, probe: &str) -> (u16, String) {
    let answer = answer_of(stream, Duration::from_secs(3)).await;
    let (head, body) =
        answer.split_once("\r\n\r\n").unwrap_or_else(|| panic!("{probe:?} → {answer:?}"));
    let status: u16 = head.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap();
    assert!(
        head.to_ascii_lowercase().contains("content-type: application/json"),
        "{probe:?} → {answer}"
    );
    let json: serde_json::Value =
        serde_json::from_str(body).unwrap_or_else(|e| panic!("{probe:?} → {answer}: {e}"));
    let code = json["error"]["code"].as_str().unwrap_or_default().to_string();
    assert!(json["error"]["message"].as_str().is_some_and(|m| !m.is_empty()), "{answer}");
    (status, code)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_request_hyper_cannot_read_is_refused_in_json() {
    let h = Harness::new().await;
    let addr = serve(&h).await;
    let a = &h.pathfinder_a;
    let probes: Vec<(String, u16, &str)> = vec![
        ("GARBAGE\r\n\r\n".into(), 400, "malformed_request"),
        ("GET /v1/partners HTTP/1.1 extra\r\nHost: x\r\n\r\n".into(), 400, "malformed_request"),
        ("GET /v1/partners HTTP/9.9\r\nHost: x\r\n\r\n".into(), 400, "malformed_request"),
        ("GET /v1/part ners HTTP/1.1\r\nHost: x\r\n\r\n".into(), 400, "malformed_request"),
        ("GET /v1/partners HTTP/1.1\r\nHo st: x\r\n\r\n".into(), 400, "malformed_request"),
        ("GET /v1/partners HTTP/1.1\r\nHost x\r\n\r\n".into(), 400, "malformed_request"),
        (
            format!(
                "POST /v1/cases HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {a}\r\n\
                 Content-Type: application/json\r\nContent-Length: 2\r\nContent-Length: 5\r\n\r\n{{}}"
            ),
            400,
            "malformed_request",
        ),
        (
            format!(
                "POST /v1/cases HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {a}\r\n\
                 Content-Length: abc\r\n\r\n{{}}"
            ),
            400,
            "malformed_request",
        ),
        (
            format!(
                "POST /v1/cases HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {a}\r\n\
                 Transfer-Encoding: gzip\r\n\r\n{{}}"
            ),
            400,
            "malformed_request",
        ),
        (
            format!("GET /v1/partners HTTP/1.1\r\nHost: x\r\n{}\r\n", "X-Many: y\r\n".repeat(120)),
            431,
            "headers_too_large",
        ),
        (
            format!("GET /v1/partners HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\n\r\n", "y".repeat(500_000)),
            431,
            "headers_too_large",
        ),
        (
            format!("GET /v1/partners?q={} HTTP/1.1\r\nHost: x\r\n\r\n", "q".repeat(70_000)),
            414,
            "uri_too_long",
        ),
    ];
    for (probe, status, code) in &probes {
        let mut stream = send_raw(addr, probe, b"").await;
        let shown = &probe[..probe.len().min(120)];
        assert_eq!(
            json_refusal(&mut stream, shown).await,
            (*status, (*code).to_string()),
            "{shown:?}"
        );
    }
    // A refused request with a large body still in flight: the refusal arrives whole (the
    // rest is read before the connection closes, so no reset overtakes the answer).
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let head = "POST /v1/cases HTTP/1.1\r\nHost: x\r\nContent-Length: 400000\r\n\
                Content-Length: 400001\r\n\r\n";
    stream.write_all(head.as_bytes()).await.unwrap();
    let (mut reader, mut writer) = stream.into_split();
    let body = tokio::spawn(async move {
        let _ = writer.write_all(&vec![b'x'; 400_000]).await;
        writer
    });
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(3), reader.read_to_end(&mut answer)).await;
    let answer = String::from_utf8_lossy(&answer);
    assert!(
        answer.starts_with("HTTP/1.1 400 ") && answer.contains("\"malformed_request\""),
        "{answer}"
    );
    drop(body.await);

    // A malformed request after a good one on the same connection is refused in JSON too.
    let mut stream = send_raw(
        addr,
        "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\nGET /v1/partners HTTP/1.1\r\nHo st: x\r\n\r\n",
        b"",
    )
    .await;
    let answers = {
        let mut all = Vec::new();
        let _ = tokio::time::timeout(Duration::from_secs(3), stream.read_to_end(&mut all)).await;
        String::from_utf8_lossy(&all).into_owned()
    };
    assert!(answers.starts_with("HTTP/1.1 200 "), "{answers}");
    let second = answers.split("HTTP/1.1 ").nth(2).unwrap_or_else(|| panic!("{answers}"));
    assert!(second.starts_with("400 ") && second.contains("\"malformed_request\""), "{answers}");
    // The daemon still serves.
    let health = reqwest::get(format!("http://{addr}/healthz")).await.unwrap();
    assert_eq!(health.status().as_u16(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn headers_that_stall_are_answered_408_and_an_idle_connection_is_just_closed() {
    let limits = Limits { header_read_timeout: Duration::from_millis(400), ..Limits::default() };
    let h = Harness::with(limits, Duration::ZERO).await;
    let addr = serve(&h).await;
    let mut trickled = send_raw(addr, "GET /v1/partners HTTP/1.1\r\nHost: x\r\nAcc", b"").await;
    assert_eq!(json_refusal(&mut trickled, "half a head").await, (408, "timeout".to_string()));
    // Connected and silent, or idle after an answer: closed without an answer nobody asked for.
    let mut silent = TcpStream::connect(addr).await.unwrap();
    let mut idle = send_raw(addr, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n", b"").await;
    assert_eq!(status_of(&mut idle, Duration::from_secs(2)).await, 200);
    for stream in [&mut silent, &mut idle] {
        let mut rest = Vec::new();
        tokio::time::timeout(Duration::from_secs(3), stream.read_to_end(&mut rest))
            .await
            .expect("closed after the header timeout")
            .unwrap();
        assert!(rest.is_empty(), "{}", String::from_utf8_lossy(&rest));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_declared_body_over_the_limit_is_refused_at_once() {
    let h = Harness::new().await;
    let addr = serve(&h).await;
    let started = Instant::now();
    let head = post_head("/v1/cases", Some(&h.pathfinder_a), 100_000_000_000);
    let mut stream = send_raw(addr, &head, b"{").await;
    assert_eq!(status_of(&mut stream, Duration::from_secs(2)).await, 413);
    assert!(started.elapsed() < Duration::from_secs(2), "at once, not after reading");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_that_stalls_is_answered_408_and_frees_its_slot() {
    let limits = Limits {
        body_read_timeout: Duration::from_millis(300),
        max_concurrent_requests: 1,
        ..Limits::default()
    };
    let h = Harness::with(limits, Duration::ZERO).await;
    let addr = serve(&h).await;
    let head = post_head("/v1/cases", Some(&h.pathfinder_a), 100);
    let mut stalled = send_raw(addr, &head, b"{\"ref").await;
    // While it holds the only slot, another keyed request is shed, but health answers.
    tokio::time::sleep(Duration::from_millis(100)).await;
    let client = reqwest::Client::new();
    let partners = client
        .get(format!("http://{addr}/v1/partners"))
        .bearer_auth(&h.pathfinder_a)
        .send()
        .await
        .unwrap();
    assert_eq!(partners.status().as_u16(), 429, "the one slot is taken");
    let health = client.get(format!("http://{addr}/healthz")).send().await.unwrap();
    assert_eq!(health.status().as_u16(), 200, "health never waits for a slot");
    assert_eq!(status_of(&mut stalled, Duration::from_secs(3)).await, 408);
    let partners = client
        .get(format!("http://{addr}/v1/partners"))
        .bearer_auth(&h.pathfinder_a)
        .send()
        .await
        .unwrap();
    assert_eq!(partners.status().as_u16(), 200, "the slot is free again");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_stalled_without_a_key_lock_nobody_out() {
    let limits = Limits { max_concurrent_requests: 4, ..Limits::default() };
    let h = Harness::with(limits, Duration::ZERO).await;
    let addr = serve(&h).await;
    let mut stalled = Vec::new();
    for _ in 0..40 {
        // Headers without a key, then a body that never comes.
        stalled.push(send_raw(addr, &post_head("/v1/cases", None, 1000), b"").await);
    }
    for stream in &mut stalled {
        assert_eq!(status_of(stream, Duration::from_secs(2)).await, 401, "refused before a slot");
    }
    let client = reqwest::Client::new();
    for _ in 0..4 {
        let answer = client
            .get(format!("http://{addr}/v1/partners"))
            .bearer_auth(&h.pathfinder_a)
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status().as_u16(), 200, "a keyed caller is served");
    }
    let health = client.get(format!("http://{addr}/readyz")).send().await.unwrap();
    assert_eq!(health.status().as_u16(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_referral_whose_sends_never_finish_is_failed_not_sent_for_ever() {
    let h = Harness::new().await;
    let (_, created) =
        h.send(h.post("/v1/cases", &h.pathfinder_a, support::case_json(support::ORG_A))).await;
    let id = created["id"].as_str().unwrap().to_string();
    h.send(h.post(&format!("/v1/cases/{id}/plan"), &h.pathfinder_a, String::new())).await;
    let (_, accepted) = h
        .send(h.post_with_key(
            &format!("/v1/cases/{id}/referrals"),
            &h.pathfinder_a,
            "k",
            "{}".into(),
        ))
        .await;
    let referral = accepted["referrals"][0]["id"].as_str().unwrap().to_string();
    // Twelve daemons, one after another, claimed it and died mid-send (each lease, of a
    // millisecond, ran out before the next claim): every attempt of the budget spent, and no
    // outcome ever recorded.
    let lease = Duration::from_millis(1);
    let start = chrono::Utc::now();
    let budget = pathways_daemon::DispatchSettings::default().max_attempts;
    for i in 0..budget {
        let at = start + chrono::Duration::milliseconds(i64::from(i));
        let claimed = h.store.claim_outbox(&format!("dead-{i}"), 10, lease, at).await.unwrap();
        assert_eq!(claimed.len(), 1);
    }
    let dispatcher = h.daemon.start_dispatcher();
    let deadline = Instant::now() + Duration::from_secs(10);
    let seen = loop {
        let (_, seen) = h.send(h.get(&format!("/v1/referrals/{referral}"), &h.pathfinder_a)).await;
        if seen["state"] == "failed" || Instant::now() > deadline {
            break seen;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    dispatcher.shutdown(Duration::from_secs(1)).await;
    assert_eq!(seen["state"], "failed", "{seen}");
    let reason = seen["dispatch"]["last_error"].as_str().unwrap();
    assert!(reason.contains("never finished"), "failed without another send: {reason}");
    assert!(!reason.contains("refused"), "the partner was not asked again: {reason}");
}

/// Issue 15's load test: 300 anonymous connections that stall (150 never finish their
/// headers, 150 send keyless headers and never their body) while an authenticated client
/// creates and plans cases at a steady rate: it is served (at least 99%), and `/healthz`
/// answers throughout.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_hundred_stalled_anonymous_connections_do_not_stop_a_pathfinder() {
    let h = Harness::new().await;
    let addr = serve(&h).await;
    let mut stalled = Vec::with_capacity(300);
    for i in 0..300 {
        let stream = if i % 2 == 0 {
            // Half a request: the headers never finish (the header-read timeout's business).
            send_raw(addr, "POST /v1/cases HTTP/1.1\r\nHost: x\r\nContent-Ty", b"").await
        } else {
            // Whole headers without a key, a body that never comes: refused before a slot.
            send_raw(addr, &post_head("/v1/cases", None, 1000), b"").await
        };
        stalled.push(stream);
    }
    let client = reqwest::Client::new();
    let (mut served, mut attempts, mut cases) = (0u32, 0u32, Vec::new());
    let mut interval = tokio::time::interval(Duration::from_millis(20));
    for i in 0..60 {
        interval.tick().await;
        attempts += 1;
        let created = client
            .post(format!("http://{addr}/v1/cases"))
            .bearer_auth(&h.pathfinder_a)
            .header("content-type", "application/json")
            .body(support::case_json(support::ORG_A).replace("REF-1", &format!("LOAD-{i}")))
            .send()
            .await;
        let Ok(created) = created else { continue };
        if created.status().as_u16() != 201 {
            continue;
        }
        let id =
            created.json::<serde_json::Value>().await.unwrap()["id"].as_str().unwrap().to_string();
        let planned = client
            .post(format!("http://{addr}/v1/cases/{id}/plan"))
            .bearer_auth(&h.pathfinder_a)
            .send()
            .await;
        if !planned.is_ok_and(|r| r.status().as_u16() == 201) {
            continue;
        }
        let referred = client
            .post(format!("http://{addr}/v1/cases/{id}/referrals"))
            .bearer_auth(&h.pathfinder_a)
            .header("idempotency-key", format!("load-{i}"))
            .header("content-type", "application/json")
            .body("{}")
            .send()
            .await;
        if referred.is_ok_and(|r| r.status().as_u16() == 202) {
            served += 1;
            cases.push(id);
        }
        if i % 15 == 7 {
            // A malformed-protocol probe meanwhile: refused in JSON like any other.
            let mut probe = send_raw(
                addr,
                "POST /v1/cases HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
                b"",
            )
            .await;
            assert_eq!(
                json_refusal(&mut probe, "two lengths").await,
                (400, "malformed_request".into())
            );
        }
        if i % 10 == 0 {
            let health = client.get(format!("http://{addr}/healthz")).send().await.unwrap();
            assert_eq!(health.status().as_u16(), 200, "health answers under the stall");
        }
    }
    assert!(
        f64::from(served) / f64::from(attempts) >= 0.99,
        "{served} of {attempts} planned and referred"
    );
    let mut referred = 0;
    for id in &cases {
        let id = pathways_store::CaseId::parse(id).unwrap();
        referred += h.store.referrals_of_case(&id).await.unwrap().len();
    }
    assert_eq!(referred, cases.len(), "each case's one referral was taken in and kept");
    // The keyless ones were each refused at once; the half-written ones are still waiting.
    for stream in stalled.iter_mut().skip(1).step_by(2).take(10) {
        assert_eq!(status_of(stream, Duration::from_secs(2)).await, 401);
    }
}
