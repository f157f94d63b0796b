//! A session is one token sequence being evaluated: its KV cache, its tokens and the logits of
//! its last token. Sessions roll back to any earlier position (keyboard edits), fork (beams,
//! reply candidates) and decode together in one batch.

use crate::kernels::{OutputRows, ThreadPool};
use crate::model::{
    forward, AdapterError, AdapterSet, BatchRow, HiddenOut, KvCache, LoraAdapter, Model, Scratch,
    SharedCheckpoint, KV_CHECKPOINT_GAP, KV_GROW_STEP,
};
use std::sync::{Arc, Mutex};

mod snapshot;
pub(crate) use snapshot::regular_file_len;
pub use snapshot::{SnapshotError, SNAPSHOT_MAGIC, SNAPSHOT_VERSION};

/// After a prompt of more tokens than this, the forward pass's row buffers are freed
/// (`Scratch::release_rows_above`): the decode steps and batches that follow need fewer rows,
/// and a chunk's buffers would otherwise stay for the session's life (6.3 MiB for a 1B model).
const KEEP_SCRATCH_ROWS: usize = 16;

/// Why a session could not be created or could not evaluate tokens.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SessionError {
    /// An empty token list was given.
    #[error("nothing to evaluate: the token list is empty")]
    EmptyInput,
    /// The tokens do not fit in the session's context.
    #[error("context is full: {needed} tokens needed but the session holds at most {limit}; shorten the input or create the session with a longer context_length")]
    ContextOverflow {
        /// Tokens the call needs.
        needed: usize,
        /// The session's context length.
        limit: usize,
    },
    /// A token id outside the vocabulary.
    #[error("token id {id} is outside the vocabulary of {vocab} tokens")]
    InvalidToken {
        /// The token id.
        id: u32,
        /// Tokens in the vocabulary.
        vocab: usize,
    },
    /// Logits were asked for before any token was evaluated.
    #[error("no logits yet: evaluate at least one token first")]
    NoLogits,
    /// A [`SessionOptions`] field is out of range.
    #[error("invalid session option: {0}")]
    InvalidOption(String),
    /// A batch mixed sessions of different models (or of different output-head rows or
    /// adapters).
    #[error("sessions in one batch must belong to the same model and have the same output rows and adapters")]
    MixedModels,
    /// The model file was truncated or rewritten after loading (see
    /// [`crate::gguf::GgufFile::check_unchanged`]), or the snapshot file mapped as the KV
    /// cache's prefix after mapping ([`Session::map_state_file`]), or the tokenizer's tables
    /// file ([`crate::Tokenizer::tables_file`]); nothing was evaluated.
    #[error("{0}")]
    ModelFileChanged(String),
}

/// How a session is set up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionOptions {
    /// Most tokens the session holds (prompt + generated). Memory grows with use, not with this.
    pub context_length: usize,
    /// Worker threads for the matrix products (1 = the calling thread only).
    pub threads: usize,
}

impl Default for SessionOptions {
    fn default() -> Self {
        Self {
            context_length: 2048,
            threads: default_threads(),
        }
    }
}

/// Two threads suit phones (big cores are few, and a keyboard shares them) and this
/// project's 2-core CI; never more than the machine has.
pub fn default_threads() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .clamp(1, 2)
}

/// The thread pool and scratch buffers a session computes with, shared by the session and
/// its forks: they compute one at a time (the lock is held for a whole forward pass), so one
/// set of buffers serves all of them instead of one per fork (a keyboard keeps 5–16 forks).
struct Engine {
    pool: ThreadPool,
    /// The forward pass's buffers.
    scratch: Scratch,
    /// Reused logits of a batched pass (`batched_pass_reusing`).
    batch_out: Vec<f32>,
}

/// One token sequence being evaluated: its KV cache, its tokens and the logits of its last
/// token. Create one per conversation or text field; it is `Send` but not `Sync` (one caller at
/// a time), and [`Session::fork`] makes an independent copy that shares the model.
pub struct Session {
    model: Arc<Model>,
    engine: Arc<Mutex<Engine>>,
    cache: KvCache,
    tokens: Vec<u32>,
    /// Reused batch description (no allocation per token).
    rows: Vec<BatchRow>,
    logits: Vec<f32>,
    has_logits: bool,
    /// Output-head rows computed (`None`: all): see [`Session::set_output_rows`].
    output_rows: Option<Arc<OutputRows>>,
    /// Final hidden states are kept for positions from this one on (`None`: none are):
    /// see [`Session::capture_hidden`].
    hidden_from: Option<usize>,
    /// `(len - hidden_from) × n_embd` states, position by position.
    hidden: Vec<f32>,
    /// LoRA adapters applied to every evaluation (`None`: the plain model).
    adapters: Option<Arc<AdapterSet>>,
    /// Tokens evaluated again to rebuild recurrent states after rewinds (Qwen3.5).
    replayed: usize,
}

