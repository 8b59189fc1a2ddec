//! A small JSON Schema validator for the keywords the published HSDS schemas use, and the
//! contract tests built on it: the published examples pass, broken documents fail, and every
//! HSDS answer of the council simulator (Pages and services) validates.
//!
//! Why not the `jsonschema` crate: with default features off it still adds about 35 crates to
//! the workspace (about 55 CPU-seconds of build on the 2-core machine this project is built
//! on, 86 s wall for a clean build with its dependencies), for a test that needs seven
//! keywords. The validator below supports `type`, `required`, `properties`, `items`, `enum`,
//! `allOf` and `$ref` (by file name, as the HSDS files refer to each other), treats `format`
//! and the HSDS annotations (`name`, `constraints`, `example`, ...) as annotations, and fails
//! loudly on any other keyword, so it can never pass a document by ignoring an assertion.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde_json::Value;

/// Keywords that annotate and never assert.
const ANNOTATIONS: &[&str] = &[
    "name",
    "title",
    "description",
    "format",
    "constraints",
    "example",
    "core",
    "path",
    "datapackage_metadata",
    "datapackage_type",
    "tabular_required",
    "$id",
    "$schema",
];

/// Guards against a reference cycle in a schema set.
const MAX_DEPTH: usize = 64;

/// The HSDS schema files, by file name, and the OpenAPI document.
pub(super) struct Schemas {
    files: HashMap<String, Value>,
    openapi: Value,
}

fn standards_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("standards/hsds")
}

