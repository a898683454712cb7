//! Reading the dashboard's header from a captured screen.
#![allow(dead_code)]

/// The `step N` of the header's second line.
pub fn header_step(screen: &str) -> Option<u64> {
    let line = screen.lines().nth(1)?;
    let rest = &line[line.find(" step ")? + " step ".len()..];
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}

/// The state word in brackets at the end of the header's first line.
pub fn header_state(screen: &str) -> Option<String> {
    let line = screen.lines().next()?.trim_end();
    let inner = line.strip_suffix(']')?;
    Some(inner[inner.rfind('[')? + 1..].to_string())
}

/// The child of `parent` (e.g. the traintop a pane's shell started).
pub fn child_of(parent: u32) -> Option<u32> {
    let entries = std::fs::read_dir("/proc").ok()?;
    entries.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok()).find(|&pid| {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        let ppid = stat.rfind(')').and_then(|i| stat[i + 2..].split_whitespace().nth(1)?.parse::<u32>().ok());
        ppid == Some(parent)
    })
}
