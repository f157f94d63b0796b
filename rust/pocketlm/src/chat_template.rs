//! Chat templates: turn a list of messages into the exact prompt text a model was trained on.
//!
//! The template is the model's own `tokenizer.chat_template` (a Jinja program, as in Hugging
//! Face `transformers`), rendered with `minijinja` under the same conventions: variables
//! `messages` (`[{role, content}]`), `add_generation_prompt`, `bos_token`, `eos_token`, the
//! `raise_exception(msg)` and `strftime_now(fmt)` functions, Python string methods
//! (`.strip()`, `.startswith()`...) and `trim_blocks`/`lstrip_blocks` on.
//!
//! When a file has no template (base models such as Gemma 3 270M), [`FALLBACK_TEMPLATE`] is
//! used: a plain transcript (`system text`, blank line, then `User: ...` / `Assistant: ...`
//! lines) that base models continue naturally; [`ChatTemplate::stop_strings`] then returns
//! `"\nUser:"` so generation ends at the end of the assistant's turn.
//!
//! Message text is inserted verbatim except that the text of the model's control tokens
//! (`<|im_start|>`, `<end_of_turn>`...) is removed from it, so a message cannot forge a role
//! turn: the rendered prompt is tokenized with special tokens parsed.

use crate::model::Model;
use crate::tokenizer::Tokenizer;
use minijinja::value::{Enumerator, Object, ObjectRepr};
use minijinja::{Environment, ErrorKind, Output, State, Value};
use std::cell::RefCell;
use std::fmt;
use std::sync::Arc;

/// The template used when a model file has none: a plain `User:` / `Assistant:` transcript.
pub const FALLBACK_TEMPLATE: &str = "{%- for message in messages -%}\
{%- if message.role == 'system' -%}{{ message.content + '\\n\\n' }}\
{%- elif message.role == 'user' -%}{{ 'User: ' + message.content + '\\n' }}\
{%- else -%}{{ 'Assistant: ' + message.content + '\\n' }}\
{%- endif -%}\
{%- endfor -%}\
{%- if add_generation_prompt -%}{{ 'Assistant:' }}{%- endif -%}";

const TEMPLATE_NAME: &str = "chat";

/// Execution budget of one rendering, in minijinja instructions ("fuel"). Real templates spend
/// a few dozen per message (SmolLM2's ChatML: ~40; Gemma's: ~60), so a million covers chats of
/// thousands of messages, while a hostile loop (two nested `range(100000)`) stops after a
/// million steps (well under a second) instead of running for hours.
pub const RENDER_FUEL: u64 = 1_000_000;

/// Largest rendered prompt, in bytes. A prompt must fit the context (at most 32k tokens for
/// the models this SDK runs, ~128 KB of text); 1 MiB leaves room and stops a template that
/// prints a string millions of times before it builds gigabytes.
pub const MAX_RENDERED_BYTES: usize = 1 << 20;

/// Most text a rendering may build, in bytes: everything printed (captured by `{% set %}`
/// blocks and macros included) and what it keeps in `namespace()` objects (the only values that
/// outlive a loop iteration). Real templates build a few KB; a hostile one that concatenates,
/// captures or appends in a loop stops at this size instead of growing to gigabytes.
pub const MAX_BUILT_BYTES: usize = 4 << 20;

/// Items of a list looked at per measurement; longer lists count 8 bytes per further item (keeps
/// each check cheap: checks run at every printed value and loop step).
const MEASURED_ITEMS: usize = 256;

/// Who wrote a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// Instructions that frame the conversation.
    System,
    /// The person talking to the model.
    User,
    /// The model.
    Assistant,
}

impl Role {
    /// The role's name in chat templates: `"system"`, `"user"` or `"assistant"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::System => "system",
            Role::User => "user",
            Role::Assistant => "assistant",
        }
    }
}

/// One turn of a chat.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChatMessage {
    /// Who wrote it.
    pub role: Role,
    /// The text of the message.
    pub content: String,
}

