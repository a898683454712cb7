//! Who a client is, from the socket rather than from what it says: the
//! peer's pid (SO_PEERCRED), its terminal (`/proc/PID/fd/0`) and, for the
//! ssh relay (`traintop attach --stdio` run by sshd), the address in its
//! `SSH_CONNECTION` (`/proc/PID/environ`, readable since the peer has our
//! uid). What a client's hello declares is kept only as a cleaned, short
//! label beside that, never in its place: any same-user program can say it
//! is "ssh from 10.0.0.7" on any terminal.

use std::net::IpAddr;

use super::limits::{echo, ECHO_CHARS};
use crate::protocol::ClientId;

/// The identity of the peer with `pid` that declared `declared`, and the
/// label its declaration leaves (when it says something the identity does
/// not).
pub fn identify(pid: u32, declared: &ClientId) -> (ClientId, Option<String>) {
    let client = derive(pid, declared);
    let label = match declared {
        // A local client names its own pid and terminal: the derived ones
        // replace them, there is nothing else to keep.
        ClientId::Local { .. } => None,
        other if *other == client => None,
        other => Some(echo(&other.to_string(), ECHO_CHARS)),
    };
    (client, label)
}

fn derive(pid: u32, declared: &ClientId) -> ClientId {
    // The dashboard of the terminal that started the run is the process
    // that started this server's supervisor (or this process, with
    // `--foreground`).
    if *declared == ClientId::Dashboard && (pid == std::process::id() || starters().contains(&pid)) {
        return ClientId::Dashboard;
    }
    match ssh_origin(pid) {
        Some(host) => ClientId::Ssh { host },
        None => ClientId::Local { pid, tty: tty_of(pid) },
    }
}

/// This server's parent (the supervisor) and the parent's parent (the
/// `traintop run` whose dashboard attaches); 0 where unknown.
fn starters() -> [u32; 2] {
    let parent = rustix::process::getppid().map_or(0, |p| p.as_raw_nonzero().get() as u32);
    [parent, parent_of(parent).unwrap_or(0)]
}

/// The parent of `pid`, from `/proc/PID/stat` (its fourth field, after the
/// command name in parentheses, which may itself hold spaces and `)`).
fn parent_of(pid: u32) -> Option<u32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    stat[stat.rfind(')')? + 1..].split_whitespace().nth(1)?.parse().ok()
}

/// The terminal on the process's standard input, if it is one.
fn tty_of(pid: u32) -> Option<String> {
    let path = std::fs::read_link(format!("/proc/{pid}/fd/0")).ok()?;
    let path = path.to_str()?;
    (path.starts_with("/dev/pts/") || path.starts_with("/dev/tty")).then(|| echo(path, ECHO_CHARS))
}

/// The address an ssh connection came from, from the process's environment
/// (`SSH_CONNECTION`, else `SSH_CLIENT`: the first word, an IP address).
fn ssh_origin(pid: u32) -> Option<String> {
    let environ = std::fs::read(format!("/proc/{pid}/environ")).ok()?;
    let var = |name: &str| {
        environ
            .split(|&b| b == 0)
            .find_map(|entry| entry.strip_prefix(name.as_bytes())?.strip_prefix(b"="))
            .map(<[u8]>::to_vec)
    };
    let value = var("SSH_CONNECTION").or_else(|| var("SSH_CLIENT"))?;
    let first = std::str::from_utf8(&value).ok()?.split_whitespace().next()?;
    first.parse::<IpAddr>().ok().map(|ip| ip.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_declared_ssh_origin_is_a_label_not_an_identity() {
        let me = std::process::id();
        let declared = ClientId::Ssh { host: "10.0.0.7".into() };
        let (client, label) = identify(me, &declared);
        if std::env::var_os("SSH_CONNECTION").is_none() && std::env::var_os("SSH_CLIENT").is_none() {
            assert!(matches!(client, ClientId::Local { pid, .. } if pid == me), "{client:?}");
        }
        assert_eq!(label.as_deref(), Some("ssh from 10.0.0.7"));
    }

    #[test]
    fn the_parent_of_a_process_is_read_from_proc() {
        let me = std::process::id();
        let parent = rustix::process::getppid().map(|p| p.as_raw_nonzero().get() as u32);
        assert_eq!(parent_of(me), parent);
    }

    #[test]
    fn a_declared_local_client_gets_its_real_pid_and_no_label() {
        let declared = ClientId::Local { pid: 1, tty: Some("/dev/pts/99".into()) };
        let (client, label) = identify(std::process::id(), &declared);
        assert_ne!(client, declared);
        assert_eq!(label, None);
    }
}
