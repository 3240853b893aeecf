//! The tokenizer, rebuilt from a GGUF file's metadata.
//!
//! A GGUF carries its tokenizer as data rather than as a `tokenizer.json`:
//! the vocabulary (`tokenizer.ggml.tokens`), the BPE merges, each token's
//! type (normal, control, user-defined…), the special token ids, and a name
//! for the pre-tokenizer (`tokenizer.ggml.pre`) that stands for the regular
//! expressions splitting text into words before BPE runs. This module builds
//! the equivalent `tokenizers` pipeline: byte-level BPE over the vocabulary
//! and merges, the pre-tokenizer that name stands for, control tokens added
//! as special tokens so that `<|im_start|>` in a rendered prompt becomes one
//! token, and a byte-level decoder.
//!
//! Only byte-level BPE (`tokenizer.ggml.model = "gpt2"`) is built: it is what
//! SmolLM, Qwen2 and Llama 3 use. SentencePiece vocabularies (`"llama"`) are
//! refused with an error rather than tokenized wrongly.

use std::borrow::Cow;
use std::collections::HashMap;

use tokenizers::decoders::byte_level::ByteLevel as ByteLevelDecoder;
use tokenizers::models::bpe::{Vocab, BPE};
use tokenizers::normalizers::unicode::NFC;
use tokenizers::pre_tokenizers::byte_level::ByteLevel;
use tokenizers::pre_tokenizers::digits::Digits;
use tokenizers::pre_tokenizers::sequence::Sequence;
use tokenizers::pre_tokenizers::split::{Split, SplitPattern};
use tokenizers::pre_tokenizers::PreTokenizerWrapper;
use tokenizers::{AddedToken, SplitDelimiterBehavior};

use super::gguf::Gguf;
use crate::error::{Error, ErrorKind};

/// GGUF token types (llama.cpp's `llama_token_type`).
const TOKEN_TYPE_CONTROL: usize = 3;
const TOKEN_TYPE_USER_DEFINED: usize = 4;

/// Control tokens that end an assistant's turn in common chat formats. A
/// file's `eos_token_id` is often the end of the whole document
/// (`<|endoftext|>` for Qwen2) while chat turns end with one of these.
const END_OF_TURN_TOKENS: [&str; 6] =
    ["<|im_end|>", "<|eot_id|>", "<|end_of_text|>", "<|endoftext|>", "<end_of_turn>", "<|end|>"];

/// Word-splitting expressions, as the models' own `tokenizer.json` files
/// write them. Qwen2 splits digits one by one, Llama 3 in groups of three.
const QWEN2_SPLIT: &str = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";
const LLAMA3_SPLIT: &str = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";

/// How a token's text maps to bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TokenKind {
    /// Byte-level BPE text: each character stands for one byte.
    Normal,
    /// A control token such as `<|im_end|>`: no text of its own.
    Control,
    /// A token added by the model's authors, stored as plain text.
    UserDefined,
}

/// A tokenizer and the token ids the engine needs to know.
pub(crate) struct Tokenizer {
    inner: tokenizers::Tokenizer,
    /// Maps the printable stand-ins of byte-level BPE back to bytes.
    byte_of_char: HashMap<char, u8>,
    /// Each token's kind, by id.
    kinds: Vec<TokenKind>,
    bos: Option<u32>,
    add_bos: bool,
    /// Ids that end a generation.
    stop_ids: Vec<u32>,
    /// The text of the BOS and EOS tokens, for chat templates.
    pub(crate) bos_text: String,
    pub(crate) eos_text: String,
}

