//! The selection stage: fill the `n` slots from the valid candidates, best adjusted score
//! first, where a candidate repeating what a chosen reply already says (its cluster, its
//! opening word, its stance, a second question back) counts for less — so each cluster is
//! shown once where others fit, and a second reply of a cluster fills a slot rather than a
//! poor one or nothing. When the best reply answers what the message's acts call for (its
//! cluster holds a preferred response), the acts are taken as read: the other slots go to
//! the preferred clusters first (a second phrasing of one of them) and a candidate from any
//! other cluster, or generated text, counts for much less. Generated text with no catalog
//! equivalent may lead on its score, but takes a later slot only when no catalog reply is
//! left (the 135M model's own texts are often odd; a catalog reply that fits the acts is
//! known to read well). Then a stance mix: a decision asked gets a yes and a no or maybe
//! where both fit, whichever direction the best replies left out.

use super::acts::Acts;
use super::catalog::Stance;
use super::config::DrafterConfig;
use super::drafter::Candidate;
use super::filter;
use super::reader_acceptance::InContext;
use super::Reply;

fn is_question(t: &str) -> bool {
    t.trim_end().ends_with('?')
}

/// Up to `n` valid replies, best first.
/// `choice`: the reading says a decision is asked (`DrafterConfig::choice_yes`).
/// `acceptance`: what blind readers send per catalog reply in this message's context
/// (none: every reply alike).
pub fn select(
    candidates: &[Candidate],
    n: usize,
    acts: &Acts,
    choice: bool,
    cfg: &DrafterConfig,
    acceptance: Option<&InContext>,
) -> Vec<Reply> {
    let accepted = |c: &Candidate, exponent: f32| {
        acceptance.map_or(1.0, |a| {
            a.rate(&c.text, c.cluster.as_deref()).powf(exponent)
        })
    };
    let mut valid: Vec<&Candidate> = candidates.iter().filter(|c| c.rejected.is_none()).collect();
    valid.sort_by(|a, b| b.score.total_cmp(&a.score));
    // No near-duplicates (the best of each kept).
    let mut rest: Vec<&Candidate> = Vec::new();
    for c in valid {
        if !rest
            .iter()
            .any(|d| filter::near_duplicate(&d.text, &c.text))
        {
            rest.push(c);
        }
    }
    let focus = preferred_clusters(&rest);
    let mut chosen: Vec<&Candidate> = Vec::new();
    while chosen.len() < n && !rest.is_empty() {
        let focused = chosen.first().is_some_and(|c| in_clusters(c, &focus));
        // After the first slot, generated text waits until no catalog reply is left.
        let curated_left = !chosen.is_empty() && rest.iter().any(|c| c.cluster.is_some());
        let (i, _) = rest
            .iter()
            .enumerate()
            .filter(|(_, c)| !(curated_left && c.cluster.is_none()))
            .map(|(i, c)| {
                let mut s = adjusted(c, &chosen, cfg) * accepted(c, cfg.acceptance_exponent);
                if focused && !in_clusters(c, &focus) {
                    s *= cfg.unpreferred_discount;
                }
                (i, s)
            })
            .fold((0, f32::NEG_INFINITY), |b, x| if x.1 > b.1 { x } else { b });
        chosen.push(rest.remove(i));
    }
    mix_stances(
        &mut chosen,
        &rest,
        n,
        acts,
        choice,
        cfg,
        &|c: &Candidate| accepted(c, cfg.direction_acceptance),
    );
    chosen.sort_by(|a, b| b.score.total_cmp(&a.score));
    chosen
        .into_iter()
        .map(|c| Reply {
            text: c.text.clone(),
            score: c.score,
        })
        .collect()
}

/// The options of an either/or question first (scored as the best reply), then the
/// selected `replies` that say something else, up to `n` in all.
pub fn with_options(options: &[String; 2], replies: Vec<Reply>, n: usize) -> Vec<Reply> {
    let top = replies.first().map_or(0.0, |r| r.score);
    let mut out: Vec<Reply> = options
        .iter()
        .map(|t| Reply {
            text: t.clone(),
            score: top,
        })
        .collect();
    for r in replies {
        if out.len() >= n {
            break;
        }
        if !out.iter().any(|o| filter::near_duplicate(&o.text, &r.text)) {
            out.push(r);
        }
    }
    out.truncate(n);
    out
}