impl ChatMessage {
    /// A message from `role`.
    pub fn new(role: Role, content: impl Into<String>) -> Self {
        Self {
            role,
            content: content.into(),
        }
    }
    /// A system message.
    pub fn system(content: impl Into<String>) -> Self {
        Self::new(Role::System, content)
    }
    /// A user message.
    pub fn user(content: impl Into<String>) -> Self {
        Self::new(Role::User, content)
    }
    /// An assistant message (an earlier answer of the model).
    pub fn assistant(content: impl Into<String>) -> Self {
        Self::new(Role::Assistant, content)
    }
}

/// Why a chat template could not be compiled or rendered.
#[derive(Debug, thiserror::Error)]
pub enum TemplateError {
    /// The template source is not valid Jinja (the parser's message).
    #[error("the chat template does not compile: {0}")]
    Syntax(String),
    /// Rendering failed (the renderer's message).
    #[error("the chat template failed to render these messages: {0}")]
    Render(String),
    /// The template raised an exception for this conversation (e.g. roles that do not
    /// alternate); the template's own message.
    #[error("the chat template rejected the conversation: {0}")]
    Rejected(String),
    /// Rendering took more steps than any prompt template needs (a runaway loop).
    #[error("the chat template ran out of its execution budget of {RENDER_FUEL} steps (a loop that cannot be meant for a prompt)")]
    OutOfFuel,
    /// The rendered prompt is larger than the limit.
    #[error("the chat template produced more than {MAX_RENDERED_BYTES} bytes of prompt")]
    OutputTooLarge,
    /// The template engine failed internally (its message); the template is unusable.
    #[error("the chat template crashed the template engine: {0}")]
    EngineFailure(String),
    /// The template built more text than any prompt needs without printing it (captured
    /// blocks, strings or lists grown in a `namespace()`).
    #[error("the chat template built more than {MAX_BUILT_BYTES} bytes of text (captured or kept in variables) for one prompt")]
    BuiltTooMuch,
}

/// What one rendering has built so far (one per thread: a rendering runs on its caller's thread
/// from start to end).
#[derive(Default)]
struct BuildBudget {
    printed: usize,
    namespaces: Vec<Value>,
}

thread_local! {
    static BUDGET: RefCell<Option<BuildBudget>> = const { RefCell::new(None) };
}

/// Unwinds out of the template engine (caught in [`ChatTemplate::render`]); `resume_unwind`
/// skips the panic hook, so nothing is printed.
struct OverBudget;

/// Adds `printed` bytes and checks the budget; leaves the engine when it is exceeded.
fn check_budget(printed: usize) {
    let over = BUDGET.with(|b| {
        let mut b = b.borrow_mut();
        let Some(b) = b.as_mut() else { return false };
        b.printed = b.printed.saturating_add(printed);
        let mut total = b.printed;
        for ns in &b.namespaces {
            total = total.saturating_add(measure(ns, 0));
            if total > MAX_BUILT_BYTES {
                return true;
            }
        }
        total > MAX_BUILT_BYTES
    });
    if over {
        std::panic::resume_unwind(Box::new(OverBudget));
    }
}

/// Bytes of text a value holds: strings in full, lists and maps through their first
/// [`MEASURED_ITEMS`] items (8 bytes per further item). Never consumes a one-shot iterator
/// (only values with a known length are walked).
fn measure(v: &Value, depth: usize) -> usize {
    if let Some(s) = v.as_str() {
        return s.len();
    }
    let Some(len) = v.len() else { return 8 };
    if depth >= 4 || v.as_object().is_none() {
        return len.saturating_mul(8);
    }
    let Ok(items) = v.try_iter() else { return 8 };
    let is_map = matches!(v.kind(), minijinja::value::ValueKind::Map);
    let mut total = 0usize;
    for (i, item) in items.take(MEASURED_ITEMS).enumerate() {
        let item = if is_map {
            v.get_item(&item).unwrap_or_default()
        } else {
            item
        };
        total = total.saturating_add(measure(&item, depth + 1));
        if i == 0 && total > MAX_BUILT_BYTES {
            break;
        }
    }
    total.saturating_add(len.saturating_sub(MEASURED_ITEMS).saturating_mul(8))
}

