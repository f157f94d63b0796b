//! The reply controller on the real SmolLM2, with its own worker thread: chips, the reason when
//! there are none, a newer message cancelling the draft in flight, the streamed longer reply
//! and Stop, Send, the tone, the calendar action, a failed load and a failing observer. Ported
//! from the Android sample's ReplyControllerTest.kt / CalendarActionTest.kt and the iOS
//! sample's ReplyControllerTests.swift.

use super::*;
use crate::reply::ReplyDrafts;
use crate::task::StopReason;
use crate::test_models::{smollm2, SMOLLM2};
use std::time::{Duration, Instant};

/// The newest state the observer saw (states may arrive from several threads), and how many.
#[derive(Clone, Default)]
struct Screen(Arc<Mutex<(Option<ReplyCoreState>, usize)>>);

impl ReplyCoreObserver for Screen {
    fn on_state(&self, state: ReplyCoreState) {
        let mut s = lock(&self.0);
        s.1 += 1;
        if s.0.as_ref().is_none_or(|old| old.version < state.version) {
            s.0 = Some(state);
        }
    }
}

const TIMEOUT: Duration = Duration::from_secs(300);

struct Harness {
    core: Arc<ReplyCore>,
    screen: Screen,
}

impl Harness {
    fn new() -> Self {
        let h = Self::unloaded();
        h.core.load_with(Box::new(|| Engine::open(smollm2(), None)));
        h.until(|s| s.model == ReplyModelStatus::Ready);
        h
    }

    fn unloaded() -> Self {
        let screen = Screen::default();
        let core = ReplyCore::new(Box::new(screen.clone())).unwrap();
        Harness { core, screen }
    }

    /// The newest state reported.
    fn s(&self) -> ReplyCoreState {
        lock(&self.screen.0).0.clone().expect("no state reported")
    }

    /// Waits until the newest state reported satisfies `pred`.
    fn until(&self, pred: impl Fn(&ReplyCoreState) -> bool) -> ReplyCoreState {
        let deadline = Instant::now() + TIMEOUT;
        loop {
            if let Some(s) = lock(&self.screen.0).0.clone() {
                if pred(&s) {
                    return s;
                }
            }
            assert!(Instant::now() < deadline, "timed out; last {:?}", self.s());
            std::thread::sleep(Duration::from_millis(2));
        }
    }

    fn settle(&self) -> ReplyCoreState {
        assert!(
            self.core.wait_idle(TIMEOUT.as_millis() as u32),
            "still busy"
        );
        self.s()
    }
}

fn msg(from_me: bool, text: &str) -> ConversationMessage {
    ConversationMessage {
        from_me,
        text: text.into(),
    }
}

fn direct_draft(conversation: Vec<ConversationMessage>, tone: Tone) -> ReplyDrafts {
    ReplyDrafter::new(smollm2(), DrafterOptions { threads: 0 })
        .unwrap()
        .draft(
            conversation,
            DraftOptions {
                count: 3,
                max_words: 10,
                tone: Some(tone),
                blocklist: Vec::new(),
            },
            None,
        )
        .unwrap()
}

