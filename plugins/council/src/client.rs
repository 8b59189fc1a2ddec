//! Wire calls to the council: the HSDS directory (`/services` pages, one service, the API root)
//! and Open311 GeoReport v2 (service list, request POST, request status).
//!
//! Each method is one HTTP exchange and never retries: the orchestrator decides retries from
//! the error kind. The Open311 API key goes only into the request form, as GeoReport
//! specifies, and never into a URL or a log line.

use pathways_sdk::connector::HttpSettings;
use pathways_sdk::http::{status_error, PartnerHttp};
use pathways_sdk::PartnerError;

use crate::mapping::{Page, PostAnswer, RequestAnswer, Service};
use crate::settings::Settings;

/// The council's two APIs, with the Open311 key and jurisdiction.
#[derive(Clone)]
pub(crate) struct CouncilClient {
    directory: PartnerHttp,
    open311: PartnerHttp,
    api_key: Option<String>,
    jurisdiction_id: Option<String>,
}

impl std::fmt::Debug for CouncilClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The key is a secret: show only whether there is one.
        f.debug_struct("CouncilClient")
            .field("directory", self.directory.base_url())
            .field("open311", self.open311.base_url())
            .field("api_key", &self.api_key.as_ref().map(|_| "[set]"))
            .field("jurisdiction_id", &self.jurisdiction_id)
            .finish()
    }
}

/// One `/services` search: a taxonomy term near a postcode district.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ServiceSearch<'a> {
    pub term: &'a str,
    pub postcode_district: &'a str,
    pub proximity_m: u32,
    pub per_page: u32,
}

impl CouncilClient {
    /// Clients for the URLs in `settings`, with the API key read from the environment.
    pub(crate) fn new(settings: &Settings) -> Result<Self, String> {
        let options =
            settings.http_options(concat!("pathways-council/", env!("CARGO_PKG_VERSION")));
        let key = |name: &str, explicit: bool| {
            if explicit {
                format!("settings key `{name}`")
            } else {
                "settings key `base_url`".to_string()
            }
        };
        let directory = PartnerHttp::new(&settings.directory_base(), &options).map_err(|e| {
            format!("{}: {e}", key("directory_url", settings.directory_url.is_some()))
        })?;
        let open311 = PartnerHttp::new(&settings.open311_base(), &options)
            .map_err(|e| format!("{}: {e}", key("open311_url", settings.open311_url.is_some())))?;
        Ok(Self {
            directory,
            open311,
            api_key: settings.api_key()?,
            jurisdiction_id: settings.jurisdiction_id.clone(),
        })
    }

    /// `GET /services?taxonomy_term_id&postcode&proximity&full=true&page&per_page`.
    pub(crate) async fn services_page(
        &self,
        search: &ServiceSearch<'_>,
        page: u32,
    ) -> Result<Page<Service>, PartnerError> {
        let (proximity, page, per_page) =
            (search.proximity_m.to_string(), page.to_string(), search.per_page.to_string());
        let query = [
            ("taxonomy_term_id", search.term),
            ("postcode", search.postcode_district),
            ("proximity", proximity.as_str()),
            ("full", "true"),
            ("page", page.as_str()),
            ("per_page", per_page.as_str()),
        ];
        self.directory.get_json(&["services"], &query).await
    }

    /// `GET /services/{id}`: one fully nested service.
    pub(crate) async fn service(&self, id: &str) -> Result<Service, PartnerError> {
        self.directory.get_json(&["services", id], &[]).await
    }

    /// `GET /` of the directory: answers, and says it speaks HSDS 3.
    pub(crate) async fn directory_root(&self) -> Result<(), PartnerError> {
        let response = self.directory.send(self.directory.get(&[""])).await?;
        let root: serde_json::Value = response.json()?;
        let version = root.get("version").and_then(|v| v.as_str()).unwrap_or("");
        if !version.starts_with('3') {
            return Err(PartnerError::permanent(format!(
                "the directory at `{}` does not say it speaks HSDS 3 (version `{version}`)",
                response.path
            )));
        }
        Ok(())
    }

    fn jurisdiction(&self) -> Vec<(&'static str, &str)> {
        self.jurisdiction_id.iter().map(|j| ("jurisdiction_id", j.as_str())).collect()
    }

    /// `GET /services.json`: the Open311 endpoint answers.
    pub(crate) async fn open311_services(&self) -> Result<(), PartnerError> {
        let request = self.open311.get(&["services.json"]).query(&self.jurisdiction());
        self.open311.send(request).await.map(|_| ())
    }

    /// `POST /requests.json` with `Idempotency-Key`; a repeat of the key answers with the
    /// request the first POST created. `located` says whether the form carries a location,
    /// for a clearer error when the council wants one.
    pub(crate) async fn post_request(
        &self,
        idempotency_key: &str,
        form: &[(&str, &str)],
        located: bool,
    ) -> Result<(Vec<PostAnswer>, String), PartnerError> {
        let mut fields: Vec<(&str, &str)> = form.to_vec();
        if let Some(key) = &self.api_key {
            fields.push(("api_key", key.as_str()));
        }
        let request = self
            .open311
            .post(&["requests.json"])
            .header("Idempotency-Key", idempotency_key)
            .form(&fields);
        let response = self.open311.send_any_status(request).await?;
        if let Some(mut err) = status_error(response.status, &response.headers, &response.path) {
            if response.status.as_u16() == 400 && !located {
                err.message.push_str(
                    "; if this service is about a property it needs the client's address, which this referral does not carry",
                );
            }
            return Err(err);
        }
        Ok((response.json()?, response.path))
    }

    /// `GET /requests/{id}.json`; also returns the path, for error messages.
    pub(crate) async fn request(
        &self,
        service_request_id: &str,
    ) -> Result<(Vec<RequestAnswer>, String), PartnerError> {
        let file = format!("{service_request_id}.json");
        let request = self.open311.get(&["requests", &file]).query(&self.jurisdiction());
        let response = self.open311.send(request).await?;
        Ok((response.json()?, response.path))
    }
}