/// Every printed value goes through here (captured or not): counts it, then prints it.
fn counting_formatter(
    out: &mut Output,
    state: &State,
    value: &Value,
) -> Result<(), minijinja::Error> {
    let len = value
        .as_str()
        .map_or_else(|| value.to_string().len(), str::len);
    check_budget(len);
    minijinja::escape_formatter(out, state, value)
}

/// `namespace()` that registers the object so its contents count against the budget.
fn counted_namespace(defaults: Option<Value>) -> Result<Value, minijinja::Error> {
    let ns = minijinja::functions::namespace(defaults)?;
    BUDGET.with(|b| {
        if let Some(b) = b.borrow_mut().as_mut() {
            b.namespaces.push(ns.clone());
        }
    });
    check_budget(0);
    Ok(ns)
}

/// `range()` whose every step checks the budget (the loops that build things are over ranges
/// or over the messages).
fn counted_range(
    lower: isize,
    upper: Option<isize>,
    step: Option<isize>,
) -> Result<Value, minijinja::Error> {
    let items: Arc<[Value]> = minijinja::functions::range(lower, upper, step)?
        .try_iter()?
        .collect();
    Ok(Value::make_iterable(move || {
        let items = items.clone();
        (0..items.len()).map(move |i| {
            check_budget(0);
            items[i].clone()
        })
    }))
}

/// The `messages` list; reading an item checks the budget (a loop over the messages is a step).
#[derive(Debug)]
struct Messages(Vec<Value>);

impl Object for Messages {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Seq
    }
    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        check_budget(0);
        self.0.get(key.as_usize()?).cloned()
    }
    fn enumerate(self: &Arc<Self>) -> Enumerator {
        Enumerator::Seq(self.0.len())
    }
}

/// An `io::Write` that refuses to grow past [`MAX_RENDERED_BYTES`].
struct BoundedOutput {
    buf: Vec<u8>,
    overflowed: bool,
}

impl std::io::Write for BoundedOutput {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        if self.buf.len() + data.len() > MAX_RENDERED_BYTES {
            self.overflowed = true;
            return Err(std::io::Error::other("rendered prompt too large"));
        }
        self.buf.extend_from_slice(data);
        Ok(data.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// A compiled chat template. Cheap to share: `Send + Sync`.
pub struct ChatTemplate {
    env: Environment<'static>,
    source: String,
    is_fallback: bool,
    bos_token: String,
    eos_token: String,
    /// Texts of control tokens, removed from message content before rendering.
    control_texts: Vec<String>,
    stops: Vec<String>,
}

impl fmt::Debug for ChatTemplate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ChatTemplate")
            .field("is_fallback", &self.is_fallback)
            .field("bos_token", &self.bos_token)
            .field("eos_token", &self.eos_token)
            .finish_non_exhaustive()
    }
}

fn raise_exception(msg: String) -> Result<String, minijinja::Error> {
    Err(minijinja::Error::new(ErrorKind::InvalidOperation, msg))
}

/// `strftime_now` without a clock dependency: templates only use it to print today's date in a
/// default system prompt; a fixed, neutral value keeps prompts (and their KV cache) stable.
fn strftime_now(_fmt: String) -> String {
    String::new()
}

impl ChatTemplate {
    /// Compiles `source` (a Hugging Face style Jinja chat template).
    pub fn new(source: &str, bos_token: &str, eos_token: &str) -> Result<Self, TemplateError> {
        Self::build(source.to_owned(), false, bos_token, eos_token)
    }

    /// The plain-transcript template used for models without one.
    pub fn fallback() -> Self {
        Self::build(FALLBACK_TEMPLATE.to_owned(), true, "", "")
            .expect("the fallback template compiles")
    }

