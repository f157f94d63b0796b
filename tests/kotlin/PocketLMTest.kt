// The Kotlin layer (dev.pocketlm) on the JVM against the host-built native library and the real
// SmolLM2-135M model. Run by scripts/test-kotlin.sh (`make test-kotlin`).
package dev.pocketlm.test

import dev.pocketlm.Chat
import dev.pocketlm.ChatOptions
import dev.pocketlm.ChatRole
import dev.pocketlm.ConversationMessage
import dev.pocketlm.DraftOptions
import dev.pocketlm.GenerationOptions
import dev.pocketlm.KeyboardOptions
import dev.pocketlm.KeyboardProfile
import dev.pocketlm.Model
import dev.pocketlm.NoDraftReason
import dev.pocketlm.PocketLM
import dev.pocketlm.ffi.CancelToken
import dev.pocketlm.ffi.Model as FfiModel
import dev.pocketlm.ffi.PocketLmException
import dev.pocketlm.ffi.ReplyDrafter as FfiReplyDrafter
import dev.pocketlm.SamplingOptions
import dev.pocketlm.SessionOptions
import dev.pocketlm.StopReason
import dev.pocketlm.SuggestionKind
import java.io.File
import java.nio.file.Files
import java.util.concurrent.CountDownLatch
import java.util.concurrent.Executors
import java.util.concurrent.TimeUnit
import java.util.concurrent.atomic.AtomicInteger
import kotlin.coroutines.CoroutineContext
import kotlin.test.assertContains
import kotlin.test.assertEquals
import kotlin.test.assertFailsWith
import kotlin.test.assertNotNull
import kotlin.test.assertTrue
import kotlinx.coroutines.CancellationException
import kotlinx.coroutines.CompletableDeferred
import kotlinx.coroutines.CoroutineDispatcher
import kotlinx.coroutines.CoroutineStart
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.asCoroutineDispatcher
import kotlinx.coroutines.async
import kotlinx.coroutines.awaitAll
import kotlinx.coroutines.cancelAndJoin
import kotlinx.coroutines.delay
import kotlinx.coroutines.flow.flowOf
import kotlinx.coroutines.flow.take
import kotlinx.coroutines.flow.toList
import kotlinx.coroutines.launch
import kotlinx.coroutines.runBlocking
import kotlinx.coroutines.withTimeout
import org.junit.jupiter.api.AfterAll
import org.junit.jupiter.api.BeforeAll
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.TestInstance

/** The model: $POCKETLM_MODEL, else models/SmolLM2-135M-Instruct.Q4_1.gguf under the repo root
 * ($POCKETLM_REPO or the working directory). Missing is a failure, not a skip. */
fun modelPath(): String {
    System.getenv("POCKETLM_MODEL")?.let { return it }
    val root = System.getenv("POCKETLM_REPO") ?: "."
    return File(root, "models/SmolLM2-135M-Instruct.Q4_1.gguf").path
}

val GREEDY = SamplingOptions(temperature = 0f)
fun greedy(maxTokens: Int) = GenerationOptions(maxTokens = maxTokens, sampling = GREEDY)

const val PROMPT = "The capital of France is"

