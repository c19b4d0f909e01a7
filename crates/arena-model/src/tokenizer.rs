//! tokenizer.json and the chat template of tokenizer_config.json.
//!
//! Encoding never adds special tokens: the fixtures and the scoring conventions put every
//! special token into the text explicitly (through the chat template), so what is scored is
//! exactly what the text says.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Mutex;

use minijinja::{Environment, Error as JinjaError, ErrorKind, Value as JinjaValue};
use serde::Serialize;
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::error::{ModelError, Result};

/// One message of a chat, as chat templates expect it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChatMessage {
    /// `system`, `user` or `assistant`.
    pub role: String,
    /// The text of the message.
    pub content: String,
}

impl ChatMessage {
    /// A message from `role` with `content`.
    pub fn new(role: &str, content: &str) -> Self {
        ChatMessage {
            role: role.to_string(),
            content: content.to_string(),
        }
    }
}

/// Token ids already computed, so that the models of one step that share a tokenizer share
/// its work: the first worker records, the others replay (see `arena-eval`'s token cache).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TokenMemo {
    /// Plain encodings: text → ids.
    pub plain: HashMap<String, Vec<u32>>,
    /// User prompts → ids of the chat-rendered prompt with a generation prompt.
    pub chat: HashMap<String, Vec<u32>>,
    /// Lookups answered from the memo (not persisted).
    pub hits: u64,
    /// Lookups that had to tokenize (not persisted).
    pub misses: u64,
}

impl TokenMemo {
    /// Number of stored encodings.
    pub fn len(&self) -> usize {
        self.plain.len() + self.chat.len()
    }

    /// Whether nothing is stored.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A model's tokenizer plus the pieces of tokenizer_config.json scoring needs.
pub struct TextTokenizer {
    inner: tokenizers::Tokenizer,
    sha256: String,
    chat_template: Option<String>,
    special: serde_json::Map<String, Value>,
    memo: Option<Mutex<TokenMemo>>,
}

impl TextTokenizer {
    /// Loads `dir/tokenizer.json` and, when present, `dir/tokenizer_config.json` and
    /// `dir/chat_template.jinja` (where transformers 5 saves the template).
    pub fn load(dir: &Path) -> Result<Self> {
        let path = dir.join("tokenizer.json");
        let bytes = std::fs::read(&path)
            .map_err(|e| ModelError::Tokenizer(format!("{}: {e}", path.display())))?;
        let inner = tokenizers::Tokenizer::from_bytes(&bytes)
            .map_err(|e| ModelError::Tokenizer(format!("{}: {e}", path.display())))?;
        let sha256 = hex::encode(Sha256::digest(&bytes));
        let mut chat_template = None;
        let mut special = serde_json::Map::new();
        let cfg_path = dir.join("tokenizer_config.json");
        if cfg_path.is_file() {
            let text =
                std::fs::read_to_string(&cfg_path).map_err(|e| ModelError::io(&cfg_path, e))?;
            let cfg: Value =
                serde_json::from_str(&text).map_err(|e| ModelError::json(&cfg_path, e))?;
            chat_template = cfg.get("chat_template").and_then(template_text);
            for key in ["bos_token", "eos_token", "pad_token", "unk_token"] {
                if let Some(token) = cfg.get(key).and_then(token_text) {
                    special.insert(key.to_string(), Value::String(token));
                }
            }
        }
        let jinja_path = dir.join("chat_template.jinja");
        if jinja_path.is_file() {
            chat_template = Some(
                std::fs::read_to_string(&jinja_path).map_err(|e| ModelError::io(&jinja_path, e))?,
            );
        }
        Ok(TextTokenizer {
            inner,
            sha256,
            chat_template,
            special,
            memo: None,
        })
    }

    /// Identity of everything that decides token ids here: tokenizer.json, the chat template
    /// and the special tokens of tokenizer_config.json (sha256, hex). Two tokenizers with the
    /// same fingerprint give the same ids for every text and prompt.
    pub fn fingerprint(&self) -> String {
        let mut h = Sha256::new();
        for part in [
            self.sha256.as_str(),
            self.chat_template.as_deref().unwrap_or("\0none"),
            &Value::Object(self.special.clone()).to_string(),
        ] {
            h.update((part.len() as u64).to_le_bytes());
            h.update(part.as_bytes());
        }
        hex::encode(h.finalize())
    }

    /// Starts memoising encodings, beginning with `memo` (e.g. one read from a cache).
    pub fn enable_memo(&mut self, memo: TokenMemo) {
        self.memo = Some(Mutex::new(memo));
    }