    /// The model's own template, or a plain `User:`/`Assistant:` fallback template when the file has none (or its
    /// template does not compile, which is reported as an error instead of silently ignored).
    pub fn for_model(model: &Model) -> Result<Self, TemplateError> {
        let tok = model.tokenizer();
        let text = |id: Option<u32>| {
            id.map(|id| String::from_utf8_lossy(tok.token_text(id)).into_owned())
                .unwrap_or_default()
        };
        let (bos, eos) = (text(tok.bos()), text(tok.eos()));
        let mut t = match model.chat_template() {
            Some(src) => Self::build(src.to_owned(), false, &bos, &eos)?,
            None => {
                log::warn!(
                    target: "pocketlm::chat_template",
                    "model {:?} has no chat template (tokenizer.chat_template): chat and reply \
                     use the plain User:/Assistant: fallback transcript, which instruction-tuned \
                     models follow less well",
                    model.info().name
                );
                let mut t = Self::fallback();
                t.bos_token = bos;
                t.eos_token = eos;
                t
            }
        };
        t.control_texts = control_texts(tok);
        t.stops = t.derive_stops(tok);
        Ok(t)
    }

    fn build(
        source: String,
        is_fallback: bool,
        bos: &str,
        eos: &str,
    ) -> Result<Self, TemplateError> {
        let mut env = Environment::new();
        env.set_fuel(Some(RENDER_FUEL));
        env.set_trim_blocks(true);
        env.set_lstrip_blocks(true);
        env.set_unknown_method_callback(minijinja_contrib::pycompat::unknown_method_callback);
        env.add_function("raise_exception", raise_exception);
        env.add_function("strftime_now", strftime_now);
        env.add_function("namespace", counted_namespace);
        env.add_function("range", counted_range);
        env.set_formatter(counting_formatter);
        env.add_template_owned(TEMPLATE_NAME, rewrite_generation_tags(&source))
            .map_err(|e| TemplateError::Syntax(e.to_string()))?;
        let stops = if is_fallback {
            vec!["\nUser:".to_owned(), "\nAssistant:".to_owned()]
        } else {
            Vec::new()
        };
        Ok(Self {
            env,
            source,
            is_fallback,
            bos_token: bos.to_owned(),
            eos_token: eos.to_owned(),
            control_texts: Vec::new(),
            stops,
        })
    }

    /// Whether this is the fallback template (the model file had no template).
    pub fn is_fallback(&self) -> bool {
        self.is_fallback
    }

    /// The Jinja source.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// Renders `messages` to prompt text; with `add_generation_prompt`, the text ends where the
    /// assistant's answer begins.
    ///
    /// A template that refuses the conversation (`raise_exception`) while it starts with a system
    /// message is given the conversation again with the system text folded into the first user
    /// message (`system + "\n" + user`), as llama.cpp does for templates without a system role
    /// (Gemma 2: "System role not supported").
    pub fn render(
        &self,
        messages: &[ChatMessage],
        add_generation_prompt: bool,
    ) -> Result<String, TemplateError> {
        let msgs: Vec<(Role, String)> = messages
            .iter()
            .map(|m| (m.role, self.sanitize(&m.content)))
            .collect();
        match self.render_values(&msgs, add_generation_prompt) {
            Err(TemplateError::Rejected(why))
                if msgs.first().map(|m| m.0) == Some(Role::System) =>
            {
                let mut folded: Vec<(Role, String)> = msgs[1..].to_vec();
                if let Some(first) = folded.first_mut() {
                    first.1 = format!("{}\n{}", msgs[0].1, first.1);
                }
                self.render_values(&folded, add_generation_prompt)
                    .map_err(|e| match e {
                        // Report the refusal of the conversation as given.
                        TemplateError::Rejected(_) => TemplateError::Rejected(why),
                        other => other,
                    })
            }
            r => r,
        }
    }

