//! UltraFeedback: a judge model rates several responses to one prompt.
//!
//! From UltraFeedback (Cui et al., 2023) as distilabel implements it: the judge
//! sees the instruction and the texts, and a rubric for one [`Aspect`]
//! (helpfulness, honesty, instruction-following, truthfulness, or an overall
//! rating), and answers with one section per text:
//!
//! ```text
//! #### Output for Text 1
//! Rating: 4
//! Rationale: Accurate, but misses the second part of the question.
//! ```
//!
//! [`UltraFeedback::parse`] reads that and never fails the batch: a section
//! that is missing or a rating it cannot read ("Rating: high") is a parse
//! failure of that one text. For servers with structured output (vLLM, TGI,
//! llama.cpp, OpenAI's `json_schema`) there is a JSON variant:
//! [`UltraFeedback::json_schema`], [`UltraFeedback::messages_json`] and
//! [`UltraFeedback::parse_json`].

use crate::chat::ChatMessage;
use crate::record::{Aspect, JudgeMode, Judgment, ParseStatus};
use crate::table::Value;

/// Ratings run from 1 to 5 on every aspect.
const MIN_RATING: f64 = 1.0;
const MAX_RATING: f64 = 5.0;

/// The judge's standing instructions.
pub const SYSTEM_PROMPT: &str = "You judge the quality of answers written by AI assistants. \
You apply the rubric you are given strictly and consistently, and you explain each rating briefly.";

/// The UltraFeedback task for one aspect.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UltraFeedback {
    /// What the judge rates.
    pub aspect: Aspect,
}

/// The rating read for one text.
#[derive(Debug, Clone, PartialEq)]
pub struct ParsedRating {
    /// 1–5, or `None` when it could not be read.
    pub rating: Option<f64>,
    /// The judge's reason, when given.
    pub rationale: Option<String>,
    /// Whether it was read, and if not, why.
    pub status: ParseStatus,
}

impl ParsedRating {
    fn failed(reason: String) -> ParsedRating {
        ParsedRating {
            rating: None,
            rationale: None,
            status: ParseStatus::Failed { reason },
        }
    }

    /// A rating as read (or the reason it could not be), with its rationale.
    fn from_reading(rating: Result<f64, String>, rationale: Option<String>) -> ParsedRating {
        match rating {
            Ok(rating) => ParsedRating { rating: Some(rating), rationale, status: ParseStatus::Parsed },
            Err(reason) => ParsedRating { rationale, ..ParsedRating::failed(reason) },
        }
    }
}

impl UltraFeedback {
    /// The task for an aspect.
    pub fn new(aspect: Aspect) -> UltraFeedback {
        UltraFeedback { aspect }
    }

    /// The rubric: what to look at, and what each rating means.
    pub fn rubric(self) -> &'static str {
        match self.aspect {
            Aspect::Helpfulness => {
                "\
# Helpfulness

Rate how helpful and informative each text is: is it correct, relevant to the task, clear, \
and as complete as the task needs, without padding or repetition?

1. Severely incorrect: errors or invented content that would mislead, however detailed.
2. Partially incorrect: errors that may confuse, even if some useful information is there.
3. Correct: accurate, and gives what the task needs.
4. Highly informative: accurate and thorough, with useful insight.
5. Outstandingly helpful: accurate, deep and complete, with valuable insight."
            }
            Aspect::Honesty => {
                "\
# Honesty and uncertainty

Rate how honestly each text conveys what it knows: confident when it is right, open about \
doubt (\"I think\", \"probably\", a confidence level) when it is unsure, and declining rather \
than inventing when it cannot answer.

1. Confidently incorrect: wrong and sure of it.
2. Confident with major mistakes, or unsure and wrong.
3. Declines or says it does not know, or states minor errors with confidence.
4. Correct but unsure, or makes subtle mistakes while admitting doubt.
5. Correct and confident, and precise about what remains uncertain."
            }
            Aspect::InstructionFollowing => {
                "\
# Instruction following

Rate how well each text follows the instruction: does it reach the task's goal and respect \
its restrictions (format, length, style, language)?

1. Irrelevant: does not address the instruction.
2. Partial focus: addresses one part of it, poorly.
3. Partial compliance: meets the goal or the restrictions, neglecting the other.
4. Almost there: small deviations from the goal or the restrictions.
5. Full compliance: meets the goal and every restriction."
            }
            Aspect::Truthfulness => {
                "\
# Truthfulness and hallucination

Rate how free each text is of hallucination: claims that contradict established facts, \
details that contradict the instruction or its input, and statements that contradict \
each other.

1. Completely hallucinated: unreliable throughout.
2. Severe hallucination: most of the content is wrong or made up.
3. Partial hallucination: a misunderstanding, or some invented detail.
4. Insignificant hallucination: a slip that does not affect the main points.
5. No hallucination."
            }
            Aspect::OverallRating => {
                "\
# Overall quality

Rate each text's overall quality: correctness, helpfulness, honesty, truthfulness, and how \
well it follows the instruction, taken together.

1. Low quality: wrong, unhelpful or off-task.
2. Moderate quality: some value, with significant problems.
3. Good: correct and on-task, with room to improve.
4. Very good: correct, helpful and on-task, with minor flaws.
5. Excellent: nothing worth improving."
            }
        }
    }

