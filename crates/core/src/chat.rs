//! Chat messages: what chat templates render and conversational TRL rows hold.
//!
//! TRL's conversational formats store `prompt`, `completion`, `chosen` and
//! `rejected` as lists of `{role, content}` messages; the tasks in
//! [`crate::tasks`] build the same lists for the model to answer.

use serde::{Deserialize, Serialize};

/// Who speaks a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Instructions that frame the conversation.
    System,
    /// The person asking.
    User,
    /// The model answering.
    Assistant,
}

impl Role {
    /// The name chat templates and TRL use: `system`, `user`, `assistant`.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::System => "system",
            Role::User => "user",
            Role::Assistant => "assistant",
        }
    }
}

/// One message of a conversation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChatMessage {
    /// Who speaks it.
    pub role: Role,
    /// What is said.
    pub content: String,
}

impl ChatMessage {
    /// A system message.
    pub fn system(content: impl Into<String>) -> ChatMessage {
        ChatMessage {
            role: Role::System,
            content: content.into(),
        }
    }

    /// A user message.
    pub fn user(content: impl Into<String>) -> ChatMessage {
        ChatMessage {
            role: Role::User,
            content: content.into(),
        }
    }

    /// An assistant message.
    pub fn assistant(content: impl Into<String>) -> ChatMessage {
        ChatMessage {
            role: Role::Assistant,
            content: content.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serializes_as_trl_expects() {
        let json = serde_json::to_string(&ChatMessage::user("Hi")).unwrap();
        assert_eq!(json, r#"{"role":"user","content":"Hi"}"#);
        let back: ChatMessage =
            serde_json::from_str(r#"{"role":"assistant","content":"Yo"}"#).unwrap();
        assert_eq!(back, ChatMessage::assistant("Yo"));
        assert_eq!(Role::System.as_str(), "system");
    }
}