impl Session {
    /// An empty session over `model`. The KV cache grows as tokens are evaluated, up to
    /// `opts.context_length` (capped at the model's training context).
    pub fn new(model: Arc<Model>, opts: SessionOptions) -> Result<Self, SessionError> {
        if opts.context_length == 0 {
            return Err(SessionError::InvalidOption(
                "context_length must be at least 1".into(),
            ));
        }
        if opts.threads == 0 || opts.threads > 64 {
            return Err(SessionError::InvalidOption(format!(
                "threads must be between 1 and 64, got {}",
                opts.threads
            )));
        }
        let context_length = opts.context_length.min(model.config().train_ctx);
        let cache = KvCache::new(model.config(), context_length);
        Ok(Self {
            engine: Arc::new(Mutex::new(Engine {
                pool: ThreadPool::new(opts.threads),
                scratch: Scratch::default(),
                batch_out: Vec::new(),
            })),
            model,
            cache,
            tokens: Vec::new(),
            rows: Vec::new(),
            logits: Vec::new(),
            has_logits: false,
            output_rows: None,
            hidden_from: None,
            hidden: Vec::new(),
            adapters: None,
            replayed: 0,
        })
    }

    /// Applies `adapters` (each with its scale: `scale · alpha / rank` multiplies its low-rank
    /// term) to every evaluation from now on; an empty list restores the plain model. Other
    /// sessions of the same model are unaffected, so one loaded model serves plain and adapted
    /// sessions at once. Changing the adapters forgets the session's tokens (its cache was
    /// computed with other weights); setting the same ones again keeps them. Each adapter must
    /// have been loaded for this session's model and each scale must be finite.
    pub fn set_adapters(
        &mut self,
        adapters: &[(Arc<LoraAdapter>, f32)],
    ) -> Result<(), AdapterError> {
        let set = AdapterSet::new(&self.model, adapters)?;
        let new = (!set.list.is_empty()).then(|| Arc::new(set));
        if self.adapters != new {
            self.clear();
            self.logits.clear();
            self.adapters = new;
        }
        Ok(())
    }

    /// The adapters applied, with their scales (empty: the plain model).
    pub fn adapters(&self) -> &[(Arc<LoraAdapter>, f32)] {
        self.adapters.as_deref().map_or(&[], |s| &s.list)
    }

    /// Keeps the final hidden state (after the output norm: what the output head reads) of
    /// every position from `from` on that [`Session::eval`] or [`Session::sync_to`]
    /// evaluates from now on (`None`: stops, and frees them). A by-product of the pass that
    /// evaluates them (one RMS norm per token, no extra pass). Positions at or after `from`
    /// already evaluated are dropped, so that every kept position has its state. Forks and
    /// copies do not capture; a batched pass ([`Session::decode_batch`] and the like) that
    /// extends this session stops its capture.
    pub fn capture_hidden(&mut self, from: Option<usize>) {
        if let Some(f) = from {
            self.truncate(f);
            self.hidden.clear();
        } else {
            self.hidden = Vec::new();
        }
        self.hidden_from = from;
    }

    /// Where the hidden-state capture starts (`None`: not capturing).
    pub fn hidden_capture_from(&self) -> Option<usize> {
        self.hidden_from
    }

    /// The kept hidden states ([`Session::capture_hidden`]): one row of `n_embd` values per
    /// position from the capture's start to the last evaluated one, in order (empty when
    /// not capturing).
    pub fn hidden_states(&self) -> &[f32] {
        match self.hidden_from {
            Some(f) => {
                let d = self.model.config().n_embd;
                let n = (self.tokens.len().saturating_sub(f) * d).min(self.hidden.len());
                &self.hidden[..n]
            }
            None => &[],
        }
    }

    /// Computes only the rows `rows` of the output head from now on (`None`: all of them):
    /// the logits then hold one value per selected row, in `rows.ids()` order, and every
    /// session of a batched pass must select the same rows (the same `Arc`). A keyboard needs
    /// only the tokens it can suggest, and a large vocabulary's head (Gemma 3: 262,144 rows)
    /// costs more than the rest of a small model's pass. Forks keep the selection; the cached
    /// logits are dropped.
    pub fn set_output_rows(&mut self, rows: Option<Arc<OutputRows>>) {
        self.output_rows = rows;
        self.logits.clear();
        self.has_logits = false;
    }

