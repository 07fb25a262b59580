//! A TCP proxy on 127.0.0.1 that puts its target a network round trip away, as a database
//! is in a VPC: every chunk is released `one_way` after it arrived (in each direction, not
//! one after the other: chunks in flight overlap, as packets do), and a new connection's
//! first bytes from the server wait for the TCP handshake a real network would take.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

/// Listens on an ephemeral port and forwards to `target`, adding `one_way` per direction.
pub fn start(target: SocketAddr, one_way: Duration) -> std::io::Result<SocketAddr> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let addr = listener.local_addr()?;
    thread::spawn(move || {
        for client in listener.incoming().flatten() {
            thread::spawn(move || {
                // The kernel completed the client's handshake at once. On a network the
                // server's greeting reaches the client 2 round trips after the SYN: wait
                // 1.5 here, the greeting's own one-way delay adds the last half.
                sleep_until(Instant::now() + one_way * 3);
                let Ok(server) = TcpStream::connect(target) else {
                    return;
                };
                let _ = client.set_nodelay(true);
                let _ = server.set_nodelay(true);
                if let (Ok(c), Ok(s)) = (client.try_clone(), server.try_clone()) {
                    thread::spawn(move || pipe(c, s, one_way));
                    pipe(server, client, one_way);
                }
            });
        }
    });
    Ok(addr)
}

/// Copies `from` to `to`, each chunk released `delay` after it was read: a reader stamps
/// the chunks, a writer waits for each one's time.
fn pipe(mut from: TcpStream, mut to: TcpStream, delay: Duration) {
    let (tx, rx) = mpsc::channel::<(Instant, Vec<u8>)>();
    let writer = thread::spawn(move || {
        for (due, chunk) in rx {
            sleep_until(due);
            if to.write_all(&chunk).is_err() {
                break;
            }
        }
        let _ = to.shutdown(std::net::Shutdown::Write);
    });
    let mut buf = [0u8; 16 * 1024];
    loop {
        match from.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                if tx
                    .send((Instant::now() + delay, buf[..n].to_vec()))
                    .is_err()
                {
                    break;
                }
            }
        }
    }
    drop(tx);
    let _ = writer.join();
}

/// Sleeps until `t`, precisely: `thread::sleep` overshoots by tens of microseconds, so it
/// covers all but the last 100 µs, and a spin the rest.
fn sleep_until(t: Instant) {
    const SPIN: Duration = Duration::from_micros(100);
    let now = Instant::now();
    if t > now + SPIN {
        thread::sleep(t - now - SPIN);
    }
    while Instant::now() < t {
        std::hint::spin_loop();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An echo server on 127.0.0.1 that greets first (as MySQL does).
    fn echo_server() -> SocketAddr {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                thread::spawn(move || {
                    let mut stream = stream;
                    let _ = stream.set_nodelay(true);
                    let _ = stream.write_all(b"hello");
                    let mut buf = [0u8; 64];
                    while let Ok(n) = stream.read(&mut buf) {
                        if n == 0 || stream.write_all(&buf[..n]).is_err() {
                            break;
                        }
                    }
                });
            }
        });
        addr
    }

    /// Median time until the greeting, and median ping round trip, through a proxy.
    fn measure(one_way: Duration) -> (Duration, Duration) {
        let proxy = start(echo_server(), one_way).unwrap();
        let median = |mut v: Vec<Duration>| {
            v.sort();
            v[v.len() / 2]
        };
        let (mut greetings, mut pings) = (Vec::new(), Vec::new());
        for _ in 0..11 {
            let start = Instant::now();
            let mut conn = TcpStream::connect(proxy).unwrap();
            conn.set_nodelay(true).unwrap();
            let mut buf = [0u8; 5];
            conn.read_exact(&mut buf).unwrap();
            greetings.push(start.elapsed());
            for _ in 0..20 {
                let start = Instant::now();
                conn.write_all(b"ping").unwrap();
                conn.read_exact(&mut buf[..4]).unwrap();
                pings.push(start.elapsed());
            }
        }
        (median(greetings), median(pings))
    }

    /// Timing tests: one at a time, and each takes the best of a few attempts, so that a
    /// busy machine does not fail them; a proxy that is wrong is wrong every time.
    static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());
    const ATTEMPTS: usize = 3;

    #[test]
    fn a_ping_through_the_proxy_takes_the_configured_round_trip_within_10_percent() {
        let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner());
        let one_way = Duration::from_micros(250); // the bench's +0.5 ms RTT
        let rtt = (one_way * 2).as_secs_f64();
        // The ping adds the RTT within 10 %. (The greeting's handshake delay, about 2 round
        // trips on an idle machine, is too noisy to assert on a busy one: not asserted.)
        let mut seen = Vec::new();
        for _ in 0..ATTEMPTS {
            let (_, ping_0) = measure(Duration::ZERO);
            let (_, ping) = measure(one_way);
            let added = ping.saturating_sub(ping_0).as_secs_f64();
            seen.push(added);
            if (added - rtt).abs() <= rtt * 0.1 {
                return;
            }
        }
        panic!("a ping added {seen:?} s for a {rtt:e} s round trip");
    }

    #[test]
    fn chunks_in_flight_overlap_instead_of_queueing() {
        let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner());
        // Ten writes back to back, then their echoes: with the delay paid per chunk in
        // turn they would take ten round trips; through a network, about one.
        let one_way = Duration::from_millis(2);
        let proxy = start(echo_server(), one_way).unwrap();
        let mut conn = TcpStream::connect(proxy).unwrap();
        conn.set_nodelay(true).unwrap();
        let mut greeting = [0u8; 5];
        conn.read_exact(&mut greeting).unwrap();
        let best = (0..ATTEMPTS)
            .map(|_| {
                let start = Instant::now();
                for _ in 0..10 {
                    conn.write_all(b"x").unwrap();
                    thread::sleep(Duration::from_micros(200)); // separate chunks
                }
                let mut echoed = [0u8; 10];
                conn.read_exact(&mut echoed).unwrap();
                start.elapsed()
            })
            .min()
            .unwrap_or_default();
        let rtt = one_way * 2;
        assert!(
            best < rtt * 3,
            "took {best:?} at best for a {rtt:?} round trip"
        );
    }
}
