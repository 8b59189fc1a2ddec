//! The OpenAPI 3.1 document, generated from the route table ([`crate::routes::table`]) so that
//! it lists exactly the routes the router serves, with the access each requires.
//!
//! The schemas of the domain bodies (`Case`, `ActionPlan` and everything they contain) are
//! derived from the core types themselves (pathways-core's `schema` feature, schemars), so the
//! document says exactly what the server parses and returns; the API's own envelopes are
//! written here.

use pathways_core::NeedCode;
use serde_json::{json, Map, Value};

use crate::routes::{table, Access};

/// The whole document.
pub fn document() -> Value {
    let mut paths = Map::new();
    for (spec, _) in table() {
        let mut responses = Map::new();
        for (status, schema) in spec.responses {
            let body = match schema {
                Some(name) => json!({
                    "description": description(*status),
                    "content": {"application/json": {"schema": {"$ref": format!("#/components/schemas/{name}")}}}
                }),
                None => json!({ "description": description(*status) }),
            };
            responses.insert(status.to_string(), body);
        }
        let mut operation = json!({
            "operationId": spec.operation_id,
            "summary": spec.summary,
            "responses": responses,
        });
        match spec.access {
            Access::Open => operation["security"] = json!([]),
            Access::AnyKey => operation["security"] = json!([{"bearer": []}]),
            Access::Roles(roles) => {
                operation["security"] = json!([{"bearer": []}]);
                let names: Vec<&str> = roles.iter().map(|r| r.as_str()).collect();
                operation["x-roles"] = json!(names);
            }
        }
        if spec.path.contains("{id}") {
            operation["parameters"] = json!([{
                "name": "id", "in": "path", "required": true,
                "schema": {"type": "string", "pattern": "^[0-9a-f]{32}$"}
            }]);
        }
        if spec.path.contains("{partner_id}") {
            operation["parameters"] = json!([{
                "name": "partner_id", "in": "path", "required": true,
                "schema": {"type": "string"}
            }]);
        }
        if spec.path == "/v1/audit" {
            operation["parameters"] = json!([
                {"name": "case", "in": "query", "required": false, "schema": {"type": "string", "pattern": "^[0-9a-f]{32}$"}},
                {"name": "from", "in": "query", "required": false, "schema": {"type": "string", "format": "date-time"}},
                {"name": "to", "in": "query", "required": false, "schema": {"type": "string", "format": "date-time"}},
                {"name": "after", "in": "query", "required": false, "schema": {"type": "integer"}},
                {"name": "limit", "in": "query", "required": false, "schema": {"type": "integer", "minimum": 1, "maximum": 1000}}
            ]);
        }
        if spec.path.starts_with("/v1/reports/") {
            operation["parameters"] = json!([
                {"name": "from", "in": "query", "required": false, "schema": {"type": "string", "format": "date-time"}},
                {"name": "to", "in": "query", "required": false, "schema": {"type": "string", "format": "date-time"}}
            ]);
        }
        if let Some(schema) = spec.request {
            operation["requestBody"] = json!({
                "required": true,
                "content": {"application/json": {"schema": {"$ref": format!("#/components/schemas/{schema}")}}}
            });
        }
        let path = paths.entry(spec.path.to_string()).or_insert_with(|| json!({}));
        path[spec.method.as_str().to_ascii_lowercase()] = operation;
    }
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "pathways",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Coordinates referrals for people with several needs. Errors are always `{\"error\": {\"code\", \"message\"}}`."
        },
        "paths": paths,
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": component_schemas(),
        }
    })
}

fn description(status: u16) -> &'static str {
    match status {
        200 => "OK",
        201 => "Created",
        202 => "Accepted for dispatch",
        400 => "Malformed or invalid request; the message names the field",
        401 => "Missing or unknown API key",
        403 => "The key's role may not do this",
        404 => "Not found (also for a case the caller may not see)",
        409 => "Conflict: the same Idempotency-Key is in flight, the case has no plan, a step already has a live referral, or a legal hold stands",
        422 => "Refused: a step is not covered by consent, or the Idempotency-Key was reused",
        413 => "Body too large",
        415 => "Body is not JSON",
        429 => "Too many requests in flight",
        503 => "Not ready or a dependency is unavailable",
        _ => "See the error",
    }
}