#[test]
fn chips_fill_the_compose_box_and_send_appends_my_message() {
    let h = Harness::new();
    h.core.receive("Can we meet tomorrow at 5?".into());
    let s = h.s();
    assert!(s.drafting, "progress shows while drafting");
    assert!(s.chips.is_empty());
    assert!(s.can_write_longer);
    let s = h.until(|s| !s.drafting);
    assert_eq!(s.chips.len(), 3, "chips {:?}", s.chips);
    let distinct: std::collections::HashSet<_> = s.chips.iter().collect();
    assert_eq!(distinct.len(), 3, "distinct: {:?}", s.chips);
    assert!(s.chips.iter().all(|c| !c.trim().is_empty()));
    assert_eq!(s.no_draft_reason, None);

    let chip = s.chips.last().unwrap().clone();
    h.core.tap_chip(2);
    let s = h.s();
    assert_eq!(s.compose, chip);
    assert_eq!(s.compose_cursor_utf16 as usize, chip.encode_utf16().count());
    let version = s.version;
    h.core.tap_chip(7); // no such chip: nothing changes, no state
    assert_eq!(h.s().version, version);
    assert_eq!(h.s().compose, chip);

    h.core.send();
    let s = h.s();
    assert_eq!(
        s.messages,
        vec![msg(false, "Can we meet tomorrow at 5?"), msg(true, &chip)]
    );
    assert_eq!(s.compose, "");
    assert_eq!(s.compose_cursor_utf16, 0);
    assert!(s.chips.is_empty());
    assert!(!s.drafting, "no draft after my own message");
    assert!(!s.can_write_longer);
    h.core.write_longer(); // the last message is mine: nothing to answer
    assert!(!h.s().streaming);
    h.settle();
    assert_eq!(h.core.outcomes(), vec![DraftOutcome::Shown]);
}

#[test]
fn the_reason_is_shown_when_the_core_drafts_nothing() {
    let h = Harness::new();
    h.core
        .receive("My grandmother passed away last night.".into());
    let s = h.until(|s| !s.drafting);
    assert!(s.chips.is_empty());
    assert_eq!(s.no_draft_reason, Some(NoDraftReason::Sensitive));
}

#[test]
fn a_new_incoming_message_cancels_the_draft_in_flight() {
    let h = Harness::new();
    h.core.receive("Are you coming to dinner tonight?".into());
    h.core.receive("Can we meet tomorrow at 5?".into());
    assert!(h.s().drafting);
    let s = h.settle();
    assert!(!s.drafting);
    // The first draft never reached the screen; the second is the whole conversation's.
    let outcomes = h.core.outcomes();
    assert_eq!(outcomes.len(), 2, "{outcomes:?}");
    assert!(
        matches!(
            outcomes[0],
            DraftOutcome::Cancelled | DraftOutcome::Discarded
        ),
        "{outcomes:?}"
    );
    assert_eq!(outcomes[1], DraftOutcome::Shown);
    let direct = direct_draft(s.messages.clone(), Tone::Neutral);
    let expected: Vec<String> = direct.replies.into_iter().take(3).map(|r| r.text).collect();
    assert_eq!(
        s.chips, expected,
        "the chips must answer the conversation with both messages"
    );
}

#[test]
fn a_different_tone_drafts_again() {
    let h = Harness::new();
    h.core.receive("Can we meet tomorrow at 5?".into());
    h.core.set_tone(Tone::Formal);
    let s = h.settle();
    assert_eq!(s.tone, Tone::Formal);
    let direct = direct_draft(s.messages.clone(), Tone::Formal);
    let expected: Vec<String> = direct.replies.into_iter().take(3).map(|r| r.text).collect();
    assert_eq!(s.chips, expected);
    assert_eq!(h.core.outcomes().last(), Some(&DraftOutcome::Shown));
    // The same tone again: nothing.
    let version = s.version;
    h.core.set_tone(Tone::Formal);
    assert_eq!(h.s().version, version);
}

#[test]
fn stop_keeps_the_partial_text_and_a_new_message_stops_the_stream() {
    let h = Harness::new();
    h.core
        .receive("How was your weekend? Tell me everything!".into());
    h.until(|s| !s.drafting);
    h.core.tap_chip(0);
    h.core.write_longer();
    let s = h.s();
    assert!(s.streaming, "the button shows Stop");
    assert_eq!(s.compose, "", "the longer reply replaces the compose text");
    h.until(|s| s.compose.chars().count() >= 12);
    h.core.stop();
    let s = h.s();
    assert!(!s.streaming, "Stop shows at once");
    let partial = s.compose.clone();
    let s = h.settle();
    assert_eq!(
        s.compose, partial,
        "the partial text stays as it was at Stop"
    );
    let result = s.last_longer_reply.clone().expect("the stream's result");
    assert_eq!(result.stop_reason, StopReason::Cancelled);
    assert!(
        result.tokens_after_cancel <= 1,
        "cancelled within one token"
    );
    assert_eq!(
        result.text, partial,
        "the pieces shown are the pieces taken"
    );

    // A new message stops one.
    h.core.write_longer();
    h.until(|s| !s.compose.is_empty());
    h.core.receive("Are you there?".into());
    assert!(!h.s().streaming);
    let s = h.settle();
    assert_eq!(
        s.last_longer_reply.map(|r| r.stop_reason),
        Some(StopReason::Cancelled)
    );
    assert_eq!(h.core.outcomes().last(), Some(&DraftOutcome::Shown));
}

