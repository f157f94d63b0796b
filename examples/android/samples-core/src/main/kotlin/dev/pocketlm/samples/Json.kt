package dev.pocketlm.samples

/** A JSON text could not be read; the message says where and why. */
class JsonException(message: String) : Exception(message)

/**
 * The little JSON the samples need (the JVM has no JSON library here; the simulator reads its
 * events with it, the calendar action the extraction's output): [parse] reads one value
 * (objects as maps, arrays as lists, strings, numbers as Long or Double, booleans, null);
 * [quote] writes a string.
 */
object Json {
    fun parse(text: String): Any? {
        val reader = Reader(text)
        reader.skipSpace()
        val value = reader.value()
        reader.skipSpace()
        if (!reader.atEnd()) throw reader.error("unexpected text after the value")
        return value
    }

    /**
     * [s] as a JSON string literal in the simulators' shared encoding (docs/samples.md): only `"`,
     * `\`, `\b \f \n \r \t` and the other characters below U+0020 (`\u00xx`) are escaped;
     * everything else is written as is (UTF-8 on output).
     */
    fun quote(s: String): String {
        val out = StringBuilder(s.length + 2)
        out.append('"')
        for (c in s) {
            when {
                c == '"' -> out.append("\\\"")
                c == '\\' -> out.append("\\\\")
                c == '\n' -> out.append("\\n")
                c == '\r' -> out.append("\\r")
                c == '\t' -> out.append("\\t")
                c == '\b' -> out.append("\\b")
                c == '\u000c' -> out.append("\\f")
                c < ' ' -> out.append("\\u").append(String.format("%04x", c.code))
                else -> out.append(c)
            }
        }
        return out.append('"').toString()
    }

    private class Reader(val s: String) {
        var i = 0

        fun atEnd() = i >= s.length

        fun error(what: String) = JsonException("$what at offset $i")

        fun skipSpace() {
            while (i < s.length && s[i] in " \t\r\n") i++
        }

        fun value(): Any? {
            if (atEnd()) throw error("missing value")
            return when (s[i]) {
                '{' -> obj()
                '[' -> array()
                '"' -> string()
                't' -> word("true", true)
                'f' -> word("false", false)
                'n' -> word("null", null)
                else -> if (s[i] == '-' || s[i].isDigit()) number() else throw error("unexpected '${s[i]}'")
            }
        }

        private fun word(w: String, v: Any?): Any? {
            if (!s.startsWith(w, i)) throw error("unexpected '${s[i]}'")
            i += w.length
            return v
        }

        private fun expect(c: Char) {
            if (atEnd() || s[i] != c) throw error("expected '$c'")
            i++
        }

        private fun obj(): Map<String, Any?> {
            expect('{')
            val out = LinkedHashMap<String, Any?>()
            skipSpace()
            if (!atEnd() && s[i] == '}') {
                i++
                return out
            }
            while (true) {
                skipSpace()
                if (atEnd() || s[i] != '"') throw error("expected a key")
                val key = string()
                skipSpace()
                expect(':')
                skipSpace()
                out[key] = value()
                skipSpace()
                if (atEnd()) throw error("unterminated object")
                when (s[i++]) {
                    ',' -> continue
                    '}' -> return out
                    else -> { i--; throw error("expected ',' or '}'") }
                }
            }
        }

        private fun array(): List<Any?> {
            expect('[')
            val out = ArrayList<Any?>()
            skipSpace()
            if (!atEnd() && s[i] == ']') {
                i++
                return out
            }
            while (true) {
                skipSpace()
                out.add(value())
                skipSpace()
                if (atEnd()) throw error("unterminated array")
                when (s[i++]) {
                    ',' -> continue
                    ']' -> return out
                    else -> { i--; throw error("expected ',' or ']'") }
                }
            }
        }

        private fun string(): String {
            expect('"')
            val out = StringBuilder()
            while (true) {
                if (atEnd()) throw error("unterminated string")
                val c = s[i++]
                when {
                    c == '"' -> return out.toString()
                    c == '\\' -> {
                        if (atEnd()) throw error("unterminated escape")
                        when (val e = s[i++]) {
                            '"', '\\', '/' -> out.append(e)
                            'b' -> out.append('\b')
                            'f' -> out.append('\u000c')
                            'n' -> out.append('\n')
                            'r' -> out.append('\r')
                            't' -> out.append('\t')
                            'u' -> {
                                if (i + 4 > s.length) throw error("short \\u escape")
                                val hex = s.substring(i, i + 4)
                                val code = hex.toIntOrNull(16) ?: throw error("bad \\u escape")
                                out.append(code.toChar())
                                i += 4
                            }
                            else -> { i--; throw error("bad escape '\\$e'") }
                        }
                    }
                    c < ' ' -> { i--; throw error("control character in a string") }
                    else -> out.append(c)
                }
            }
        }

        private fun number(): Any {
            val start = i
            if (s[i] == '-') i++
            while (i < s.length && (s[i].isDigit() || s[i] in ".eE+-")) i++
            val text = s.substring(start, i)
            return text.toLongOrNull() ?: text.toDoubleOrNull()?.takeIf { it.isFinite() }
                ?: throw JsonException("bad number '$text' at offset $start")
        }
    }
}
