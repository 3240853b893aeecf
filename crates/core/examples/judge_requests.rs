//! Writes the model benchmarks' requests as JSON, the very messages the page
//! sends (`prefab_core::judge`, `prefab_core::pool_plan`):
//!
//! - `logit` and `critique`: the 10 demo prompts, each with two completions,
//!   as the logit judge asks about each completion and as a critique judge
//!   asks about each prompt's two (`cargo xtask bench judge`);
//! - `judge_job`: the logit judge's 40 records, the demo prompts with four
//!   completions each, prompt after prompt as a judge run orders them (issue
//!   16's judge job, in `cargo xtask bench model`);
//! - `pool`: the conversation a pool entry with no system prompt sends for
//!   each demo prompt, and the entry's settings: 4 samples of 64 tokens at
//!   temperature 0.7 (issue 16's pool job, in `cargo xtask bench model`).
//!
//! ```text
//! cargo run -p prefab-core --example judge_requests -- FILE
//! ```
//!
//! `cargo xtask bench judge` and `cargo xtask bench model` write the file and
//! serve it to `tests/bench/judge_bench.mjs` and `tests/bench/model_bench.mjs`.

use prefab_core::judge::{logit_messages, Judge, Structured, LOGIT_ANSWER_PREFIX, RATING_TOKENS};
use prefab_core::pool_plan::{PoolEntry, PoolModel, DEMO_PROMPTS};
use prefab_core::record::{Aspect, JudgeMode, Prompt};
use serde_json::json;

/// Two answers to each demo prompt: a haiku, and a weaker answer in prose.
const ANSWERS: [[&str; 2]; 10] = [
    ["Granite shoulders rise\nclouds rest on the silent peaks\nthe valley breathes slow", "Mountains are very tall and they have snow on the top of them, which is nice to look at."],
    ["Black waves fold and hush\nthe moon spills a silver road\nboats sleep on the tide", "The sea at night is dark. You can hear the waves. It is a haiku about the sea."],
    ["Shutters lift and sigh\nbuses hum through the blue dawn\ncoffee steam rises", "A city wakes up when people go to work and the sun comes up in the morning."],
    ["Red leaves drift and spin\nthe maple lets go of summer\nfootsteps crunch the gold", "Autumn leaves fall from trees in autumn. They are red, orange and yellow."],
    ["Steam curls from the cup\njasmine warms the quiet hands\nthe kettle cools down", "Tea is a drink made from leaves. Many people drink a cup of tea every day."],
    ["Snow on the cobbles\nstreetlamps hold their yellow breath\nno one walks tonight", "Snow falls on the street and it is quiet because there are no cars."],
    ["Curled on the warm sill\nthe cat drinks the afternoon\none ear hears the birds", "Cats like to sit in the sun because it is warm. This cat is in the sun."],
    ["Thin green on the branch\nthe first robin tests the air\nmud softens the path", "Spring starts in March. The first day of spring has flowers and birds."],
    ["Dust on leather spines\nwhispers sleep between the shelves\na lamp guards the words", "An old library has a lot of old books in it and it is very quiet."],
    ["The sky cracks open\nrain drums on the tin rooftops\nthe dog hides and shakes", "A thunderstorm has thunder and lightning and rain, and it can be scary."],
];

/// Two more answers to each demo prompt, for the judge job's 40 records: a
/// plain haiku, and an answer about something else. Distinct texts, so no
/// record's prompt is another's and every pass reads its own completion.
const MORE_ANSWERS: [[&str; 2]; 10] = [
    ["Mountains very high\nthe snow is white on the top\nI like the mountains", "Here is a poem about the sea: the waves come in and the waves go out all day."],
    ["The sea is so dark\nat night I cannot see it\nbut I hear the waves", "Mountains at night are cold and quiet, and the stars shine over the peaks."],
    ["The city wakes up\npeople go to work by car\nit is morning now", "I cannot write a haiku, but cities are large places where many people live."],
    ["Leaves fall in autumn\nthey are red and they are brown\nthe trees are empty", "Summer is the warmest season, with long days and short nights."],
    ["I drink a cup of tea\nit is hot and it is good\ntea is very nice", "Coffee is made from roasted beans and many people drink it in the morning."],
    ["Snow falls on the street\nit is cold and it is white\nthe street is quiet", "Rain falls on the street in spring and the street gets wet."],
    ["The cat is in the sun\nthe cat is warm and happy\nthe cat likes the sun", "Dogs are loyal animals that like to play fetch in the park."],
    ["Spring is here at last\nthe flowers grow in the ground\nbirds sing in the trees", "Winter is cold and the days are short, and it often snows."],
    ["The library is old\nit has many books to read\nit is very quiet", "A new school has bright classrooms and a big playground."],
    ["Thunder in the sky\nlightning flashes and it rains\nthe storm is loud", "A sunny day is nice for a walk in the park with friends."],
];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let file = std::env::args().nth(1).ok_or("usage: judge_requests FILE")?;
    let aspect = Aspect::OverallRating;
    let critic = Judge { id: "bench".into(), model: PoolModel::Local, mode: JudgeMode::Critique, aspect, structured: Structured::Off };
    let mut logit = Vec::new();
    let mut critique = Vec::new();
    for (prompt, answers) in DEMO_PROMPTS.iter().zip(ANSWERS) {
        for answer in answers {
            logit.push(json!({"messages": logit_messages(aspect, prompt, answer), "answer_prefix": LOGIT_ANSWER_PREFIX}));
        }
        critique.push(json!({"messages": critic.critique_messages(prompt, &answers), "texts": answers.len()}));
    }
    let mut judge_job = Vec::new();
    for ((prompt, answers), more) in DEMO_PROMPTS.iter().zip(ANSWERS).zip(MORE_ANSWERS) {
        for answer in answers.iter().chain(&more) {
            judge_job.push(json!({"messages": logit_messages(aspect, prompt, answer), "answer_prefix": LOGIT_ANSWER_PREFIX}));
        }
    }
    // A local pool entry as the page adds one: no system prompt, so the
    // conversation is the prompt alone (the model's template adds its own).
    let entry = PoolEntry {
        id: "bench".into(),
        model: PoolModel::Local,
        system_prompt: None,
        temperature: 0.7,
        top_p: 0.9,
        max_new_tokens: 64,
        generations_per_prompt: 4,
    };
    let conversations: Vec<_> = DEMO_PROMPTS.iter().map(|text| entry.messages(&Prompt::new(*text))).collect();
    let pool = json!({
        "conversations": conversations,
        "samples": entry.generations_per_prompt,
        "temperature": entry.temperature,
        "top_p": entry.top_p,
        "max_new_tokens": entry.max_new_tokens,
    });
    let requests = json!({
        "aspect": aspect.as_str(),
        "candidates": RATING_TOKENS,
        "records": logit.len(),
        "logit": logit,
        "critique": critique,
        "judge_job": judge_job,
        "pool": pool,
    });
    if let Some(parent) = std::path::Path::new(&file).parent() {
        std::fs::create_dir_all(parent)?;
    }
    std::fs::write(&file, serde_json::to_string_pretty(&requests)?)?;
    Ok(())
}
