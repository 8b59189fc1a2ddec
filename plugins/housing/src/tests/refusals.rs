//! A Duty to Refer referral is refused before anything is sent unless the case records consent
//! to refer, consent to share contact details, and a chosen authority this partner serves; the
//! error says what is missing and the simulator sees no POST.

use pathways_sdk::{Partner, PartnerErrorKind, PartnerPlugin};

use super::{partner, referral, sandbox, Dtr, Spec};
use crate::{HousingPartner, Settings};

#[tokio::test]
async fn each_missing_duty_to_refer_fact_is_named_and_nothing_is_sent() {
    let sandbox = sandbox().await;
    let housing = partner(&sandbox.housing_url());
    let with = |dtr| Spec { dtr, ..Spec::default() };
    let cases = [
        (with(None), "consent.duty_to_refer"),
        (
            with(Some(Dtr { refer: false, share_contact: true, authority: "E09000020" })),
            "consent_to_refer",
        ),
        (
            with(Some(Dtr { refer: true, share_contact: false, authority: "E09000020" })),
            "consent_to_share_contact",
        ),
        (
            with(Some(Dtr { refer: true, share_contact: true, authority: "E08000001" })),
            "`E08000001`, which this partner does not serve",
        ),
    ];
    for (i, (spec, named)) in cases.into_iter().enumerate() {
        let err = housing.send_referral(&referral(spec, &format!("key-{i}"))).await.unwrap_err();
        assert_eq!(err.kind, PartnerErrorKind::InvalidRequest, "{err}");
        assert!(err.message.contains(named), "case {i}: `{named}` not in: {err}");
        assert!(err.message.starts_with("not sent"), "{err}");
        assert!(!err.message.contains("Test Person"), "no personal data in errors: {err}");
    }
    assert_eq!(sandbox.housing_stats().total_posts, 0, "nothing reached the authority");
    sandbox.shutdown().await;
}

#[tokio::test]
async fn an_authority_served_by_the_api_but_not_by_this_partner_is_refused() {
    let sandbox = sandbox().await;
    // The simulator takes referrals for Shropshire, but this partner is configured for
    // Kensington and Chelsea only: the configuration decides, not the remote API.
    let housing =
        HousingPartner::from_settings(Settings::new(sandbox.housing_url(), &["E09000020"]))
            .unwrap();
    let spec = Spec {
        dtr: Some(Dtr { refer: true, share_contact: true, authority: "E06000051" }),
        ..Spec::default()
    };
    let err = housing.send_referral(&referral(spec, "key-shropshire")).await.unwrap_err();
    assert_eq!(err.kind, PartnerErrorKind::InvalidRequest);
    assert!(err.message.contains("it serves E09000020"), "{err}");
    assert_eq!(sandbox.housing_stats().total_posts, 0);
    sandbox.shutdown().await;
}

#[tokio::test]
async fn a_safe_contact_client_needs_an_agency_contact_before_anything_is_sent() {
    let sandbox = sandbox().await;
    let without =
        HousingPartner::from_settings(Settings::new(sandbox.housing_url(), &super::ALL)).unwrap();
    let spec = Spec { safe_contact: true, ..Spec::default() };
    let err = without.send_referral(&referral(spec, "key-safe")).await.unwrap_err();
    assert_eq!(err.kind, PartnerErrorKind::InvalidRequest);
    assert!(err.message.contains("agency_contact"), "{err}");
    assert_eq!(sandbox.housing_stats().total_posts, 0);
    // With the agency's contact configured the same referral goes, reached through the agency.
    let with = partner(&sandbox.housing_url());
    assert!(with.send_referral(&referral(spec, "key-safe")).await.is_ok());
    assert_eq!(sandbox.housing_stats().referrals_created, 1);
    sandbox.shutdown().await;
}

#[tokio::test]
async fn a_referral_without_a_housing_need_or_key_is_refused() {
    let sandbox = sandbox().await;
    let housing = partner(&sandbox.housing_url());
    let mut no_need = referral(Spec::default(), "key-no-need");
    no_need.needs.clear();
    let err = housing.send_referral(&no_need).await.unwrap_err();
    assert!(err.message.contains("housing_homelessness"), "{err}");
    // A referral without a key cannot be made at all: the type refuses it (and on the wire
    // the SDK does, before this connector runs).
    assert!(" ".parse::<pathways_sdk::IdempotencyKey>().is_err());
    assert_eq!(sandbox.housing_stats().total_posts, 0);
    sandbox.shutdown().await;
}
