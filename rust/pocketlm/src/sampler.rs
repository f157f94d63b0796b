//! Choosing the next token from logits: greedy, or sampling with repetition penalty, top-k,
//! top-p, min-p and temperature (applied in that order, as llama.cpp's default chain does).

/// Sampling settings. `temperature == 0` means greedy.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SamplerConfig {
    /// Divides the logits: below 1 sharper, above 1 flatter; 0 picks the most likely token.
    pub temperature: f32,
    /// Keep the `top_k` most likely tokens (0 = all).
    pub top_k: usize,
    /// Keep the smallest set of tokens whose probability reaches `top_p` (1 = all).
    pub top_p: f32,
    /// Drop tokens less likely than `min_p` times the most likely one (0 = none).
    pub min_p: f32,
    /// Divide positive logits (multiply negative ones) of recently seen tokens (1 = off).
    pub repetition_penalty: f32,
    /// How many recent tokens the repetition penalty looks at.
    pub repeat_last_n: usize,
    /// Seed of the random generator (the same seed and inputs give the same tokens).
    pub seed: u64,
}

impl Default for SamplerConfig {
    fn default() -> Self {
        Self {
            temperature: 0.8,
            top_k: 40,
            top_p: 0.95,
            min_p: 0.05,
            repetition_penalty: 1.0,
            repeat_last_n: 64,
            seed: 0x5eed,
        }
    }
}

/// Why a [`SamplerConfig`] is invalid.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum SamplerError {
    /// A negative or non-finite temperature.
    #[error("temperature must be finite and >= 0, got {0}")]
    Temperature(f32),
    /// A `top_p` outside (0, 1].
    #[error("top_p must be in (0, 1], got {0}")]
    TopP(f32),
    /// A `min_p` outside [0, 1).
    #[error("min_p must be in [0, 1), got {0}")]
    MinP(f32),
    /// A non-positive or non-finite repetition penalty.
    #[error("repetition_penalty must be finite and > 0, got {0}")]
    RepetitionPenalty(f32),
}

impl SamplerConfig {
    /// Always the most likely token.
    pub fn greedy() -> Self {
        Self {
            temperature: 0.0,
            ..Self::default()
        }
    }

    /// Whether this config always picks the most likely token.
    pub fn is_greedy(&self) -> bool {
        self.temperature == 0.0
    }

    /// Checks every field's range.
    pub fn validate(&self) -> Result<(), SamplerError> {
        if !(self.temperature.is_finite() && self.temperature >= 0.0) {
            return Err(SamplerError::Temperature(self.temperature));
        }
        if !(self.top_p > 0.0 && self.top_p <= 1.0) {
            return Err(SamplerError::TopP(self.top_p));
        }
        if !(self.min_p >= 0.0 && self.min_p < 1.0) {
            return Err(SamplerError::MinP(self.min_p));
        }
        if !(self.repetition_penalty.is_finite() && self.repetition_penalty > 0.0) {
            return Err(SamplerError::RepetitionPenalty(self.repetition_penalty));
        }
        Ok(())
    }
}

/// A small, fast, seedable generator (SplitMix64); sampling needs no cryptographic quality.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator starting from `seed`.
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    pub fn next_f32(&mut self) -> f32 {
        (self.next_u64() >> 40) as f32 / (1u64 << 24) as f32
    }
}

/// Index of the largest value (the first one on ties).
pub fn argmax(logits: &[f32]) -> u32 {
    let mut best = 0;
    for (i, &v) in logits.iter().enumerate() {
        if v > logits[best] {
            best = i;
        }
    }
    best as u32
}

/// A stateful sampler (it owns the random generator and a reusable candidate buffer).
#[derive(Debug, Clone)]
pub struct Sampler {
    cfg: SamplerConfig,
    rng: Rng,
    candidates: Vec<(u32, f32)>,
}

impl Sampler {
    /// A sampler for `cfg` (validated), its generator seeded with `cfg.seed`.
    pub fn new(cfg: SamplerConfig) -> Result<Self, SamplerError> {
        cfg.validate()?;
        Ok(Self {
            rng: Rng::new(cfg.seed),
            cfg,
            candidates: Vec::new(),
        })
    }

    /// The settings it samples with.
    pub fn config(&self) -> &SamplerConfig {
        &self.cfg
    }