    /// Values per logits row: the vocabulary size, or the number of selected output rows.
    pub fn logits_width(&self) -> usize {
        self.output_rows
            .as_ref()
            .map_or(self.model.config().vocab_size, |r| r.len())
    }

    /// The model this session runs.
    pub fn model(&self) -> &Arc<Model> {
        &self.model
    }

    /// Tokens evaluated so far.
    pub fn tokens(&self) -> &[u32] {
        &self.tokens
    }

    /// Number of tokens evaluated (positions held in the KV cache).
    pub fn len(&self) -> usize {
        self.tokens.len()
    }

    /// Whether no token has been evaluated.
    pub fn is_empty(&self) -> bool {
        self.tokens.is_empty()
    }

    /// Most tokens the session can hold.
    pub fn context_length(&self) -> usize {
        self.cache.max_len()
    }

    /// Bytes held by the KV cache.
    pub fn cache_bytes(&self) -> usize {
        self.cache.allocated_bytes()
    }

    /// Rolls back to the first `len` tokens. The logits of the last kept token are not
    /// recomputed: evaluate at least one token before reading logits again.
    pub fn truncate(&mut self, len: usize) {
        if len < self.tokens.len() {
            self.tokens.truncate(len);
            self.cache.truncate(len);
            self.has_logits = false;
            if let Some(f) = self.hidden_from {
                self.hidden
                    .truncate(len.saturating_sub(f) * self.model.config().n_embd);
            }
        }
    }

    /// Forgets everything.
    pub fn clear(&mut self) {
        self.truncate(0);
    }

    /// Forgets everything and frees the KV cache and the buffers (on memory pressure); the
    /// session stays usable and allocates again as it evaluates.
    pub fn release_memory(&mut self) {
        self.clear();
        self.cache.release();
        self.tokens = Vec::new();
        {
            // Shared with the forks, which allocate again as they evaluate.
            let mut engine = self.engine.lock().unwrap_or_else(|e| e.into_inner());
            engine.scratch = Scratch::default();
            engine.batch_out = Vec::new();
        }
        self.rows = Vec::new();
        self.logits = Vec::new();
        self.has_logits = false;
        self.hidden = Vec::new();
    }

    /// Bytes held by the KV cache and the logits buffer (the buffers shared with the forks are
    /// not counted: [`Session::shared_bytes`]).
    pub fn held_bytes(&self) -> usize {
        self.cache.allocated_bytes() + self.logits.capacity() * std::mem::size_of::<f32>()
    }

    /// Bytes of the batched passes' logits buffer, which the session shares with its forks
    /// (count it once per family; the forward pass's scratch buffers are not counted).
    pub fn shared_bytes(&self) -> usize {
        let engine = self.engine.lock().unwrap_or_else(|e| e.into_inner());
        engine.batch_out.capacity() * std::mem::size_of::<f32>()
    }

    /// Length of the longest common prefix of the session's tokens and `tokens`.
    pub fn common_prefix_len(&self, tokens: &[u32]) -> usize {
        self.tokens
            .iter()
            .zip(tokens)
            .take_while(|(a, b)| a == b)
            .count()
    }

    /// Makes the session hold exactly `tokens`, reusing the cached common prefix, and returns
    /// the logits after the last token. At least one token is always re-evaluated so the
    /// logits are fresh.
    pub fn sync_to(&mut self, tokens: &[u32]) -> Result<&[f32], SessionError> {
        if tokens.is_empty() {
            return Err(SessionError::EmptyInput);
        }
        let common = self.common_prefix_len(tokens);
        // The same tokens: the logits are fresh. (Only the last token different is not the
        // same: it is evaluated again.)
        if common == tokens.len() && self.tokens.len() == tokens.len() && self.has_logits {
            return Ok(&self.logits);
        }
        let keep = common.min(tokens.len() - 1);
        self.truncate(keep);
        self.eval(&tokens[keep..])
    }

    fn check_tokens(&self, tokens: &[u32]) -> Result<(), SessionError> {
        // Before every evaluation touches the map (a truncated map faults with SIGBUS).
        self.model.gguf().check_unchanged().map_err(|e| {
            log::error!(
                target: "pocketlm::session",
                "the model file changed on disk after it was loaded ({e}); evaluation \
                 refused until the model is loaded again"
            );
            SessionError::ModelFileChanged(e.to_string())
        })?;
        self.check_mapped()?;
        if tokens.is_empty() {
            return Err(SessionError::EmptyInput);
        }
        let vocab = self.model.config().vocab_size;
        if let Some(&id) = tokens.iter().find(|&&t| t as usize >= vocab) {
            return Err(SessionError::InvalidToken { id, vocab });
        }
        let needed = self.tokens.len() + tokens.len();
        if needed > self.cache.max_len() {
            return Err(SessionError::ContextOverflow {
                needed,
                limit: self.cache.max_len(),
            });
        }
        Ok(())
    }