    fn render_values(
        &self,
        messages: &[(Role, String)],
        add_generation_prompt: bool,
    ) -> Result<String, TemplateError> {
        let msgs: Vec<Value> = messages
            .iter()
            .map(|(role, content)| {
                Value::from_iter([
                    ("role", Value::from(role.as_str())),
                    ("content", Value::from(content.as_str())),
                ])
            })
            .collect();
        let tmpl = self
            .env
            .get_template(TEMPLATE_NAME)
            .map_err(|e| TemplateError::Syntax(e.to_string()))?;
        // Hugging Face's context plus what tool-calling templates read without a default: no
        // tools (`tools`, and `functions`, which templates concatenate as text), and the date
        // variables llama.cpp passes, empty like `strftime_now` (a fixed prompt).
        let ctx = minijinja::context! {
            messages => Value::from_object(Messages(msgs)),
            add_generation_prompt => add_generation_prompt,
            bos_token => self.bos_token.as_str(),
            eos_token => self.eos_token.as_str(),
            tools => Value::from(Vec::<Value>::new()),
            functions => "",
            datetime => "",
            date_string => "",
        };
        let mut out = BoundedOutput {
            buf: Vec::new(),
            overflowed: false,
        };
        // minijinja panics on a few constructs (a reverse slice of an empty list or string in
        // 2.24); a template from a model file must not take the app down with it.
        let previous = BUDGET.with(|b| b.borrow_mut().replace(BuildBudget::default()));
        let rendered = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            tmpl.render_captured_to(ctx, &mut out).map(|_| ())
        }));
        BUDGET.with(|b| *b.borrow_mut() = previous);
        match rendered {
            Err(payload) if payload.is::<OverBudget>() => Err(TemplateError::BuiltTooMuch),
            Err(payload) => Err(TemplateError::EngineFailure(panic_text(&*payload))),
            Ok(Err(_)) if out.overflowed => Err(TemplateError::OutputTooLarge),
            Ok(Err(e)) => Err(match e.kind() {
                ErrorKind::OutOfFuel => TemplateError::OutOfFuel,
                ErrorKind::InvalidOperation => TemplateError::Rejected(e.to_string()),
                _ => TemplateError::Render(e.to_string()),
            }),
            Ok(Ok(())) => String::from_utf8(out.buf)
                .map_err(|_| TemplateError::Render("the output is not UTF-8".into())),
        }
    }

    /// Whether rendered `text` already starts with the BOS token's text.
    pub fn has_bos(&self, text: &str) -> bool {
        !self.bos_token.is_empty() && text.starts_with(&self.bos_token)
    }

    /// Renders and tokenizes: special tokens in the template are parsed; BOS is added when the
    /// model adds one and the template did not already write it.
    pub fn encode(
        &self,
        tok: &Tokenizer,
        messages: &[ChatMessage],
        add_generation_prompt: bool,
    ) -> Result<Vec<u32>, TemplateError> {
        let text = self.render(messages, add_generation_prompt)?;
        Ok(tok.encode(&text, !self.has_bos(&text), true))
    }

    /// Strings that end an assistant turn beyond the model's end-of-generation tokens (the
    /// fallback transcript's next `User:` line; a template's end-of-turn marker when the
    /// tokenizer does not treat it as end of generation).
    pub fn stop_strings(&self) -> &[String] {
        &self.stops
    }

    fn derive_stops(&self, tok: &Tokenizer) -> Vec<String> {
        let mut stops = self.stops.clone();
        for marker in ["<|im_end|>", "<end_of_turn>", "<|eot_id|>", "<|end|>"] {
            if self.source.contains(marker) {
                let is_eog = tok
                    .token_id(marker)
                    .is_some_and(|id| tok.is_end_of_generation(id));
                if !is_eog {
                    stops.push(marker.to_owned());
                }
            }
        }
        stops
    }

    /// Removes control-token texts from message content (see the module docs).
    pub fn sanitize(&self, content: &str) -> String {
        if !content.contains(['<', '[']) {
            return content.to_owned();
        }
        let mut s = content.to_owned();
        for t in &self.control_texts {
            if s.contains(t.as_str()) {
                s = s.replace(t.as_str(), "");
            }
        }
        s
    }
}

