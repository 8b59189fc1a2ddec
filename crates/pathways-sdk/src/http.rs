//! Shared HTTP plumbing for connectors that speak to a partner over HTTP (feature `http`).
//!
//! Every HTTP connector needs the same few things done the same careful way, so they live
//! here once: a client with rustls, timeouts and no redirects; sending a request and reading
//! the answer with a size cap; and turning every failure into a [`PartnerError`] whose kind
//! lets the orchestrator decide about retries.
//!
//! # How failures map to [`PartnerErrorKind`](crate::PartnerErrorKind)
//! | what happened | kind |
//! |---|---|
//! | could not connect, connection reset, 5xx, 408, 429 | `transient` (with `retry_after_ms` from a `Retry-After` of delta-seconds) |
//! | no complete answer within the timeout | `timeout` |
//! | 401, 403 | `unauthorized` |
//! | 400, 422 | `invalid_request` |
//! | any other 4xx (404, 409, ...) and 3xx (redirects are never followed) | `permanent` |
//! | answer larger than the cap, or 2xx with malformed JSON | `transient` |
//! | our own request could not be built | `plugin_fault` |
//!
//! An unreadable answer (malformed or oversized) is `transient`, not `permanent`, because of
//! POSTs: the partner may well have created the referral before its answer was garbled, and the
//! only way to learn its reference is to send the same request again with the same idempotency
//! key, which every partner must treat as a repeat. For a GET, one more try costs little; the
//! orchestrator caps retries either way. A connector that knows better for a given call (a
//! partner that answers 409 for "already delivered", say) inspects the status itself with
//! [`PartnerHttp::send_any_status`] before falling back to [`status_error`].
//!
//! # Personal data
//! Error messages name the URL *path* (never the query string or host credentials) and the
//! status, never the body: a partner may echo what we sent. JSON decoding errors keep the field
//! path and the kind of problem but drop serde's text where it can quote a value.
//! `Retry-After` as an HTTP date is not honoured (the kind stays `transient` without a delay).

use std::error::Error as _;
use std::time::Duration;

use reqwest::header::{HeaderMap, RETRY_AFTER};
use reqwest::{redirect, RequestBuilder, StatusCode, Url};
use serde::de::DeserializeOwned;

use crate::PartnerError;

/// Default cap on an answer's size: 1 MiB is far more than any partner answer we read.
pub const DEFAULT_MAX_BODY_BYTES: usize = 1024 * 1024;

/// How a connector's HTTP client behaves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpOptions {
    /// Whole-request deadline: connecting, sending, and reading the full answer.
    pub timeout: Duration,
    /// Deadline for the TCP and TLS connection alone.
    pub connect_timeout: Duration,
    /// Largest answer body accepted, in bytes.
    pub max_body_bytes: usize,
    /// `User-Agent` header, e.g. `pathways-foodbank/0.1.0`.
    pub user_agent: String,
}

impl HttpOptions {
    /// Defaults (1.5 s overall, 500 ms to connect, 1 MiB) with the given user agent.
    pub fn new(user_agent: impl Into<String>) -> Self {
        Self {
            timeout: Duration::from_millis(1500),
            connect_timeout: Duration::from_millis(500),
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            user_agent: user_agent.into(),
        }
    }
}

impl Default for HttpOptions {
    fn default() -> Self {
        Self::new(concat!("pathways-sdk/", env!("CARGO_PKG_VERSION")))
    }
}

/// One partner's HTTP API: a configured client and the base URL every path is joined to.
#[derive(Debug, Clone)]
pub struct PartnerHttp {
    client: reqwest::Client,
    base_url: Url,
    max_body_bytes: usize,
}

/// A partner's answer, read in full (within the size cap).
#[derive(Debug, Clone)]
pub struct PartnerResponse {
    /// The HTTP status.
    pub status: StatusCode,
    /// The answer's headers.
    pub headers: HeaderMap,
    /// The answer's body. May contain personal data: never log it.
    pub body: Vec<u8>,
    /// The request's URL path, for error messages.
    pub path: String,
}

