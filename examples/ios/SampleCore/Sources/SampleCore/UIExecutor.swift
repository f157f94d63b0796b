// How background work hands its results back to the UI thread. The controllers never touch the
// UI thread themselves: they are given a `Deliver` function. The apps pass `DispatchQueue.main`;
// tests and the simulator pass a `ManualExecutor` and run the delivered closures themselves, so
// the order of events is decided by the test, not by thread timing.

import Foundation

/// Runs a closure on the thread that owns a controller (the UI thread in the apps).
public typealias Deliver = @Sendable (@escaping @Sendable () -> Void) -> Void

/// The apps' delivery: the main queue.
public let deliverOnMain: Deliver = { job in DispatchQueue.main.async(execute: job) }

/// Why settling gave up.
public struct SettleTimeout: Error, CustomStringConvertible {
    public let seconds: Double
    public init(seconds: Double) { self.seconds = seconds }
    public var description: String { "the controller did not settle within \(seconds) s" }
}

/// A queue of delivered closures that runs only when the owner asks: the "UI thread" of tests
/// and of the simulator.
public final class ManualExecutor: @unchecked Sendable {
    private let lock = NSLock()
    private var jobs: [@Sendable () -> Void] = []

    public init() {}

    public var deliver: Deliver {
        { [self] job in
            lock.lock()
            jobs.append(job)
            lock.unlock()
        }
    }

    /// Closures delivered and not run yet.
    public var queued: Int {
        lock.lock()
        defer { lock.unlock() }
        return jobs.count
    }

    /// Runs the closures delivered so far (and those they deliver); returns how many ran.
    @discardableResult
    public func runQueued() -> Int {
        var ran = 0
        while true {
            lock.lock()
            guard !jobs.isEmpty else { lock.unlock(); return ran }
            let job = jobs.removeFirst()
            lock.unlock()
            job()
            ran += 1
        }
    }

    /// Runs delivered closures until `isIdle()` holds and nothing is queued.
    public func settle(timeout seconds: Double = 120, until isIdle: () -> Bool) async throws {
        let deadline = Date().addingTimeInterval(seconds)
        while true {
            runQueued()
            if isIdle() && queued == 0 { return }
            if Date() > deadline { throw SettleTimeout(seconds: seconds) }
            try await Task.sleep(nanoseconds: 1_000_000)
        }
    }
}
