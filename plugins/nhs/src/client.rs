//! Wire calls to the NHS FHIR API: the service directory search, `$process-message` (a
//! referral, or the update withdrawing one), the search that finds a referral again after a
//! duplicate answer, Task and ServiceRequest reads, and `metadata` for health.
//!
//! Each method is one HTTP exchange and never retries: the orchestrator decides retries from
//! the error kind. Every request sends `Accept: application/fhir+json`; error answers are read
//! (within the size cap) so that the OperationOutcome's BaRS code can be named.

use base64::Engine as _;
use pathways_sdk::connector::HttpSettings;
use pathways_sdk::http::{PartnerHttp, PartnerResponse};
use pathways_sdk::PartnerError;
use reqwest::header::{ACCEPT, CONTENT_TYPE};
use reqwest::RequestBuilder;

use crate::fhir::Resource;
use crate::mapping::ONS_GEOGRAPHY;
use crate::message::MessageIds;
use crate::outcome::{self, Refusal};
use crate::settings::Settings;

const FHIR_JSON: &str = "application/fhir+json";

/// How the receiver took a referral message.
#[derive(Debug)]
pub(crate) enum Delivery {
    /// Processed now; the answer and its path.
    Processed(Box<Resource>, String),
    /// The receiver already holds it (a retry of a message that got through).
    AlreadyDelivered,
}

/// The NHS partner's FHIR API, with its bearer token.
#[derive(Clone)]
pub(crate) struct NhsClient {
    http: PartnerHttp,
    api_key: Option<String>,
}

impl std::fmt::Debug for NhsClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The token is a secret: show only whether there is one.
        f.debug_struct("NhsClient")
            .field("base_url", self.http.base_url())
            .field("api_key", &self.api_key.as_ref().map(|_| "[set]"))
            .finish()
    }
}

impl NhsClient {
    /// A client for `settings.base_url`, with the token read from the environment.
    pub(crate) fn new(settings: &Settings) -> Result<Self, String> {
        let options = settings.http_options(concat!("pathways-nhs/", env!("CARGO_PKG_VERSION")));
        let http = PartnerHttp::new(&settings.base_url, &options)
            .map_err(|e| format!("settings key `base_url`: {e}"))?;
        Ok(Self { http, api_key: settings.api_key()? })
    }

    fn prepared(&self, request: RequestBuilder) -> RequestBuilder {
        let request = request.header(ACCEPT, FHIR_JSON);
        match &self.api_key {
            Some(key) => request.bearer_auth(key),
            None => request,
        }
    }

    /// Sends a request and reads a 2xx answer; any other answer is the error its status and
    /// OperationOutcome mean.
    async fn fetch(&self, request: RequestBuilder) -> Result<PartnerResponse, PartnerError> {
        let response = self.http.send_any_status(self.prepared(request)).await?;
        if response.status.is_success() {
            Ok(response)
        } else {
            Err(outcome::answer_error(
                response.status,
                &response.headers,
                &response.path,
                &response.body,
            ))
        }
    }

    /// `GET /HealthcareService?active=true&coverage-area:identifier=ONS|{area}&service-category={tokens}&_include=HealthcareService:location`:
    /// the services, and the Locations they name (for addresses).
    pub(crate) async fn search_services(
        &self,
        local_authority: &str,
        category_tokens: &str,
    ) -> Result<Resource, PartnerError> {
        let area = format!("{ONS_GEOGRAPHY}|{local_authority}");
        let request = self.http.get(&["HealthcareService"]).query(&[
            ("active", "true"),
            ("coverage-area:identifier", area.as_str()),
            ("service-category", category_tokens),
            ("_count", "100"),
            ("_include", "HealthcareService:location"),
        ]);
        self.fetch(request).await?.json()
    }

    /// `POST /$process-message` with the BaRS headers. A duplicate answer is
    /// [`Delivery::AlreadyDelivered`], not an error.
    pub(crate) async fn process_message(
        &self,
        ids: &MessageIds,
        target_system: &str,
        target_value: &str,
        message: &Resource,
    ) -> Result<Delivery, PartnerError> {
        let body = serde_json::to_vec(message).map_err(|e| {
            PartnerError::plugin_fault(format!("could not write the referral message: {e}"))
        })?;
        let target = serde_json::json!({"system": target_system, "value": target_value});
        let target = base64::engine::general_purpose::STANDARD.encode(target.to_string());
        let request = self
            .http
            .post(&["$process-message"])
            .header(CONTENT_TYPE, FHIR_JSON)
            .header("X-Request-ID", ids.request_id.to_string())
            .header("X-Correlation-ID", ids.correlation_id.to_string())
            .header("NHSD-Target-Identifier", target)
            .body(body);
        let response = self.http.send_any_status(self.prepared(request)).await?;
        if response.status.is_success() {
            let answer = response.json()?;
            return Ok(Delivery::Processed(Box::new(answer), response.path));
        }
        match outcome::refusal(response.status, &response.headers, &response.path, &response.body) {
            Refusal::AlreadyDelivered => Ok(Delivery::AlreadyDelivered),
            Refusal::Failed(err) => Err(err),
        }
    }

    /// `GET /ServiceRequest?identifier={system}|{value}&_revinclude=Task:focus`: a referral the
    /// receiver already holds, with its Task; also returns the path, for error messages.
    pub(crate) async fn find_referral(
        &self,
        ids: &MessageIds,
    ) -> Result<(Resource, String), PartnerError> {
        let (system, value) = ids.service_request_identifier();
        let token = format!("{system}|{value}");
        let request = self
            .http
            .get(&["ServiceRequest"])
            .query(&[("identifier", token.as_str()), ("_revinclude", "Task:focus")]);
        let response = self.fetch(request).await?;
        Ok((response.json()?, response.path))
    }

    /// `GET /Task/{id}`; also returns the path, for error messages.
    pub(crate) async fn task(&self, id: &str) -> Result<(Resource, String), PartnerError> {
        let response = self.fetch(self.http.get(&["Task", id])).await?;
        Ok((response.json()?, response.path))
    }

    /// `GET /ServiceRequest/{id}`; also returns the path, for error messages.
    pub(crate) async fn service_request(
        &self,
        id: &str,
    ) -> Result<(Resource, String), PartnerError> {
        let response = self.fetch(self.http.get(&["ServiceRequest", id])).await?;
        Ok((response.json()?, response.path))
    }

    /// `GET /metadata`: the server answers, accepts our token, and speaks FHIR.
    pub(crate) async fn metadata(&self) -> Result<(), PartnerError> {
        let response = self.fetch(self.http.get(&["metadata"])).await?;
        let statement: serde_json::Value = response.json()?;
        if statement.get("resourceType").and_then(|t| t.as_str()) != Some("CapabilityStatement") {
            return Err(PartnerError::permanent(format!(
                "partner answered `{}` with something other than a CapabilityStatement; check the base URL",
                response.path
            )));
        }
        Ok(())
    }
}