@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class PocketLMTest {
    private lateinit var model: Model

    @BeforeAll
    fun load() = runBlocking<Unit> {
        val path = modelPath()
        check(File(path).isFile) { "model file $path is missing: run scripts/fetch-models.sh" }
        model = Model.load(path)
    }

    @AfterAll
    fun close() = model.close()

    /** Greedy text of [maxTokens] tokens after [prompt] on a fresh session. */
    private suspend fun reference(prompt: String, maxTokens: Int): String =
        model.textSession(SessionOptions(contextLength = 512)).use { it.complete(prompt, greedy(maxTokens)).text }

    @Test
    fun `a restored chat answers as the saved one would`() = runBlocking<Unit> {
        val opts = ChatOptions(systemPrompt = "Answer briefly.", maxTokens = 12, sampling = GREEDY, contextLength = 512)
        val file = Files.createTempFile("pocketlm-chat", ".plmchat").toFile()
        try {
            model.chat(opts).use { a ->
                assertTrue(a.reply("What is the capital of France?").generatedTokens > 0)
                val written = a.saveState(file.path)
                assertTrue(written > 0)
                assertEquals(file.length(), written)
                model.restoreChat(file.path, opts).use { b ->
                    assertEquals(a.history, b.history)
                    assertEquals(3, b.history.size)
                    val expected = a.send("And of Italy?").toList().joinToString("")
                    assertEquals(expected, b.send("And of Italy?").toList().joinToString(""))
                }
            }
            file.writeBytes(file.readBytes().copyOf(64))
            assertFailsWith<PocketLmException.InvalidSnapshot> { model.restoreChat(file.path, opts) }
        } finally {
            file.delete()
        }
    }

    @Test
    fun `a saved session continues in a new one as the original would`() = runBlocking<Unit> {
        val opts = SessionOptions(contextLength = 512)
        model.textSession(opts).use { a ->
            a.complete(PROMPT, greedy(4))
            val bytes = a.saveStateBytes()
            val file = Files.createTempFile("pocketlm-state", ".bin").toFile()
            try {
                assertEquals(bytes.size.toLong(), a.saveState(file.path))
                val expected = a.complete(" and", greedy(8)).text
                model.textSession(opts).use { b ->
                    b.loadStateBytes(bytes)
                    assertEquals(expected, b.complete(" and", greedy(8)).text)
                }
                model.textSession(opts).use { c ->
                    c.loadState(file.path)
                    assertEquals(expected, c.complete(" and", greedy(8)).text)
                    val corrupt = bytes.copyOf(bytes.size / 2)
                    assertFailsWith<PocketLmException.InvalidSnapshot> { c.loadStateBytes(corrupt) }
                }
            } finally {
                file.delete()
            }
        }
    }

    @Test
    fun `a drafter with a state directory warm-starts the second time`() = runBlocking<Unit> {
        val dir = Files.createTempDirectory("pocketlm-warm").toFile()
        try {
            val first = model.replyDrafter(stateDir = dir.path).use { d ->
                val r = d.draft("Can we meet tomorrow at 5?")
                assertEquals(false, d.warmStarted())
                r
            }
            model.replyDrafter(stateDir = dir.path).use { d ->
                assertEquals(first.replies.map { it.text }, d.draft("Can we meet tomorrow at 5?").replies.map { it.text })
                assertEquals(true, d.warmStarted())
            }
        } finally {
            dir.deleteRecursively()
        }
    }

    @Test
    fun `a keyboard predictor with a state directory warm-starts the second time`() = runBlocking<Unit> {
        val dir = Files.createTempDirectory("pocketlm-kbwarm").toFile()
        val texts = listOf("", "Are you com", "See you at the ")
        try {
            val first = model.keyboardPredictor(stateDir = dir.path).use { k ->
                assertEquals(null, k.warmStarted())
                val s = texts.map { t -> k.suggest(t) }
                assertEquals(false, k.warmStarted())
                s
            }
            model.keyboardPredictor(stateDir = dir.path).use { k ->
                assertEquals(first, texts.map { t -> k.suggest(t) })
                assertEquals(true, k.warmStarted())
            }
            model.keyboardPredictor().use { k -> assertEquals(first, texts.map { t -> k.suggest(t) }) }
        } finally {
            dir.deleteRecursively()
        }
    }

    @Test
    fun `load and info`() {
        val info = model.info
        assertEquals("llama", info.architecture)
        assertEquals("Q4_1", info.quantization)
        assertTrue(info.parameterCount in 100_000_000L..200_000_000L, "parameterCount ${info.parameterCount}")
        assertEquals(8192, info.contextLength)
        assertEquals(49152, info.vocabSize)
        assertEquals(30, info.layerCount)
        assertTrue(info.hasChatTemplate)
        assertEquals(File(modelPath()).length(), info.fileBytes)
        assertEquals(modelPath(), model.path)
        assertTrue(PocketLM.version.isNotEmpty())
        runBlocking { assertTrue(model.countTokens(PROMPT) in 4..12) }
    }

    @Test
    fun `low-memory keyboard profile and releaseMemory keep the suggestions`() = runBlocking<Unit> {
        val texts = listOf("See you tomor", "How are ", "I will be there in ten min")
        val want = model.keyboardPredictor().use { kb -> texts.map { kb.suggest(it).map { s -> s.word } } }
        model.keyboardPredictor(KeyboardOptions(profile = KeyboardProfile.LOW_MEMORY)).use { kb ->
            for ((text, words) in texts.zip(want)) {
                assertTrue(words.isNotEmpty(), "suggestions for '$text'")
                assertEquals(words, kb.suggest(text).map { it.word }, "low-memory strip for '$text'")
            }
            // Memory pressure: the caches go, the predictor keeps working with the same answers.
            kb.releaseMemory()
            assertEquals(want[0], kb.suggest(texts[0]).map { it.word })
            kb.releaseMemory()
            kb.releaseMemory()
            assertEquals(want[1], kb.suggest(texts[1]).map { it.word })
        }
    }

    @Test
    fun `the keyboard language setting reaches the predictor`() = runBlocking<Unit> {
        // Gemma 3 270M, the multilingual model, beside the test model (scripts/fetch-models.sh).
        val gemma = File(File(modelPath()).absoluteFile.parentFile, "gemma-3-270m-q4_k_m.gguf")
        check(gemma.isFile) { "model file $gemma is missing: run scripts/fetch-models.sh" }
        Model.load(gemma.path).use { m ->
            // English (the default) offers no "Dank" here (docs/keyboard.md); German does.
            m.keyboardPredictor(KeyboardOptions(threads = 1, language = "de")).use { kb ->
                assertContains(kb.suggest("Vielen Da").map { it.word }, "Dank")
            }
            assertFailsWith<PocketLmException.InvalidArgument> {
                m.keyboardPredictor(KeyboardOptions(threads = 1, language = "nl"))
            }
        }
    }

    @Test
    fun `keyboard suggestions while typing a sentence`() = runBlocking<Unit> {
        model.keyboardPredictor().use { kb ->
            val sentence = "I will see you tomorrow at the station"
            var text = ""
            var completedTomorrow = false
            var nextWords = 0
            for (ch in sentence) {
                text += ch
                val strip = kb.suggest(text)
                assertTrue(strip.size <= 3, "at most 3 suggestions, got $strip for '$text'")
                assertEquals(strip.size, strip.map { it.word }.toSet().size, "distinct words: $strip")
                val typed = text.substringAfterLast(' ')
                for (s in strip) {
                    assertTrue(s.word.isNotBlank() && s.probability > 0f && s.probability <= 1f, "$s")
                    if (s.kind == SuggestionKind.COMPLETION) {
                        assertTrue(s.word.lowercase().startsWith(typed.lowercase()), "'${s.word}' completes '$typed'")
                    }
                }
                if (typed.isEmpty()) {
                    assertTrue(strip.isNotEmpty(), "next-word suggestions after '$text'")
                    assertTrue(strip.all { it.kind == SuggestionKind.NEXT_WORD }, "$strip")
                    nextWords++
                }
                if (text.endsWith("tomor") && strip.any { it.word == "tomorrow" }) completedTomorrow = true
            }
            assertTrue(nextWords >= 7, "a next-word strip after every space")
            assertTrue(completedTomorrow, "'tomor' completes to 'tomorrow'")
            val edit = kb.accept("I will see you tomor", "tomorrow")
            assertEquals(5, edit.deleteChars)
            assertEquals("tomorrow ", edit.insert)
            // The Flow form: one strip per text.
            val strips = kb.suggestions(flowOf("Good morn", "Good morning")).toList()
            assertTrue(strips.isNotEmpty() && strips.last().isNotEmpty())
            kb.reset()
        }
    }

    @Test
    fun `three reply drafts`() = runBlocking<Unit> {
        model.replyDrafter().use { drafter ->
            val drafts = drafter.draft("Are you coming to the party tonight?")
            assertEquals(null, drafts.noDraftReason)
            assertEquals(3, drafts.replies.size, "drafts: ${drafts.replies}")
            assertEquals(3, drafts.replies.map { it.text.lowercase() }.toSet().size, "distinct: ${drafts.replies}")
            for (r in drafts.replies) {
                assertTrue(r.text.isNotBlank() && r.text.split(' ').size <= 10, "short: '${r.text}'")
                assertTrue(r.score > 0f && r.score <= 1f, "score ${r.score}")
            }
            val convo = listOf(
                ConversationMessage(fromMe = true, text = "Want to grab lunch?"),
                ConversationMessage(fromMe = false, text = "Sure, where should we meet?"),
            )
            assertTrue(drafter.draft(convo, DraftOptions(count = 2)).replies.size in 1..2)
            val mine = drafter.draft(listOf(ConversationMessage(fromMe = true, text = "See you soon")))
            assertEquals(NoDraftReason.LAST_MESSAGE_IS_MINE, mine.noDraftReason)
            assertTrue(mine.replies.isEmpty())
            assertFailsWith<PocketLmException.InvalidArgument> { drafter.draft(emptyList()) }
        }
    }

    @Test
    fun `drafting is cancellable and the drafter stays usable`() = runBlocking<Unit> {
        val message = "Are you coming to the party tonight?"
        // The FFI: a pre-cancelled token makes draft fail with Cancelled; no token works.
        FfiModel.load(modelPath()).use { m ->
            FfiReplyDrafter(m, dev.pocketlm.DrafterOptions()).use { d ->
                val token = CancelToken().apply { cancel() }
                assertTrue(token.isCancelled())
                assertFailsWith<PocketLmException.Cancelled> { d.draft(listOf(ConversationMessage(false, message)), DraftOptions(), token) }
                assertEquals(3, d.draft(listOf(ConversationMessage(false, message)), DraftOptions()).replies.size)
                token.close()
            }
        }
        // The Kotlin layer: cancelling the coroutine while the native draft runs ends it with
        // CancellationException; the drafter then gives the same drafts as before, three times.
        model.replyDrafter().use { drafter ->
            val expected = drafter.draft(message)
            assertEquals(3, expected.replies.size, "$expected")
            val saved = PocketLM.dispatcher
            try {
                val started = CountDownLatch(1)
                PocketLM.dispatcher = object : CoroutineDispatcher() {
                    override fun dispatch(context: CoroutineContext, block: Runnable) =
                        Dispatchers.IO.dispatch(context, Runnable { started.countDown(); block.run() })
                }
                val d = async(Dispatchers.Default) { drafter.draft(message) }
                assertTrue(started.await(60, TimeUnit.SECONDS))
                d.cancel()
                assertFailsWith<CancellationException> { d.await() }
                assertTrue(d.isCancelled)
            } finally {
                PocketLM.dispatcher = saved
            }
            repeat(3) { assertEquals(expected, drafter.draft(message)) }
        }
    }

    @Test
    fun `streaming through Flow`() = runBlocking<Unit> {
        val expected = reference(PROMPT, 12)
        assertTrue(expected.isNotBlank())
        model.textSession(SessionOptions(contextLength = 512)).use { session ->
            val pieces = session.generate(PROMPT, greedy(12)).toList()
            assertTrue(pieces.size >= 2, "streamed in pieces: $pieces")
            assertEquals(expected, pieces.joinToString(""))
            val last = assertNotNull(session.lastResult())
            assertEquals(expected, last.text)
            assertEquals(StopReason.MAX_TOKENS, last.stopReason)
            assertEquals(12, last.generatedTokens)
            assertEquals(0, last.tokensAfterCancel)
        }
        // Chat streaming: the answer joins the history.
        model.chat(ChatOptions(maxTokens = 24, sampling = GREEDY, contextLength = 1024)).use { chat: Chat ->
            val answer = chat.send("What is the capital of France?").toList().joinToString("")
            assertTrue(answer.isNotBlank())
            val h = chat.history
            assertEquals(listOf(ChatRole.USER, ChatRole.ASSISTANT), h.map { it.role })
            assertEquals(answer.trim(), h[1].content)
            chat.clear()
            assertTrue(chat.history.isEmpty())
        }
    }

    @Test
    fun `cancellation mid-stream stops within one token and the model stays usable`() = runBlocking<Unit> {
        val expected = reference(PROMPT, 10)
        model.textSession(SessionOptions(contextLength = 512)).use { session ->
            val promptTokens = model.countTokens(PROMPT)
            // 1. The collector stops after 3 pieces (take): the generation is cancelled.
            val three = session.generate(PROMPT, greedy(200)).take(3).toList()
            assertEquals(3, three.size)
            val r1 = assertNotNull(session.lastResult())
            assertEquals(StopReason.CANCELLED, r1.stopReason)
            assertTrue(r1.generatedTokens <= 4, "stopped within one token of the 3rd piece: $r1")
            assertTrue(session.contextTokens <= promptTokens + 4, "context ${session.contextTokens}")
            assertEquals(three.joinToString(""), r1.text)

            // 2. Cancelling the collecting coroutine cancels the generation.
            val got3 = CompletableDeferred<Unit>()
            val n = AtomicInteger()
            val job = launch(Dispatchers.Default) {
                session.generate(PROMPT, greedy(200)).collect { if (n.incrementAndGet() == 3) got3.complete(Unit) }
            }
            withTimeout(60_000) { got3.await() }
            job.cancelAndJoin()
            val r2 = assertNotNull(session.lastResult())
            assertEquals(StopReason.CANCELLED, r2.stopReason)
            assertTrue(r2.generatedTokens <= n.get() + 1, "within one token: $r2, collected ${n.get()}")

            // 3. The handle: cancel() from another thread while the listener counts pieces.
            val seen = AtomicInteger()
            val three3 = CountDownLatch(1)
            val task = session.start(PROMPT, greedy(200)) { if (seen.incrementAndGet() == 3) three3.countDown(); true }
            assertTrue(three3.await(60, TimeUnit.SECONDS))
            task.cancel()
            val atCancel = seen.get()
            val r3 = task.join()
            assertEquals(StopReason.CANCELLED, r3.stopReason)
            assertTrue(r3.tokensAfterCancel <= 1, "tokensAfterCancel ${r3.tokensAfterCancel}")
            assertTrue(r3.generatedTokens <= atCancel + 1, "$r3 after $atCancel pieces")
            assertTrue(task.isCancelled() && task.isFinished())
            task.close()
            task.close()

            // 4. Closing the handle cancels.
            val started = CountDownLatch(1)
            val t4 = session.start(PROMPT, greedy(200)) { started.countDown(); true }
            assertTrue(started.await(60, TimeUnit.SECONDS))
            t4.close()
            assertEquals(StopReason.CANCELLED, assertNotNull(session.lastResult()).stopReason)

            // 5. Cancelling the coroutine that awaits complete() cancels its generation
            //    ("Once upon a time" generates 400 tokens greedily, no end token).
            val job5 = launch(Dispatchers.Default) { session.complete("Once upon a time", greedy(400)) }
            delay(300)
            job5.cancelAndJoin()
            val r5 = assertNotNull(session.lastResult())
            assertEquals(StopReason.CANCELLED, r5.stopReason, "$r5")
            assertTrue(r5.generatedTokens < 400 && r5.tokensAfterCancel <= 1, "$r5")

            // 6. ... also when the coroutine is cancelled while the native call that starts the
            //    generation runs: the caller's thread is kept busy until the call has returned,
            //    then the coroutine is cancelled, so withContext drops the call's result.
            val callerThread = Executors.newSingleThreadExecutor()
            val saved = PocketLM.dispatcher
            try {
                val startedCall = CountDownLatch(1)
                PocketLM.dispatcher = object : CoroutineDispatcher() {
                    override fun dispatch(context: CoroutineContext, block: Runnable) =
                        Dispatchers.IO.dispatch(context, Runnable { block.run(); startedCall.countDown() })
                }
                val gate = CountDownLatch(1)
                callerThread.execute { gate.await() }
                // Runs here up to withContext; it resumes on the (busy) caller thread.
                val job6 = launch(callerThread.asCoroutineDispatcher(), start = CoroutineStart.UNDISPATCHED) {
                    session.complete("Once upon a time", greedy(100))
                }
                assertTrue(startedCall.await(60, TimeUnit.SECONDS))
                job6.cancel()
                gate.countDown()
                job6.join()
                val r6 = assertNotNull(session.lastResult())
                assertEquals(StopReason.CANCELLED, r6.stopReason, "no generation left running: $r6")
            } finally {
                PocketLM.dispatcher = saved
                callerThread.shutdown()
            }

            // 7. The session and the model are reusable and give the same text as before.
            assertEquals(expected, session.complete(PROMPT, greedy(10)).text)
            assertEquals(expected, reference(PROMPT, 10))
        }
    }

    @Test
    fun `errors for a missing and a corrupt model file`() = runBlocking<Unit> {
        val missing = "/nonexistent/dir/missing-model.gguf"
        val e1 = assertFailsWith<PocketLmException.ModelNotFound> { Model.load(missing) }
        assertContains(e1.message!!, missing)
        assertContains(e1.message!!, "check the path")

        val dir = Files.createTempDirectory("pocketlm-kt").toFile()
        try {
            val garbage = File(dir, "garbage.gguf").apply { writeText("this is not a model, just text ".repeat(100)) }
            val e2 = assertFailsWith<PocketLmException.InvalidModel> { Model.load(garbage.path) }
            assertContains(e2.message!!, "GGUF")
            // A truncated copy of the real model (an interrupted download).
            val truncated = File(dir, "truncated.gguf")
            File(modelPath()).inputStream().use { inp ->
                truncated.outputStream().use { out ->
                    val buf = ByteArray(1 shl 20)
                    out.write(buf, 0, inp.read(buf))
                }
            }
            val e3 = assertFailsWith<PocketLmException.InvalidModel> { Model.load(truncated.path) }
            assertContains(e3.message!!, "download it again")
            val e4 = assertFailsWith<PocketLmException.ModelNotFound> { Model.load(dir.path) }
            assertContains(e4.message!!, "directory")
        } finally {
            dir.deleteRecursively()
        }
        // Bad arguments are errors too, never crashes.
        model.textSession().use { s ->
            assertFailsWith<PocketLmException.InvalidArgument> { s.complete("", greedy(4)) }
            val e5 = assertFailsWith<PocketLmException.InvalidArgument> {
                s.complete(PROMPT, GenerationOptions(sampling = SamplingOptions(topP = 2f)))
            }
            assertContains(e5.message!!, "top_p")
            assertFailsWith<PocketLmException.InvalidArgument> { s.complete(PROMPT, greedy(0)) }
        }
        // A listener that throws stops its generation with an error; the session stays usable.
        model.textSession(SessionOptions(contextLength = 256)).use { s ->
            val t = s.start(PROMPT, greedy(8)) { throw IllegalStateException("listener bug") }
            val e = assertFailsWith<PocketLmException.Internal> { t.join() }
            assertContains(e.message!!, "TextListener")
            assertContains(e.message!!, "listener bug")
            assertEquals(8, s.complete(PROMPT, greedy(8)).generatedTokens)
        }
        assertFailsWith<PocketLmException.InvalidArgument> { model.textSession(SessionOptions(contextLength = -1)) }
        val e6 = assertFailsWith<PocketLmException.ContextFull> {
            model.textSession(SessionOptions(contextLength = 16)).use { it.complete("word ".repeat(40), greedy(4)) }
        }
        assertContains(e6.message!!, "context")
        Unit
    }

    @Test
    fun `two coroutines using one model concurrently`() = runBlocking<Unit> {
        val prompts = listOf(PROMPT, "Once upon a time")
        val expected = prompts.map { reference(it, 16) }
        // Two sessions of one model, in parallel.
        val got = prompts.map { p ->
            async(Dispatchers.Default) {
                model.textSession(SessionOptions(contextLength = 512)).use { it.generate(p, greedy(16)).toList().joinToString("") }
            }
        }.awaitAll()
        assertEquals(expected, got)
        // A keyboard and a drafter on the same model at the same time.
        val kb = async(Dispatchers.Default) { model.keyboardPredictor().use { it.suggest("How are you do") } }
        val drafts = async(Dispatchers.Default) { model.replyDrafter().use { it.draft("Thanks for the help!") } }
        assertTrue(kb.await().isNotEmpty())
        assertTrue(drafts.await().replies.isNotEmpty())
        // One session used by two coroutines at once: the generations are serialized, both correct.
        model.textSession(SessionOptions(contextLength = 512)).use { s ->
            val both = prompts.map { p -> async(Dispatchers.Default) { s.complete(p, greedy(16)).text } }.awaitAll()
            assertEquals(expected, both)
        }
        // One keyboard predictor used by two coroutines at once.
        model.keyboardPredictor().use { k ->
            val a = async(Dispatchers.Default) { k.suggest("See you tomor") }
            val b = async(Dispatchers.Default) { k.suggest("Good morn") }
            assertTrue(a.await().any { it.word == "tomorrow" }, "${a.await()}")
            assertTrue(b.await().isNotEmpty())
        }
    }

    @Test
    fun `closing objects twice`() = runBlocking<Unit> {
        val m = Model.load(modelPath())
        val kb = m.keyboardPredictor()
        val session = m.textSession(SessionOptions(contextLength = 256))
        val chat = m.chat(ChatOptions(maxTokens = 4, sampling = GREEDY))
        val drafter = m.replyDrafter()
        m.close()
        m.close()
        assertTrue(m.isClosed)
        assertFailsWith<IllegalStateException> { m.info }
        assertFailsWith<IllegalStateException> { m.keyboardPredictor() }
        // Objects made from the model keep it alive.
        assertTrue(kb.suggest("Hello my fri").isNotEmpty())
        assertEquals(4, session.complete(PROMPT, greedy(4)).generatedTokens)
        for (c in listOf<AutoCloseable>(kb, session, chat, drafter)) {
            c.close()
            c.close()
        }
        assertFailsWith<IllegalStateException> { kb.suggest("Hello") }
        assertFailsWith<IllegalStateException> { session.generate(PROMPT) }
        assertFailsWith<IllegalStateException> { chat.history }
        assertFailsWith<IllegalStateException> { drafter.draft("Hi") }
        Unit
    }
}
