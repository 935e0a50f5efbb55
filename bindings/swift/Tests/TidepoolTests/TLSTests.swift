// TLS: DatabaseOptions.caCertificatesPEM trusts a server's self-signed certificate over HTTPS and
// WSS; without it the certificate is refused with a typed network error.

import Foundation
import Tidepool
import XCTest

final class TLSTests: XCTestCase {
    func urls() throws -> (https: String, wss: String, ca: String) {
        let env = ProcessInfo.processInfo.environment
        guard let url = env["TIDEPOOL_TEST_TLS_URL"], let ca = env["TIDEPOOL_TEST_TLS_CA_PEM"] else {
            XCTFail("TIDEPOOL_TEST_TLS_URL and TIDEPOOL_TEST_TLS_CA_PEM are not set: run scripts/test-swift.sh")
            throw XCTSkip("no TLS server")
        }
        return (url, "wss" + url.dropFirst("https".count), ca)
    }

    func testATrustedCertificateWorksOverHTTPSAndWSS() async throws {
        let (https, wss, ca) = try urls()
        for url in [https, wss] {
            let db = try Database(url: url, options: DatabaseOptions(caCertificatesPEM: ca))
            let answer = try await scalar(db.connect(), "SELECT 6 * 7")
            XCTAssertEqual(answer, 42, url)
        }
    }

    func testAnUntrustedCertificateIsRefused() async throws {
        let (https, wss, _) = try urls()
        for url in [https, wss] {
            let db = try Database(url: url, options: DatabaseOptions(maxAttempts: 1))
            let error = await assertThrowsTidepool(TidepoolError.Code.connectFailed) {
                try await db.connect().query("SELECT 1")
            }
            guard case .network? = error else { return XCTFail("\(url): \(String(describing: error))") }
        }
    }
}
