//! Our verifier against the `standardwebhooks` crate, the specification's reference Rust
//! implementation (a dev-dependency only): for random secrets, ids, timestamps and bodies,
//! what one signs the other verifies, and what one refuses the other refuses too.
//!
//! The crate reads the real clock in `verify`, so wherever it verifies, the message is stamped
//! near the real "now"; where only ours verifies, any timestamp will do. The seeds are fixed
//! so that a failure names a case that can be run again.

use std::time::{SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use fastrand::Rng;
use pathways_webhooks::{verify, VerifyError, WebhookSecret, TOLERANCE_SECS};
use standardwebhooks::{Webhook, WebhookError};

/// Cases per test: enough to vary key lengths, ids and multi-byte bodies, fast in debug.
const CASES: usize = 200;

/// One random message and the secret that signs it.
#[derive(Debug, Clone)]
struct Case {
    /// `whsec_<base64>`, or the bare base64 in one case out of four (both libraries accept it).
    secret: String,
    id: String,
    body: String,
}

impl Case {
    fn random(rng: &mut Rng) -> Self {
        // The specification's range for HMAC keys: 24 to 64 bytes.
        let key: Vec<u8> = (0..rng.usize(24..=64)).map(|_| rng.u8(..)).collect();
        let prefix = if rng.u8(..4) == 0 { "" } else { "whsec_" };
        // Ids as partners send them: letters, digits, `_` and `-`, never a `.` (which the
        // specification warns would make `{id}.{timestamp}` ambiguous).
        let id = format!(
            "msg_{}",
            (0..rng.usize(1..=32))
                .map(|_| if rng.u8(..8) == 0 { '-' } else { rng.alphanumeric() })
                .collect::<String>()
        );
        // Mostly printable ASCII like JSON, with any Unicode scalar now and then: the crate
        // signs only UTF-8 bodies, and multi-byte text checks both MAC the same bytes.
        let body = (0..rng.usize(0..=300))
            .map(|_| if rng.u8(..5) == 0 { rng.char(..) } else { rng.char(' '..='~') })
            .collect();
        Self { secret: format!("{prefix}{}", STANDARD.encode(key)), id, body }
    }

    fn ours(&self) -> WebhookSecret {
        WebhookSecret::parse(&self.secret).expect("our parser takes the random secret")
    }

    fn theirs(&self) -> Webhook {
        Webhook::new(&self.secret).expect("the crate takes the random secret")
    }

    fn crate_sign(&self, at: i64) -> String {
        self.theirs().sign(&self.id, at, self.body.as_bytes()).expect("a UTF-8 body signs")
    }

    /// The crate's verdict on this message as sent with `timestamp` and `signatures`.
    fn crate_verify(&self, timestamp: &str, signatures: &str) -> Result<(), WebhookError> {
        self.theirs().verify(self.body.as_bytes(), &headers(&self.id, timestamp, signatures))
    }
}

fn headers(id: &str, timestamp: &str, signatures: &str) -> http::HeaderMap {
    let mut headers = http::HeaderMap::new();
    for (name, value) in
        [("webhook-id", id), ("webhook-timestamp", timestamp), ("webhook-signature", signatures)]
    {
        headers.insert(name, value.parse().expect("an ASCII header value"));
    }
    headers
}

fn unix_now() -> i64 {
    let since = SystemTime::now().duration_since(UNIX_EPOCH).expect("after 1970");
    i64::try_from(since.as_secs()).expect("a unix time in range")
}

#[test]
fn our_signer_and_the_crates_produce_the_same_signature() {
    let mut rng = Rng::with_seed(1);
    for n in 0..CASES {
        let case = Case::random(&mut rng);
        let at = rng.i64(0..=4_000_000_000);
        let ours = case.ours().sign(&case.id, &at.to_string(), case.body.as_bytes());
        assert_eq!(ours, case.crate_sign(at), "case {n}: {case:?} at {at}");
    }
}

#[test]
fn signatures_made_by_the_crate_verify_with_ours() {
    let mut rng = Rng::with_seed(2);
    for n in 0..CASES {
        let case = Case::random(&mut rng);
        // Our clock is an argument, so any instant will do, with it anywhere in tolerance.
        let at = rng.i64(0..=4_000_000_000);
        let now = at + rng.i64(-TOLERANCE_SECS..=TOLERANCE_SECS);
        let signature = case.crate_sign(at);
        let verdict =
            verify(&case.ours(), &case.id, &at.to_string(), &signature, case.body.as_bytes(), now);
        assert_eq!(verdict, Ok(()), "case {n}: {case:?} at {at}, now {now}");
    }
}

#[test]
fn signatures_made_by_us_verify_with_the_crate() {
    let mut rng = Rng::with_seed(3);
    for n in 0..CASES {
        let case = Case::random(&mut rng);
        // Within four minutes of the real clock, which the crate reads for itself.
        let at = (unix_now() + rng.i64(-240..=240)).to_string();
        let signature = case.ours().sign(&case.id, &at, case.body.as_bytes());
        let verdict = case.crate_verify(&at, &signature);
        assert!(verdict.is_ok(), "case {n}: {case:?} at {at}: {verdict:?}");
    }
}

#[test]
fn both_refuse_a_changed_body_id_or_timestamp() {
    let mut rng = Rng::with_seed(4);
    for n in 0..CASES {
        let case = Case::random(&mut rng);
        let now = unix_now();
        let signature = case.crate_sign(now);
        let changed = [
            Case { body: format!("{} ", case.body), ..case.clone() },
            Case { id: format!("{}x", case.id), ..case.clone() },
        ];
        for other in &changed {
            let ours = verify(
                &other.ours(),
                &other.id,
                &now.to_string(),
                &signature,
                other.body.as_bytes(),
                now,
            );
            assert_eq!(ours, Err(VerifyError::BadSignature), "case {n}: {other:?}");
            let theirs = other.crate_verify(&now.to_string(), &signature);
            assert!(
                matches!(theirs, Err(WebhookError::InvalidSignature)),
                "case {n}: {other:?}: {theirs:?}"
            );
        }
        // A second later, inside the tolerance: only the signature can tell.
        let later = (now + 1).to_string();
        let ours = verify(&case.ours(), &case.id, &later, &signature, case.body.as_bytes(), now);
        assert_eq!(ours, Err(VerifyError::BadSignature), "case {n}: {case:?}");
        let theirs = case.crate_verify(&later, &signature);
        assert!(matches!(theirs, Err(WebhookError::InvalidSignature)), "case {n}: {theirs:?}");
    }
}

#[test]
fn both_refuse_a_well_signed_message_outside_the_tolerance() {
    let mut rng = Rng::with_seed(5);
    for n in 0..CASES / 10 {
        let case = Case::random(&mut rng);
        let now = unix_now();
        // Ten seconds past the edge, so that the crate's own later reading of the clock cannot
        // bring a future timestamp back inside.
        for at in [now - TOLERANCE_SECS - 10, now + TOLERANCE_SECS + 10] {
            let signature = case.crate_sign(at);
            let ours = verify(
                &case.ours(),
                &case.id,
                &at.to_string(),
                &signature,
                case.body.as_bytes(),
                now,
            );
            assert_eq!(ours, Err(VerifyError::Stale), "case {n}: {case:?} at {at}");
            let theirs = case.crate_verify(&at.to_string(), &signature);
            assert!(
                matches!(
                    theirs,
                    Err(WebhookError::TimestampTooOldError | WebhookError::FutureTimestampError)
                ),
                "case {n}: {case:?} at {at}: {theirs:?}"
            );
        }
    }
}

#[test]
fn a_rotation_header_verifies_under_the_old_or_the_new_secret_on_both_sides() {
    let mut rng = Rng::with_seed(6);
    for n in 0..CASES / 10 {
        // A partner rolling its secret signs with both keys, ours then the crate's.
        let old = Case::random(&mut rng);
        let new = Case { secret: Case::random(&mut rng).secret, ..old.clone() };
        let stranger = Case { secret: Case::random(&mut rng).secret, ..old.clone() };
        let now = unix_now();
        let at = now.to_string();
        let header = format!(
            "{} {}",
            old.ours().sign(&old.id, &at, old.body.as_bytes()),
            new.crate_sign(now)
        );
        for (holder, accepted) in [(&old, true), (&new, true), (&stranger, false)] {
            let ours =
                verify(&holder.ours(), &holder.id, &at, &header, holder.body.as_bytes(), now);
            let theirs = holder.crate_verify(&at, &header);
            assert_eq!(ours.is_ok(), accepted, "case {n}: {holder:?}: {ours:?}");
            assert_eq!(theirs.is_ok(), accepted, "case {n}: {holder:?}: {theirs:?}");
        }
    }
}
