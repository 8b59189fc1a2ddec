//! Test machinery the four plugins' unit tests share (a dev-dependency of `plugins/*`): the
//! sandbox on the date their expectations are written for, and a loopback partner that captures
//! exactly what a referral puts on the wire.
//!
//! The end-to-end helpers, which load the built plugin libraries, are in `pathways-testkit`
//! (`tests/testkit.rs`).

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::mpsc;
use std::time::Duration;

use chrono::NaiveDate;
use pathways_sandbox::{Sandbox, SandboxConfig};

/// The day the plugin tests are written for.
pub fn today() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 11, 20).unwrap()
}

/// The sandbox with its default configuration but the simulators' date fixed at [`today`].
pub async fn sandbox() -> Sandbox {
    sandbox_with(|_| {}).await
}

/// The same sandbox, with its configuration first changed by `adjust`.
pub async fn sandbox_with(adjust: impl FnOnce(&mut SandboxConfig)) -> Sandbox {
    let mut config = SandboxConfig { today: Some(today()), ..SandboxConfig::default() };
    adjust(&mut config);
    Sandbox::start(config).await.unwrap()
}

/// A request a [`Capture`] received: its head (request line and headers, as sent) and body.
#[derive(Debug, Clone)]
pub struct Request {
    pub head: String,
    pub body: Vec<u8>,
}

impl Request {
    /// The body, parsed as JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap()
    }
}

/// A loopback partner on 127.0.0.1 that answers the first `POST` with `201 Created` and a
/// fixed receipt, hands that request back to the test, and stops.
#[derive(Debug)]
pub struct Capture {
    url: String,
    posted: mpsc::Receiver<Request>,
}

impl Capture {
    /// Answers the first `POST` with `receipt`, and any other request before it with 404.
    pub fn start(receipt: &'static str) -> Capture {
        Self::spawn(None, receipt)
    }

    /// Answers every `GET` with `document` (200) until the first `POST`, which gets `receipt`.
    pub fn serving(document: &'static str, receipt: &'static str) -> Capture {
        Self::spawn(Some(document), receipt)
    }

    /// The base URL to configure the connector with.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The `POST` the partner received, waited for at most 5 s.
    pub fn post(&self) -> Request {
        self.posted.recv_timeout(Duration::from_secs(5)).unwrap()
    }

    fn spawn(document: Option<&'static str>, receipt: &'static str) -> Capture {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let (tx, posted) = mpsc::channel();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { return };
                let Some(request) = read_request(&mut stream) else { continue };
                let post = request.head.starts_with("POST");
                let (status, reply) = match (post, document) {
                    (true, _) => ("201 Created", receipt),
                    (false, Some(document)) => ("200 OK", document),
                    (false, None) => ("404 Not Found", "{}"),
                };
                let answer = format!(
                    "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{reply}",
                    reply.len()
                );
                let _ = stream.write_all(answer.as_bytes());
                if post {
                    let _ = tx.send(request);
                    return;
                }
            }
        });
        Capture { url, posted }
    }
}

/// Reads one HTTP/1.1 request from `stream`: its head and a body of `Content-Length` bytes.
fn read_request(stream: &mut TcpStream) -> Option<Request> {
    let (mut buf, mut seen) = ([0u8; 8192], Vec::new());
    let body_start = loop {
        if let Some(i) = seen.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => return None,
            Ok(n) => seen.extend_from_slice(&buf[..n]),
        }
    };
    let head = String::from_utf8_lossy(&seen[..body_start]).to_string();
    let length: usize = head
        .to_ascii_lowercase()
        .lines()
        .find_map(|l| l.strip_prefix("content-length:").and_then(|v| v.trim().parse().ok()))
        .unwrap_or(0);
    while seen.len() < body_start + length {
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => return None,
            Ok(n) => seen.extend_from_slice(&buf[..n]),
        }
    }
    Some(Request { head, body: seen[body_start..body_start + length].to_vec() })
}