    /// Picks the next token given the logits and the tokens generated or seen so far.
    pub fn sample(&mut self, logits: &[f32], history: &[u32]) -> u32 {
        let cfg = self.cfg;
        let penalize = cfg.repetition_penalty != 1.0 && cfg.repeat_last_n > 0;
        if cfg.is_greedy() && !penalize {
            return argmax(logits);
        }
        self.candidates.clear();
        self.candidates
            .extend(logits.iter().enumerate().map(|(i, &l)| (i as u32, l)));
        if penalize {
            let recent = &history[history.len().saturating_sub(cfg.repeat_last_n)..];
            let mut seen: Vec<u32> = recent.to_vec();
            seen.sort_unstable();
            seen.dedup();
            for t in seen {
                if let Some(c) = self.candidates.get_mut(t as usize) {
                    c.1 = if c.1 > 0.0 {
                        c.1 / cfg.repetition_penalty
                    } else {
                        c.1 * cfg.repetition_penalty
                    };
                }
            }
        }
        if cfg.is_greedy() {
            let best = self
                .candidates
                .iter()
                .fold(
                    (0u32, f32::NEG_INFINITY),
                    |b, &c| if c.1 > b.1 { c } else { b },
                );
            return best.0;
        }
        // Top-k (a partial sort keeps this cheap for large vocabularies).
        let k = if cfg.top_k == 0 {
            self.candidates.len()
        } else {
            cfg.top_k.min(self.candidates.len())
        };
        let by_logit = |a: &(u32, f32), b: &(u32, f32)| b.1.total_cmp(&a.1);
        if k < self.candidates.len() {
            self.candidates.select_nth_unstable_by(k - 1, by_logit);
            self.candidates.truncate(k);
        }
        self.candidates.sort_unstable_by(by_logit);
        // Softmax over the survivors.
        let max = self.candidates[0].1;
        let mut sum = 0.0f32;
        for c in self.candidates.iter_mut() {
            c.1 = (c.1 - max).exp();
            sum += c.1;
        }
        for c in self.candidates.iter_mut() {
            c.1 /= sum;
        }
        // Top-p.
        if cfg.top_p < 1.0 {
            let mut acc = 0.0;
            let mut keep = self.candidates.len();
            for (i, c) in self.candidates.iter().enumerate() {
                acc += c.1;
                if acc >= cfg.top_p {
                    keep = i + 1;
                    break;
                }
            }
            self.candidates.truncate(keep);
        }
        // Min-p.
        if cfg.min_p > 0.0 {
            let floor = self.candidates[0].1 * cfg.min_p;
            let keep = self.candidates.iter().take_while(|c| c.1 >= floor).count();
            self.candidates.truncate(keep.max(1));
        }
        // Temperature on the remaining distribution: p^(1/T), renormalized.
        let inv_t = 1.0 / cfg.temperature;
        let mut total = 0.0f32;
        for c in self.candidates.iter_mut() {
            c.1 = c.1.powf(inv_t);
            total += c.1;
        }
        let mut r = self.rng.next_f32() * total;
        for c in &self.candidates {
            r -= c.1;
            if r <= 0.0 {
                return c.0;
            }
        }
        self.candidates.last().map(|c| c.0).unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn greedy_takes_argmax() {
        let mut s = Sampler::new(SamplerConfig::greedy()).unwrap();
        assert_eq!(s.sample(&[0.1, 2.0, -1.0, 1.9], &[]), 1);
    }

    #[test]
    fn top_k_one_is_greedy_even_with_temperature() {
        let cfg = SamplerConfig {
            temperature: 5.0,
            top_k: 1,
            ..Default::default()
        };
        let mut s = Sampler::new(cfg).unwrap();
        for _ in 0..50 {
            assert_eq!(s.sample(&[0.1, 2.0, -1.0, 1.9], &[]), 1);
        }
    }

    #[test]
    fn repetition_penalty_changes_choice() {
        let cfg = SamplerConfig {
            temperature: 0.0,
            repetition_penalty: 2.0,
            ..Default::default()
        };
        let mut s = Sampler::new(cfg).unwrap();
        assert_eq!(s.sample(&[0.1, 2.0, -1.0, 1.9], &[1]), 3);
    }

    #[test]
    fn sampling_is_seeded_and_follows_distribution() {
        let cfg = SamplerConfig {
            temperature: 1.0,
            top_k: 0,
            top_p: 1.0,
            min_p: 0.0,
            ..Default::default()
        };
        let logits = [0.0f32, (3.0f32).ln()]; // p = 0.25, 0.75
        let mut a = Sampler::new(cfg).unwrap();
        let mut b = Sampler::new(cfg).unwrap();
        let mut ones = 0;
        for _ in 0..4000 {
            let x = a.sample(&logits, &[]);
            assert_eq!(x, b.sample(&logits, &[]));
            ones += x as usize;
        }
        let frac = ones as f32 / 4000.0;
        assert!((frac - 0.75).abs() < 0.03, "{frac}");
    }

    #[test]
    fn min_p_and_top_p_cut_the_tail() {
        let logits = [5.0f32, 4.9, -10.0, -10.0];
        for cfg in [
            SamplerConfig {
                top_p: 0.5,
                min_p: 0.0,
                top_k: 0,
                temperature: 1.0,
                ..Default::default()
            },
            SamplerConfig {
                min_p: 0.5,
                top_k: 0,
                top_p: 1.0,
                temperature: 1.0,
                ..Default::default()
            },
        ] {
            let mut s = Sampler::new(cfg).unwrap();
            for _ in 0..200 {
                assert!(s.sample(&logits, &[]) < 2);
            }
        }
    }

    #[test]
    fn invalid_values_are_rejected() {
        let bad = [
            SamplerConfig {
                temperature: -1.0,
                ..Default::default()
            },
            SamplerConfig {
                temperature: f32::NAN,
                ..Default::default()
            },
            SamplerConfig {
                top_p: 0.0,
                ..Default::default()
            },
            SamplerConfig {
                top_p: 1.5,
                ..Default::default()
            },
            SamplerConfig {
                min_p: 1.0,
                ..Default::default()
            },
            SamplerConfig {
                repetition_penalty: 0.0,
                ..Default::default()
            },
        ];
        for cfg in bad {
            assert!(Sampler::new(cfg).is_err(), "{cfg:?}");
        }
    }
}
