// FFI stress: several threads share one model (reloaded now and then) through the Kotlin layer on
// the real SmolLM2, with keyboard predictors, reply drafters and chats used, cancelled and closed
// at random, closes included while another thread is mid-call on the same object. Runs for
// POCKETLM_STRESS_SECONDS (default 20). It fails on a deadlock (the watchdog: workers not done
// well after the deadline, every thread's stack printed), on any exception that is not one of the
// library's typed outcomes, on an Internal error (a caught panic), and when a kind of call never
// produced a result. Prints the counts of calls, results and typed errors (seed included, so a
// failing schedule can be retried with POCKETLM_STRESS_SEED).
package dev.pocketlm.test

import dev.pocketlm.ChatOptions
import dev.pocketlm.DraftOptions
import dev.pocketlm.Model
import dev.pocketlm.ffi.PocketLmException
import java.util.concurrent.ConcurrentHashMap
import java.util.concurrent.ConcurrentLinkedQueue
import java.util.concurrent.Executors
import java.util.concurrent.TimeUnit
import java.util.concurrent.atomic.AtomicInteger
import java.util.concurrent.atomic.AtomicLong
import java.util.concurrent.atomic.AtomicReference
import kotlin.random.Random
import kotlin.test.assertTrue
import kotlinx.coroutines.CancellationException
import kotlinx.coroutines.flow.take
import kotlinx.coroutines.flow.toList
import kotlinx.coroutines.runBlocking
import kotlinx.coroutines.withTimeoutOrNull
import org.junit.jupiter.api.Test

/** One shared object that any thread may use, close or replace; [inFlight] counts calls on it. */
private class Slot<T : AutoCloseable>(val make: suspend (Model) -> T) {
    val current = AtomicReference<Pair<T, AtomicInteger>?>()

    /** Closes the current object, if any: (closed one, it was in use by another thread). */
    fun closeCurrent(): Pair<Boolean, Boolean> {
        val cur = current.getAndSet(null) ?: return false to false
        val busy = cur.second.get() > 0
        cur.first.close()
        return true to busy
    }
}

class StressTest {
    private val texts = listOf(
        "See you tomor", "How are you do", "Thanks for the", "I will be there at", "Good morn",
        "", "a", "The weather is really nice tod", "Can we meet after the mee", "ok",
    )
    private val messages = listOf(
        "Are you coming to dinner tonight?", "Thanks for the help!", "Where are you?",
        "Did you see the game?", "Can you call me back later?",
    )

    private val counts = ConcurrentHashMap<String, AtomicLong>()
    private fun count(what: String) = counts.computeIfAbsent(what) { AtomicLong() }.incrementAndGet()
    private val failures = ConcurrentLinkedQueue<String>()

    /** Runs one call and classifies its outcome; anything untyped is a failure. */
    private fun <T> call(kind: String, body: suspend () -> T?) {
        count("calls")
        count("$kind.calls")
        try {
            val r = runBlocking { body() }
            if (r == null) count("$kind.cancelled") else count("$kind.results")
        } catch (e: PocketLmException.Internal) {
            failures.add("$kind: Internal error (a caught panic): ${e.message}")
        } catch (e: PocketLmException) {
            count("typed errors")
            count("$kind.error.${e.javaClass.simpleName}")
        } catch (e: CancellationException) {
            count("$kind.cancelled")
        } catch (e: IllegalStateException) {
            // Using an object another thread closed: the Kotlin layer's "is closed", or the
            // bindings' "has already been destroyed" when the close won the race inside the call.
            val m = e.message.orEmpty()
            if ("is closed" in m || "already been destroyed" in m) {
                count("typed errors")
                count("$kind.error.closed")
            } else {
                failures.add("$kind: ${e.stackTraceToString()}")
            }
        } catch (e: Throwable) {
            failures.add("$kind: ${e.stackTraceToString()}")
        }
    }

    /** The slot's object (made on first use or after a close), with its in-flight count held. */
    private suspend fun <T : AutoCloseable> acquire(slot: Slot<T>, model: Model): Pair<T, AtomicInteger> {
        while (true) {
            slot.current.get()?.let { return it }
            val made = slot.make(model) to AtomicInteger()
            if (slot.current.compareAndSet(null, made)) return made
            made.first.close()
        }
    }

    private suspend fun <T : AutoCloseable, R> use(slot: Slot<T>, model: Model, f: suspend (T) -> R): R {
        val (obj, inFlight) = acquire(slot, model)
        inFlight.incrementAndGet()
        try {
            return f(obj)
        } finally {
            inFlight.decrementAndGet()
        }
    }

