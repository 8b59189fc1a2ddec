//! Fuzzes the Standard Webhooks verifier: arbitrary headers and bodies must never panic, and
//! a message signed with the secret must verify while any change to its body must not.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pathways_webhooks::{verify as verify_webhook, WebhookSecret};

fuzz_target!(|data: &[u8]| {
    let secret = WebhookSecret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").expect("secret");
    let text = String::from_utf8_lossy(data);
    let mut parts = text.splitn(4, '\n');
    let (id, timestamp, signature) =
        (parts.next().unwrap_or(""), parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    let body = parts.next().unwrap_or("").as_bytes();
    // Arbitrary input: any answer, but no panic.
    let _ = verify_webhook(&secret, id, timestamp, signature, body, 1_800_000_000);
    // A genuine signature verifies; a tampered body does not.
    if !id.is_empty() {
        let ts = "1800000000";
        let good = secret.sign(id, ts, body);
        assert!(verify_webhook(&secret, id, ts, &good, body, 1_800_000_000).is_ok());
        let mut tampered = body.to_vec();
        tampered.push(b'x');
        assert!(verify_webhook(&secret, id, ts, &good, &tampered, 1_800_000_000).is_err());
    }
    let _ = WebhookSecret::parse(&text);
});
