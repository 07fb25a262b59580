//! A TCP proxy on 127.0.0.1 (in front of MariaDB or moto) that can silence the flows it carries, as
//! an idle NAT/VPC flow timeout or a failed-over host does: bytes stop, nothing is reset,
//! and new flows still get through.
//!
//! It counts the function's connections that are still open, and when the function closes
//! one it closes the server's side too, so the server's count shows what the function holds.
//! It can also delay every chunk (a network round trip on loopback) and count the requests
//! that contain a pattern (e.g. KMS Decrypt calls on their way to moto).

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

const FORWARD: u8 = 0;
const SILENT: u8 = 1;
/// Forward the next result set's header (the column count and the column definitions),
/// then fall silent: the driver has started a result and waits for ever for its rows.
const SILENT_AFTER_RESULT_HEADER: u8 = 2;

pub struct TestProxy {
    addr: SocketAddr,
    shared: Arc<Shared>,
}

#[derive(Default)]
struct Shared {
    flows: Mutex<Vec<Arc<Flow>>>,
    open_clients: AtomicUsize,
    peak_clients: AtomicUsize,
    stopped: AtomicBool,
    /// Added to every chunk, each way.
    one_way: Duration,
    /// Client chunks containing this, counted.
    pattern: Option<Vec<u8>>,
    matches: AtomicUsize,
    /// Keep every byte each client sent (`requests`).
    record: bool,
}

struct Flow {
    mode: AtomicU8,
    client: TcpStream,
    server: TcpStream,
    /// What the client sent, when the proxy records.
    sent: Mutex<Vec<u8>>,
}

impl Flow {
    fn close(&self) {
        let _ = self.client.shutdown(Shutdown::Both);
        let _ = self.server.shutdown(Shutdown::Both);
    }
}

impl TestProxy {
    /// Listens on 127.0.0.1 (a free port) and forwards to `upstream`.
    pub fn start(upstream: SocketAddr) -> Self {
        Self::start_with(upstream, Shared::default())
    }

    /// Adds `one_way` to every chunk in each direction.
    pub fn with_delay(upstream: SocketAddr, one_way: Duration) -> Self {
        Self::start_with(
            upstream,
            Shared {
                one_way,
                ..Shared::default()
            },
        )
    }

    /// Counts the client's requests that contain `pattern`.
    pub fn counting(upstream: SocketAddr, pattern: &str) -> Self {
        let pattern = Some(pattern.as_bytes().to_vec());
        Self::start_with(
            upstream,
            Shared {
                pattern,
                ..Shared::default()
            },
        )
    }

    /// Keeps what clients send, for `requests` (e.g. in front of moto), and adds `one_way`
    /// to every chunk in each direction.
    pub fn recording(upstream: SocketAddr, one_way: Duration) -> Self {
        let record = true;
        Self::start_with(
            upstream,
            Shared {
                record,
                one_way,
                ..Shared::default()
            },
        )
    }

    /// The HTTP requests clients sent through a recording proxy: each one's request line
    /// and headers (names lowercased), in order per connection.
    pub fn requests(&self) -> Vec<(String, std::collections::HashMap<String, String>)> {
        let flows = self.shared.flows.lock().unwrap();
        let mut requests = Vec::new();
        for flow in flows.iter() {
            let sent = flow.sent.lock().unwrap();
            let mut rest: &[u8] = &sent;
            while let Some(end) = rest.windows(4).position(|w| w == b"\r\n\r\n") {
                let head = String::from_utf8_lossy(&rest[..end]).into_owned();
                let mut lines = head.split("\r\n");
                let line = lines.next().unwrap_or_default().to_string();
                let headers: std::collections::HashMap<String, String> = lines
                    .filter_map(|l| l.split_once(':'))
                    .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
                    .collect();
                let length: usize = headers
                    .get("content-length")
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(0);
                rest = rest.get(end + 4 + length..).unwrap_or_default();
                requests.push((line, headers));
            }
        }
        requests
    }

    /// How many client chunks contained the pattern.
    pub fn matches(&self) -> usize {
        self.shared.matches.load(Ordering::SeqCst)
    }

    fn start_with(upstream: SocketAddr, shared: Shared) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let shared = Arc::new(shared);
        let state = shared.clone();
        thread::spawn(move || {
            for client in listener.incoming() {
                if state.stopped.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(client) = client else { continue };
                let Ok(server) = TcpStream::connect(upstream) else {
                    continue; // the client sees its connection closed, as with a dead server
                };
                let _ = client.set_nodelay(true);
                let _ = server.set_nodelay(true);
                let flow = Arc::new(Flow {
                    mode: AtomicU8::new(FORWARD),
                    client,
                    server,
                    sent: Mutex::default(),
                });
                let open = state.open_clients.fetch_add(1, Ordering::SeqCst) + 1;
                state.peak_clients.fetch_max(open, Ordering::SeqCst);
                state.flows.lock().unwrap().push(flow.clone());
                let (up, shared) = (flow.clone(), state.clone());
                thread::spawn(move || client_to_server(&up, &shared));
                let one_way = state.one_way;
                thread::spawn(move || server_to_client(&flow, one_way));
            }
        });
        Self { addr, shared }
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Every flow open now stops carrying bytes, both ways (new flows are not affected).
    pub fn silence_open_flows(&self) {
        self.set_open_flows(SILENT);
    }

