//! Clients that hold a server's connections without completing requests, for the servers'
//! tests and the load test: idle connections (connected, nothing sent) and half-sent ones
//! (a request head declaring a large `Content-Length`, two body bytes, then silence).

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Connections held open against one server.
pub struct SlowClients {
    /// Connected, nothing sent.
    pub idle: Vec<TcpStream>,
    /// Request head and two body bytes sent, then nothing.
    pub half_sent: Vec<TcpStream>,
}

impl SlowClients {
    /// Opens `idle` idle connections, then `half_sent` half-sent `POST path` requests
    /// (declaring 1 GiB) to `addr`, pausing briefly after each 50.
    /// Each connect and write is bounded by 5 s.
    pub async fn open(
        addr: SocketAddr,
        idle: usize,
        half_sent: usize,
        path: &str,
    ) -> std::io::Result<SlowClients> {
        SlowClients::open_declaring(addr, idle, half_sent, path, 1 << 30).await
    }

    /// [`SlowClients::open`] with half-sent requests declaring `content_length` bytes (under
    /// a route's cap, so that the server waits for the body rather than refusing it).
    pub async fn open_declaring(
        addr: SocketAddr,
        idle: usize,
        half_sent: usize,
        path: &str,
        content_length: u64,
    ) -> std::io::Result<SlowClients> {
        let mut out = SlowClients {
            idle: Vec::with_capacity(idle),
            half_sent: Vec::with_capacity(half_sent),
        };
        for i in 0..idle {
            out.idle.push(connect(addr).await?);
            if i % 50 == 49 {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        }
        let head = format!(
            "POST {path} HTTP/1.1\r\nhost: {addr}\r\ncontent-type: application/json\r\ncontent-length: {content_length}\r\n\r\n{{\""
        );
        for i in 0..half_sent {
            let mut s = connect(addr).await?;
            // A server that already shed this connection may refuse the write: keep going.
            let _ =
                tokio::time::timeout(Duration::from_secs(5), s.write_all(head.as_bytes())).await;
            out.half_sent.push(s);
            if i % 50 == 49 {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        }
        Ok(out)
    }

    /// How many of the idle connections the server has closed (read returns end of file or
    /// an error), without waiting.
    pub fn idle_closed(&self) -> usize {
        self.idle.iter().filter(|s| closed(s)).count()
    }
}

/// One HTTP/1.1 request on a fresh connection (`Connection: close`), bounded by `timeout`
/// as a whole: the status code and the raw response body (chunk framing left in).
pub async fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    body: Option<(&str, &[u8])>,
    timeout: Duration,
) -> std::io::Result<(u16, Vec<u8>)> {
    let exchange = async {
        let mut s = TcpStream::connect(addr).await?;
        let mut req = format!("{method} {path} HTTP/1.1\r\nhost: {addr}\r\nconnection: close\r\n");
        if let Some((content_type, bytes)) = body {
            req.push_str(&format!(
                "content-type: {content_type}\r\ncontent-length: {}\r\n",
                bytes.len()
            ));
        }
        req.push_str("\r\n");
        let mut out = req.into_bytes();
        if let Some((_, bytes)) = body {
            out.extend_from_slice(bytes);
        }
        s.write_all(&out).await?;
        let mut response = Vec::new();
        s.read_to_end(&mut response).await?;
        Ok::<_, std::io::Error>(response)
    };
    let response = tokio::time::timeout(timeout, exchange)
        .await
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::TimedOut, "request timed out"))??;
    let bad = || std::io::Error::new(std::io::ErrorKind::InvalidData, "not an HTTP response");
    let head_end = response
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(bad)?;
    let status = std::str::from_utf8(&response[..head_end])
        .ok()
        .and_then(|head| head.split(' ').nth(1))
        .and_then(|code| code.parse::<u16>().ok())
        .ok_or_else(bad)?;
    Ok((status, response[head_end + 4..].to_vec()))
}

async fn connect(addr: SocketAddr) -> std::io::Result<TcpStream> {
    tokio::time::timeout(Duration::from_secs(5), TcpStream::connect(addr))
        .await
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::TimedOut, "connect timed out"))?
}

fn closed(s: &TcpStream) -> bool {
    let mut buf = [0u8; 1];
    match s.try_read(&mut buf) {
        Ok(0) => true,
        Ok(_) => false,
        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => false,
        Err(_) => true,
    }
}

/// Raises this process's soft open-file limit to its hard limit (tests and the load test hold
/// hundreds of sockets at both ends). Returns the soft limit in force afterwards.
pub fn raise_open_file_limit() -> u64 {
    // SAFETY: getrlimit/setrlimit read and write a plain struct owned by this frame.
    unsafe {
        let mut lim = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) != 0 {
            return 0;
        }
        if lim.rlim_cur < lim.rlim_max {
            let raised = libc::rlimit {
                rlim_cur: lim.rlim_max,
                rlim_max: lim.rlim_max,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &raised) == 0 {
                return raised.rlim_cur;
            }
        }
        lim.rlim_cur
    }
}

/// Latencies and failures of one kind of request in a load test.
#[derive(Debug, Default, Clone)]
pub struct Tally {
    latencies: Vec<Duration>,
    /// Requests that got no acceptable answer.
    pub failures: u64,
}

impl Tally {
    /// Records one request: how long it took and whether its answer was acceptable.
    pub fn record(&mut self, took: Duration, ok: bool) {
        if ok {
            self.latencies.push(took);
        } else {
            self.failures += 1;
        }
    }

    /// Adds another tally's records.
    pub fn merge(&mut self, other: Tally) {
        self.latencies.extend(other.latencies);
        self.failures += other.failures;
    }

    /// Answered requests.
    pub fn served(&self) -> usize {
        self.latencies.len()
    }

    /// The `q`-quantile latency (0 ≤ q ≤ 1) of the served requests.
    pub fn quantile(&self, q: f64) -> Duration {
        let mut sorted = self.latencies.clone();
        sorted.sort_unstable();
        match sorted.len() {
            0 => Duration::ZERO,
            n => sorted[((n - 1) as f64 * q.clamp(0.0, 1.0)).round() as usize],
        }
    }

    /// One line: served, failures, requests/s over `elapsed`, p50, p99 and max latency.
    pub fn line(&self, name: &str, elapsed: Duration) -> String {
        format!(
            "{name:<28} served {:>6}  failed {:>4}  {:>8.1} req/s  p50 {:>7.1} ms  p99 {:>7.1} ms  max {:>7.1} ms",
            self.served(),
            self.failures,
            self.served() as f64 / elapsed.as_secs_f64().max(1e-9),
            self.quantile(0.5).as_secs_f64() * 1e3,
            self.quantile(0.99).as_secs_f64() * 1e3,
            self.quantile(1.0).as_secs_f64() * 1e3,
        )
    }
}

/// The 1-, 5- and 15-minute load averages (`/proc/loadavg`), or "unknown".
pub fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".into())
}
