package dev.pocketlm.samples.reply

import android.app.Activity
import android.content.ActivityNotFoundException
import android.content.Intent
import android.graphics.drawable.GradientDrawable
import android.os.Bundle
import android.os.Handler
import android.os.Looper
import android.provider.CalendarContract
import android.text.Editable
import android.text.TextWatcher
import android.util.TypedValue
import android.view.Gravity
import android.view.View
import android.view.ViewGroup.LayoutParams.MATCH_PARENT
import android.view.ViewGroup.LayoutParams.WRAP_CONTENT
import android.widget.AdapterView
import android.widget.ArrayAdapter
import android.widget.Button
import android.widget.EditText
import android.widget.LinearLayout
import android.widget.ProgressBar
import android.widget.ScrollView
import android.widget.Spinner
import android.widget.TextView
import dev.pocketlm.NoDraftReason
import dev.pocketlm.ffi.CalendarEvent
import dev.pocketlm.ffi.ReplyCoreState
import dev.pocketlm.samples.ModelInstaller
import dev.pocketlm.samples.ModelState
import dev.pocketlm.samples.ReplyGlue
import dev.pocketlm.samples.SerialWorker
import dev.pocketlm.samples.modelState
import java.io.IOException
import java.util.concurrent.Executor

/**
 * The reply sample's screen, framework widgets only: it forwards taps and edits to the
 * shared reply controller through [ReplyGlue] (examples/android/samples-core) and draws its
 * [ReplyCoreState].
 */
class ReplyActivity : Activity() {
    private companion object {
        const val PICK_MODEL = 1
        const val INCOMING = 0xFFE9ECEF.toInt()
        const val MINE = 0xFFCFE3FF.toInt()

        fun reasonText(reason: NoDraftReason?): String = when (reason) {
            null -> ""
            NoDraftReason.SENSITIVE -> "No suggestions for a sensitive message: reply in your own words."
            NoDraftReason.LAST_MESSAGE_IS_MINE -> "Nothing to reply to: the last message is yours."
            NoDraftReason.NOTHING_GOOD -> "No good suggestion this time."
            NoDraftReason.AUTOMATED -> "An automated message: no reply needed."
            NoDraftReason.CLOSING -> "Nothing to answer: they just acknowledged."
            NoDraftReason.NO_REPLY_EXPECTED -> "This reads like a message nobody answers."
        }
    }

    private val installer = SerialWorker("pocketlm-install")
    private lateinit var controller: ReplyGlue
    private lateinit var modelStatus: TextView
    private lateinit var messages: LinearLayout
    private lateinit var messagesScroll: ScrollView
    private lateinit var progress: ProgressBar
    private lateinit var reason: TextView
    private lateinit var chips: List<Button>
    private lateinit var calendar: Button
    private lateinit var compose: EditText
    private lateinit var longer: Button
    private lateinit var send: Button
    private var drawing = false
    private var shownMessages: List<dev.pocketlm.ConversationMessage>? = null

    override fun onCreate(savedInstanceState: Bundle?) {
        super.onCreate(savedInstanceState)
        val main = Handler(Looper.getMainLooper())
        controller = ReplyGlue(Executor { main.post(it) }) { render(it) }
        setContentView(layout())
        loadModel()
    }

    override fun onDestroy() {
        controller.close()
        installer.close()
        super.onDestroy()
    }

    private fun loadModel() {
        // The drafter's warm-up is kept in the files dir: the next start skips it. The model's
        // interleaved copy (faster decode) is written once to the no-backup dir.
        controller.loadModel(
            ModelInstaller.modelFile(filesDir).path,
            java.io.File(filesDir, "reply-state").path,
            java.io.File(noBackupFilesDir, "layout-cache").path,
        )
    }

    override fun onActivityResult(requestCode: Int, resultCode: Int, data: Intent?) {
        super.onActivityResult(requestCode, resultCode, data)
        val uri = data?.data
        if (requestCode != PICK_MODEL || resultCode != RESULT_OK || uri == null) return
        modelStatus.text = "Copying the model…"
        installer.execute {
            val outcome = runCatching {
                (contentResolver.openInputStream(uri) ?: throw IOException("cannot open $uri")).use {
                    ModelInstaller.install(it, filesDir)
                }
            }
            runOnUiThread {
                outcome.exceptionOrNull()?.let { modelStatus.text = "Install failed: ${it.message}" } ?: loadModel()
            }
        }
    }

