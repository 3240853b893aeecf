//! The workloads `cargo xtask bench` times, natively and in the browser.
//!
//! Pure like the rest of the crate: the caller passes its clock
//! (`std::time::Instant` natively, `performance.now()` in a browser), so the
//! same rows are timed the same way on both.
//!
//! - [`run`]: the dataset core's busiest steps (`cargo xtask bench core`);
//! - [`campaign_files`] and [`collect_chain`]: Export → Collect on a campaign
//!   of 100 people × 200 ratings (`cargo xtask bench collect`), with
//!   [`CountingAllocator`] for the memory it takes.

use crate::campaign::{collect, contribution_file, tally, CampaignError, ContributionFile, Source, CONTRIBUTIONS_FOLDER};
use crate::contribute::{RatingMode, Session, SessionOptions, Target};
use crate::export::binarize::BinarizePolicy;
use crate::export::dpo::{dpo, DpoOptions};
use crate::prng::SplitMix64;
use crate::prompt_import::{import_prompts, Format};
use crate::record::{sha256_hex, Aspect, Generation, HumanRating, JudgeMode, Judgment, ParseStatus, Prompt, RatingValue, Record, Verdict};
use crate::write::parquet::to_parquet;
use crate::Error;
use std::alloc::{GlobalAlloc, Layout, System};
use std::collections::HashSet;
use std::sync::atomic::{AtomicUsize, Ordering};

/// One timed step.
#[derive(Debug, Clone, PartialEq)]
pub struct Measurement {
    /// What was timed, such as `jsonl import`.
    pub step: &'static str,
    /// How many rows it handled.
    pub rows: usize,
    /// How long it took, in seconds.
    pub seconds: f64,
    /// Extra facts, such as the size of the input.
    pub detail: String,
}

impl Measurement {
    /// A line such as `jsonl import: 650000 rows/s (100000 rows, 0.154 s, …)`.
    pub fn line(&self) -> String {
        format!(
            "{}: {:.0} rows/s ({} rows, {:.3} s{})",
            self.step,
            self.rows as f64 / self.seconds.max(1e-9),
            self.rows,
            self.seconds,
            self.detail
        )
    }
}

/// Imports `rows` JSONL prompts, then binarizes and writes `rows` DPO rows as
/// Parquet; `now` returns seconds from any fixed start.
pub fn run(rows: usize, now: impl Fn() -> f64) -> Result<Vec<Measurement>, Error> {
    // A JSONL file of `rows` prompts of a realistic length, with an id column
    // and one duplicate in every hundred rows.
    let mut jsonl = String::with_capacity(rows * 200);
    for i in 0..rows {
        let n = if i % 100 == 99 { i - 1 } else { i };
        jsonl.push_str(&format!(
            "{{\"id\":{i},\"prompt\":\"Prompt number {n}: explain, step by step and with an example, how \
             a hash map handles collisions, and when a B-tree is the better choice.\",\"source\":\"bench\"}}\n"
        ));
    }
    let start = now();
    let imported = import_prompts(jsonl.as_bytes(), "bench.jsonl", Some(Format::Jsonl), None)?;
    let import = Measurement {
        step: "jsonl import",
        rows,
        seconds: now() - start,
        detail: format!(", {:.1} MB, {} duplicates dropped", jsonl.len() as f64 / 1e6, imported.duplicates_dropped),
    };

    // `rows` prompts with two judged generations each, so every one gives a DPO pair.
    let records: Vec<Record> = (0..rows)
        .map(|i| {
            let mut record = Record::new(Prompt::new(format!("Prompt {i}: explain hash map collisions.")));
            for (g, rating) in [(0, 5.0), (1, 2.0)] {
                let text = format!("Answer {g} to prompt {i}: a hash map resolves collisions by chaining or probing.");
                record.generations.push(Generation {
                    id: format!("{i}-{g}"),
                    model_id: format!("model-{g}"),
                    raw_text: text.clone(),
                    text,
                    judgments: vec![Judgment {
                        judge_id: "judge".into(),
                        aspect: Aspect::OverallRating,
                        rating: Some(rating),
                        rationale: None,
                        raw_output: String::new(),
                        status: ParseStatus::Parsed,
                        created_at_ms: 0,
                        mode: JudgeMode::Critique,
                        prompt_version: String::new(),
                        confidence: None,
                    }],
                    ..Default::default()
                });
            }
            record
        })
        .collect();
    let start = now();
    let export = dpo(&records, &DpoOptions { policy: BinarizePolicy::default(), ..Default::default() });
    let binarize = Measurement { step: "dpo binarize", rows: export.table.len(), seconds: now() - start, detail: String::new() };
    let start = now();
    let bytes = to_parquet(&export.table)?;
    let parquet = Measurement {
        step: "parquet export",
        rows: export.table.len(),
        seconds: now() - start,
        detail: format!(", {:.1} MB", bytes.len() as f64 / 1e6),
    };
    Ok(vec![import, binarize, parquet])
}

