package dev.pocketlm.samples

import java.util.concurrent.Executor
import java.util.concurrent.ExecutorService
import java.util.concurrent.Executors
import java.util.concurrent.LinkedBlockingQueue
import java.util.concurrent.TimeUnit

/**
 * A UI thread stand-in: an [Executor] whose tasks run only when its owner thread drains it. The
 * tests and the simulator pass it where an app passes its main thread, so the order in which
 * results reach the controller is the test's choice.
 */
class EventLoop : Executor {
    private val queue = LinkedBlockingQueue<Runnable>()

    override fun execute(command: Runnable) {
        queue.put(command)
    }

    /** Tasks waiting to run. */
    val pending: Int
        get() = queue.size

    /** Runs queued tasks, including those they queue, until none is left; returns how many ran. */
    fun runPending(): Int {
        var ran = 0
        while (true) {
            val task = queue.poll() ?: return ran
            task.run()
            ran++
        }
    }

    /**
     * Runs tasks as they arrive until [done] holds. [timeoutMillis] only guards against a hang
     * (the test then fails); it is not a timing assertion.
     */
    fun runUntil(timeoutMillis: Long = 120_000, done: () -> Boolean) {
        val deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(timeoutMillis)
        while (!done()) {
            val left = deadline - System.nanoTime()
            check(left > 0) { "EventLoop.runUntil: condition still false after $timeoutMillis ms" }
            queue.poll(left, TimeUnit.NANOSECONDS)?.run()
        }
    }
}

/**
 * The one background thread a controller runs the model on (tasks run in order, one at a time).
 * Apps keep one per controller; the simulator waits on it with [awaitIdle].
 */
class SerialWorker(name: String) : Executor, AutoCloseable {
    private val executor: ExecutorService = Executors.newSingleThreadExecutor { task ->
        Thread(task, name).apply { isDaemon = true }
    }

    override fun execute(command: Runnable) = executor.execute(command)

    /** Blocks until every task queued so far has run. Never call it on an app's UI thread. */
    fun awaitIdle() {
        executor.submit {}.get()
    }

    override fun close() = executor.shutdown()
}
