//! The drawing page's server: HTTP/1.1 on `std::net` alone, classifying with the convolutional
//! network the library ships compiled in (`minitorch::models::MnistCnn`).
//!
//! Routes:
//! - `GET /` — the page (`src/page.html`): a canvas to draw on, the digit read and a bar per
//!   class, and the 28 × 28 image the network saw.
//! - `POST /classify` — the body is a PNG or PGM picture of one digit, any size and either
//!   polarity; the answer is JSON: `{"digit": 7, "probabilities": [...], "pixels": [...784],
//!   "preprocessing": "inverted, 280×280 → 28×28 (…)"}`.
//! - `GET /strokes?index=N` — pen strokes that redraw test image `N` on the page's canvas, for the
//!   page's demo mode (`/?demo=N`) that the browser check uses.
//!
//! A request the server cannot serve gets a 4xx (503 when it is full) and a JSON body of one
//! line, `{"error": "…"}`; nothing a client sends can stop the server, and clients that send
//! nothing, or a byte at a time, cannot hold it up for others. Each connection has a thread of
//! its own, so an idle client holds only its own thread; it has 10 s from connecting to send its
//! whole request and 10 s to take the answer. The network's copies are lent to one request at a
//! time. Limits, which bound the server's memory: the connections open at once (more get 503),
//! a request head of 16 KB, a body of 4 MB, and 64 MB of bodies held across all connections
//! (counted as bytes arrive, so a slow sender holds only what it has sent).
//!
//! Tests: the unit tests at the end of this file (requests in, JSON out, bad requests refused,
//! a burst of concurrent clients, a normal request answered while hundreds of clients idle or
//! send a byte at a time).
//!
//! ```
//! use minitorch::models::MnistCnn;
//! use minitorch_draw::{Settings, read_request, respond};
//! let settings = Settings { workers: 1, connections: 1, data_dir: "data/mnist".into() };
//! // A white 3×3 PGM: a blank drawing, refused with a reason.
//! let request = read_request(&b"POST /classify HTTP/1.1\r\nContent-Length: 20\r\n\r\nP5 3 3 255\n\xff\xff\xff\xff\xff\xff\xff\xff\xff"[..]).unwrap();
//! let response = respond(&request, &mut MnistCnn::pretrained(), &settings);
//! assert_eq!(response.status, 422);
//! assert!(String::from_utf8(response.body).unwrap().contains("no digit"));
//! ```

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::time::{Duration, Instant};

use minitorch::data::{find_mnist_files, read_idx_images};
use minitorch::image::GrayImage;
use minitorch::models::MnistCnn as Classifier;
use minitorch::prelude::*;

/// The page, served from the binary.
const PAGE: &str = include_str!("page.html");
/// The longest request head (request line and headers) read.
const MAX_HEAD: usize = 16 * 1024;
/// The largest body accepted: a drawing is a few kilobytes, a photo a few megabytes.
const MAX_BODY: usize = 4 * 1024 * 1024;
/// The bytes of bodies held at once, across all connections.
const MAX_BODIES: usize = 64 * 1024 * 1024;
/// How long a client may take to send its whole request, and to take the answer.
const TIMEOUT: Duration = Duration::from_secs(10);
/// Each connection's thread: it parses, classifies with a lent network and writes the answer;
/// 256 KB is several times what that takes, and only the part used is ever mapped in.
const CONNECTION_STACK: usize = 256 * 1024;
/// The bytes of request bodies held now, by every server of the process.
static BODIES: Budget = Budget { held: AtomicUsize::new(0), limit: MAX_BODIES };

/// Bytes that bodies may hold at once: taken as they arrive, given back when a body is dropped.
#[derive(Debug)]
struct Budget {
    held: AtomicUsize,
    limit: usize,
}

impl Budget {
    /// Takes `bytes`, or nothing if that would hold more than the limit.
    fn take(&self, bytes: usize) -> bool {
        if self.held.fetch_add(bytes, Ordering::SeqCst) + bytes > self.limit {
            self.held.fetch_sub(bytes, Ordering::SeqCst);
            return false;
        }
        true
    }
}

/// How the server runs.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Copies of the network, each lent to one request at a time.
    pub workers: usize,
    /// Connections open at once, each with its own thread; more are answered 503 at once.
    pub connections: usize,
    /// The MNIST files, for `/strokes`.
    pub data_dir: PathBuf,
}