impl PartnerHttp {
    /// A client for the API at `base_url` (`http` or `https`). The error says what is wrong
    /// with the URL or the options, for the operator.
    pub fn new(base_url: &str, options: &HttpOptions) -> Result<Self, String> {
        let base_url =
            Url::parse(base_url).map_err(|e| format!("`{base_url}` is not a URL: {e}"))?;
        if !matches!(base_url.scheme(), "http" | "https") || base_url.host().is_none() {
            return Err(format!("`{base_url}` must be an http:// or https:// URL with a host"));
        }
        if !base_url.username().is_empty() || base_url.password().is_some() {
            return Err("the base URL must not carry credentials; use the API key setting".into());
        }
        if options.timeout.is_zero() || options.connect_timeout.is_zero() {
            return Err("timeouts must be greater than zero".into());
        }
        let client = reqwest::Client::builder()
            .use_rustls_tls()
            .timeout(options.timeout)
            .connect_timeout(options.connect_timeout)
            // A POST must never be replayed to somewhere else; a moved API is a configuration
            // matter, reported as a permanent error.
            .redirect(redirect::Policy::none())
            .user_agent(options.user_agent.clone())
            .build()
            .map_err(|e| format!("cannot build the HTTP client: {}", root_cause(&e)))?;
        Ok(Self { client, base_url, max_body_bytes: options.max_body_bytes })
    }

    /// The base URL.
    pub fn base_url(&self) -> &Url {
        &self.base_url
    }

    /// The underlying client, for requests the helpers below do not cover.
    pub fn client(&self) -> &reqwest::Client {
        &self.client
    }

    /// The base URL followed by `segments`, each percent-encoded (so a partner's reference
    /// cannot change the path); an empty last segment gives a trailing slash.
    pub fn url(&self, segments: &[&str]) -> Url {
        let mut url = self.base_url.clone();
        if let Ok(mut path) = url.path_segments_mut() {
            path.pop_if_empty().extend(segments);
        }
        url
    }

    /// A GET of `segments` under the base URL.
    pub fn get(&self, segments: &[&str]) -> RequestBuilder {
        self.client.get(self.url(segments))
    }

    /// A POST to `segments` under the base URL.
    pub fn post(&self, segments: &[&str]) -> RequestBuilder {
        self.client.post(self.url(segments))
    }

    /// Sends `request` and reads a 2xx answer; any other status is an error (see the table
    /// in the module doc) and its body is not read.
    pub async fn send(&self, request: RequestBuilder) -> Result<PartnerResponse, PartnerError> {
        self.execute(request, true).await
    }

    /// Sends `request` and reads the answer whatever its status, for connectors that give
    /// some statuses a meaning of their own; transport failures are still errors.
    pub async fn send_any_status(
        &self,
        request: RequestBuilder,
    ) -> Result<PartnerResponse, PartnerError> {
        self.execute(request, false).await
    }

    /// GETs `segments` with `query` and decodes a 2xx JSON answer.
    pub async fn get_json<T: DeserializeOwned>(
        &self,
        segments: &[&str],
        query: &[(&str, &str)],
    ) -> Result<T, PartnerError> {
        self.send(self.get(segments).query(query)).await?.json()
    }

