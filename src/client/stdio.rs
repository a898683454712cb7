//! `traintop attach --stdio RUN`: the far end of `attach --ssh`. It connects
//! to the run's socket on this machine and relays the protocol between the
//! socket and its stdin/stdout (ssh's pipe), so nothing listens on a network
//! port. It names the client by the ssh connection it came in on; anything
//! that goes wrong before the relay starts is sent as an `error` event, so
//! the other side can say what happened.

use std::io::{self, BufRead, Read, Write};
use std::os::unix::net::UnixStream;

use super::find::find;
use crate::protocol::framing::{decode, encode};
use crate::protocol::{ClientHello, ClientId, ConnectionMessage, RecordRef};

/// Relays until either side closes. Errors are reported on stdout (as the
/// protocol's `error` event) and returned.
pub fn relay(what: Option<&str>) -> Result<(), String> {
    let result = connect(what);
    let socket = match result {
        Ok(s) => s,
        Err(message) => {
            let mut out = io::stdout().lock();
            let _ = out.write_all(&encode(&RecordRef::now(&ConnectionMessage::Error { message: message.clone() })));
            let _ = out.flush();
            return Err(message);
        }
    };
    let mut from_run = socket.try_clone().map_err(|e| e.to_string())?;
    // Not io::copy: into stdout's buffer it would hold the server's hello
    // back until 8 KiB gather, while the client waits for it.
    let down = std::thread::spawn(move || {
        let mut out = io::stdout().lock();
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            match from_run.read(&mut buf) {
                Ok(0) => break,
                Ok(n) if out.write_all(&buf[..n]).and_then(|_| out.flush()).is_ok() => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                _ => break,
            }
        }
        // The run closed the connection (it ended, or cut a client that fell
        // behind): end the relay now, so ssh closes and the client sees it,
        // rather than waiting on stdin forever.
        let _ = out.flush();
        std::process::exit(0);
    });
    let mut to_run = socket.try_clone().map_err(|e| e.to_string())?;
    let mut input = io::stdin().lock();
    let mut first = String::new();
    if input.read_line(&mut first).map_err(|e| e.to_string())? > 0 {
        let _ = to_run.write_all(&renamed(&first));
        let _ = io::copy(&mut input, &mut to_run);
    }
    let _ = socket.shutdown(std::net::Shutdown::Both);
    let _ = down.join();
    Ok(())
}

fn connect(what: Option<&str>) -> Result<UnixStream, String> {
    let entry = find(what).map_err(|e| e.to_string())?;
    UnixStream::connect(&entry.socket).map_err(|e| format!("{}: {e}", entry.socket.display()))
}

/// The client's hello, naming it by the ssh connection (the address it came
/// from); any other line as it is (the server judges it).
fn renamed(line: &str) -> Vec<u8> {
    match (decode::<ClientHello>(line), ssh_peer()) {
        (Ok(mut hello), Some(host)) => {
            hello.client = ClientId::Ssh { host };
            encode(&hello)
        }
        _ => line.as_bytes().to_vec(),
    }
}

/// The address the ssh connection came from (`SSH_CONNECTION`'s first word).
fn ssh_peer() -> Option<String> {
    let conn = std::env::var("SSH_CONNECTION").or_else(|_| std::env::var("SSH_CLIENT")).ok()?;
    conn.split_whitespace().next().map(str::to_string)
}
