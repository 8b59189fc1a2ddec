//! The router in-process (tower `oneshot`): every kind of bad input answers a JSON error with
//! the right status and never a 500; authentication, roles and organisation visibility; the
//! OpenAPI document lists exactly the routes served.

mod support;

use axum::http::{header, Method, StatusCode};
use std::time::Duration;

use pathways_daemon::{Limits, ReloadResult};
use support::{case_json, Harness, ORG_A, ORG_B};
use tower::ServiceExt;

#[tokio::test]
async fn a_pathfinder_creates_plans_and_reads_its_case() {
    let h = Harness::new().await;
    let (status, body) = h.send(h.post("/v1/cases", &h.pathfinder_a, case_json(ORG_A))).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let id = body["id"].as_str().unwrap().to_string();
    let (status, body) = h.send(h.get(&format!("/v1/cases/{id}"), &h.pathfinder_a)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["case"]["reference"], "REF-1");
    let (status, _) = h.send(h.get(&format!("/v1/cases/{id}/plan"), &h.pathfinder_a)).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "no plan yet");
    let (status, plan) =
        h.send(h.post(&format!("/v1/cases/{id}/plan"), &h.pathfinder_a, String::new())).await;
    assert_eq!(status, StatusCode::CREATED, "{plan}");
    assert_eq!(plan["case_id"], id.as_str());
    assert_eq!(plan["steps"][0]["partner"]["id"], "pantry");
    let (status, again) = h.send(h.get(&format!("/v1/cases/{id}/plan"), &h.pathfinder_a)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(again, plan);
    let audit = h.audit_actions().await;
    for action in ["case.create:ok", "case.read:ok", "plan.read:no_plan", "plan.create:ok"] {
        assert!(audit.contains(&action.to_string()), "{action} missing from {audit:?}");
    }
}

