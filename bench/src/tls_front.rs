//! A TLS front for moto, so that s3-get-object's first HeadObject pays a real TLS
//! handshake, as it does against S3: Python's asyncio relaying bytes to moto, with the
//! services' test certificate (the function trusts it through `SSL_CERT_FILE`).

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use e2e::Services;

use crate::Result;

const FRONT: &str = r#"
import asyncio, ssl, sys
cert, key, upstream = sys.argv[1], sys.argv[2], int(sys.argv[3])
async def pipe(reader, writer):
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except Exception:
        pass
    finally:
        writer.close()
async def relay(client_r, client_w):
    up_r, up_w = await asyncio.open_connection("127.0.0.1", upstream)
    await asyncio.gather(pipe(client_r, up_w), pipe(up_r, client_w))
async def main():
    tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    tls.load_cert_chain(cert, key)
    server = await asyncio.start_server(relay, "127.0.0.1", 0, ssl=tls)
    print(server.sockets[0].getsockname()[1], flush=True)
    await server.serve_forever()
asyncio.run(main())
"#;

/// The running front, stopped when dropped.
pub(crate) struct TlsFront {
    child: Child,
    pub(crate) url: String,
}

impl TlsFront {
    pub(crate) fn start(services: &Services) -> Result<Self> {
        let certs = format!("{}/certs", services.var("SERVICES_DIR"));
        let mut child = Command::new("python3")
            .args(["-c", FRONT])
            .arg(format!("{certs}/server.pem"))
            .arg(format!("{certs}/server-key.pem"))
            .arg(services.var("MOTO_PORT"))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()?;
        let mut port = String::new();
        let stdout = child.stdout.take().ok_or("no stdout")?;
        BufReader::new(stdout).read_line(&mut port)?;
        let port: u16 = port
            .trim()
            .parse()
            .map_err(|_| "the TLS front did not start")?;
        Ok(Self {
            child,
            url: format!("https://127.0.0.1:{port}"),
        })
    }
}

impl Drop for TlsFront {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
