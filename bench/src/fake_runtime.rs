//! A minimal Lambda runtime API that notes when a bootstrap asks for work and, when given
//! events, hands them out and notes when each response comes back.
//!
//! Init time is what passes between exec and the end of init as Lambda counts it: the
//! runtime's first `GET …/invocation/next` and, if extensions registered (rds-enrich
//! registers one for SIGTERM), each one's first `GET …/extension/event/next`, whichever
//! comes last. Until then a `/next` is held, as Lambda holds it. With a script
//! (`expect_invocations`), each `/next` then gets the next event at once, so the cold
//! invocation is measured from exec to its response.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::mpsc::{channel, Receiver, Sender};
use std::sync::{Arc, Condvar, Mutex};
use std::thread;
use std::time::{Duration, Instant};

type Waiter = Arc<Mutex<Option<Sender<Instant>>>>;
type Script = Arc<Mutex<Option<Invocations>>>;
type Init = Arc<(Mutex<Extensions>, Condvar)>;

/// The extensions of the process being measured: how many registered, how many are ready
/// (have polled for events), and when the last one became ready.
#[derive(Default)]
struct Extensions {
    registered: usize,
    ready: usize,
    last_ready: Option<Instant>,
}

/// How long a runtime `/next` waits for registered extensions to poll, at most.
const EXTENSIONS_LIMIT: Duration = Duration::from_secs(5);

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
    init: Init,
}

pub struct Poll(Receiver<Instant>);