#[tokio::test]
async fn bad_bodies_are_json_errors_naming_the_problem() {
    let h = Harness::new().await;
    let good = case_json(ORG_A);
    let unknown_field = good.replacen("\"channel\"", "\"colour\": 1, \"channel\"", 1);
    let bad_enum = good.replace("\"urgent\"", "\"whenever\"");
    let deep = format!("{}{}", "[".repeat(5000), "]".repeat(5000));
    let deep_in_case =
        good.replacen("\"circumstances\": []", &format!("\"circumstances\": {deep}"), 1);
    let cases: Vec<(&str, Vec<u8>, StatusCode, &str)> = vec![
        ("malformed", b"{\"reference\": ".to_vec(), StatusCode::BAD_REQUEST, "invalid_case"),
        ("unknown field", unknown_field.into_bytes(), StatusCode::BAD_REQUEST, "colour"),
        ("bad enum", bad_enum.into_bytes(), StatusCode::BAD_REQUEST, "needs[0].urgency"),
        ("deep nesting", deep.into_bytes(), StatusCode::BAD_REQUEST, "invalid_case"),
        ("deep in case", deep_in_case.into_bytes(), StatusCode::BAD_REQUEST, "invalid_case"),
        (
            "invalid utf-8",
            {
                let mut b = good.clone().into_bytes();
                let at = good.find("REF-1").unwrap();
                b[at] = 0xff;
                b
            },
            StatusCode::BAD_REQUEST,
            "invalid_case",
        ),
        ("oversized", vec![b' '; 65 * 1024], StatusCode::PAYLOAD_TOO_LARGE, "too_large"),
        (
            "other organisation",
            case_json(ORG_B).into_bytes(),
            StatusCode::FORBIDDEN,
            "referrer.organisation",
        ),
    ];
    for (what, bytes, status, needle) in cases {
        let req = h.request(
            Method::POST,
            "/v1/cases",
            Some(&h.pathfinder_a),
            Some("application/json"),
            bytes,
        );
        let (got, body) = h.send(req).await;
        assert_eq!(got, status, "{what}: {body}");
        assert!(body.to_string().contains(needle), "{what}: {body}");
    }
    for content_type in [None, Some("text/plain"), Some("application/x-www-form-urlencoded")] {
        let req = h.request(
            Method::POST,
            "/v1/cases",
            Some(&h.pathfinder_a),
            content_type,
            case_json(ORG_A).into_bytes(),
        );
        let (got, body) = h.send(req).await;
        assert_eq!(got, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{content_type:?}: {body}");
        assert_eq!(body["error"]["code"], "unsupported_media_type");
    }
}

#[tokio::test]
async fn keys_are_checked_before_anything_else() {
    let h = Harness::new().await;
    let no_key =
        h.request(Method::POST, "/v1/cases", None, Some("application/json"), b"{".to_vec());
    let (status, body) = h.send(no_key).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert_eq!(body["error"]["code"], "unauthorized");
    let bad = h.post("/v1/cases", "pwk_not-a-real-key", case_json(ORG_A));
    assert_eq!(h.send(bad).await.0, StatusCode::UNAUTHORIZED);
    let mut basic = h.post("/v1/cases", &h.pathfinder_a, case_json(ORG_A));
    basic.headers_mut().insert(header::AUTHORIZATION, "Basic abc".parse().unwrap());
    assert_eq!(h.send(basic).await.0, StatusCode::UNAUTHORIZED);
    // A wrong role is 403 whatever the body, so the role cannot be probed with bad bodies.
    let wrong_role = h.request(
        Method::POST,
        "/v1/cases",
        Some(&h.coordinator_a),
        Some("application/json"),
        b"{".to_vec(),
    );
    let (status, body) = h.send(wrong_role).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(body["error"]["code"], "forbidden");
    let (status, _) = h.send(h.get("/v1/partners", &h.coordinator_a)).await;
    assert_eq!(status, StatusCode::OK, "any key lists partners");
    let (status, _) = h.send(h.request(Method::GET, "/v1/partners", None, None, vec![])).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn another_organisations_case_is_indistinguishable_from_a_missing_one() {
    let h = Harness::new().await;
    let (_, body) = h.send(h.post("/v1/cases", &h.pathfinder_a, case_json(ORG_A))).await;
    let id = body["id"].as_str().unwrap().to_string();
    let missing = "0123456789abcdef0123456789abcdef";
    let (s_other, b_other) = h.send(h.get(&format!("/v1/cases/{id}"), &h.pathfinder_b)).await;
    let (s_missing, b_missing) =
        h.send(h.get(&format!("/v1/cases/{missing}"), &h.pathfinder_b)).await;
    let (s_garbage, b_garbage) = h.send(h.get("/v1/cases/..%2F..%2Fetc", &h.pathfinder_b)).await;
    assert_eq!(s_other, StatusCode::NOT_FOUND);
    assert_eq!((s_other, &b_other), (s_missing, &b_missing));
    assert_eq!((s_other, &b_other), (s_garbage, &b_garbage));
    let (status, _) =
        h.send(h.post(&format!("/v1/cases/{id}/plan"), &h.pathfinder_b, String::new())).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "nor may it plan the case");
    assert!(h.audit_actions().await.contains(&"case.read:not_visible".to_string()));
}

#[tokio::test]
async fn unknown_routes_and_methods_answer_json() {
    let h = Harness::new().await;
    let (status, body) = h.send(h.request(Method::GET, "/nope", None, None, vec![])).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["error"]["code"], "no_route");
    let wrong = h.request(Method::DELETE, "/v1/cases", Some(&h.pathfinder_a), None, vec![]);
    let (status, body) = h.send(wrong).await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED, "{body}");
    assert_eq!(body["error"]["code"], "method_not_allowed");
    // Without a key, nothing about the API is answered but that a key is needed.
    let (status, body) = h.send(h.request(Method::DELETE, "/v1/cases", None, None, vec![])).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("unauthorized"))
    );
}

