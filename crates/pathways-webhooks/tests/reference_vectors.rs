//! The Standard Webhooks reference libraries' published test vectors, run against our verifier.
//!
//! Every constant below is copied from the tests of the specification's own libraries, in the
//! repository `standard-webhooks/standard-webhooks`:
//! - `libraries/python/tests/test_webhooks.py`, `libraries/javascript/src/webhook.test.ts` and
//!   `libraries/go/webhook_test.go` share one message (the `MfKQ9r8G...` secret, the
//!   `msg_p5jXN8...` id, the `{"test": 2432232314}` payload), its signature at 1614265330, and
//!   the wrong and decoy signatures they try;
//! - `libraries/rust/src/lib.rs` (published as the `standardwebhooks` crate, 1.0.1) signs a
//!   second message (the `C2FVsBQI...` secret) and tries its own decoys.
//!
//! Those libraries read the clock themselves, so their tolerance tests sign at "now" plus or
//! minus 5 minutes and a second; ours takes `now` as an argument, so here the published
//! message stays as it is and the clock moves instead.

use pathways_webhooks::{verify, VerifyError, WebhookSecret, TOLERANCE_SECS};

/// The Python, JavaScript and Go libraries' message.
const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const SECRET_UNPREFIXED: &str = "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const MSG_ID: &str = "msg_p5jXN8AQM9LWM0D4loKWxJek";
const TIMESTAMP: &str = "1614265330";
const AT: i64 = 1_614_265_330;
const PAYLOAD: &[u8] = br#"{"test": 2432232314}"#;
const SIGNATURE: &str = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";

/// The Rust library's message (its `test_sign`).
const RUST_SECRET: &str = "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD";
const RUST_MSG_ID: &str = "msg_27UH4WbU6Z5A5EzD8u03UvzRbpk";
const RUST_TIMESTAMP: &str = "1649367553";
const RUST_AT: i64 = 1_649_367_553;
const RUST_PAYLOAD: &[u8] = br#"{"email":"test@example.com","username":"test_user"}"#;
const RUST_SIGNATURE: &str = "v1,tZ1I4/hDygAJgO5TYxiSd6Sd0kDW6hPenDe+bTa3Kkw=";

/// The decoys of the libraries' multi-signature tests: well-formed `v1` signatures of
/// something else. `CEO5` is the Python/JavaScript/Go one, the other three the Rust library's.
const DECOY: &str = "v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc=";
const RUST_DECOYS: [&str; 3] = [
    "v1,tFtCZ5RDCPxzWQRWXWPgrCgE2frDBe9gjpbWQxnVfsQ=",
    "v1,Mm7xgUVICxZfQ3bgf0h0Dof65L/IFx+PnZvnDWPCX6Q=",
    "v1,9DfC1c3eeOrXB6w/5dIDydLNQaEyww5KalE5jLBZucE=",
];

fn secret() -> WebhookSecret {
    WebhookSecret::parse(SECRET).expect("the reference secret parses")
}

/// The reference message with one part replaced, checked with our clock at `now`.
fn check(
    id: &str,
    timestamp: &str,
    signatures: &str,
    body: &[u8],
    now: i64,
) -> Result<(), VerifyError> {
    verify(&secret(), id, timestamp, signatures, body, now)
}

#[test]
fn our_signer_reproduces_both_published_signatures() {
    assert_eq!(secret().sign(MSG_ID, TIMESTAMP, PAYLOAD), SIGNATURE);
    let rust = WebhookSecret::parse(RUST_SECRET).unwrap();
    assert_eq!(rust.sign(RUST_MSG_ID, RUST_TIMESTAMP, RUST_PAYLOAD), RUST_SIGNATURE);
}

#[test]
fn both_published_messages_verify_at_their_own_timestamp() {
    assert_eq!(check(MSG_ID, TIMESTAMP, SIGNATURE, PAYLOAD, AT), Ok(()));
    let rust = WebhookSecret::parse(RUST_SECRET).unwrap();
    let ok = verify(&rust, RUST_MSG_ID, RUST_TIMESTAMP, RUST_SIGNATURE, RUST_PAYLOAD, RUST_AT);
    assert_eq!(ok, Ok(()));
}

