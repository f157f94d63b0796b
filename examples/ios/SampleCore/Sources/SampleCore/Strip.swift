// The suggestion strip's slot order and the conversion of the core's edits into proxy calls.

/// The three slots of the suggestion strip.
public enum Strip {
    public static let empty = ["", "", ""]

    /// LatinIME order: the best word in the middle, the second on the left, the third on the
    /// right; missing words are "".
    public static func slots(_ wordsBestFirst: [String]) -> [String] {
        func word(_ i: Int) -> String { i < wordsBestFirst.count ? wordsBestFirst[i] : "" }
        return [word(1), word(0), word(2)]
    }
}

/// Unicode scalars (the core's `TextEdit.deleteChars`) vs `Character`s (`deleteBackward()`).
public enum ScalarEditing {
    /// How many `deleteBackward()` calls remove at least `scalars` Unicode scalars from the end
    /// of `textBeforeCursor`: walks `Character`s back from the cursor ("e\u{301}" is one
    /// `Character` of two scalars, "👍🏽" one of two). Scalars beyond the known text (a
    /// truncated context) count one call each.
    public static func deleteBackwardCount(scalars: Int, before textBeforeCursor: String) -> Int {
        var covered = 0
        var calls = 0
        var index = textBeforeCursor.endIndex
        while covered < scalars, index > textBeforeCursor.startIndex {
            let previous = textBeforeCursor.index(before: index)
            covered += textBeforeCursor[previous..<index].unicodeScalars.count
            calls += 1
            index = previous
        }
        return calls + max(0, scalars - covered)
    }
}