    /// Fails when the snapshot file mapped as the cache's prefix ([`Session::map_state_file`])
    /// was truncated or rewritten since (its pages must not be touched then).
    fn check_mapped(&self) -> Result<(), SessionError> {
        self.cache
            .check_prefix()
            .and_then(|()| self.model.tokenizer().check_tables_file())
            .map_err(|e| {
                log::error!(target: "pocketlm::session", "{e}; evaluation refused");
                SessionError::ModelFileChanged(e)
            })
    }

    /// A model with recurrent layers (Qwen3.5's DeltaNet) keeps one state per layer, that
    /// after the last evaluated position; after a rewind it is ahead of the session's tokens.
    /// Restores the latest checkpoint at or before the session's length (`KvCache`: taken
    /// where evaluations start) and evaluates the tokens from there again (without logits),
    /// so that the next evaluation continues exactly as a session that never went further
    /// would. Then takes a checkpoint where the coming evaluation starts, unless it is a
    /// decode step (`decode_step`: one token, nothing rewound): a generation would otherwise
    /// copy the states every few tokens and keep the latest few (Qwen3.5-0.8B: 19 MiB each),
    /// which also evicts the checkpoint in the prompt, where a regenerated answer or a chat's
    /// next turn rewinds to. No checkpoint without `checkpoint`.
    fn resync_recurrent(&mut self, decode_step: bool, checkpoint: bool) {
        let rewound = !self.cache.recurrent_in_sync();
        if rewound {
            let from = self.cache.restore_recurrent();
            let rest = self.tokens.split_off(from);
            self.replayed += rest.len();
            for chunk in rest.chunks(self.prefill_rows()) {
                self.run_chunk(chunk, |_| false, None);
            }
            self.has_logits = false;
        }
        if checkpoint && (rewound || !decode_step) {
            self.cache.checkpoint(KV_CHECKPOINT_GAP);
        }
    }

    /// With recurrent layers, keeps a copy of the current states (a checkpoint at this length,
    /// whatever the gap to the one before): a branching point many continuations will rewind
    /// to, such as the keyboard's context, from which every candidate word is evaluated.
    #[doc(hidden)]
    pub fn checkpoint_here(&mut self) {
        self.cache.checkpoint(1);
    }

    /// [`Session::checkpoint_here`] made of the live states themselves, moved rather than
    /// copied (`KvCache::checkpoint_moving_states`): the session is then as if shed, its
    /// next evaluation restoring the checkpoint or evaluated transiently from it. Small
    /// states (LFM2's) are copied as by [`Session::checkpoint_here`].
    #[doc(hidden)]
    pub fn checkpoint_here_moving_states(&mut self) {
        self.cache.checkpoint_moving_states(self.model.cache_dir());
    }

    /// The recurrent-state checkpoint this session keeps at exactly `pos` (after its first
    /// `pos` tokens), for a session of the same first `pos` tokens to share.
    pub(crate) fn checkpoint_at(&self, pos: usize) -> Option<SharedCheckpoint> {
        self.cache.checkpoint_at(pos)
    }

    /// With recurrent layers, keeps the first checkpoint (where every continuation starts,
    /// such as the keyboard's framing) and the latest `n - 1` instead of the latest 4
    /// (`KvCache::keep_checkpoints`); forks and copies inherit it.
    pub(crate) fn keep_checkpoints(&mut self, n: usize) {
        self.cache.keep_checkpoints(n);
    }

    /// Per recurrent-state checkpoint kept: an identity (equal for sessions that share it)
    /// and its position.
    pub(crate) fn checkpoint_ids(&self) -> Vec<(usize, usize)> {
        self.cache.checkpoint_ids()
    }

    /// [`Session::checkpoint_here`], sharing `c` (another session's checkpoint of this
    /// session's tokens, [`Session::checkpoint_at`] its length) instead of copying the states
    /// when given.
    pub(crate) fn checkpoint_here_sharing(&mut self, c: Option<SharedCheckpoint>) {
        self.cache.checkpoint_sharing(c);
    }

    /// With recurrent layers, frees the live states (`KvCache::shed_recurrent`; the next
    /// evaluation restores a checkpoint and replays from there): for a pool of sessions, most
    /// of which wait idle (Qwen3.5-0.8B: 19 MiB of states each). `max_replay`: how far back a
    /// checkpoint may be for the states to be dropped rather than kept as one. Without
    /// recurrent layers, nothing.
    #[doc(hidden)]
    pub fn shed_recurrent(&mut self, max_replay: usize) {
        self.cache.shed_recurrent(max_replay);
    }

