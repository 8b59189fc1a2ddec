//! Wire calls to the Duty to Refer API: a housing options team's availability, the referral,
//! its status, its withdrawal, and health.
//!
//! Each method is one HTTP exchange and never retries: the orchestrator decides retries from
//! the error kind. The API key goes as a bearer token that reqwest marks sensitive.

use pathways_sdk::connector::HttpSettings;
use pathways_sdk::http::PartnerHttp;
use pathways_sdk::PartnerError;
use reqwest::{RequestBuilder, StatusCode};

use crate::mapping::{
    AuthorityAvailability, DtrReceipt, DtrReferral, DtrReferralAnswer, DtrWithdrawal,
};
use crate::settings::Settings;

/// The Duty to Refer API, with its key.
#[derive(Clone)]
pub(crate) struct HousingClient {
    http: PartnerHttp,
    api_key: Option<String>,
}

impl std::fmt::Debug for HousingClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The key is a secret: show only whether there is one.
        f.debug_struct("HousingClient")
            .field("base_url", self.http.base_url())
            .field("api_key", &self.api_key.as_ref().map(|_| "[set]"))
            .finish()
    }
}

impl HousingClient {
    /// A client for `settings.base_url`, with the API key read from the environment.
    pub(crate) fn new(settings: &Settings) -> Result<Self, String> {
        let options =
            settings.http_options(concat!("pathways-housing/", env!("CARGO_PKG_VERSION")));
        let http = PartnerHttp::new(&settings.base_url, &options)
            .map_err(|e| format!("settings key `base_url`: {e}"))?;
        Ok(Self { http, api_key: settings.api_key()? })
    }

    fn authorised(&self, request: RequestBuilder) -> RequestBuilder {
        match &self.api_key {
            Some(key) => request.bearer_auth(key),
            None => request,
        }
    }

    /// `GET /dtr/v1/authorities/{ons_code}/availability`.
    pub(crate) async fn availability(
        &self,
        ons_code: &str,
    ) -> Result<AuthorityAvailability, PartnerError> {
        let request = self.http.get(&["dtr", "v1", "authorities", ons_code, "availability"]);
        self.http.send(self.authorised(request)).await?.json()
    }

    /// `POST /dtr/v1/referrals` with `Idempotency-Key`; a repeat of the key returns the
    /// receipt the first POST got.
    pub(crate) async fn post_referral(
        &self,
        idempotency_key: &str,
        body: &DtrReferral<'_>,
    ) -> Result<DtrReceipt, PartnerError> {
        let request = self
            .http
            .post(&["dtr", "v1", "referrals"])
            .header("Idempotency-Key", idempotency_key)
            .json(body);
        self.http.send(self.authorised(request)).await?.json()
    }

    /// `GET /dtr/v1/referrals/{referral_id}`; also returns the path, for error messages.
    pub(crate) async fn referral(
        &self,
        referral_id: &str,
    ) -> Result<(DtrReferralAnswer, String), PartnerError> {
        let request = self.http.get(&["dtr", "v1", "referrals", referral_id]);
        let response = self.http.send(self.authorised(request)).await?;
        Ok((response.json()?, response.path))
    }

    /// `POST /dtr/v1/referrals/{referral_id}/withdraw`: the referral as it stands after the
    /// withdrawal (withdrawn now or before), and the path. A referral closed or declined first
    /// is refused with 409 and left as it is: it is read back, so the answer is where it
    /// really ended.
    pub(crate) async fn withdraw(
        &self,
        referral_id: &str,
        body: &DtrWithdrawal,
    ) -> Result<(DtrReferralAnswer, String), PartnerError> {
        let request =
            self.http.post(&["dtr", "v1", "referrals", referral_id, "withdraw"]).json(body);
        let response = self.http.send_any_status(self.authorised(request)).await?;
        if response.status == StatusCode::CONFLICT {
            return self.referral(referral_id).await;
        }
        let response = response.error_for_status()?;
        Ok((response.json()?, response.path))
    }

    /// `GET /dtr/v1/health`: answers, and accepts our key.
    pub(crate) async fn health(&self) -> Result<(), PartnerError> {
        let request = self.http.get(&["dtr", "v1", "health"]);
        self.http.send(self.authorised(request)).await.map(|_| ())
    }
}