#[tokio::test]
async fn health_readiness_and_metrics_are_open() {
    let h = Harness::new().await;
    assert_eq!(
        h.send(h.request(Method::GET, "/healthz", None, None, vec![])).await.0,
        StatusCode::OK
    );
    let (status, body) = h.send(h.request(Method::GET, "/readyz", None, None, vec![])).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["partners"], 1);
    let (_, created) = h.send(h.post("/v1/cases", &h.pathfinder_a, case_json(ORG_A))).await;
    let id = created["id"].as_str().unwrap();
    h.send(h.post(&format!("/v1/cases/{id}/plan"), &h.pathfinder_a, String::new())).await;
    let text = h.text(h.request(Method::GET, "/metrics", None, None, vec![])).await;
    assert!(
        text.contains(
            "pathways_http_requests_total{route=\"/v1/cases\",method=\"POST\",status=\"201\"} 1"
        ),
        "{text}"
    );
    assert!(text.contains("pathways_plan_duration_seconds_count 1"), "{text}");
    assert!(
        text.contains("pathways_partner_calls_total{partner=\"pantry\",outcome=\"answered\"} 1"),
        "{text}"
    );
    assert!(text.contains("pathways_partner_breaker_state{partner=\"pantry\"} 0"), "{text}");
    assert!(text.contains("pathways_outbox_depth 0"), "nothing referred yet: {text}");
    let sample = |name: &str| -> u64 {
        let line = text.lines().find(|l| l.starts_with(&format!("{name} "))).expect(name);
        line.rsplit(' ').next().unwrap().parse().unwrap()
    };
    let (commits, writes) =
        (sample("pathways_store_commits_total"), sample("pathways_store_writes_total"));
    assert!(commits >= 1 && writes >= commits, "the case, plan and audit were committed: {text}");
}

#[tokio::test]
async fn every_served_route_is_documented_and_every_documented_route_is_served() {
    let h = Harness::new().await;
    let (status, doc) = h.send(h.request(Method::GET, "/openapi.json", None, None, vec![])).await;
    assert_eq!(status, StatusCode::OK);
    let paths = doc["paths"].as_object().unwrap();
    let mut documented = Vec::new();
    for (path, ops) in paths {
        for method in ops.as_object().unwrap().keys() {
            documented.push((method.to_uppercase(), path.clone()));
        }
    }
    documented.sort();
    let mut served: Vec<(String, String)> = pathways_daemon::route_table()
        .iter()
        .map(|(spec, _)| (spec.method.to_string(), spec.path.to_string()))
        .collect();
    served.sort();
    assert_eq!(documented, served);
    // And each documented route really reaches a handler (not the fallbacks).
    for (method, path) in &documented {
        let uri = path.replace("{id}", "0123456789abcdef0123456789abcdef");
        let req = h.request(
            method.parse().unwrap(),
            &uri,
            Some(&h.pathfinder_a),
            Some("application/json"),
            b"{}".to_vec(),
        );
        let text = h.text(req).await;
        assert!(
            !text.contains("\"no_route\"") && !text.contains("\"method_not_allowed\""),
            "{method} {path}: {text}"
        );
    }
}

#[tokio::test]
async fn overload_is_shed_at_once_with_429_and_retry_after() {
    let limits = Limits { max_concurrent_requests: 1, ..Limits::default() };
    let h = Harness::with(limits, Duration::from_millis(800)).await;
    let (_, created) = h.send(h.post("/v1/cases", &h.pathfinder_a, case_json(ORG_A))).await;
    let id = created["id"].as_str().unwrap().to_string();
    // One slow plan holds the only slot...
    let router = h.router.clone();
    let plan = h.post(&format!("/v1/cases/{id}/plan"), &h.pathfinder_a, String::new());
    let slow = tokio::spawn(async move { router.oneshot(plan).await.unwrap().status() });
    tokio::time::sleep(Duration::from_millis(200)).await;
    // ...so the next request is refused now, not queued behind it.
    let started = std::time::Instant::now();
    let response = h.router.clone().oneshot(h.get("/v1/partners", &h.pathfinder_a)).await.unwrap();
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(response.headers().contains_key("retry-after"), "{:?}", response.headers());
    assert!(started.elapsed() < Duration::from_millis(400), "shed at once, not queued");
    let body = axum::body::to_bytes(response.into_body(), 1 << 16).await.unwrap();
    let json: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert!(json["error"]["code"].is_string(), "{json}");
    assert_eq!(slow.await.unwrap(), StatusCode::CREATED, "the admitted request finished");
}

