// tidepool-swift-bench: the Swift binding's side of scripts/bench-swift.sh. Runs client-compare's
// `select/seq` scenario through the Swift API — `SELECT ?` with one argument, one connection, one
// request at a time, rows read and checked — and prints one JSON object per transport.
//
//   tidepool-swift-bench <http URL> [requests] [warmup]

import Foundation
import Tidepool

func microseconds(_ start: DispatchTime, _ end: DispatchTime) -> Double {
    Double(end.uptimeNanoseconds - start.uptimeNanoseconds) / 1000
}

func percentile(_ sorted: [Double], _ p: Double) -> Double {
    sorted[min(sorted.count - 1, Int((Double(sorted.count) * p).rounded(.down)))]
}

let args = CommandLine.arguments
guard args.count >= 2 else {
    FileHandle.standardError.write(Data("usage: tidepool-swift-bench <http URL> [requests] [warmup]\n".utf8))
    exit(2)
}
let httpURL = args[1]
let requests = args.count > 2 ? Int(args[2]) ?? 5000 : 5000
let warmup = args.count > 3 ? Int(args[3]) ?? 200 : 200

for (via, url) in [("http", httpURL), ("ws", "ws" + httpURL.dropFirst("http".count))] {
    let conn = try Database(url: url).connect()
    for i in 0..<warmup {
        _ = try await conn.query("SELECT ?", [i])
    }
    var latencies: [Double] = []
    latencies.reserveCapacity(requests)
    let started = DispatchTime.now()
    for i in 0..<requests {
        let t0 = DispatchTime.now()
        let rows = try await conn.query("SELECT ?", [i])
        guard try rows[0].get(0, as: Int.self) == i else { fatalError("SELECT ? returned the wrong value") }
        latencies.append(microseconds(t0, DispatchTime.now()))
    }
    let elapsed = microseconds(started, DispatchTime.now()) / 1_000_000
    latencies.sort()
    let report: [String: Any] = [
        "scenario": "swift/\(via)/select/seq", "requests": requests, "ops_per_sec": Double(requests) / elapsed,
        "p50_us": percentile(latencies, 0.5), "p99_us": percentile(latencies, 0.99),
    ]
    print(String(decoding: try JSONSerialization.data(withJSONObject: report, options: [.sortedKeys]), as: UTF8.self))
}