/// An answer: status, content type and body.
#[derive(Debug, Clone, PartialEq)]
pub struct Response {
    /// The HTTP status code.
    pub status: u16,
    /// The `Content-Type`.
    pub content_type: &'static str,
    /// The body.
    pub body: Vec<u8>,
}

impl Response {
    fn json(status: u16, body: String) -> Self {
        Self { status, content_type: "application/json", body: body.into_bytes() }
    }

    /// A refusal: `status` and `{"error": reason}`.
    fn error(status: u16, reason: &str) -> Self {
        let escaped: String = reason
            .chars()
            .flat_map(|c| match c {
                '"' | '\\' => vec!['\\', c],
                c if c.is_control() => vec![' '],
                c => vec![c],
            })
            .collect();
        Self::json(status, format!("{{\"error\": \"{escaped}\"}}\n"))
    }
}

/// A parsed request.
#[derive(Debug)]
pub struct Request {
    /// `GET`, `POST`, …
    pub method: String,
    /// The path, with its query.
    pub target: String,
    /// The body (empty without `Content-Length`).
    pub body: Body,
}

/// A request's body, counted in the bytes of bodies the process holds until it is dropped.
#[derive(Debug)]
pub struct Body {
    bytes: Vec<u8>,
    budget: &'static Budget,
}

impl Body {
    /// Reads `length` bytes from `reader`, taking each part from `budget` as it arrives.
    fn read(reader: &mut impl Read, length: usize, budget: &'static Budget) -> Result<Self, Response> {
        let mut body = Body { bytes: Vec::new(), budget };
        let mut part = [0; 8 * 1024];
        while body.len() < length {
            let wanted = part.len().min(length - body.len());
            let read = match reader.read(&mut part[..wanted]) {
                Ok(0) => return Err(Response::error(400, "the body is shorter than its Content-Length")),
                Ok(read) => read,
                Err(error) if error.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(error) => return Err(Response::error(408, &error.to_string())),
            };
            if !budget.take(read) {
                return Err(Response::error(503, "busy: too many uploads at once, try again"));
            }
            body.bytes.extend_from_slice(&part[..read]);
        }
        Ok(body)
    }
}

impl std::ops::Deref for Body {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        &self.bytes
    }
}

impl Drop for Body {
    fn drop(&mut self) {
        self.budget.held.fetch_sub(self.bytes.len(), Ordering::SeqCst);
    }
}

/// Reads one request from `stream`; a request that cannot be served is the response that
/// refuses it.
pub fn read_request(stream: impl Read) -> Result<Request, Response> {
    let mut reader = BufReader::new(stream);
    let mut head = Vec::new();
    // The head ends with an empty line; each line ends with LF (CRLF by the standard).
    loop {
        // At most one byte past the limit, so that a line that never ends cannot stall us.
        let limit = (MAX_HEAD + 1).saturating_sub(head.len()) as u64;
        let read = (&mut reader)
            .take(limit)
            .read_until(b'\n', &mut head)
            .map_err(|e| Response::error(408, &e.to_string()))?;
        if head.len() > MAX_HEAD {
            return Err(Response::error(431, "the request head is longer than 16 KB"));
        }
        if read == 0 {
            return Err(Response::error(400, "the connection closed before the request ended"));
        }
        if head.ends_with(b"\n\r\n") || head.ends_with(b"\n\n") || head == b"\r\n" {
            break;
        }
    }
    let head = String::from_utf8(head).map_err(|_| Response::error(400, "the request head is not UTF-8"))?;
    let mut lines = head.lines();
    let mut request_line = lines.next().unwrap_or_default().split_whitespace();
    let (Some(method), Some(target), Some(version)) =
        (request_line.next(), request_line.next(), request_line.next())
    else {
        return Err(Response::error(400, "the request line is not `METHOD PATH HTTP/1.x`"));
    };
    if !version.starts_with("HTTP/1.") {
        return Err(Response::error(505, "only HTTP/1.x is served"));
    }
    let mut length = 0;
    for line in lines {
        let Some((name, value)) = line.split_once(':') else { continue };
        if name.eq_ignore_ascii_case("content-length") {
            length =
                value.trim().parse().map_err(|_| Response::error(400, "Content-Length is not a number"))?;
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            return Err(Response::error(411, "send the body with a Content-Length, not chunked"));
        }
    }
    if length > MAX_BODY {
        return Err(Response::error(413, "the body is larger than 4 MB"));
    }
    let body = Body::read(&mut reader, length, &BODIES)?;
    Ok(Request { method: method.to_string(), target: target.to_string(), body })
}