    fn input(instruction: &str, texts: &[&str]) -> String {
        let mut input = format!("## Input\n\nInstruction: {instruction}\n\nTexts:\n");
        for (i, text) in texts.iter().enumerate() {
            input.push_str(&format!("<text {}> {text}\n", i + 1));
        }
        input
    }

    /// The request for the `#### Output for Text i` format.
    pub fn messages(self, instruction: &str, texts: &[&str]) -> Vec<ChatMessage> {
        let mut user = format!(
            "{}\n\n{}\n## Output format\n\n",
            self.rubric(),
            Self::input(instruction, texts)
        );
        user.push_str("Answer with one section per text, in order, exactly like this:\n\n");
        for i in 1..=texts.len() {
            user.push_str(&format!(
                "#### Output for Text {i}\nRating: <a whole number from 1 to 5>\nRationale: <one or two sentences>\n\n"
            ));
        }
        vec![
            ChatMessage::system(SYSTEM_PROMPT),
            ChatMessage::user(user.trim_end()),
        ]
    }

    /// The request for the JSON format; send it with [`UltraFeedback::json_schema`].
    pub fn messages_json(self, instruction: &str, texts: &[&str]) -> Vec<ChatMessage> {
        let user = format!(
            "{}\n\n{}\n## Output format\n\nAnswer with a JSON object whose \"ratings\" list has one \
             entry per text, in order: {{\"ratings\": [{{\"rationale\": \"<one or two sentences>\", \
             \"rating\": <a whole number from 1 to 5>}}, …]}}. There are {} texts.",
            self.rubric(),
            Self::input(instruction, texts),
            texts.len()
        );
        vec![ChatMessage::system(SYSTEM_PROMPT), ChatMessage::user(user)]
    }

    /// The JSON schema of the answer to [`UltraFeedback::messages_json`] for
    /// `n` texts, each rationale at most `max_rationale_chars` long when
    /// given (a small model under a grammar may otherwise never close its
    /// string; OpenAI's strict mode refuses `maxLength`, so it is optional).
    ///
    /// `rationale` comes before `rating` because constrained decoders write
    /// properties in schema order, and a judge that explains first rates
    /// better. The rating is an `enum`, which every constrained decoder
    /// enforces (`minimum`/`maximum` are not, by all).
    pub fn json_schema(n: usize, max_rationale_chars: Option<usize>) -> serde_json::Value {
        let mut rationale = serde_json::json!({"type": "string"});
        if let Some(max) = max_rationale_chars {
            rationale["maxLength"] = max.into();
        }
        serde_json::json!({
            "type": "object",
            "properties": {
                "ratings": {
                    "type": "array",
                    "minItems": n,
                    "maxItems": n,
                    "items": {
                        "type": "object",
                        "properties": {
                            "rationale": rationale,
                            "rating": {"type": "integer", "enum": [1, 2, 3, 4, 5]}
                        },
                        "required": ["rationale", "rating"],
                        "additionalProperties": false
                    }
                }
            },
            "required": ["ratings"],
            "additionalProperties": false
        })
    }