    /// A copy of the memo, if memoising is on.
    pub fn memo(&self) -> Option<TokenMemo> {
        let memo = self.memo.as_ref()?;
        Some(memo.lock().unwrap_or_else(|p| p.into_inner()).clone())
    }

    /// Looks `text` up in the memo table `pick` chooses, else computes and records it.
    fn memoised(
        &self,
        text: &str,
        pick: fn(&mut TokenMemo) -> &mut HashMap<String, Vec<u32>>,
        compute: impl FnOnce() -> Result<Vec<u32>>,
    ) -> Result<Vec<u32>> {
        let Some(memo) = &self.memo else {
            return compute();
        };
        {
            let mut m = memo.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(ids) = pick(&mut m).get(text).cloned() {
                m.hits += 1;
                return Ok(ids);
            }
        }
        let ids = compute()?;
        let mut m = memo.lock().unwrap_or_else(|p| p.into_inner());
        m.misses += 1;
        pick(&mut m).insert(text.to_string(), ids.clone());
        Ok(ids)
    }

    /// Ids of the single user message `prompt` rendered with the chat template and a
    /// generation prompt: the context of every prompted scoring method.
    pub fn encode_user_prompt(&self, prompt: &str) -> Result<Vec<u32>> {
        self.memoised(
            prompt,
            |m| &mut m.chat,
            || {
                let text = self.apply_chat_template(&[ChatMessage::new("user", prompt)], true)?;
                self.encode_uncached(&text)
            },
        )
    }

    /// sha256 of tokenizer.json: the tokenizer's identity when a competition pins one.
    pub fn sha256(&self) -> &str {
        &self.sha256
    }

    /// Token ids of `text`, no special tokens added.
    pub fn encode(&self, text: &str) -> Result<Vec<u32>> {
        self.memoised(text, |m| &mut m.plain, || self.encode_uncached(text))
    }

    /// Token ids of `text` with the tokenizer's special tokens added by its post-processor (a
    /// BOS for tokenizers that add one), as transformers' `encode(text)` does by default.
    /// Memoised as the plain encoding when the post-processor adds no token (then the two are
    /// the same ids).
    pub fn encode_with_special_tokens(&self, text: &str) -> Result<Vec<u32>> {
        use tokenizers::PostProcessor;
        let adds = self
            .inner
            .get_post_processor()
            .is_some_and(|p| p.added_tokens(false) > 0);
        if !adds {
            return self.encode(text);
        }
        let enc = self
            .inner
            .encode(text, true)
            .map_err(|e| ModelError::Tokenizer(format!("encode: {e}")))?;
        Ok(enc.get_ids().to_vec())
    }

    fn encode_uncached(&self, text: &str) -> Result<Vec<u32>> {
        let enc = self
            .inner
            .encode(text, false)
            .map_err(|e| ModelError::Tokenizer(format!("encode: {e}")))?;
        Ok(enc.get_ids().to_vec())
    }

    /// Text of `ids`, special tokens skipped.
    pub fn decode(&self, ids: &[u32]) -> Result<String> {
        self.inner
            .decode(ids, true)
            .map_err(|e| ModelError::Tokenizer(format!("decode: {e}")))
    }

    /// Id of a token written as text (e.g. `<|im_end|>`), if the vocabulary has it.
    pub fn token_id(&self, token: &str) -> Option<u32> {
        self.inner.token_to_id(token)
    }

    /// The configured eos token text, if any.
    pub fn eos_token(&self) -> Option<&str> {
        self.special.get("eos_token").and_then(Value::as_str)
    }