    /** Closes the slot's object, counting closes that hit an object another thread is using. */
    private fun close(slot: Slot<*>) {
        val (closed, busy) = slot.closeCurrent()
        if (closed) count("closes")
        if (busy) count("closes while in use")
    }

    @Test
    fun `threads sharing one model with random cancels and closes`() {
        val seconds = System.getenv("POCKETLM_STRESS_SECONDS")?.toLong() ?: 20L
        val seed = System.getenv("POCKETLM_STRESS_SEED")?.toLong() ?: System.nanoTime()
        val threads = 6
        println("stress: $threads threads for $seconds s, seed $seed")

        val model = AtomicReference(runBlocking { Model.load(modelPath()) })
        val keyboard = Slot { m -> m.keyboardPredictor() }
        val drafter = Slot { m -> m.replyDrafter() }
        val chat = Slot { m -> m.chat(ChatOptions(contextLength = 256, maxTokens = 6, sampling = GREEDY)) }
        val slots = listOf<Slot<*>>(keyboard, drafter, chat)
        val deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(seconds)

        val pool = Executors.newFixedThreadPool(threads) { r -> Thread(r, "stress").apply { isDaemon = true } }
        val futures = (0 until threads).map { t ->
            pool.submit(Runnable {
                val rng = Random(seed + t)
                while (System.nanoTime() < deadline) {
                    val m = model.get()
                    // A timeout of 1..300 ms on a third of the calls cancels them at a random point.
                    val timeoutMs = if (rng.nextInt(3) == 0) rng.nextLong(1, 300) else Long.MAX_VALUE
                    suspend fun <R> maybeCancelled(f: suspend () -> R): R? = withTimeoutOrNull(timeoutMs) { f() }
                    when (rng.nextInt(100)) {
                        in 0..39 -> call("keyboard") {
                            maybeCancelled { use(keyboard, m) { it.suggest(texts.random(rng)) } }
                        }
                        in 40..59 -> call("draft") {
                            maybeCancelled { use(drafter, m) { it.draft(messages.random(rng), DraftOptions(count = 2, maxWords = 6)) } }
                        }
                        in 60..69 -> call("chat") {
                            maybeCancelled { use(chat, m) { it.reply(messages.random(rng)) } }
                        }
                        in 70..77 -> call("chat-stream") {
                            // Collection stops after a few pieces: the generation is cancelled.
                            maybeCancelled { use(chat, m) { it.send(messages.random(rng)).take(2).toList() } }
                        }
                        in 78..85 -> call("keyboard-accept") {
                            use(keyboard, m) { it.accept("See you tomor", "tomorrow") }
                        }
                        in 86..95 -> close(slots.random(rng))
                        // Replace the model: objects made from the old one keep it alive until
                        // they are closed; a thread still holding the old one gets "is closed".
                        else -> call("reload") {
                            val fresh = Model.load(modelPath())
                            model.getAndSet(fresh).close()
                            fresh
                        }
                    }
                }
            })
        }

        // Watchdog: every worker must finish its last call well after the deadline.
        val grace = 90L
        pool.shutdown()
        val finished = pool.awaitTermination(seconds + grace, TimeUnit.SECONDS)
        if (!finished) {
            val dump = Thread.getAllStackTraces().entries.joinToString("\n") { (th, st) ->
                "${th.name} (${th.state}):\n" + st.joinToString("\n") { "    at $it" }
            }
            println(dump)
        }
        futures.filter { it.isDone }.forEach { it.get() }
        slots.forEach { close(it) }
        model.get().close()

        val summary = counts.entries.sortedBy { it.key }.joinToString(", ") { "${it.key}=${it.value}" }
        println("stress: $summary")
        failures.take(5).forEach { println("stress failure: $it") }
        assertTrue(finished, "deadlock: the workers did not finish ${grace}s after the deadline (stacks above)")
        assertTrue(failures.isEmpty(), "${failures.size} untyped outcomes, first: ${failures.firstOrNull()}")
        for (kind in listOf("keyboard", "draft", "chat", "keyboard-accept")) {
            assertTrue((counts["$kind.results"]?.get() ?: 0L) > 0, "no $kind call returned a result: $summary")
        }
        assertTrue((counts["closes"]?.get() ?: 0L) > 0, "nothing was closed: $summary")
    }
}
