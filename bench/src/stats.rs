//! Latency statistics: exact percentiles over the sorted vector of every sample.

use std::time::Duration;

use serde::Serialize;

/// The measured outcome of one scenario.
#[derive(Clone, Debug, Serialize)]
pub struct Report {
    pub scenario: String,
    /// Requests timed (warm-up excluded).
    pub requests: u64,
    /// Tasks issuing requests at once.
    pub concurrency: usize,
    /// Statements per request (1, or e.g. 1000 for the pipelined insert).
    pub ops_per_request: u64,
    pub elapsed_secs: f64,
    pub requests_per_sec: f64,
    pub ops_per_sec: f64,
    pub p50_us: f64,
    pub p90_us: f64,
    pub p99_us: f64,
    pub max_us: f64,
    /// Set when the scenario failed; the figures are then zero.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// Nearest-rank percentile of an ascending slice: the smallest sample with at least `p` percent
/// of the samples at or below it.
pub fn percentile(sorted: &[u64], p: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

impl Report {
    /// Summarizes latencies (nanoseconds) taken over `elapsed` of wall-clock time.
    pub fn new(
        scenario: &str,
        concurrency: usize,
        ops_per_request: u64,
        mut latencies_ns: Vec<u64>,
        elapsed: Duration,
    ) -> Self {
        latencies_ns.sort_unstable();
        let n = latencies_ns.len() as u64;
        let secs = elapsed.as_secs_f64();
        let rps = if secs > 0.0 { n as f64 / secs } else { 0.0 };
        let us = |ns: u64| ns as f64 / 1000.0;
        Report {
            scenario: scenario.to_owned(),
            requests: n,
            concurrency,
            ops_per_request,
            elapsed_secs: secs,
            requests_per_sec: rps,
            ops_per_sec: rps * ops_per_request as f64,
            p50_us: us(percentile(&latencies_ns, 50.0)),
            p90_us: us(percentile(&latencies_ns, 90.0)),
            p99_us: us(percentile(&latencies_ns, 99.0)),
            max_us: us(latencies_ns.last().copied().unwrap_or(0)),
            error: None,
        }
    }

    /// A scenario that could not run to the end.
    pub fn failed(scenario: &str, concurrency: usize, error: String) -> Self {
        let mut report = Report::new(scenario, concurrency, 1, Vec::new(), Duration::ZERO);
        report.error = Some(error);
        report
    }
}

/// The human table.
pub fn table(title: &str, reports: &[Report]) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    let _ = writeln!(out, "{title}");
    let _ = writeln!(
        out,
        "{:<34} {:>5} {:>7} {:>10} {:>11} {:>9} {:>9} {:>9} {:>10}",
        "scenario", "conc", "reqs", "req/s", "stmts/s", "p50 µs", "p90 µs", "p99 µs", "max µs"
    );
    for r in reports {
        if let Some(e) = &r.error {
            let _ = writeln!(out, "{:<34} {:>5} FAILED: {e}", r.scenario, r.concurrency);
            continue;
        }
        let _ = writeln!(
            out,
            "{:<34} {:>5} {:>7} {:>10.0} {:>11.0} {:>9.1} {:>9.1} {:>9.1} {:>10.1}",
            r.scenario,
            r.concurrency,
            r.requests,
            r.requests_per_sec,
            r.ops_per_sec,
            r.p50_us,
            r.p90_us,
            r.p99_us,
            r.max_us
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let v: Vec<u64> = (1..=100).collect();
        assert_eq!(percentile(&v, 50.0), 50);
        assert_eq!(percentile(&v, 90.0), 90);
        assert_eq!(percentile(&v, 99.0), 99);
        assert_eq!(percentile(&v, 100.0), 100);
        assert_eq!(percentile(&[7], 99.0), 7);
        assert_eq!(percentile(&[], 50.0), 0);
        assert_eq!(percentile(&[1, 2, 3], 0.0), 1);
    }
}
