//! Exactly what a referral puts on the wire, captured by a loopback server: only the fields a
//! food bank uses, never notes, health or abuse details, and no direct contact when contact is
//! unsafe.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::mpsc;
use std::time::Duration;

use pathways_sdk::{Partner, TaskState};
use serde_json::Value;

use super::{partner, referral, sandbox};

/// A loopback server that answers one referral POST with 201 and hands back the body it got.
fn capture_one_post() -> (String, mpsc::Receiver<Vec<u8>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let Ok((mut stream, _)) = listener.accept() else {
            return;
        };
        let (mut buf, mut seen) = ([0u8; 8192], Vec::new());
        let body_start = loop {
            if let Some(i) = seen.windows(4).position(|w| w == b"\r\n\r\n") {
                break i + 4;
            }
            match stream.read(&mut buf) {
                Ok(0) | Err(_) => return,
                Ok(n) => seen.extend_from_slice(&buf[..n]),
            }
        };
        let head = String::from_utf8_lossy(&seen[..body_start]).to_ascii_lowercase();
        let length: usize = head
            .lines()
            .find_map(|l| l.strip_prefix("content-length:"))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0);
        while seen.len() < body_start + length {
            match stream.read(&mut buf) {
                Ok(0) | Err(_) => return,
                Ok(n) => seen.extend_from_slice(&buf[..n]),
            }
        }
        let reply = br#"{"voucher_id": "FBV-CAPTURED", "status": "issued"}"#;
        let head = format!(
            "HTTP/1.1 201 Created\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            reply.len()
        );
        let _ = stream.write_all(head.as_bytes()).and_then(|()| stream.write_all(reply));
        let _ = tx.send(seen[body_start..body_start + length].to_vec());
    });
    (url, rx)
}

async fn sent_body(safe_contact: bool) -> Value {
    let (url, body) = capture_one_post();
    partner(&url)
        .send_referral(&referral("north-kensington", "key-capture", safe_contact))
        .await
        .unwrap();
    serde_json::from_slice(&body.recv_timeout(Duration::from_secs(5)).unwrap()).unwrap()
}

fn keys(value: &Value) -> Vec<&str> {
    value.as_object().unwrap().keys().map(String::as_str).collect()
}

#[tokio::test]
async fn the_voucher_carries_no_notes_health_or_abuse_details() {
    let body = sent_body(false).await;
    let text = body.to_string();
    for secret in ["PRIVATE", "mental", "abuse", "notes", "test@example.org", "1989-04-02"] {
        assert!(!text.contains(secret), "`{secret}` reached the food bank: {text}");
    }
    assert_eq!(keys(&body), ["agency", "client", "foodbank", "household", "referral_reasons"]);
    assert_eq!(
        keys(&body["client"]),
        ["address", "contact_via_agency", "full_name", "phone", "postcode", "year_of_birth"]
    );
    assert_eq!(body["client"]["year_of_birth"], 1989);
    assert_eq!(body["referral_reasons"], serde_json::json!(["food_insecurity"]));
    assert_eq!(body["household"]["children_ages"], serde_json::json!([7, 15]));

    // The strict sandbox accepts exactly this body.
    let sandbox = sandbox().await;
    partner(&sandbox.foodbank_url())
        .send_referral(&referral("north-kensington", "key-strict", false))
        .await
        .unwrap();
    sandbox.shutdown().await;
}

#[tokio::test]
async fn a_client_with_unsafe_contact_is_reached_only_through_the_agency() {
    let body = sent_body(true).await;
    assert_eq!(keys(&body["client"]), ["contact_via_agency", "full_name", "year_of_birth"]);
    assert_eq!(body["client"]["contact_via_agency"], true);
    let sandbox = sandbox().await;
    let receipt = partner(&sandbox.foodbank_url())
        .send_referral(&referral("shrewsbury", "key-safe", true))
        .await;
    assert_eq!(receipt.unwrap().state, TaskState::Requested);
    sandbox.shutdown().await;
}
