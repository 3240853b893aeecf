//! A room of phones against `cargo xtask serve`: many clients fetching the
//! page (and the model) at once over loopback, each on its own connection,
//! with the bytes on the wire and the time to serve them all. The load test
//! (`serve`'s tests) and `cargo xtask bench room` share it.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

/// What one GET brought back.
#[derive(Debug)]
pub struct Fetched {
    /// The status code.
    pub status: u16,
    /// The headers, names in lower case.
    pub headers: Vec<(String, String)>,
    /// The body as sent (compressed when `content-encoding` says so).
    pub body: Vec<u8>,
    /// Bytes read from the socket: status line, headers and body.
    pub wire_bytes: u64,
}

impl Fetched {
    /// A header's value, by lower-case name.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(key, _)| key == name).map(|(_, value)| value.as_str())
    }
}

/// GETs `path` over a new HTTP/1.1 connection, with `headers` (name, value).
/// Every read and write gives up after `timeout`, so a stuck server fails
/// the caller rather than hanging it.
pub fn get(addr: SocketAddr, path: &str, headers: &[(&str, &str)], timeout: Duration) -> Result<Fetched, String> {
    let failed = |error: std::io::Error| format!("GET {path}: {error}");
    let mut stream = TcpStream::connect_timeout(&addr, timeout).map_err(failed)?;
    stream.set_read_timeout(Some(timeout)).map_err(failed)?;
    stream.set_write_timeout(Some(timeout)).map_err(failed)?;
    let mut request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    stream.write_all(request.as_bytes()).map_err(failed)?;
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    reader.read_line(&mut line).map_err(failed)?;
    let mut wire_bytes = line.len() as u64;
    let status = line.split_whitespace().nth(1).and_then(|code| code.parse().ok()).ok_or_else(|| format!("GET {path}: no status line in {line:?}"))?;
    let mut headers = Vec::new();
    loop {
        line.clear();
        reader.read_line(&mut line).map_err(failed)?;
        wire_bytes += line.len() as u64;
        let text = line.trim_end();
        if text.is_empty() {
            break;
        }
        if let Some((name, value)) = text.split_once(':') {
            headers.push((name.trim().to_ascii_lowercase(), value.trim().to_owned()));
        }
    }
    let mut body = Vec::new();
    reader.read_to_end(&mut body).map_err(failed)?;
    wire_bytes += body.len() as u64;
    let fetched = Fetched { status, headers, body, wire_bytes };
    if let Some(length) = fetched.header("content-length").and_then(|length| length.parse::<usize>().ok()) {
        if status != 304 && length != fetched.body.len() {
            return Err(format!("GET {path}: {} bytes of the {length} announced", fetched.body.len()));
        }
    }
    Ok(fetched)
}

/// What a room of `clients` fetching `paths` at once took.
#[derive(Debug)]
pub struct RoomRun {
    /// From the first connection to the last byte.
    pub elapsed: Duration,
    /// Bytes on the wire, all clients together.
    pub wire_bytes: u64,
    /// Every answer, client by client, path by path.
    pub answers: Vec<Vec<Fetched>>,
}

/// `clients` threads, started together, each GETting every path in turn.
pub fn room(addr: SocketAddr, clients: usize, paths: &[&str], headers: &[(&str, &str)], timeout: Duration) -> Result<RoomRun, String> {
    let start = std::sync::Barrier::new(clients + 1);
    let began = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..clients)
            .map(|_| {
                let start = &start;
                scope.spawn(move || {
                    start.wait();
                    paths.iter().map(|path| get(addr, path, headers, timeout)).collect::<Result<Vec<_>, String>>()
                })
            })
            .collect();
        start.wait();
        let began = Instant::now();
        let answers = handles.into_iter().map(|handle| handle.join().map_err(|_| "a client panicked".to_owned())?).collect::<Result<Vec<_>, String>>();
        answers.map(|answers| (began.elapsed(), answers))
    });
    let (elapsed, answers) = began?;
    let wire_bytes = answers.iter().flatten().map(|answer| answer.wire_bytes).sum();
    Ok(RoomRun { elapsed, wire_bytes, answers })
}
