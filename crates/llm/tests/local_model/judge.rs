// The judge's next-token probabilities, and what re-quantization does to them.

use std::io::Cursor;

use candle_core::quantized::gguf_file::Content;
use candle_core::{Device, Tensor};
use candle_transformers::models::quantized_llama::ModelWeights;
use prefab_llm::{ChatMessage, ErrorCode, Prompt};

use crate::common::{engine, engine_q4_1, model_bytes, no_clock};

fn digits() -> Vec<String> {
    (1..=5).map(|n| n.to_string()).collect()
}

fn rating_prompt(answer: &str) -> Prompt {
    Prompt::Chat {
        messages: vec![ChatMessage::user(format!(
            "Rate this answer to \"What is the capital of France?\" from 1 (bad) to 5 (perfect). \
             Answer: {answer}"
        ))],
        answer_prefix: "Rating: ".into(),
    }
}

fn argmax(probabilities: &[f64]) -> usize {
    (0..probabilities.len()).max_by(|&a, &b| probabilities[a].total_cmp(&probabilities[b])).unwrap()
}

#[test]
fn candidate_probabilities_are_finite_and_sum_to_at_most_one() {
    let mut engine = engine();
    let prompt = engine.render(&rating_prompt("Paris.")).unwrap();
    let probabilities = engine.score(&prompt, &digits()).unwrap();
    assert_eq!(probabilities.len(), 5);
    assert!(
        probabilities.iter().all(|p| p.is_finite() && (0.0..=1.0).contains(p)),
        "{probabilities:?}"
    );
    let sum: f64 = probabilities.iter().sum();
    assert!(sum > 0.0 && sum <= 1.0 + 1e-9, "{probabilities:?}");
    // The judge sees the whole vocabulary: the candidates' share matches it.
    let all = engine.next_token_probabilities(&prompt).unwrap();
    for (candidate, p) in digits().iter().zip(&probabilities) {
        let id = engine.tokenize(candidate).unwrap()[0] as usize;
        assert_eq!(all[id], *p);
    }
    assert!((all.iter().sum::<f64>() - 1.0).abs() < 1e-6);
}

/// Both weight paths quantize activations to 8 bits inside their kernels,
/// which alone moves this tiny model's probabilities by a few points (the
/// Q4_1 kernel is about 0.04 from exact f32 arithmetic on its own weights
/// on the near-tie rating prompts), so "close" allows 0.15; a broken
/// conversion moves them by far more.
const CLOSE: f64 = 0.15;

#[test]
fn requantizing_to_q8_0_keeps_the_top_token_and_the_probabilities_close() {
    let prompts = [
        rating_prompt("Paris."),
        rating_prompt("Berlin, obviously."),
        Prompt::Chat {
            messages: vec![ChatMessage::user("Write a haiku about mountains.")],
            answer_prefix: String::new(),
        },
        Prompt::Chat {
            messages: vec![ChatMessage::user("What is the capital of France?")],
            answer_prefix: "The capital of France is".into(),
        },
        Prompt::Text { text: "The capital of France is".into() },
        Prompt::Text { text: "One, two, three, four,".into() },
    ];
    let mut clear_leaders = 0;
    for prompt in &prompts {
        let text = engine().render(prompt).unwrap();
        let q8_0 = engine().next_token_probabilities(&text).unwrap();
        let q4_1 = engine_q4_1().next_token_probabilities(&text).unwrap();
        let differences = || q8_0.iter().zip(&q4_1).map(|(a, b)| (a - b).abs());
        let total_variation = differences().sum::<f64>() / 2.0;
        let worst = differences().fold(0.0, f64::max);
        println!("{prompt:?}: total variation {total_variation:.4}, largest change {worst:.4}");
        assert!(total_variation < CLOSE, "total variation {total_variation} for {prompt:?}");
        assert!(worst < CLOSE, "a token's probability moved by {worst} for {prompt:?}");

        // Where the original's top token clearly leads, it stays on top;
        // near-ties (the two rating prompts) may flip either way.
        let mut ranked: Vec<usize> = (0..q4_1.len()).collect();
        ranked.sort_by(|&a, &b| q4_1[b].total_cmp(&q4_1[a]));
        if q4_1[ranked[0]] - q4_1[ranked[1]] > 0.1 {
            clear_leaders += 1;
            assert_eq!(argmax(&q8_0), ranked[0], "{prompt:?}");
        }
    }
    assert!(clear_leaders >= 3, "only {clear_leaders} prompts had a clear top token");
}

