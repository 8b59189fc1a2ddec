//! Wire calls to the food bank network: the Give Food v2 directory search and the e-voucher
//! API (availability, referral, voucher status, cancel, health).
//!
//! Each method is one HTTP exchange and never retries: the orchestrator decides retries from
//! the error kind. The API key goes only to the e-voucher API, as a bearer token that reqwest
//! marks sensitive.

use pathways_sdk::connector::HttpSettings;
use pathways_sdk::http::PartnerHttp;
use pathways_sdk::PartnerError;
use reqwest::{RequestBuilder, StatusCode};

use crate::mapping::{
    DirectoryFoodbank, VoucherAnswer, VoucherAvailability, VoucherCancel, VoucherRequest,
};
use crate::settings::Settings;

/// The food bank network's two APIs, with the key for the e-voucher one.
#[derive(Clone)]
pub(crate) struct FoodbankClient {
    directory: PartnerHttp,
    vouchers: PartnerHttp,
    api_key: Option<String>,
}

impl std::fmt::Debug for FoodbankClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The key is a secret: show only whether there is one.
        f.debug_struct("FoodbankClient")
            .field("directory", self.directory.base_url())
            .field("vouchers", self.vouchers.base_url())
            .field("api_key", &self.api_key.as_ref().map(|_| "[set]"))
            .finish()
    }
}

impl FoodbankClient {
    /// Clients for the URLs in `settings`, with the API key read from the environment.
    pub(crate) fn new(settings: &Settings) -> Result<Self, String> {
        let options =
            settings.http_options(concat!("pathways-foodbank/", env!("CARGO_PKG_VERSION")));
        let vouchers = PartnerHttp::new(&settings.base_url, &options)
            .map_err(|e| format!("settings key `base_url`: {e}"))?;
        let directory = match &settings.directory_url {
            Some(url) => PartnerHttp::new(url, &options)
                .map_err(|e| format!("settings key `directory_url`: {e}"))?,
            None => vouchers.clone(),
        };
        Ok(Self { directory, vouchers, api_key: settings.api_key()? })
    }

    fn authorised(&self, request: RequestBuilder) -> RequestBuilder {
        match &self.api_key {
            Some(key) => request.bearer_auth(key),
            None => request,
        }
    }

    /// `GET /api/2/foodbanks/search/?address=DISTRICT`: the nearest food banks.
    pub(crate) async fn search(
        &self,
        postcode_district: &str,
    ) -> Result<Vec<DirectoryFoodbank>, PartnerError> {
        self.directory
            .get_json(&["api", "2", "foodbanks", "search", ""], &[("address", postcode_district)])
            .await
    }

    /// `GET /evoucher/v1/foodbanks/{slug}/availability`.
    pub(crate) async fn availability(
        &self,
        slug: &str,
    ) -> Result<VoucherAvailability, PartnerError> {
        let request = self.vouchers.get(&["evoucher", "v1", "foodbanks", slug, "availability"]);
        self.vouchers.send(self.authorised(request)).await?.json()
    }

    /// `POST /evoucher/v1/referrals` with `Idempotency-Key`; a repeat of the key returns the
    /// voucher the first POST created.
    pub(crate) async fn post_referral(
        &self,
        idempotency_key: &str,
        body: &VoucherRequest<'_>,
    ) -> Result<VoucherAnswer, PartnerError> {
        let request = self
            .vouchers
            .post(&["evoucher", "v1", "referrals"])
            .header("Idempotency-Key", idempotency_key)
            .json(body);
        self.vouchers.send(self.authorised(request)).await?.json()
    }

    /// `GET /evoucher/v1/referrals/{voucher_id}`; also returns the path, for error messages.
    pub(crate) async fn voucher(
        &self,
        voucher_id: &str,
    ) -> Result<(VoucherAnswer, String), PartnerError> {
        let request = self.vouchers.get(&["evoucher", "v1", "referrals", voucher_id]);
        let response = self.vouchers.send(self.authorised(request)).await?;
        Ok((response.json()?, response.path))
    }

    /// `POST /evoucher/v1/referrals/{voucher_id}/cancel`: the voucher as it stands after the
    /// cancel (cancelled now or before), and the path. A voucher that ended first (redeemed,
    /// expired, declined) is refused with 409 and left as it is: it is read back, so the
    /// answer is where it really ended.
    pub(crate) async fn cancel(
        &self,
        voucher_id: &str,
        body: &VoucherCancel,
    ) -> Result<(VoucherAnswer, String), PartnerError> {
        let request =
            self.vouchers.post(&["evoucher", "v1", "referrals", voucher_id, "cancel"]).json(body);
        let response = self.vouchers.send_any_status(self.authorised(request)).await?;
        if response.status == StatusCode::CONFLICT {
            return self.voucher(voucher_id).await;
        }
        let response = response.error_for_status()?;
        Ok((response.json()?, response.path))
    }

    /// `GET /evoucher/v1/health`: answers, and accepts our key.
    pub(crate) async fn health(&self) -> Result<(), PartnerError> {
        let request = self.vouchers.get(&["evoucher", "v1", "health"]);
        self.vouchers.send(self.authorised(request)).await.map(|_| ())
    }
}
