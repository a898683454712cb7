//! A real OpenSSH server on 127.0.0.1 for the duration of one test: a
//! throwaway host key and user key in a temp folder, `sshd -D` on a free
//! loopback port, and an `ssh_config` that reaches it as `traintop-test`.
//! The server is killed when the guard drops, on panics too. Skipped (None)
//! where openssh-server is not installed (`.ci/run` installs it).
#![allow(dead_code)]

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The `Host` name the generated `ssh_config` defines.
pub const HOST: &str = "traintop-test";

pub struct Sshd {
    dir: tempfile::TempDir,
    child: Child,
    pub port: u16,
}

fn sshd_binary() -> Option<PathBuf> {
    ["/usr/sbin/sshd", "/usr/bin/sshd", "/usr/local/sbin/sshd"].iter().map(PathBuf::from).find(|p| p.exists())
}

fn keygen(path: &Path) {
    let out = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-C", "traintop-test", "-f"])
        .arg(path)
        .stdin(Stdio::null())
        .output()
        .expect("ssh-keygen runs");
    assert!(out.status.success(), "ssh-keygen: {}", String::from_utf8_lossy(&out.stderr));
}

fn user_name() -> String {
    let out = Command::new("id").arg("-un").output().expect("id runs");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

impl Sshd {
    pub fn start() -> Option<Self> {
        let sshd = sshd_binary()?;
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        keygen(&d.join("host_key"));
        keygen(&d.join("user_key"));
        std::fs::copy(d.join("user_key.pub"), d.join("authorized_keys")).unwrap();
        // sshd wants its privilege separation folder even in -D mode.
        let _ = std::fs::create_dir_all("/run/sshd");
        let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let user = user_name();
        let config = format!(
            "Port {port}\nListenAddress 127.0.0.1\nHostKey {d}/host_key\nAuthorizedKeysFile {d}/authorized_keys\n\
             PidFile {d}/sshd.pid\nUsePAM no\nStrictModes no\nPasswordAuthentication no\n\
             KbdInteractiveAuthentication no\nPubkeyAuthentication yes\nPermitRootLogin prohibit-password\n\
             AllowUsers {user}\nLogLevel ERROR\n",
            d = d.display()
        );
        std::fs::write(d.join("sshd_config"), config).unwrap();
        let host_pub = std::fs::read_to_string(d.join("host_key.pub")).unwrap();
        let key_type_and_key: Vec<&str> = host_pub.split_whitespace().take(2).collect();
        std::fs::write(d.join("known_hosts"), format!("[127.0.0.1]:{port} {}\n", key_type_and_key.join(" "))).unwrap();
        let client = format!(
            "Host {HOST}\n  HostName 127.0.0.1\n  Port {port}\n  User {user}\n  IdentityFile {d}/user_key\n\
             \x20 IdentitiesOnly yes\n  UserKnownHostsFile {d}/known_hosts\n  StrictHostKeyChecking yes\n\
             \x20 BatchMode yes\n  LogLevel ERROR\n  ConnectTimeout 10\n",
            d = d.display()
        );
        std::fs::write(d.join("ssh_config"), client).unwrap();
        let child = daemon(&sshd, d);
        let server = Self { dir, child, port };
        server.wait_listening();
        Some(server)
    }

    fn wait_listening(&self) {
        let start = Instant::now();
        while TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(start.elapsed() < Duration::from_secs(10), "sshd did not listen: {}", self.log());
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The host goes unreachable: the listening daemon is killed (the
    /// sessions it started live on until their ssh ends).
    pub fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// The host is back, on the same port with the same keys.
    pub fn restart(&mut self) {
        self.child = daemon(&sshd_binary().expect("sshd"), self.dir.path());
        self.wait_listening();
    }

    /// The `ssh` command line that reaches [`HOST`] (for `TRAINTOP_SSH`).
    pub fn ssh_command(&self) -> String {
        format!("ssh -F {}", self.dir.path().join("ssh_config").display())
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("sshd.log")).unwrap_or_default()
    }
}

fn daemon(sshd: &Path, d: &Path) -> Child {
    let log = std::fs::OpenOptions::new().create(true).append(true).open(d.join("sshd.log")).unwrap();
    Command::new(sshd)
        .args(["-D", "-e", "-f"])
        .arg(d.join("sshd_config"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("sshd starts")
}

impl Drop for Sshd {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("--- sshd log ---\n{}\n---", self.log());
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
