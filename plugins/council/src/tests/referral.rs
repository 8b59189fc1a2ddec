//! Referrals as Open311 service requests against the sandbox: round trip, every status,
//! exactly once per key, the services that cannot take one, and the cancel Open311 lacks.

use std::time::Duration;

use pathways_sandbox::{ClockConfig, RejectReason, Sandbox, SandboxConfig, Stage};
use pathways_sdk::{
    CancelReason, CancelRequest, Capability, NeedCode, Partner, PartnerErrorKind, PartnerPlugin,
    ReferralRef, ServiceRef, StatusReason, TaskState,
};

use super::{kensington_service, partner, referral, sandbox};
use crate::{CouncilPartner, Settings};

fn reference(partner_reference: &str, key: &str) -> ReferralRef {
    ReferralRef {
        partner_reference: partner_reference.into(),
        idempotency_key: key.parse().unwrap(),
    }
}

fn kensington(sandbox: &Sandbox) -> CouncilPartner {
    let settings = Settings {
        jurisdiction_id: Some("E09000020".into()),
        ..Settings::new(sandbox.council_url())
    };
    CouncilPartner::from_settings(settings).unwrap()
}

#[tokio::test]
async fn referral_round_trip_maps_every_status_and_repeats_create_nothing() {
    let sandbox = sandbox().await;
    let council = kensington(&sandbox);
    let service = kensington_service(&council, NeedCode::DebtMoney, "Welfare Rights Advice").await;
    let referral = referral(service, NeedCode::DebtMoney, "key-round-trip", false);
    let receipt = council.send_referral(&referral).await.unwrap();
    assert_eq!(receipt.state, TaskState::Requested);
    let again = council.send_referral(&referral).await.unwrap();
    assert_eq!(again.partner_reference, receipt.partner_reference, "a repeat is the same request");
    let stats = sandbox.council_stats();
    assert_eq!((stats.total_posts, stats.distinct_keys, stats.requests_created), (2, 1, 1));

    let id = receipt.partner_reference.as_str();
    let at = reference(id, "key-round-trip");
    let fresh = council.referral_status(&at).await.unwrap();
    assert_eq!((fresh.state, fresh.reason), (TaskState::Requested, None));
    assert!(fresh.updated_at.is_some());
    let cases = [
        (Stage::Accepted, TaskState::Accepted, None),
        (Stage::InProgress, TaskState::InProgress, None),
        (Stage::Completed, TaskState::Completed, None),
        (
            Stage::Rejected(RejectReason::NoCapacity),
            TaskState::Rejected,
            Some(StatusReason::NoCapacity),
        ),
        (
            Stage::Rejected(RejectReason::NotEligible),
            TaskState::Rejected,
            Some(StatusReason::NotEligible),
        ),
        (
            Stage::Rejected(RejectReason::CouldNotContact),
            TaskState::Rejected,
            Some(StatusReason::CouldNotContact),
        ),
    ];
    for (stage, state, reason) in cases {
        sandbox.set_council_request_stage(id, stage).unwrap();
        let now = council.referral_status(&at).await.unwrap();
        assert_eq!((now.state, now.reason), (state, reason), "{stage:?}");
        assert!(now.note.is_some());
    }
    let unknown = council.referral_status(&reference("999999", "k")).await.unwrap_err();
    assert_eq!(unknown.kind, PartnerErrorKind::Permanent, "{unknown}");
    sandbox.shutdown().await;
}

#[tokio::test]
async fn a_full_service_declines_on_arrival() {
    let sandbox = sandbox().await;
    let council = kensington(&sandbox);
    let service =
        kensington_service(&council, NeedCode::SocialIsolation, "Community Connectors Befriending")
            .await;
    let receipt = council
        .send_referral(&referral(service, NeedCode::SocialIsolation, "key-full", false))
        .await
        .unwrap();
    let status =
        council.referral_status(&reference(&receipt.partner_reference, "key-full")).await.unwrap();
    assert_eq!(
        (status.state, status.reason),
        (TaskState::Rejected, Some(StatusReason::NoCapacity))
    );
    sandbox.shutdown().await;
}