    private fun layout(): View {
        val pad = dp(12f)
        val column = LinearLayout(this).apply {
            orientation = LinearLayout.VERTICAL
            setPadding(pad, pad, pad, pad)
        }
        val top = LinearLayout(this).apply { setGravity(Gravity.CENTER_VERTICAL) }
        val picker = Spinner(this).apply {
            adapter = ArrayAdapter(this@ReplyActivity, android.R.layout.simple_spinner_dropdown_item, CannedConversations.ALL)
            onItemSelectedListener = object : AdapterView.OnItemSelectedListener {
                override fun onItemSelected(parent: AdapterView<*>?, view: View?, position: Int, id: Long) =
                    controller.showConversation(CannedConversations.ALL[position].messages)

                override fun onNothingSelected(parent: AdapterView<*>?) = Unit
            }
        }
        top.addView(picker, LinearLayout.LayoutParams(0, WRAP_CONTENT, 1f))
        top.addView(button("Model…") {
            val intent = Intent(Intent.ACTION_OPEN_DOCUMENT).addCategory(Intent.CATEGORY_OPENABLE).setType("*/*")
            startActivityForResult(intent, PICK_MODEL)
        })
        column.addView(top)
        modelStatus = TextView(this)
        column.addView(modelStatus)

        messages = LinearLayout(this).apply { orientation = LinearLayout.VERTICAL }
        messagesScroll = ScrollView(this).apply { addView(messages) }
        column.addView(messagesScroll, LinearLayout.LayoutParams(MATCH_PARENT, 0, 1f))

        val incomingRow = LinearLayout(this)
        val incoming = EditText(this).apply { hint = "Type a message from them" }
        incomingRow.addView(incoming, LinearLayout.LayoutParams(0, WRAP_CONTENT, 1f))
        incomingRow.addView(button("Receive") {
            val text = incoming.text.toString().trim()
            if (text.isNotEmpty()) {
                incoming.setText("")
                controller.receive(text)
            }
        })
        column.addView(incomingRow)

        val draftRow = LinearLayout(this).apply { setGravity(Gravity.CENTER_VERTICAL) }
        progress = ProgressBar(this, null, android.R.attr.progressBarStyleSmall)
        reason = TextView(this)
        draftRow.addView(progress)
        draftRow.addView(reason, LinearLayout.LayoutParams(0, WRAP_CONTENT, 1f))
        column.addView(draftRow)

        val chipRow = LinearLayout(this)
        chips = List(3) { i ->
            button("") { controller.tapChip(i) }.apply { setAllCaps(false) }.also {
                chipRow.addView(it, LinearLayout.LayoutParams(0, WRAP_CONTENT, 1f))
            }
        }
        column.addView(chipRow)

        calendar = button("") { controller.addToCalendar()?.let(::openCalendar) }.apply { setAllCaps(false) }
        column.addView(calendar, LinearLayout.LayoutParams(MATCH_PARENT, WRAP_CONTENT))

        compose = EditText(this).apply { hint = "Your reply" }
        compose.addTextChangedListener(object : TextWatcher {
            override fun beforeTextChanged(s: CharSequence?, start: Int, count: Int, after: Int) = Unit
            override fun onTextChanged(s: CharSequence?, start: Int, before: Int, count: Int) = Unit
            override fun afterTextChanged(s: Editable?) {
                if (!drawing) controller.editCompose(s.toString(), compose.selectionStart)
            }
        })
        column.addView(compose)

        val actions = LinearLayout(this)
        longer = button("Write a longer reply") { controller.writeLongerOrStop() }
        send = button("Send") { controller.send() }
        actions.addView(longer, LinearLayout.LayoutParams(0, WRAP_CONTENT, 1f))
        actions.addView(send, LinearLayout.LayoutParams(0, WRAP_CONTENT, 1f))
        column.addView(actions)
        return column
    }

    private fun render(state: ReplyCoreState) {
        drawing = true
        modelStatus.text = when (val m = state.modelState) {
            ModelState.Loading -> "Loading the model…"
            ModelState.Ready -> ""
            is ModelState.Failed -> m.message
        }
        modelStatus.visibility = if (modelStatus.text.isEmpty()) View.GONE else View.VISIBLE

        if (state.messages != shownMessages) {
            shownMessages = state.messages
            messages.removeAllViews()
            for (m in state.messages) messages.addView(bubble(m.text, m.fromMe))
            messagesScroll.post { messagesScroll.fullScroll(View.FOCUS_DOWN) }
        }
        progress.visibility = if (state.drafting) View.VISIBLE else View.GONE
        reason.text = state.errorMessage ?: reasonText(state.noDraftReason)
        for ((i, chip) in chips.withIndex()) {
            val text = state.chips.getOrNull(i)
            chip.text = text.orEmpty()
            chip.visibility = if (text == null) View.INVISIBLE else View.VISIBLE
        }
        val event = state.calendarEvent
        calendar.text = event?.actionLabel.orEmpty()
        calendar.visibility = if (event == null) View.GONE else View.VISIBLE
        if (compose.text.toString() != state.compose) {
            compose.setText(state.compose)
            compose.setSelection(state.composeCursorUtf16.toInt().coerceIn(0, state.compose.length))
        }
        longer.text = if (state.streaming) "Stop" else "Write a longer reply"
        longer.isEnabled = state.streaming || state.canWriteLonger
        send.isEnabled = state.compose.isNotBlank()
        drawing = false
    }

    /**
     * The system calendar's new-event editor, filled from [event]. Date and time are the message's
     * own words (not parsed), so they go in the description for the user to set.
     */
    private fun openCalendar(event: CalendarEvent) {
        val intent = Intent(Intent.ACTION_INSERT).setData(CalendarContract.Events.CONTENT_URI)
        event.title?.let { intent.putExtra(CalendarContract.Events.TITLE, it) }
        event.place?.let { intent.putExtra(CalendarContract.Events.EVENT_LOCATION, it) }
        event.whenText?.let { intent.putExtra(CalendarContract.Events.DESCRIPTION, it) }
        try {
            startActivity(intent)
        } catch (e: ActivityNotFoundException) {
            modelStatus.text = "No calendar app to add the event to."
            modelStatus.visibility = View.VISIBLE
        }
    }

    private fun bubble(text: String, mine: Boolean): TextView = TextView(this).apply {
        this.text = text
        val pad = dp(10f)
        setPadding(pad, pad / 2, pad, pad / 2)
        background = GradientDrawable().apply {
            setColor(if (mine) MINE else INCOMING)
            setCornerRadius(dp(12f).toFloat())
        }
        layoutParams = LinearLayout.LayoutParams(WRAP_CONTENT, WRAP_CONTENT).apply {
            gravity = if (mine) Gravity.END else Gravity.START
            topMargin = dp(4f)
        }
    }

    private fun button(label: String, onTap: () -> Unit) = Button(this).apply {
        text = label
        setOnClickListener { onTap() }
    }

    private fun dp(v: Float): Int = TypedValue.applyDimension(TypedValue.COMPLEX_UNIT_DIP, v, resources.displayMetrics).toInt()
}
