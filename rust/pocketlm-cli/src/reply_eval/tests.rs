//! The labelled reply evaluation on the real SmolLM2 model: the held-out coverage floor and
//! the dev labels.

use super::{asks_decision, offers_both, parse_cases, score_case, summarize, CaseScore, Summary};
use pocketlm::{DraftOptions, DrafterConfig, Message, Model, ReplyDrafter};
use std::path::PathBuf;
use std::sync::OnceLock;

fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn fixture(name: &str) -> PathBuf {
    repo_root().join("tests/fixtures").join(name)
}

fn drafter() -> &'static ReplyDrafter {
    static D: OnceLock<ReplyDrafter> = OnceLock::new();
    D.get_or_init(|| {
        let path = repo_root().join("models/SmolLM2-135M-Instruct.Q4_1.gguf");
        assert!(
            path.exists(),
            "model {} is missing: run scripts/fetch-models.sh (make test does it)",
            path.display()
        );
        let model = Model::load(&path).expect("SmolLM2 loads");
        ReplyDrafter::new(model, DrafterConfig::default()).expect("drafter")
    })
}

/// The held-out floor: at least one acceptable reply in 90% of the cases, what issue 17 asks
/// for. Measured 0.921 (129 of 140) with SmolLM2 after the issue-17 act fixes (0.857 before),
/// 0.943 (132 of 140) in session 16, so the floor guards against regressions with a margin for
/// kernel rounding across CPUs (see `docs/reply.md`).
const HELDOUT_COVERAGE3_FLOOR: f64 = 0.9;

/// The held-out all3 floor: issue 17's target, 0.75. Measured 0.771 with the act rules alone
/// (session 23), 0.807 with the cluster prior and 0.821 once blind23–26 were trained on
/// (session 24).
const HELDOUT_ALL3_FLOOR: f64 = 0.75;

/// The held-out decision_choice floor (issue 42's target is 0.9): measured 0.824 (28 of 34)
/// with the reading head mixed with the word prior, 0.735 (25 of 34) with the word prior
/// alone (session 30); two cases of margin.
const HELDOUT_DECISION_CHOICE_FLOOR: f64 = 0.76;

/// The blind set's floor (`tests/fixtures/reply-eval-blind2.txt`: 80 messages written from the
/// catalog's cluster names alone, read once in issue 17's blind read): measured 0.963 (77 of
/// 80) with SmolLM2 on 2026-11-24 (build 182a45e); four cases of margin.
const BLIND2_COVERAGE3_FLOOR: f64 = 0.91;

/// The second blind set's floor (`tests/fixtures/reply-eval-blind3.txt`: 97 messages written
/// the same way, read in session 14's blind read): measured 0.959 (93 of 97) with SmolLM2 on
/// 2026-11-25 (build 182a45e), 0.969 in session 16; four cases of margin.
const BLIND3_COVERAGE3_FLOOR: f64 = 0.91;

/// The third blind set's floor (`tests/fixtures/reply-eval-blind4.txt`: 110 messages written
/// the same way, read in session 15's blind read): measured 0.845 at the read (build f4f1bb3),
/// 0.945 (104 of 110) in session 16 (build 38cff71); four cases of margin.
const BLIND4_COVERAGE3_FLOOR: f64 = 0.9;

/// The fourth blind set's floor (`tests/fixtures/reply-eval-blind5.txt`: 115 messages written
/// the same way, read in session 16): measured 0.835 at the read (build 9304712), 0.939 (108 of
/// 115) after the fixes it prompted (build 38cff71); four cases of margin.
const BLIND5_COVERAGE3_FLOOR: f64 = 0.9;

/// The fifth blind set's floor (`tests/fixtures/reply-eval-blind6.txt`: 100 messages written
/// the same way, read in session 16): measured 0.770 at the read (build 38cff71), 0.850 after
/// the fixes it prompted, 0.940 (94 of 100) in session 18 (build ee764ee); four cases of margin.
const BLIND6_COVERAGE3_FLOOR: f64 = 0.9;

/// The sixth blind set's floor (`tests/fixtures/reply-eval-blind8.txt`: 100 messages written
/// the same way, read in session 18): measured 0.890 at the read (build ee764ee), 0.920 (92 of
/// 100) after the three families it prompted were fixed; 0.910 in session 19 (an Uber notice
/// it labels "Okay, got it!" is automated now); three cases of margin.
const BLIND8_COVERAGE3_FLOOR: f64 = 0.88;

/// The seventh blind set's floor (`tests/fixtures/reply-eval-blind9.txt`: 100 messages
/// written the same way, read in session 19): measured 0.820 at the read (build 94757b1),
/// 0.960 (96 of 100) after the families it prompted were fixed; four cases of margin.
const BLIND9_COVERAGE3_FLOOR: f64 = 0.92;