#[test]
fn the_decoder_agrees_with_candles_reference_llama() {
    let mut engine = engine_q4_1();
    let prompt = engine.render(&rating_prompt("Paris.")).unwrap();
    let ids = engine.tokenize(&prompt).unwrap();
    let ours = engine.next_token_probabilities(&prompt).unwrap();

    let mut reader = Cursor::new(model_bytes());
    let content = Content::read(&mut reader).unwrap();
    let mut reference = ModelWeights::from_gguf(content, &mut reader, &Device::Cpu).unwrap();
    let input = Tensor::new(ids.as_slice(), &Device::Cpu).unwrap().unsqueeze(0).unwrap();
    let logits =
        reference.forward(&input, 0).unwrap().squeeze(0).unwrap().to_vec1::<f32>().unwrap();
    let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let exps: Vec<f64> = logits.iter().map(|&l| f64::from(l - max).exp()).collect();
    let sum: f64 = exps.iter().sum();
    let theirs: Vec<f64> = exps.iter().map(|e| e / sum).collect();

    assert_eq!(argmax(&ours), argmax(&theirs));
    // The engine's attention sums in another order than candle's matrix
    // product, and the 8-bit quantization of the activations turns those
    // last-bit differences into probabilities a hundredth or two apart on
    // this prompt (the synthetic models agree with candle's to 1e-3 in
    // `model.rs`); a broken decoder moves them by far more.
    let worst = ours.iter().zip(&theirs).map(|(a, b)| (a - b).abs()).fold(0.0, f64::max);
    assert!(worst < 0.05, "a token's probability differs by {worst}");
}

#[test]
fn candidates_must_be_distinct_single_tokens() {
    let mut engine = engine();
    let prompt = engine.render(&rating_prompt("Paris.")).unwrap();
    let cases: [Vec<String>; 3] =
        [vec![], vec!["1".into(), "excellent answer".into()], vec!["5".into(), "5".into()]];
    for candidates in cases {
        let error = engine.score(&prompt, &candidates).unwrap_err();
        assert_eq!(error.code(), ErrorCode::InvalidCandidates, "{candidates:?}: {error}");
    }
}

#[test]
fn a_shared_beginning_is_read_once_and_the_probabilities_do_not_change() {
    // A judge's records share its instructions and differ in the answer.
    let mut judge = engine();
    let first = judge.render(&rating_prompt("Paris.")).unwrap();
    let second = judge.render(&rating_prompt("Lyon, I think.")).unwrap();
    judge.score(&first, &digits()).unwrap();
    let reused = judge.score(&second, &digits()).unwrap();
    // A generation reuses nothing and leaves nothing to reuse: the next
    // judge pass reads the whole prompt afresh.
    let params = prefab_llm::GenerationParams { max_new_tokens: 4, ..Default::default() };
    judge.generate(&first, &params, &no_clock, |_| std::ops::ControlFlow::Continue(())).unwrap();
    let fresh = judge.score(&second, &digits()).unwrap();
    for (a, b) in reused.iter().zip(&fresh) {
        assert!((a - b).abs() < 1e-4, "{reused:?} against a fresh pass {fresh:?}");
    }
    // The same prompt again gives the very same numbers.
    assert_eq!(judge.score(&second, &digits()).unwrap(), fresh);
}
