//! The accept loop shared by the admin API and the static file server: a bounded
//! number of connections, each with a deadline for reading its request and writing
//! the answer, one request per connection.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, Semaphore};

use super::http::{self, Request, RequestError, Response, HEAD_MAX_BYTES};

#[derive(Clone, Copy, Debug)]
pub struct ServerLimits {
    /// Connections served at once; more are answered 503 and closed.
    pub connections_max: usize,
    /// To receive the whole request (head and body) after accepting.
    pub read_timeout: Duration,
    /// To hand the whole answer to the kernel.
    pub write_timeout: Duration,
}

impl Default for ServerLimits {
    fn default() -> Self {
        Self { connections_max: 32, read_timeout: Duration::from_secs(5), write_timeout: Duration::from_secs(5) }
    }
}

/// Accept until `shutdown` is true (or its sender is gone), answering each request
/// with `handle`. Connections in flight finish within their deadlines.
pub async fn run<H, F>(listener: TcpListener, limits: ServerLimits, mut shutdown: watch::Receiver<bool>, handle: H)
where
    H: Fn(Request) -> F + Clone + Send + Sync + 'static,
    F: Future<Output = Response> + Send + 'static,
{
    let slots = Arc::new(Semaphore::new(limits.connections_max));
    loop {
        if *shutdown.borrow_and_update() {
            return;
        }
        let accepted = tokio::select! {
            changed = shutdown.changed() => {
                if changed.is_err() {
                    return;
                }
                continue;
            }
            accepted = listener.accept() => accepted,
        };
        let stream = match accepted {
            Ok((stream, _)) => stream,
            Err(error) => {
                // Out of file descriptors, usually: back off rather than spin.
                tracing::warn!(%error, "admin port: cannot accept a connection");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let Ok(permit) = slots.clone().try_acquire_owned() else {
            let busy = Response::error(503, "unavailable", "too many admin connections; retry in a moment");
            // Best effort, without waiting: the point is not to hold anything for it.
            let _ = stream.try_write(&busy.to_bytes(false));
            continue;
        };
        let handle = handle.clone();
        tokio::spawn(async move {
            serve_connection(stream, limits, handle).await;
            drop(permit);
        });
    }
}

async fn serve_connection<H, F>(mut stream: TcpStream, limits: ServerLimits, handle: H)
where
    H: Fn(Request) -> F,
    F: Future<Output = Response>,
{
    let (response, head_only) = match tokio::time::timeout(limits.read_timeout, read_request(&mut stream)).await {
        Err(_) => (Response::error(408, "timeout", "the request did not arrive in time"), false),
        Ok(Err(error)) => (error.response(), false),
        Ok(Ok(None)) => return,
        Ok(Ok(Some(request))) => {
            let head_only = request.method == http::Method::Head;
            (handle(request).await, head_only)
        }
    };
    let bytes = response.to_bytes(head_only);
    let write = async {
        stream.write_all(&bytes).await?;
        stream.shutdown().await
    };
    if let Err(error) = tokio::time::timeout(limits.write_timeout, write).await.unwrap_or_else(|_| {
        Err(std::io::Error::new(std::io::ErrorKind::TimedOut, "the client did not read the answer in time"))
    }) {
        tracing::debug!(%error, "admin port: answer not delivered");
        return;
    }
    // An answer sent before the whole request was read (413, 400) would be lost to a
    // reset if unread bytes remained at close: drain a little until the client closes.
    let _ = tokio::time::timeout(LINGER, drain(&mut stream)).await;
}

/// How long a connection may linger after its answer, waiting for the client to close.
const LINGER: Duration = Duration::from_secs(1);
const LINGER_MAX_BYTES: usize = 64 * 1024;

async fn drain(stream: &mut TcpStream) {
    let mut chunk = [0u8; 4096];
    let mut drained = 0;
    while drained < LINGER_MAX_BYTES {
        match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => return,
            Ok(read) => drained += read,
        }
    }
}

/// Read one request: its head, then its body (discarded). `None` when the peer
/// closed without sending anything.
pub async fn read_request<S: AsyncReadExt + Unpin>(stream: &mut S) -> Result<Option<Request>, RequestError> {
    let mut buffer = Vec::with_capacity(1024);
    let mut chunk = [0u8; 1024];
    let head_length = loop {
        if let Some(end) = http::head_end(&buffer) {
            break end;
        }
        if buffer.len() >= HEAD_MAX_BYTES {
            return Err(RequestError::TooLarge(format!("the request head is over {HEAD_MAX_BYTES} bytes")));
        }
        let read = stream.read(&mut chunk).await.map_err(|error| RequestError::Malformed(error.to_string()))?;
        if read == 0 {
            if buffer.is_empty() {
                return Ok(None);
            }
            return Err(RequestError::Malformed("the connection closed in the middle of the request".into()));
        }
        buffer.extend_from_slice(&chunk[..read]);
    };
    if head_length > HEAD_MAX_BYTES {
        return Err(RequestError::TooLarge(format!("the request head is over {HEAD_MAX_BYTES} bytes")));
    }
    let request = http::parse_head(&buffer[..head_length])?;
    // Read the body so that closing does not reset the connection under the answer.
    let mut body_left = request.content_length.saturating_sub(buffer.len() - head_length);
    while body_left > 0 {
        let read = stream.read(&mut chunk).await.map_err(|error| RequestError::Malformed(error.to_string()))?;
        if read == 0 {
            return Err(RequestError::Malformed("the connection closed in the middle of the body".into()));
        }
        body_left = body_left.saturating_sub(read);
    }
    Ok(Some(request))
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    /// Send raw bytes to `address`, half-close, and read the whole answer.
    pub async fn exchange(address: std::net::SocketAddr, request: &[u8]) -> String {
        let mut stream = TcpStream::connect(address).await.expect("connects");
        stream.write_all(request).await.expect("sends");
        let _ = stream.shutdown().await;
        let mut answer = Vec::new();
        let _ = stream.read_to_end(&mut answer).await;
        String::from_utf8_lossy(&answer).into_owned()
    }

    /// The answer's status code and body.
    pub fn split_answer(answer: &str) -> (u16, &str) {
        let status = answer.get(9..12).and_then(|code| code.parse().ok()).unwrap_or(0);
        let body = answer.split_once("\r\n\r\n").map_or("", |(_, body)| body);
        (status, body)
    }

    async fn echo_server(
        limits: ServerLimits,
    ) -> (std::net::SocketAddr, watch::Sender<bool>, tokio::task::JoinHandle<()>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let (shutdown_tx, shutdown_rx) = watch::channel(false);
        let task = tokio::spawn(run(listener, limits, shutdown_rx, |request: Request| async move {
            Response::new(200, "text/plain", format!("{} {}", request.path, request.query))
        }));
        (address, shutdown_tx, task)
    }

    #[tokio::test]
    async fn requests_are_answered_and_garbage_refused() {
        let (address, shutdown, task) = echo_server(ServerLimits::default()).await;
        let answer = exchange(address, b"GET /a?b=c HTTP/1.1\r\nHost: x\r\n\r\n").await;
        assert_eq!(split_answer(&answer), (200, "/a b=c"));
        let answer = exchange(address, b"POST /a HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello").await;
        assert_eq!(split_answer(&answer), (200, "/a "));
        let answer = exchange(address, b"\x00\x01garbage\r\n\r\n").await;
        assert_eq!(split_answer(&answer).0, 400);
        // Partial: the peer closes before the blank line.
        let answer = exchange(address, b"GET /a HTTP/1.1\r\nHost: x\r\n").await;
        assert_eq!(split_answer(&answer).0, 400);
        let answer = exchange(address, b"POST /a HTTP/1.1\r\nContent-Length: 10\r\n\r\nshort").await;
        assert_eq!(split_answer(&answer).0, 400);
        let mut oversized = b"GET /a HTTP/1.1\r\n".to_vec();
        oversized.extend(std::iter::repeat_n(b'x', HEAD_MAX_BYTES + 10));
        let answer = exchange(address, &oversized).await;
        assert_eq!(split_answer(&answer).0, 413);
        // An empty connection gets no answer, and the server goes on.
        assert_eq!(exchange(address, b"").await, "");
        assert_eq!(split_answer(&exchange(address, b"GET /z HTTP/1.1\r\n\r\n").await).0, 200);
        shutdown.send(true).unwrap();
        tokio::time::timeout(Duration::from_secs(2), task).await.expect("stops on shutdown").unwrap();
    }

    #[tokio::test]
    async fn a_silent_client_times_out_and_extra_connections_are_turned_away() {
        let limits = ServerLimits {
            connections_max: 1,
            read_timeout: Duration::from_millis(300),
            write_timeout: Duration::from_secs(1),
        };
        let (address, _shutdown, _task) = echo_server(limits).await;
        let mut silent = TcpStream::connect(address).await.unwrap();
        silent.write_all(b"GET /a HTTP/1.1\r\n").await.unwrap();
        tokio::time::sleep(Duration::from_millis(50)).await;
        // The one slot is taken: the next connection is told so at once.
        let answer = exchange(address, b"GET /a HTTP/1.1\r\n\r\n").await;
        assert_eq!(split_answer(&answer).0, 503);
        let mut answer = Vec::new();
        silent.read_to_end(&mut answer).await.unwrap();
        assert_eq!(split_answer(&String::from_utf8_lossy(&answer)).0, 408);
        drop(silent);
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert_eq!(split_answer(&exchange(address, b"GET /a HTTP/1.1\r\n\r\n").await).0, 200);
    }

    #[tokio::test]
    async fn a_dropped_shutdown_sender_stops_the_server() {
        let (_address, shutdown, task) = echo_server(ServerLimits::default()).await;
        drop(shutdown);
        tokio::time::timeout(Duration::from_secs(2), task).await.expect("stops").unwrap();
    }
}
