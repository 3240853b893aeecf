//! Writes the judge benchmark's requests as JSON: the 10 demo prompts, each
//! with two completions, as the logit judge asks about each completion and as
//! a critique judge asks about each prompt's two — the very messages the page
//! sends (`prefab_core::judge`).
//!
//! ```text
//! cargo run -p prefab-core --example judge_requests -- FILE
//! ```
//!
//! `cargo xtask bench judge` writes the file and serves it to
//! `tests/bench/judge_bench.mjs`, which times both judges on the local model.

use prefab_core::judge::{logit_messages, Judge, Structured, LOGIT_ANSWER_PREFIX, RATING_TOKENS};
use prefab_core::pool_plan::{PoolModel, DEMO_PROMPTS};
use prefab_core::record::{Aspect, JudgeMode};
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
    let requests = json!({
        "aspect": aspect.as_str(),
        "candidates": RATING_TOKENS,
        "records": logit.len(),
        "logit": logit,
        "critique": critique,
    });
    if let Some(parent) = std::path::Path::new(&file).parent() {
        std::fs::create_dir_all(parent)?;
    }
    std::fs::write(&file, serde_json::to_string_pretty(&requests)?)?;
    Ok(())
}