#[tokio::test]
async fn the_sandbox_clock_moves_a_referral_to_completed() {
    let config = SandboxConfig {
        clock: ClockConfig { step_ms: 1, reject_rate: 0.0 },
        ..SandboxConfig::default()
    };
    let sandbox = Sandbox::start(config).await.unwrap();
    let council = kensington(&sandbox);
    let service = kensington_service(&council, NeedCode::DebtMoney, "Welfare Rights Advice").await;
    let receipt = council
        .send_referral(&referral(service, NeedCode::DebtMoney, "key-clock", false))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(20)).await;
    let status =
        council.referral_status(&reference(&receipt.partner_reference, "key-clock")).await.unwrap();
    assert_eq!(status.state, TaskState::Completed);
    sandbox.shutdown().await;
}

#[tokio::test]
async fn services_that_cannot_take_a_referral_are_refused_clearly() {
    let sandbox = sandbox().await;
    let council = kensington(&sandbox);
    let drop_in =
        kensington_service(&council, NeedCode::Digital, "Digital Inclusion Drop-in").await;
    let err = council
        .send_referral(&referral(drop_in, NeedCode::Digital, "k1", false))
        .await
        .unwrap_err();
    assert_eq!(err.kind, PartnerErrorKind::Permanent);
    assert!(err.message.contains("signpost"), "{err}");

    let closed =
        kensington_service(&council, NeedCode::EmploymentSkills, "Work Zone Employment Support")
            .await;
    let err = council
        .send_referral(&referral(closed, NeedCode::EmploymentSkills, "k2", false))
        .await
        .unwrap_err();
    assert!(err.message.contains("temporarily closed"), "{err}");

    let gone = ServiceRef { id: "no-such-service".into(), name: "Gone".into() };
    let err =
        council.send_referral(&referral(gone, NeedCode::DebtMoney, "k3", false)).await.unwrap_err();
    assert_eq!(err.kind, PartnerErrorKind::Permanent, "{err}");
    assert_eq!(sandbox.council_stats().total_posts, 0, "nothing was posted");
    sandbox.shutdown().await;
}

#[tokio::test]
async fn a_property_service_needs_an_address_that_unsafe_contact_withholds() {
    let sandbox = sandbox().await;
    let council = kensington(&sandbox);
    let disrepair = kensington_service(
        &council,
        NeedCode::HousingConditions,
        "Private Housing Disrepair Inspections",
    )
    .await;
    let err = council
        .send_referral(&referral(disrepair.clone(), NeedCode::HousingConditions, "k-safe", true))
        .await
        .unwrap_err();
    assert_eq!(err.kind, PartnerErrorKind::InvalidRequest, "{err}");
    assert!(err.message.contains("address"), "{err}");
    assert!(!err.message.contains("Test") && !err.message.contains("W10"), "{err}");
    let receipt = council
        .send_referral(&referral(disrepair, NeedCode::HousingConditions, "k-open", false))
        .await
        .unwrap();
    assert_eq!(receipt.state, TaskState::Requested);
    let unscoped = partner(&sandbox.council_url());
    assert!(unscoped.health().await.unwrap().detail.unwrap().contains("answered"));
    sandbox.shutdown().await;
}

#[tokio::test]
async fn cancelling_is_not_supported_sends_nothing_and_says_to_phone_the_council() {
    let sandbox = sandbox().await;
    let council = kensington(&sandbox);
    let service = kensington_service(&council, NeedCode::DebtMoney, "Welfare Rights Advice").await;
    let referral = referral(service, NeedCode::DebtMoney, "key-cancel", false);
    let receipt = council.send_referral(&referral).await.unwrap();
    let before = sandbox.council_stats();
    let at = reference(&receipt.partner_reference, "key-cancel");
    for reason in CancelReason::ALL {
        let request = CancelRequest { reference: at.clone(), reason };
        let err = council.cancel_referral(&request).await.unwrap_err();
        assert_eq!(err.kind, PartnerErrorKind::NotSupported, "{err}");
        assert_eq!(
            err.message,
            "Open311 service requests cannot be withdrawn through the council's API: phone the council to withdraw it"
        );
    }
    assert_eq!(sandbox.council_stats(), before, "nothing reached the council");
    assert_eq!(council.referral_status(&at).await.unwrap().state, TaskState::Requested);
    let manifest = CouncilPartner::describe();
    assert!(!manifest.capabilities.contains(&Capability::Cancel), "the host must not ask");
    assert!(manifest.description.contains("phone the council"), "{}", manifest.description);
    sandbox.shutdown().await;
}