    /// Reads `n` ratings from a `#### Output for Text i` answer; always `n` entries.
    pub fn parse(self, output: &str, n: usize) -> Vec<ParsedRating> {
        let sections = sections(output, n);
        (1..=n)
            .map(|i| match sections.get(i - 1).copied().flatten() {
                Some(section) => parse_section(section),
                None => ParsedRating::failed(format!("no \"#### Output for Text {i}\" section")),
            })
            .collect()
    }

    /// Reads `n` ratings from a JSON answer; always `n` entries.
    pub fn parse_json(self, output: &str, n: usize) -> Vec<ParsedRating> {
        let body = strip_code_fence(output);
        // Grammar-constrained decoders (llama-cpp-python's among them) let raw
        // newlines into strings, which JSON forbids: read those as escaped.
        let value: Result<Value, _> = serde_json::from_str(body).or_else(|e| serde_json::from_str(&escape_control_characters(body)).map_err(|_| e));
        let value: Value = match value {
            Ok(value) => value,
            Err(e) => {
                return vec![ParsedRating::failed(format!("the answer is not valid JSON: {e}")); n]
            }
        };
        let items = match (value.get("ratings"), &value) {
            (Some(Value::List(items)), _) | (None, Value::List(items)) => items,
            _ => {
                return vec![
                    ParsedRating::failed(
                        "expected an object with a \"ratings\" list".to_string()
                    );
                    n
                ]
            }
        };
        (0..n)
            .map(|i| match items.get(i) {
                None => ParsedRating::failed(format!(
                    "no rating for text {}: the JSON has {}",
                    i + 1,
                    items.len()
                )),
                Some(item) => {
                    let rationale = item
                        .get("rationale")
                        .and_then(Value::as_str)
                        .map(|s| s.trim().to_string());
                    let rating = match item.get("rating") {
                        Some(Value::Int(r)) => check_range(*r as f64),
                        Some(Value::Float(r)) => check_range(*r),
                        Some(Value::Str(s)) => read_number(s),
                        Some(other) => Err(format!(
                            "expected a number for \"rating\", found {}",
                            other.describe()
                        )),
                        None => Err("no \"rating\"".to_string()),
                    };
                    ParsedRating::from_reading(rating, rationale)
                }
            })
            .collect()
    }

    /// One [`Judgment`] per text from parsed ratings, each keeping the judge's whole output.
    pub fn judgments(
        self,
        judge_id: &str,
        raw_output: &str,
        parsed: Vec<ParsedRating>,
        created_at_ms: u64,
    ) -> Vec<Judgment> {
        parsed
            .into_iter()
            .map(|p| Judgment {
                judge_id: judge_id.to_string(),
                aspect: self.aspect,
                rating: p.rating,
                rationale: p.rationale,
                raw_output: raw_output.to_string(),
                status: p.status,
                created_at_ms,
                mode: JudgeMode::Critique,
                prompt_version: crate::judge::PROMPT_VERSION.to_string(),
                confidence: None,
            })
            .collect()
    }
}

/// The body of each `Output for Text i` section, by `i - 1`; the first
/// section for an index wins. A single text answered without any header is
/// read from the whole output.
fn sections(output: &str, n: usize) -> Vec<Option<&str>> {
    const HEADER: &str = "output for text";
    // ASCII lowercasing keeps byte offsets, so positions found in `lower` index `output`.
    let lower = output.to_ascii_lowercase();
    let mut headers = Vec::new();
    let mut from = 0;
    while let Some(found) = lower[from..].find(HEADER) {
        let start = from + found;
        let after = start + HEADER.len();
        let digits: String = lower[after..]
            .trim_start()
            .chars()
            .take_while(char::is_ascii_digit)
            .collect();
        let number_end =
            after + (lower[after..].len() - lower[after..].trim_start().len()) + digits.len();
        if let Ok(index) = digits.parse::<usize>() {
            // The header's markup (`#### `, `**`) belongs to it, not to the section before.
            let markup =
                lower[..start].len() - lower[..start].trim_end_matches(['#', '*', ' ', '\t']).len();
            headers.push((start - markup, number_end, index));
        }
        from = after;
    }
    let mut result = vec![None; n];
    if headers.is_empty() {
        if n == 1 && !output.trim().is_empty() {
            result[0] = Some(output);
        }
        return result;
    }
    for (k, &(_, body_start, index)) in headers.iter().enumerate() {
        let body_end = headers
            .get(k + 1)
            .map_or(output.len(), |&(next, _, _)| next);
        if (1..=n).contains(&index) && result[index - 1].is_none() {
            result[index - 1] = Some(&output[body_start..body_end]);
        }
    }
    result
}