#[test]
fn a_longer_reply_runs_to_its_end() {
    let h = Harness::new();
    let conversation = vec![
        msg(false, "Hi! How was the trip?"),
        msg(true, "Great, thanks!"),
        msg(false, "Did you see the lake?"),
    ];
    h.core.show_conversation(conversation.clone());
    h.until(|s| !s.drafting);
    h.core.write_longer();
    let s = h.until(|s| !s.streaming && s.last_longer_reply.is_some());
    let result = s.last_longer_reply.clone().unwrap();
    assert_ne!(result.stop_reason, StopReason::Cancelled);
    assert_eq!(result.text, s.compose);
    assert!(!s.compose.trim().is_empty());
    assert_eq!(
        s.compose_cursor_utf16 as usize,
        s.compose.encode_utf16().count()
    );
    let prompt = longer_reply_system_prompt(&conversation);
    assert!(
        prompt.ends_with("Earlier messages:\nThem: Hi! How was the trip?\nMe: Great, thanks!"),
        "{prompt}"
    );
    assert_eq!(
        longer_reply_system_prompt(&conversation[..1]),
        LONGER_REPLY_PROMPT
    );
}

#[test]
fn a_failed_load_shows_and_nothing_drafts() {
    let h = Harness::unloaded();
    h.core.load_model("/nonexistent/model.gguf".into());
    let s = h.until(|s| s.model != ReplyModelStatus::Loading);
    match &s.model {
        ReplyModelStatus::Failed { message, detail } => {
            assert_eq!(message, "No model: open PocketLM settings");
            assert!(detail.contains("/nonexistent/model.gguf"), "{detail}");
        }
        m => panic!("{m:?}"),
    }
    h.core.receive("Hello?".into());
    let s = h.s();
    assert!(!s.drafting);
    assert!(!s.can_write_longer);
    h.core.write_longer();
    assert!(!h.s().streaming);
}

#[test]
fn a_message_received_while_loading_is_drafted_once_ready() {
    let h = Harness::unloaded();
    h.core.receive("Can we meet tomorrow at 5?".into());
    assert!(!h.s().drafting);
    h.core.load_with(Box::new(|| Engine::open(smollm2(), None)));
    let s = h.settle();
    assert_eq!(s.model, ReplyModelStatus::Ready);
    assert!(!s.chips.is_empty(), "{s:?}");
    assert_eq!(h.core.outcomes(), vec![DraftOutcome::Shown]);
}

/// Each of date, time and place the event has is in the message (case and spacing aside).
fn assert_quoted(message: &str, e: &CalendarEvent) {
    let norm = |s: &str| {
        s.to_lowercase()
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
    };
    let fields: Vec<&String> = [&e.date, &e.time, &e.place].into_iter().flatten().collect();
    assert!(!fields.is_empty(), "{e:?}");
    for f in fields {
        assert!(
            norm(message).contains(&norm(f)),
            "{f} is not in {message:?} ({e:?})"
        );
    }
}

#[test]
fn a_message_naming_a_time_and_place_offers_add_to_calendar() {
    let h = Harness::new();
    let m = "Dinner at Luigi's on Friday at 7pm?";
    h.core.receive(m.into());
    let s = h.s();
    assert!(s.extracting_event);
    assert_eq!(s.calendar_event, None);
    let s = h.until(|s| !s.extracting_event);
    // The chips came first (the extraction waits for the draft).
    assert!(!s.drafting);
    let event = s.calendar_event.clone().expect("an event");
    assert_quoted(m, &event);
    assert_eq!(h.core.add_to_calendar(), Some(event));
    assert_eq!(h.s().calendar_event, None);
    assert_eq!(h.core.add_to_calendar(), None);
}

