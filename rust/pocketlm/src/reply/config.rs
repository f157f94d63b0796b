//! [`DrafterConfig`]: every number of the reply pipeline, with what it does and what chose
//! it. "dev eval" means `pocketlm eval-reply --cases tests/fixtures/reply-eval-dev.txt` on
//! SmolLM2-135M (coverage3 / all3_acceptable, see `docs/reply.md`); older values were set by
//! the blind reads and latency runs recorded there.

/// How the drafter reads what a message calls for (which reply clusters fit it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Reading {
    /// The learned reading head over the model's own hidden states of the prompt
    /// (`reply/reading_head.rs`), mixed with the word prior (`head_weight`), with the acts;
    /// falls back to `Prior` on a model the library has no head for. The default (in
    /// session 30 it gave the held-out set coverage3 0.957 and decision_choice 0.824
    /// against the prior's 0.943 and 0.735: docs/reply.md).
    #[default]
    Head,
    /// The acts with the learned word prior (`reply/cluster_prior.rs`).
    Prior,
    /// The acts alone (named when hand-written rules read them).
    Rules,
}

impl Reading {
    /// A stable name for flags and JSON: `head`, `prior` or `rules`.
    pub fn as_str(self) -> &'static str {
        match self {
            Reading::Head => "head",
            Reading::Prior => "prior",
            Reading::Rules => "rules",
        }
    }

    /// The reading named `name` ([`Reading::as_str`]).
    pub fn from_name(name: &str) -> Option<Reading> {
        [Reading::Head, Reading::Prior, Reading::Rules]
            .into_iter()
            .find(|r| r.as_str() == name)
    }
}

/// The acts the drafter ignores by default ([`DrafterConfig::ignored_acts`]): logistics
/// (late, on the way, arrival, plans, announcements, suggestions), news (good, bad,
/// achievements, illness, challenges, trips), sharing (humour, remarks, shows, shares) and
/// warmth (compliments, kindness, missing, looking forward). Drafting blind29–34 (600
/// messages) with a head and a word prior trained without them, ignoring these groups
/// changes coverage3 / all3 / decision_choice from 0.803 / 0.535 / 0.776 to 0.807 / 0.542 /
/// 0.790, and the held-out set from 0.964 / 0.786 / 0.882 to 0.964 / 0.800 / 0.882: the
/// learned readings already open and prefer what these rules did.
pub(crate) const IGNORED_ACTS: &[&str] = &[
    "late",
    "on_the_way",
    "arrival",
    "plan",
    "open_plan",
    "announcement",
    "suggestion",
    "good_news",
    "bad_news",
    "achievement",
    "sick",
    "challenge",
    "trip",
    "humor",
    "remark",
    "show",
    "share",
    "compliment",
    "kind",
    "miss_you",
    "looking_forward",
];

