//! This process's memory as Linux reports it in `/proc/self/status`.

/// Resident set size now (`VmRSS`) and its peak so far (`VmHWM`), in KiB; `None` where
/// `/proc` is not available.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rss {
    pub current_kib: u64,
    pub peak_kib: u64,
}

/// Reads `VmRSS` and `VmHWM` of this process.
pub fn rss() -> Option<Rss> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let field = |name: &str| {
        status
            .lines()
            .find_map(|line| line.strip_prefix(name))
            .and_then(|rest| {
                rest.trim()
                    .trim_end_matches("kB")
                    .trim()
                    .parse::<u64>()
                    .ok()
            })
    };
    Some(Rss {
        current_kib: field("VmRSS:")?,
        peak_kib: field("VmHWM:")?,
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn reads_own_status() {
        if let Some(rss) = super::rss() {
            assert!(rss.current_kib > 0);
            assert!(rss.peak_kib >= rss.current_kib);
        }
    }
}