impl Tokenizer {
    /// Builds the tokenizer a GGUF file describes.
    pub(crate) fn from_gguf(gguf: &Gguf<'_>) -> Result<Tokenizer, Error> {
        let model = gguf.str("tokenizer.ggml.model")?;
        if model != "gpt2" {
            return Err(Error::new(ErrorKind::UnsupportedTokenizer(format!(
                "tokenizer.ggml.model is \"{model}\"; only byte-level BPE (\"gpt2\") is supported"
            ))));
        }
        let tokens = gguf.strings("tokenizer.ggml.tokens")?;
        let merges = gguf.strings("tokenizer.ggml.merges")?;
        let types = gguf.opt_usizes("tokenizer.ggml.token_type")?.unwrap_or_default();
        if !types.is_empty() && types.len() != tokens.len() {
            return Err(Error::new(ErrorKind::InvalidMetadata {
                key: "tokenizer.ggml.token_type".into(),
                expected: format!("one type per token ({}), found {}", tokens.len(), types.len()),
            }));
        }
        let token_id = |key: &str| -> Result<Option<u32>, Error> {
            match gguf.opt_usize(key)? {
                Some(id) if id < tokens.len() => Ok(Some(id as u32)),
                Some(id) => Err(Error::new(ErrorKind::InvalidMetadata {
                    key: key.to_owned(),
                    expected: format!("a token id below {}, found {id}", tokens.len()),
                })),
                None => Ok(None),
            }
        };
        let bos = token_id("tokenizer.ggml.bos_token_id")?;
        let eos = token_id("tokenizer.ggml.eos_token_id")?;
        let eot = token_id("tokenizer.ggml.eot_token_id")?;
        let add_bos = gguf.opt_bool("tokenizer.ggml.add_bos_token")?.unwrap_or(false);

        let vocab: Vocab =
            tokens.iter().enumerate().map(|(id, token)| ((*token).to_owned(), id as u32)).collect();
        let merges = merges
            .iter()
            .map(|merge| {
                merge.split_once(' ').map(|(a, b)| (a.to_owned(), b.to_owned())).ok_or_else(|| {
                    Error::new(ErrorKind::InvalidMetadata {
                        key: "tokenizer.ggml.merges".into(),
                        expected: format!("pairs of tokens separated by a space, found {merge:?}"),
                    })
                })
            })
            .collect::<Result<Vec<_>, Error>>()?;
        let bpe = BPE::builder()
            .vocab_and_merges(vocab, merges)
            .build()
            .map_err(|error| unsupported(format!("cannot build BPE: {error}")))?;

        let pre = gguf.opt_str("tokenizer.ggml.pre")?.unwrap_or("gpt2");
        let mut inner = tokenizers::Tokenizer::new(bpe);
        let (pre_tokenizer, normalize) = pre_tokenizer(pre)?;
        if normalize {
            inner
                .with_normalizer(Some(NFC))
                .map_err(|error| unsupported(format!("cannot add the normalizer: {error}")))?;
        }
        inner.with_pre_tokenizer(Some(pre_tokenizer));
        inner.with_decoder(Some(ByteLevelDecoder::default()));

        let kinds: Vec<TokenKind> = (0..tokens.len())
            .map(|id| match types.get(id) {
                Some(&TOKEN_TYPE_CONTROL) => TokenKind::Control,
                Some(&TOKEN_TYPE_USER_DEFINED) => TokenKind::UserDefined,
                _ => TokenKind::Normal,
            })
            .collect();
        let kinds_ref = &kinds;
        let of_kind = |kind: TokenKind| (0..tokens.len()).filter(move |&id| kinds_ref[id] == kind);
        let specials = of_kind(TokenKind::Control).map(|id| AddedToken::from(tokens[id], true));
        inner
            .add_special_tokens(specials)
            .map_err(|error| unsupported(format!("cannot add special tokens: {error}")))?;
        let user_defined =
            of_kind(TokenKind::UserDefined).map(|id| AddedToken::from(tokens[id], false));
        inner
            .add_tokens(user_defined)
            .map_err(|error| unsupported(format!("cannot add user-defined tokens: {error}")))?;

        let mut stop_ids: Vec<u32> = [eos, eot].into_iter().flatten().collect();
        for (id, token) in tokens.iter().enumerate() {
            if kinds[id] == TokenKind::Control && END_OF_TURN_TOKENS.contains(token) {
                stop_ids.push(id as u32);
            }
        }
        stop_ids.sort_unstable();
        stop_ids.dedup();

        let text_of =
            |id: Option<u32>| id.map(|id| tokens[id as usize].to_owned()).unwrap_or_default();
        Ok(Tokenizer {
            inner,
            byte_of_char: byte_level_alphabet(),
            kinds,
            bos,
            add_bos,
            stop_ids,
            bos_text: text_of(bos),
            eos_text: text_of(eos),
        })
    }

    /// The token ids of a prompt, special tokens such as `<|im_start|>`
    /// included, with the BOS token in front when the model asks for it and
    /// the prompt lacks it.
    pub(crate) fn encode(&self, text: &str) -> Result<Vec<u32>, Error> {
        let mut ids = self.encode_fragment(text)?;
        if let Some(bos) = self.bos {
            if self.add_bos && ids.first() != Some(&bos) {
                ids.insert(0, bos);
            }
        }
        Ok(ids)
    }

    /// The token ids of a piece of text, without a BOS token.
    pub(crate) fn encode_fragment(&self, text: &str) -> Result<Vec<u32>, Error> {
        let encoding = self
            .inner
            .encode(text, false)
            .map_err(|error| Error::new(ErrorKind::Inference(format!("tokenizer: {error}"))))?;
        Ok(encoding.get_ids().to_vec())
    }

