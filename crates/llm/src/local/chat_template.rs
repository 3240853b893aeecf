//! Chat templates: turning a conversation into the exact text a model was
//! trained on.
//!
//! Each chat model wraps turns in its own markers (`<|im_start|>user\n…`);
//! its GGUF carries the Jinja template that does it (`tokenizer.chat_template`,
//! copied from the model's `tokenizer_config.json`). Templates are written for
//! Python's Jinja, so they are rendered the way Hugging Face `transformers`
//! renders them: `trim_blocks` and `lstrip_blocks` on, loop controls
//! available, Python string methods such as `.strip()` understood, and
//! `raise_exception` for the template's own input checks. A file without a
//! template gets ChatML, the format of SmolLM and Qwen.

use minijinja::{context, Environment, ErrorKind as JinjaErrorKind};

use crate::chat::ChatMessage;
use crate::error::{Error, ErrorKind};

/// ChatML, for files that carry no template.
pub(crate) const CHATML: &str = "{% for message in messages %}\
{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}\
{% endfor %}\
{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";

const NAME: &str = "chat";

/// A parsed chat template, ready to render conversations.
pub(crate) struct ChatTemplate {
    env: Environment<'static>,
    from_file: bool,
    bos_token: String,
    eos_token: String,
}

impl ChatTemplate {
    /// Parses the file's template, or takes ChatML when there is none.
    pub(crate) fn new(
        source: Option<&str>,
        bos_token: &str,
        eos_token: &str,
    ) -> Result<ChatTemplate, Error> {
        let mut env = Environment::new();
        env.set_trim_blocks(true);
        env.set_lstrip_blocks(true);
        env.set_unknown_method_callback(minijinja_contrib::pycompat::unknown_method_callback);
        env.add_function(
            "raise_exception",
            |message: String| -> Result<String, minijinja::Error> {
                Err(minijinja::Error::new(JinjaErrorKind::InvalidOperation, message))
            },
        );
        let from_file = source.is_some();
        env.add_template_owned(NAME, source.unwrap_or(CHATML).to_owned())
            .map_err(|error| template_error("cannot parse the template", &error))?;
        Ok(ChatTemplate {
            env,
            from_file,
            bos_token: bos_token.to_owned(),
            eos_token: eos_token.to_owned(),
        })
    }

    /// Whether the template came from the model file.
    pub(crate) fn is_from_file(&self) -> bool {
        self.from_file
    }

    /// Renders a conversation; with `add_generation_prompt`, ends with the
    /// opening of the assistant's next turn so that the model writes it.
    pub(crate) fn render(
        &self,
        messages: &[ChatMessage],
        add_generation_prompt: bool,
    ) -> Result<String, Error> {
        let template = self
            .env
            .get_template(NAME)
            .map_err(|error| template_error("cannot find the template", &error))?;
        template
            .render(context! {
                messages => messages,
                add_generation_prompt => add_generation_prompt,
                bos_token => self.bos_token,
                eos_token => self.eos_token,
            })
            .map_err(|error| template_error("cannot render the conversation", &error))
    }
}

fn template_error(doing: &str, error: &minijinja::Error) -> Error {
    let mut message = format!("{doing}: {error}");
    if let Some(detail) = error.detail() {
        if !message.contains(detail) {
            message.push_str(&format!(" ({detail})"));
        }
    }
    Error::new(ErrorKind::ChatTemplate(message))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorCode;

    fn conversation() -> Vec<ChatMessage> {
        vec![
            ChatMessage::system("Be brief."),
            ChatMessage::user("Hi"),
            ChatMessage::assistant("Hello"),
        ]
    }

    #[test]
    fn chatml_wraps_each_turn_and_opens_the_assistant_turn() {
        let template = ChatTemplate::new(None, "", "").unwrap();
        assert!(!template.is_from_file());
        assert_eq!(
            template.render(&conversation(), true).unwrap(),
            "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n\
             <|im_start|>assistant\nHello<|im_end|>\n<|im_start|>assistant\n"
        );
        assert!(!template.render(&conversation(), false).unwrap().ends_with("assistant\n"));
    }

    #[test]
    fn python_style_templates_render_like_transformers() {
        // Block tags on their own lines vanish with their newline
        // (trim_blocks, lstrip_blocks); Python string methods work.
        let source = "{{ bos_token }}\n{% for m in messages %}\n  {% if m.role == 'system' %}\n{{ m.content.strip() | upper }}\n  {% else %}\n[{{ m.role }}] {{ m['content'] }}{{ eos_token }}\n  {% endif %}\n{% endfor %}\n";
        let template = ChatTemplate::new(Some(source), "<s>", "</s>").unwrap();
        let messages = [ChatMessage::system("  be brief. "), ChatMessage::user("Hi")];
        assert_eq!(template.render(&messages, false).unwrap(), "<s>\nBE BRIEF.\n[user] Hi</s>\n");
    }

    #[test]
    fn a_template_can_refuse_a_conversation() {
        let source = "{% if messages[0]['role'] != 'user' %}{{ raise_exception('Conversations must start with a user message') }}{% endif %}";
        let template = ChatTemplate::new(Some(source), "", "").unwrap();
        let error = template.render(&conversation(), true).unwrap_err();
        assert_eq!(error.code(), ErrorCode::ChatTemplate);
        assert!(error.to_string().contains("must start with a user message"), "{error}");
    }

    #[test]
    fn a_broken_template_is_a_chat_template_error() {
        let error = ChatTemplate::new(Some("{% for m in messages %}"), "", "").err().unwrap();
        assert_eq!(error.code(), ErrorCode::ChatTemplate);
    }
}