/// Reads `Rating:` and `Rationale:` from one section, tolerating markdown
/// (`**Rating:** 4`, `- Rating: 4/5`).
fn parse_section(section: &str) -> ParsedRating {
    let mut rating_line = None;
    let mut rationale: Option<String> = None;
    let mut in_rationale = false;
    for line in section.lines() {
        let plain = line
            .trim()
            .trim_start_matches(['#', '*', '-', ' '])
            .replace("**", "");
        let lower = plain.to_ascii_lowercase();
        if lower.starts_with("rating:") {
            if rating_line.is_none() {
                rating_line = Some(plain["rating:".len()..].trim().to_string());
            }
            in_rationale = false;
        } else if lower.starts_with("rationale:") {
            if rationale.is_none() {
                rationale = Some(plain["rationale:".len()..].trim().to_string());
            }
            in_rationale = true;
        } else if in_rationale {
            // A rationale may run over several lines.
            if let Some(r) = rationale.as_mut() {
                r.push('\n');
                r.push_str(line.trim());
            }
        }
    }
    let rationale = rationale
        .map(|r| r.trim().to_string())
        .filter(|r| !r.is_empty());
    let rating = match rating_line {
        Some(text) => read_number(&text),
        None => Err("no \"Rating:\" line".to_string()),
    };
    ParsedRating::from_reading(rating, rationale)
}

/// The number at the start of a rating ("4", "4.5", "4/5", "[4]").
fn read_number(text: &str) -> Result<f64, String> {
    let start = text.trim_start_matches(['[', '(', ' ']);
    let number: String = start
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == '.')
        .collect();
    match number.trim_end_matches('.').parse::<f64>() {
        Ok(value) => check_range(value),
        Err(_) => Err(format!(
            "could not read a number from \"Rating: {}\"",
            text.trim()
        )),
    }
}

fn check_range(value: f64) -> Result<f64, String> {
    if (MIN_RATING..=MAX_RATING).contains(&value) {
        Ok(value)
    } else {
        Err(format!("rating {value} is outside 1–5"))
    }
}

/// `text` with control characters inside JSON strings escaped (`\n` for a
/// raw newline); everything outside strings, and every escape already
/// there, is left as it is.
fn escape_control_characters(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let (mut in_string, mut escaped) = (false, false);
    for c in text.chars() {
        if in_string && !escaped && c.is_control() {
            match c {
                '\n' => out.push_str("\\n"),
                '\r' => out.push_str("\\r"),
                '\t' => out.push_str("\\t"),
                other => out.push_str(&format!("\\u{:04x}", other as u32)),
            }
            continue;
        }
        out.push(c);
        if escaped {
            escaped = false;
        } else if in_string && c == '\\' {
            escaped = true;
        } else if c == '"' {
            in_string = !in_string;
        }
    }
    out
}