/// Issue #12's campaign: prompts, each with two completions asked A vs B.
pub const COLLECT_PROMPTS: usize = 500;
/// Issue #12's campaign: the people who rate.
pub const COLLECT_PEOPLE: usize = 100;
/// Issue #12's campaign: each person's ratings, changed answers included.
pub const COLLECT_RATINGS_EACH: usize = 200;
/// Issue #12's campaign: ratings per contribution file, as the page sends them.
pub const COLLECT_BATCH: usize = 10;

/// A campaign as Collect finds it on the Hub: its records, the questions it
/// asks, and every contribution file on `main` and on the open pull requests.
#[derive(Debug, Clone)]
pub struct CampaignFiles {
    /// The kind of question (A vs B).
    pub mode: RatingMode,
    /// The prompts and their completions.
    pub records: Vec<Record>,
    /// The questions the campaign asks, as the page derives them.
    pub question_ids: HashSet<String>,
    /// The contribution files, in the order the Hub lists them.
    pub files: Vec<ContributionFile>,
    /// The people's ratings in the files, changed answers included.
    pub ratings: usize,
    /// Of those, answers that replace the same person's earlier answer.
    pub changed: usize,
    /// Lines in the files that claim someone else as their author.
    pub forged: usize,
    /// The files' total size.
    pub bytes: usize,
}

