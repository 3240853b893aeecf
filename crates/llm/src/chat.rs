//! Chat messages: the conversation a generation continues.
//!
//! Every backend, local or hosted, takes its prompt as a list of messages in
//! the OpenAI shape (`{"role": "user", "content": "…"}`), the same
//! [`ChatMessage`] the dataset core builds its tasks and TRL rows from. A
//! local model turns them into text with its chat template; a hosted one
//! receives them as they are.

pub use prefab_core::chat::{ChatMessage, Role};
use serde::{Deserialize, Serialize};

/// What a model continues: raw text, or a conversation rendered with the
/// model's chat template.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Prompt {
    /// Text given to the model as it is (special tokens such as
    /// `<|im_start|>` included).
    Text {
        /// The text.
        text: String,
    },
    /// A conversation, rendered with the chat template and the opening of
    /// the assistant's turn, then `answer_prefix`: the start of the answer,
    /// such as `"Rating: "` for a judge.
    Chat {
        /// The conversation.
        messages: Vec<ChatMessage>,
        /// Text the answer starts with.
        #[serde(default)]
        answer_prefix: String,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prompts_are_tagged_by_kind() {
        let prompt: Prompt = serde_json::from_str(
            r#"{"kind":"chat","messages":[{"role":"user","content":"Rate it"}]}"#,
        )
        .unwrap();
        assert_eq!(
            prompt,
            Prompt::Chat {
                messages: vec![ChatMessage::user("Rate it")],
                answer_prefix: String::new()
            }
        );
        let text = Prompt::Text { text: "Hello".into() };
        assert_eq!(serde_json::to_string(&text).unwrap(), r#"{"kind":"text","text":"Hello"}"#);
    }
}