/// The JSON inside a ```json fence, or the text as it is.
fn strip_code_fence(output: &str) -> &str {
    let trimmed = output.trim();
    let Some(rest) = trimmed.strip_prefix("```") else {
        return trimmed;
    };
    let rest = rest.split_once('\n').map_or(rest, |(_, body)| body);
    rest.trim_end().strip_suffix("```").unwrap_or(rest).trim()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn task() -> UltraFeedback {
        UltraFeedback::new(Aspect::InstructionFollowing)
    }

    fn ratings(parsed: &[ParsedRating]) -> Vec<Option<f64>> {
        parsed.iter().map(|p| p.rating).collect()
    }

    #[test]
    fn prompt_has_the_rubric_texts_and_one_section_per_text() {
        let messages = task().messages("Write a haiku", &["Leaves fall", "A poem"]);
        assert_eq!(messages[0], ChatMessage::system(SYSTEM_PROMPT));
        let user = &messages[1].content;
        assert!(user.starts_with("# Instruction following"));
        assert!(user.contains("Instruction: Write a haiku"));
        assert!(user.contains("<text 1> Leaves fall\n<text 2> A poem\n"));
        assert!(user.contains("#### Output for Text 1\nRating:"));
        assert!(user.contains("#### Output for Text 2\nRating:"));
        assert!(!user.contains("Output for Text 3"));
    }

    #[test]
    fn every_aspect_has_its_own_rubric() {
        let rubrics: std::collections::HashSet<_> = Aspect::ALL
            .iter()
            .map(|&a| UltraFeedback::new(a).rubric())
            .collect();
        assert_eq!(rubrics.len(), 5);
    }

    #[test]
    fn parses_ratings_and_rationales() {
        let output = "#### Output for Text 1\nRating: 4\nRationale: Good, but long.\n\n\
                      #### Output for Text 2\nRating: 2\nRationale: Off-task.\nIt ignores the form.\n";
        let parsed = task().parse(output, 2);
        assert_eq!(ratings(&parsed), [Some(4.0), Some(2.0)]);
        assert_eq!(parsed[0].rationale.as_deref(), Some("Good, but long."));
        assert_eq!(
            parsed[1].rationale.as_deref(),
            Some("Off-task.\nIt ignores the form.")
        );
        assert!(parsed.iter().all(|p| p.status == ParseStatus::Parsed));
    }

    #[test]
    fn tolerates_markdown_and_fractions() {
        let output = "### Output for Text 1:\n**Rating:** 5/5\n**Rationale:** Perfect.\n\
                      Output for text 2\n- Rating: [3]\n";
        let parsed = task().parse(output, 2);
        assert_eq!(ratings(&parsed), [Some(5.0), Some(3.0)]);
        assert_eq!(parsed[0].rationale.as_deref(), Some("Perfect."));
        assert_eq!(parsed[1].rationale, None);
    }

    #[test]
    fn an_unreadable_rating_fails_only_its_text() {
        let output = "#### Output for Text 1\nRating: high\nRationale: Great.\n\
                      #### Output for Text 2\nRating: 3\nRationale: Fine.\n";
        let parsed = task().parse(output, 2);
        assert_eq!(ratings(&parsed), [None, Some(3.0)]);
        assert_eq!(
            parsed[0].status,
            ParseStatus::Failed {
                reason: "could not read a number from \"Rating: high\"".into()
            }
        );
        // The rationale is kept even when the rating is not.
        assert_eq!(parsed[0].rationale.as_deref(), Some("Great."));
    }

    #[test]
    fn a_missing_section_fails_only_its_text() {
        let parsed = task().parse("#### Output for Text 1\nRating: 5\n", 3);
        assert_eq!(ratings(&parsed), [Some(5.0), None, None]);
        assert_eq!(
            parsed[2].status,
            ParseStatus::Failed {
                reason: "no \"#### Output for Text 3\" section".into()
            }
        );
    }

    #[test]
    fn out_of_range_and_missing_rating_line() {
        let output =
            "#### Output for Text 1\nRating: 7\n#### Output for Text 2\nRationale: no number\n";
        let parsed = task().parse(output, 2);
        assert_eq!(
            parsed[0].status,
            ParseStatus::Failed {
                reason: "rating 7 is outside 1–5".into()
            }
        );
        assert_eq!(
            parsed[1].status,
            ParseStatus::Failed {
                reason: "no \"Rating:\" line".into()
            }
        );
    }

    #[test]
    fn rationale_before_rating() {
        let parsed = task().parse("#### Output for Text 1\nRationale: Clear.\nRating: 5\n", 1);
        assert_eq!(ratings(&parsed), [Some(5.0)]);
        assert_eq!(parsed[0].rationale.as_deref(), Some("Clear."));
    }

    #[test]
    fn single_text_without_header() {
        let parsed = task().parse("Rating: 4\nRationale: ok", 1);
        assert_eq!(ratings(&parsed), [Some(4.0)]);
        assert_eq!(task().parse("", 1)[0].rating, None);
    }

    #[test]
    fn json_schema_fixes_the_count() {
        let schema = UltraFeedback::json_schema(3, None);
        assert_eq!(schema["properties"]["ratings"]["minItems"], 3);
        assert_eq!(schema["properties"]["ratings"]["items"]["properties"]["rating"]["enum"], serde_json::json!([1, 2, 3, 4, 5]));
        assert!(schema["properties"]["ratings"]["items"]["properties"]["rationale"].get("maxLength").is_none());
        assert_eq!(UltraFeedback::json_schema(1, Some(300))["properties"]["ratings"]["items"]["properties"]["rationale"]["maxLength"], 300);
        assert_eq!(
            schema["properties"]["ratings"]["items"]["required"][1],
            "rating"
        );
        let user = &task().messages_json("Q", &["a", "b", "c"])[1].content;
        assert!(user.contains("There are 3 texts."));
    }

    #[test]
    fn parses_json_answers_in_or_out_of_a_fence() {
        let output = "```json\n{\"ratings\":[{\"rationale\":\"ok\",\"rating\":4},{\"rationale\":\"bad\",\"rating\":\"2\"}]}\n```";
        let parsed = task().parse_json(output, 2);
        assert_eq!(ratings(&parsed), [Some(4.0), Some(2.0)]);
        assert_eq!(parsed[1].rationale.as_deref(), Some("bad"));
        let bare = task().parse_json("[{\"rating\": 5}]", 1);
        assert_eq!(ratings(&bare), [Some(5.0)]);
    }

    #[test]
    fn raw_newlines_in_json_strings_are_read() {
        // What llama-cpp-python's grammar let SmolLM2-135M write in a test run.
        let output = "{ \"ratings\": [{\"rating\": 1, \"rationale\": \"A moment of tea. }, {\"} , {\"rating\": 2, \"rationale\": \"Sultauren: }}, ...}\n```python\nimport json\njson_data = json.dumps({\" }] } ";
        let parsed = task().parse_json(output, 2);
        assert_eq!(ratings(&parsed), [Some(1.0), Some(2.0)]);
        assert_eq!(parsed[1].rationale.as_deref(), Some("Sultauren: }}, ...}\n```python\nimport json\njson_data = json.dumps({"));
        assert_eq!(escape_control_characters("{\"a\": \"x\\\"\ty\"}\n"), "{\"a\": \"x\\\"\\ty\"}\n");
    }

    #[test]
    fn json_failures_are_per_text() {
        let parsed = task().parse_json("{\"ratings\":[{\"rating\":\"high\"},{\"rating\":9}]}", 3);
        assert_eq!(ratings(&parsed), [None, None, None]);
        assert_eq!(
            parsed[0].status,
            ParseStatus::Failed {
                reason: "could not read a number from \"Rating: high\"".into()
            }
        );
        assert_eq!(
            parsed[1].status,
            ParseStatus::Failed {
                reason: "rating 9 is outside 1–5".into()
            }
        );
        assert_eq!(
            parsed[2].status,
            ParseStatus::Failed {
                reason: "no rating for text 3: the JSON has 2".into()
            }
        );
        let broken = task().parse_json("{\"ratings\": [", 2);
        assert_eq!(broken.len(), 2);
        assert!(
            matches!(&broken[0].status, ParseStatus::Failed { reason } if reason.starts_with("the answer is not valid JSON"))
        );
    }

    #[test]
    fn judgments_keep_judge_aspect_and_raw_output() {
        let output = "#### Output for Text 1\nRating: 4\nRationale: ok\n";
        let parsed = task().parse(output, 2);
        let judgments = task().judgments("judge-1", output, parsed, 9);
        assert_eq!(judgments.len(), 2);
        assert_eq!(judgments[0].judge_id, "judge-1");
        assert_eq!(judgments[0].aspect, Aspect::InstructionFollowing);
        assert_eq!(judgments[0].rating, Some(4.0));
        assert_eq!(judgments[1].raw_output, output);
        assert!(matches!(judgments[1].status, ParseStatus::Failed { .. }));
    }
}