#[tokio::test]
async fn a_request_over_its_time_limit_is_a_json_503() {
    let limits = Limits { request_timeout: Duration::from_millis(200), ..Limits::default() };
    let h = Harness::with(limits, Duration::from_millis(1_000)).await;
    let (_, created) = h.send(h.post("/v1/cases", &h.pathfinder_a, case_json(ORG_A))).await;
    let id = created["id"].as_str().unwrap();
    let started = std::time::Instant::now();
    let (status, body) =
        h.send(h.post(&format!("/v1/cases/{id}/plan"), &h.pathfinder_a, String::new())).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(body["error"]["code"], "timeout", "{body}");
    assert!(started.elapsed() < Duration::from_millis(900), "cut at the limit, not the partner");
}

/// One metric family as `/metrics` declares it.
#[derive(Debug, Default)]
struct Family {
    help: Vec<String>,
    kind: Vec<String>,
    samples: Vec<(String, String)>,
}

/// Parses the text exposition format (0.0.4) into families by name, asserting what the format
/// itself requires on the way: `# HELP`/`# TYPE` before a family's samples, each family's lines
/// together, every sample's name its family's (plus `_bucket`/`_sum`/`_count` for a
/// histogram), label names snake_case and values quoted, and a numeric value.
fn parse_exposition(text: &str) -> std::collections::BTreeMap<String, Family> {
    let mut families = std::collections::BTreeMap::<String, Family>::new();
    let mut current: Option<String> = None;
    let mut finished = std::collections::HashSet::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# ") {
            let mut words = rest.splitn(3, ' ');
            let (keyword, name, value) = (words.next(), words.next(), words.next());
            let (Some(name), Some(value)) = (name, value) else { panic!("bad line `{line}`") };
            if current.as_deref() != Some(name) {
                if let Some(previous) = current.replace(name.to_string()) {
                    finished.insert(previous);
                }
                assert!(!finished.contains(name), "`{name}` declared in two places:\n{text}");
            }
            let family = families.entry(name.to_string()).or_default();
            match keyword {
                Some("HELP") => family.help.push(value.to_string()),
                Some("TYPE") => family.kind.push(value.to_string()),
                _ => panic!("unexpected comment `{line}`"),
            }
            continue;
        }
        let name_end = line.find(['{', ' ']).unwrap_or_else(|| panic!("bad sample `{line}`"));
        let (name, rest) = line.split_at(name_end);
        let family_name = current.clone().unwrap_or_else(|| panic!("`{line}` before any TYPE"));
        let family = families.get_mut(&family_name).unwrap();
        let kind = family.kind.first().map(String::as_str);
        let own = name == family_name
            || (kind == Some("histogram")
                && ["_bucket", "_sum", "_count"]
                    .iter()
                    .any(|suffix| name.strip_suffix(suffix) == Some(&family_name)));
        assert!(own, "sample `{name}` under family `{family_name}`");
        let (labels, value) = match rest.strip_prefix('{') {
            Some(labelled) => labelled.rsplit_once("} ").expect("closed labels"),
            None => ("", rest.trim_start()),
        };
        assert!(value.parse::<f64>().is_ok(), "value of `{line}`");
        for pair in labels.split("\",").filter(|p| !p.is_empty()) {
            let (key, quoted) = pair.split_once('=').unwrap_or_else(|| panic!("label in `{line}`"));
            assert!(quoted.starts_with('"'), "unquoted label value in `{line}`");
            assert!(
                key.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'),
                "label `{key}` in `{line}`"
            );
        }
        family.samples.push((name.to_string(), line.to_string()));
    }
    families
}

