// Loading: progress reports and what the engine tells about the model.

use prefab_llm::{Engine, LoadOptions, LoadProgress, LoadStage};

use crate::common::{engine, engine_q4_1, model_bytes, no_clock, patched, string_entry};

#[test]
fn loading_reports_progress_in_order_up_to_every_tensor() {
    let mut reports: Vec<LoadProgress> = Vec::new();
    Engine::load(model_bytes(), &LoadOptions::default(), |progress| reports.push(progress))
        .unwrap();
    assert_eq!(reports[0], LoadProgress { stage: LoadStage::Tokenizer, done: 0, total: 1 });
    assert_eq!(reports[1], LoadProgress { stage: LoadStage::Tokenizer, done: 1, total: 1 });
    let weights: Vec<&LoadProgress> = reports[2..].iter().collect();
    assert!(weights.iter().all(|p| p.stage == LoadStage::Weights && p.total == 272));
    assert!(weights.windows(2).all(|pair| pair[0].done <= pair[1].done));
    assert_eq!(weights.last().unwrap().done, 272);
}

#[test]
fn the_model_info_tells_what_was_loaded() {
    let info = engine().info().clone();
    assert_eq!(info.architecture, "llama");
    assert_eq!(info.context_length, 8192);
    assert_eq!(info.vocab_size, 49152);
    assert_eq!(info.file_bytes, model_bytes().len() as u64);
    assert!((134_000_000..136_000_000).contains(&info.parameters), "{}", info.parameters);
    let types: Vec<(&str, usize)> =
        info.file_tensor_types.iter().map(|(name, count)| (name.as_str(), *count)).collect();
    assert_eq!(types, [("F32", 61), ("Q4_1", 210), ("Q8_0", 1)]);
    assert_eq!(info.requantized_tensors, 210);

    let original = engine_q4_1().info().clone();
    assert_eq!(original.requantized_tensors, 0);
    // Q4_1 takes 20 bytes per 32 weights, and Q8_0 in the engine 36 (32
    // bytes and an f32 scale): the 210 matrices grow by 16/20 of their size.
    let q4_1_matrices = original.weights_bytes - EMBEDDING_AND_NORMS;
    assert_eq!(info.weights_bytes - original.weights_bytes, q4_1_matrices * 16 / 20);
}

/// The bytes of what is not re-quantized: the Q8_0 embedding table
/// (49,152 × 576, 36 bytes per 32 weights in the engine) and the f32 norms
/// (two per layer and the final one).
const EMBEDDING_AND_NORMS: u64 = 49152 * 576 / 32 * 36 + (30 * 2 + 1) * 576 * 4;
#[test]
fn the_hub_repo_the_metadata_names_is_reported_and_the_test_model_names_none() {
    // SmolLM2-135M-Instruct's Q4_1 GGUF has no general.source.huggingface.repository:
    // its generations are named by general.name unless the organizer names them.
    assert_eq!(engine().info().hub_repository, None);
    assert_eq!(engine().info().name, "Smollm2 135M 8k Lc100K Mix1 Ep2");
    // The same entry length, so the file's layout stays as it was.
    let tagged = patched(
        &string_entry("general.name", "Smollm2 135M 8k Lc100K Mix1 Ep2"),
        &string_entry("general.source.huggingface.repository", "HF/sm2"),
    );
    let info = Engine::load(&tagged, &LoadOptions::default(), |_| {}).unwrap().info().clone();
    assert_eq!(info.hub_repository.as_deref(), Some("HF/sm2"));
}

/// The model file as the browser hands it to the engine: every read a copy
/// of the range asked for, recorded.
struct RecordedFile {
    reads: std::cell::RefCell<Vec<(u64, usize)>>,
}

impl prefab_llm::FileBytes for RecordedFile {
    fn size(&self) -> u64 {
        model_bytes().len() as u64
    }

    fn read(&self, offset: u64, len: usize) -> Result<std::borrow::Cow<'_, [u8]>, prefab_llm::Error> {
        self.reads.borrow_mut().push((offset, len));
        let start = offset as usize;
        Ok(std::borrow::Cow::Owned(model_bytes()[start..start + len].to_vec()))
    }
}

#[test]
fn a_file_read_a_range_at_a_time_is_read_once_and_never_whole() {
    let file = RecordedFile { reads: Default::default() };
    let loaded = Engine::load(&file, &LoadOptions::default(), |_| {}).unwrap();
    let reads = file.reads.take();
    // The largest tensor is the Q8_0 embedding table: 49,152 × 576 weights
    // in 34 bytes per 32. No read is bigger, so the load held at most that
    // much of the file besides the weights.
    let largest_tensor = 49152 * 576 / 32 * 34;
    assert!(reads.iter().all(|&(_, len)| len <= largest_tensor), "{reads:?}");
    assert!(reads.iter().any(|&(_, len)| len == largest_tensor));
    // Each byte read once, but for the start (24 bytes, to tell a GGUF file
    // from anything else) and the header's last window, which runs on into
    // the first tensors (windows of 1 MiB).
    assert_eq!(reads[0], (0, 24));
    let read: u64 = reads.iter().map(|&(_, len)| len as u64).sum();
    assert!(read <= model_bytes().len() as u64 + 24 + (1 << 20), "{read} bytes read");

    let params = prefab_llm::GenerationParams { temperature: 0.0, max_new_tokens: 16, ..Default::default() };
    let messages = [prefab_llm::ChatMessage::user("Name a colour.")];
    let generate = |engine: &Engine| {
        engine.generate_chat(&messages, &params, &no_clock, |_| std::ops::ControlFlow::Continue(())).unwrap().text
    };
    assert_eq!(generate(&loaded), generate(&engine()));
}
