//! A minimal Lambda runtime API that only notes when a bootstrap first asks for work.
//!
//! Init time is what passes between exec and the first `GET …/invocation/next`: the
//! process has loaded, initialised its globals and is ready. Extension registrations
//! (rds-enrich registers one for SIGTERM) are answered as Lambda answers them, since they
//! are part of that init.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::mpsc::{channel, Receiver, Sender};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

type Waiter = Arc<Mutex<Option<Sender<Instant>>>>;

pub struct FakeRuntime {
    port: u16,
    waiter: Waiter,
}

pub struct Poll(Receiver<Instant>);

impl Poll {
    /// When the first `/next` poll arrived, if it did within `limit`.
    pub fn wait(self, limit: Duration) -> Option<Instant> {
        self.0.recv_timeout(limit).ok()
    }
}

impl FakeRuntime {
    pub fn start() -> std::io::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let port = listener.local_addr()?.port();
        let waiter: Waiter = Arc::new(Mutex::new(None));
        let shared = waiter.clone();
        thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let waiter = shared.clone();
                thread::spawn(move || serve(stream, waiter));
            }
        });
        Ok(Self { port, waiter })
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Arms the runtime: the next `/next` poll is reported to the returned `Poll`.
    pub fn expect_poll(&self) -> Poll {
        let (tx, rx) = channel();
        *self.waiter.lock().unwrap_or_else(|p| p.into_inner()) = Some(tx);
        Poll(rx)
    }
}

/// Serves one keep-alive connection until the client goes away.
fn serve(stream: TcpStream, waiter: Waiter) {
    let Ok(mut writer) = stream.try_clone() else {
        return;
    };
    let mut reader = BufReader::new(stream);
    loop {
        let mut request_line = String::new();
        if reader.read_line(&mut request_line).unwrap_or(0) == 0 {
            return;
        }
        let mut content_length = 0usize;
        loop {
            let mut header = String::new();
            if reader.read_line(&mut header).unwrap_or(0) == 0 {
                return;
            }
            if header == "\r\n" {
                break;
            }
            if let Some((name, value)) = header.split_once(':') {
                if name.eq_ignore_ascii_case("content-length") {
                    content_length = value.trim().parse().unwrap_or(0);
                }
            }
        }
        let mut body = vec![0; content_length];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        let path = request_line.split_whitespace().nth(1).unwrap_or("");
        if path.ends_with("/runtime/invocation/next") {
            let now = Instant::now();
            if let Some(tx) = waiter.lock().unwrap_or_else(|p| p.into_inner()).take() {
                let _ = tx.send(now);
            }
            return hold(reader); // no invocation: the bench kills the process
        } else if path.ends_with("/extension/register") {
            let body =
                r#"{"functionName":"bench","functionVersion":"$LATEST","handler":"bootstrap"}"#;
            let response = format!(
                "HTTP/1.1 200 OK\r\nLambda-Extension-Identifier: bench\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
                body.len()
            );
            if writer.write_all(response.as_bytes()).is_err() {
                return;
            }
        } else {
            // extension/event/next and anything else: long-poll forever, as Lambda does.
            return hold(reader);
        }
    }
}

/// Keeps a request pending until the client disconnects.
fn hold(mut reader: BufReader<TcpStream>) {
    let mut sink = [0u8; 256];
    while reader.read(&mut sink).unwrap_or(0) > 0 {}
}
