//! Who sees what of a case: one rule, in one place (ARCHITECTURE.md, "Who sees what").
//!
//! - The **owner**, the organisation whose key created the case, sees it whole; only it plans,
//!   refers, exports and erases it.
//! - A **partner organisation** (an API key whose organisation is a partner id) sees, for each
//!   referral actually delivered to it, exactly what that referral carried: its minimised
//!   payload and its state. Nothing of steps never sent to it, of the client's other needs, of
//!   other partners' referrals, or of the plan. It never plans or refers.
//! - **Anyone else** sees nothing, answered exactly like a missing case (404), so ids cannot
//!   be probed.
//!
//! Handlers ask [`CaseAccess::decide`] or [`ReferralAccess::decide`] and serialise the view
//! type the answer carries; they never pick fields themselves. Each view type is what one
//! audience may see, so a field added to the case cannot leak to a partner by accident: it
//! would have to be added to [`PartnerReferralView`] too.

use chrono::{DateTime, Utc};
use pathways_core::{Case, NeedCode, Referral, StatusReason, TaskState};
use pathways_store::{
    Cancellation, CaseId, DispatchState, LegalHold, ReferralId, StatusChange, Store, StoreError,
    StoredCase, StoredReferral,
};
use schemars::JsonSchema;
use serde::Serialize;

/// What a caller's organisation may see of one case.
#[derive(Debug)]
pub enum CaseAccess {
    /// The owner: the whole case.
    Owner(Box<StoredCase>),
    /// A partner organisation: the referrals delivered to it (never empty).
    Partner(PartnerCaseView),
    /// Nothing; answer as if the case did not exist.
    None,
}

impl CaseAccess {
    /// Decides what `organisation` may see of case `id`.
    pub async fn decide(
        store: &dyn Store,
        organisation: &str,
        id: &CaseId,
    ) -> Result<Self, StoreError> {
        let Some(case) = store.get_case(id).await? else { return Ok(Self::None) };
        if case.organisation == organisation {
            return Ok(Self::Owner(Box::new(case)));
        }
        let referrals: Vec<PartnerReferralView> = store
            .referrals_of_case(id)
            .await?
            .into_iter()
            .filter_map(|r| PartnerReferralView::of(r, organisation))
            .collect();
        if referrals.is_empty() {
            return Ok(Self::None);
        }
        Ok(Self::Partner(PartnerCaseView { view: "partner", id: id.to_string(), referrals }))
    }

    /// The case, when the caller owns it.
    pub fn owned(self) -> Option<StoredCase> {
        match self {
            Self::Owner(case) => Some(*case),
            _ => None,
        }
    }
}

/// What a caller's organisation may see of one referral.
#[derive(Debug)]
pub enum ReferralAccess {
    /// The organisation that owns the referral's case.
    Owner(Box<StoredReferral>),
    /// The partner it was delivered to.
    Partner(Box<PartnerReferralView>),
    /// Nothing; answer as if the referral did not exist.
    None,
}

impl ReferralAccess {
    /// Decides what `organisation` may see of referral `id`.
    pub async fn decide(
        store: &dyn Store,
        organisation: &str,
        id: &ReferralId,
    ) -> Result<Self, StoreError> {
        let Some(referral) = store.get_referral(id).await? else { return Ok(Self::None) };
        let owner = store.get_case(&referral.case_id).await?.map(|c| c.organisation);
        if owner.as_deref() == Some(organisation) {
            return Ok(Self::Owner(Box::new(referral)));
        }
        Ok(PartnerReferralView::of(referral, organisation)
            .map_or(Self::None, |view| Self::Partner(Box::new(view))))
    }
}

/// `"owner"`, in the schema of a view's `view` field.
#[derive(JsonSchema)]
#[allow(dead_code)]
enum OwnerTag {
    #[serde(rename = "owner")]
    Owner,
}

/// `"partner"`, in the schema of a view's `view` field.
#[derive(JsonSchema)]
#[allow(dead_code)]
enum PartnerTag {
    #[serde(rename = "partner")]
    Partner,
}

/// `GET /v1/cases/{id}`: one of the two views, told apart by `view`.
#[allow(clippy::large_enum_variant)] // Built once per request and serialised at once.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(untagged)]
pub enum CaseView {
    /// The owner's.
    Owner(OwnerCaseView),
    /// A partner organisation's.
    Partner(PartnerCaseView),
}