/// `{% generation %}` ... `{% endgeneration %}` (a `transformers` extension marking the
/// assistant's tokens for training masks; LFM2.5, Laguna) renders its content: the tags become
/// `{% if true %}` / `{% endif %}`, keeping their whitespace-control markers.
fn rewrite_generation_tags(src: &str) -> String {
    if !src.contains("generation") {
        return src.to_owned();
    }
    let mut out = String::with_capacity(src.len());
    let mut rest = src;
    while let Some(i) = rest.find("{%") {
        out.push_str(&rest[..i]);
        let tag = &rest[i..];
        let Some(end) = tag.find("%}") else {
            rest = tag;
            break;
        };
        let inner = &tag[2..end];
        let lead = inner.starts_with(['-', '+']);
        let trail = inner.len() > usize::from(lead) && inner.ends_with(['-', '+']);
        let body = &inner[usize::from(lead)..inner.len() - usize::from(trail)];
        let keyword = match body.trim() {
            "generation" => Some("if true"),
            "endgeneration" => Some("endif"),
            _ => None,
        };
        match keyword {
            Some(k) => {
                out.push_str("{%");
                out.push_str(&inner[..usize::from(lead)]);
                out.push(' ');
                out.push_str(k);
                out.push(' ');
                out.push_str(&inner[inner.len() - usize::from(trail)..]);
                out.push_str("%}");
            }
            None => out.push_str(&tag[..end + 2]),
        }
        rest = &tag[end + 2..];
    }
    out.push_str(rest);
    out
}

/// The message of a caught panic.
fn panic_text(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".into())
}