#[tokio::test]
async fn every_metric_family_follows_the_prometheus_naming_rules_after_traffic() {
    let h = Harness::new().await;
    // Requests of several kinds: created, planned, read, refused, unrouted, and a partner
    // callback from a partner without a signing secret.
    let (_, created) = h.send(h.post("/v1/cases", &h.pathfinder_a, case_json(ORG_A))).await;
    let id = created["id"].as_str().unwrap().to_string();
    h.send(h.post(&format!("/v1/cases/{id}/plan"), &h.pathfinder_a, String::new())).await;
    h.send(h.get(&format!("/v1/cases/{id}"), &h.pathfinder_b)).await;
    h.send(h.get("/v1/audit", &h.pathfinder_a)).await;
    h.send(h.request(Method::GET, "/nope", None, None, vec![])).await;
    h.send(h.post("/v1/partners/pantry/events", &h.pantry, "{}".into())).await;
    // A referral the dispatcher sends (the test partner refuses it), and a refused reload: so
    // that every family has a series (an empty one is not rendered).
    let path = format!("/v1/cases/{id}/referrals");
    let (status, body) = h.send(h.post_with_key(&path, &h.pathfinder_a, "k-1", "{}".into())).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    let dispatcher = h.daemon.start_dispatcher();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !h
        .text(h.request(Method::GET, "/metrics", None, None, vec![]))
        .await
        .contains("pathways_dispatch_outcomes_total{partner=\"pantry\",outcome=\"failed\"} 1")
    {
        assert!(std::time::Instant::now() < deadline, "the referral was not sent");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    dispatcher.shutdown(Duration::from_secs(5)).await;
    h.daemon.count_reload(ReloadResult::Refused, Some("a test".into()));
    let response = h
        .router
        .clone()
        .oneshot(h.request(Method::GET, "/metrics", None, None, vec![]))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()),
        Some("text/plain; version=0.0.4; charset=utf-8")
    );
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 20).await.unwrap();
    let text = String::from_utf8(bytes.to_vec()).unwrap();
    let families = parse_exposition(&text);

    for (name, family) in &families {
        assert_eq!(family.help.len(), 1, "`{name}` needs one HELP:\n{text}");
        assert_eq!(family.kind.len(), 1, "`{name}` needs one TYPE:\n{text}");
        assert!(family.help[0].len() > 10, "`{name}` says what it counts");
        let snake = name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
            && !name.contains("__")
            && !name.ends_with('_');
        assert!(snake && name.starts_with("pathways_"), "`{name}` is not pathways_snake_case");
        let kind = family.kind[0].as_str();
        assert!(["counter", "gauge", "histogram"].contains(&kind), "`{name}`: {kind}");
        assert_eq!(kind == "counter", name.ends_with("_total"), "`{name}` is a {kind}");
        if kind == "histogram" || ["duration", "latency"].iter().any(|w| name.contains(w)) {
            assert!(name.ends_with("_seconds"), "`{name}` is a duration in seconds");
        }
        assert!(
            ["_bucket", "_sum", "_count"].iter().all(|s| !name.ends_with(s)),
            "`{name}` ends in a suffix the format reserves"
        );
    }
    // Every series the daemon has had is still there, under the same name.
    let expected = [
        "pathways_http_requests_total",
        "pathways_plan_duration_seconds",
        "pathways_partner_calls_total",
        "pathways_partner_latency_seconds",
        "pathways_config_reloads_total",
        "pathways_audit_failures_total",
        "pathways_dispatch_attempts_total",
        "pathways_dispatch_outcomes_total",
        "pathways_dispatch_latency_seconds",
        "pathways_webhooks_total",
        "pathways_partner_breaker_state",
        "pathways_partner_in_flight",
        "pathways_outbox_depth",
        "pathways_store_commits_total",
        "pathways_store_writes_total",
    ];
    let names: Vec<&str> = families.keys().map(String::as_str).collect();
    let mut sorted = expected.to_vec();
    sorted.sort_unstable();
    assert_eq!(names, sorted, "{text}");
    // And the traffic is in them, with typed label values spelt as before.
    let samples: Vec<&str> =
        families.values().flat_map(|f| f.samples.iter().map(|(_, line)| line.as_str())).collect();
    for line in [
        "pathways_http_requests_total{route=\"/v1/cases/{id}\",method=\"GET\",status=\"404\"} 1",
        "pathways_http_requests_total{route=\"unmatched\",method=\"GET\",status=\"404\"} 1",
        "pathways_partner_calls_total{partner=\"pantry\",outcome=\"answered\"} 1",
        "pathways_webhooks_total{partner=\"pantry\",outcome=\"unknown_partner\"} 1",
        "pathways_partner_in_flight{partner=\"pantry\"} 0",
        "pathways_plan_duration_seconds_count 1",
        "pathways_dispatch_attempts_total{partner=\"pantry\"} 1",
        "pathways_dispatch_latency_seconds_count{partner=\"pantry\"} 1",
        "pathways_config_reloads_total{result=\"refused\"} 1",
        "pathways_audit_failures_total 0",
    ] {
        assert!(samples.contains(&line), "`{line}` missing from:\n{text}");
    }
}
