//! Processes a test started, found through /proc: which still run, how much
//! CPU they burn, and a guard that kills them when the test ends.
#![allow(dead_code)]

use std::path::Path;
use std::time::Duration;

/// Pids whose command line contains `needle` (e.g. a test's unique folder).
pub fn with_arg(needle: &str) -> Vec<u32> {
    let me = std::process::id();
    let Ok(entries) = std::fs::read_dir("/proc") else { return Vec::new() };
    entries
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|&pid| pid != me)
        .filter(|&pid| {
            let cmd = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            !cmd.is_empty() && String::from_utf8_lossy(&cmd).contains(needle) && !is_zombie(pid)
        })
        .collect()
}

/// The traintop processes (not shells or tmux naming it) among [`with_arg`].
pub fn traintops(needle: &str) -> Vec<u32> {
    with_arg(needle)
        .into_iter()
        .filter(|pid| {
            let cmd = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            let first = cmd.split(|&b| b == 0).next().unwrap_or_default();
            first.ends_with(b"/traintop") || first == b"traintop"
        })
        .collect()
}

pub fn is_zombie(pid: u32) -> bool {
    stat_fields(pid).is_none_or(|f| f.first().map(String::as_str) == Some("Z"))
}

pub fn alive(pid: u32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists() && !is_zombie(pid)
}

/// The fields of /proc/PID/stat after the command name (state first).
fn stat_fields(pid: u32) -> Option<Vec<String>> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &text[text.rfind(')')? + 2..];
    Some(rest.split_whitespace().map(str::to_string).collect())
}

/// utime + stime, in clock ticks.
fn cpu_ticks(pid: u32) -> Option<u64> {
    let f = stat_fields(pid)?;
    Some(f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?)
}

/// Each pid's share of one core over `window` (1.0 = a full core).
pub fn cpu_shares(pids: &[u32], window: Duration) -> Vec<(u32, f64)> {
    let before: Vec<Option<u64>> = pids.iter().map(|&p| cpu_ticks(p)).collect();
    std::thread::sleep(window);
    // Linux's USER_HZ is 100 everywhere that matters.
    let ticks = window.as_secs_f64() * 100.0;
    pids.iter().zip(before).filter_map(|(&p, b)| Some((p, (cpu_ticks(p)?.saturating_sub(b?)) as f64 / ticks))).collect()
}

pub fn signal(pid: u32, name: &str) {
    let _ = std::process::Command::new("kill").args(["-s", name, &pid.to_string()]).status();
}

/// Kills (SIGKILL) every process whose command line has `needle` when
/// dropped: nothing a test started outlives it, however it ends.
pub struct KillOnDrop(pub String);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        for pid in with_arg(&self.0) {
            signal(pid, "KILL");
        }
    }
}