/// Texts of the tokenizer's control and user-defined special tokens that look like markup
/// (`<...>` or `[...]`), longest first so nested markers are removed whole.
fn control_texts(tok: &Tokenizer) -> Vec<String> {
    let mut out: Vec<String> = (0..tok.vocab_size() as u32)
        .filter(|&id| tok.is_control(id) || tok.is_user_defined(id))
        .filter_map(|id| {
            std::str::from_utf8(tok.token_text(id))
                .ok()
                .map(str::to_owned)
        })
        .filter(|t| {
            t.len() >= 3
                && ((t.starts_with('<') && t.ends_with('>'))
                    || (t.starts_with('[') && t.ends_with(']')))
        })
        .collect();
    out.sort_by(|a, b| b.len().cmp(&a.len()).then_with(|| a.cmp(b)));
    out.dedup();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const CHATML: &str = "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}{{ '<|im_start|>system\\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\\n' }}{% endif %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";

    #[test]
    fn chatml_renders_default_system() {
        let t = ChatTemplate::new(CHATML, "", "<|im_end|>").unwrap();
        let out = t.render(&[ChatMessage::user("Hi")], true).unwrap();
        assert_eq!(
            out,
            "<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n"
        );
    }

    #[test]
    fn fallback_transcript() {
        let t = ChatTemplate::fallback();
        let out = t
            .render(
                &[
                    ChatMessage::system("Be brief."),
                    ChatMessage::user("Hi"),
                    ChatMessage::assistant("Hello!"),
                    ChatMessage::user("How are you?"),
                ],
                true,
            )
            .unwrap();
        assert_eq!(
            out,
            "Be brief.\n\nUser: Hi\nAssistant: Hello!\nUser: How are you?\nAssistant:"
        );
        assert!(t.stop_strings().contains(&"\nUser:".to_owned()));
    }

    #[test]
    fn raise_exception_is_a_rejection() {
        let t = ChatTemplate::new(
            "{% if messages|length == 0 %}{{ raise_exception('no messages') }}{% endif %}x",
            "",
            "",
        )
        .unwrap();
        assert!(
            matches!(t.render(&[], false), Err(TemplateError::Rejected(m)) if m.contains("no messages"))
        );
    }

    #[test]
    fn python_methods_work() {
        let t = ChatTemplate::new(
            "{{ messages[0].content.strip() }}|{{ messages[0].content.startswith(' a') }}",
            "",
            "",
        )
        .unwrap();
        assert_eq!(
            t.render(&[ChatMessage::user(" a b ")], false).unwrap(),
            "a b|True"
        );
    }

    fn render_one(src: &str) -> Result<String, TemplateError> {
        ChatTemplate::new(src, "", "")?.render(&[ChatMessage::user("hi")], true)
    }

    #[test]
    fn nested_loops_run_out_of_fuel() {
        let r = render_one(
            "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}",
        );
        assert!(matches!(r, Err(TemplateError::OutOfFuel)), "{r:?}");
    }

    #[test]
    fn huge_output_is_cut_off() {
        let r = render_one("{% for i in range(100000) %}{{ 'x' * 10000 }}{% endfor %}");
        assert!(matches!(r, Err(TemplateError::OutputTooLarge)), "{r:?}");
        // Just under the limit is fine.
        let ok = render_one("{% for i in range(100) %}{{ 'x' * 10000 }}{% endfor %}").unwrap();
        assert_eq!(ok.len(), 1_000_000);
    }

    #[test]
    fn reverse_slices_of_empty_values_do_not_panic() {
        for src in [
            "{{ [][::-1] }}",
            "{{ ''[::-1] }}",
            "{{ messages[5:][::-1] }}",
            "{{ (messages|selectattr('role', 'eq', 'x')|list)[::-2] }}",
        ] {
            match render_one(src) {
                Ok(_) | Err(TemplateError::EngineFailure(_)) | Err(TemplateError::Render(_)) => {}
                other => panic!("{src}: {other:?}"),
            }
        }
        // Reverse slices of non-empty values still work.
        assert_eq!(render_one("{{ 'abc'[::-1] }}").unwrap(), "cba");
    }

    #[test]
    fn text_built_without_printing_is_bounded() {
        for src in [
            // Captured by a block set, printed only at the end (never, here).
            "{% set x %}{% for i in range(100000) %}{{ 'x' * 100000 }}{% endfor %}{% endset %}",
            // Captured by a macro call.
            "{% macro m() %}{% for i in range(100000) %}{{ 'x' * 100000 }}{% endfor %}{% endmacro %}{% set y = m() %}",
            // `~` concatenation carried across iterations in a namespace.
            "{% set ns = namespace(s='') %}{% for i in range(100000) %}{% set ns.s = ns.s ~ ('x' * 100000) %}{% endfor %}",
            // Doubling: 2^40 bytes after 40 steps.
            "{% set ns = namespace(s='x') %}{% for i in range(40) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}",
            // Doubling over the messages instead of a range.
            "{% set ns = namespace(s='x' * 1000000) %}{% for m in messages %}{% for n in messages %}{% set ns.s = ns.s + ns.s %}{% endfor %}{% endfor %}",
            // List building.
            "{% set ns = namespace(l=[]) %}{% for i in range(100000) %}{% set ns.l = ns.l + ['x' * 100000] %}{% endfor %}",
            // A dict of big strings.
            "{% set ns = namespace(d={}) %}{% for i in range(100000) %}{% set ns.d = dict(ns.d, **{i|string: 'x' * 100000}) %}{% endfor %}",
        ] {
            let t = ChatTemplate::new(src, "", "").unwrap();
            let many: Vec<ChatMessage> = (0..40).map(|i| ChatMessage::user(format!("m{i}"))).collect();
            let r = t.render(&many, true);
            assert!(matches!(r, Err(TemplateError::BuiltTooMuch)), "{src}: {r:?}");
            // The template object stays usable after leaving the engine mid-render.
            assert!(!matches!(t.render(&[], true), Err(TemplateError::EngineFailure(_))));
        }
        // Real-sized building is fine.
        let ok = render_one(
            "{% set ns = namespace(s='') %}{% for i in range(100) %}{% set ns.s = ns.s ~ 'ab' %}{% endfor %}{% set c %}{{ ns.s }}{% endset %}{{ c|length }}",
        )
        .unwrap();
        assert_eq!(ok, "200");
    }

    #[test]
    fn syntax_error_is_reported() {
        assert!(matches!(
            ChatTemplate::new("{% for %}", "", ""),
            Err(TemplateError::Syntax(_))
        ));
    }
}
