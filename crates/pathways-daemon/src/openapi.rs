//! The OpenAPI 3.1 document, generated from the route table ([`crate::routes::table`]) so that
//! it lists exactly the routes the router serves, with the access each requires.
//!
//! Component schemas are written here rather than derived, so the core types gain no
//! dependency; enumerations (need codes) are taken from the core types themselves.

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
            "schemas": schemas(),
        }
    })
}

fn description(status: u16) -> &'static str {
    match status {
        200 => "OK",
        201 => "Created",
        400 => "Malformed or invalid request; the message names the field",
        401 => "Missing or unknown API key",
        403 => "The key's role may not do this",
        404 => "Not found (also for a case the caller may not see)",
        413 => "Body too large",
        415 => "Body is not JSON",
        429 => "Too many requests in flight",
        503 => "Not ready or a dependency is unavailable",
        _ => "See the error",
    }
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
        "StoredCase": object(&["id", "organisation", "created_at", "case"], json!({
            "id": {"type": "string"}, "organisation": {"type": "string"},
            "created_at": {"type": "string", "format": "date-time"},
            "case": {"$ref": "#/components/schemas/Case"}
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
        "PartnerList": object(&["partners"], json!({"partners": {"type": "array", "items": {"type": "object"}}})),
    })
}