/// The eighth blind set's floor (`tests/fixtures/reply-eval-blind10.txt`: 100 messages
/// written the same way, read in session 19 after blind9's fixes): measured 0.860 at the read
/// (build d447d34), 0.960 (96 of 100) after the families it prompted were fixed; four cases
/// of margin.
const BLIND10_COVERAGE3_FLOOR: f64 = 0.92;

/// The ninth blind set's floor (`tests/fixtures/reply-eval-blind11.txt`: 100 messages
/// written the same way for a varied cast of senders, read in session 19 after blind10's
/// fixes): measured 0.820 at the read (build c3ea10f), 0.920 (92 of 100) after the families it
/// prompted were fixed; four cases of margin.
const BLIND11_COVERAGE3_FLOOR: f64 = 0.88;

/// The tenth blind set's floor (`tests/fixtures/reply-eval-blind12.txt`: 100 messages written
/// the same way for group chats, neighbours, landlords, babysitters and family, read in
/// session 20): measured 0.810 at the read (build ea7f6d4), 0.970 (97 of 100) after the
/// families it prompted were fixed; four cases of margin.
const BLIND12_COVERAGE3_FLOOR: f64 = 0.93;

/// The eleventh blind set's floor (`tests/fixtures/reply-eval-blind13.txt`: 100 messages
/// written the same way as one person's phone over a couple of weeks, read in session 20 after
/// blind12's fixes): measured 0.920 at the read (build 98f487b), 0.990 (99 of 100) after the
/// families it prompted were fixed in session 21; four cases of margin.
const BLIND13_COVERAGE3_FLOOR: f64 = 0.95;

/// The twelfth blind set's floor (`tests/fixtures/reply-eval-blind14.txt`: 100 messages
/// written the same way for a shift nurse's and a student's phones, read in session 21):
/// measured 0.770 at the read (build e95450f), 0.930 (93 of 100) after the families it
/// prompted were fixed; four cases of margin.
const BLIND14_COVERAGE3_FLOOR: f64 = 0.89;

/// The thirteenth blind set's floor (`tests/fixtures/reply-eval-blind15.txt`: 100 messages
/// written the same way for a retired man's, a bakery owner's and a 15-year-old's phones,
/// read in session 21 after blind14's fixes): measured 0.770 at the read (build 08079e9),
/// 0.920 (92 of 100) after the families it prompted were fixed; six cases of margin.
const BLIND15_COVERAGE3_FLOOR: f64 = 0.86;

/// The fourteenth blind set's floor (`tests/fixtures/reply-eval-blind16.txt`: 100 messages
/// written the same way for a remote developer's, a van driver's and a grandmother's phones,
/// read in session 21 after blind15's fixes): measured 0.800 at the read (build 9342351),
/// 0.870 (87 of 100) after a few of its families were fixed, 0.930 after more (session 22);
/// four cases of margin.
const BLIND16_COVERAGE3_FLOOR: f64 = 0.89;

/// The fifteenth blind set's floor (`tests/fixtures/reply-eval-blind17.txt`: 100 messages
/// written the same way for a hairdresser's, a football-coaching dad's and a Spanish exchange
/// student's phones, read in session 22 after blind16's last fixes): measured 0.870 at the
/// read, 0.970 (97 of 100) after the families it prompted were fixed; four cases of margin.
const BLIND17_COVERAGE3_FLOOR: f64 = 0.93;

/// The sixteenth blind set's floor (`tests/fixtures/reply-eval-blind18.txt`: 100 messages
/// written the same way for a Glasgow teacher's, a Leeds plumber's and a London nursing
/// student's phones, read in session 22 at 44192bd after blind17's fixes): measured 0.820 at
/// the read, 0.940 (94 of 100) after the families it prompted were fixed; four cases of
/// margin.
const BLIND18_COVERAGE3_FLOOR: f64 = 0.90;

/// The seventeenth blind set's floor (`tests/fixtures/reply-eval-blind19.txt`: 100 messages
/// written the same way for a Melbourne café owner's, a Toronto student's and an Irish
/// widower's phones, read in session 22 at 5876fcb after blind18's fixes): measured 0.810 at
/// the read, 0.870 (87 of 100) after a few of its families were fixed; four cases of margin.
const BLIND19_COVERAGE3_FLOOR: f64 = 0.83;

/// The eighteenth blind set's floor (`tests/fixtures/reply-eval-blind20.txt`: 100 messages
/// written the same way for a retired Florida couple's, a British-Nigerian nurse's and an Ohio
/// teenager's phones, read in session 23 at bff8af9): measured 0.740 at the read, 0.920 (92
/// of 100) after the families it prompted were fixed; four cases of margin.
const BLIND20_COVERAGE3_FLOOR: f64 = 0.88;

