//! FHIR search on the simulator's resources: parsing the parameters each search supports and
//! choosing what matches.
//!
//! Parameters follow FHIR R4 search syntax: a token is `system|code` or `code` (any system),
//! a comma means OR, a repeated parameter means AND. The simulator is strict where a real
//! server may be lenient (`Prefer: handling=strict`): an unknown parameter is a 400 naming it,
//! so a connector that misspells one finds out.

use super::data::{ServiceSeed, SERVICES};
use super::headers::DOS_SERVICE_ID;
use super::outcome::Problem;
use super::resources::{ONS_GEOGRAPHY, SERVICE_CATEGORY};

/// Search parameters as given, in order.
pub(crate) type Params = [(String, String)];

/// A token value: `(system, code)`; `None` system matches any.
fn token(value: &str) -> (Option<&str>, &str) {
    match value.split_once('|') {
        Some((system, code)) => (Some(system), code),
        None => (None, value),
    }
}

/// Whether any comma-separated token in `value` matches `(system, code)`.
fn any_token(value: &str, system: &str, code: &str) -> bool {
    value.split(',').map(token).any(|(s, c)| c == code && s.is_none_or(|s| s == system))
}

fn unknown(name: &str, allowed: &str) -> Problem {
    Problem::bad_request(
        "not-supported",
        format!("unknown search parameter `{name}`; this server supports {allowed}"),
    )
}

/// `_count`: how many matches to return at most.
fn count(value: &str) -> Result<usize, Problem> {
    value
        .parse::<usize>()
        .ok()
        .filter(|n| *n > 0)
        .ok_or_else(|| Problem::bad_request("value", "`_count` must be a positive whole number"))
}

/// `GET /HealthcareService?...`: the services matching `params`, in directory order.
pub(crate) fn healthcare_services(params: &Params) -> Result<Vec<&'static ServiceSeed>, Problem> {
    let mut found: Vec<&'static ServiceSeed> = SERVICES.iter().collect();
    let mut limit = usize::MAX;
    for (name, value) in params {
        match name.as_str() {
            "active" => {
                let active = match value.as_str() {
                    "true" => true,
                    "false" => false,
                    _ => {
                        return Err(Problem::bad_request("value", "`active` must be true or false"))
                    }
                };
                found.retain(|s| s.active == active);
            }
            "service-category" => found.retain(|s| {
                s.categories.iter().any(|(code, _)| any_token(value, SERVICE_CATEGORY, code))
            }),
            "coverage-area:identifier" => found.retain(|s| any_token(value, ONS_GEOGRAPHY, s.area)),
            "identifier" => found.retain(|s| any_token(value, DOS_SERVICE_ID, s.dos_id)),
            "_id" => found.retain(|s| value.split(',').any(|id| id == s.id)),
            "_count" => limit = count(value)?,
            // Read by `includes_locations`.
            "_include" => {}
            other => {
                return Err(unknown(
                    other,
                    "active, service-category, coverage-area:identifier, identifier, _id, _count, _include",
                ))
            }
        }
    }
    found.truncate(limit);
    Ok(found)
}

/// Whether `GET /HealthcareService` asks for the services' Locations
/// (`_include=HealthcareService:location`); any other `_include` is refused.
pub(crate) fn includes_locations(params: &Params) -> Result<bool, Problem> {
    let mut include = false;
    for (_, value) in params.iter().filter(|(name, _)| name == "_include") {
        if value != "HealthcareService:location" {
            return Err(Problem::bad_request(
                "not-supported",
                "only `_include=HealthcareService:location` is supported",
            ));
        }
        include = true;
    }
    Ok(include)
}

