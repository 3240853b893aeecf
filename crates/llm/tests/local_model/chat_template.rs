// The chat template from the file, and the ChatML fallback.

use prefab_llm::{ChatMessage, Engine, LoadOptions, Prompt};

use crate::common::{engine, patched};

#[test]
fn the_files_template_adds_smollms_default_system_prompt() {
    let engine = engine();
    assert!(engine.info().chat_template_from_file);
    let rendered = engine.render_chat(&[ChatMessage::user("Hi")], true).unwrap();
    assert_eq!(
        rendered,
        "<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging \
         Face<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n"
    );
}

#[test]
fn a_given_system_prompt_replaces_the_default() {
    let engine = engine();
    let messages = [
        ChatMessage::system("Answer in French."),
        ChatMessage::user("Hi"),
        ChatMessage::assistant("Bonjour"),
    ];
    assert_eq!(
        engine.render_chat(&messages, false).unwrap(),
        "<|im_start|>system\nAnswer in French.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n\
         <|im_start|>assistant\nBonjour<|im_end|>\n"
    );
}

#[test]
fn a_chat_prompt_renders_with_its_answer_prefix() {
    let engine = engine();
    let prompt = Prompt::Chat {
        messages: vec![ChatMessage::system("Judge."), ChatMessage::user("2+2=4?")],
        answer_prefix: "Score: ".into(),
    };
    assert!(engine.render(&prompt).unwrap().ends_with("<|im_start|>assistant\nScore: "));
    let text = Prompt::Text { text: "as is".into() };
    assert_eq!(engine.render(&text).unwrap(), "as is");
}

#[test]
fn a_file_without_a_template_falls_back_to_chatml() {
    // Renaming the key hides the template while keeping the file valid.
    let bytes = patched(b"tokenizer.chat_template", b"tokenizer.chat_templatX");
    let engine = Engine::load(&bytes, &LoadOptions::default(), |_| {}).unwrap();
    assert!(!engine.info().chat_template_from_file);
    assert_eq!(
        engine.render_chat(&[ChatMessage::user("Hi")], true).unwrap(),
        "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n"
    );
}
