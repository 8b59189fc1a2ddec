//! Reading the `[storage] url` setting, and printing it without its password.

use std::path::PathBuf;
use std::str::FromStr;

use crate::error::StoreError;

/// What a storage URL names.
#[derive(Debug)]
pub(crate) enum Target {
    /// A SQLite file (relative paths are relative to the working directory).
    Sqlite(PathBuf),
    /// A PostgreSQL database.
    Postgres(Box<tokio_postgres::Config>),
}

/// Parses a storage URL. Errors quote the URL with its password redacted.
pub(crate) fn parse(url: &str) -> Result<Target, StoreError> {
    let invalid = |problem: &str| StoreError::InvalidUrl {
        url: redact_url(url),
        problem: problem.to_string(),
    };
    let Some((scheme, rest)) = split_scheme(url) else {
        return Err(StoreError::UnsupportedScheme {
            url: redact_url(url),
            scheme: "(none)".to_string(),
        });
    };
    match scheme.to_ascii_lowercase().as_str() {
        "sqlite" => {
            // `sqlite://data/x.db` is relative, `sqlite:///var/lib/x.db` absolute; the
            // authority-free `sqlite:data/x.db` is accepted too.
            let path = rest.strip_prefix("//").unwrap_or(rest);
            if path.is_empty() {
                return Err(invalid("no file path; write e.g. `sqlite://data/pathways.db`"));
            }
            if path == ":memory:" || path.starts_with(":memory:") {
                return Err(invalid(
                    "in-memory databases are not supported (the store keeps several \
                     connections); use a file, e.g. in a temporary folder",
                ));
            }
            if path.contains('?') {
                return Err(invalid(
                    "query parameters are not supported; the store sets its own pragmas \
                     (WAL, synchronous=FULL, foreign keys, busy timeout)",
                ));
            }
            Ok(Target::Sqlite(PathBuf::from(path)))
        }
        "postgres" | "postgresql" => tokio_postgres::Config::from_str(url)
            .map(|config| Target::Postgres(Box::new(config)))
            .map_err(|e| invalid(&format!("not a PostgreSQL connection URL: {e}"))),
        _ => {
            Err(StoreError::UnsupportedScheme { url: redact_url(url), scheme: scheme.to_string() })
        }
    }
}

/// Splits `scheme:rest`, where a scheme is a letter then letters, digits, `+`, `-` or `.`.
fn split_scheme(url: &str) -> Option<(&str, &str)> {
    let (scheme, rest) = url.split_once(':')?;
    let mut chars = scheme.chars();
    let first_ok = chars.next().is_some_and(|c| c.is_ascii_alphabetic());
    let rest_ok = chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
    (first_ok && rest_ok).then_some((scheme, rest))
}

/// The URL with any password replaced by `***`, both in `user:password@` and in a
/// `password=` query parameter, so that it can be logged or shown in an error.
///
/// The user part ends at the *last* `@`: a password with an unencoded `/`, `?` or `@` is
/// still hidden, at worst with some of the host (redacting too much is the safe mistake).
pub fn redact_url(url: &str) -> String {
    let Some((scheme, after)) = url.split_once("://") else {
        return redact_query(url);
    };
    match after.rfind('@') {
        Some(at) => {
            let (userinfo, rest) = (&after[..at], &after[at + 1..]);
            let user = match userinfo.split_once(':') {
                Some((user, _password)) => format!("{user}:***"),
                None => userinfo.to_string(),
            };
            format!("{scheme}://{user}@{}", redact_query(rest))
        }
        None => format!("{scheme}://{}", redact_query(after)),
    }
}

/// Replaces the value of any `password=` parameter after the first `?`.
fn redact_query(text: &str) -> String {
    let Some((head, query)) = text.split_once('?') else {
        return text.to_string();
    };
    let params: Vec<String> = query
        .split('&')
        .map(|param| match param.split_once('=') {
            Some((key, _)) if key.eq_ignore_ascii_case("password") => format!("{key}=***"),
            _ => param.to_string(),
        })
        .collect();
    format!("{head}?{}", params.join("&"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_urls_name_relative_and_absolute_files() {
        let Target::Sqlite(p) = parse("sqlite://data/pathways.db").unwrap() else { panic!() };
        assert_eq!(p, PathBuf::from("data/pathways.db"));
        let Target::Sqlite(p) = parse("sqlite:///var/lib/pathways.db").unwrap() else { panic!() };
        assert_eq!(p, PathBuf::from("/var/lib/pathways.db"));
        let Target::Sqlite(p) = parse("sqlite:x.db").unwrap() else { panic!() };
        assert_eq!(p, PathBuf::from("x.db"));
    }

    #[test]
    fn sqlite_urls_without_a_usable_file_are_refused() {
        for url in ["sqlite://", "sqlite::memory:", "sqlite://x.db?mode=ro"] {
            let err = parse(url).unwrap_err();
            assert!(matches!(err, StoreError::InvalidUrl { .. }), "{url}: {err}");
        }
    }

    #[test]
    fn postgres_urls_are_parsed() {
        let Target::Postgres(c) = parse("postgres://app@127.0.0.1:5432/pathways").unwrap() else {
            panic!()
        };
        assert_eq!(c.get_user(), Some("app"));
        assert_eq!(c.get_dbname(), Some("pathways"));
        assert!(matches!(parse("postgresql://a@h/db").unwrap(), Target::Postgres(_)));
    }

    #[test]
    fn an_unknown_scheme_names_it_and_what_is_accepted_without_the_password() {
        let err = parse("mysql://admin:hunter2@db/pathways").unwrap_err().to_string();
        assert!(err.contains("`mysql`"), "{err}");
        assert!(err.contains("sqlite://") && err.contains("postgres://"), "{err}");
        assert!(!err.contains("hunter2"), "{err}");
        assert!(err.contains("admin:***@db"), "{err}");
        let err = parse("data/pathways.db").unwrap_err().to_string();
        assert!(err.contains("(none)"), "{err}");
    }

    #[test]
    fn a_bad_postgres_url_is_reported_without_its_password() {
        let err = parse("postgres://app:s3cret@host:notaport/db").unwrap_err().to_string();
        assert!(!err.contains("s3cret"), "{err}");
        assert!(err.contains("cannot be used"), "{err}");
    }

    #[test]
    fn redaction_covers_userinfo_and_query_passwords() {
        assert_eq!(redact_url("postgres://u:p@h:5432/d"), "postgres://u:***@h:5432/d");
        assert_eq!(
            redact_url("postgres://u@h/d?password=p&sslmode=disable"),
            "postgres://u@h/d?password=***&sslmode=disable"
        );
        assert_eq!(redact_url("postgres://u:p:q@x@h/d"), "postgres://u:***@h/d");
        assert_eq!(redact_url("postgres://u:pa/ss@h/d"), "postgres://u:***@h/d");
        assert_eq!(redact_url("postgres://u:pa?ss@h/d"), "postgres://u:***@h/d");
        assert_eq!(redact_url("sqlite://data/pathways.db"), "sqlite://data/pathways.db");
    }
}