/// `GET /v1/referrals/{id}`: one of the two views, told apart by `view`.
#[allow(clippy::large_enum_variant)] // Built once per request and serialised at once.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(untagged)]
pub enum ReferralViews {
    /// The owner's.
    Owner(ReferralView),
    /// The receiving partner's.
    Partner(PartnerReferralView),
}

/// The owner's view of a case.
#[derive(Debug, Serialize, JsonSchema)]
pub struct OwnerCaseView {
    /// Always `owner`: which view this is.
    #[schemars(with = "OwnerTag")]
    view: &'static str,
    id: String,
    organisation: String,
    created_at: DateTime<Utc>,
    case: Case,
    /// A safeguarding or legal hold, when one stands.
    #[serde(skip_serializing_if = "Option::is_none")]
    legal_hold: Option<LegalHold>,
    /// The consents the case had before its current one, oldest first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    consent_history: Vec<pathways_core::Consent>,
    /// The case's referrals, briefly; each one's `href` gives the whole.
    referrals: Vec<ReferralSummary>,
}

impl OwnerCaseView {
    /// The owner's view of `case` with its `referrals`.
    pub fn new(case: StoredCase, referrals: &[StoredReferral]) -> Self {
        Self {
            view: "owner",
            id: case.id.to_string(),
            organisation: case.organisation,
            created_at: case.created_at,
            case: case.case,
            legal_hold: case.legal_hold,
            consent_history: case.consent_history,
            referrals: referrals.iter().map(ReferralSummary::of).collect(),
        }
    }

    /// The case.
    pub fn case(&self) -> &Case {
        &self.case
    }

    /// The consents the case had before its current one, oldest first.
    pub fn consent_history(&self) -> &[pathways_core::Consent] {
        &self.consent_history
    }
}

/// One referral in the owner's view of its case.
#[derive(Debug, Serialize, JsonSchema)]
pub struct ReferralSummary {
    id: String,
    partner_id: String,
    needs: Vec<NeedCode>,
    state: TaskState,
    state_changed_at: DateTime<Utc>,
    href: String,
}

impl ReferralSummary {
    fn of(r: &StoredReferral) -> Self {
        Self {
            id: r.id.to_string(),
            partner_id: r.partner_id.clone(),
            needs: r.needs.clone(),
            state: r.state,
            state_changed_at: r.state_changed_at,
            href: format!("/v1/referrals/{}", r.id),
        }
    }
}

/// A partner organisation's view of a case: the referrals delivered to it.
#[derive(Debug, Serialize, JsonSchema)]
pub struct PartnerCaseView {
    /// Always `partner`: which view this is.
    #[schemars(with = "PartnerTag")]
    view: &'static str,
    id: String,
    referrals: Vec<PartnerReferralView>,
}

/// A referral as the partner it was delivered to sees it: its state, and exactly what it
/// carried.
#[derive(Debug, Serialize, JsonSchema)]
pub struct PartnerReferralView {
    /// Always `partner`: which view this is.
    #[schemars(with = "PartnerTag")]
    view: &'static str,
    id: String,
    case_id: String,
    partner_id: String,
    needs: Vec<NeedCode>,
    state: TaskState,
    reason: Option<StatusReason>,
    state_changed_at: DateTime<Utc>,
    sent_at: DateTime<Utc>,
    partner_reference: Option<String>,
    /// The referral exactly as it was sent: the client minimised to what this partner
    /// declared, the needs referred to it, the consent it rests on.
    sent: Referral,
}

impl PartnerReferralView {
    /// The case the referral came from.
    pub fn case_id(&self) -> Option<CaseId> {
        CaseId::parse(&self.case_id)
    }

    /// The referral exactly as it was sent.
    pub fn sent(&self) -> &Referral {
        &self.sent
    }

    /// Its state now.
    pub fn state(&self) -> TaskState {
        self.state
    }

