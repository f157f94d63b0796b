//! PocketLM core: loads a 4-bit quantized GGUF model by mmap and runs it on the CPU.
//!
//! Data flow: [`gguf`] maps the file and exposes metadata and tensor views; [`quant`] knows the
//! block formats; [`kernels`] multiplies quantized weights by activations; [`model`] holds the
//! transformer architectures; [`session`] owns a KV cache and evaluates tokens; [`sampler`] picks
//! the next token; [`generate`] streams text.

pub mod chat_template;
pub mod convert;
pub mod generate;
pub mod gguf;
pub mod input_bounds;
pub mod kernels;
pub mod keyboard;
pub mod model;
pub mod ops;
pub mod perplexity;
pub mod quant;
pub mod reply;
pub mod sampler;
pub mod session;
pub mod tokenizer;

pub use generate::{generate, GenerateError, GenerateOptions, Generation, StopReason};
pub use model::{LoadError, Model, ModelInfo};
pub use sampler::{Sampler, SamplerConfig};
pub use session::{Session, SessionError, SessionOptions};
pub use tokenizer::Tokenizer;