/// The answer to `request`.
pub fn respond(request: &Request, classifier: &mut Classifier, settings: &Settings) -> Response {
    let (path, query) = request.target.split_once('?').unwrap_or((&request.target, ""));
    match (request.method.as_str(), path) {
        ("GET", "/") => Response { status: 200, content_type: "text/html; charset=utf-8", body: PAGE.into() },
        ("POST", "/classify") => classify(&request.body, classifier),
        ("GET", "/strokes") => strokes(query, &settings.data_dir),
        (_, "/" | "/classify" | "/strokes") => Response::error(405, "method not allowed here"),
        _ => Response::error(404, "no such page"),
    }
}

/// Classifies a picture: preprocessing as MNIST was made, then the network.
fn classify(body: &[u8], classifier: &mut Classifier) -> Response {
    if body.is_empty() {
        return Response::error(400, "the body is empty: send a PNG or PGM picture");
    }
    let digit = match GrayImage::decode(body, "the body").and_then(|image| image.to_mnist()) {
        Ok(digit) => digit,
        Err(error) => return Response::error(422, &error.to_string()),
    };
    let input = match digit.to_input() {
        Ok(input) => input,
        Err(error) => return Response::error(500, &error.to_string()),
    };
    let logits = match classifier.forward(&input) {
        Ok(logits) => logits,
        Err(error) => return Response::error(500, &error.to_string()),
    };
    let predicted = predicted_classes(logits).next().unwrap_or_default();
    let probabilities: Vec<String> = softmax(logits).iter().map(|p| format!("{p:.5}")).collect();
    let pixels: Vec<String> = digit.pixels.iter().map(u8::to_string).collect();
    Response::json(
        200,
        format!(
            "{{\"digit\": {predicted}, \"probabilities\": [{}], \"pixels\": [{}], \"preprocessing\": \"{digit}\"}}\n",
            probabilities.join(", "),
            pixels.join(",")
        ),
    )
}

/// Pen strokes, in the page's 280 × 280 canvas, that redraw test image `index=N`: one horizontal
/// stroke per run of dark-enough pixels in each row, 10 canvas pixels per image pixel.
fn strokes(query: &str, data_dir: &Path) -> Response {
    let index =
        query.split('&').find_map(|pair| pair.strip_prefix("index=")).and_then(|n| n.parse::<usize>().ok());
    let Some(index) = index else { return Response::error(400, "give the test image as ?index=N") };
    let images = find_mnist_files(data_dir).and_then(|[.., test_images, _]| read_idx_images(&test_images));
    let images = match images {
        Ok(images) => images,
        Err(error) => return Response::error(500, &error.to_string()),
    };
    if index >= images.count {
        return Response::error(404, &format!("the test set has {} images", images.count));
    }
    let image = &images.pixels[index * 784..(index + 1) * 784];
    let mut strokes = Vec::new();
    for (y, row) in image.chunks_exact(28).enumerate() {
        // The row's runs of dark pixels and of light ones, one after another.
        let mut x = 0;
        for run in row.chunk_by(|a, b| (*a >= 128) == (*b >= 128)) {
            if run[0] >= 128 {
                let (y, start, end) = (y * 10 + 5, x * 10 + 5, (x + run.len() - 1) * 10 + 5);
                strokes.push(format!("[{start}, {y}, {end}, {y}]"));
            }
            x += run.len();
        }
    }
    Response::json(200, format!("[{}]\n", strokes.join(", ")))
}