    /// Every flow open now carries the header of the next result set, then stops.
    pub fn silence_open_flows_after_result_header(&self) {
        self.set_open_flows(SILENT_AFTER_RESULT_HEADER);
    }

    /// The oldest flow still open carries the header of the next result set, then stops:
    /// the first connection the function made (its lowest slot) hangs in its next query.
    pub fn silence_oldest_flow_after_result_header(&self) {
        if let Some(flow) = self.shared.flows.lock().unwrap().first() {
            flow.mode
                .store(SILENT_AFTER_RESULT_HEADER, Ordering::SeqCst);
        }
    }

    fn set_open_flows(&self, mode: u8) {
        for flow in self.shared.flows.lock().unwrap().iter() {
            flow.mode.store(mode, Ordering::SeqCst);
        }
    }

    /// The most connections that were open through the proxy at once.
    pub fn peak_clients(&self) -> usize {
        self.shared.peak_clients.load(Ordering::SeqCst)
    }

    /// The function's connections through the proxy that it has not closed.
    pub fn open_clients(&self) -> usize {
        self.shared.open_clients.load(Ordering::SeqCst)
    }
}

impl Drop for TestProxy {
    fn drop(&mut self) {
        self.shared.stopped.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(self.addr); // wakes the accept loop
        for flow in self.shared.flows.lock().unwrap().drain(..) {
            flow.close();
        }
    }
}

/// Client bytes go to the server unless the flow is silent (then they are read and lost,
/// as a black hole loses packets). When the client closes, the server's side is closed.
fn client_to_server(flow: &Flow, shared: &Shared) {
    let (mut from, mut to) = (&flow.client, &flow.server);
    let mut buf = [0u8; 16 * 1024];
    loop {
        match from.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                let chunk = &buf[..n];
                if shared.record {
                    flow.sent.lock().unwrap().extend_from_slice(chunk);
                }
                if let Some(pattern) = &shared.pattern {
                    if chunk
                        .windows(pattern.len())
                        .any(|w| w == pattern.as_slice())
                    {
                        shared.matches.fetch_add(1, Ordering::SeqCst);
                    }
                }
                thread::sleep(shared.one_way);
                if flow.mode.load(Ordering::SeqCst) != SILENT && to.write_all(chunk).is_err() {
                    break;
                }
            }
        }
    }
    shared.open_clients.fetch_sub(1, Ordering::SeqCst);
    flow.close();
}

/// Server bytes go to the client, packet by packet when the flow is to fall silent after
/// a result set's header.
fn server_to_client(flow: &Flow, one_way: Duration) {
    let (mut from, mut to) = (&flow.server, &flow.client);
    let mut buf = [0u8; 16 * 1024];
    let mut pending: Vec<u8> = Vec::new();
    // Packets of the result header still to forward, once its column count is known.
    let mut header_left: Option<usize> = None;
    loop {
        let n = match from.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        match flow.mode.load(Ordering::SeqCst) {
            FORWARD => {
                thread::sleep(one_way);
                if to.write_all(&buf[..n]).is_err() {
                    break;
                }
            }
            SILENT_AFTER_RESULT_HEADER => {
                pending.extend_from_slice(&buf[..n]);
                // MySQL packets: 3-byte little-endian length, sequence id, payload. A result
                // set starts with its column count (one byte below 0xFB for few columns),
                // then one packet per column definition (no EOF: CLIENT_DEPRECATE_EOF).
                while pending.len() >= 4 {
                    let len = usize::from(pending[0])
                        | usize::from(pending[1]) << 8
                        | usize::from(pending[2]) << 16;
                    if pending.len() < 4 + len {
                        break;
                    }
                    let packet: Vec<u8> = pending.drain(..4 + len).collect();
                    let left = header_left.unwrap_or_else(|| usize::from(packet[4].min(0xFA)));
                    if to.write_all(&packet).is_err() {
                        return;
                    }
                    if left == 0 {
                        flow.mode.store(SILENT, Ordering::SeqCst);
                        pending.clear();
                        break;
                    }
                    header_left = Some(left - 1);
                }
            }
            _ => {} // silent: the bytes are lost
        }
    }
    // The server closed: pass it on, unless the flow is silent.
    if flow.mode.load(Ordering::SeqCst) == FORWARD {
        let _ = flow.client.shutdown(Shutdown::Both);
    }
}