    /// The view of `r` for `organisation`: only when `r` went to it, was delivered, and its
    /// case has not been erased.
    fn of(r: StoredReferral, organisation: &str) -> Option<Self> {
        if r.partner_id != organisation {
            return None;
        }
        let (Some(sent_at), Some(sent)) = (r.sent_at, r.referral) else { return None };
        Some(Self {
            view: "partner",
            id: r.id.to_string(),
            case_id: r.case_id.to_string(),
            partner_id: r.partner_id,
            needs: r.needs,
            state: r.state,
            reason: r.reason,
            state_changed_at: r.state_changed_at,
            sent_at,
            partner_reference: r.partner_reference,
            sent,
        })
    }
}

/// The owner's view of a referral: state, history, dispatch; not the payload (the personal
/// data is in the case, which the owner reads there).
#[derive(Debug, Serialize, JsonSchema)]
pub struct ReferralView {
    /// Always `owner`: which view this is.
    #[schemars(with = "OwnerTag")]
    view: &'static str,
    id: String,
    case_id: String,
    partner_id: String,
    needs: Vec<NeedCode>,
    state: TaskState,
    reason: Option<StatusReason>,
    state_changed_at: DateTime<Utc>,
    partner_reference: Option<String>,
    created_at: DateTime<Utc>,
    sent_at: Option<DateTime<Utc>>,
    /// Still `requested` past `dispatch.chase_after`: the pathfinder should chase the partner.
    needs_chasing: bool,
    history: Vec<StatusChange>,
    dispatch: DispatchState,
    /// The cancel asked for, if any: why, by whom, and whether the partner has been told.
    #[serde(skip_serializing_if = "Option::is_none")]
    cancellation: Option<Cancellation>,
}

impl ReferralView {
    /// The view of `stored`, flagged for chasing when `requested` since before `chase_before`.
    pub fn new(stored: StoredReferral, chase_before: DateTime<Utc>) -> Self {
        Self {
            view: "owner",
            needs_chasing: stored.state == TaskState::Requested
                && stored.state_changed_at < chase_before,
            id: stored.id.to_string(),
            case_id: stored.case_id.to_string(),
            partner_id: stored.partner_id,
            needs: stored.needs,
            state: stored.state,
            reason: stored.reason,
            state_changed_at: stored.state_changed_at,
            partner_reference: stored.partner_reference,
            created_at: stored.created_at,
            sent_at: stored.sent_at,
            history: stored.history,
            dispatch: stored.dispatch,
            cancellation: stored.cancellation,
        }
    }

    /// The referral's id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Its state now.
    pub fn state(&self) -> TaskState {
        self.state
    }

    /// The partner it went to.
    pub fn partner_id(&self) -> &str {
        &self.partner_id
    }

    /// The cancel asked for, if any.
    pub fn cancellation(&self) -> Option<&Cancellation> {
        self.cancellation.as_ref()
    }
}

/// Everything held about the client of a case (UK GDPR Art. 15, subject access), for the
/// owner: the case, every plan, and every referral with its history and what its partner was
/// sent.
#[derive(Debug, Serialize, JsonSchema)]
pub struct SubjectAccessExport {
    /// When the export was made.
    exported_at: DateTime<Utc>,
    case: OwnerCaseView,
    plans: Vec<ExportedPlan>,
    referrals: Vec<ExportedReferral>,
}

/// A plan in the subject access export, oldest first.
#[derive(Debug, Serialize, JsonSchema)]
pub struct ExportedPlan {
    created_at: DateTime<Utc>,
    plan: pathways_core::ActionPlan,
}

/// A referral in the subject access export.
#[derive(Debug, Serialize, JsonSchema)]
pub struct ExportedReferral {
    #[serde(flatten)]
    referral: ReferralView,
    /// What the partner was sent (`null` once erased).
    sent: Option<Referral>,
}

impl SubjectAccessExport {
    /// The export of `case` with its plans and referrals.
    pub fn new(
        case: StoredCase,
        plans: Vec<pathways_store::StoredPlan>,
        referrals: Vec<StoredReferral>,
        now: DateTime<Utc>,
    ) -> Self {
        let view = OwnerCaseView::new(case, &referrals);
        let referrals = referrals
            .into_iter()
            .map(|mut r| {
                let sent = r.referral.take();
                ExportedReferral { referral: ReferralView::new(r, DateTime::<Utc>::MIN_UTC), sent }
            })
            .collect();
        let plans = plans
            .into_iter()
            .map(|p| ExportedPlan { created_at: p.created_at, plan: p.plan })
            .collect();
        Self { exported_at: now, case: view, plans, referrals }
    }
}