/// Writes `response` and closes the connection, reading what the client still sends for at most
/// `linger` (not at all if it is zero).
fn send(mut stream: TcpStream, response: &Response, linger: Duration) {
    let reason = match response.status {
        200 => "OK",
        400 => "Bad Request",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        411 => "Length Required",
        413 => "Content Too Large",
        422 => "Unprocessable Content",
        431 => "Request Header Fields Too Large",
        503 => "Service Unavailable",
        505 => "HTTP Version Not Supported",
        _ => "Error",
    };
    let head = format!(
        "HTTP/1.1 {} {reason}\r\nContent-Type: {}\r\nContent-Length: {}\r\nCache-Control: no-store\r\nConnection: close\r\n\r\n",
        response.status,
        response.content_type,
        response.body.len()
    );
    // A client that went away gets nothing; the server goes on.
    let _ = stream.write_all(head.as_bytes()).and_then(|()| stream.write_all(&response.body));
    // Closing a socket with unread input makes the kernel send a reset, which can reach the
    // client before the answer does (a refused upload is refused before its body is read). So:
    // say that nothing more comes, and read what the client still sends, for a short while.
    let _ = stream.shutdown(std::net::Shutdown::Write);
    if !linger.is_zero() {
        let _ = stream.set_read_timeout(Some(linger));
        let _ = std::io::copy(&mut (&stream).take((MAX_HEAD + MAX_BODY) as u64), &mut std::io::sink());
    }
}

/// Serves connections from `listener` until the process ends.
pub fn serve(listener: TcpListener, settings: Settings) {
    let networks = Arc::new(Networks::new(settings.workers.max(1)));
    let settings = Arc::new(settings);
    let open = Arc::new(AtomicUsize::new(0));
    for stream in listener.incoming() {
        let Ok(stream) = stream else { continue };
        if open.fetch_add(1, Ordering::SeqCst) >= settings.connections {
            open.fetch_sub(1, Ordering::SeqCst);
            refuse_at_once(stream);
            continue;
        }
        let (networks, settings, still_open) =
            (Arc::clone(&networks), Arc::clone(&settings), Arc::clone(&open));
        let connection = move || {
            answer(stream, &networks, &settings);
            still_open.fetch_sub(1, Ordering::SeqCst);
        };
        if std::thread::Builder::new().stack_size(CONNECTION_STACK).spawn(connection).is_err() {
            // The system has no thread to give; the connection was dropped with the closure.
            open.fetch_sub(1, Ordering::SeqCst);
        }
    }
}

/// Reads one request from `stream` within [`TIMEOUT`] of its arrival, answers it and closes.
fn answer(stream: TcpStream, networks: &Networks, settings: &Settings) {
    let _ = stream.set_write_timeout(Some(TIMEOUT));
    let deadline = Instant::now() + TIMEOUT;
    let response = match read_request(Deadline { stream: &stream, deadline }) {
        Ok(request) => networks.lend(|classifier| respond(&request, classifier, settings)),
        Err(refusal) => refusal,
    };
    send(stream, &response, Duration::from_secs(1));
}

/// Turns a connection away on the accepting thread, without waiting for the client: the
/// answer goes out if the socket takes it at once.
fn refuse_at_once(stream: TcpStream) {
    let response = Response::error(503, "busy: too many connections at once, try again");
    let _ = stream.set_nonblocking(true);
    send(stream, &response, Duration::ZERO);
}

/// A stream whose reads fail once `deadline` has passed, however the client paces its bytes.
struct Deadline<'a> {
    stream: &'a TcpStream,
    deadline: Instant,
}

impl Read for Deadline<'_> {
    fn read(&mut self, buffer: &mut [u8]) -> std::io::Result<usize> {
        use std::io::ErrorKind::{TimedOut, WouldBlock};
        let too_late = || {
            let message = format!("the request took longer than {} s", TIMEOUT.as_secs());
            std::io::Error::new(TimedOut, message)
        };
        let left = self.deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(too_late());
        }
        self.stream.set_read_timeout(Some(left))?;
        // A read that times out says `WouldBlock` on Unix and `TimedOut` on Windows.
        self.stream
            .read(buffer)
            .map_err(|error| if matches!(error.kind(), TimedOut | WouldBlock) { too_late() } else { error })
    }
}

/// The copies of the network, lent to one request at a time.
struct Networks {
    idle: Mutex<Vec<Classifier>>,
    returned: Condvar,
}

impl Networks {
    fn new(copies: usize) -> Self {
        Self {
            idle: Mutex::new((0..copies).map(|_| Classifier::pretrained()).collect()),
            returned: Condvar::new(),
        }
    }