    async fn execute(
        &self,
        request: RequestBuilder,
        only_success: bool,
    ) -> Result<PartnerResponse, PartnerError> {
        let request = request.build().map_err(|e| {
            PartnerError::plugin_fault(format!(
                "could not build the partner request: {}",
                root_cause(&e)
            ))
        })?;
        let path = request.url().path().to_string();
        let mut response =
            self.client.execute(request).await.map_err(|e| transport_error(&e, &path))?;
        let status = response.status();
        if only_success {
            if let Some(err) = status_error(status, response.headers(), &path) {
                return Err(err);
            }
        }
        let too_big = || {
            PartnerError::transient(
                format!(
                    "partner answer at `{path}` (status {}) is larger than the {}-byte limit",
                    status.as_u16(),
                    self.max_body_bytes
                ),
                None,
            )
        };
        if response.content_length().is_some_and(|len| len > self.max_body_bytes as u64) {
            return Err(too_big());
        }
        // Read chunk by chunk so a huge or endless answer is refused without being held.
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(|e| transport_error(&e, &path))? {
            if body.len() + chunk.len() > self.max_body_bytes {
                return Err(too_big());
            }
            body.extend_from_slice(&chunk);
        }
        let headers = std::mem::take(response.headers_mut());
        Ok(PartnerResponse { status, headers, body, path })
    }
}

impl PartnerResponse {
    /// Decodes the body as JSON; a malformed body is a `transient` error naming the path.
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, PartnerError> {
        decode_json(&self.body, &self.path, self.status)
    }

    /// This response, or the error its status means (see [`status_error`]).
    pub fn error_for_status(self) -> Result<Self, PartnerError> {
        match status_error(self.status, &self.headers, &self.path) {
            Some(err) => Err(err),
            None => Ok(self),
        }
    }
}

/// The error a non-2xx `status` at `path` means, or `None` for 2xx.
pub fn status_error(status: StatusCode, headers: &HeaderMap, path: &str) -> Option<PartnerError> {
    if status.is_success() {
        return None;
    }
    let code = status.as_u16();
    let what = format!("partner answered {code} at `{path}`");
    let err = match code {
        400 | 422 => {
            PartnerError::invalid_request(format!("{what}: it refused the request as invalid"))
        }
        401 | 403 => PartnerError::new(
            crate::PartnerErrorKind::Unauthorized,
            format!("{what}: it refused our credentials; check the API key"),
        ),
        408 | 429 | 500..=599 => PartnerError::transient(what, retry_after_ms(headers)),
        300..=399 => PartnerError::permanent(format!(
            "{what}: redirects are not followed; check the base URL"
        )),
        _ => PartnerError::permanent(what),
    };
    Some(err)
}

/// The error a failed exchange (no usable answer) means; names `path`, never the host's
/// credentials or the query.
pub fn transport_error(err: &reqwest::Error, path: &str) -> PartnerError {
    if err.is_timeout() {
        return PartnerError::timeout(format!(
            "no complete answer from the partner at `{path}` in time"
        ));
    }
    if err.is_builder() {
        return PartnerError::plugin_fault(format!(
            "could not build the request for `{path}`: {}",
            root_cause(err)
        ));
    }
    let what = if err.is_connect() {
        "could not connect to the partner"
    } else {
        "the exchange with the partner failed"
    };
    PartnerError::transient(format!("{what} for `{path}`: {}", root_cause(err)), None)
}

/// Milliseconds to wait from a `Retry-After` header of delta-seconds; `None` when absent or an
/// HTTP date.
pub fn retry_after_ms(headers: &HeaderMap) -> Option<u64> {
    let seconds: u64 = headers.get(RETRY_AFTER)?.to_str().ok()?.trim().parse().ok()?;
    Some(seconds.saturating_mul(1000))
}