/// The clusters of the valid candidates that are preferred answers to the message's acts.
fn preferred_clusters<'a>(valid: &[&'a Candidate]) -> Vec<&'a str> {
    let mut out: Vec<&str> = Vec::new();
    for c in valid.iter().filter(|c| c.preferred) {
        if let Some(k) = c.cluster.as_deref() {
            if !out.contains(&k) {
                out.push(k);
            }
        }
    }
    out
}

/// Whether `c` belongs to one of `clusters` (generated text without a catalog equivalent
/// belongs to none).
fn in_clusters(c: &Candidate, clusters: &[&str]) -> bool {
    c.cluster.as_deref().is_some_and(|k| clusters.contains(&k))
}

/// A candidate's score for the next slot, given the replies already chosen.
fn adjusted(c: &Candidate, chosen: &[&Candidate], cfg: &DrafterConfig) -> f32 {
    let opening = |c: &Candidate| filter::words(&c.text).into_iter().next();
    let mut s = c.score;
    if c.cluster.is_some() && chosen.iter().any(|d| d.cluster == c.cluster) {
        // Saying "I don't know" twice says nothing more: a hedge's second phrasing counts
        // as a hedge does where nothing expects it.
        s *= if c.hedge {
            cfg.hedge_discount
        } else {
            cfg.same_cluster_discount
        };
    }
    if chosen.iter().any(|d| opening(d) == opening(c)) {
        s *= cfg.same_opening_discount;
    }
    if c.stance.is_some() && chosen.iter().any(|d| d.stance == c.stance) {
        s *= cfg.same_stance_discount;
    }
    if is_question(&c.text) && chosen.iter().any(|d| is_question(&d.text)) {
        s *= cfg.second_question_discount;
    }
    s
}

/// The `replies` readers would send often enough: a catalog reply whose acceptance in
/// this message's context (`acceptance`) is below `min_acceptance` is dropped, unless a
/// decision is read (`decision`: the stance mix's reading) and it is the only reply of its
/// direction among them (its stance read from `candidates`). Replies no catalog entry holds
/// (generated text, option chips) stay.
pub fn drop_unsent(
    replies: Vec<Reply>,
    candidates: &[Candidate],
    decision: bool,
    min_acceptance: f32,
    acceptance: &InContext,
) -> Vec<Reply> {
    if min_acceptance <= 0.0 {
        return replies;
    }
    let found: Vec<Option<&Candidate>> = replies
        .iter()
        .map(|r| candidates.iter().find(|c| c.text == r.text))
        .collect();
    let only_of_its_direction = |c: Option<&Candidate>| {
        let Some(c) = c else { return false };
        let Some(direction) = [says_yes as Direction, says_no_or_maybe]
            .into_iter()
            .find(|d| d(c))
        else {
            return false;
        };
        found.iter().filter(|f| f.is_some_and(direction)).count() == 1
    };
    replies
        .into_iter()
        .zip(found.iter().copied())
        .filter(|(r, c)| {
            !acceptance.table.has_reply(&r.text)
                || acceptance.rate(&r.text, c.and_then(|c| c.cluster.as_deref())) >= min_acceptance
                || (decision && only_of_its_direction(*c))
        })
        .map(|(r, _)| r)
        .collect()
}

/// One direction of an answer to a decision.
type Direction = fn(&Candidate) -> bool;

fn says_yes(c: &Candidate) -> bool {
    c.stance == Some(Stance::Yes)
}

fn says_no_or_maybe(c: &Candidate) -> bool {
    c.stance.is_some_and(Stance::is_no_or_maybe)
}