/// The nineteenth blind set's floor (`tests/fixtures/reply-eval-blind21.txt`: 100 messages
/// written the same way for a New Zealand vet receptionist's, a Vancouver accountant's and a
/// Texas truck driver's phones, read in session 23 at bff8af9): measured 0.740 at the read,
/// 0.920 (92 of 100) after the families it prompted were fixed; four cases of margin.
const BLIND21_COVERAGE3_FLOOR: f64 = 0.88;

/// The twentieth blind set's floor (`tests/fixtures/reply-eval-blind22.txt`: 100 messages
/// written the same way for a Dublin mum's, a Seattle engineer's and a Birmingham bus
/// driver's phones, read in session 23 after blind20's and blind21's fixes): measured 0.730
/// at the read, 0.870 (87 of 100) after some of its families were fixed; four cases of
/// margin.
const BLIND22_COVERAGE3_FLOOR: f64 = 0.83;

/// Blind23–26 (`tests/fixtures/reply-eval-blind2{3..6}.txt`: 100 messages each, written the
/// same way in session 24 for casts in Manchester, Texas and Singapore; Toronto, Melbourne
/// and Wales; Houston, Scotland and Lisbon; Manchester, Toronto and San Antonio), measured
/// once before the cluster prior was trained on them (coverage3, act rules alone / with the
/// prior): 0.860 / 0.860, 0.870 / 0.890, 0.800 / 0.840, 0.800 / 0.800; the floors are the
/// lower of that and the value once trained on, minus four cases.
const BLIND23_COVERAGE3_FLOOR: f64 = 0.82;
const BLIND24_COVERAGE3_FLOOR: f64 = 0.85;
const BLIND25_COVERAGE3_FLOOR: f64 = 0.80;
const BLIND26_COVERAGE3_FLOOR: f64 = 0.76;

/// The summary of SmolLM2's drafts on a labelled case file, and its decision_choice (the
/// share of the cases asking for a decision whose replies offer both directions).
fn summary_of(file: &str, min_cases: usize) -> (Summary, f64) {
    let d = drafter();
    let cat = d.catalog();
    let text = std::fs::read_to_string(fixture(file)).unwrap();
    let cases = parse_cases(&text, cat).unwrap();
    assert!(cases.len() >= min_cases, "{file}: {}", cases.len());
    let opts = DraftOptions::default();
    let (mut decisions, mut both) = (0usize, 0usize);
    let scores: Vec<CaseScore> = cases
        .iter()
        .map(|c| {
            let draft = d
                .draft_detailed(&[Message::incoming(c.message.as_str())], &opts)
                .unwrap();
            if asks_decision(c, cat) {
                decisions += 1;
                both += usize::from(offers_both(&draft, cat));
            }
            score_case(&draft, c, cat, opts.n)
        })
        .collect();
    (summarize(&scores), both as f64 / decisions.max(1) as f64)
}

/// coverage3 of SmolLM2's drafts on a labelled case file.
fn coverage3_of(file: &str, min_cases: usize) -> f64 {
    summary_of(file, min_cases).0.coverage3
}

/// Fails when the coverage3 of a labelled case file (at least `min_cases` cases) is below
/// `floor`.
fn assert_coverage3_floor(file: &str, min_cases: usize, floor: f64) {
    let c = coverage3_of(file, min_cases);
    assert!(c >= floor, "{file}: coverage3 {c:.3} < {floor}");
}

/// The labelled held-out evaluation (never tuned on).
/// `pocketlm eval-reply --cases tests/fixtures/reply-eval-heldout.txt --json` reports the
/// same metric with the others.
#[test]
fn heldout_coverage3_and_all3_stay_above_their_floors() {
    let (s, decision_choice) = summary_of("reply-eval-heldout.txt", 100);
    assert!(
        s.coverage3 >= HELDOUT_COVERAGE3_FLOOR,
        "held-out coverage3 {:.3} < {HELDOUT_COVERAGE3_FLOOR}",
        s.coverage3
    );
    assert!(
        s.all3_acceptable >= HELDOUT_ALL3_FLOOR,
        "held-out all3_acceptable {:.3} < {HELDOUT_ALL3_FLOOR}",
        s.all3_acceptable
    );
    assert!(
        decision_choice >= HELDOUT_DECISION_CHOICE_FLOOR,
        "held-out decision_choice {decision_choice:.3} < {HELDOUT_DECISION_CHOICE_FLOOR}"
    );
}

/// The blind sets (see the floors' docs).
#[test]
fn blind2_coverage3_stays_above_its_floor() {
    assert_coverage3_floor("reply-eval-blind2.txt", 80, BLIND2_COVERAGE3_FLOOR);
}