/// Decodes `body` as JSON. A failure is `transient` (see the module doc) and its message names
/// `path`, `status` and the field, but never quotes the body.
pub fn decode_json<T: DeserializeOwned>(
    body: &[u8],
    path: &str,
    status: StatusCode,
) -> Result<T, PartnerError> {
    let mut de = serde_json::Deserializer::from_slice(body);
    let decoded: Result<T, (String, serde_json::Error)> = serde_path_to_error::deserialize(&mut de)
        .map_err(|err| (err.path().to_string(), err.into_inner()))
        .and_then(|value| de.end().map(|()| value).map_err(|err| (String::new(), err)));
    decoded.map_err(|(field, inner)| {
        let text = inner.to_string();
        let problem = if text.starts_with("missing field ") {
            text.split(" at line").next().unwrap_or("missing field").to_string()
        } else if text.starts_with("unknown variant ") {
            "unknown value".to_string()
        } else {
            match inner.classify() {
                serde_json::error::Category::Data => "wrong type or value".to_string(),
                serde_json::error::Category::Eof => "the answer ends early".to_string(),
                _ => "not valid JSON".to_string(),
            }
        };
        let at = if field.is_empty() || field == "." { String::new() } else { format!(" at `{field}`") };
        PartnerError::transient(
            format!(
                "partner answered malformed JSON at `{path}` (status {}): {problem}{at} (line {}, column {})",
                status.as_u16(),
                inner.line(),
                inner.column()
            ),
            None,
        )
    })
}

/// The innermost cause of an error (e.g. "Connection refused (os error 111)"). reqwest's own
/// top-level message is not used: it can contain the full URL.
fn root_cause(err: &reqwest::Error) -> String {
    let Some(mut cause) = err.source() else {
        return if err.is_connect() { "connection failed".into() } else { "request failed".into() };
    };
    while let Some(next) = cause.source() {
        cause = next;
    }
    cause.to_string()
}

#[cfg(test)]
mod tests {
    use std::io::{Read, Write};
    use std::net::TcpListener;

    use reqwest::header::HeaderValue;

    use super::*;
    use crate::PartnerErrorKind;

    fn block_on<F: std::future::Future>(future: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(future)
    }

    /// A raw HTTP/1.1 answer; `Content-Length` is added unless `length` is `None`.
    fn answer(
        status: &str,
        headers: &[(&str, &str)],
        body: &[u8],
        length: Option<usize>,
    ) -> Vec<u8> {
        let mut out = format!("HTTP/1.1 {status}\r\nConnection: close\r\n");
        for (name, value) in headers {
            out.push_str(&format!("{name}: {value}\r\n"));
        }
        if let Some(length) = length {
            out.push_str(&format!("Content-Length: {length}\r\n"));
        }
        out.push_str("\r\n");
        let mut out = out.into_bytes();
        out.extend_from_slice(body);
        out
    }