    /// Rolls back to the first `len` tokens to append `more` tokens in one batched pass
    /// ([`Session::eval_batch`]) that keeps no recurrent states, when that is what a pool's
    /// candidate needs: the model has recurrent layers whose states are not small (LFM2's
    /// are: `KvCache::small_states`), their states are not those at `len` (a restore, perhaps
    /// a replay, was due), and the tokens from the latest checkpoint at or before `len` plus
    /// `more` fit one pass. The session then rolls back to that checkpoint
    /// (returned: the caller appends the tokens from there) and the pass loads each layer's
    /// state from it as it goes (`KvCache::begin_transient`): one layer's state in flight,
    /// not every layer's. Otherwise it only rolls back to `len` (returned).
    #[doc(hidden)]
    pub fn rewind_for_transient(&mut self, len: usize, more: usize) -> usize {
        self.truncate(len);
        let len = self.tokens.len();
        if self.cache.recurrent_in_sync()
            || self.cache.small_states()
            || self.replay_cost(len) + more > self.prefill_rows()
        {
            return len;
        }
        let from = self.cache.begin_transient();
        self.truncate(from);
        from
    }

    /// Whether the model keeps recurrent states (Qwen3.5's DeltaNet layers).
    #[doc(hidden)]
    pub fn has_recurrent(&self) -> bool {
        self.cache.has_recurrent()
    }

    /// Whether this session holds live recurrent states (see [`Session::shed_recurrent`]).
    #[doc(hidden)]
    pub fn holds_recurrent_states(&self) -> bool {
        self.cache.holds_live_states()
    }

    /// Tokens this session would evaluate again, beyond what it is asked, to continue after
    /// `truncate(len)`: the recurrent states' rewind cost (0 for models without them). Lets a
    /// pool of sessions pick the one that is cheapest to continue from.
    #[doc(hidden)]
    pub fn replay_cost(&self, len: usize) -> usize {
        self.cache.replay_cost(len.min(self.tokens.len()))
    }

    /// [`Session::replay_cost`] of a copy made by [`Session::fork_shed`] with `max_replay`.
    #[doc(hidden)]
    pub fn replay_cost_shed(&self, len: usize, max_replay: usize) -> usize {
        self.cache
            .replay_cost_shed(len.min(self.tokens.len()), max_replay)
    }

    /// Tokens this session evaluated again to rebuild recurrent states after rewinds (models
    /// with DeltaNet layers; 0 for others): what rewinds cost beyond a state copy.
    #[doc(hidden)]
    pub fn replayed_tokens(&self) -> usize {
        self.replayed
    }

    /// With recurrent layers: the index of the last token of `tokens` (not the first) that
    /// starts a word (its text begins with a space or a newline), where the next edit of the
    /// last word rewinds to.
    fn last_word_start(&self, tokens: &[u32]) -> Option<usize> {
        if !self.cache.has_recurrent() {
            return None;
        }
        let tok = self.model.tokenizer();
        (1..tokens.len())
            .rev()
            .find(|&i| matches!(tok.token_bytes(tokens[i]).first(), Some(b' ' | b'\n')))
    }

    /// Appends `tokens` and returns the logits after the last one. With recurrent layers the
    /// tokens before the last word start are evaluated first and a checkpoint is taken there
    /// (see `KvCache`; whatever the gap to the one before): editing the last word then rewinds
    /// to a checkpoint.
    pub fn eval(&mut self, tokens: &[u32]) -> Result<&[f32], SessionError> {
        self.eval_with(tokens, true)
    }

    /// [`Session::eval`] without its checkpoints (where the evaluation starts, at the last
    /// word start), for a caller that takes one at the end and keeps only the latest
    /// (the keyboard's low-memory pool: `checkpoint_here_moving_states`): they would be
    /// copies of the states made only to be let go (Qwen3.5-0.8B: 19 MiB each). Small
    /// states (LFM2's) still take them.
    #[doc(hidden)]
    pub fn eval_without_checkpoints(&mut self, tokens: &[u32]) -> Result<&[f32], SessionError> {
        self.eval_with(tokens, false)
    }

