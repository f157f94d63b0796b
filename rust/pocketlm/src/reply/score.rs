//! The scores and filters stages: turn decoded candidates into [`Candidate`]s with a score
//! (the model's likelihood and PMI with the message, times the config's multipliers) and a
//! rejection reason (the text checks of [`filter`] and the catalog's act gating).

use super::acts::{Act, Acts};
use super::catalog::{Catalog, Stance};
use super::cluster_prior::PriorReading;
use super::config::DrafterConfig;
use super::decode::{Generated, Scored, TokenizedResponse};
use super::drafter::Candidate;
use super::filter::{self, Rejection};
use crate::tokenizer::Tokenizer;

/// What the scores and filters know of the message and the call.
pub struct Context<'a> {
    pub cat: &'a Catalog,
    pub cfg: &'a DrafterConfig,
    /// The message as the acts read it (texting spelled out: its cues are found there).
    pub message: &'a str,
    pub acts: &'a Acts,
    pub max_words: usize,
    pub blocklist: &'a [String],
    /// Keys of the few-shot replies of the prompt.
    pub copies: &'a [String],
    /// Some catalog response that is a preferred answer fits the message.
    pub answered: bool,
    /// Per catalog cluster, the learned prior's probability that it holds an acceptable
    /// answer to the message (`None`: the catalog has no prior).
    pub prior: Option<PriorReading>,
    /// The reading says a decision is asked (`DrafterConfig::choice_yes`).
    pub choice: bool,
}

/// Whether a reading asks for a decision: a cluster of stance yes at `choice_yes` or more
/// and one of stance no or maybe at `choice_other` or more.
pub fn reads_choice(r: &PriorReading, cat: &Catalog, cfg: &DrafterConfig) -> bool {
    let best = |f: &dyn Fn(Stance) -> bool| {
        cat.clusters
            .iter()
            .zip(&r.p)
            .filter(|(c, _)| f(c.stance))
            .map(|(_, &p)| p)
            .fold(0.0f32, f32::max)
    };
    best(&|s| s == Stance::Yes) >= cfg.choice_yes
        && best(&|s| s.is_no_or_maybe()) >= cfg.choice_other
}

