//! A tiny SMTP server on loopback for tests: it accepts every message (plain SMTP, no TLS, no
//! authentication) and keeps what arrived, so a test can check what pathways emailed. It
//! speaks just enough of RFC 5321 for a well-behaved client (EHLO/HELO, MAIL, RCPT, DATA with
//! dot-stuffing, RSET, NOOP, QUIT), on a thread per connection; it stops with the process.

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// One message received: its envelope and its text (headers and body, as sent).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Received {
    /// `MAIL FROM`.
    pub from: String,
    /// Every `RCPT TO`.
    pub to: Vec<String>,
    /// The message as sent, dot-stuffing undone, lines joined with `\n`.
    pub data: String,
}

impl Received {
    /// The text with quoted-printable soft line breaks (`=` at a line's end) undone, so a
    /// long link reads whole.
    pub fn unwrapped(&self) -> String {
        self.data.replace("=\n", "")
    }
}

/// The sink: where it listens and what it has received.
#[derive(Debug, Clone)]
pub struct SmtpSink {
    /// The port on 127.0.0.1.
    pub port: u16,
    received: Arc<Mutex<Vec<Received>>>,
}

impl SmtpSink {
    /// Starts a sink on a free port of 127.0.0.1.
    pub fn start() -> SmtpSink {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the SMTP sink");
        let port = listener.local_addr().expect("its address").port();
        let received = Arc::new(Mutex::new(Vec::new()));
        let kept = received.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let kept = kept.clone();
                std::thread::spawn(move || {
                    let _ = serve(stream, &kept);
                });
            }
        });
        SmtpSink { port, received }
    }

    /// Every message received so far.
    pub fn received(&self) -> Vec<Received> {
        self.received.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Waits up to `within` for at least `n` messages; returns them all.
    pub fn wait_for(&self, n: usize, within: Duration) -> Vec<Received> {
        let deadline = Instant::now() + within;
        loop {
            let all = self.received();
            if all.len() >= n {
                return all;
            }
            assert!(Instant::now() < deadline, "{} of {n} messages arrived", all.len());
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

fn serve(stream: TcpStream, kept: &Mutex<Vec<Received>>) -> std::io::Result<()> {
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    let mut out = stream.try_clone()?;
    let mut lines = BufReader::new(stream);
    out.write_all(b"220 sink.test ESMTP ready\r\n")?;
    let (mut from, mut to) = (String::new(), Vec::new());
    let mut line = String::new();
    loop {
        line.clear();
        if lines.read_line(&mut line)? == 0 {
            return Ok(());
        }
        let command = line.trim_end().to_string();
        let upper = command.to_ascii_uppercase();
        if upper.starts_with("EHLO") {
            out.write_all(b"250-sink.test\r\n250-8BITMIME\r\n250 SMTPUTF8\r\n")?;
        } else if upper.starts_with("HELO") || upper.starts_with("NOOP") {
            out.write_all(b"250 OK\r\n")?;
        } else if upper.starts_with("MAIL FROM:") {
            from = address(&command[10..]);
            to.clear();
            out.write_all(b"250 OK\r\n")?;
        } else if upper.starts_with("RCPT TO:") {
            to.push(address(&command[8..]));
            out.write_all(b"250 OK\r\n")?;
        } else if upper == "DATA" {
            out.write_all(b"354 end with <CRLF>.<CRLF>\r\n")?;
            let mut data = Vec::new();
            loop {
                line.clear();
                if lines.read_line(&mut line)? == 0 {
                    return Ok(());
                }
                let text = line.trim_end_matches(['\r', '\n']);
                if text == "." {
                    break;
                }
                data.push(text.strip_prefix('.').map_or(text, |t| t).to_string());
            }
            let message = Received { from: from.clone(), to: to.clone(), data: data.join("\n") };
            kept.lock().unwrap_or_else(|e| e.into_inner()).push(message);
            out.write_all(b"250 OK: queued\r\n")?;
        } else if upper.starts_with("RSET") {
            (from, to) = (String::new(), Vec::new());
            out.write_all(b"250 OK\r\n")?;
        } else if upper.starts_with("QUIT") {
            out.write_all(b"221 bye\r\n")?;
            return Ok(());
        } else {
            out.write_all(b"502 not implemented\r\n")?;
        }
    }
}

/// The address in `<…>` (parameters after it ignored).
fn address(rest: &str) -> String {
    let rest = rest.trim();
    match (rest.find('<'), rest.find('>')) {
        (Some(a), Some(b)) if a < b => rest[a + 1..b].to_string(),
        _ => rest.split_whitespace().next().unwrap_or("").to_string(),
    }
}