    fn eval_with(&mut self, tokens: &[u32], checkpoints: bool) -> Result<&[f32], SessionError> {
        self.check_tokens(tokens)?;
        // Small states (LFM2's) are never shed: their checkpoints cost little and save replays.
        let checkpoints = checkpoints || self.cache.small_states();
        // Several passes may follow: a transient evaluation (one pass only) restores instead.
        self.cache.end_transient();
        self.resync_recurrent(tokens.len() == 1, checkpoints);
        let prompt_len = tokens.len();
        let mut tokens = tokens;
        if let Some(i) = self.last_word_start(tokens).filter(|_| checkpoints) {
            for chunk in tokens[..i].chunks(self.prefill_rows()) {
                self.run_chunk(chunk, |_| false, None);
            }
            // The passes' row buffers go before the states are copied, not after the prompt:
            // the two never held at once (Qwen3.5-0.8B: 10 + 19 MiB).
            self.release_prompt_scratch(i);
            // Kept long (a regenerated answer, an edited last word, the keyboard's framing
            // rewind here), so in files when the model has a cache directory.
            match self.model.cache_dir() {
                Some(dir) => self.cache.checkpoint_in_files(dir),
                None => self.cache.checkpoint(1),
            }
            tokens = &tokens[i..];
        }
        for chunk in tokens.chunks(self.prefill_rows()) {
            let last_chunk = chunk.as_ptr_range().end == tokens.as_ptr_range().end;
            self.run_chunk(chunk, |i| last_chunk && i + 1 == chunk.len(), None);
        }
        self.release_prompt_scratch(prompt_len);
        self.has_logits = true;
        Ok(&self.logits)
    }

    /// Appends `tokens` and writes the logits after every one of them into `out`
    /// (`tokens.len() × vocab`), e.g. for perplexity.
    pub fn eval_all(&mut self, tokens: &[u32], out: &mut Vec<f32>) -> Result<(), SessionError> {
        self.eval_all_from(tokens, 0, out)
    }

    /// Like [`Session::eval_all`], but only computes logits for `tokens[first..]`
    /// (`(tokens.len() - first) × vocab` values); the output projection is the costliest
    /// matrix of small models, so skipping unneeded rows pays.
    pub fn eval_all_from(
        &mut self,
        tokens: &[u32],
        first: usize,
        out: &mut Vec<f32>,
    ) -> Result<(), SessionError> {
        self.check_tokens(tokens)?;
        if first >= tokens.len() {
            return Err(SessionError::EmptyInput);
        }
        self.cache.end_transient();
        self.resync_recurrent(false, true);
        out.clear();
        let rows = self.prefill_rows();
        for (c, chunk) in tokens.chunks(rows).enumerate() {
            let base = c * rows;
            self.run_chunk(chunk, |i| base + i >= first, Some(out));
        }
        self.release_prompt_scratch(tokens.len());
        let vocab = self.logits_width();
        self.logits.clear();
        self.logits.extend_from_slice(&out[out.len() - vocab..]);
        self.has_logits = true;
        Ok(())
    }

    /// Tokens of a prompt evaluated per forward pass (`forward::prefill_rows`: as many as a
    /// bounded scratch holds for this model, at most 64).
    fn prefill_rows(&self) -> usize {
        crate::model::prefill_rows(self.model.config())
    }

    /// Frees the row buffers a prompt of `tokens` tokens sized, if it was long.
    fn release_prompt_scratch(&self, tokens: usize) {
        if tokens > KEEP_SCRATCH_ROWS {
            let mut engine = self.engine.lock().unwrap_or_else(|e| e.into_inner());
            engine.scratch.release_rows_above(KEEP_SCRATCH_ROWS);
        }
    }

    fn run_chunk(
        &mut self,
        chunk: &[u32],
        want: impl Fn(usize) -> bool,
        all: Option<&mut Vec<f32>>,
    ) {
        let start = self.tokens.len();
        let mut rows = std::mem::take(&mut self.rows);
        rows.clear();
        rows.extend(chunk.iter().enumerate().map(|(i, &token)| BatchRow {
            token,
            pos: start + i,
            seq: 0,
            logits: want(i),
        }));
        let mut engine = self.engine.lock().unwrap_or_else(|e| e.into_inner());
        let Engine { pool, scratch, .. } = &mut *engine;
        let mut logits = std::mem::take(&mut self.logits);
        let hidden = self.hidden_from.map(|from| HiddenOut {
            from,
            out: &mut self.hidden,
        });
        forward(
            &self.model,
            pool,
            &mut [&mut self.cache],
            &rows,
            scratch,
            &mut logits,
            self.output_rows.as_deref(),
            hidden,
            self.adapters.as_deref(),
        );
        if let Some(out) = all {
            out.extend_from_slice(&logits);
        }
        self.logits = logits;
        self.rows = rows;
        drop(engine);
        self.push_tokens(chunk);
    }

    /// Logits after the last evaluated token.
    pub fn logits(&self) -> Result<&[f32], SessionError> {
        if self.has_logits {
            Ok(&self.logits)
        } else {
            Err(SessionError::NoLogits)
        }
    }

