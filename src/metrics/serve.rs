//! `quota metrics --listen ADDR`: a small HTTP/1.1 server on tokio's
//! `TcpListener` for Prometheus. `GET /metrics` runs one scrape and answers
//! OpenMetrics text; a failed scrape answers 503 with a one-line reason and
//! the server keeps serving. One connection at a time (scrapes are rare and
//! each is bounded by the statement and connect timeouts), each read and
//! write bounded too, so a stuck client cannot hold the server. Ctrl-C or
//! SIGTERM stops it (exit 0).

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use anyhow::Result;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::error;
use crate::interrupt::Interrupt;
use crate::ui::Ui;

/// The content type of OpenMetrics text.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";
/// How long a client may take to send its request or read the answer.
const CLIENT_TIMEOUT: Duration = Duration::from_secs(10);
/// The longest request head read.
const MAX_REQUEST: usize = 8192;

/// Serves `/metrics` on `addr` until interrupted; `scrape` gives the body
/// or the reason it failed.
pub async fn serve<F, Fut>(addr: SocketAddr, ui: &Ui, scrape: F) -> Result<()>
where
    F: Fn() -> Fut,
    Fut: Future<Output = Result<String>>,
{
    let interrupt = Interrupt::install()?;
    // A well-formed address the system refuses (in use, not this host's,
    // a privileged port) is the machine's state, not a usage error.
    let listener = TcpListener::bind(addr).await.map_err(|e| {
        error::precondition(format!(
            "cannot listen on {addr}: {e}; stop what listens there, or choose another --listen \
             address (e.g. 127.0.0.1:9187)"
        ))
    })?;
    let bound = listener.local_addr().unwrap_or(addr);
    ui.info(&format!(
        "serving http://{bound}/metrics (Ctrl-C or SIGTERM stops)"
    ));
    let mut stop = interrupt.clone();
    loop {
        let accepted = tokio::select! {
            a = listener.accept() => a,
            () = stop.wait() => break,
        };
        let Ok((stream, peer)) = accepted else {
            continue;
        };
        tokio::select! {
            r = answer(stream, &scrape, ui) => {
                if let Err(e) = r {
                    ui.debug(&format!("{peer}: {e}"));
                }
            }
            () = stop.wait() => break,
        }
    }
    ui.info("stopped serving metrics");
    Ok(())
}

/// Reads one request and answers it, then closes the connection.
async fn answer<F, Fut>(mut stream: TcpStream, scrape: &F, ui: &Ui) -> std::io::Result<()>
where
    F: Fn() -> Fut,
    Fut: Future<Output = Result<String>>,
{
    let head = match tokio::time::timeout(CLIENT_TIMEOUT, read_head(&mut stream)).await {
        Ok(Ok(head)) => head,
        _ => return Ok(()),
    };
    let (status, content_type, body) = match route(&head) {
        Route::Metrics => match scrape().await {
            Ok(body) => ("200 OK", CONTENT_TYPE, body),
            Err(e) => {
                let reason = one_line(&format!("{e:#}"));
                ui.warn(&format!("scrape failed: {reason}"));
                (
                    "503 Service Unavailable",
                    "text/plain; charset=utf-8",
                    format!("quota: scrape failed: {reason}\n"),
                )
            }
        },
        Route::Index => (
            "200 OK",
            "text/plain; charset=utf-8",
            "quota metrics: see /metrics\n".to_string(),
        ),
        Route::NotFound => (
            "404 Not Found",
            "text/plain; charset=utf-8",
            "not found: quota serves /metrics\n".to_string(),
        ),
        Route::BadMethod => (
            "405 Method Not Allowed",
            "text/plain; charset=utf-8",
            "only GET is served\n".to_string(),
        ),
    };
    let head_only = head.starts_with("HEAD ");
    let response = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{}",
        body.len(),
        if head_only { "" } else { body.as_str() }
    );
    let write = async {
        stream.write_all(response.as_bytes()).await?;
        stream.shutdown().await
    };
    tokio::time::timeout(CLIENT_TIMEOUT, write)
        .await
        .unwrap_or(Ok(()))
}

/// The request head (up to the blank line), at most [`MAX_REQUEST`] bytes.
async fn read_head(stream: &mut TcpStream) -> std::io::Result<String> {
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 1024];
    while !buf.windows(4).any(|w| w == b"\r\n\r\n") && buf.len() < MAX_REQUEST {
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    Ok(String::from_utf8_lossy(&buf).into_owned())
}

#[derive(Debug, PartialEq, Eq)]
enum Route {
    Metrics,
    Index,
    NotFound,
    BadMethod,
}

fn route(head: &str) -> Route {
    let mut parts = head.lines().next().unwrap_or_default().split_whitespace();
    let (method, target) = (
        parts.next().unwrap_or_default(),
        parts.next().unwrap_or_default(),
    );
    if method != "GET" && method != "HEAD" {
        return Route::BadMethod;
    }
    match target.split('?').next().unwrap_or_default() {
        "/metrics" => Route::Metrics,
        "/" => Route::Index,
        _ => Route::NotFound,
    }
}

/// The reason on one line.
fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes() {
        assert_eq!(route("GET /metrics HTTP/1.1\r\n\r\n"), Route::Metrics);
        assert_eq!(route("GET /metrics?x=1 HTTP/1.1\r\n"), Route::Metrics);
        assert_eq!(route("GET / HTTP/1.0\r\n"), Route::Index);
        assert_eq!(route("GET /other HTTP/1.1\r\n"), Route::NotFound);
        assert_eq!(route("POST /metrics HTTP/1.1\r\n"), Route::BadMethod);
        assert_eq!(route(""), Route::BadMethod);
        assert_eq!(one_line("a\n  b"), "a b");
    }
}
