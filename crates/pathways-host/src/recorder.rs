//! A recording reverse proxy on loopback, for the conformance check's "sends only declared
//! fields" check: the plugin's `base_url` is pointed at it, it forwards each request to the real
//! base URL unchanged and hands the answer back, and keeps what the plugin sent (method, target,
//! headers, body) for the check to read.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use http_body_util::{BodyExt, Full, Limited};
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

/// The most of one request body kept (and forwarded).
const MAX_BODY: usize = 4 * 1024 * 1024;

/// One request the plugin sent.
#[derive(Debug, Clone)]
pub(crate) struct Seen {
    /// `POST /api/referrals?x=1`.
    pub(crate) line: String,
    /// Every header, `name: value` a line.
    pub(crate) headers: String,
    /// The body (lossy UTF-8).
    pub(crate) body: String,
}

/// The proxy, serving until dropped.
#[derive(Debug)]
pub(crate) struct Recorder {
    addr: SocketAddr,
    seen: Arc<Mutex<Vec<Seen>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Recorder {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The origin (`scheme://host:port`) of `url`, and its path without a trailing `/`.
fn split(url: &str) -> Option<(String, String)> {
    let url = reqwest::Url::parse(url).ok()?;
    if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
        return None;
    }
    Some((url.origin().ascii_serialization(), url.path().trim_end_matches('/').to_string()))
}

impl Recorder {
    /// Starts a proxy forwarding to `base_url`'s origin; `None` if it is not an http(s) URL or
    /// no loopback port could be had.
    pub(crate) async fn start(base_url: &str) -> Option<Self> {
        let (origin, _) = split(base_url)?;
        let listener = TcpListener::bind("127.0.0.1:0").await.ok()?;
        let addr = listener.local_addr().ok()?;
        let seen: Arc<Mutex<Vec<Seen>>> = Arc::default();
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .build()
            .ok()?;
        let (kept, origin) = (seen.clone(), Arc::new(origin));
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let (kept, origin, client) = (kept.clone(), origin.clone(), client.clone());
                tokio::spawn(async move {
                    let service = service_fn(move |request| {
                        let (kept, origin, client) = (kept.clone(), origin.clone(), client.clone());
                        async move {
                            Ok::<_, Infallible>(forward(request, &kept, &origin, &client).await)
                        }
                    });
                    let _ =
                        http1::Builder::new().serve_connection(TokioIo::new(stream), service).await;
                });
            }
        });
        Some(Self { addr, seen, task })
    }

    /// `base_url` with its origin replaced by this proxy's.
    pub(crate) fn url_for(&self, base_url: &str) -> String {
        let path = split(base_url).map(|(_, path)| path).unwrap_or_default();
        format!("http://{}{path}", self.addr)
    }

    /// What the plugin sent so far.
    pub(crate) fn seen(&self) -> Vec<Seen> {
        self.seen.lock().map(|seen| seen.clone()).unwrap_or_default()
    }
}

/// Records `request` and forwards it to `origin`; the answer, or 502 if there was none.
async fn forward(
    request: Request<Incoming>,
    kept: &Mutex<Vec<Seen>>,
    origin: &str,
    client: &reqwest::Client,
) -> Response<Full<Bytes>> {
    let (parts, body) = request.into_parts();
    let body = match Limited::new(body, MAX_BODY).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(_) => return answer(StatusCode::PAYLOAD_TOO_LARGE, Bytes::new()),
    };
    let target = parts.uri.path_and_query().map_or("/", |p| p.as_str()).to_string();
    let headers = parts
        .headers
        .iter()
        .map(|(name, value)| format!("{name}: {}\n", String::from_utf8_lossy(value.as_bytes())))
        .collect();
    if let Ok(mut seen) = kept.lock() {
        seen.push(Seen {
            line: format!("{} {target}", parts.method),
            headers,
            body: String::from_utf8_lossy(&body).into_owned(),
        });
    }
    let method = reqwest::Method::from_bytes(parts.method.as_str().as_bytes())
        .unwrap_or(reqwest::Method::GET);
    let mut outgoing = client.request(method, format!("{origin}{target}")).body(body);
    for (name, value) in &parts.headers {
        if !matches!(name.as_str(), "host" | "content-length" | "connection" | "transfer-encoding")
        {
            outgoing = outgoing.header(name.as_str(), value.as_bytes());
        }
    }
    let Ok(upstream) = outgoing.send().await else {
        return answer(StatusCode::BAD_GATEWAY, Bytes::new());
    };
    let status =
        StatusCode::from_u16(upstream.status().as_u16()).unwrap_or(StatusCode::BAD_GATEWAY);
    let headers: Vec<(String, Vec<u8>)> = upstream
        .headers()
        .iter()
        .filter(|(name, _)| {
            !matches!(name.as_str(), "content-length" | "connection" | "transfer-encoding")
        })
        .map(|(name, value)| (name.as_str().to_string(), value.as_bytes().to_vec()))
        .collect();
    let body = upstream.bytes().await.unwrap_or_default();
    let mut response = answer(status, body);
    for (name, value) in headers {
        if let (Ok(name), Ok(value)) = (
            hyper::header::HeaderName::from_bytes(name.as_bytes()),
            hyper::header::HeaderValue::from_bytes(&value),
        ) {
            response.headers_mut().append(name, value);
        }
    }
    response
}

fn answer(status: StatusCode, body: Bytes) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(body));
    *response.status_mut() = status;
    response
}

#[cfg(test)]
mod tests {
    use super::split;

    #[test]
    fn a_base_url_splits_into_origin_and_path() {
        assert_eq!(
            split("http://127.0.0.1:9101/api/"),
            Some(("http://127.0.0.1:9101".into(), "/api".into()))
        );
        assert_eq!(split("https://fb.example"), Some(("https://fb.example".into(), String::new())));
        assert_eq!(split("ftp://x/"), None);
        assert_eq!(split("not a url"), None);
    }
}