    /// Makes this session an exact copy of `src` (tokens, cache, logits), copying only the
    /// cache positions after their common prefix: reusing a session this way is much cheaper
    /// than [`Session::fork`] when the two share a long prompt. Both must belong to the same
    /// model (otherwise `MixedModels`); the context must hold `src`'s tokens.
    pub fn copy_from(&mut self, src: &Session) -> Result<(), SessionError> {
        if !Arc::ptr_eq(&self.model, &src.model) {
            return Err(SessionError::MixedModels);
        }
        src.check_mapped()?;
        if src.tokens.len() > self.cache.max_len() {
            return Err(SessionError::ContextOverflow {
                needed: src.tokens.len(),
                limit: self.cache.max_len(),
            });
        }
        let keep = if self.adapters == src.adapters {
            self.common_prefix_len(&src.tokens).min(self.cache.len())
        } else {
            0
        };
        self.adapters = src.adapters.clone();
        self.cache.truncate(keep);
        self.cache.copy_tail_from(&src.cache, keep);
        self.tokens.clear();
        self.tokens.extend_from_slice(&src.tokens);
        self.logits.clear();
        self.logits.extend_from_slice(&src.logits);
        self.has_logits = src.has_logits;
        self.output_rows = src.output_rows.clone();
        self.hidden_from = None;
        self.hidden = Vec::new();
        Ok(())
    }

    /// An independent copy of this session (tokens, cache, logits) sharing model and threads.
    pub fn fork(&self) -> Session {
        self.fork_with(self.cache.clone())
    }

    /// A [`Session::fork`] truncated to `len` tokens, then [`Session::shed_recurrent`],
    /// without copying the live recurrent states it would not use or shedding would drop
    /// (`KvCache::clone_shed`): for a pool whose copies continue from a checkpoint they share
    /// with the original, not from states of their own.
    #[doc(hidden)]
    pub fn fork_shed(&self, len: usize, max_replay: usize) -> Session {
        let len = len.min(self.tokens.len());
        let mut f = self.fork_with(self.cache.clone_shed(len, max_replay));
        f.truncate(len);
        f
    }

    fn fork_with(&self, cache: KvCache) -> Session {
        Session {
            model: self.model.clone(),
            engine: self.engine.clone(),
            cache,
            tokens: self.tokens.clone(),
            rows: Vec::new(),
            logits: self.logits.clone(),
            has_logits: self.has_logits,
            output_rows: self.output_rows.clone(),
            hidden_from: None,
            hidden: Vec::new(),
            adapters: self.adapters.clone(),
            replayed: 0,
        }
    }

    /// Appends `tokens[i]` (one or more tokens) to `sessions[i]`, all in one batched forward
    /// pass, and writes the logits after *every* appended token into `out`, session after
    /// session in order (`Σ tokens[i].len() × vocab` values). Each session's own logits are
    /// those after its last token. Used to score fixed texts under one context in one pass.
    pub fn eval_batch_all(
        sessions: &mut [&mut Session],
        tokens: &[&[u32]],
        out: &mut Vec<f32>,
    ) -> Result<(), SessionError> {
        Self::check_batch(sessions, tokens.len(), |i| tokens[i])?;
        Self::batched_pass(sessions, |i| tokens[i], true, out);
        Ok(())
    }

    /// Appends one token to each session in a single batched forward pass: the weights are
    /// read once for all of them. Each session's logits are updated. Steady-state calls do not
    /// allocate per token (the buffers are shared by a session and its forks).
    pub fn decode_batch(sessions: &mut [&mut Session], tokens: &[u32]) -> Result<(), SessionError> {
        let one = |i: usize| std::slice::from_ref(&tokens[i]);
        Self::check_batch(sessions, tokens.len(), one)?;
        Self::batched_pass_reusing(sessions, one);
        Ok(())
    }

    /// Appends `tokens[i]` (one or more tokens) to `sessions[i]`, all in one forward pass: the
    /// weights are read once for every row of every session. Logits are computed only after
    /// each session's last new token, and each session's logits are updated. Sessions that must
    /// first catch up on a few tokens (a rolled-back beam) thus cost rows, not extra passes.
    pub fn eval_batch(
        sessions: &mut [&mut Session],
        tokens: &[&[u32]],
    ) -> Result<(), SessionError> {
        Self::check_batch(sessions, tokens.len(), |i| tokens[i])?;
        if tokens.iter().any(|t| t.len() > sessions[0].prefill_rows()) {
            // Bounded scratch: long catch-ups go through `eval` first.
            for (s, t) in sessions.iter_mut().zip(tokens) {
                if t.len() > 1 {
                    s.eval(&t[..t.len() - 1])?;
                }
            }
            let last: Vec<&[u32]> = tokens.iter().map(|t| &t[t.len() - 1..]).collect();
            return Self::eval_batch(sessions, &last);
        }
        Self::batched_pass_reusing(sessions, |i| tokens[i]);
        Ok(())
    }