#[test]
fn a_newer_message_replaces_the_extraction_in_flight() {
    let h = Harness::new();
    h.core.receive("Are you free on Saturday?".into());
    let second = "Team lunch at the Thai place on Monday at noon.";
    h.core.receive(second.into());
    let s = h.settle();
    assert!(!s.extracting_event);
    let event = s.calendar_event.clone().expect("an event");
    assert_quoted(second, &event);
    // My own message does not withdraw the action for the last incoming one.
    h.core.edit_compose("ok".into(), 2);
    h.core.send();
    assert_eq!(h.s().calendar_event, Some(event));
}

#[test]
fn the_compose_cursor_is_clamped_and_an_unchanged_edit_reports_nothing() {
    let h = Harness::unloaded();
    h.core.edit_compose("👍🏽 ok".into(), 99);
    let s = h.s();
    assert_eq!(s.compose, "👍🏽 ok");
    assert_eq!(s.compose_cursor_utf16, 7); // four units for the emoji, three for " ok"
    h.core.edit_compose("👍🏽 ok".into(), 7);
    assert_eq!(h.s().version, s.version);
    h.core.send(); // no model needed to send
    let s = h.s();
    assert_eq!(s.messages, vec![msg(true, "👍🏽 ok")]);
    h.core.edit_compose("   ".into(), 3);
    h.core.send(); // blank: nothing
    assert_eq!(h.s().messages.len(), 1);
}

/// An observer that panics (a foreign exception surfaces as one) does not break the controller.
struct Throwing(Screen);

impl ReplyCoreObserver for Throwing {
    fn on_state(&self, state: ReplyCoreState) {
        self.0.on_state(state);
        panic!("the view failed");
    }
}

#[test]
fn a_failing_observer_is_contained() {
    let screen = Screen::default();
    let core = ReplyCore::new(Box::new(Throwing(screen.clone()))).unwrap();
    core.edit_compose("hi".into(), 2);
    core.send();
    let s = lock(&screen.0).0.clone().unwrap();
    assert_eq!(s.messages, vec![msg(true, "hi")]);
    assert_eq!(lock(&screen.0).1, 2);
}

/// Loads the model from its path with the drafter's warm-ups kept in `dir`, and drafts for one
/// message: the chips.
fn chips_with_state_dir(dir: &std::path::Path) -> Vec<String> {
    let h = Harness::unloaded();
    h.core
        .load_model_with_state_dir(SMOLLM2.into(), dir.to_str().unwrap().into());
    h.until(|s| s.model == ReplyModelStatus::Ready);
    h.core.receive("Can we meet tomorrow at 5?".into());
    h.until(|s| !s.drafting);
    h.settle().chips
}

#[test]
fn a_state_dir_keeps_the_warm_up_and_the_chips_are_the_same() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("reply-state"); // created by the drafter
    let first = chips_with_state_dir(&dir);
    assert_eq!(first.len(), 3, "{first:?}");
    let saved: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert!(
        !saved.is_empty(),
        "the warm-up was saved in {}",
        dir.display()
    );
    let bytes: Vec<Vec<u8>> = saved.iter().map(|p| std::fs::read(p).unwrap()).collect();
    // A restarted app: the same chips from the saved warm-up, which is not rewritten.
    assert_eq!(chips_with_state_dir(&dir), first);
    let again: Vec<Vec<u8>> = saved.iter().map(|p| std::fs::read(p).unwrap()).collect();
    assert_eq!(again, bytes);
    // And the same chips as a drafter without one.
    let plain = Harness::new();
    plain.core.receive("Can we meet tomorrow at 5?".into());
    plain.until(|s| !s.drafting);
    assert_eq!(plain.settle().chips, first);
}