    /// Renders the chat template like transformers' `apply_chat_template(tokenize=False)`.
    pub fn apply_chat_template(
        &self,
        messages: &[ChatMessage],
        add_generation_prompt: bool,
    ) -> Result<String> {
        let source = self
            .chat_template
            .as_deref()
            .ok_or_else(|| ModelError::ChatTemplate("the tokenizer has no chat_template".into()))?;
        render_chat(source, messages, add_generation_prompt, &self.special)
    }
}

/// Renders `source` with the environment transformers uses (trim_blocks, lstrip_blocks,
/// loop controls, `raise_exception`, `tojson`, Python string methods).
pub fn render_chat(
    source: &str,
    messages: &[ChatMessage],
    add_generation_prompt: bool,
    special: &serde_json::Map<String, Value>,
) -> Result<String> {
    let mut env = Environment::new();
    let syntax = minijinja::syntax::SyntaxConfig::builder()
        .trim_blocks(true)
        .lstrip_blocks(true)
        .build()
        .map_err(|e| ModelError::ChatTemplate(e.to_string()))?;
    env.set_syntax(syntax);
    env.set_unknown_method_callback(minijinja_contrib::pycompat::unknown_method_callback);
    env.add_function(
        "raise_exception",
        |msg: String| -> std::result::Result<JinjaValue, JinjaError> {
            Err(JinjaError::new(ErrorKind::InvalidOperation, msg))
        },
    );
    env.add_filter(
        "tojson",
        |v: JinjaValue, indent: Option<usize>| -> std::result::Result<JinjaValue, JinjaError> {
            let json = serde_json::to_value(&v)
                .map_err(|e| JinjaError::new(ErrorKind::InvalidOperation, e.to_string()))?;
            let mut out = String::new();
            python_json(&json, indent, 0, &mut out);
            Ok(JinjaValue::from_safe_string(out))
        },
    );
    env.add_function("strftime_now", |_fmt: String| -> String {
        // Templates use this for a "today" line; a fixed date keeps renders reproducible.
        "01 Jan 2026".to_string()
    });
    env.add_template("chat", source)
        .map_err(|e| ModelError::ChatTemplate(e.to_string()))?;
    let template = env
        .get_template("chat")
        .map_err(|e| ModelError::ChatTemplate(e.to_string()))?;
    let mut ctx = special.clone();
    ctx.insert(
        "messages".into(),
        serde_json::to_value(messages).unwrap_or(Value::Null),
    );
    ctx.insert(
        "add_generation_prompt".into(),
        Value::Bool(add_generation_prompt),
    );
    template
        .render(minijinja::value::Serde(&ctx))
        .map_err(|e| ModelError::ChatTemplate(e.to_string()))
}

/// Writes `value` as Python's `json.dumps(value, ensure_ascii=False, indent=indent)` does,
/// which is what transformers' `tojson` filter produces (`", "` and `": "` separators).
fn python_json(value: &Value, indent: Option<usize>, depth: usize, out: &mut String) {
    let (open_sep, item_sep, close_sep) = match indent {
        Some(n) => (
            format!("\n{}", " ".repeat(n * (depth + 1))),
            format!(",\n{}", " ".repeat(n * (depth + 1))),
            format!("\n{}", " ".repeat(n * depth)),
        ),
        None => (String::new(), ", ".to_string(), String::new()),
    };
    match value {
        Value::Array(items) if !items.is_empty() => {
            out.push('[');
            out.push_str(&open_sep);
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(&item_sep);
                }
                python_json(item, indent, depth + 1, out);
            }
            out.push_str(&close_sep);
            out.push(']');
        }
        Value::Object(map) if !map.is_empty() => {
            out.push('{');
            out.push_str(&open_sep);
            for (i, (key, item)) in map.iter().enumerate() {
                if i > 0 {
                    out.push_str(&item_sep);
                }
                out.push_str(&Value::String(key.clone()).to_string());
                out.push_str(": ");
                python_json(item, indent, depth + 1, out);
            }
            out.push_str(&close_sep);
            out.push('}');
        }
        other => out.push_str(&other.to_string()),
    }
}

/// A `chat_template` is a string, or a list of named templates of which `default` is used.
fn template_text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Array(items) => items
            .iter()
            .find(|t| t.get("name").and_then(Value::as_str) == Some("default"))
            .and_then(|t| t.get("template"))
            .and_then(Value::as_str)
            .map(str::to_string),
        _ => None,
    }
}

/// A special token is a string or an `{"content": …}` object.
fn token_text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Object(o) => o.get("content").and_then(Value::as_str).map(str::to_string),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_hf_style_templates() {
        let src = "{% for m in messages %}{% if m['role'] == 'bad' %}{{ raise_exception('no') }}{% endif %}\n\
                   {{ m['content'] | trim }}|{{ m['role'].upper() }}|{{ m | tojson }}\n{% endfor %}";
        let out = render_chat(
            src,
            &[ChatMessage::new("user", " hi ")],
            false,
            &Default::default(),
        )
        .unwrap();
        assert_eq!(out, "hi|USER|{\"content\": \" hi \", \"role\": \"user\"}\n");
        let err = render_chat(
            src,
            &[ChatMessage::new("bad", "x")],
            false,
            &Default::default(),
        );
        assert!(matches!(err, Err(ModelError::ChatTemplate(m)) if m.contains("no")));
    }
}