    /// Runs `work` with a copy, waiting for one to come back if all are lent.
    fn lend<R>(&self, work: impl FnOnce(&mut Classifier) -> R) -> R {
        let mut idle = self.idle.lock().unwrap_or_else(PoisonError::into_inner);
        let mut classifier = loop {
            match idle.pop() {
                Some(classifier) => break classifier,
                None => idle = self.returned.wait(idle).unwrap_or_else(PoisonError::into_inner),
            }
        };
        drop(idle);
        let result = work(&mut classifier);
        self.idle.lock().unwrap_or_else(PoisonError::into_inner).push(classifier);
        self.returned.notify_one();
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    fn settings() -> Settings {
        Settings {
            workers: 2,
            connections: 64,
            data_dir: Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data/mnist"),
        }
    }

    /// A server on a free loopback port, for the rest of the test process.
    fn start() -> std::net::SocketAddr {
        start_with(settings())
    }

    fn start_with(settings: Settings) -> std::net::SocketAddr {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap();
        std::thread::spawn(move || serve(listener, settings));
        address
    }

    /// Sends `raw` bytes and returns the status and body of the answer.
    fn exchange(address: std::net::SocketAddr, raw: &[u8]) -> (u16, String) {
        let mut stream = TcpStream::connect(address).unwrap();
        stream.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        stream.write_all(raw).unwrap();
        // Nothing more comes: a body shorter than its Content-Length is refused at once rather
        // than after the server's timeout.
        stream.shutdown(std::net::Shutdown::Write).unwrap();
        let mut answer = String::new();
        stream.read_to_string(&mut answer).unwrap();
        let status = answer[9..12].parse().unwrap();
        let body = answer.split_once("\r\n\r\n").unwrap().1.to_string();
        (status, body)
    }

    fn post(address: std::net::SocketAddr, body: &[u8]) -> (u16, String) {
        let mut raw = format!("POST /classify HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n", body.len())
            .into_bytes();
        raw.extend(body);
        exchange(address, &raw)
    }

    #[test]
    fn bodies_held_at_once_stay_within_the_budget_and_give_it_back_when_dropped() {
        let budget: &'static Budget = Box::leak(Box::new(Budget { held: AtomicUsize::new(0), limit: 100 }));
        let read = |length: usize| Body::read(&mut &vec![7u8; length][..], length, budget);
        let first = read(60).unwrap();
        let second = read(40).unwrap();
        assert_eq!((first.len(), second.len(), budget.held.load(Ordering::SeqCst)), (60, 40, 100));
        // One more byte is one too many, and a refused body takes nothing.
        assert_eq!(read(1).map(|body| body.len()).unwrap_err().status, 503);
        assert_eq!(budget.held.load(Ordering::SeqCst), 100);
        drop(first);
        assert_eq!(read(60).map(|body| body.len()), Ok(60));
        assert_eq!(budget.held.load(Ordering::SeqCst), 40);
        // Arriving in parts, a body is counted part by part: 8 KB parts against a 10 KB limit.
        let budget: &'static Budget =
            Box::leak(Box::new(Budget { held: AtomicUsize::new(0), limit: 10_000 }));
        let refused = Body::read(&mut &[1u8; 20_000][..], 20_000, budget).map(|body| body.len());
        assert_eq!((refused.unwrap_err().status, budget.held.load(Ordering::SeqCst)), (503, 0));
        // The process's budget is 64 MB.
        assert_eq!(BODIES.limit, 64 << 20);
    }

    #[test]
    fn heads_and_bodies_up_to_their_limits_are_read_and_one_byte_more_refused() {
        let head = |length: usize| {
            let start = b"GET / HTTP/1.1\r\nX: ".as_slice();
            [start, &vec![b'a'; length - start.len() - 4], b"\r\n\r\n"].concat()
        };
        assert_eq!(head(16_384).len(), 16_384);
        assert!(read_request(&head(16_384)[..]).is_ok());
        assert_eq!(read_request(&head(16_385)[..]).unwrap_err().status, 431);
        let post = |length: usize| {
            let head = format!("POST /classify HTTP/1.1\r\nContent-Length: {length}\r\n\r\n");
            read_request([head.as_bytes(), &vec![9; length]].concat().as_slice())
                .map(|request| request.body.len())
        };
        assert_eq!(post(4 << 20), Ok(4 << 20));
        assert_eq!(post((4 << 20) + 1).unwrap_err().status, 413);
    }

    #[test]
    fn a_request_is_read_to_its_content_length_with_crlf_or_bare_lf_lines() {
        let request =
            read_request(&b"POST /classify HTTP/1.1\r\nContent-Length: 3\r\n\r\nabcdef"[..]).unwrap();
        assert_eq!(
            (request.method.as_str(), request.target.as_str(), &*request.body),
            ("POST", "/classify", &b"abc"[..])
        );
        let request = read_request(&b"GET /strokes?index=3 HTTP/1.0\nHost: x\n\n"[..]).unwrap();
        assert_eq!(
            (request.method.as_str(), request.target.as_str(), request.body.len()),
            ("GET", "/strokes?index=3", 0)
        );
    }

    /// Reads `bytes`, after first failing once with `error`.
    struct FailingOnce<'a> {
        error: Option<std::io::ErrorKind>,
        bytes: &'a [u8],
    }

