// The tokenizer rebuilt from the file's metadata.

use crate::common::engine;

#[test]
fn a_chat_prompt_encodes_to_the_reference_ids() {
    let prompt =
        "<|im_start|>user\nWrite a haiku about mountains.<|im_end|>\n<|im_start|>assistant\n";
    assert_eq!(
        engine().tokenize(prompt).unwrap(),
        [1, 4093, 198, 19161, 253, 421, 30614, 563, 8718, 30, 2, 198, 1, 520, 9531, 198]
    );
}

#[test]
fn text_survives_encoding_and_decoding() {
    let engine = engine();
    for text in [
        "Hello, world!",
        "  leading spaces, trailing tab\t",
        "Numbers 1234567 and 3.14159",
        "Ünïcödé: 日本語の文章, emoji 🏔️⛰️, Ελληνικά",
        "code:\n    fn main() { println!(\"hi\"); }\n",
    ] {
        let ids = engine.tokenize(text).unwrap();
        assert_eq!(engine.detokenize(&ids), text, "{ids:?}");
    }
}

#[test]
fn digits_are_split_one_by_one_as_smollm_does() {
    let engine = engine();
    let ids = engine.tokenize("2024").unwrap();
    assert_eq!(ids.len(), 4, "{ids:?}");
}

#[test]
fn control_tokens_are_single_tokens_with_no_text_of_their_own() {
    let engine = engine();
    assert_eq!(engine.tokenize("<|im_end|>").unwrap(), [2]);
    assert_eq!(engine.tokenize("<|im_start|>user").unwrap(), [1, 4093]);
    assert_eq!(engine.detokenize(&[1, 4093, 2]), "user");
}
