package dev.pocketlm.samples.sim

import dev.pocketlm.samples.EventLoop
import dev.pocketlm.samples.InMemoryTextField
import dev.pocketlm.samples.Json
import dev.pocketlm.samples.JsonException
import dev.pocketlm.samples.KeyboardGlue
import dev.pocketlm.samples.ModelState
import java.io.BufferedReader
import java.io.InputStreamReader
import java.io.PrintStream
import kotlin.system.exitProcess

/**
 * The keyboard sample's simulator (docs/samples.md, "Keyboard simulator"): the shared keyboard
 * controller through the Android glue ([KeyboardGlue]) with an in-memory field, the real model at
 * [modelPath] on the controller's worker, and an [EventLoop] as the UI thread. [handle] takes one
 * JSON event line and returns one JSON state line once the worker has settled.
 */
class KeyboardSim(modelPath: String) : AutoCloseable {
    private val field = InMemoryTextField()
    private val ui = EventLoop()
    private val controller = KeyboardGlue(field, ui)

    init {
        controller.startField(PLAIN_TEXT)
        controller.loadModel(modelPath)
        settle()
    }

    /**
     * With `POCKETLM_SIM_LATENCY=1`: every typed key is settled on its own and timed from the key
     * to its strip delivered on the UI thread (worker hop included); [latencySummary] reports them.
     */
    private val measure = System.getenv("POCKETLM_SIM_LATENCY") == "1"
    private val keystrokeNanos = ArrayList<Long>()

    /** `latency: N keystrokes, p50 X ms, p95 Y ms` (nearest rank), or null when not measuring. */
    fun latencySummary(): String? {
        if (!measure || keystrokeNanos.isEmpty()) return null
        val sorted = keystrokeNanos.sorted()
        fun p(q: Double) = sorted[(Math.ceil(q * sorted.size).toInt() - 1).coerceIn(0, sorted.size - 1)] / 1e6
        return "latency: ${sorted.size} keystrokes, p50 %.2f ms, p95 %.2f ms".format(p(0.50), p(0.95))
    }

    /** The model's state after start-up (the simulator stops when it is not Ready). */
    val modelState: ModelState
        get() = controller.state.modelState

    /** One event line in, one output line out (`{"error":...}` for an invalid line). */
    fun handle(line: String): String {
        val event = try {
            Json.parse(line) as? Map<*, *> ?: return error("an event is a JSON object")
        } catch (e: JsonException) {
            return error("invalid JSON: ${e.message}")
        }
        when (val type = event["type"]) {
            "text" -> {
                val text = event["text"] as? String ?: return error("\"text\" needs a string \"text\"")
                var i = 0
                while (i < text.length) {
                    val cp = text.codePointAt(i)
                    val start = System.nanoTime()
                    controller.type(String(Character.toChars(cp)))
                    if (measure) {
                        settle()
                        keystrokeNanos.add(System.nanoTime() - start)
                    }
                    i += Character.charCount(cp)
                }
            }
            "tap" -> {
                val slot = int(event["slot"])?.takeIf { it in 0..2 } ?: return error("\"tap\" needs \"slot\" 0, 1 or 2")
                controller.tap(slot)
            }
            "backspace" -> {
                val n = int(event["n"])?.takeIf { it >= 0 } ?: return error("\"backspace\" needs a count \"n\" >= 0")
                controller.backspace(n)
            }
            "field" -> {
                val inputType = int(event["input_type"]) ?: return error("\"field\" needs an integer \"input_type\"")
                field.setText("")
                controller.startField(inputType)
            }
            "move" -> {
                val to = int(event["to"]) ?: return error("\"move\" needs an integer \"to\"")
                field.moveToScalar(to)
                controller.onSelectionChanged()
            }
            null -> return error("missing \"type\"")
            else -> return error("unknown event type ${Json.quote(type.toString())}")
        }
        settle()
        return stateLine()
    }

    /** `{"text":...,"cursor":...,"strip":[...]}` for the current state. */
    fun stateLine(): String {
        val strip = controller.state.strip.joinToString(",", "[", "]") { Json.quote(it) }
        return "{\"text\":${Json.quote(field.text)},\"cursor\":${field.scalarCursor},\"strip\":$strip}"
    }

    /** Waits until the worker is idle and the UI thread has nothing left to run. */
    private fun settle() {
        do {
            controller.awaitIdle()
        } while (ui.runPending() > 0)
    }

    override fun close() = controller.close()

    companion object {
        const val PLAIN_TEXT = 1
        const val DEFAULT_MODEL = "models/SmolLM2-135M-Instruct.Q4_1.gguf"

        fun error(message: String) = "{\"error\":${Json.quote(message)}}"

        /** A JSON number that is an integer in Int's range, else null. */
        fun int(v: Any?): Int? = when (v) {
            is Long -> v.takeIf { it in Int.MIN_VALUE..Int.MAX_VALUE }?.toInt()
            is Double -> v.takeIf { it == Math.rint(it) && it in -2e9..2e9 }?.toInt()
            else -> null
        }
    }
}

/** `KeyboardSimKt [--model M] < events.jsonl` (run by scripts/sim/kotlin.sh). */
fun main(args: Array<String>) {
    var model = KeyboardSim.DEFAULT_MODEL
    var i = 0
    while (i < args.size) {
        when (args[i]) {
            "--model" -> model = args.getOrNull(++i) ?: usage()
            else -> usage()
        }
        i++
    }
    val out = PrintStream(System.out, false, "UTF-8")
    KeyboardSim(model).use { sim ->
        val state = sim.modelState
        if (state != ModelState.Ready) {
            System.err.println("sample-sim: cannot load the model $model: ${(state as? ModelState.Failed)?.detail ?: state}")
            exitProcess(1)
        }
        val input = BufferedReader(InputStreamReader(System.`in`, Charsets.UTF_8))
        while (true) {
            val line = input.readLine() ?: break
            if (line.isBlank()) continue
            out.println(sim.handle(line))
            out.flush()
        }
        sim.latencySummary()?.let { System.err.println("sample-sim: $it") }
    }
    exitProcess(0)
}

private fun usage(): Nothing {
    System.err.println("usage: scripts/sample-sim.sh kotlin [--model M] < events.jsonl")
    exitProcess(2)
}
