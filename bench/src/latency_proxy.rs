//! A TCP proxy on 127.0.0.1 that delays every chunk by a fixed time in each direction:
//! a network round trip between the function and the database, as in a VPC, on loopback.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::thread;
use std::time::Duration;

/// Listens on an ephemeral port and forwards to `target`, adding `one_way` per direction.
pub fn start(target: SocketAddr, one_way: Duration) -> std::io::Result<SocketAddr> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let addr = listener.local_addr()?;
    thread::spawn(move || {
        for client in listener.incoming().flatten() {
            let Ok(server) = TcpStream::connect(target) else {
                continue;
            };
            let _ = client.set_nodelay(true);
            let _ = server.set_nodelay(true);
            if let (Ok(c), Ok(s)) = (client.try_clone(), server.try_clone()) {
                thread::spawn(move || pipe(c, s, one_way));
                thread::spawn(move || pipe(server, client, one_way));
            }
        }
    });
    Ok(addr)
}

fn pipe(mut from: TcpStream, mut to: TcpStream, delay: Duration) {
    let mut buf = [0u8; 16 * 1024];
    loop {
        match from.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                thread::sleep(delay);
                if to.write_all(&buf[..n]).is_err() {
                    break;
                }
            }
        }
    }
    let _ = to.shutdown(std::net::Shutdown::Write);
}