/// The hand-written envelopes, then every schema derived from the core types (which win).
fn component_schemas() -> Value {
    let mut all = match schemas() {
        Value::Object(map) => map,
        _ => Map::new(),
    };
    all.extend(derived_schemas());
    Value::Object(all)
}

/// Schemas of the core wire types, with `$ref`s pointing into `components/schemas`.
fn derived_schemas() -> Map<String, Value> {
    let mut settings = schemars::generate::SchemaSettings::draft2020_12();
    settings.definitions_path = "/components/schemas".into();
    let mut generator = settings.into_generator();
    // Asking for each body type registers it, and every type it uses, as a definition.
    let _ = generator.subschema_for::<pathways_core::Case>();
    let _ = generator.subschema_for::<pathways_core::ActionPlan>();
    let _ = generator.subschema_for::<pathways_core::NeedCode>();
    generator.take_definitions(true)
}

fn schemas() -> Value {
    let needs: Vec<Value> =
        NeedCode::ALL.iter().filter_map(|n| serde_json::to_value(n).ok()).collect();
    let object = |required: &[&str], properties: Value| json!({"type": "object", "required": required, "properties": properties});
    json!({
        "Error": object(&["error"], json!({
            "error": object(&["code", "message"], json!({
                "code": {"type": "string"}, "message": {"type": "string"}
            }))
        })),
        "Status": {"type": "object", "properties": {"status": {"type": "string"}}},
        "NeedCode": {"type": "string", "enum": needs},
        "Case": {
            "type": "object",
            "additionalProperties": false,
            "description": "A case (CONTRACT.md, \"A case\"); unknown fields and codes are rejected.",
            "required": ["reference", "channel", "referrer", "client", "needs", "consent"],
            "properties": {
                "reference": {"type": "string"},
                "channel": {"type": "string", "enum": ["phone", "outreach", "email", "web", "walk_in", "referral"]},
                "referrer": {"type": "object"},
                "client": {"type": "object"},
                "needs": {"type": "array", "minItems": 1, "items": object(&["code", "urgency"], json!({
                    "code": {"$ref": "#/components/schemas/NeedCode"},
                    "urgency": {"type": "string", "enum": ["emergency", "urgent", "soon", "routine"]},
                    "notes": {"type": "string"}
                }))},
                "circumstances": {"type": "array", "items": {"type": "string"}},
                "consent": {"type": "object"}
            }
        },
        "CaseCreated": object(&["id", "organisation"], json!({
            "id": {"type": "string"}, "organisation": {"type": "string"}
        })),
        "CaseView": {"oneOf": [{"$ref": "#/components/schemas/OwnerCaseView"}, {"$ref": "#/components/schemas/PartnerCaseView"}],
            "discriminator": {"propertyName": "view"}},
        "OwnerCaseView": object(&["view", "id", "organisation", "created_at", "case", "referrals"], json!({
            "view": {"const": "owner"},
            "id": {"type": "string"}, "organisation": {"type": "string"},
            "created_at": {"type": "string", "format": "date-time"},
            "case": {"$ref": "#/components/schemas/Case"},
            "legal_hold": object(&["reason", "set_by", "set_at"], json!({
                "reason": {"type": "string"}, "set_by": {"type": "string"}, "set_at": {"type": "string", "format": "date-time"}
            })),
            "referrals": {"type": "array", "items": object(&["id", "partner_id", "needs", "state", "href"], json!({
                "id": {"type": "string"}, "partner_id": {"type": "string"},
                "needs": {"type": "array", "items": {"$ref": "#/components/schemas/NeedCode"}},
                "state": {"type": "string"}, "state_changed_at": {"type": "string", "format": "date-time"},
                "href": {"type": "string"}
            }))}
        })),
        "PartnerCaseView": object(&["view", "id", "referrals"], json!({
            "view": {"const": "partner"}, "id": {"type": "string"},
            "referrals": {"type": "array", "items": {"$ref": "#/components/schemas/PartnerReferralView"}}
        })),
        "PartnerReferralView": object(&["view", "id", "case_id", "partner_id", "needs", "state", "sent_at", "sent"], json!({
            "view": {"const": "partner"},
            "id": {"type": "string"}, "case_id": {"type": "string"}, "partner_id": {"type": "string"},
            "needs": {"type": "array", "items": {"$ref": "#/components/schemas/NeedCode"}},
            "state": {"type": "string"}, "reason": {"type": ["string", "null"]},
            "state_changed_at": {"type": "string", "format": "date-time"},
            "sent_at": {"type": "string", "format": "date-time"},
            "partner_reference": {"type": ["string", "null"]},
            "sent": {"type": "object", "description": "The referral exactly as sent: the client minimised to the partner's declared fields."}
        })),
        "ReferralView": {"oneOf": [{"$ref": "#/components/schemas/Referral"}, {"$ref": "#/components/schemas/PartnerReferralView"}],
            "discriminator": {"propertyName": "view"}},
        "ErasureRequest": {"type": "object", "additionalProperties": false, "required": ["reason"],
            "properties": {"reason": {"type": "string", "enum": ["client_request", "entered_in_error", "retention_expired", "other"]}}},
        "Erased": object(&["id", "erased", "reason", "referrals_erased", "queued_referrals_cancelled", "plans_removed"], json!({
            "id": {"type": "string"}, "erased": {"type": "boolean"}, "reason": {"type": "string"},
            "referrals_erased": {"type": "integer"}, "queued_referrals_cancelled": {"type": "integer"},
            "plans_removed": {"type": "integer"}
        })),
        "HoldRequest": {"type": "object", "additionalProperties": false, "required": ["reason"],
            "properties": {"reason": {"type": "string", "minLength": 1, "maxLength": 500}}},
        "LegalHoldSet": object(&["id", "legal_hold"], json!({"id": {"type": "string"}, "legal_hold": {"type": "boolean"}})),
        "SubjectAccessExport": object(&["exported_at", "case", "plans", "referrals"], json!({
            "exported_at": {"type": "string", "format": "date-time"},
            "case": {"$ref": "#/components/schemas/OwnerCaseView"},
            "plans": {"type": "array", "items": object(&["created_at", "plan"], json!({
                "created_at": {"type": "string", "format": "date-time"}, "plan": {"$ref": "#/components/schemas/ActionPlan"}
            }))},
            "referrals": {"type": "array", "items": {"type": "object"}}
        })),
        "AuditPage": object(&["entries", "next_after"], json!({
            "entries": {"type": "array", "items": object(&["seq", "entry"], json!({
                "seq": {"type": "integer"},
                "entry": object(&["at", "key_id", "organisation", "action", "outcome"], json!({
                    "at": {"type": "string", "format": "date-time"}, "key_id": {"type": "string"},
                    "organisation": {"type": "string"}, "action": {"type": "string"},
                    "case_id": {"type": ["string", "null"]}, "referral_id": {"type": ["string", "null"]},
                    "outcome": {"type": "string"}
                }))
            }))},
            "next_after": {"type": ["integer", "null"]}
        })),
        "ActionPlan": object(&["case_id", "lead", "steps", "unmet", "partners", "generated_at"], json!({
            "case_id": {"type": "string"},
            "lead": object(&["partner_id", "why"], json!({"partner_id": {"type": "string"}, "why": {"type": "string"}})),
            "steps": {"type": "array", "items": {"type": "object"}},
            "unmet": {"type": "array", "items": {"type": "object"}},
            "partners": {"type": "array", "items": object(&["partner_id", "outcome", "latency_ms"], json!({
                "partner_id": {"type": "string"},
                "outcome": {"type": "string", "enum": ["answered", "timed_out", "failed", "circuit_open", "skipped"]},
                "latency_ms": {"type": "integer"}
            }))},
            "generated_at": {"type": "string", "format": "date-time"}
        })),
        "ReferralRequest": {"type": "object", "additionalProperties": false,
            "description": "Which plan steps to refer; `{}` refers every `refer` step.",
            "properties": {
                "steps": {"type": "array", "items": {"type": "integer", "minimum": 1}},
                "needs": {"type": "array", "items": {"$ref": "#/components/schemas/NeedCode"}}
            }},
        "ReferralsAccepted": object(&["case_id", "referrals"], json!({
            "case_id": {"type": "string"},
            "referrals": {"type": "array", "items": object(&["id", "step", "need", "partner_id", "state", "href"], json!({
                "id": {"type": "string"}, "step": {"type": "integer"},
                "need": {"$ref": "#/components/schemas/NeedCode"}, "partner_id": {"type": "string"},
                "state": {"type": "string"}, "href": {"type": "string"}
            }))}
        })),
        "Referral": object(&["view", "id", "case_id", "partner_id", "needs", "state", "needs_chasing", "history", "dispatch"], json!({
            "view": {"const": "owner"},
            "id": {"type": "string"}, "case_id": {"type": "string"}, "partner_id": {"type": "string"},
            "needs": {"type": "array", "items": {"$ref": "#/components/schemas/NeedCode"}},
            "state": {"type": "string"}, "reason": {"type": ["string", "null"]},
            "state_changed_at": {"type": "string", "format": "date-time"},
            "partner_reference": {"type": ["string", "null"]},
            "created_at": {"type": "string", "format": "date-time"},
            "sent_at": {"type": ["string", "null"], "format": "date-time"},
            "needs_chasing": {"type": "boolean"},
            "history": {"type": "array", "items": {"type": "object"}},
            "dispatch": {"type": "object"}
        })),
        "PartnerEvent": object(&["type", "data"], json!({
            "type": {"type": "string", "enum": ["referral.status_changed"]},
            "data": object(&["partner_reference", "state", "occurred_at"], json!({
                "partner_reference": {"type": "string"}, "state": {"type": "string"},
                "reason": {"type": ["string", "null"]}, "note": {"type": ["string", "null"]},
                "occurred_at": {"type": "string", "format": "date-time"}
            }))
        })),
        "PathwayReport": object(&["from", "to", "pathways"], json!({
            "from": {"type": "string", "format": "date-time"}, "to": {"type": "string", "format": "date-time"},
            "pathways": {"type": "array", "items": {"type": "object"}}
        })),
        "PartnerList": object(&["partners"], json!({"partners": {"type": "array", "items": {"type": "object"}}})),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn case_and_plan_schemas_are_derived_from_the_core_types() {
        let doc = document();
        let schemas = &doc["components"]["schemas"];
        let case = &schemas["Case"];
        assert_eq!(case["additionalProperties"], false, "unknown fields are refused: {case}");
        for field in
            ["reference", "channel", "referrer", "client", "needs", "circumstances", "consent"]
        {
            assert!(case["properties"].get(field).is_some(), "Case lacks `{field}`: {case}");
        }
        let client = &schemas["Client"];
        for field in ["name", "date_of_birth", "postcode", "safe_contact", "household"] {
            assert!(client["properties"].get(field).is_some(), "Client lacks `{field}`: {client}");
        }
        let step = &schemas["PlanStep"];
        for field in
            ["order", "need", "action", "due_by", "why", "shares", "needs_consent", "fallbacks"]
        {
            assert!(step["properties"].get(field).is_some(), "PlanStep lacks `{field}`: {step}");
        }
        // Every $ref in the document resolves to a component.
        let text = doc.to_string();
        for part in text.split("\"#/components/schemas/").skip(1) {
            let name = &part[..part.find('"').unwrap()];
            assert!(schemas.get(name).is_some(), "dangling $ref to `{name}`");
        }
    }
}