/// Generates a campaign deterministically: `prompts` prompts with two
/// completions each, asked A vs B; `people` people with `ratings_each`
/// ratings each, sent in files of `batch`.
///
/// Like a real one: some items are popular, some are rated by few, and the
/// last 5% by no one; people mostly agree on each item's answer; from the
/// second file on, each file's last rating changes an answer sent in an
/// earlier file; the first 30% of the people's pull requests are merged
/// (their files are on `main`), the others open. Then one more pull request
/// tries two forgeries — a file in someone else's folder, and a file of its
/// own whose lines claim another author — that Collect must reject.
pub fn campaign_files(prompts: usize, people: usize, ratings_each: usize, batch: usize) -> Result<CampaignFiles, CampaignError> {
    const SEED: u64 = 12;
    const MODELS: [&str; 2] = ["Qwen/Qwen2.5-0.5B-Instruct", "HuggingFaceTB/SmolLM2-360M-Instruct"];
    const TOPICS: [&str; 5] = ["a hash map handles collisions", "TCP recovers a lost packet", "a B-tree stays balanced", "garbage collectors find garbage", "a compiler inlines a call"];
    let mode = RatingMode::Pairwise;
    let question = mode.default_question();
    let batch = batch.max(1);

    let records: Vec<Record> = (0..prompts)
        .map(|i| {
            let topic = TOPICS[i % TOPICS.len()];
            let mut record = Record::new(Prompt::new(format!("Question {i}: explain, step by step and with an example, how {topic}.")));
            for (g, model) in MODELS.iter().enumerate() {
                let text = format!(
                    "Answer {g} to question {i}. Here is how {topic}: first, the structure notices the problem; then it applies \
                     its rule, as the example below shows step by step; finally it checks the result. In short, {topic} by design."
                );
                let mut generation = Generation {
                    model_id: (*model).to_owned(),
                    rendered_prompt: format!("<|user|>\n{}\n<|assistant|>\n", record.prompt.text),
                    raw_text: text.clone(),
                    text,
                    seed: Some(i as u64),
                    created_at_ms: 1_760_000_000_000 + i as u64 * 1_000,
                    ..Default::default()
                };
                generation.id = generation.compute_id(&record.prompt.id);
                record.generations.push(generation);
            }
            record
        })
        .collect();

    // The questions and their A/B sides, exactly as the page derives them.
    let options = SessionOptions { mode, annotator: "-".into(), question: String::new(), seed: SEED };
    let session = Session::new(options, records.iter().map(Target::from), []).expect("an annotator is named");
    let items: Vec<(String, String, String)> = session
        .items()
        .iter()
        .map(|item| (item.question_id(mode), item.shown[0].clone(), item.shown[1].clone()))
        .collect();
    let question_ids: HashSet<String> = items.iter().map(|(id, _, _)| id.clone()).collect();
    // The answer most people give to each item.
    let consensus: Vec<Verdict> = items
        .iter()
        .map(|(id, _, _)| match SplitMix64::for_key(SEED, id).below(100) {
            0..=44 => Verdict::A,
            45..=89 => Verdict::B,
            90..=96 => Verdict::Tie,
            _ => Verdict::BothBad,
        })
        .collect();
    // Item i's weight falls from 1 to 0.05 across the items anyone rates.
    let reachable = items.len() - items.len() / 20;
    let weight = |i: usize| 0.05 + 0.95 * (1.0 - i as f64 / reachable.max(1) as f64).powi(2);
    let uniform = |rng: &mut SplitMix64| (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
    let verdicts = [Verdict::A, Verdict::B, Verdict::Tie, Verdict::BothBad];

    let mut files = Vec::new();
    let (mut ratings, mut changed) = (0, 0);
    for p in 0..people {
        let annotator = format!("rater-{p:03}");
        let mut rng = SplitMix64::for_key(SEED, &annotator);
        // Positions that change an earlier file's answer: each file's last, from the second file on.
        let is_change = |k: usize| k >= batch && k % batch == batch - 1;
        let fresh = (0..ratings_each).filter(|&k| !is_change(k)).count().min(reachable);
        // Weighted sampling without replacement (Efraimidis–Spirakis): the
        // `fresh` items with the largest u^(1/w), in a random order.
        let mut keyed: Vec<(f64, usize)> = (0..reachable).map(|i| (uniform(&mut rng).powf(1.0 / weight(i)), i)).collect();
        keyed.sort_by(|x, y| y.0.total_cmp(&x.0));
        let mut picked: Vec<usize> = keyed.into_iter().take(fresh).map(|(_, i)| i).collect();
        for i in (1..picked.len()).rev() {
            picked.swap(i, rng.below(i + 1));
        }
        let mut picked = picked.into_iter();
        let mut answered: Vec<(usize, Verdict)> = Vec::new();
        let mut mine: Vec<HumanRating> = Vec::new();
        let started = 1_761_000_000_000 + p as u64 * 3_600_000;
        for k in 0..ratings_each {
            let at = started + k as u64 * 9_000 + rng.below(6_000) as u64;
            let (item, verdict) = if is_change(k) && !answered.is_empty() {
                // A changed mind: another answer to a question from an earlier file.
                let (item, _) = answered[rng.below(k - k % batch)];
                let before = answered.iter().rev().find(|(i, _)| *i == item).map_or(Verdict::Tie, |&(_, v)| v);
                let others: Vec<Verdict> = verdicts.into_iter().filter(|v| *v != before).collect();
                changed += 1;
                (item, others[rng.below(others.len())])
            } else {
                let Some(item) = picked.next() else { break };
                let verdict = if rng.below(100) < 75 { consensus[item] } else { verdicts[rng.below(verdicts.len())] };
                (item, verdict)
            };
            answered.push((item, verdict));
            let (_, a, b) = &items[item];
            mine.push(HumanRating {
                annotator: annotator.clone(),
                question: question.to_owned(),
                value: RatingValue::Pairwise { a: a.clone(), b: b.clone(), verdict },
                created_at_ms: at,
            });
        }
        ratings += mine.len();
        let source = if p < people * 3 / 10 { Source::Main } else { Source::PullRequest { num: p as u64 + 1, author: annotator.clone() } };
        for chunk in mine.chunks(batch) {
            let (path, text) = contribution_file(&annotator, chunk)?;
            files.push(ContributionFile { source: source.clone(), path, text });
        }
    }

    // Mallory's pull request: a file in rater-000's folder, and one in her
    // own whose lines claim to be rater-001's.
    let mut forged = 0;
    if people >= 2 && !items.is_empty() {
        let mallory = Source::PullRequest { num: people as u64 + 1, author: "mallory".into() };
        let claim = |annotator: &str, k: usize| HumanRating {
            annotator: annotator.to_owned(),
            question: question.to_owned(),
            value: RatingValue::Pairwise { a: items[k % items.len()].1.clone(), b: items[k % items.len()].2.clone(), verdict: Verdict::BothBad },
            created_at_ms: 1_762_000_000_000 + k as u64,
        };
        let in_their_folder: Vec<HumanRating> = (0..batch).map(|k| claim("rater-000", k)).collect();
        let (path, text) = contribution_file("rater-000", &in_their_folder)?;
        files.push(ContributionFile { source: mallory.clone(), path, text });
        let text: String = (0..batch).map(|k| serde_json::to_string(&claim("rater-001", k)).unwrap_or_default() + "\n").collect();
        let path = format!("{CONTRIBUTIONS_FOLDER}mallory/{}.jsonl", &sha256_hex(&[text.as_bytes()])[..32]);
        files.push(ContributionFile { source: mallory, path, text });
        forged = 2 * batch;
    }
    let bytes = files.iter().map(|file| file.text.len()).sum();
    Ok(CampaignFiles { mode, records, question_ids, files, ratings, changed, forged, bytes })
}

/// One run of Collect's chain and what it found.
#[derive(Debug, Clone, PartialEq)]
pub struct CollectRun {
    /// Seconds to merge the files: [`collect`].
    pub merge: f64,
    /// Seconds to count what was merged: [`tally`] (the campaign's questions,
    /// coverage, answers per person, agreement).
    pub tally: f64,
    /// Files read.
    pub files: usize,
    /// Files rejected.
    pub rejected: usize,
    /// Answers kept: each person's newest per question.
    pub kept: usize,
    /// People with a kept answer.
    pub people: usize,
    /// Items by number of ratings: `(ratings, items)`.
    pub histogram: Vec<(usize, usize)>,
    /// The agreement statistic, when defined.
    pub agreement_value: Option<f64>,
    /// Items it rests on.
    pub agreement_units: usize,
}

impl CollectRun {
    /// The whole chain's seconds.
    pub fn seconds(&self) -> f64 {
        self.merge + self.tally
    }
}

/// Export → Collect's work once the files are read, as the page does it
/// (`crates/app/src/collect.rs`): merge `files` (the campaign's, or a copy),
/// then [`tally`] what was merged.
pub fn collect_chain(campaign: &CampaignFiles, files: Vec<ContributionFile>, now: impl Fn() -> f64) -> CollectRun {
    let start = now();
    let collected = collect(files);
    let merged = now();
    let counted = tally(campaign.mode, &campaign.question_ids, collected.ratings);
    let tallied = now();
    CollectRun {
        merge: merged - start,
        tally: tallied - merged,
        files: collected.files,
        rejected: collected.rejected.len(),
        kept: counted.ratings.len(),
        people: counted.people.len(),
        histogram: counted.histogram,
        agreement_value: counted.agreement.value,
        agreement_units: counted.agreement.units,
    }
}

/// The median of some seconds (0 for none).
fn median(mut seconds: Vec<f64>) -> f64 {
    seconds.sort_by(f64::total_cmp);
    match seconds.len() {
        0 => 0.0,
        n if n % 2 == 1 => seconds[n / 2],
        n => (seconds[n / 2 - 1] + seconds[n / 2]) / 2.0,
    }
}

/// A line such as `collect: 400000 ratings/s (20000 ratings in 2002 files, 6.4 MB;
/// median 50.0 ms of 5 = merge 42.0 + tally 8.0; …)`, with
/// `memory` (the caller's figures) at the end.
pub fn collect_line(campaign: &CampaignFiles, runs: &[CollectRun], memory: &str) -> String {
    let total = median(runs.iter().map(CollectRun::seconds).collect());
    let step = |of: fn(&CollectRun) -> f64| median(runs.iter().map(of).collect()) * 1e3;
    let Some(last) = runs.last() else { return "collect: no runs".into() };
    let items: usize = last.histogram.iter().map(|(_, items)| items).sum();
    let unrated = last.histogram.first().map_or(0, |&(ratings, items)| if ratings == 0 { items } else { 0 });
    let most = last.histogram.last().map_or(0, |&(ratings, _)| ratings);
    let value = last.agreement_value.map_or_else(|| "undefined".to_owned(), |value| format!("{value:.3}"));
    format!(
        "collect: {:.0} ratings/s ({} ratings in {} files, {:.1} MB; median {:.1} ms of {} = merge {:.1} + tally {:.1}; \
         {} answers kept ({} changed), {} files rejected, {} people, items rated 0..{most} times ({unrated} of {items} by no one), α {value} over {} items{memory})",
        campaign.ratings as f64 / total.max(1e-9),
        campaign.ratings,
        last.files,
        campaign.bytes as f64 / 1e6,
        total * 1e3,
        runs.len(),
        step(|run| run.merge),
        step(|run| run.tally),
        last.kept,
        campaign.changed,
        last.rejected,
        last.people,
        last.agreement_units,
    )
}

/// A global allocator that counts the bytes allocated and not yet freed, and
/// their peak: the benchmarks' memory figure, the same natively and in wasm.
/// A benchmark binary registers it with `#[global_allocator]`; the page never does.
#[derive(Debug)]
pub struct CountingAllocator {
    live: AtomicUsize,
    peak: AtomicUsize,
}

impl CountingAllocator {
    /// Nothing counted yet.
    pub const fn new() -> CountingAllocator {
        CountingAllocator { live: AtomicUsize::new(0), peak: AtomicUsize::new(0) }
    }

    /// Bytes allocated now.
    pub fn live(&self) -> usize {
        self.live.load(Ordering::Relaxed)
    }

    /// The most bytes allocated at once since the last [`CountingAllocator::reset_peak`].
    pub fn peak(&self) -> usize {
        self.peak.load(Ordering::Relaxed)
    }

    /// Starts a new peak from the bytes allocated now, and returns them.
    pub fn reset_peak(&self) -> usize {
        let live = self.live();
        self.peak.store(live, Ordering::Relaxed);
        live
    }

    fn grew(&self, bytes: usize) {
        let live = self.live.fetch_add(bytes, Ordering::Relaxed) + bytes;
        self.peak.fetch_max(live, Ordering::Relaxed);
    }
}

impl Default for CountingAllocator {
    fn default() -> CountingAllocator {
        CountingAllocator::new()
    }
}

// SAFETY: every call is passed on unchanged to the system allocator; only counters are added.
unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let pointer = System.alloc(layout);
        if !pointer.is_null() {
            self.grew(layout.size());
        }
        pointer
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let pointer = System.alloc_zeroed(layout);
        if !pointer.is_null() {
            self.grew(layout.size());
        }
        pointer
    }

    unsafe fn dealloc(&self, pointer: *mut u8, layout: Layout) {
        System.dealloc(pointer, layout);
        self.live.fetch_sub(layout.size(), Ordering::Relaxed);
    }

    unsafe fn realloc(&self, pointer: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let moved = System.realloc(pointer, layout, new_size);
        if !moved.is_null() {
            if new_size >= layout.size() {
                self.grew(new_size - layout.size());
            } else {
                self.live.fetch_sub(layout.size() - new_size, Ordering::Relaxed);
            }
        }
        moved
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_workload_runs_every_step_on_every_row() {
        let ticks = std::cell::Cell::new(0.0);
        let clock = || {
            ticks.set(ticks.get() + 0.5);
            ticks.get()
        };
        let measured = run(200, clock).unwrap();
        let steps: Vec<_> = measured.iter().map(|m| (m.step, m.rows, m.seconds)).collect();
        assert_eq!(steps, [("jsonl import", 200, 0.5), ("dpo binarize", 200, 0.5), ("parquet export", 200, 0.5)]);
        assert!(measured[0].detail.contains("2 duplicates dropped"), "{}", measured[0].detail);
        assert_eq!(measured[2].line().split(':').next(), Some("parquet export"));
    }

    #[test]
    fn the_campaign_has_changed_answers_forgeries_and_uneven_coverage() {
        let campaign = campaign_files(40, 6, 30, 5).unwrap();
        assert_eq!(campaign.records.len(), 40);
        assert!(campaign.records.iter().all(|record| record.generations.iter().all(|g| g.id == g.compute_id(&record.prompt.id))));
        assert_eq!(campaign.question_ids.len(), 40, "one A vs B question per prompt");
        assert_eq!((campaign.ratings, campaign.files.len()), (6 * 30, 6 * 30 / 5 + 2));
        assert_eq!(campaign.changed, 6 * 5, "every file's last rating from the second file on");
        assert!(campaign.files.iter().any(|file| file.source == Source::Main));
        let again = campaign_files(40, 6, 30, 5).unwrap();
        assert_eq!(again.files, campaign.files, "deterministic");

        let ticks = std::cell::Cell::new(0.0);
        let clock = || {
            ticks.set(ticks.get() + 0.25);
            ticks.get()
        };
        let run = collect_chain(&campaign, campaign.files.clone(), clock);
        assert_eq!((run.merge, run.tally, run.seconds()), (0.25, 0.25, 0.5));
        assert_eq!((run.files, run.rejected, run.people), (6 * 6 + 2, 2, 6));
        assert_eq!(run.kept, 6 * 30 - campaign.changed, "a changed answer replaces the earlier one");
        let items: usize = run.histogram.iter().map(|(_, items)| items).sum();
        assert_eq!(items, 40);
        assert!(run.histogram[0].0 == 0 && run.histogram[0].1 >= 2, "the last 5% of the items are rated by no one: {:?}", run.histogram);
        assert!(run.histogram.len() > 3, "items get different numbers of ratings: {:?}", run.histogram);
        assert!(run.agreement_value.is_some() && run.agreement_units > 0);
        let line = collect_line(&campaign, &[run.clone(), run], ", memory");
        assert!(line.starts_with("collect: 360 ratings/s (180 ratings in 38 files"), "{line}");
        assert!(line.contains("median 500.0 ms of 2 = merge 250.0 + tally 250.0") && line.ends_with(", memory)"), "{line}");
    }

    #[test]
    fn the_counting_allocator_keeps_the_peak() {
        let counter = CountingAllocator::new();
        let layout = Layout::from_size_align(1000, 8).unwrap();
        unsafe {
            let first = counter.alloc(layout);
            let grown = counter.realloc(first, layout, 3000);
            assert_eq!((counter.live(), counter.peak()), (3000, 3000));
            counter.dealloc(grown, Layout::from_size_align(3000, 8).unwrap());
        }
        assert_eq!((counter.live(), counter.peak()), (0, 3000));
        assert_eq!(counter.reset_peak(), 0);
        assert_eq!(counter.peak(), 0);
    }
}
