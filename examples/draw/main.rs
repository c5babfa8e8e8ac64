//! A page to draw a digit on, served by this binary, which has the trained convolutional network
//! compiled in (`#[weights]` in `src/lib.rs`): no model file is read at run time.
//!
//! ```sh
//! cargo run --release --example draw                # then open http://127.0.0.1:8080
//! cargo run --release --example draw -- --port 9000
//! ```
//!
//! It listens on the loopback address only, unless `--host` says otherwise.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use minitorch_draw::{Settings, serve};

/// Serve a page to draw a digit on; a network compiled into this binary reads it.
#[derive(Parser)]
struct Arguments {
    /// Port to listen on.
    #[arg(long, default_value_t = 8080)]
    port: u16,
    /// Address to listen on; the default keeps the page on this machine (`0.0.0.0` opens it to
    /// the network).
    #[arg(long, default_value = "127.0.0.1")]
    host: String,
    /// Copies of the network, each classifying one request at a time.
    #[arg(long, default_value_t = 4)]
    workers: usize,
    /// Connections open at once, each on its own thread; more are answered 503 at once.
    #[arg(long, default_value_t = 2048)]
    connections: usize,
    /// Folder with the MNIST files, for the page's demo mode (`/?demo=N` redraws test image N).
    #[arg(long, default_value = concat!(env!("CARGO_MANIFEST_DIR"), "/../../data/mnist"))]
    data_dir: PathBuf,
}

fn main() -> ExitCode {
    let arguments = Arguments::parse();
    let address = format!("{}:{}", arguments.host, arguments.port);
    let listener = match TcpListener::bind(&address) {
        Ok(listener) => listener,
        Err(error) => {
            eprintln!(
                "error: cannot listen on {address}: {error} (is another server on that port? try --port)"
            );
            return ExitCode::FAILURE;
        }
    };
    println!("serving http://{address}/ (Ctrl-C stops)");
    let settings =
        Settings { workers: arguments.workers.max(1), connections: 2048, data_dir: arguments.data_dir };
    serve(listener, settings);
    ExitCode::SUCCESS
}