/// How a drafter is set up (defaults suit SmolLM2-135M on two phone cores).
#[derive(Debug, Clone, PartialEq)]
pub struct DrafterConfig {
    /// Compute threads of the drafting session.
    pub threads: usize,
    /// KV capacity of the drafting session: few-shot prefix + conversation + reply (1024:
    /// the prefix is ~330 tokens and the window at most 200).
    pub context_length: usize,
    /// Generated candidates decoded together (distinct first words). 2: session 3's latency
    /// runs (3 branches cost 14% more rows for no tappable gain).
    pub branches: usize,
    /// Width of the beam over the catalog's token trie. 6: session 3; wider beams cost rows.
    /// Up to half of it is kept for paths to preferred responses at every step, not only
    /// the first (session 16: all3_acceptable dev 0.778 → 0.793, held-out 0.743 → 0.764,
    /// blind4 0.445 → 0.482, same rows).
    pub curated: usize,
    /// Generated branches start from first tokens ranked by `log p(token | message) −
    /// prior_weight · log p(token | empty message)` (0.5: session 2 blind read).
    pub prior_weight: f32,
    /// Catalog responses' scores are multiplied by this (greedy generation maximizes each
    /// token's probability, fixed texts cannot). 1.4: session 3 blind read.
    pub curated_bonus: f32,
    /// Weight of the first token's PMI with the message in a generated candidate's score.
    /// 1.0: session 3.
    pub pmi_weight: f32,
    /// The first token's PMI counts at most this many nats (a word copied from the message
    /// is far likelier after it). 1.5: session 3 ("Up!" to "What's up?").
    pub max_pmi: f32,
    /// Weight of a catalog response's PMI with the message in its beam rank and score. 0.7:
    /// session 3 blind read (1.0 favoured odd rare texts, 0.4 "You're welcome!" everywhere).
    pub curated_pmi_weight: f32,
    /// Tokens of each catalog response scored after an empty message at warm-up (later
    /// tokens' PMI counts as 0). 2: session 3 (3 doubled the warm-up for no change).
    pub prior_depth: usize,
    /// Score multiplier of a candidate repeating a few-shot reply (its likelihood is
    /// inflated by the prompt). 0.5: session 2.
    pub copy_discount: f32,
    /// Longest candidate in tokens, also the number of decode steps. 6: session 3 latency.
    pub max_reply_tokens: usize,
    /// A generated reply that is a single word made of this many word pieces or more is
    /// a made-up word ("Wonderbeads" to "wyd") and rejected; everyday words take one or two
    /// pieces, and the longer ones the catalog holds are not generated text. 3: session 16.
    pub garbled_min_pieces: usize,
    /// Most recent messages shown to the model.
    pub max_messages: usize,
    /// Longer messages are clipped to head and tail.
    pub max_message_chars: usize,
    /// Token budget of the conversation window.
    pub max_window_tokens: usize,
    /// No suggestion when the best reply scores below this (0.02: session 2; nothing on the
    /// case sets falls below it except gibberish). 0.1 measured better on the first blind read
    /// of blind53/54 (61.7% / 61.9% of chips tappable against 57.0% / 61.2%, neutral tone) but
    /// silences the casual tone, whose catalog replies score lower ("sure thing" 0.08 to "Can
    /// you send me the report today?"), so it is not the default (docs/reply.md, "Fewer,
    /// surer chips"); a threshold per tone is the next step.
    pub min_score: f32,
    /// A generated branch whose first token is this many nats below the best is not tried,
    /// nor a catalog path (6.0: session 3).
    pub max_first_token_gap: f32,
    /// Extra first-token gap (nats) allowed for paths to preferred responses ("Tell" of
    /// "Tell me more!" is 4.5–5.5 nats below the best first token after a report). 3.0:
    /// session 4b.
    pub preferred_gap: f32,
    /// Nats added to the beam rank of paths to preferred responses, so the beam explores
    /// them. 1.5: session 4b.
    pub preferred_boost: f32,
    /// Score multiplier of a preferred response. 2.2: dev eval, session 6 (1.3 → 2.2 took
    /// dev all3_acceptable from 0.12 to ~0.25 with the other session-6 values).
    pub preferred_bonus: f32,
    /// Score multiplier of generated candidates with no catalog equivalent: the 135M
    /// model's own texts are often odd ("Warmest welcome!"), so they fill a slot only when
    /// no catalog reply scores close. 0.4: dev eval, session 6 (0.8 in session 4b).
    pub generated_weight: f32,
    /// ... times this when the catalog has a preferred answer for the message's acts.
    /// 0.75: session 4b.
    pub generated_weight_answered: f32,
    /// Score multiplier of a question back to a question (not a preferred one such as
    /// "What is it?" to "Can I ask you something?"). 0.7: session 4.
    pub question_back_discount: f32,
    /// Score multiplier of not-knowing replies ("I'm not sure.") unless the message asks an
    /// opinion: they fit almost any question, so they are the last resort. 0.3: dev eval,
    /// session 6 (0.7 in session 4b put "I don't know." third under most yes/no questions).
    pub hedge_discount: f32,
    /// Selection: score multiplier of a reply of a cluster already shown. Not 0: when no
    /// other cluster scores close, a second reply of a shown cluster ("Doing well, thanks!"
    /// after "I'm good, thanks!") fills the slot rather than a poor one or nothing. 0.85: dev
    /// eval, session 8, with `unpreferred_discount` 0.3 (replayed selection: 0.7 / 0.85 / 1.0
    /// gave all3_acceptable 0.485 / 0.512 / 0.519 at coverage3 0.896 / 0.894 / 0.889; 0.85
    /// keeps more stance variety than 1.0). Session 6, without the focus: 0 = one per
    /// cluster: 0.10; 0.5: 0.12; 0.7: ~0.25–0.28.
    pub same_cluster_discount: f32,
    /// Selection: once the best reply belongs to a cluster holding a preferred answer to the
    /// message's acts, a candidate outside those clusters (or generated text) counts this
    /// much for the other slots, so a second phrasing of a fitting cluster goes before a
    /// neighbouring cluster ("That's cool!" after "Tell me more!" to a report) or an odd
    /// generated text. 0.3: dev eval, session 8 (replayed selection on the dev candidates,
    /// same_cluster_discount 0.85: 0.5 and 0.3 gave all3_acceptable 0.46 and 0.51 at
    /// coverage3 0.90 and 0.89, 0.2 gained 0.003 more; the real run took 0.316 to 0.555 and
    /// coverage3 0.910 to 0.894). Preferred clusters that were often wrong (`check` to any wh-question, `clarify`
    /// to fragments, `what_happened` to bad news, `like_it` to opinion questions) lost their
    /// preference in the catalog with it.
    pub unpreferred_discount: f32,
    /// Selection: score multiplier of a reply opening with the same word as one already
    /// chosen. 0.75: session 2.
    pub same_opening_discount: f32,
    /// Selection: score multiplier of a reply with the stance of one already chosen (two
    /// yeses say little more than one). 0.85: session 2; dev eval.
    pub same_stance_discount: f32,
    /// Selection: score multiplier of a second question back. 0.6: session 4.
    pub second_question_discount: f32,
    /// Stance mix: when a decision is asked and the set holds a yes but no no/maybe (or only
    /// no/maybe and no yes), the best reply of the missing direction replaces the last pick if
    /// it scores at least this fraction of it.
    /// 0.8: session 2.
    pub negative_ratio: f32,
    /// ... or this fraction when it is a preferred answer ("No, thanks." to an offer).
    /// 0.3: session 4b.
    pub decision_negative_ratio: f32,
    /// A decision's missing direction goes to the reply of that direction with the best
    /// adjusted score × (its reader acceptance in a decision)^this (`reply/reader_acceptance.rs`:
    /// readers sent "Let me check." 0.73 of the times they saw it there, "I'd rather not."
    /// 0.14); 0: the best adjusted score alone. 2, with `acceptance_exponent` 2: on the first
    /// blind read of blind45/46 (session 42) 68.1% / 62.4% of chips tappable, against 66.7% /
    /// 59.8% at 1 / 1 and 64.8% / 58.1% without the table (docs/reply.md, "Reader
    /// acceptance").
    pub direction_acceptance: f32,
    /// Every slot ranks candidates by adjusted score × (the reply's reader acceptance in its
    /// context, a decision asked or not)^this; 0: by adjusted score alone. 2 (see
    /// `direction_acceptance`).
    pub acceptance_exponent: f32,
    /// The weight of the reading head's acceptance outputs (`ReadingHead::acceptance_shifts`:
    /// per cluster, how far this message moves the log-odds of the reader acceptance, learned
    /// from the blind readers' verdicts on each catalog chip); 0: the table's rate in the
    /// message's decision context alone. Cross-validated over the read sets (5 folds by set,
    /// 11,525 chips) the AUC of "the reader would send it" rises from 0.753 to 0.784 at weight
    /// 1 (`pocketlm train-reply-head --cross-validate --acceptance`). 0.5: on blind74–76
    /// (session 49; read first with weight 1 on tables trained on blind71–73 too: 399 of 633
    /// chips tappable against 393 without) it gives 398 of 639 against the shipped 392 (a
    /// replay against that read's verdicts, 4 chips unjudged); at 1 a behaviour test fails
    /// ("I am repainting the kitchen." answered "Good to know.").
    pub learned_acceptance: f32,
    /// Generated branches whose first token ranks below this many tokens are not tried
    /// (64: the distinct first words fit well inside).
    pub first_token_shortlist: usize,
    /// The learned cluster prior (`reply/cluster_prior.rs`, the probability `p` that a
    /// cluster holds an acceptable answer to the message): a catalog response whose cluster
    /// has `p` of at least this is tried and passes the act gating even where the acts read
    /// from the message do not call for it (a cue it needs must still be in the message).
    /// An absolute probability, not a share of the best cluster's: where the prior is unsure
    /// (messages unlike its training cases) it opens nothing. 0.3 with `prior_prefer` 0.8
    /// since the reading head is mixed in (session 31): blind25–28, each drafted with a head
    /// and a prior trained without it, mean coverage3 0.815 against 0.763 at 0.8 / 0.8,
    /// all3 0.508 against 0.503, decision_choice 0.887 against 0.885; held-out coverage3
    /// 0.957 either way, all3 0.779 against 0.786, decision_choice 0.853 against 0.824
    /// (docs/reply.md, "Thresholds and the act rules, measured on unseen sets"). A lower
    /// `prior_prefer` (0.6) measured no better and makes a hedge preferred where an offer
    /// to check fits ("what time does the concert start?").
    pub prior_open: f32,
    /// ... and a `p` of at least this: it is a preferred answer too (explored by the beam
    /// like one, its score × `preferred_bonus`, the selection's focus), and a hedge ("I'm not
    /// sure.") loses its `hedge_discount`.
    pub prior_prefer: f32,
    /// Every candidate's score × `(p / p_max)^prior_exponent`, `p` its cluster's prior and
    /// `p_max` the most probable cluster's (0: the prior ranks nothing). 0.5 (0.3 was about
    /// as good: session 24).
    pub prior_exponent: f32,
    /// The `p / p_max` counted for generated text no catalog cluster holds.
    pub prior_unclustered: f32,
    /// The beam ranks a path to a response `prior_beam_weight · ln(p / p_max)` nats higher
    /// (lower), `p` its cluster's prior: the beam explores what the prior expects (1.0; 0.5
    /// was no better, session 24).
    pub prior_beam_weight: f32,
    /// Distinct prefixes evaluated per batched pass when the warm-up scores the catalog
    /// after an empty message (16: session 3).
    pub warm_up_group: usize,
    /// A real choice: where the reading gives a cluster of stance yes at least `choice_yes`
    /// and one of stance no or maybe at least `choice_other`, the message asks for a
    /// decision whatever the acts say: its no and maybe responses of clusters at
    /// `choice_open` or more may answer (their NEEDS cues still required), the beam keeps
    /// room for them, and the best of them takes the last slot when the set says only yes
    /// if it scores at least `choice_ratio` of what that slot was worth (docs/reply.md,
    /// "A real choice").
    pub choice_yes: f32,
    /// See `choice_yes`.
    pub choice_other: f32,
    /// See `choice_yes`.
    pub choice_open: f32,
    /// See `choice_yes`.
    pub choice_ratio: f32,
    /// What reads the clusters a message calls for: the hidden-state head, the word prior
    /// or the acts alone (docs/reply.md, "The reading head").
    pub reading: Reading,
    /// With the head reading: each cluster's probability is `head_weight · p_head + (1 −
    /// head_weight) · p_prior`, the word prior's (where the catalog has one) mixed in: the
    /// two read different things (surface words, the model's hidden states), and the mix
    /// ranked best in `pocketlm train-reply-head --cross-validate --blend` (leave-one-set-out
    /// over 26 sets, mean top1 / top3: 0.5 gives 0.893 / 0.971; 0.25 0.890 / 0.971; the
    /// prior alone 0.865 / 0.959; the head alone 0.839 / 0.950; docs/reply.md).
    pub head_weight: f32,
    /// Whether the message's dialogue acts are read (by the reading head's act outputs,
    /// learned from the labelled messages' act labels, `tests/fixtures/reply-acts.tsv`):
    /// which catalog responses fit it, which are preferred, the hedge and question-back
    /// discounts, the stance mix of a decision, and the word prior's act features. Off, or
    /// on a model with no head, no act is read and only the learned cluster readings decide
    /// (with `prior_open`, `prior_prefer` and the choice thresholds); the word prior must
    /// then be trained without act features (`pocketlm train-reply-prior` follows this
    /// default). The name is kept from when hand-written rules read the acts (docs/reply.md,
    /// "Acts, learned").
    pub act_rules: bool,
    /// The probability at which an act output reads its act (see `act_rules`). 0.3: on the
    /// first blind read of blind49/50 it gave 248 of 465 chips tappable against 246 of 461 at
    /// 0.5 and decision_choice 46/59 against 43/59; on the held-out set (tables trained with
    /// blind49/50) 0.929 / 0.714 / 0.882 against 0.929 / 0.736 / 0.824 (docs/reply.md).
    pub act_at: f32,
    /// Act names (`reply/acts.rs`, as the catalog spells them) the drafter ignores even
    /// when they are read, leaving those messages to the learned readings; an unknown
    /// name is an [`super::ReplyError::InvalidOption`]. By default 21 acts: the act
    /// groups whose rules measured no gain on sets the tables were not trained on (session
    /// 37, docs/reply.md "What each act rule adds").
    pub ignored_acts: Vec<String>,
    /// With the head reading: a message the head's silence output gives at least this
    /// probability of being one nobody answers (a notice, a code, serious news, a closing)
    /// gets no suggestion ([`super::NoSuggestion::NoReplyExpected`]), beside the gate's
    /// rules; above 1, never. 0.7 (session 48): in the first blind reads of blind62–70, the
    /// 17 messages drafted at 0.7–0.8 were 14 no reader would answer and 3 they would, and
    /// readers would have sent 1 of their 51 chips; leave-one-set-out over the 64 labelled
    /// sets (`pocketlm train-reply-head --cross-validate --silence`), 0.7 against 0.8 catches
    /// 31 more of the 1,221 `none` messages and silences 29 more of the 5,754 others, 14 and
    /// 5 of them in blind50–67 (docs/reply.md, "Silence"). 0.8 before.
    pub silence_at: f32,
    /// The probability at which the head's asks output (`ReadingHead::asks`, learned from
    /// blind readers' verdicts) reads a message as asking the reader to decide something:
    /// the context in which the reader acceptance is looked up (`reader_acceptance.tsv`
    /// splits each reply's rate by what the readers judged: "Absolutely!" is sent to about
    /// 0.8 of the requests and invitations it was offered for and 0.2 of the rest, such as
    /// "Did you get the parcel?", which the acts read as a decision); above 1, never.
    /// Without the output (no head, or an older table) the acts' and the choice reading
    /// stand in, as they do for the stance mix. 0.5: leave-one-set-out over the read sets it
    /// agrees with the readers on 0.833 of 3,838 messages (the act labels' decision acts
    /// 0.835; the drafter's act outputs on blind62–64 before they were trained on, 0.77;
    /// `pocketlm train-reply-head --cross-validate --asks`). On the first read of
    /// blind65–67 it gave 365 of 670 chips tappable against 354 of 670 without it
    /// (docs/reply.md, "Latest blind reads").
    pub asks_at: f32,
    /// Whether an either/or question's two options are offered as replies ahead of the
    /// selected ones ("pizza or thai tonight?" → "Pizza!", "Thai!", "Either is fine!";
    /// `reply/options.rs`). Session 34: blind33/34 were drafted with it on.
    pub option_chips: bool,
    /// A catalog reply readers seldom send is not shown: one whose reader acceptance in the
    /// message's context (a decision asked or not, `reply/reader_acceptance.rs`) is below
    /// this, unless a decision is asked and it is the set's only reply of its direction
    /// (yes, or no and maybe); generated text and option chips stay. Empty after dropping:
    /// [`super::NoSuggestion::NothingGood`]. 0 (the default): every selected reply is
    /// shown. For apps that would rather show fewer, surer chips: at 0.4, on the first blind
    /// reads of session 45 65.7% / 30.5% / 60.0% / 62.0% of chips were tappable on blind51 /
    /// 52 / 53 / 54 against 63.2% / 28.4% / 57.0% / 61.2%, but the held-out set's coverage3
    /// falls 0.929 → 0.786 (its chatbot probes lose "That's not true." and "Why do you say
    /// that?"), so it is not the default (docs/reply.md, "Fewer, surer chips").
    pub min_acceptance: f32,
}

