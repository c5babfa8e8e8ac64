//! The drawing page's server: HTTP/1.1 on `std::net` alone, a fixed pool of worker threads, each
//! with its own copy of the convolutional network that `net!` compiled in with `#[weights]`.
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
//! A request the server cannot serve gets a 4xx (5xx when it is busy) and a JSON body of one
//! line, `{"error": "…"}`; nothing a client sends can stop the server. Limits: headers 16 KB,
//! a body 4 MB, 10 s to send a request, and a bounded queue of connections waiting for a worker
//! (more are turned away with 503).
//!
//! Tests: the unit tests at the end of this file (requests in, JSON out, bad requests refused,
//! a burst of concurrent clients).
//!
//! ```
//! use minitorch_draw::{Classifier, Settings, read_request, respond};
//! let settings = Settings { workers: 1, queue: 1, data_dir: "data/mnist".into() };
//! // A white 3×3 PGM: a blank drawing, refused with a reason.
//! let request = read_request(&b"POST /classify HTTP/1.1\r\nContent-Length: 20\r\n\r\nP5 3 3 255\n\xff\xff\xff\xff\xff\xff\xff\xff\xff"[..]).unwrap();
//! let response = respond(&request, &mut Classifier::pretrained(), &settings);
//! assert_eq!(response.status, 422);
//! assert!(String::from_utf8(response.body).unwrap().contains("no digit"));
//! ```

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{SyncSender, TrySendError, sync_channel};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use minitorch::data::{Normalization, find_mnist_files, read_idx_images};
use minitorch::image::GrayImage;
use minitorch::prelude::*;

net! {
    /// The convolutional network as `cargo run --release --example mnist_mlp -- --arch cnn`
    /// trained it (seed 0, 3 epochs, Adam): 99.24% on the MNIST test set.
    #[weights = "../../models/mnist_cnn.safetensors"]
    pub struct Classifier< Input(1, 28, 28), Conv2d(1, 32, 5), ReLU, MaxPool2d(2), Conv2d(32, 64, 5), ReLU,
        MaxPool2d(2), Flatten, Linear(1024, 128), ReLU, Dropout(0.5), Linear(128, 10) >
}

/// The page, served from the binary.
const PAGE: &str = include_str!("page.html");
/// The longest request head (request line and headers) read.
const MAX_HEAD: usize = 16 * 1024;
/// The largest body accepted: a drawing is a few kilobytes, a photo a few megabytes.
const MAX_BODY: usize = 4 * 1024 * 1024;
/// How long a client may take to send its request, and to take the answer.
const TIMEOUT: Duration = Duration::from_secs(10);

/// How the server runs.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Worker threads, each classifying one request at a time.
    pub workers: usize,
    /// Connections that may wait for a worker; more are answered 503 at once.
    pub queue: usize,
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
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// `GET`, `POST`, …
    pub method: String,
    /// The path, with its query.
    pub target: String,
    /// The body (empty without `Content-Length`).
    pub body: Vec<u8>,
}

/// Reads one request from `stream`; a request that cannot be served is the response that
/// refuses it.
pub fn read_request(stream: impl Read) -> Result<Request, Response> {
    let mut reader = BufReader::new(stream.take((MAX_HEAD + MAX_BODY) as u64));
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
    let mut body = vec![0; length];
    reader
        .read_exact(&mut body)
        .map_err(|_| Response::error(400, "the body is shorter than its Content-Length"))?;
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
    let Normalization { mean, std } = Normalization::MNIST;
    let input =
        Batch::<784>::from_iterator(1, digit.pixels.iter().map(|&p| (f32::from(p) / 255.0 - mean) / std));
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
        let mut x = 0;
        while x < 28 {
            if row[x] < 128 {
                x += 1;
                continue;
            }
            let start = x;
            while x < 28 && row[x] >= 128 {
                x += 1;
            }
            let (y, start, end) = (y * 10 + 5, start * 10 + 5, (x - 1) * 10 + 5);
            strokes.push(format!("[{start}, {y}, {end}, {y}]"));
        }
    }
    Response::json(200, format!("[{}]\n", strokes.join(", ")))
}

/// Writes `response` and closes the connection, reading what the client still sends for at most
/// `linger`.
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
    let _ = stream.set_read_timeout(Some(linger));
    let _ = std::io::copy(&mut (&stream).take((MAX_HEAD + MAX_BODY) as u64), &mut std::io::sink());
}

/// Serves connections from `listener` until the process ends.
pub fn serve(listener: TcpListener, settings: Settings) {
    let (sender, receiver) = sync_channel::<TcpStream>(settings.queue);
    let receiver = Arc::new(Mutex::new(receiver));
    let settings = Arc::new(settings);
    for _ in 0..settings.workers.max(1) {
        let (receiver, settings) = (Arc::clone(&receiver), Arc::clone(&settings));
        std::thread::spawn(move || {
            let mut classifier = Classifier::pretrained();
            loop {
                // The lock is held only while waiting for the next connection.
                let next = receiver.lock().map(|receiver| receiver.recv());
                let Ok(Ok(stream)) = next else { return };
                let _ = stream.set_read_timeout(Some(TIMEOUT));
                let _ = stream.set_write_timeout(Some(TIMEOUT));
                let response = match stream.try_clone().map(read_request) {
                    Ok(Ok(request)) => respond(&request, &mut classifier, &settings),
                    Ok(Err(refusal)) => refusal,
                    Err(error) => Response::error(500, &error.to_string()),
                };
                send(stream, &response, Duration::from_secs(1));
            }
        });
    }
    accept(&listener, &sender);
}

/// Hands each connection to the workers, or turns it away when the queue is full.
fn accept(listener: &TcpListener, sender: &SyncSender<TcpStream>) {
    for stream in listener.incoming() {
        let Ok(stream) = stream else { continue };
        if let Err(TrySendError::Full(stream)) = sender.try_send(stream) {
            // On the accepting thread: a slow client may hold it only briefly.
            let brief = Duration::from_millis(100);
            let _ = stream.set_write_timeout(Some(brief));
            send(stream, &Response::error(503, "busy: too many requests at once, try again"), brief);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> Settings {
        Settings {
            workers: 2,
            queue: 16,
            data_dir: Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data/mnist"),
        }
    }

    /// A server on a free loopback port, for the rest of the test process.
    fn start() -> std::net::SocketAddr {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap();
        std::thread::spawn(move || serve(listener, settings()));
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
}