impl Context<'_> {
    /// The prior probability of cluster `c` (1 without a prior).
    fn prior_p(&self, c: usize) -> f32 {
        self.prior.as_ref().map_or(1.0, |r| r.p[c])
    }

    /// The prior probability of cluster `c` over the most probable cluster's (1 without a
    /// prior): what ranks candidates, whatever the prior's confidence.
    fn prior_share(&self, c: usize) -> f32 {
        self.prior.as_ref().map_or(1.0, |r| r.share(c))
    }

    /// Whether the prior gives response `i`'s cluster a probability of at least `p` and the
    /// message has the cue the response needs.
    fn prior_backs(&self, i: usize, p: f32) -> bool {
        self.prior.is_some()
            && self.prior_p(self.cat.responses[i].cluster) >= p
            && self.cat.has_cue(i, self.message)
    }

    /// Nats the beam adds to the rank of a path to catalog response `i`:
    /// `prior_beam_weight · ln(p / p_max)` of its cluster (0 without a prior).
    pub fn lean(&self, i: usize) -> f32 {
        if self.prior.is_none() {
            return 0.0;
        }
        let share = self.prior_share(self.cat.responses[i].cluster);
        self.cfg.prior_beam_weight * share.max(1e-6).ln()
    }

    /// Whether catalog response `i` may answer the message: it fits the acts, or the prior
    /// backs its cluster (`prior_open`).
    pub fn opens(&self, i: usize) -> bool {
        self.cat.fits(i, self.acts, self.message)
            || self.prior_backs(i, self.cfg.prior_open)
            || self.other_side(i)
    }

    /// Whether catalog response `i` is the other side of a decision the reading asks for:
    /// a no or maybe of a cluster at `choice_open` or more (its cue present).
    pub fn other_side(&self, i: usize) -> bool {
        let c = self.cat.responses[i].cluster;
        self.choice
            && self.cat.clusters[c].stance.is_no_or_maybe()
            && self.prior_backs(i, self.cfg.choice_open)
    }

    /// Whether catalog response `i` is a preferred answer: the acts prefer it, or the prior
    /// backs its cluster strongly (`prior_prefer`).
    pub fn prefers(&self, i: usize) -> bool {
        self.cat.preferred(i, self.acts, self.message) || self.prior_backs(i, self.cfg.prior_prefer)
    }

    /// Multipliers every candidate shares: a not-knowing reply unless an opinion is asked,
    /// a question back to a question, a copy of a few-shot reply.
    fn common(&self, text: &str, cluster: Option<usize>, preferred: bool) -> f32 {
        let cfg = self.cfg;
        let mut m = 1.0;
        // A hedge fits almost any question: a last resort, unless an opinion is asked or
        // the prior expects it.
        let expected = |c: usize| self.prior.is_some() && self.prior_p(c) >= cfg.prior_prefer;
        if cluster.is_some_and(|c| {
            self.cat.clusters[c].hedge && !self.acts.has(Act::OpinionQ) && !expected(c)
        }) {
            m *= cfg.hedge_discount;
        }
        if self.acts.asks()
            && !self.acts.has(Act::Invitation)
            && text.trim_end().ends_with('?')
            && !preferred
        {
            m *= cfg.question_back_discount;
        }
        if self.copies.iter().any(|c| filter::near_duplicate(c, text)) {
            m *= cfg.copy_discount;
        }
        if self.prior.is_some() {
            let share = cluster.map_or(cfg.prior_unclustered, |c| self.prior_share(c));
            m *= share.powf(cfg.prior_exponent);
        }
        m
    }

    fn candidate(
        &self,
        text: String,
        score: f32,
        curated: bool,
        index: Option<usize>,
    ) -> Candidate {
        let cluster = index.map(|i| self.cat.responses[i].cluster);
        Candidate {
            rejected: None,
            curated,
            cluster: cluster.map(|c| self.cat.clusters[c].name.clone()),
            stance: cluster.map(|c| self.cat.clusters[c].stance),
            preferred: index.is_some_and(|i| self.prefers(i)),
            hedge: cluster.is_some_and(|c| self.cat.clusters[c].hedge),
            text,
            score,
        }
    }

    /// A catalog response scored by the beam: `exp((log p + w·PMI) / tokens)` × the
    /// catalog bonus (× the preferred bonus).
    pub fn score_curated(&self, s: &Scored, replies: &[TokenizedResponse]) -> Candidate {
        let i = replies[s.reply].index;
        let text = self.cat.responses[i].text.clone();
        let preferred = self.prefers(i);
        let cluster = Some(self.cat.responses[i].cluster);
        let mut bonus = self.cfg.curated_bonus * self.common(&text, cluster, preferred);
        if preferred {
            bonus *= self.cfg.preferred_bonus;
        }
        let raw = ((s.logprob + self.cfg.curated_pmi_weight * s.pmi) / s.count as f32).exp();
        self.candidate(text, (raw * bonus).min(1.0), true, Some(i))
    }

    /// A generated candidate: its text (cut back to its last clause when the token limit
    /// stopped it), `exp((log p + min(PMI(first token), cap)) / tokens)` × the generated
    /// weight. Text equal to a catalog response takes its cluster and stance.
    pub fn score_generated(&self, g: &Generated, tok: &Tokenizer) -> Candidate {
        let decoded = tok.decode(&g.tokens, true);
        let mut text = clean(&decoded);
        let mut unfinished = false;
        if !g.finished {
            text = match text.rfind([',', '.', '!', '?']) {
                Some(i) if filter::words(&text[..i]).len() >= 2 => {
                    let end = if text[i..].starts_with(',') { i } else { i + 1 };
                    text[..end].trim().to_owned()
                }
                _ => text,
            };
            let cut = text.len() < decoded.trim().len();
            unfinished = !cut && !text.ends_with([',', '.', '!', '?']);
        }
        unfinished |= only_opens(&text);
        let index = self.cat.find(&text);
        if let (true, Some(i)) = (unfinished, index) {
            // A whole catalog response stopped by the token limit is finished.
            unfinished = false;
            text = self.cat.responses[i].text.clone();
        }
        let cluster = index.map(|i| self.cat.responses[i].cluster);
        let mut weight = self.cfg.generated_weight;
        if self.answered && index.is_none() {
            weight *= self.cfg.generated_weight_answered;
        }
        let preferred = index.is_some_and(|i| self.prefers(i));
        let pmi = self.cfg.pmi_weight * g.first_pmi.min(self.cfg.max_pmi);
        let raw = ((g.logprob + pmi) / g.count as f32).exp();
        let score = (raw * weight * self.common(&text, cluster, preferred)).min(1.0);
        let pieces = g
            .tokens
            .iter()
            .filter(|&&t| tok.token_bytes(t).iter().any(u8::is_ascii_alphanumeric))
            .count();
        let garbled = index.is_none()
            && !text.trim().contains(char::is_whitespace)
            && pieces >= self.cfg.garbled_min_pieces;
        let mut c = self.candidate(text, score, false, index);
        if unfinished {
            c.rejected = Some(Rejection::Unfinished);
        } else if garbled {
            c.rejected = Some(Rejection::Garbled);
        }
        c
    }

    /// The filters stage: text checks, parroting (generated only), and the act gating (a
    /// catalog response must fit the message's acts; generated text resembling a catalog
    /// response that does not fit is off context too).
    pub fn filter(&self, c: &mut Candidate) {
        if c.rejected.is_some() {
            return;
        }
        c.rejected = filter::check(
            &c.text,
            self.message,
            self.max_words,
            self.blocklist,
            self.cat,
        )
        .err()
        .or_else(|| {
            (!c.curated && filter::parrots(&c.text, self.message, self.cat))
                .then_some(Rejection::EchoesMessage)
        })
        .or_else(|| (!self.fits(&c.text)).then_some(Rejection::OffContext));
    }

    /// Whether a text fits the message: the catalog response it equals or resembles fits
    /// the acts (text resembling none passes).
    fn fits(&self, text: &str) -> bool {
        if let Some(i) = self.cat.find(text) {
            return self.opens(i);
        }
        let similar: Vec<usize> = (0..self.cat.responses.len())
            .filter(|&i| filter::near_duplicate(&self.cat.responses[i].text, text))
            .collect();
        similar.is_empty() || similar.iter().any(|&i| self.opens(i))
    }
}