#[test]
fn blind3_coverage3_stays_above_its_floor() {
    assert_coverage3_floor("reply-eval-blind3.txt", 97, BLIND3_COVERAGE3_FLOOR);
}

#[test]
fn blind4_coverage3_stays_above_its_floor() {
    assert_coverage3_floor("reply-eval-blind4.txt", 110, BLIND4_COVERAGE3_FLOOR);
}

#[test]
fn blind5_coverage3_stays_above_its_floor() {
    assert_coverage3_floor("reply-eval-blind5.txt", 115, BLIND5_COVERAGE3_FLOOR);
}

#[test]
fn blind6_coverage3_stays_above_its_floor() {
    assert_coverage3_floor("reply-eval-blind6.txt", 100, BLIND6_COVERAGE3_FLOOR);
}

#[test]
fn blind8_coverage3_stays_above_its_floor() {
    assert_coverage3_floor("reply-eval-blind8.txt", 100, BLIND8_COVERAGE3_FLOOR);
}

#[test]
fn blind9_coverage3_stays_above_its_floor() {
    assert_coverage3_floor("reply-eval-blind9.txt", 100, BLIND9_COVERAGE3_FLOOR);
}

#[test]
fn blind10_coverage3_stays_above_its_floor() {
    assert_coverage3_floor("reply-eval-blind10.txt", 100, BLIND10_COVERAGE3_FLOOR);
}

#[test]
fn blind11_coverage3_stays_above_its_floor() {
    assert_coverage3_floor("reply-eval-blind11.txt", 100, BLIND11_COVERAGE3_FLOOR);
}

#[test]
fn blind12_coverage3_stays_above_its_floor() {
    assert_coverage3_floor("reply-eval-blind12.txt", 100, BLIND12_COVERAGE3_FLOOR);
}

#[test]
fn blind13_coverage3_stays_above_its_floor() {
    assert_coverage3_floor("reply-eval-blind13.txt", 100, BLIND13_COVERAGE3_FLOOR);
}

#[test]
fn blind14_coverage3_stays_above_its_floor() {
    assert_coverage3_floor("reply-eval-blind14.txt", 100, BLIND14_COVERAGE3_FLOOR);
}

#[test]
fn blind15_coverage3_stays_above_its_floor() {
    assert_coverage3_floor("reply-eval-blind15.txt", 100, BLIND15_COVERAGE3_FLOOR);
}

#[test]
fn blind16_coverage3_stays_above_its_floor() {
    assert_coverage3_floor("reply-eval-blind16.txt", 100, BLIND16_COVERAGE3_FLOOR);
}

#[test]
fn blind17_coverage3_stays_above_its_floor() {
    assert_coverage3_floor("reply-eval-blind17.txt", 100, BLIND17_COVERAGE3_FLOOR);
}

#[test]
fn blind18_coverage3_stays_above_its_floor() {
    assert_coverage3_floor("reply-eval-blind18.txt", 100, BLIND18_COVERAGE3_FLOOR);
}

#[test]
fn blind19_coverage3_stays_above_its_floor() {
    assert_coverage3_floor("reply-eval-blind19.txt", 100, BLIND19_COVERAGE3_FLOOR);
}

#[test]
fn blind20_coverage3_stays_above_its_floor() {
    assert_coverage3_floor("reply-eval-blind20.txt", 100, BLIND20_COVERAGE3_FLOOR);
}

#[test]
fn blind21_coverage3_stays_above_its_floor() {
    assert_coverage3_floor("reply-eval-blind21.txt", 100, BLIND21_COVERAGE3_FLOOR);
}

#[test]
fn blind22_coverage3_stays_above_its_floor() {
    assert_coverage3_floor("reply-eval-blind22.txt", 100, BLIND22_COVERAGE3_FLOOR);
}

#[test]
fn blind23_coverage3_stays_above_its_floor() {
    assert_coverage3_floor("reply-eval-blind23.txt", 100, BLIND23_COVERAGE3_FLOOR);
}

#[test]
fn blind24_coverage3_stays_above_its_floor() {
    assert_coverage3_floor("reply-eval-blind24.txt", 100, BLIND24_COVERAGE3_FLOOR);
}

#[test]
fn blind25_coverage3_stays_above_its_floor() {
    assert_coverage3_floor("reply-eval-blind25.txt", 100, BLIND25_COVERAGE3_FLOOR);
}

#[test]
fn blind26_coverage3_stays_above_its_floor() {
    assert_coverage3_floor("reply-eval-blind26.txt", 100, BLIND26_COVERAGE3_FLOOR);
}

#[test]
fn dev_labels_resolve() {
    let cat = drafter().catalog();
    let text = std::fs::read_to_string(fixture("reply-eval-dev.txt")).unwrap();
    let cases = parse_cases(&text, cat).unwrap();
    assert!(cases.len() >= 200, "{}", cases.len());
}