    /// A loopback server answering every GET with `reply`, or never answering when `None`.
    fn serve(reply: Option<Vec<u8>>) -> String {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let (Ok(mut stream), reply) = (stream, reply.clone()) else {
                    return;
                };
                std::thread::spawn(move || {
                    let (mut buf, mut seen) = ([0u8; 4096], Vec::new());
                    while !seen.windows(4).any(|w| w == b"\r\n\r\n") {
                        match stream.read(&mut buf) {
                            Ok(0) | Err(_) => return,
                            Ok(n) => seen.extend_from_slice(&buf[..n]),
                        }
                    }
                    match reply {
                        Some(bytes) => drop(stream.write_all(&bytes)),
                        None => std::thread::sleep(Duration::from_secs(5)),
                    }
                });
            }
        });
        format!("http://{addr}")
    }

    fn partner(base_url: &str) -> PartnerHttp {
        let options = HttpOptions {
            timeout: Duration::from_millis(400),
            max_body_bytes: 1000,
            ..HttpOptions::new("pathways-test/0")
        };
        PartnerHttp::new(base_url, &options).unwrap()
    }

    fn kind_of(status: u16, retry_after: Option<&str>) -> (PartnerErrorKind, String) {
        let mut headers = HeaderMap::new();
        if let Some(value) = retry_after {
            headers.insert(RETRY_AFTER, HeaderValue::from_str(value).unwrap());
        }
        let err =
            status_error(StatusCode::from_u16(status).unwrap(), &headers, "/v1/things").unwrap();
        (err.kind, err.message)
    }

    #[test]
    fn statuses_map_to_kinds() {
        use PartnerErrorKind::*;
        assert_eq!(kind_of(400, None).0, InvalidRequest);
        assert_eq!(kind_of(422, None).0, InvalidRequest);
        assert_eq!(kind_of(401, None).0, Unauthorized);
        assert_eq!(kind_of(403, None).0, Unauthorized);
        assert_eq!(kind_of(404, None).0, Permanent);
        assert_eq!(kind_of(409, None).0, Permanent);
        assert_eq!(kind_of(429, Some("7")).0, Transient { retry_after_ms: Some(7000) });
        assert_eq!(kind_of(503, Some("2")).0, Transient { retry_after_ms: Some(2000) });
        assert_eq!(kind_of(500, None).0, Transient { retry_after_ms: None });
        assert_eq!(kind_of(408, None).0, Transient { retry_after_ms: None });
        let (kind, message) = kind_of(302, None);
        assert_eq!(kind, Permanent);
        assert!(message.contains("redirect"), "{message}");
        let message = kind_of(503, None).1;
        assert!(message.contains("503") && message.contains("/v1/things"), "{message}");
        assert!(status_error(StatusCode::CREATED, &HeaderMap::new(), "/").is_none());
    }

    #[test]
    fn retry_after_reads_seconds_only() {
        let mut headers = HeaderMap::new();
        assert_eq!(retry_after_ms(&headers), None);
        headers.insert(RETRY_AFTER, HeaderValue::from_static("120"));
        assert_eq!(retry_after_ms(&headers), Some(120_000));
        headers.insert(RETRY_AFTER, HeaderValue::from_static("Wed, 21 Oct 2026 07:28:00 GMT"));
        assert_eq!(retry_after_ms(&headers), None);
    }

    #[derive(Debug, serde::Deserialize)]
    #[allow(dead_code)]
    struct Person {
        name: String,
        age: u32,
    }

    #[test]
    fn malformed_json_names_path_status_and_field_but_no_value() {
        let body = br#"{"name": "Jane Secret", "age": "forty-two"}"#;
        let err = decode_json::<Person>(body, "/v1/people", StatusCode::OK).unwrap_err();
        assert_eq!(err.kind, PartnerErrorKind::Transient { retry_after_ms: None });
        for expected in ["/v1/people", "200", "`age`", "malformed JSON"] {
            assert!(err.message.contains(expected), "{expected} missing: {}", err.message);
        }
        assert!(
            !err.message.contains("forty-two") && !err.message.contains("Jane"),
            "{}",
            err.message
        );
        let missing = decode_json::<Person>(br#"{"name": "x"}"#, "/p", StatusCode::OK).unwrap_err();
        assert!(missing.message.contains("missing field `age`"), "{}", missing.message);
        let cut = decode_json::<Person>(br#"{"name": "Ja"#, "/p", StatusCode::OK).unwrap_err();
        assert!(cut.message.contains("ends early"), "{}", cut.message);
        assert!(decode_json::<Person>(
            br#"{"name": "x", "age": 3} trailing"#,
            "/p",
            StatusCode::OK
        )
        .is_err());
    }

    #[test]
    fn urls_encode_segments_and_keep_a_base_path() {
        let http = partner("http://127.0.0.1:9/partner/");
        assert_eq!(http.url(&["api", "2", "search", ""]).path(), "/partner/api/2/search/");
        let sneaky = http.url(&["referrals", "FBV/../admin?x=1"]);
        assert_eq!(sneaky.path(), "/partner/referrals/FBV%2F..%2Fadmin%3Fx=1");
        assert_eq!(sneaky.query(), None);
    }

    #[test]
    fn bad_base_urls_and_options_are_refused() {
        let options = HttpOptions::default();
        assert!(PartnerHttp::new("not a url", &options).unwrap_err().contains("not a URL"));
        assert!(PartnerHttp::new("ftp://example.org", &options).is_err());
        assert!(PartnerHttp::new("http://user:pw@example.org", &options)
            .unwrap_err()
            .contains("credentials"));
        let zero = HttpOptions { timeout: Duration::ZERO, ..HttpOptions::default() };
        assert!(PartnerHttp::new("http://example.org", &zero).is_err());
    }

    #[test]
    fn server_error_is_transient_with_retry_after_and_never_quotes_the_body_or_query() {
        let reply =
            answer("503 Service Unavailable", &[("Retry-After", "3")], b"SECRET echo", Some(11));
        let http = partner(&serve(Some(reply)));
        let err = block_on(
            http.get_json::<serde_json::Value>(&["search", ""], &[("address", "W10 5AB")]),
        )
        .unwrap_err();
        assert_eq!(err.kind, PartnerErrorKind::Transient { retry_after_ms: Some(3000) });
        assert!(err.message.contains("/search/") && err.message.contains("503"), "{}", err.message);
        assert!(!err.message.contains("SECRET") && !err.message.contains("W10"), "{}", err.message);
    }

    #[test]
    fn success_body_is_read_and_decoded() {
        let body = br#"{"name": "x", "age": 3}"#;
        let http = partner(&serve(Some(answer("200 OK", &[], body, Some(body.len())))));
        let person: Person = block_on(http.get_json(&["p"], &[])).unwrap();
        assert_eq!(person.age, 3);
    }

    #[test]
    fn malformed_answer_over_http_is_transient() {
        let http = partner(&serve(Some(answer("200 OK", &[], b"{\"name\": ", Some(9)))));
        let err = block_on(http.get_json::<Person>(&["p"], &[])).unwrap_err();
        assert_eq!(err.kind, PartnerErrorKind::Transient { retry_after_ms: None });
        assert!(err.message.contains("malformed JSON at `/p`"), "{}", err.message);
    }

    #[test]
    fn oversized_answers_are_refused_whether_declared_or_streamed() {
        let big = vec![b' '; 5000];
        for length in [Some(big.len()), None] {
            let http = partner(&serve(Some(answer("200 OK", &[], &big, length))));
            let err = block_on(http.send(http.get(&["big"]))).unwrap_err();
            assert!(
                err.message.contains("larger than the 1000-byte limit"),
                "{length:?}: {}",
                err.message
            );
            assert!(err.message.contains("/big"), "{}", err.message);
        }
    }

    #[test]
    fn a_partner_that_never_answers_is_a_timeout() {
        let http = partner(&serve(None));
        let started = std::time::Instant::now();
        let err = block_on(http.send(http.get(&["slow"]))).unwrap_err();
        assert_eq!(err.kind, PartnerErrorKind::Timeout, "{}", err.message);
        assert!(err.message.contains("/slow"));
        assert!(started.elapsed() < Duration::from_secs(3));
    }

    #[test]
    fn connection_refused_is_transient() {
        let addr = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
        let http = partner(&format!("http://{addr}"));
        let err = block_on(http.send(http.get(&["x"]))).unwrap_err();
        assert_eq!(
            err.kind,
            PartnerErrorKind::Transient { retry_after_ms: None },
            "{}",
            err.message
        );
        assert!(err.message.contains("could not connect"), "{}", err.message);
        assert!(!err.message.contains("127.0.0.1"), "{}", err.message);
    }

    #[test]
    fn redirects_are_not_followed() {
        let target = serve(Some(answer("200 OK", &[], b"{}", Some(2))));
        let location = format!("{target}/elsewhere");
        let http = partner(&serve(Some(answer(
            "307 Temporary Redirect",
            &[("Location", &location)],
            b"",
            Some(0),
        ))));
        let err = block_on(http.send(http.get(&["referrals"]))).unwrap_err();
        assert_eq!(err.kind, PartnerErrorKind::Permanent, "{}", err.message);
        let any = block_on(http.send_any_status(http.get(&["referrals"]))).unwrap();
        assert_eq!(any.status, StatusCode::TEMPORARY_REDIRECT);
        assert!(any.error_for_status().is_err());
    }
}
