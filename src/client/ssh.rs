//! Reaching runs on another machine: `ssh HOST traintop ...`, with the run
//! protocol over ssh's pipe. `TRAINTOP_SSH` replaces the `ssh` command line
//! (e.g. `ssh -F ~/.ssh/gpu_config`, split as a shell would, quotes and
//! all), `TRAINTOP_REMOTE` the remote program
//! (when traintop is not on the remote PATH). ssh's own failures (host
//! unknown, no key, no traintop there) become one clear sentence.

use std::io::Read;
use std::process::{Child, ChildStdin, ChildStdout, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The local ssh command line: `TRAINTOP_SSH` split into words, else `ssh`.
pub fn ssh_program() -> Result<Vec<String>, String> {
    match std::env::var("TRAINTOP_SSH") {
        Ok(text) => split_command(&text).map_err(|m| format!("TRAINTOP_SSH: {m}")),
        Err(_) => Ok(vec!["ssh".into()]),
    }
}

/// `text` split into words with a POSIX shell's quoting rules (so a quoted
/// path with a space is one word); empty: plain `ssh`.
fn split_command(text: &str) -> Result<Vec<String>, String> {
    let words = shlex::split(text).ok_or_else(|| {
        format!("cannot split {text:?} into words: a quote is not closed, or it ends in a lone backslash")
    })?;
    Ok(if words.is_empty() { vec!["ssh".into()] } else { words })
}

/// The traintop to run on the other machine.
pub fn remote_program() -> String {
    std::env::var("TRAINTOP_REMOTE").ok().filter(|s| !s.is_empty()).unwrap_or_else(|| "traintop".into())
}

/// `s` as one word for the remote shell.
pub fn quote(s: &str) -> String {
    if !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || "-_./=:@%+,".contains(c)) {
        return s.to_string();
    }
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// `ssh HOST traintop ARGS...` as a command (stdin, stdout piped).
fn command(host: &str, args: &[&str]) -> Result<Command, String> {
    let program = ssh_program()?;
    let remote: Vec<String> = std::iter::once(remote_program()).chain(args.iter().map(|a| a.to_string())).collect();
    let line = remote.iter().map(|w| quote(w)).collect::<Vec<_>>().join(" ");
    let mut c = Command::new(&program[0]);
    // -T: no terminal on the far side (the protocol is not for one); the
    // command line travels as one string that the remote shell splits.
    c.args(&program[1..]).args(["-T", "--", host, &line]);
    Ok(c)
}

/// A running `ssh HOST traintop ...` whose stdout and stdin carry the
/// protocol; its stderr is kept for error messages.
pub struct SshLink {
    pub host: String,
    pub child: Child,
    stderr: Arc<Mutex<String>>,
}

impl SshLink {
    pub fn open(host: &str, args: &[&str]) -> Result<(Self, ChildStdout, ChildStdin), String> {
        let mut command = command(host, args)?;
        let program = command.get_program().to_string_lossy().into_owned();
        let mut child = command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("cannot run {program}: {e}"))?;
        let stderr = Arc::new(Mutex::new(String::new()));
        if let Some(mut err) = child.stderr.take() {
            let keep = Arc::clone(&stderr);
            std::thread::spawn(move || {
                let mut buf = [0u8; 4096];
                while let Ok(n) = err.read(&mut buf) {
                    if n == 0 {
                        break;
                    }
                    keep.lock().unwrap_or_else(|e| e.into_inner()).push_str(&String::from_utf8_lossy(&buf[..n]));
                }
            });
        }
        let (out, inp) = (child.stdout.take().expect("piped"), child.stdin.take().expect("piped"));
        Ok((Self { host: host.to_string(), child, stderr }, out, inp))
    }

    /// Why the link failed, from ssh's exit status and stderr (waits a
    /// moment for ssh to end).
    pub fn failure(&mut self, what: &str) -> String {
        let status = wait_for(&mut self.child, Duration::from_secs(5));
        // The stderr thread may still be draining.
        std::thread::sleep(Duration::from_millis(100));
        let stderr = self.stderr.lock().unwrap_or_else(|e| e.into_inner()).trim().to_string();
        explain(&self.host, status, &stderr).unwrap_or_else(|| format!("{}: {what}", self.host))
    }
}

impl Drop for SshLink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn wait_for(child: &mut Child, limit: Duration) -> Option<ExitStatus> {
    let start = Instant::now();
    while start.elapsed() < limit {
        if let Ok(Some(s)) = child.try_wait() {
            return Some(s);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    None
}

/// ssh's failure in one sentence, when its status or words say what it was.
fn explain(host: &str, status: Option<ExitStatus>, stderr: &str) -> Option<String> {
    let code = status.and_then(|s| s.code());
    let remote = remote_program();
    if code == Some(127) || stderr.contains("command not found") || stderr.contains("No such file or directory") {
        return Some(format!(
            "{host}: `{remote}` was not found there (install traintop on {host}'s PATH, or set TRAINTOP_REMOTE to its path)"
        ));
    }
    if code == Some(255) {
        let reason = if stderr.is_empty() { "ssh failed".to_string() } else { stderr.to_string() };
        return Some(format!("{host}: ssh could not connect: {reason}"));
    }
    if !stderr.is_empty() {
        return Some(format!("{host}: {stderr}"));
    }
    None
}

/// `ssh HOST traintop ARGS` run to its end: its stdout, or why not.
pub fn output(host: &str, args: &[&str]) -> Result<String, String> {
    let out = command(host, args)?.stdin(Stdio::null()).output().map_err(|e| format!("cannot run ssh: {e}"))?;
    if out.status.success() {
        return Ok(String::from_utf8_lossy(&out.stdout).into_owned());
    }
    let stderr = String::from_utf8_lossy(&out.stderr).trim().to_string();
    Err(explain(host, Some(out.status), &stderr).unwrap_or_else(|| format!("{host}: {} failed", remote_program())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remote_words_are_quoted_for_the_shell() {
        assert_eq!(quote("runs/digits-1"), "runs/digits-1");
        assert_eq!(quote("a b"), "'a b'");
        assert_eq!(quote("it's"), r"'it'\''s'");
        assert_eq!(quote(""), "''");
    }

    #[test]
    fn the_ssh_override_is_split_as_a_shell_would() {
        let split = |t: &str| split_command(t).unwrap();
        assert_eq!(split("ssh -F ~/.ssh/gpu_config"), ["ssh", "-F", "~/.ssh/gpu_config"]);
        assert_eq!(
            split(r#"'/opt/my tools/ssh' -F "/home/me/ssh config" -o ProxyJump=a\ b"#),
            ["/opt/my tools/ssh", "-F", "/home/me/ssh config", "-o", "ProxyJump=a b"]
        );
        assert_eq!(split("  "), ["ssh"], "blank: plain ssh");
        let e = split_command("ssh -F 'unclosed").unwrap_err();
        assert!(e.contains("quote"), "{e}");
    }
}
