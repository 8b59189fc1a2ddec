//! The OpenAPI 3.1 document, generated from the route table ([`crate::routes::table`]): the
//! router is built from the same table, so the document lists exactly the routes served, with
//! the access each requires.
//!
//! Nothing in it is written by hand beside the code: request and response bodies, query
//! parameters and their constraints are the JSON Schemas of the Rust types the handlers parse
//! and answer (schemars), the domain types' included (pathways-core's `schema` feature); the
//! statuses every route can meet because of the middleware (401 and 403 by its access, 400,
//! 408, 413 and 415 for a body, 404 for an id in the path, 429 when overloaded, 503 past the time
//! limit) are added from what the route is, in one place, [`middleware_statuses`]. The router
//! tests validate every answer they receive against this document, so a handler that answers
//! a status or a shape the document does not declare fails them.

use serde_json::{json, Map, Value};

use crate::routes::{table, Access, RouteSpec};

/// The whole document.
pub fn document() -> Value {
    let mut settings = schemars::generate::SchemaSettings::draft2020_12();
    settings.definitions_path = "/components/schemas".into();
    let mut generator = settings.into_generator();
    let mut paths = Map::new();
    for (spec, _) in table() {
        let operation = operation(&spec, &mut generator);
        let path = paths.entry(spec.path.to_string()).or_insert_with(|| json!({}));
        path[spec.method.as_str().to_ascii_lowercase()] = operation;
    }
    let schemas: Map<String, Value> = generator.take_definitions(true).into_iter().collect();
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "pathways",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Coordinates referrals for people with several needs. Errors are always `{\"error\": {\"code\", \"message\"}}`."
        },
        "paths": paths,
        "components": {
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer",
                           "description": "An API key made with `pathways keys new`."}
            },
            "schemas": schemas,
        }
    })
}

/// The statuses a route can answer through the middleware, whatever its handler does.
pub fn middleware_statuses(spec: &RouteSpec) -> Vec<u16> {
    // 400: any request sending a header that may appear once twice (the gate).
    let mut statuses = vec![400, 429, 503];
    match spec.access {
        Access::Open => {}
        Access::AnyKey => statuses.push(401),
        Access::Roles(_) => statuses.extend([401, 403]),
    }
    if spec.request.is_some() {
        statuses.extend([400, 408, 413, 415]);
    }
    if spec.path.contains('{') || spec.query.is_some() || !spec.headers.is_empty() {
        statuses.push(400);
    }
    if spec.path.contains('{') {
        statuses.push(404);
    }
    statuses
}

