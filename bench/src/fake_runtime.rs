//! A minimal Lambda runtime API that notes when a bootstrap asks for work and, when given
//! events, hands them out and notes when each response comes back.
//!
//! Init time is what passes between exec and the first `GET …/invocation/next`: the
//! process has loaded, initialised its globals and is ready. Extension registrations
//! (rds-enrich registers one for SIGTERM) are answered as Lambda answers them, since they
//! are part of that init. With a script (`expect_invocations`), each `/next` gets the next
//! event at once, so the cold invocation is measured from exec to its response.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::mpsc::{channel, Receiver, Sender};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

type Waiter = Arc<Mutex<Option<Sender<Instant>>>>;
type Script = Arc<Mutex<Option<Invocations>>>;

/// What the runtime API saw, in order, with when.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Mark {
    Next,
    Response,
    Error,
}

/// The events still to hand out, and where to report each request.
struct Invocations {
    events: std::collections::VecDeque<String>,
    marks: Sender<(Mark, Instant)>,
}

pub struct FakeRuntime {
    port: u16,
    waiter: Waiter,
    script: Script,
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
        let script: Script = Arc::new(Mutex::new(None));
        let (shared, scripted) = (waiter.clone(), script.clone());
        // Each connection is served by a thread started before it arrived: starting one
        // takes tens of microseconds, which would count in the init times measured.
        thread::spawn(move || {
            let mut spare = spare_server(&shared, &scripted);
            for stream in listener.incoming().flatten() {
                let _ = spare.send(stream);
                spare = spare_server(&shared, &scripted);
            }
        });
        Ok(Self {
            port,
            waiter,
            script,
        })
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

    /// Arms the runtime with `events`: each `/next` gets the next one (then none: it is
    /// held), and every `/next` and response is reported, with its time, to the receiver.
    pub fn expect_invocations(&self, events: Vec<String>) -> Receiver<(Mark, Instant)> {
        let (marks, rx) = channel();
        *self.script.lock().unwrap_or_else(|p| p.into_inner()) = Some(Invocations {
            events: events.into(),
            marks,
        });
        rx
    }

    /// Forgets the script: later requests are held and reported nowhere.
    pub fn disarm(&self) {
        *self.script.lock().unwrap_or_else(|p| p.into_inner()) = None;
    }
}

/// The event for this `/next`, if a script is armed and has one left (reporting the poll).
fn next_event(script: &Script, at: Instant) -> Option<String> {
    let mut script = script.lock().unwrap_or_else(|p| p.into_inner());
    let invocations = script.as_mut()?;
    let _ = invocations.marks.send((Mark::Next, at));
    invocations.events.pop_front()
}

fn report(script: &Script, mark: Mark, at: Instant) {
    if let Some(invocations) = script.lock().unwrap_or_else(|p| p.into_inner()).as_ref() {
        let _ = invocations.marks.send((mark, at));
    }
}

/// An invocation as Lambda hands it out: the event, its id, and a deadline 30 s away.
fn invocation_response(event: &str) -> String {
    let deadline_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis())
        + 30_000;
    format!(
        "HTTP/1.1 200 OK\r\nLambda-Runtime-Aws-Request-Id: bench-request\r\n\
         Lambda-Runtime-Deadline-Ms: {deadline_ms}\r\n\
         Lambda-Runtime-Invoked-Function-Arn: arn:aws:lambda:us-east-1:000000000000:function:bench\r\n\
         Lambda-Runtime-Trace-Id: Root=1-00000000-000000000000000000000000\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{event}",
        event.len()
    )
}

/// A thread waiting to serve the next connection.
fn spare_server(waiter: &Waiter, script: &Script) -> Sender<TcpStream> {
    let (tx, rx) = channel::<TcpStream>();
    let (waiter, script) = (waiter.clone(), script.clone());
    thread::spawn(move || {
        if let Ok(stream) = rx.recv() {
            serve(stream, waiter, script);
        }
    });
    tx
}

/// Serves one keep-alive connection until the client goes away.
fn serve(stream: TcpStream, waiter: Waiter, script: Script) {
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
            match next_event(&script, now) {
                Some(event) => {
                    if writer
                        .write_all(invocation_response(&event).as_bytes())
                        .is_err()
                    {
                        return;
                    }
                }
                None => return hold(reader), // no invocation: the bench kills the process
            }
        } else if path.ends_with("/response") || path.ends_with("/error") {
            let mark = match path.ends_with("/error") {
                true => Mark::Error,
                false => Mark::Response,
            };
            report(&script, mark, Instant::now());
            let accepted = "HTTP/1.1 202 Accepted\r\nContent-Length: 0\r\n\r\n";
            if writer.write_all(accepted.as_bytes()).is_err() {
                return;
            }
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