#[test]
fn the_published_wrong_signatures_are_refused() {
    for wrong in [
        // Python: the right signature with its last base64 digit changed (E= to A=).
        "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OA=",
        // JavaScript: not even base64 of 32 bytes.
        "v1,dawfeoifkpqwoekfpqoekf",
        // Go: a well-formed signature of something else.
        DECOY,
        // Rust (`test_no_verify`): likewise.
        "v1,R3PTzyfHASBKHH98a7yexTwaJ4yNIcGhFQc1yuN+BPU=",
    ] {
        assert_eq!(
            check(MSG_ID, TIMESTAMP, wrong, PAYLOAD, AT),
            Err(VerifyError::BadSignature),
            "{wrong}"
        );
    }
}

#[test]
fn a_truncated_signature_is_refused() {
    // JavaScript and Rust `partial signature`: the header's first 8 characters, then the bare
    // `v1,` (an empty MAC must not compare equal to a prefix of the real one).
    for partial in [&SIGNATURE[..8], "v1,"] {
        assert_eq!(
            check(MSG_ID, TIMESTAMP, partial, PAYLOAD, AT),
            Err(VerifyError::BadSignature),
            "{partial:?}"
        );
    }
}

#[test]
fn one_valid_signature_among_decoys_is_enough() {
    // JavaScript, Python and Go `multi sig`: a `v2` decoy is skipped, not an error.
    let mixed = [DECOY, &DECOY.replacen("v1,", "v2,", 1), SIGNATURE, DECOY].join(" ");
    assert_eq!(check(MSG_ID, TIMESTAMP, &mixed, PAYLOAD, AT), Ok(()));
    // Rust `test_verify_with_multiple_signatures`, with the valid one third of four.
    let rust = WebhookSecret::parse(RUST_SECRET).unwrap();
    let [a, b, c] = RUST_DECOYS;
    let mixed = [a, b, RUST_SIGNATURE, c].join(" ");
    let ok = verify(&rust, RUST_MSG_ID, RUST_TIMESTAMP, &mixed, RUST_PAYLOAD, RUST_AT);
    assert_eq!(ok, Ok(()));
}

#[test]
fn decoys_alone_are_refused() {
    // Rust `test_no_verify_with_multiple_signatures`.
    let rust = WebhookSecret::parse(RUST_SECRET).unwrap();
    let decoys = RUST_DECOYS.join(" ");
    let refused = verify(&rust, RUST_MSG_ID, RUST_TIMESTAMP, &decoys, RUST_PAYLOAD, RUST_AT);
    assert_eq!(refused, Err(VerifyError::BadSignature));
}

#[test]
fn the_right_mac_under_another_version_label_is_refused() {
    // `v1a` is the specification's ed25519 scheme and `v2` is unassigned: the same bytes under
    // those labels are not an HMAC signature, so accepting them would let a label be ignored.
    for label in ["v1a,", "v2,", "V1,", ""] {
        let relabelled = SIGNATURE.replacen("v1,", label, 1);
        assert_eq!(
            check(MSG_ID, TIMESTAMP, &relabelled, PAYLOAD, AT),
            Err(VerifyError::BadSignature),
            "{relabelled}"
        );
    }
}

#[test]
fn a_changed_payload_id_or_timestamp_breaks_the_published_signature() {
    let payload = br#"{"test": 2432232315}"#;
    assert_eq!(check(MSG_ID, TIMESTAMP, SIGNATURE, payload, AT), Err(VerifyError::BadSignature));
    // The specification warns that re-serialised JSON breaks signatures: one newline does.
    let spaced = [PAYLOAD, b"\n"].concat();
    assert_eq!(check(MSG_ID, TIMESTAMP, SIGNATURE, &spaced, AT), Err(VerifyError::BadSignature));
    let id = "msg_p5jXN8AQM9LWM0D4loKWxJeK";
    assert_eq!(check(id, TIMESTAMP, SIGNATURE, PAYLOAD, AT), Err(VerifyError::BadSignature));
    // One second later, and our clock there too, so only the signature can refuse it.
    let later = "1614265331";
    assert_eq!(check(MSG_ID, later, SIGNATURE, PAYLOAD, AT + 1), Err(VerifyError::BadSignature));
}