    /// The checks every batched call makes: one session per token list, one model, and every
    /// session's tokens valid and fitting its context.
    fn check_batch<'t>(
        sessions: &[&mut Session],
        n_lists: usize,
        tokens: impl Fn(usize) -> &'t [u32],
    ) -> Result<(), SessionError> {
        if sessions.is_empty() || sessions.len() != n_lists {
            return Err(SessionError::EmptyInput);
        }
        let model = &sessions[0].model;
        let head = &sessions[0].output_rows;
        for (i, s) in sessions.iter().enumerate() {
            let same_head = match (&s.output_rows, head) {
                (None, None) => true,
                (Some(a), Some(b)) => Arc::ptr_eq(a, b),
                _ => false,
            };
            if !Arc::ptr_eq(&s.model, model) || !same_head || s.adapters != sessions[0].adapters {
                return Err(SessionError::MixedModels);
            }
            s.check_tokens(tokens(i))?;
        }
        Ok(())
    }

    /// [`Session::batched_pass`] with logits only after each session's last token, into the
    /// leading session's reused buffer.
    fn batched_pass_reusing<'t>(
        sessions: &mut [&mut Session],
        tokens: impl Fn(usize) -> &'t [u32],
    ) {
        let engine = sessions[0].engine.clone();
        let lock = || engine.lock().unwrap_or_else(|e| e.into_inner());
        let mut out = std::mem::take(&mut lock().batch_out);
        Self::batched_pass(sessions, tokens, false, &mut out);
        lock().batch_out = out;
    }

    /// One forward pass over `tokens(i)` appended to `sessions[i]` (already checked). Logits
    /// are computed after every token when `all_logits`, else after each session's last one;
    /// they are written to `out`, and each session keeps those after its last token.
    fn batched_pass<'t>(
        sessions: &mut [&mut Session],
        tokens: impl Fn(usize) -> &'t [u32],
        all_logits: bool,
        out: &mut Vec<f32>,
    ) {
        for s in sessions.iter_mut() {
            s.resync_recurrent(false, true);
        }
        let model = sessions[0].model.clone();
        let mut rows = std::mem::take(&mut sessions[0].rows);
        rows.clear();
        for (seq, s) in sessions.iter().enumerate() {
            let (start, t) = (s.tokens.len(), tokens(seq));
            rows.extend(t.iter().enumerate().map(|(i, &token)| BatchRow {
                token,
                pos: start + i,
                seq,
                logits: all_logits || i + 1 == t.len(),
            }));
        }
        let engine = sessions[0].engine.clone();
        let mut engine = engine.lock().unwrap_or_else(|e| e.into_inner());
        let Engine { pool, scratch, .. } = &mut *engine;
        out.clear();
        let head = sessions[0].output_rows.clone();
        let adapters = sessions[0].adapters.clone();
        {
            let mut caches: Vec<&mut KvCache> = sessions.iter_mut().map(|s| &mut s.cache).collect();
            forward(
                &model,
                pool,
                &mut caches,
                &rows,
                scratch,
                out,
                head.as_deref(),
                None,
                adapters.as_deref(),
            );
        }
        drop(engine);
        sessions[0].rows = rows;
        let vocab = sessions[0].logits_width();
        // Index (in logits rows) one past each session's last row.
        let mut at = 0;
        for (i, s) in sessions.iter_mut().enumerate() {
            let t = tokens(i);
            at += if all_logits { t.len() } else { 1 };
            s.push_tokens(t);
            if s.hidden_from.is_some() {
                s.hidden_from = None;
                s.hidden = Vec::new();
            }
            s.logits.clear();
            s.logits
                .extend_from_slice(&out[(at - 1) * vocab..at * vocab]);
            s.has_logits = true;
        }
    }

    /// Appends evaluated tokens, growing the list in the KV cache's steps so that decoding
    /// allocates only when the cache itself grows.
    fn push_tokens(&mut self, t: &[u32]) {
        let need = self.tokens.len() + t.len();
        if need > self.tokens.capacity() {
            let target = need
                .next_multiple_of(KV_GROW_STEP)
                .min(self.cache.max_len().max(need));
            self.tokens.reserve_exact(target - self.tokens.len());
        }
        self.tokens.extend_from_slice(t);
    }
}
