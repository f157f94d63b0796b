//! The reply screen's "Add to calendar" action (docs/samples.md): an event read out of an
//! incoming message by schema-constrained extraction, kept only when it quotes the message.

/// The extraction's JSON Schema: the fixture `pocketlm eval-extract` measures with.
pub(crate) const CALENDAR_SCHEMA: &str =
    include_str!("../../../../tests/fixtures/calendar-schema.json");

/// The extraction's instruction (the one `pocketlm eval-extract` measures); the message follows.
const EXTRACT_PROMPT: &str = "Extract the event from this message as JSON with the keys title, \
date, time and place. Copy date, time and place in the message's own words; use null for \
anything the message does not say.";

/// Most tokens of an extraction (the schema's four short fields).
pub(crate) const EXTRACT_MAX_TOKENS: i32 = 96;

/// The "Add to calendar" action: fields in the message's own words (`null`/`nil` when it does
/// not say), not parsed into a date.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct CalendarEvent {
    pub title: Option<String>,
    pub date: Option<String>,
    pub time: Option<String>,
    pub place: Option<String>,
    /// The action button's label: "Add to calendar: " and the title, date and time it has,
    /// joined by " · ".
    pub action_label: String,
    /// Date and time as the message says them ("Friday, 7pm"), for the calendar editor's
    /// description; `null`/`nil` when it names neither.
    pub when_text: Option<String>,
}

impl CalendarEvent {
    pub(crate) fn new(
        title: Option<String>,
        date: Option<String>,
        time: Option<String>,
        place: Option<String>,
    ) -> Self {
        let label: Vec<&str> = [&title, &date, &time]
            .into_iter()
            .flatten()
            .map(String::as_str)
            .collect();
        let when: Vec<&str> = [&date, &time]
            .into_iter()
            .flatten()
            .map(String::as_str)
            .collect();
        CalendarEvent {
            action_label: format!("Add to calendar: {}", label.join(" · ")),
            when_text: (!when.is_empty()).then(|| when.join(", ")),
            title,
            date,
            time,
            place,
        }
    }
}

/// The extraction prompt for `message`.
pub(crate) fn extraction_prompt(message: &str) -> String {
    format!("{EXTRACT_PROMPT}\n\nMessage: {message}")
}

/// Lower case, runs of white space as one space.
fn norm(s: &str) -> String {
    s.to_lowercase()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

/// The action for `message` from the extraction's JSON output, or `None` when there is none to
/// offer. A small model invents dates and places a message never names, so a date, time or
/// place counts only when it is quoted from the message (case and spacing aside); the action
/// is offered when at least one of them is. The title is the model's (or the place's).
pub(crate) fn from_extraction(message: &str, json: &str) -> Option<CalendarEvent> {
    let value: serde_json::Value = serde_json::from_str(json).ok()?;
    // What the schema allows: an object whose values are strings or null.
    let fields = value.as_object()?;
    if fields.values().any(|v| !(v.is_null() || v.is_string())) {
        return None;
    }
    let text = |key: &str| {
        fields
            .get(key)
            .and_then(|v| v.as_str())
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(String::from)
    };
    let haystack = norm(message);
    let quoted = |key: &str| text(key).filter(|v| haystack.contains(&norm(v)));
    let (date, time, place) = (quoted("date"), quoted("time"), quoted("place"));
    if date.is_none() && time.is_none() && place.is_none() {
        return None;
    }
    let title = text("title").or_else(|| place.clone());
    Some(CalendarEvent::new(title, date, time, place))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(t: Option<&str>, d: Option<&str>, h: Option<&str>, p: Option<&str>) -> CalendarEvent {
        let s = |x: Option<&str>| x.map(String::from);
        CalendarEvent::new(s(t), s(d), s(h), s(p))
    }

    #[test]
    fn the_schema_is_the_fixture_and_valid_json() {
        let v: serde_json::Value = serde_json::from_str(CALENDAR_SCHEMA).unwrap();
        let keys: Vec<&str> = v["properties"]
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        for k in ["title", "date", "time", "place"] {
            assert!(keys.contains(&k), "{keys:?}");
        }
    }

    #[test]
    fn fields_count_only_when_quoted_from_the_message() {
        let msg = "Dinner at Luigi's on Friday at 7pm?";
        assert_eq!(
            from_extraction(
                msg,
                r#"{"title": "Dinner at Luigi's", "date": "friday", "time": "7pm", "place": "Luigi's"}"#
            ),
            Some(ev(
                Some("Dinner at Luigi's"),
                Some("friday"),
                Some("7pm"),
                Some("Luigi's")
            ))
        );
        // An invented time is dropped; the rest stays.
        assert_eq!(
            from_extraction(
                msg,
                r#"{"title":"Dinner","date":"Friday","time":"11:30am","place":null}"#
            ),
            Some(ev(Some("Dinner"), Some("Friday"), None, None))
        );
        // Nothing quoted: no action.
        assert_eq!(
            from_extraction(
                "can you call me back?",
                r#"{"title":"Call","date":"2022-01-01","time":"10:00","place":"Paris"}"#
            ),
            None
        );
        assert_eq!(
            from_extraction(
                msg,
                r#"{"title":null,"date":null,"time":null,"place":null}"#
            ),
            None
        );
        // No title: the place names it. Escapes are decoded before matching.
        assert_eq!(
            from_extraction(
                "quiz at the \"Fox\"",
                r#"{"title":null,"date":null,"time":null,"place":"the \"Fox\""}"#
            ),
            Some(ev(Some("the \"Fox\""), None, None, Some("the \"Fox\"")))
        );
        // Not the schema's output: no action.
        assert_eq!(
            from_extraction(msg, r#"{"title":"x","date":"Friday""#),
            None
        );
        assert_eq!(from_extraction(msg, r#"["Friday"]"#), None);
        assert_eq!(from_extraction(msg, r#"{"date": 5}"#), None);
    }

    #[test]
    fn action_label_and_when_text() {
        let e = ev(Some("Dinner"), Some("Friday"), Some("7pm"), Some("Luigi's"));
        assert_eq!(e.action_label, "Add to calendar: Dinner · Friday · 7pm");
        assert_eq!(e.when_text.as_deref(), Some("Friday, 7pm"));
        let place = ev(Some("the Fox"), None, None, Some("the Fox"));
        assert_eq!(place.action_label, "Add to calendar: the Fox");
        assert_eq!(place.when_text, None);
    }
}