impl Poll {
    /// When init ended (the first `/next` and every registered extension's poll), if it
    /// did within `limit`.
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
        let init: Init = Arc::default();
        let server = Server {
            waiter: waiter.clone(),
            script: script.clone(),
            init: init.clone(),
        };
        // Each connection is served by a thread of a pool started before it arrived, and
        // threads are only added while the pool runs low: starting one takes tens of
        // microseconds, which would otherwise run beside the bootstrap being measured,
        // on the same two cores, for every connection it opens.
        let pool = Pool::start(server);
        thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                pool.serve(stream);
            }
        });
        Ok(Self {
            port,
            waiter,
            script,
            init,
        })
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// A new process is about to start: forget the last one's extensions.
    fn new_process(&self) {
        *self.init.0.lock().unwrap_or_else(|p| p.into_inner()) = Extensions::default();
    }

    /// Arms the runtime: the end of the next process's init is reported to the returned
    /// `Poll`.
    pub fn expect_poll(&self) -> Poll {
        self.new_process();
        let (tx, rx) = channel();
        *self.waiter.lock().unwrap_or_else(|p| p.into_inner()) = Some(tx);
        Poll(rx)
    }

    /// Arms the runtime with `events`: each `/next` gets the next one (then none: it is
    /// held), and every `/next` and response is reported, with its time, to the receiver.
    pub fn expect_invocations(&self, events: Vec<String>) -> Receiver<(Mark, Instant)> {
        self.new_process();
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

/// What every connection's thread shares.
#[derive(Clone)]
struct Server {
    waiter: Waiter,
    script: Script,
    init: Init,
}

impl Server {
    /// When init ended, for a runtime `/next` that arrived `at`: once every registered
    /// extension has polled for events (waiting for them, as Lambda does), the later of
    /// the two.
    fn init_end(&self, at: Instant) -> Instant {
        let (extensions, ready) = &*self.init;
        let extensions = extensions.lock().unwrap_or_else(|p| p.into_inner());
        let (extensions, _) = ready
            .wait_timeout_while(extensions, EXTENSIONS_LIMIT, |e| e.ready < e.registered)
            .unwrap_or_else(|p| p.into_inner());
        extensions.last_ready.map_or(at, |last| last.max(at))
    }

    fn extension_registered(&self) {
        self.init
            .0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .registered += 1;
    }

    fn extension_ready(&self) {
        let (extensions, ready) = &*self.init;
        let mut extensions = extensions.lock().unwrap_or_else(|p| p.into_inner());
        extensions.ready += 1;
        extensions.last_ready = Some(Instant::now());
        ready.notify_all();
    }
}

/// Threads waiting for connections to serve; each serves one until the client goes away,
/// then waits for the next.
struct Pool {
    connections: Sender<TcpStream>,
    queue: Arc<Mutex<Receiver<TcpStream>>>,
    idle: Arc<std::sync::atomic::AtomicUsize>,
    server: Server,
}

impl Pool {
    /// Idle threads kept ready: more than a bootstrap holds at once (a runtime poll and an
    /// extension's), so that in steady state none is started during a measurement.
    const READY: usize = 8;

    fn start(server: Server) -> Self {
        let (connections, queue) = channel();
        let pool = Self {
            connections,
            queue: Arc::new(Mutex::new(queue)),
            idle: Arc::default(),
            server,
        };
        for _ in 0..2 * Self::READY {
            pool.add_thread();
        }
        pool
    }

    fn add_thread(&self) {
        use std::sync::atomic::Ordering;
        let (queue, idle, server) = (self.queue.clone(), self.idle.clone(), self.server.clone());
        idle.fetch_add(1, Ordering::SeqCst);
        thread::spawn(move || loop {
            let next = queue.lock().unwrap_or_else(|p| p.into_inner()).recv();
            let Ok(stream) = next else { return };
            idle.fetch_sub(1, Ordering::SeqCst);
            serve(stream, server.clone());
            idle.fetch_add(1, Ordering::SeqCst);
        });
    }

    fn serve(&self, stream: TcpStream) {
        use std::sync::atomic::Ordering;
        if self.connections.send(stream).is_ok() && self.idle.load(Ordering::SeqCst) < Self::READY {
            self.add_thread();
        }
    }
}

/// Serves one keep-alive connection until the client goes away.
fn serve(stream: TcpStream, server: Server) {
    let Server { waiter, script, .. } = server.clone();
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
            let now = server.init_end(Instant::now());
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
            server.extension_registered();
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
            if path.ends_with("/extension/event/next") {
                server.extension_ready();
            }
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

#[cfg(test)]
mod tests {
    use super::FakeRuntime;
    use std::io::{Read, Write};
    use std::net::TcpStream;
    use std::time::{Duration, Instant};

    fn send(stream: &mut TcpStream, request_line: &str) {
        let request = format!("{request_line} HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n");
        stream.write_all(request.as_bytes()).unwrap();
    }

    fn connect(runtime: &FakeRuntime) -> TcpStream {
        TcpStream::connect(runtime.url().trim_start_matches("http://")).unwrap()
    }

    #[test]
    fn init_ends_with_the_runtime_poll_when_no_extension_registered() {
        let runtime = FakeRuntime::start().unwrap();
        let poll = runtime.expect_poll();
        let sent = Instant::now();
        send(
            &mut connect(&runtime),
            "GET /2018-06-01/runtime/invocation/next",
        );
        let at = poll.wait(Duration::from_secs(5)).unwrap();
        assert!(at >= sent);
    }

    #[test]
    fn init_ends_when_the_registered_extension_polls_too() {
        let runtime = FakeRuntime::start().unwrap();
        let poll = runtime.expect_poll();
        let mut extension = connect(&runtime);
        send(&mut extension, "POST /2020-01-01/extension/register");
        let mut answer = [0u8; 512];
        let read = extension.read(&mut answer).unwrap();
        assert!(String::from_utf8_lossy(&answer[..read]).contains("Lambda-Extension-Identifier"));

        send(
            &mut connect(&runtime),
            "GET /2018-06-01/runtime/invocation/next",
        );
        let early = poll.0.recv_timeout(Duration::from_millis(300));
        assert!(early.is_err(), "init ended before the extension polled");

        let polled = Instant::now();
        send(&mut extension, "GET /2020-01-01/extension/event/next");
        let at = poll.wait(Duration::from_secs(5)).unwrap();
        assert!(
            at >= polled,
            "init ended at the runtime's poll, not the extension's"
        );
    }
}