/// Trims a candidate and removes stray quotes around it.
fn clean(text: &str) -> String {
    text.trim().trim_matches('"').trim().to_owned()
}

/// Generated text ending in a comma, colon or semicolon only opens something: a letter's
/// salutation ("Dear Sarah," to a party invitation) or a list, never a whole reply.
fn only_opens(text: &str) -> bool {
    text.trim_end().ends_with([',', ':', ';'])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_prior_opens_prefers_and_ranks_clusters() {
        let cat = Catalog::builtin_rules().unwrap();
        // thresholds of the test's own, apart
        let cfg = DrafterConfig {
            prior_open: 0.5,
            prior_prefer: 0.8,
            ..DrafterConfig::default()
        };
        let message = "Lunch tomorrow?";
        let acts = crate::reply::acts::read(message);
        let response = |text: &str| cat.find(text).unwrap();
        let noted = response("Thanks for letting me know!");
        let yes_i_do = response("Yes, I do.");
        let sure = response("Sure!");
        let cluster = |i: usize| cat.responses[i].cluster;
        let ctx = |prior: Option<PriorReading>| Context {
            cat,
            cfg: &cfg,
            message,
            acts: &acts,
            max_words: 10,
            blocklist: &[],
            copies: &[],
            answered: false,
            prior,
            choice: false,
        };
        // the acts alone: an invitation opens "Sure!", not "Thanks for letting me know!"
        let rules = ctx(None);
        assert!(rules.opens(sure) && !rules.opens(noted) && !rules.prefers(noted));
        assert_eq!(
            rules.common("Thanks for letting me know!", Some(cluster(noted)), false),
            1.0
        );
        // probabilities: the most probable cluster ("Yes, I do.") at 0.96
        let with = |p: f32| {
            let mut v = vec![0.1; cat.clusters.len()];
            v[cluster(noted)] = p;
            v[cluster(yes_i_do)] = 0.96;
            ctx(Some(PriorReading::new(v)))
        };
        // backed by the prior: tried, then preferred
        assert!(with(cfg.prior_open).opens(noted) && !with(cfg.prior_open).prefers(noted));
        assert!(with(cfg.prior_prefer).prefers(noted));
        assert!(!with(cfg.prior_open - 0.01).opens(noted));
        // a cue the response needs is still needed ("Yes, I do." needs a "do you")
        assert!(!with(0.99).opens(yes_i_do));
        assert!(!with(0.99).prefers(yes_i_do));
        // ranking: the score × (p / p_max)^exponent, generated text at `prior_unclustered`
        let c = with(0.24);
        let expect = 0.25f32.powf(cfg.prior_exponent);
        let got = c.common("Thanks for letting me know!", Some(cluster(noted)), false);
        assert!((got - expect).abs() < 1e-5, "{got} {expect}");
        let generated = c.common("Lovely, see you there", None, false);
        assert!((generated - cfg.prior_unclustered.powf(cfg.prior_exponent)).abs() < 1e-5);
    }

    #[test]
    fn a_salutation_or_a_list_opening_is_unfinished() {
        assert!(only_opens("Dear Sarah,"));
        assert!(only_opens("Here's what I need: "));
        assert!(!only_opens("Sure, see you then!"));
        assert!(!only_opens("ok"));
    }
}