/// A copied published document, e.g. `examples/service_full.json`.
pub(super) fn published(relative: &str) -> Value {
    let path = standards_dir().join(relative);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

impl Schemas {
    /// Loads `schema/` (HSDS 3.0) and `schema-3.1/` (the capacity additions) together.
    pub(super) fn load() -> Self {
        let mut files = HashMap::new();
        for folder in ["schema", "schema-3.1"] {
            let dir = standards_dir().join(folder);
            for entry in
                std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            {
                let path = entry.unwrap().path();
                let name = path.file_name().unwrap().to_string_lossy().to_string();
                if path.extension().is_some_and(|e| e == "json") && name != "openapi.json" {
                    files.insert(name.clone(), published(&format!("{folder}/{name}")));
                }
            }
        }
        Schemas { files, openapi: published("schema/openapi.json") }
    }

    /// Problems with `value` against the schema file `file`; empty when it is valid.
    pub(super) fn validate(&self, file: &str, value: &Value) -> Vec<String> {
        let mut errors = Vec::new();
        self.check(&Value::String(file.to_string()), value, "", &mut errors, 0, true);
        errors
    }

    /// Problems with a Page whose `contents` items should follow the schema file `item`: the
    /// OpenAPI `Page` schema, every Page field present, and each item against `item`. (The
    /// OpenAPI points `contents` at a remote compiled file; the local schema stands in for it.)
    pub(super) fn validate_page(&self, item: &str, page: &Value) -> Vec<String> {
        let mut errors = Vec::new();
        let schema = &self.openapi["components"]["schemas"]["Page"];
        self.check(schema, page, "", &mut errors, 0, false);
        for field in [
            "total_items",
            "total_pages",
            "page_number",
            "size",
            "first_page",
            "last_page",
            "empty",
        ] {
            if page.get(field).is_none() {
                errors.push(format!("/{field}: missing Page field"));
            }
        }
        match page.get("contents").and_then(Value::as_array) {
            None => errors.push("/contents: missing or not an array".into()),
            Some(items) => {
                for (i, entry) in items.iter().enumerate() {
                    for e in self.validate(item, entry) {
                        errors.push(format!("/contents/{i}{e}"));
                    }
                }
            }
        }
        errors
    }

    /// The response schema the OpenAPI document gives for `GET {path}`.
    pub(super) fn openapi_response(&self, path: &str) -> &Value {
        &self.openapi["paths"][path]["get"]["responses"]["200"]["content"]["application/json"]
            ["schema"]
    }

    /// Problems with `value` against an inline `schema`.
    pub(super) fn validate_inline(&self, schema: &Value, value: &Value) -> Vec<String> {
        let mut errors = Vec::new();
        self.check(schema, value, "", &mut errors, 0, false);
        errors
    }

    /// Checks `value` at `at` against `schema`; `by_name` means `schema` is a file name.
    fn check(
        &self,
        schema: &Value,
        value: &Value,
        at: &str,
        errors: &mut Vec<String>,
        depth: usize,
        by_name: bool,
    ) {
        if depth > MAX_DEPTH {
            errors.push(format!("{at}: schema references nest too deeply"));
            return;
        }
        let schema = if by_name {
            let name = schema.as_str().unwrap_or_default();
            match self.files.get(name) {
                Some(file) => file,
                None => return errors.push(format!("{at}: unresolved $ref `{name}`")),
            }
        } else {
            schema
        };
        let Some(keywords) = schema.as_object() else {
            return errors.push(format!("{at}: a schema must be an object"));
        };
        for (keyword, argument) in keywords {
            match keyword.as_str() {
                "$ref" => self.check(argument, value, at, errors, depth + 1, true),
                "allOf" => {
                    for part in argument.as_array().into_iter().flatten() {
                        self.check(part, value, at, errors, depth + 1, false);
                    }
                }
                "type" => {
                    let allowed: Vec<&str> = match argument {
                        Value::String(t) => vec![t.as_str()],
                        Value::Array(ts) => ts.iter().filter_map(Value::as_str).collect(),
                        _ => vec![],
                    };
                    if !allowed.iter().any(|t| has_type(value, t)) {
                        errors.push(format!(
                            "{at}: expected {}, found {}",
                            allowed.join(" or "),
                            kind(value)
                        ));
                    }
                }
                "enum" => {
                    if !argument.as_array().is_some_and(|options| options.contains(value)) {
                        errors.push(format!("{at}: not one of the allowed values {argument}"));
                    }
                }
                "required" => {
                    if let Some(object) = value.as_object() {
                        for name in
                            argument.as_array().into_iter().flatten().filter_map(Value::as_str)
                        {
                            if !object.contains_key(name) {
                                errors.push(format!("{at}: missing required `{name}`"));
                            }
                        }
                    }
                }
                "properties" => {
                    if let (Some(object), Some(properties)) =
                        (value.as_object(), argument.as_object())
                    {
                        for (name, sub) in properties {
                            if let Some(field) = object.get(name) {
                                self.check(
                                    sub,
                                    field,
                                    &format!("{at}/{name}"),
                                    errors,
                                    depth + 1,
                                    false,
                                );
                            }
                        }
                    }
                }
                "items" => {
                    for (i, item) in value.as_array().into_iter().flatten().enumerate() {
                        self.check(argument, item, &format!("{at}/{i}"), errors, depth + 1, false);
                    }
                }
                other if ANNOTATIONS.contains(&other) => {}
                other => errors.push(format!("{at}: the validator does not support `{other}`")),
            }
        }
    }
}

fn has_type(value: &Value, wanted: &str) -> bool {
    match wanted {
        "object" => value.is_object(),
        "array" => value.is_array(),
        "string" => value.is_string(),
        "boolean" => value.is_boolean(),
        "null" => value.is_null(),
        "number" => value.is_number(),
        "integer" => {
            value.is_i64() || value.is_u64() || value.as_f64().is_some_and(|f| f.fract() == 0.0)
        }
        _ => false,
    }
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

#[test]
fn the_published_examples_validate() {
    let schemas = Schemas::load();
    let none: Vec<String> = Vec::new();
    assert_eq!(schemas.validate("service.json", &published("examples/service_full.json")), none);
    assert_eq!(schemas.validate("location.json", &published("examples/location.json")), none);
    for (example, item) in [
        ("examples/service_list.json", "service.json"),
        ("examples/taxonomy_term_list.json", "taxonomy_term.json"),
        ("examples/organization_list.json", "organization.json"),
        ("examples/service_at_location_list.json", "service_at_location.json"),
    ] {
        assert_eq!(schemas.validate_page(item, &published(example)), none, "{example}");
    }
}

#[test]
fn broken_documents_are_caught_with_their_path() {
    let schemas = Schemas::load();
    let mut service = published("examples/service_full.json");
    service.as_object_mut().unwrap().remove("name");
    service["status"] = "open".into();
    service["minimum_age"] = "12".into();
    service["attributes"][0]["taxonomy_term"]["name"] = 7.into();
    let errors = schemas.validate("service.json", &service).join("\n");
    for expected in [
        ": missing required `name`",
        "/status: not one of the allowed values",
        "/minimum_age: expected number, found string",
        "/attributes/0/taxonomy_term/name: expected string, found number",
    ] {
        assert!(errors.contains(expected), "`{expected}` not in:\n{errors}");
    }
    let capacity = serde_json::json!({"id": "x", "unit": {"id": "u"}, "available": "3"});
    let errors = schemas.validate("service_capacity.json", &capacity).join("\n");
    assert!(errors.contains("missing required `updated`"), "{errors}");
    assert!(errors.contains("/unit: missing required `name`"), "{errors}");
    assert!(errors.contains("/available: expected number"), "{errors}");
    let page = serde_json::json!({"total_items": 1.5, "contents": [{}]});
    let errors = schemas.validate_page("service.json", &page).join("\n");
    assert!(errors.contains("/total_items: expected integer"), "{errors}");
    assert!(errors.contains("/last_page: missing Page field"), "{errors}");
    assert!(errors.contains("/contents/0: missing required `id`"), "{errors}");
    let unsupported = serde_json::json!({"minimum": 3});
    assert!(!schemas.validate_inline(&unsupported, &3.into()).is_empty());
}
