//! Availability against the sandbox's directory: per area, across pages, with statuses, age
//! limits, eligibility circumstances and capacities.

use pathways_sandbox::Faults;
use pathways_sdk::{
    AgeBand, Capacity, Circumstance, Eligibility, NeedCode, Partner, PartnerPlugin, ServiceChannel,
};

use super::{for_need, named, partner, query, sandbox};
use crate::{CouncilPartner, Settings};

#[tokio::test]
async fn kensington_offers_capacity_waitlist_and_closed_services_and_drops_inactive_ones() {
    let sandbox = sandbox().await;
    let needs = [
        NeedCode::DebtMoney,
        NeedCode::FuelUtilities,
        NeedCode::EmploymentSkills,
        NeedCode::Transport,
        NeedCode::SocialIsolation,
    ];
    let q = query("E09000020", "W10", AgeBand::From35To49, &needs, &[]);
    let offers = partner(&sandbox.council_url()).check_availability(&q).await.unwrap().offers;

    let welfare = named(&offers, "Welfare Rights Advice");
    assert_eq!((welfare.need, welfare.capacity), (NeedCode::DebtMoney, Capacity::Capacity));
    assert_eq!(welfare.eligibility, Eligibility::Eligible);
    assert_eq!(welfare.wait_estimate.as_deref(), Some("4 of 10 places free"));
    assert_eq!(welfare.channel, Some(ServiceChannel::InPerson));
    let venue = welfare.location.as_ref().unwrap();
    assert_eq!(
        (venue.name.as_str(), venue.postcode.as_deref()),
        ("Kensington Town Hall", Some("W8 7NX"))
    );

    let energy = named(&offers, "Household Energy Advice and Hardship Fund");
    assert_eq!(
        (energy.capacity, energy.channel),
        (Capacity::Waitlist, Some(ServiceChannel::Phone))
    );
    assert!(energy.wait_estimate.as_deref().unwrap().contains("about 3 weeks"), "{energy:?}");
    let work = named(&offers, "Work Zone Employment Support");
    assert_eq!(
        (work.capacity, work.wait_estimate.as_deref()),
        (Capacity::NoCapacity, Some("temporarily closed"))
    );
    let befriending = named(&offers, "Community Connectors Befriending");
    assert_eq!(befriending.capacity, Capacity::NoCapacity, "0 of 25 places");
    assert!(for_need(&offers, NeedCode::Transport).is_empty(), "Dial-a-Ride is inactive");
    let order: Vec<NeedCode> = offers.iter().map(|o| o.need).collect();
    let mut sorted = order.clone();
    sorted.sort_by_key(|n| needs.iter().position(|x| x == n));
    assert_eq!(order, sorted, "offers follow the query's order of needs");
    sandbox.shutdown().await;
}

#[tokio::test]
async fn ludlow_befriending_is_read_across_every_page_and_ages_decide_eligibility() {
    let sandbox = sandbox().await;
    let council = partner(&sandbox.council_url());
    let isolation = [NeedCode::SocialIsolation];
    let q = query("E06000051", "SY8", AgeBand::From75, &isolation, &[]);
    let offers = council.check_availability(&q).await.unwrap().offers;
    assert_eq!(offers.len(), 6, "{offers:#?}");
    // esdNeed:69 has six matches: two pages of five; esdServiceType:23 has three: one page.
    assert_eq!(sandbox.council_stats().service_list_requests, 3);
    assert!(offers.iter().all(|o| o.eligibility == Eligibility::Eligible));
    for far in ["Church Stretton Walking Group", "Bishop's Castle Community Hub"] {
        assert!(offers.iter().all(|o| o.service.name != far), "{far} is beyond 16 km");
    }

    let younger = query("E06000051", "SY8", AgeBand::From35To49, &isolation, &[]);
    let offers = council.check_availability(&younger).await.unwrap().offers;
    let phone = named(&offers, "Shropshire Telephone Befriending");
    assert_eq!(
        phone.eligibility,
        Eligibility::NotEligible { reason: "for people aged 65 and over".into() }
    );
    let fifties = query("E06000051", "SY8", AgeBand::From50To64, &isolation, &[]);
    let offers = council.check_availability(&fifties).await.unwrap().offers;
    assert_eq!(
        named(&offers, "Ludlow Lunch Club").eligibility,
        Eligibility::Unknown,
        "60+ straddles 50-64"
    );
    assert_eq!(
        offers.last().unwrap().eligibility,
        Eligibility::NotEligible { reason: "for people aged 65 and over".into() }
    );

    let small_pages = Settings { per_page: 2, ..Settings::new(sandbox.council_url()) };
    let before = sandbox.council_stats().service_list_requests;
    let offers = CouncilPartner::from_settings(small_pages)
        .unwrap()
        .check_availability(&q)
        .await
        .unwrap()
        .offers;
    assert_eq!(offers.len(), 6);
    assert_eq!(sandbox.council_stats().service_list_requests - before, 3 + 2);

    let capped = Settings { per_page: 2, max_pages: 1, ..Settings::new(sandbox.council_url()) };
    let offers =
        CouncilPartner::from_settings(capped).unwrap().check_availability(&q).await.unwrap().offers;
    assert!(offers.len() < 6, "max_pages stops the reading: {}", offers.len());
    sandbox.shutdown().await;
}