fn operation(spec: &RouteSpec, generator: &mut schemars::SchemaGenerator) -> Value {
    let mut statuses: Vec<(u16, Option<Value>)> = spec
        .responses
        .iter()
        .map(|(status, body)| (*status, body.map(|f| f(generator).to_value())))
        .collect();
    let error = crate::routes::schema::<crate::api::ErrorBody>(generator).to_value();
    for status in middleware_statuses(spec) {
        if !statuses.iter().any(|(s, _)| *s == status) {
            statuses.push((status, Some(error.clone())));
        }
    }
    statuses.sort_by_key(|(status, _)| *status);
    let mut responses = Map::new();
    for (status, body) in statuses {
        let mut response = json!({ "description": description(status) });
        if let Some(schema) = body {
            response["content"] = json!({"application/json": {"schema": schema}});
            if spec.csv && (200..300).contains(&status) {
                response["content"]["text/csv"] = json!({"schema": {"type": "string"}});
            }
        }
        if (200..300).contains(&status) && !spec.links.is_empty() {
            let links: Map<String, Value> = spec
                .links
                .iter()
                .map(|l| {
                    let (name, expr) = l.parameter;
                    (
                        l.name.to_string(),
                        json!({"operationId": l.operation_id, "parameters": {name: expr}}),
                    )
                })
                .collect();
            response["links"] = Value::Object(links);
        }
        if status == 429 {
            response["headers"] = json!({"Retry-After": {"schema": {"type": "integer"},
                "description": "Seconds to wait before retrying."}});
        }
        responses.insert(status.to_string(), response);
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
    let parameters = parameters(spec, generator);
    if !parameters.is_empty() {
        operation["parameters"] = Value::Array(parameters);
    }
    if let Some(body) = spec.request {
        let mut content = json!({"schema": body(generator).to_value()});
        if let Some(example) =
            spec.example.and_then(|text| serde_json::from_str::<Value>(text).ok())
        {
            content["example"] = example;
        }
        operation["requestBody"] = json!({
            "required": true,
            "content": {"application/json": content}
        });
    }
    operation
}

/// Path parameters (ids), query parameters (each property of the query type) and headers.
fn parameters(spec: &RouteSpec, generator: &mut schemars::SchemaGenerator) -> Vec<Value> {
    let mut parameters = Vec::new();
    if spec.path.contains("{id}") {
        parameters.push(json!({
            "name": "id", "in": "path", "required": true,
            "schema": {"type": "string", "pattern": "^[0-9a-f]{32}$"}
        }));
    }
    if spec.path.contains("{partner_id}") {
        parameters.push(json!({
            "name": "partner_id", "in": "path", "required": true,
            "schema": {"type": "string", "pattern": "^[a-z0-9][a-z0-9_-]*$"}
        }));
    }
    if let Some(query) = spec.query {
        // The query type is a struct: inline it (no $ref) to read its properties.
        let schema = query(generator).to_value();
        let schema = resolve(&schema, generator);
        let required: Vec<&str> = schema["required"]
            .as_array()
            .map(|r| r.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        if let Some(properties) = schema["properties"].as_object() {
            for (name, property) in properties {
                let mut param = json!({
                    "name": name, "in": "query", "required": required.contains(&name.as_str()),
                    "schema": without_null(property),
                });
                if let Some(text) = property.get("description") {
                    param["description"] = text.clone();
                }
                parameters.push(param);
            }
        }
    }
    for header in spec.headers {
        parameters.push(json!({
            "name": header.name, "in": "header", "required": header.required,
            "description": header.description,
            "schema": {"type": "string", "minLength": 1, "maxLength": header.max_length,
                       "pattern": header.pattern}
        }));
    }
    parameters
}

/// A `$ref` to a component, replaced by the component itself.
fn resolve(schema: &Value, generator: &mut schemars::SchemaGenerator) -> Value {
    let Some(reference) = schema.get("$ref").and_then(Value::as_str) else {
        return schema.clone();
    };
    let name = reference.rsplit('/').next().unwrap_or_default();
    generator.definitions().get(name).cloned().unwrap_or(Value::Null)
}

/// A query parameter is absent rather than `null`: drop `null` from its types.
fn without_null(property: &Value) -> Value {
    let mut property = property.clone();
    if let Some(types) = property.get("type").and_then(Value::as_array) {
        let kept: Vec<Value> =
            types.iter().filter(|t| t.as_str() != Some("null")).cloned().collect();
        property["type"] = if kept.len() == 1 { kept[0].clone() } else { Value::Array(kept) };
    }
    property
}

fn description(status: u16) -> &'static str {
    match status {
        200 => "OK",
        201 => "Created",
        202 => "Accepted for dispatch",
        400 => "Malformed or invalid request; the message names the field",
        401 => "Missing or unknown API key (or, for a partner event, a bad signature)",
        403 => "The key's role may not do this",
        404 => "Not found (also for a case the caller may not see)",
        408 => "The body did not arrive in time (`server.body_read_timeout_ms`)",
        409 => "Conflict: an Idempotency-Key in flight, no plan yet, a step already referred, a legal hold, or a replayed event",
        413 => "Body too large",
        415 => "Body is not JSON: send `Content-Type: application/json`",
        422 => "Refused: a step not covered by consent, an Idempotency-Key reused for another body, or an unsupported event",
        429 => "Too many requests in flight; retry after the `Retry-After` seconds",
        503 => "Not ready, a dependency is unavailable, or the request took too long",
        _ => "See the error",
    }
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
        for field in ["order", "need_id", "need", "urgency", "due_by", "safety", "why"] {
            assert!(step["properties"].get(field).is_some(), "PlanStep lacks `{field}`: {step}");
        }
        // Each kind of entry is one branch, tagged by `action`, with exactly its fields.
        let kinds: Vec<&str> = step["oneOf"]
            .as_array()
            .expect("PlanStep is a tagged union")
            .iter()
            .filter_map(|k| k["properties"]["action"]["const"].as_str())
            .collect();
        assert_eq!(
            kinds,
            ["refer", "signpost", "self_help", "in_house", "declined", "blocked", "unmet"]
        );
        // Every $ref in the document resolves to a component.
        let text = doc.to_string();
        for part in text.split("\"#/components/schemas/").skip(1) {
            let name = &part[..part.find('"').unwrap()];
            assert!(schemas.get(name).is_some(), "dangling $ref to `{name}`");
        }
    }
}