/// `GET /Task?focus=ServiceRequest/{id}`: the ServiceRequest ids asked about.
pub(crate) fn task_focus(params: &Params) -> Result<Vec<String>, Problem> {
    let mut focus = Vec::new();
    for (name, value) in params {
        match name.as_str() {
            "focus" => focus.extend(
                value
                    .split(',')
                    .map(|r| r.strip_prefix("ServiceRequest/").unwrap_or(r).to_string()),
            ),
            other => return Err(unknown(other, "focus")),
        }
    }
    if focus.is_empty() {
        return Err(Problem::bad_request("required", "give `focus=ServiceRequest/{id}`"));
    }
    Ok(focus)
}

/// What `GET /ServiceRequest?identifier=...` asks for.
#[derive(Debug, Default)]
pub(crate) struct ServiceRequestSearch {
    /// `(system, value)` tokens, any of which may match.
    pub identifiers: Vec<(Option<String>, String)>,
    /// `_revinclude=Task:focus`: add the Tasks that focus on each match.
    pub include_tasks: bool,
}

/// Parses `GET /ServiceRequest?identifier=...[&_revinclude=Task:focus]`.
pub(crate) fn service_requests(params: &Params) -> Result<ServiceRequestSearch, Problem> {
    let mut search = ServiceRequestSearch::default();
    for (name, value) in params {
        match name.as_str() {
            "identifier" => search.identifiers.extend(
                value.split(',').map(token).map(|(s, v)| (s.map(str::to_string), v.to_string())),
            ),
            "_revinclude" if value == "Task:focus" => search.include_tasks = true,
            "_revinclude" => {
                return Err(Problem::bad_request(
                    "not-supported",
                    "only `_revinclude=Task:focus` is supported",
                ))
            }
            other => return Err(unknown(other, "identifier, _revinclude")),
        }
    }
    if search.identifiers.is_empty() {
        return Err(Problem::bad_request("required", "give `identifier=system|value`"));
    }
    Ok(search)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    fn ids(found: &[&ServiceSeed]) -> Vec<&'static str> {
        found.iter().map(|s| s.id).collect()
    }

    #[test]
    fn category_and_area_tokens_filter_and_commas_mean_or() {
        let area = format!("{ONS_GEOGRAPHY}|E06000051");
        let mental = format!("{SERVICE_CATEGORY}|22");
        let found = healthcare_services(&params(&[
            ("active", "true"),
            ("coverage-area:identifier", &area),
            ("service-category", &format!("{mental},12")),
        ]))
        .unwrap();
        assert_eq!(ids(&found), ["talking-therapies-shropshire", "drug-alcohol-shropshire"]);
        let other_system =
            healthcare_services(&params(&[("service-category", "urn:x|22")])).unwrap();
        assert!(other_system.is_empty());
    }

    #[test]
    fn inactive_services_are_found_only_when_asked() {
        let all =
            healthcare_services(&params(&[("coverage-area:identifier", "E09000020")])).unwrap();
        assert!(ids(&all).contains(&"wellbeing-cafe-kc"));
        let active = healthcare_services(&params(&[
            ("coverage-area:identifier", "E09000020"),
            ("active", "true"),
        ]))
        .unwrap();
        assert!(!ids(&active).contains(&"wellbeing-cafe-kc"));
    }

    #[test]
    fn unknown_parameters_and_bad_values_are_refused_by_name() {
        let err = healthcare_services(&params(&[("area", "E09000020")])).unwrap_err();
        assert!(err.diagnostics.contains("`area`"), "{}", err.diagnostics);
        assert!(healthcare_services(&params(&[("_count", "0")])).is_err());
        assert!(healthcare_services(&params(&[("active", "yes")])).is_err());
        assert_eq!(healthcare_services(&params(&[("_count", "2")])).unwrap().len(), 2);
        assert!(task_focus(&params(&[])).is_err());
        assert_eq!(task_focus(&params(&[("focus", "ServiceRequest/x")])).unwrap(), ["x"]);
        assert!(service_requests(&params(&[("identifier", "a|b"), ("_revinclude", "Task:owner")]))
            .is_err());
    }
}