    /// The text of token ids, control tokens left out.
    pub(crate) fn decode(&self, ids: &[u32]) -> String {
        let bytes: Vec<u8> = ids.iter().flat_map(|&id| self.token_bytes(id).into_owned()).collect();
        String::from_utf8_lossy(&bytes).into_owned()
    }

    /// The bytes a token stands for; empty for control tokens. A token may
    /// hold part of a UTF-8 character, so generated text is assembled from
    /// bytes (see `text_stream`).
    pub(crate) fn token_bytes(&self, id: u32) -> Cow<'static, [u8]> {
        let kind = self.kinds.get(id as usize).copied().unwrap_or(TokenKind::Control);
        let token = match (kind, self.inner.id_to_token(id)) {
            (TokenKind::Control, _) | (_, None) => return Cow::Borrowed(&[]),
            (TokenKind::UserDefined, Some(token)) => return Cow::Owned(token.into_bytes()),
            (TokenKind::Normal, Some(token)) => token,
        };
        let mut bytes = Vec::with_capacity(token.len());
        for c in token.chars() {
            match self.byte_of_char.get(&c) {
                Some(&byte) => bytes.push(byte),
                // Not a byte-level stand-in: keep the character itself.
                None => bytes.extend(c.to_string().as_bytes()),
            }
        }
        Cow::Owned(bytes)
    }

    /// Whether generating this token ends the generation.
    pub(crate) fn is_stop(&self, id: u32) -> bool {
        self.stop_ids.binary_search(&id).is_ok()
    }

    /// How many tokens the vocabulary holds.
    pub(crate) fn vocab_size(&self) -> usize {
        self.kinds.len()
    }
}

fn unsupported(message: String) -> Error {
    Error::new(ErrorKind::UnsupportedTokenizer(message))
}

/// The pre-tokenizer a `tokenizer.ggml.pre` name stands for, and whether
/// text is NFC-normalized first.
fn pre_tokenizer(pre: &str) -> Result<(PreTokenizerWrapper, bool), Error> {
    let split = |pattern: &str| -> Result<PreTokenizerWrapper, Error> {
        let split = Split::new(
            SplitPattern::Regex(pattern.to_owned()),
            SplitDelimiterBehavior::Isolated,
            false,
        )
        .map_err(|error| unsupported(format!("bad split expression: {error}")))?;
        Ok(Sequence::new(vec![split.into(), ByteLevel::new(false, false, false).into()]).into())
    };
    match pre {
        // GPT-2's own expression, inside the byte-level pre-tokenizer.
        "gpt2" | "default" => Ok((ByteLevel::new(false, true, true).into(), false)),
        // GPT-2's expression after splitting digits apart (SmolLM,
        // StarCoder).
        "smollm" | "starcoder" => Ok((
            Sequence::new(vec![Digits::new(true).into(), ByteLevel::new(false, true, true).into()])
                .into(),
            false,
        )),
        "qwen2" | "deepseek-r1-qwen" => Ok((split(QWEN2_SPLIT)?, true)),
        "llama3" | "llama-bpe" | "smaug-bpe" => Ok((split(LLAMA3_SPLIT)?, false)),
        other => Err(unsupported(format!(
            "tokenizer.ggml.pre is \"{other}\"; supported: gpt2, smollm, starcoder, qwen2, llama3"
        ))),
    }
}

/// GPT-2's byte-level alphabet, reversed: byte-level BPE writes each byte as
/// a printable character — printable Latin-1 bytes as themselves, the other
/// 68 bytes as U+0100 onwards in byte order.
fn byte_level_alphabet() -> HashMap<char, u8> {
    let printable = |b: u8| matches!(b, b'!'..=b'~' | 0xA1..=0xAC | 0xAE..=0xFF);
    let mut next = 0x100u32;
    (0..=255u8)
        .map(|byte| {
            let c = if printable(byte) {
                char::from(byte)
            } else {
                let c = char::from_u32(next).unwrap_or(char::REPLACEMENT_CHARACTER);
                next += 1;
                c
            };
            (c, byte)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_byte_alphabet_covers_every_byte_once() {
        let alphabet = byte_level_alphabet();
        assert_eq!(alphabet.len(), 256);
        assert_eq!(alphabet[&'Ġ'], b' ');
        assert_eq!(alphabet[&'Ċ'], b'\n');
        assert_eq!(alphabet[&'a'], b'a');
    }

    #[test]
    fn unknown_pre_tokenizers_are_refused() {
        let error = pre_tokenizer("tekken").err().unwrap();
        assert!(matches!(error.kind(), ErrorKind::UnsupportedTokenizer(m) if m.contains("tekken")));
        for known in ["gpt2", "smollm", "qwen2", "llama3"] {
            pre_tokenizer(known).unwrap();
        }
    }
}