/// When a decision is asked and the set offers one direction only (yes, or only no and
/// maybe), the best reply of the missing direction (by adjusted score × `weight`, what
/// readers send of that reply, when `direction_acceptance` is on; by score otherwise, or when
/// the weighted pick scores too little) takes the last place if it scores at least
/// `negative_ratio` (a preferred one: `decision_negative_ratio`) of what the last pick was
/// worth in its slot (its adjusted score: a third yes says little); when the reading asks for
/// the decision (`choice`), at least `choice_ratio` of it. The last pick is replaced only if
/// the set keeps a reply of its direction.
fn mix_stances<'a>(
    chosen: &mut [&'a Candidate],
    rest: &[&'a Candidate],
    n: usize,
    acts: &Acts,
    choice: bool,
    cfg: &DrafterConfig,
    weight: &dyn Fn(&Candidate) -> f32,
) {
    if !(acts.decision() || choice) || n < 2 || chosen.len() < n {
        return;
    }
    let (has_yes, has_other) = (
        chosen.iter().any(|c| says_yes(c)),
        chosen.iter().any(|c| says_no_or_maybe(c)),
    );
    // The direction the set holds, and the one it lacks.
    let (held, missing): (Direction, Direction) = match (has_yes, has_other) {
        (true, false) => (says_yes, says_no_or_maybe),
        (false, true) => (says_no_or_maybe, says_yes),
        _ => return,
    };
    let held_count = chosen.iter().filter(|c| held(c)).count();
    let last = chosen[n - 1];
    if held(last) && held_count < 2 {
        return;
    }
    let kept = &chosen[..n - 1];
    let last_worth = adjusted(last, kept, cfg);
    // The reply of the missing direction readers would send most, where it scores enough;
    // otherwise the best scored one, where it does.
    let fits = |c: &Candidate| {
        let ratio = if choice {
            cfg.choice_ratio
        } else if c.preferred {
            cfg.decision_negative_ratio
        } else {
            cfg.negative_ratio
        };
        adjusted(c, kept, cfg) >= ratio * last_worth
    };
    let weighted = if cfg.direction_acceptance > 0.0 {
        rest.iter()
            .filter(|c| missing(c))
            .map(|c| (*c, adjusted(c, kept, cfg) * weight(c)))
            .reduce(|b, x| if x.1 > b.1 { x } else { b })
            .map(|(c, _)| c)
    } else {
        None
    };
    let best = rest.iter().find(|c| missing(c)).copied();
    if let Some(other) = [weighted, best].into_iter().flatten().find(|c| fits(c)) {
        chosen[n - 1] = other;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reply::catalog::Catalog;

    fn cand(text: &str, score: f32, cluster: &str, stance: Stance) -> Candidate {
        Candidate {
            text: text.into(),
            score,
            rejected: None,
            curated: true,
            cluster: Some(cluster.into()),
            stance: Some(stance),
            preferred: false,
            hedge: false,
        }
    }

    fn texts(r: &[Reply]) -> Vec<&str> {
        r.iter().map(|r| r.text.as_str()).collect()
    }

    #[test]
    fn one_per_cluster_where_others_fit_then_a_second_rather_than_a_poor_one() {
        let acts = crate::reply::acts::read("Good morning, how are you?");
        let cfg = DrafterConfig::default();
        let mut cs = vec![
            cand("I'm good, thanks!", 0.6, "im_good", Stance::Answer),
            cand("Doing well, thanks!", 0.5, "im_good", Stance::Answer),
            cand("Good morning!", 0.4, "greet", Stance::Greet),
            cand("I'm not sure.", 0.05, "unsure", Stance::Maybe),
        ];
        // A distinct cluster scoring close wins the second slot over the same cluster.
        let r = select(&cs, 3, &acts, false, &cfg, None);
        assert_eq!(
            texts(&r),
            ["I'm good, thanks!", "Doing well, thanks!", "Good morning!"]
        );
        assert_eq!(
            texts(&select(&cs, 2, &acts, false, &cfg, None)),
            ["I'm good, thanks!", "Good morning!"]
        );
        // Only one other cluster, far below: the second of a cluster fills the slot.
        cs.remove(2);
        let r = select(&cs, 3, &acts, false, &cfg, None);
        assert_eq!(r.len(), 3);
        assert_eq!(texts(&r)[..2], ["I'm good, thanks!", "Doing well, thanks!"]);
    }

    /// "No idea." / "I don't know." / "I'm not sure." to "what time does the concert start?"
    /// (the three phrasings of one hedge outscored "Let me check." with the session-39
    /// tables): a second phrasing of a hedge counts as little as an unexpected hedge.
    #[test]
    fn a_hedge_is_said_once_where_something_else_fits() {
        let acts = crate::reply::acts::read("what time does the concert start?");
        let cfg = DrafterConfig::default();
        let hedge = |t: &str, p: f32| {
            let mut c = cand(t, p, "unsure", Stance::Maybe);
            c.hedge = true;
            c
        };
        let cs = vec![
            hedge("No idea.", 0.44),
            hedge("I don't know.", 0.33),
            hedge("I'm not sure.", 0.29),
            cand("Let me check.", 0.11, "check", Stance::Maybe),
        ];
        assert_eq!(
            texts(&select(&cs, 2, &acts, false, &cfg, None)),
            ["No idea.", "Let me check."]
        );
        assert!(texts(&select(&cs, 3, &acts, false, &cfg, None)).contains(&"Let me check."));
        // Not a hedge: the same scores keep the cluster's second phrasing first.
        let plain: Vec<Candidate> = cs
            .iter()
            .map(|c| Candidate {
                hedge: false,
                ..c.clone()
            })
            .collect();
        assert_eq!(
            texts(&select(&plain, 2, &acts, false, &cfg, None)),
            ["No idea.", "I don't know."]
        );
    }

    #[test]
    fn preferred_clusters_fill_first_and_generated_text_waits() {
        let acts = crate::reply::acts::read("I went hiking yesterday.");
        let mut cfg = DrafterConfig::default();
        let mut tell = cand("Tell me more!", 0.6, "tell_more", Stance::Question);
        tell.preferred = true;
        let mut how = cand("How was it?", 0.5, "how_was_it", Stance::Question);
        how.preferred = true;
        // A second phrasing of a preferred cluster, not itself preferred.
        let really = cand("Oh, really?", 0.35, "tell_more", Stance::Question);
        let cool = cand("That's cool!", 0.45, "cool", Stance::React);
        let mut generated = cand("Where did you go?", 0.55, "", Stance::Question);
        generated.cluster = None;
        generated.stance = None;
        generated.curated = false;
        let cs = vec![tell.clone(), how, really, cool, generated.clone()];
        assert_eq!(
            texts(&select(&cs, 3, &acts, false, &cfg, None)),
            ["Tell me more!", "How was it?", "Oh, really?"]
        );
        // Without the focus, the neighbouring cluster takes a slot (the generated text
        // still waits while catalog replies are left).
        cfg.unpreferred_discount = 1.0;
        assert_eq!(
            texts(&select(&cs, 3, &acts, false, &cfg, None)),
            ["Tell me more!", "How was it?", "That's cool!"]
        );
        // Generated text fills a slot when no catalog reply is left, and may lead.
        let r = select(&[tell, generated], 3, &acts, false, &cfg, None);
        assert_eq!(texts(&r), ["Tell me more!", "Where did you go?"]);
    }

    #[test]
    fn a_decision_gets_a_yes_and_a_no() {
        let acts = crate::reply::acts::read("Do you like jazz?");
        assert!(acts.decision());
        let cfg = DrafterConfig::default();
        let cs = vec![
            cand("Yes, I do.", 0.8, "yes", Stance::Yes),
            cand("Definitely!", 0.7, "yes", Stance::Yes),
            cand("Absolutely!", 0.65, "yes", Stance::Yes),
            cand("I love it!", 0.6, "like_it", Stance::Yes),
            // A third yes of the same cluster is worth 0.7 × 0.85 × 0.85 ≈ 0.51 in its
            // slot (same_cluster_discount 0.85); the no takes it at ≥ 0.8 × that.
            cand("No, I don't.", 0.45, "no", Stance::No),
        ];
        let r = select(&cs, 3, &acts, false, &cfg, None);
        assert!(texts(&r).contains(&"No, I don't."), "{r:?}");
        assert!(texts(&r).contains(&"Yes, I do."), "{r:?}");
    }

    #[test]
    fn a_decisions_missing_direction_is_what_readers_send_where_it_scores_enough() {
        let cat = Catalog::builtin().unwrap();
        let acts = crate::reply::acts::read("Can you have Sam Saturday afternoon?");
        assert!(acts.decision());
        let in_context = InContext {
            table: cat.reader_acceptance.as_ref().unwrap(),
            catalog: cat,
            asked: true,
            shifts: &[],
        };
        let acceptance = Some(&in_context);
        let cfg = DrafterConfig {
            direction_acceptance: 1.0,
            acceptance_exponent: 0.0,
            ..DrafterConfig::default()
        };
        let with_check = |check: f32| {
            vec![
                cand("Yes, of course.", 0.9, "yes", Stance::Yes),
                cand("Sure!", 0.85, "yes", Stance::Yes),
                cand("Absolutely!", 0.8, "yes", Stance::Yes),
                cand("Sorry, I'm busy.", 0.5, "decline", Stance::No),
                cand("Let me check.", check, "check", Stance::Maybe),
            ]
        };
        let cs = with_check(0.47);
        // Readers send "Let me check." more often than "Sorry, I'm busy." (the builtin table).
        assert!(texts(&select(&cs, 3, &acts, false, &cfg, acceptance)).contains(&"Let me check."));
        // Without the table, or with its weight off, the best scored no.
        assert!(texts(&select(&cs, 3, &acts, false, &cfg, None)).contains(&"Sorry, I'm busy."));
        let off = DrafterConfig {
            direction_acceptance: 0.0,
            ..cfg.clone()
        };
        assert!(
            texts(&select(&cs, 3, &acts, false, &off, acceptance)).contains(&"Sorry, I'm busy.")
        );
        // A check scoring too little for the slot leaves it to the best scored no.
        let r = select(&with_check(0.05), 3, &acts, false, &cfg, acceptance);
        assert!(texts(&r).contains(&"Sorry, I'm busy."), "{r:?}");
    }

    #[test]
    fn a_decision_answered_only_no_or_not_sure_gets_a_yes() {
        let acts = crate::reply::acts::read("Do you want to go to the mall tomorrow?");
        assert!(acts.decision());
        let cfg = DrafterConfig::default();
        let mut love = cand("I'd love to!", 0.3, "love_to", Stance::Yes);
        love.preferred = true;
        let cs = vec![
            cand("I don't know.", 0.8, "unsure", Stance::Maybe),
            cand("Maybe later.", 0.75, "later", Stance::Maybe),
            cand("Not sure yet.", 0.7, "not_yet", Stance::Maybe),
            love,
        ];
        let r = select(&cs, 3, &acts, false, &cfg, None);
        assert!(texts(&r).contains(&"I'd love to!"), "{r:?}");
        assert!(texts(&r).contains(&"I don't know."), "{r:?}");
        // Not a decision: the set keeps its best three.
        let told = crate::reply::acts::read("I went to the mall today.");
        assert!(!told.decision());
        let r = select(&cs, 3, &told, false, &cfg, None);
        assert!(!texts(&r).contains(&"I'd love to!"), "{r:?}");
    }

    #[test]
    fn options_go_first_then_the_replies_that_say_something_else() {
        let r = |t: &str, score: f32| Reply {
            text: t.into(),
            score,
        };
        let opts = ["Pizza!".to_owned(), "Thai!".to_owned()];
        let replies = vec![
            r("pizza!", 0.9),
            r("Either is fine!", 0.8),
            r("Up to you!", 0.7),
        ];
        let out = with_options(&opts, replies.clone(), 3);
        assert_eq!(texts(&out), ["Pizza!", "Thai!", "Either is fine!"]);
        assert!(out[..2].iter().all(|o| o.score == 0.9) && out[2].score == 0.8);
        assert_eq!(texts(&with_options(&opts, replies, 2)), ["Pizza!", "Thai!"]);
    }

    #[test]
    fn rejected_and_near_duplicates_are_never_shown() {
        let acts = crate::reply::acts::read("Thanks!");
        let cfg = DrafterConfig::default();
        let mut bad = cand("Bye!", 0.9, "bye", Stance::Bye);
        bad.rejected = Some(filter::Rejection::OffContext);
        let cs = vec![
            bad,
            cand("You're welcome!", 0.8, "welcome", Stance::Welcome),
            cand("you're welcome", 0.7, "welcome", Stance::Welcome),
            cand("No problem!", 0.3, "no_worries", Stance::Forgive),
        ];
        let r = select(&cs, 3, &acts, false, &cfg, None);
        assert_eq!(texts(&r), ["You're welcome!", "No problem!"]);
    }

    #[test]
    fn replies_readers_seldom_send_are_dropped_unless_the_only_one_of_a_direction() {
        let cat = Catalog::builtin().unwrap();
        let acc = cat.reader_acceptance.as_ref().unwrap();
        let rate = |t: &str, d: bool| acc.rate(t, None, d);
        // The table says readers reject these outside a decision and send those.
        let (low, high) = ("What do you mean?", "Let me check.");
        assert!(rate(low, false) < 0.4 && rate(high, false) >= 0.4);
        let reply = |t: &str| Reply {
            text: t.into(),
            score: 0.5,
        };
        let cs = [
            cand(low, 0.5, "clarify", Stance::Maybe),
            cand(high, 0.5, "check", Stance::Maybe),
            cand("Sorry, I can't.", 0.5, "decline", Stance::No),
            cand("Of course!", 0.5, "yes", Stance::Yes),
            cand("Absolutely!", 0.5, "yes", Stance::Yes),
        ];
        let kept_as = |rs: &[&str], decision: bool, asked: bool, at: f32| -> Vec<String> {
            let rs = rs.iter().map(|t| reply(t)).collect();
            let in_context = InContext {
                table: acc,
                catalog: cat,
                asked,
                shifts: &[],
            };
            drop_unsent(rs, &cs, decision, at, &in_context)
                .into_iter()
                .map(|r| r.text)
                .collect()
        };
        let kept = |rs: &[&str], decision: bool, at: f32| kept_as(rs, decision, decision, at);
        // Off: nothing dropped.
        assert_eq!(kept(&[low, high], false, 0.0), [low, high]);
        // Text no catalog entry holds (generated, an option chip) stays.
        assert_eq!(kept(&[low, "Pizza!", high], false, 0.4), ["Pizza!", high]);
        // Outside a decision "Sorry, I can't." goes (readers sent it 0 of 48 times there)...
        assert!(rate("Sorry, I can't.", false) < 0.4);
        let outside = kept(&["Of course!", "Sorry, I can't."], false, 0.4);
        assert!(
            !outside.contains(&"Sorry, I can't.".to_string()),
            "{outside:?}"
        );
        // ...in a decision the only reply of each direction stays, whatever its rate.
        assert_eq!(
            kept(&["Of course!", "Sorry, I can't."], true, 1.0),
            ["Of course!", "Sorry, I can't."]
        );
        // Two of the same direction are not the only one: the seldom-sent one goes.
        assert_eq!(kept(&[low, high], true, rate(low, true) + 1e-3), [high]);
        // The rates are looked up as readers judge the message: a yes/no question of fact
        // ("Did you get the parcel?") reads as a decision to the stance mix but asks the
        // reader to decide nothing, and readers seldom send a bare "Absolutely!" to one.
        let yeses = ["Of course!", "Absolutely!"];
        assert!(yeses
            .iter()
            .all(|t| rate(t, true) >= 0.6 && rate(t, false) < 0.4));
        assert_eq!(kept_as(&yeses, true, true, 0.4), yeses);
        assert!(kept_as(&yeses, true, false, 0.4).is_empty());
    }
}