#[tokio::test]
async fn carers_assessments_need_an_unpaid_carer_and_stale_capacity_is_unknown() {
    let sandbox = sandbox().await;
    let council = partner(&sandbox.council_url());
    let care = [NeedCode::CarerCare, NeedCode::HousingConditions];
    let offers = council
        .check_availability(&query("E06000051", "SY8", AgeBand::From75, &care, &[]))
        .await
        .unwrap()
        .offers;
    let assessment = named(&offers, "Adult Social Care Needs Assessment");
    assert_eq!(
        (assessment.capacity, &assessment.eligibility),
        (Capacity::Waitlist, &Eligibility::Eligible)
    );
    assert!(assessment.wait_estimate.as_deref().unwrap().contains("6 to 8 weeks"));
    let carers = named(&offers, "Shropshire Carers Assessment");
    assert_eq!(
        carers.eligibility,
        Eligibility::NotEligible { reason: "only for unpaid carers".into() }
    );
    assert_eq!(offers[0].service.name, "Adult Social Care Needs Assessment", "eligible first");
    let housing = named(&offers, "Private Rented Housing Standards");
    assert_eq!(housing.capacity, Capacity::Unknown, "its figures are 60 days old");
    assert!(housing.wait_estimate.as_deref().unwrap().contains("14 days"));

    let carer = [Circumstance::UnpaidCarer];
    let offers = council
        .check_availability(&query("E06000051", "SY8", AgeBand::From75, &care, &carer))
        .await
        .unwrap()
        .offers;
    assert_eq!(named(&offers, "Shropshire Carers Assessment").eligibility, Eligibility::Eligible);
    let trusting = Settings { capacity_max_age_days: 90, ..Settings::new(sandbox.council_url()) };
    let offers = CouncilPartner::from_settings(trusting)
        .unwrap()
        .check_availability(&query("E06000051", "SY8", AgeBand::From75, &care, &[]))
        .await
        .unwrap()
        .offers;
    assert_eq!(named(&offers, "Private Rented Housing Standards").capacity, Capacity::Capacity);
    sandbox.shutdown().await;
}

#[tokio::test]
async fn barrow_is_sparse_and_families_need_children() {
    let sandbox = sandbox().await;
    let council = partner(&sandbox.council_url());
    let needs = [
        NeedCode::DebtMoney,
        NeedCode::FuelUtilities,
        NeedCode::HousingConditions,
        NeedCode::SocialIsolation,
    ];
    let offers = council
        .check_availability(&query("E07000027", "LA14", AgeBand::From25To34, &needs, &[]))
        .await
        .unwrap()
        .offers;
    let summary: Vec<(&str, Capacity)> =
        offers.iter().map(|o| (o.service.name.as_str(), o.capacity)).collect();
    assert_eq!(
        summary,
        [
            ("Barrow Welfare Rights", Capacity::Waitlist),
            ("Barrow Private Housing Enforcement", Capacity::NoCapacity)
        ]
    );

    let family = [NeedCode::FamilyChildren];
    let mut q = query("E09000020", "W10", AgeBand::From25To34, &family, &[]);
    let offers = council.check_availability(&q).await.unwrap().offers;
    assert!(matches!(offers[0].eligibility, Eligibility::NotEligible { .. }), "{offers:?}");
    q.household.children_ages = vec![4];
    let offers = council.check_availability(&q).await.unwrap().offers;
    assert_eq!(offers[0].eligibility, Eligibility::Eligible);
    let shropshire = query("E06000051", "SY1", AgeBand::From25To34, &family, &[]);
    assert!(
        council.check_availability(&shropshire).await.unwrap().offers.is_empty(),
        "its hub is defunct"
    );
    sandbox.shutdown().await;
}

#[tokio::test]
async fn needs_it_does_not_serve_get_no_offers_and_no_call() {
    let sandbox = sandbox().await;
    sandbox.set_council_faults(Faults::failing());
    let q = query(
        "E09000020",
        "W10",
        AgeBand::From35To49,
        &[NeedCode::Food, NeedCode::MentalHealth],
        &[],
    );
    let answer = partner(&sandbox.council_url()).check_availability(&q).await;
    assert!(answer.unwrap().offers.is_empty(), "a call would have failed");
    assert_eq!(sandbox.council_stats().service_list_requests, 0);
    sandbox.shutdown().await;
}
