package dev.pocketlm.samples.keyboard

import android.annotation.SuppressLint
import android.content.Context
import android.graphics.Typeface
import android.graphics.drawable.GradientDrawable
import android.os.Handler
import android.os.Looper
import android.util.TypedValue
import android.view.Gravity
import android.view.HapticFeedbackConstants
import android.view.MotionEvent
import android.view.View
import android.widget.LinearLayout
import android.widget.TextView
import dev.pocketlm.samples.KeyboardState
import dev.pocketlm.samples.ModelState
import dev.pocketlm.samples.ShiftKey

/**
 * The keyboard's view, framework widgets only: a three-slot suggestion strip above a QWERTY
 * layout (letters, shift, backspace, space, enter, `. , ? !`). It draws a [KeyboardState] and
 * forwards every touch to [keys]; it decides nothing.
 */
@SuppressLint("ViewConstructor")
class KeyboardView(context: Context, private val keys: Keys) : LinearLayout(context) {
    /** What the keys do; the service implements it. */
    interface Keys {
        fun onLetter(letter: String)
        fun onText(text: String)
        fun onBackspace()
        fun onShift()
        fun onEnter()
        fun onSuggestion(slot: Int)
    }

    private companion object {
        val ROWS = listOf("qwertyuiop", "asdfghjkl", "zxcvbnm")
        const val KEY_HEIGHT_DP = 50f
        const val STRIP_HEIGHT_DP = 44f
        const val REPEAT_START_MS = 400L
        const val REPEAT_EVERY_MS = 60L
        const val BACKGROUND = 0xFFE3E6EA.toInt()
        const val KEY = 0xFFFFFFFF.toInt()
        const val SPECIAL_KEY = 0xFFC4CAD1.toInt()
        const val TEXT = 0xFF1B1F23.toInt()
    }

    private val slots: List<TextView>
    private val letterKeys = ArrayList<Pair<TextView, String>>()
    private val shiftKey: TextView
    private val repeat = Handler(Looper.getMainLooper())

    init {
        orientation = VERTICAL
        setBackgroundColor(BACKGROUND)
        val pad = dp(4f)
        setPadding(pad, pad, pad, pad)

        val strip = LinearLayout(context).apply { orientation = HORIZONTAL }
        slots = List(3) { slot ->
            TextView(context).apply {
                gravity = Gravity.CENTER
                setTextColor(TEXT)
                setTextSize(TypedValue.COMPLEX_UNIT_SP, 17f)
                maxLines = 1
                if (slot == 1) setTypeface(typeface, Typeface.BOLD)
                setOnClickListener { keys.onSuggestion(slot) }
                strip.addView(this, LayoutParams(0, dp(STRIP_HEIGHT_DP), 1f))
            }
        }
        addView(strip)

        for ((i, letters) in ROWS.withIndex()) {
            val row = row()
            if (i == 1) row.addView(View(context), LayoutParams(0, 1, 0.5f))
            if (i == 2) row.addView(special("⇧") { keys.onShift() }, LayoutParams(0, dp(KEY_HEIGHT_DP), 1.5f))
            for (c in letters) {
                val letter = c.toString()
                val key = key(letter, KEY) { keys.onLetter(letter) }
                letterKeys.add(key to letter)
                row.addView(key, LayoutParams(0, dp(KEY_HEIGHT_DP), 1f))
            }
            if (i == 1) row.addView(View(context), LayoutParams(0, 1, 0.5f))
            if (i == 2) row.addView(backspaceKey(), LayoutParams(0, dp(KEY_HEIGHT_DP), 1.5f))
            addView(row)
        }
        shiftKey = ((getChildAt(3) as LinearLayout).getChildAt(0)) as TextView

        val bottom = row()
        for (p in listOf(",", "?", "!")) bottom.addView(key(p, SPECIAL_KEY) { keys.onText(p) }, LayoutParams(0, dp(KEY_HEIGHT_DP), 1f))
        bottom.addView(key("space", KEY) { keys.onText(" ") }, LayoutParams(0, dp(KEY_HEIGHT_DP), 4f))
        bottom.addView(key(".", SPECIAL_KEY) { keys.onText(".") }, LayoutParams(0, dp(KEY_HEIGHT_DP), 1f))
        bottom.addView(special("⏎") { keys.onEnter() }, LayoutParams(0, dp(KEY_HEIGHT_DP), 1.5f))
        addView(bottom)
    }

    /** Draws [state]: the strip (or the model's failure message), letter case and the shift key. */
    fun render(state: KeyboardState, shift: ShiftKey) {
        val failed = state.modelState as? ModelState.Failed
        for ((slot, view) in slots.withIndex()) {
            val text = when {
                failed != null -> if (slot == 1) failed.message else ""
                else -> state.strip[slot]
            }
            view.text = text
            view.isClickable = failed == null && text.isNotEmpty()
        }
        val upper = shift.isUpper(state.autoShift)
        for ((view, letter) in letterKeys) view.text = if (upper) letter.uppercase() else letter
        shiftKey.text = if (shift.mode == ShiftKey.Mode.LOCKED) "⇪" else "⇧"
        shiftKey.background = keyBackground(if (upper) KEY else SPECIAL_KEY)
    }

    private fun row() = LinearLayout(context).apply { orientation = HORIZONTAL }

    private fun key(label: String, color: Int, onTap: () -> Unit) = TextView(context).apply {
        text = label
        gravity = Gravity.CENTER
        setTextColor(TEXT)
        setTextSize(TypedValue.COMPLEX_UNIT_SP, 22f)
        background = keyBackground(color)
        setOnClickListener {
            it.performHapticFeedback(HapticFeedbackConstants.KEYBOARD_TAP)
            onTap()
        }
    }

    private fun special(label: String, onTap: () -> Unit) = key(label, SPECIAL_KEY, onTap)

    /** Backspace repeats while held. */
    @SuppressLint("ClickableViewAccessibility")
    private fun backspaceKey(): TextView {
        val key = key("⌫", SPECIAL_KEY) {}
        val again = object : Runnable {
            override fun run() {
                keys.onBackspace()
                repeat.postDelayed(this, REPEAT_EVERY_MS)
            }
        }
        key.setOnTouchListener { v, event ->
            when (event.actionMasked) {
                MotionEvent.ACTION_DOWN -> {
                    v.isPressed = true
                    v.performHapticFeedback(HapticFeedbackConstants.KEYBOARD_TAP)
                    keys.onBackspace()
                    repeat.postDelayed(again, REPEAT_START_MS)
                }
                MotionEvent.ACTION_UP, MotionEvent.ACTION_CANCEL -> {
                    v.isPressed = false
                    repeat.removeCallbacks(again)
                }
            }
            true
        }
        return key
    }

    private fun keyBackground(color: Int) = GradientDrawable().apply {
        setColor(color)
        setCornerRadius(dp(6f).toFloat())
        setStroke(dp(2f), BACKGROUND)
    }

    private fun dp(v: Float): Int = TypedValue.applyDimension(TypedValue.COMPLEX_UNIT_DIP, v, resources.displayMetrics).toInt()

    override fun onDetachedFromWindow() {
        repeat.removeCallbacksAndMessages(null)
        super.onDetachedFromWindow()
    }
}
