//! Which addresses of this process are mapped, and how, read from
//! `/proc/self/maps`: the ground the descriptor checks stand on. A pointer a
//! plugin hands over cannot be proven valid in general, but on Linux a
//! range that lies inside readable mappings can be read without a fault, and
//! a function pointer in an executable mapping (of the plugin's own object,
//! which `dladdr` tells) at least points at the plugin's code. Libraries are never unloaded,
//! so mappings checked stay mapped. Elsewhere [`Maps::read`] returns `None`
//! and only the checks that need no map (null, length, alignment) apply.

/// One mapping: `[start, end)`, its permissions and the file it maps.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Mapping {
    start: usize,
    end: usize,
    readable: bool,
    executable: bool,
}

/// A snapshot of the process's mappings.
#[derive(Clone, Debug, Default)]
pub struct Maps {
    mappings: Vec<Mapping>,
}

impl Maps {
    /// The current mappings, where the platform shows them.
    pub fn read() -> Option<Maps> {
        let text = std::fs::read_to_string("/proc/self/maps").ok()?;
        Some(Maps::parse(&text))
    }

    fn parse(text: &str) -> Maps {
        let mut mappings: Vec<Mapping> = text.lines().filter_map(parse_line).collect();
        mappings.sort_by_key(|m| m.start);
        Maps { mappings }
    }

    /// Whether every byte of `[ptr, ptr + len)` is readable.
    pub fn readable(&self, ptr: usize, len: usize) -> bool {
        let Some(end) = ptr.checked_add(len) else { return false };
        if len == 0 {
            return true;
        }
        let mut at = ptr;
        for m in self.mappings.iter().filter(|m| m.readable) {
            if m.end <= at {
                continue;
            }
            if m.start > at {
                return false;
            }
            at = m.end;
            if at >= end {
                return true;
            }
        }
        false
    }

    /// Whether `ptr` lies in any executable mapping.
    pub fn code(&self, ptr: usize) -> bool {
        self.mappings.iter().any(|m| m.executable && m.start <= ptr && ptr < m.end)
    }
}

/// `start-end perms offset dev inode [path]`.
fn parse_line(line: &str) -> Option<Mapping> {
    let mut fields = line.split_whitespace();
    let (start, end) = fields.next()?.split_once('-')?;
    let perms = fields.next()?.as_bytes();
    let _offset = fields.next()?;
    Some(Mapping {
        start: usize::from_str_radix(start, 16).ok()?,
        end: usize::from_str_radix(end, 16).ok()?,
        readable: perms.first() == Some(&b'r'),
        executable: perms.get(2) == Some(&b'x'),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = "\
1000-2000 r--p 00000000 08:01 42 /lib/x.so
2000-3000 r-xp 00001000 08:01 42 /lib/x.so
3000-4000 ---p 00000000 00:00 0
4000-5000 rw-p 00000000 00:00 0 [heap]
";

    #[test]
    fn ranges_across_adjacent_mappings() {
        let m = Maps::parse(SAMPLE);
        assert!(m.readable(0x1000, 0x2000));
        assert!(m.readable(0x1ff0, 0x20));
        assert!(!m.readable(0x2ff0, 0x20), "a guard page is not readable");
        assert!(m.readable(0x4000, 0x1000));
        assert!(!m.readable(0x4000, 0x1001));
        assert!(!m.readable(0x10, 1));
        assert!(!m.readable(usize::MAX, 2), "no overflow");
        assert!(m.readable(0, 0), "an empty range reads nothing");
        assert!(m.code(0x2000) && m.code(0x2fff));
        assert!(!m.code(0x1000) && !m.code(0x3000) && !m.code(0x4000));
    }

    #[test]
    fn this_process_maps_its_own_code_and_data() {
        let Some(m) = Maps::read() else { return };
        static DATA: [u8; 64] = [7; 64];
        assert!(m.readable(DATA.as_ptr() as usize, DATA.len()));
        let heap = vec![1u8; 4096];
        assert!(m.readable(heap.as_ptr() as usize, heap.len()));
        assert!(m.code(this_process_maps_its_own_code_and_data as *const () as usize));
        assert!(!m.readable(8, 8));
    }
}
