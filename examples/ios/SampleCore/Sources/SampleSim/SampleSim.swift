// The keyboard simulator (docs/samples.md#keyboard-simulator): JSON-lines events on stdin drive
// the shared keyboard controller (Rust's KeyboardCore) through SampleCore's iOS glue
// (KeyboardGlue) on the real model and a fake field; after each event the controller settles and
// one state line is printed.
//
//   SampleSim [--model PATH] < events.jsonl      (scripts/sample-sim.sh swift wraps it)

import Foundation
import SampleCore

func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data("SampleSim: \(message)\n".utf8))
    exit(1)
}

/// A JSON string literal in the simulators' shared encoding.
func jsonString(_ s: String) -> String {
    var out = "\""
    for scalar in s.unicodeScalars {
        switch scalar {
        case "\"": out += "\\\""
        case "\\": out += "\\\\"
        case "\u{8}": out += "\\b"
        case "\u{c}": out += "\\f"
        case "\n": out += "\\n"
        case "\r": out += "\\r"
        case "\t": out += "\\t"
        case _ where scalar.value < 0x20: out += String(format: "\\u%04x", scalar.value)
        default: out.unicodeScalars.append(scalar)
        }
    }
    return out + "\""
}

func emit(_ line: String) {
    FileHandle.standardOutput.write(Data((line + "\n").utf8))
}

enum EventError: Error { case invalid(String) }

/// The iOS traits of a field with Android `inputType`, for the simulator's `field` events (the
/// glue maps them back onto the shared policy table, docs/samples.md#field-policy).
func traits(androidInputType t: Int) -> FieldTraits {
    var traits = FieldTraits()
    switch t & 0xF {
    case 1: // TEXT
        let variation = t & 0xFF0
        if [0x80, 0x90, 0xE0].contains(variation) {
            traits.isSecureTextEntry = true
        } else if [0x20, 0xD0].contains(variation) {
            traits.keyboardType = .emailAddress
        } else if variation == 0x10 {
            traits.keyboardType = .url
        }
        if t & 0x80000 != 0 { traits.autocorrectionType = .no }
    case 2: traits.keyboardType = .numberPad
    case 3: traits.keyboardType = .phonePad
    default: traits.keyboardType = .numbersAndPunctuation // DATETIME, NULL: no text keyboard
    }
    return traits
}

/// The glue, its fake field and its "UI thread".
final class Simulator {
    let ui = ManualExecutor()
    let field = InMemoryTextDocument(traits: traits(androidInputType: 1))
    let glue: KeyboardGlue

    /// With `POCKETLM_SIM_LATENCY=1`: every typed key is settled on its own and timed from the key
    /// to its strip delivered on the UI thread; `latencySummary` reports them.
    let measure = ProcessInfo.processInfo.environment["POCKETLM_SIM_LATENCY"] == "1"
    var keystrokeNanos: [UInt64] = []

    /// `latency: N keystrokes, p50 X ms, p95 Y ms` (nearest rank), or nil when not measuring.
    func latencySummary() -> String? {
        guard measure, !keystrokeNanos.isEmpty else { return nil }
        let sorted = keystrokeNanos.sorted()
        func p(_ q: Double) -> Double {
            let rank = Int((q * Double(sorted.count)).rounded(.up)) - 1
            return Double(sorted[max(0, min(sorted.count - 1, rank))]) / 1e6
        }
        return String(format: "latency: %d keystrokes, p50 %.2f ms, p95 %.2f ms", sorted.count, p(0.50), p(0.95))
    }

    init(modelPath: String) {
        do {
            glue = try KeyboardGlue(document: field, deliver: ui.deliver)
        } catch {
            fail("cannot start the keyboard controller: \(error)")
        }
        glue.startField()
        glue.loadModel(path: modelPath)
        settle()
        if case .failed(_, let detail) = glue.state.modelState {
            fail("cannot load \(modelPath): \(detail)")
        }
    }

    /// Waits until the worker is idle and the UI thread has nothing left to run.
    func settle() {
        repeat {
            guard glue.waitIdle(timeout: 300) else { fail("the keyboard controller is still busy after 300 s") }
        } while ui.runQueued() > 0
    }

    func int(_ event: [String: Any], _ key: String) throws -> Int {
        guard let n = event[key] as? Int else { throw EventError.invalid("\"\(key)\" must be an integer") }
        return n
    }

    func apply(_ event: [String: Any]) throws {
        switch event["type"] as? String {
        case "text":
            guard let text = event["text"] as? String else { throw EventError.invalid("\"text\" must be a string") }
            // One key per Unicode scalar, as the Kotlin simulator types them.
            for scalar in text.unicodeScalars {
                let start = DispatchTime.now().uptimeNanoseconds
                glue.type(String(scalar))
                if measure {
                    settle()
                    keystrokeNanos.append(DispatchTime.now().uptimeNanoseconds - start)
                }
            }
        case "tap":
            let slot = try int(event, "slot")
            guard (0...2).contains(slot) else { throw EventError.invalid("\"slot\" must be 0, 1 or 2") }
            glue.tap(slot: slot)
        case "backspace":
            let n = event["n"] == nil ? 1 : try int(event, "n")
            guard n >= 0 else { throw EventError.invalid("\"n\" must not be negative") }
            glue.backspace(n)
        case "field":
            field.newDocument(traits: traits(androidInputType: try int(event, "input_type")))
            glue.textDidChange()
        case "move":
            field.moveCursor(toScalarOffset: try int(event, "to"))
            glue.textDidChange()
        case let type?:
            throw EventError.invalid("unknown event type \"\(type)\"")
        case nil:
            throw EventError.invalid("an event needs a string \"type\"")
        }
    }

    /// One state line per event line.
    func run() {
        while let line = readLine(strippingNewline: true) {
            if line.trimmingCharacters(in: .whitespaces).isEmpty { continue }
            do {
                guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)),
                      let event = object as? [String: Any] else {
                    throw EventError.invalid("not a JSON object")
                }
                try apply(event)
                settle()
                let strip = glue.state.strip.map(jsonString).joined(separator: ",")
                emit("{\"text\":\(jsonString(field.text)),\"cursor\":\(field.cursor),\"strip\":[\(strip)]}")
            } catch EventError.invalid(let message) {
                emit("{\"error\":\(jsonString(message))}")
            } catch {
                emit("{\"error\":\(jsonString("\(error)"))}")
            }
        }
        if let summary = latencySummary() {
            FileHandle.standardError.write(Data("sample-sim: \(summary)\n".utf8))
        }
    }
}

@main
enum SampleSim {
    static func main() {
        var modelPath = ProcessInfo.processInfo.environment["POCKETLM_MODEL"] ?? ""
        var args = CommandLine.arguments.dropFirst()
        while let arg = args.popFirst() {
            switch arg {
            case "--model":
                guard let value = args.popFirst() else { fail("--model needs a path") }
                modelPath = value
            default:
                fail("unknown argument \(arg) (usage: SampleSim [--model PATH] < events.jsonl)")
            }
        }
        if modelPath.isEmpty { fail("no model: pass --model PATH or set POCKETLM_MODEL") }
        Simulator(modelPath: modelPath).run()
    }
}