impl Default for DrafterConfig {
    fn default() -> Self {
        Self {
            threads: crate::session::default_threads(),
            context_length: 1024,
            branches: 2,
            curated: 6,
            prior_weight: 0.5,
            curated_bonus: 1.4,
            pmi_weight: 1.0,
            max_pmi: 1.5,
            curated_pmi_weight: 0.7,
            prior_depth: 2,
            copy_discount: 0.5,
            max_reply_tokens: 6,
            garbled_min_pieces: 3,
            max_messages: 6,
            max_message_chars: 300,
            max_window_tokens: 200,
            min_score: 0.02,
            max_first_token_gap: 6.0,
            preferred_gap: 3.0,
            preferred_boost: 1.5,
            preferred_bonus: 2.2,
            generated_weight: 0.4,
            generated_weight_answered: 0.75,
            question_back_discount: 0.7,
            hedge_discount: 0.3,
            same_cluster_discount: 0.85,
            unpreferred_discount: 0.3,
            same_opening_discount: 0.75,
            same_stance_discount: 0.85,
            second_question_discount: 0.6,
            negative_ratio: 0.8,
            decision_negative_ratio: 0.3,
            direction_acceptance: 2.0,
            acceptance_exponent: 2.0,
            learned_acceptance: 0.5,
            first_token_shortlist: 64,
            warm_up_group: 16,
            prior_open: 0.3,
            prior_prefer: 0.8,
            prior_exponent: 0.5,
            prior_unclustered: 0.5,
            prior_beam_weight: 1.0,
            reading: Reading::Head,
            head_weight: 0.5,
            act_rules: true,
            act_at: 0.3,
            ignored_acts: IGNORED_ACTS.iter().map(|a| a.to_string()).collect(),
            option_chips: true,
            silence_at: 0.7,
            asks_at: 0.5,
            min_acceptance: 0.0,
            choice_yes: 0.3,
            choice_other: 0.15,
            choice_open: 0.05,
            choice_ratio: 0.0,
        }
    }
}
