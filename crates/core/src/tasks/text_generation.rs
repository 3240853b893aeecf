//! Text generation: the messages that ask a model to answer a prompt, and the
//! cleaning of what it returns.
//!
//! The raw output is always stored as it came ([`crate::record::Generation::raw_text`]);
//! the cleaned text is what datasets use as the completion.

use crate::chat::ChatMessage;
use crate::record::Prompt;

/// Answer each prompt, optionally under a system prompt.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TextGeneration {
    /// A system prompt for every prompt that does not bring its own.
    pub system_prompt: Option<String>,
}

impl TextGeneration {
    /// The system prompt used for this prompt: its own (from the source file)
    /// wins over the task's.
    pub fn system_prompt_for<'a>(&'a self, prompt: &'a Prompt) -> Option<&'a str> {
        prompt
            .system_prompt
            .as_deref()
            .or(self.system_prompt.as_deref())
            .filter(|s| !s.trim().is_empty())
    }

    /// The conversation to send: the system prompt, if any, then the prompt.
    pub fn messages(&self, prompt: &Prompt) -> Vec<ChatMessage> {
        let mut messages = Vec::with_capacity(2);
        if let Some(system) = self.system_prompt_for(prompt) {
            messages.push(ChatMessage::system(system));
        }
        messages.push(ChatMessage::user(prompt.text.as_str()));
        messages
    }
}

/// End-of-turn markers some backends leave in the text.
const END_MARKERS: [&str; 7] = [
    "</s>",
    "<|im_end|>",
    "<|eot_id|>",
    "<|endoftext|>",
    "<end_of_turn>",
    "<|end|>",
    "<|END_OF_TURN_TOKEN|>",
];

/// The completion as a dataset should hold it: without a reasoning block
/// (`<think>…</think>`), without trailing end-of-turn markers, trimmed.
///
/// A reasoning block that never closes means the model ran out of tokens
/// while thinking; there is no answer, so the result is empty.
pub fn clean(raw: &str) -> String {
    let mut text = raw;
    if let Some(start) = text.find("<think>") {
        if text[..start].trim().is_empty() {
            text = match text[start..].find("</think>") {
                Some(end) => &text[start + end + "</think>".len()..],
                None => "",
            };
        }
    }
    let mut text = text.trim();
    while let Some(stripped) = END_MARKERS.iter().find_map(|m| text.strip_suffix(m)) {
        text = stripped.trim_end();
    }
    text.trim().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chat::Role;

    #[test]
    fn prompt_system_prompt_wins_over_the_task_default() {
        let task = TextGeneration {
            system_prompt: Some("Be brief.".into()),
        };
        let mut prompt = Prompt::new("Hi");
        let messages = task.messages(&prompt);
        assert_eq!(
            messages,
            vec![ChatMessage::system("Be brief."), ChatMessage::user("Hi")]
        );
        prompt.system_prompt = Some("Be a pirate.".into());
        assert_eq!(task.messages(&prompt)[0].content, "Be a pirate.");
    }

    #[test]
    fn no_system_prompt_means_one_user_message() {
        let messages = TextGeneration::default().messages(&Prompt::new("Hi"));
        assert_eq!(messages.len(), 1);
        assert_eq!(messages[0].role, Role::User);
        let blank = TextGeneration {
            system_prompt: Some("  ".into()),
        };
        assert_eq!(blank.messages(&Prompt::new("Hi")).len(), 1);
    }

    #[test]
    fn clean_strips_markers_and_reasoning() {
        assert_eq!(clean("  Paris.</s>"), "Paris.");
        assert_eq!(clean("Paris.<|im_end|>\n<|endoftext|>"), "Paris.");
        assert_eq!(
            clean("<think>Capital of France…</think>\n\nParis."),
            "Paris."
        );
        assert_eq!(clean("<think>still thinking"), "");
        assert_eq!(
            clean("Use <think> tags like this"),
            "Use <think> tags like this"
        );
    }
}