#[test]
fn the_timestamp_is_authenticated_as_written_not_as_parsed() {
    // The same instant written another way is another signed text: we MAC the header's bytes,
    // as the specification's `{msg_id}.{timestamp}.{payload}` says. (The `standardwebhooks`
    // crate re-formats the parsed number instead, and so accepts these two.)
    for respelled in ["+1614265330", "01614265330"] {
        assert_eq!(
            check(MSG_ID, respelled, SIGNATURE, PAYLOAD, AT),
            Err(VerifyError::BadSignature),
            "{respelled}"
        );
    }
}

#[test]
fn the_published_message_is_stale_past_five_minutes_either_way() {
    // The libraries' `old timestamp` and `new timestamp` tests: tolerance plus one second.
    assert_eq!(
        check(MSG_ID, TIMESTAMP, SIGNATURE, PAYLOAD, AT + TOLERANCE_SECS + 1),
        Err(VerifyError::Stale)
    );
    assert_eq!(
        check(MSG_ID, TIMESTAMP, SIGNATURE, PAYLOAD, AT - TOLERANCE_SECS - 1),
        Err(VerifyError::Stale)
    );
    // Exactly five minutes is still accepted, both ways.
    assert_eq!(check(MSG_ID, TIMESTAMP, SIGNATURE, PAYLOAD, AT + TOLERANCE_SECS), Ok(()));
    assert_eq!(check(MSG_ID, TIMESTAMP, SIGNATURE, PAYLOAD, AT - TOLERANCE_SECS), Ok(()));
}

#[test]
fn a_stale_message_is_refused_as_stale_even_with_a_wrong_signature() {
    // The daemon reports the two differently (`stale_timestamp`, `bad_signature`). The clock
    // is checked first, so an old callback is reported stale whatever its signature says.
    let late = AT + TOLERANCE_SECS + 1;
    assert_eq!(check(MSG_ID, TIMESTAMP, DECOY, PAYLOAD, late), Err(VerifyError::Stale));
}

#[test]
fn empty_or_unreadable_headers_are_refused_with_their_own_error() {
    // The daemon turns an absent header into `MissingHeader` before calling `verify`; what
    // reaches `verify` is a present but empty or malformed value. The libraries' `missing id`,
    // `missing timestamp`, `invalid timestamp` and `missing signature` tests, in those terms.
    assert_eq!(
        check("", TIMESTAMP, SIGNATURE, PAYLOAD, AT),
        Err(VerifyError::MissingHeader("webhook-id"))
    );
    assert_eq!(check(MSG_ID, "", SIGNATURE, PAYLOAD, AT), Err(VerifyError::BadTimestamp));
    assert_eq!(check(MSG_ID, "hello", SIGNATURE, PAYLOAD, AT), Err(VerifyError::BadTimestamp));
    assert_eq!(check(MSG_ID, TIMESTAMP, "", PAYLOAD, AT), Err(VerifyError::BadSignature));
}

#[test]
fn a_secret_without_the_whsec_prefix_is_the_same_key() {
    // The libraries' `with and without prefix` test: both forms verify the same message.
    let bare = WebhookSecret::parse(SECRET_UNPREFIXED).expect("accepted without the prefix");
    assert_eq!(bare, secret());
    assert_eq!(verify(&bare, MSG_ID, TIMESTAMP, SIGNATURE, PAYLOAD, AT), Ok(()));
}

#[test]
fn an_empty_secret_is_refused() {
    // JavaScript `empty key raises error`: an empty HMAC key is a key everyone knows.
    assert_eq!(WebhookSecret::parse(""), None);
    assert_eq!(WebhookSecret::parse("whsec_"), None);
}