    impl Read for FailingOnce<'_> {
        fn read(&mut self, buffer: &mut [u8]) -> std::io::Result<usize> {
            match self.error.take() {
                Some(kind) => Err(kind.into()),
                None => self.bytes.read(buffer),
            }
        }
    }

    /// Reads `bytes` two at a time, as a slow client's packets arrive.
    struct TwoAtATime<'a>(&'a [u8]);

    impl Read for TwoAtATime<'_> {
        fn read(&mut self, buffer: &mut [u8]) -> std::io::Result<usize> {
            let length = buffer.len().min(2);
            self.0.read(&mut buffer[..length])
        }
    }

    #[test]
    fn a_body_arriving_in_pieces_is_read_to_its_length_and_no_further() {
        let body = Body::read(&mut TwoAtATime(b"abcdefgh"), 5, &BODIES).unwrap();
        assert_eq!(&*body, b"abcde");
    }

    #[test]
    fn a_body_read_is_retried_when_interrupted_and_refused_when_the_client_stalls() {
        let read = |kind| Body::read(&mut FailingOnce { error: Some(kind), bytes: b"abc" }, 3, &BODIES);
        assert_eq!(read(std::io::ErrorKind::Interrupted).map(|body| body.to_vec()), Ok(b"abc".to_vec()));
        assert_eq!(read(std::io::ErrorKind::TimedOut).map(|body| body.len()).unwrap_err().status, 408);
    }

    #[test]
    fn refusals_are_one_line_of_json_whatever_their_reason_holds() {
        let response = Response::error(400, "a \"quoted\" \\ path\nand\ta tab");
        assert_eq!(response.content_type, "application/json");
        assert_eq!(
            String::from_utf8(response.body).unwrap(),
            "{\"error\": \"a \\\"quoted\\\" \\\\ path and a tab\"}\n"
        );
    }

    /// Test image `index` as a black-on-white PGM twice its size, as a paint program saves it.
    fn test_image_pgm(index: usize) -> Vec<u8> {
        let [.., test_images, _] = find_mnist_files(&settings().data_dir).unwrap();
        let images = read_idx_images(&test_images).unwrap();
        let image = &images.pixels[index * 784..(index + 1) * 784];
        let mut pgm = b"P5 56 56 255\n".to_vec();
        pgm.extend((0..56 * 56).map(|i| 255 - image[(i / 56 / 2) * 28 + i % 56 / 2]));
        pgm
    }

    #[test]
    fn a_picture_in_json_out() {
        let address = start();
        let (status, body) = post(address, &test_image_pgm(0));
        assert_eq!(status, 200, "{body}");
        assert!(body.starts_with("{\"digit\": 7, \"probabilities\": ["), "{body}");
        assert!(body.contains("\"preprocessing\": \"inverted, 56×56 → 28×28"), "{body}");
        let pixels = body.split("\"pixels\": [").nth(1).unwrap().split(']').next().unwrap();
        assert_eq!(pixels.split(',').count(), 784);
    }

    #[test]
    fn the_page_and_the_strokes_are_served() {
        let address = start();
        let (status, page) = exchange(address, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n");
        assert_eq!(status, 200);
        assert!(page.contains("<canvas"), "{page}");
        let (status, strokes) = exchange(address, b"GET /strokes?index=0 HTTP/1.1\r\n\r\n");
        assert_eq!(status, 200);
        assert!(strokes.starts_with("[[") && strokes.matches('[').count() > 10, "{strokes}");
        let (status, _) = exchange(address, b"GET /strokes?index=10000 HTTP/1.1\r\n\r\n");
        assert_eq!(status, 404);
    }

    #[test]
    fn after_its_answer_a_client_is_still_read_from_for_a_while_rather_than_reset() {
        let mut stream = TcpStream::connect(start()).unwrap();
        stream.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        stream.write_all(b"POST /classify HTTP/1.1\r\nContent-Length: 99999999\r\n\r\n").unwrap();
        let mut answer = String::new();
        stream.read_to_string(&mut answer).unwrap();
        assert!(answer.starts_with("HTTP/1.1 413 "), "{answer}");
        // The refused body is still coming: a socket closed with it unread would answer it with
        // a reset, which on some systems destroys the answer the client has not read yet.
        for part in 0..4 {
            std::thread::sleep(Duration::from_millis(25));
            stream.write_all(&[0; 1024]).unwrap_or_else(|error| panic!("part {part}: {error}"));
        }
    }

    #[test]
    fn a_refused_client_that_goes_on_sending_is_cut_off_after_a_bounded_amount() {
        let mut stream = TcpStream::connect(start()).unwrap();
        stream.set_write_timeout(Some(Duration::from_secs(30))).unwrap();
        stream.write_all(b"POST /classify HTTP/1.1\r\nContent-Length: 99999999\r\n\r\n").unwrap();
        // The server reads at most 4 MB and 16 KB after its answer; what the sockets' buffers
        // take beyond that is a few megabytes on loopback.
        let chunk = vec![0; 64 * 1024];
        let sent = (0..512).take_while(|_| stream.write_all(&chunk).is_ok()).count() * chunk.len();
        assert!(sent < 32 << 20, "the server took all of {sent} bytes");
    }

    #[test]
    fn the_strokes_cover_exactly_the_dark_pixels_of_their_image() {
        let [.., test_images, _] = find_mnist_files(&settings().data_dir).unwrap();
        let images = read_idx_images(&test_images).unwrap();
        // An image beyond the first with a pixel at the threshold itself, 128.
        let index =
            (1..images.count).find(|&i| images.pixels[i * 784..(i + 1) * 784].contains(&128)).unwrap();
        let response = strokes(&format!("index={index}"), &settings().data_dir);
        let strokes: Vec<[usize; 4]> = stroke_numbers(&String::from_utf8(response.body).unwrap());
        let mut drawn = vec![false; 784];
        for [start, y, end, same_y] in strokes {
            assert_eq!(
                (y, same_y, start % 10, end % 10),
                (same_y, y, 5, 5),
                "a row's stroke through pixel centres"
            );
            (start / 10..=end / 10).for_each(|x| drawn[y / 10 * 28 + x] = true);
        }
        let dark: Vec<bool> =
            images.pixels[index * 784..(index + 1) * 784].iter().map(|&p| p >= 128).collect();
        assert_eq!(drawn, dark, "image {index}");
    }

    /// The numbers of `[[a, b, c, d], ...]`, four at a time.
    fn stroke_numbers(text: &str) -> Vec<[usize; 4]> {
        let numbers: Vec<usize> = text
            .split(|c: char| !c.is_ascii_digit())
            .filter(|n| !n.is_empty())
            .map(|n| n.parse().unwrap())
            .collect();
        numbers.chunks_exact(4).map(|n| [n[0], n[1], n[2], n[3]]).collect()
    }

    #[test]
    fn bad_requests_get_a_4xx_and_one_line() {
        let address = start();
        let cases: [(&[u8], u16, &str); 9] = [
            (b"POST /classify HTTP/1.1\r\nContent-Length: 0\r\n\r\n", 400, "the body is empty"),
            (b"POST /classify HTTP/1.1\r\nContent-Length: 9\r\n\r\nnot image", 422, "not a PNG or PGM"),
            (
                b"POST /classify HTTP/1.1\r\nContent-Length: 13\r\n\r\nP5 0 4 255\n\0\0",
                422,
                "the image is empty",
            ),
            (b"POST /classify HTTP/1.1\r\nContent-Length: 99999999\r\n\r\n", 413, "larger than 4 MB"),
            (b"POST /classify HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n", 411, "Content-Length"),
            (b"POST /classify HTTP/1.1\r\nContent-Length: 20\r\n\r\nshort", 400, "shorter than"),
            (b"GET /classify HTTP/1.1\r\n\r\n", 405, "method not allowed"),
            (b"GET /etc/passwd HTTP/1.1\r\n\r\n", 404, "no such page"),
            (b"hello\r\n\r\n", 400, "request line"),
        ];
        for (raw, expected, reason) in cases {
            let (status, body) = exchange(address, raw);
            assert_eq!(status, expected, "{}: {body}", String::from_utf8_lossy(raw));
            assert!(body.contains(reason) && body.lines().count() == 1, "{body}");
        }
        // A blank drawing: a white page.
        let (status, body) = post(address, &[b"P5 20 20 255\n".as_slice(), &[255; 400]].concat());
        assert_eq!((status, body.contains("no digit")), (422, true), "{body}");
        // A head that never ends is cut at 16 KB.
        let (status, _) = exchange(address, &[b"GET / HTTP/1.1\r\nX: ".as_slice(), &[b'a'; 20_000]].concat());
        assert_eq!(status, 431);
        // And the server still answers.
        assert_eq!(post(address, &test_image_pgm(1)).0, 200);
    }

    #[test]
    fn a_burst_of_concurrent_clients_is_answered() {
        let address = start();
        let picture = Arc::new(test_image_pgm(2));
        let clients: Vec<_> = (0..48)
            .map(|_| {
                let picture = Arc::clone(&picture);
                std::thread::spawn(move || post(address, &picture))
            })
            .collect();
        let statuses: Vec<u16> = clients.into_iter().map(|client| client.join().unwrap().0).collect();
        // Every client got an answer: a classification, or 503 when the queue was full.
        assert!(statuses.iter().all(|&status| status == 200 || status == 503), "{statuses:?}");
        assert!(statuses.iter().filter(|&&status| status == 200).count() >= 16, "{statuses:?}");
        assert_eq!(post(address, &picture).0, 200, "the server answers after the burst");
    }

    #[test]
    fn a_request_is_answered_while_hundreds_of_clients_idle_or_send_a_byte_at_a_time() {
        // 400 connections: the test process holds both ends of each, within the usual limit of
        // 1,024 open files.
        let address = start_with(Settings { connections: 512, ..settings() });
        let idle: Vec<TcpStream> = (0..200).map(|_| TcpStream::connect(address).unwrap()).collect();
        let mut slow: Vec<TcpStream> = (0..200).map(|_| TcpStream::connect(address).unwrap()).collect();
        for (step, byte) in b"POST /classify HTTP/1.1\r\n".iter().take(3).enumerate() {
            for stream in &mut slow {
                stream.write_all(&[*byte]).unwrap();
            }
            if step == 0 {
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        let asked = Instant::now();
        let (status, body) = post(address, &test_image_pgm(3));
        // Well within the 10 s every one of the others may take: nobody waited for them.
        assert!(asked.elapsed() < Duration::from_secs(5), "answered after {:?}", asked.elapsed());
        assert_eq!(status, 200, "{body}");
        assert_eq!(exchange(address, b"GET / HTTP/1.1\r\n\r\n").0, 200);
        drop((idle, slow));
    }

    #[test]
    fn more_connections_than_allowed_are_refused_at_once() {
        let address = start_with(Settings { connections: 2, ..settings() });
        let _held = [TcpStream::connect(address).unwrap(), TcpStream::connect(address).unwrap()];
        // Until the server has counted both, a third may still get through; then it is refused.
        let refused = (0..100).find_map(|_| {
            let (status, body) = exchange(address, b"GET / HTTP/1.1\r\n\r\n");
            std::thread::sleep(Duration::from_millis(10));
            (status == 503).then_some(body)
        });
        assert!(refused.is_some_and(|body| body.contains("too many connections")));
    }

    #[test]
    fn a_client_that_sends_a_byte_at_a_time_is_cut_off_at_its_deadline() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let mut client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (server_side, _) = listener.accept().unwrap();
        // Every byte arrives well within a read timeout of 300 ms; the whole never does.
        let sender = std::thread::spawn(move || {
            for _ in 0..20 {
                if client.write_all(b"a").is_err() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        });
        let mut reader =
            Deadline { stream: &server_side, deadline: Instant::now() + Duration::from_millis(300) };
        let mut received = Vec::new();
        let error = reader.read_to_end(&mut received).unwrap_err();
        assert_eq!(error.kind(), std::io::ErrorKind::TimedOut, "{error}");
        assert!(received.len() < 20, "read {} bytes", received.len());
        sender.join().unwrap();
    }
}
