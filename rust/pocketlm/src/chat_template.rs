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
use minijinja::{Environment, ErrorKind, Value};
use std::fmt;

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

/// Who wrote a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    System,
    User,
    Assistant,
}

impl Role {
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
    pub role: Role,
    pub content: String,
}

impl ChatMessage {
    pub fn new(role: Role, content: impl Into<String>) -> Self {
        Self {
            role,
            content: content.into(),
        }
    }
    pub fn system(content: impl Into<String>) -> Self {
        Self::new(Role::System, content)
    }
    pub fn user(content: impl Into<String>) -> Self {
        Self::new(Role::User, content)
    }
    pub fn assistant(content: impl Into<String>) -> Self {
        Self::new(Role::Assistant, content)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum TemplateError {
    #[error("the chat template does not compile: {0}")]
    Syntax(String),
    #[error("the chat template failed to render these messages: {0}")]
    Render(String),
    #[error("the chat template rejected the conversation: {0}")]
    Rejected(String),
    #[error("the chat template ran out of its execution budget of {RENDER_FUEL} steps (a loop that cannot be meant for a prompt)")]
    OutOfFuel,
    #[error("the chat template produced more than {MAX_RENDERED_BYTES} bytes of prompt")]
    OutputTooLarge,
    #[error("the chat template crashed the template engine: {0}")]
    EngineFailure(String),
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

    /// The model's own template, or [`FALLBACK_TEMPLATE`] when the file has none (or its
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
        env.add_template_owned(TEMPLATE_NAME, source.clone())
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

    /// Whether this is [`FALLBACK_TEMPLATE`] (the model file had no template).
    pub fn is_fallback(&self) -> bool {
        self.is_fallback
    }

    /// The Jinja source.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// Renders `messages` to prompt text; with `add_generation_prompt`, the text ends where the
    /// assistant's answer begins.
    pub fn render(
        &self,
        messages: &[ChatMessage],
        add_generation_prompt: bool,
    ) -> Result<String, TemplateError> {
        let msgs: Vec<Value> = messages
            .iter()
            .map(|m| {
                Value::from_iter([
                    ("role", Value::from(m.role.as_str())),
                    ("content", Value::from(self.sanitize(&m.content))),
                ])
            })
            .collect();
        let tmpl = self
            .env
            .get_template(TEMPLATE_NAME)
            .map_err(|e| TemplateError::Syntax(e.to_string()))?;
        let ctx = minijinja::context! {
            messages => msgs,
            add_generation_prompt => add_generation_prompt,
            bos_token => self.bos_token.as_str(),
            eos_token => self.eos_token.as_str(),
        };
        let mut out = BoundedOutput {
            buf: Vec::new(),
            overflowed: false,
        };
        // minijinja panics on a few constructs (a reverse slice of an empty list or string in
        // 2.24); a template from a model file must not take the app down with it.
        let rendered = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            tmpl.render_captured_to(ctx, &mut out).map(|_| ())
        }));
        match rendered {
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
    fn syntax_error_is_reported() {
        assert!(matches!(
            ChatTemplate::new("{% for %}", "", ""),
            Err(TemplateError::Syntax(_))
        ));
    }
}
