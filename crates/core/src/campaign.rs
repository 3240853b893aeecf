//! Campaigns: many people rate one dataset, and the Hub is the only server.
//!
//! A campaign is a Hub dataset repo laid out like this:
//!
//! ```text
//! prefab-campaign.json                      the Manifest (versioned)
//! campaign/records.jsonl                    one Record per line: a prompt and its completions
//! contributions/{person}/{content hash}.jsonl  one HumanRating per line
//! README.md                                 the card; its `configs:` let `datasets` load each part
//! ```
//!
//! The organizer commits the first three to `main`. Each contributor opens
//! one pull request and pushes batches of their ratings onto it, each batch a
//! file named by the SHA-256 of its content ([`contribution_file`]), so a
//! batch sent twice is one file. [`collect`] reads every contribution file —
//! from `main` and from every pull request — keeps each person's newest answer
//! to each question, and rejects a file that claims to be someone other than
//! the pull request's author: a contribution is trusted only as far as the
//! Hub vouches for its author.
//!
//! Identity is by content all the way down: prompt ids hash the text,
//! generation ids the completion ([`crate::record::Generation::compute_id`]),
//! and a question's id ([`RatingValue::question_id`]) the generations it is
//! about, so every device agrees on what was rated and coverage can be
//! counted without a server ([`Coverage`], [`priority`]).

use crate::agreement::{agreement_report, AgreementPolicy, AgreementReport};
use crate::contribute::{RatingMode, Session, SessionOptions, Target};
use crate::prng::SplitMix64;
use crate::record::{sha256_hex, HumanRating, Record};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;

/// Where the manifest lives in the repo.
pub const MANIFEST_PATH: &str = "prefab-campaign.json";
/// Where the prompts and completions live in the repo.
pub const RECORDS_PATH: &str = "campaign/records.jsonl";
/// The folder of contributions, one subfolder per person.
pub const CONTRIBUTIONS_FOLDER: &str = "contributions/";
/// The `format` every manifest carries, so a stray JSON file is not taken for one.
pub const FORMAT: &str = "prefab-campaign";
/// The version of the file layout this Prefab writes and reads.
pub const FORMAT_VERSION: u32 = 1;
/// The largest contribution file [`collect`] reads (the local Hub refuses
/// larger ones too): a batch is a few dozen ratings, a few kB.
pub const MAX_CONTRIBUTION_BYTES: usize = 4 << 20;

/// What a campaign asks and how its answers become a dataset.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    /// Always [`FORMAT`].
    pub format: String,
    /// The layout's version, [`FORMAT_VERSION`] when written.
    pub format_version: u32,
    /// This manifest's version: 1 when published, one more at each edit.
    /// Ratings point at content ids, so they stay valid across versions.
    pub version: u32,
    /// What contributors see as the campaign's name.
    pub title: String,
    /// The kind of question.
    pub mode: RatingMode,
    /// The question as shown.
    pub question: String,
    /// The guidelines, in Markdown (shown as text elements, never HTML).
    pub guidelines: String,
    /// How many people should rate each item.
    pub overlap: u32,
    /// The seed of A/B sides and ranking order, the same for everyone.
    pub seed: u64,
    /// How several people's answers become one label in the export.
    pub policy: AgreementPolicy,
    /// How many prompts `campaign/records.jsonl` holds.
    pub prompts: usize,
    /// When this version was written, in Unix milliseconds.
    pub updated_at_ms: u64,
}

impl Manifest {
    /// The manifest as the repo keeps it: pretty JSON, one field per line,
    /// so an edit is a readable diff on the Hub.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default() + "\n"
    }

    /// Reads `prefab-campaign.json`.
    pub fn parse(text: &str) -> Result<Manifest, CampaignError> {
        let value: serde_json::Value = serde_json::from_str(text).map_err(|error| CampaignError::Manifest(format!("not JSON ({error})")))?;
        match value.get("format").and_then(serde_json::Value::as_str) {
            Some(FORMAT) => {}
            _ => return Err(CampaignError::Manifest(format!("\"format\" is not {FORMAT:?}: this is not a Prefab campaign"))),
        }
        let manifest: Manifest = serde_json::from_value(value).map_err(|error| CampaignError::Manifest(error.to_string()))?;
        if manifest.format_version > FORMAT_VERSION {
            return Err(CampaignError::Manifest(format!(
                "it is format version {}, and this Prefab reads up to {FORMAT_VERSION}: reload the page for the newest Prefab",
                manifest.format_version
            )));
        }
        if manifest.overlap == 0 {
            return Err(CampaignError::Manifest("\"overlap\" is 0; expected how many people should rate each item (1 or more)".into()));
        }
        Ok(manifest)
    }
}

/// What can be wrong with a campaign's files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CampaignError {
    /// `prefab-campaign.json` is unreadable; what is wrong.
    Manifest(String),
    /// A line of `campaign/records.jsonl` is unreadable.
    Records {
        /// The line, from 1.
        line: usize,
        /// What is wrong.
        message: String,
    },
    /// A person's name cannot be a folder name on the Hub.
    Name(String),
}

impl fmt::Display for CampaignError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CampaignError::Manifest(message) => write!(f, "{MANIFEST_PATH}: {message}"),
            CampaignError::Records { line, message } => write!(f, "{RECORDS_PATH}: line {line}: {message}; expected a prompt with its completions"),
            CampaignError::Name(name) => write!(
                f,
                "{name:?} cannot name a contributor: use letters, digits, '-', '_' or '.' (up to 96, not starting with '.' or '-')"
            ),
        }
    }
}

impl std::error::Error for CampaignError {}

/// The campaign's prompts and completions as `campaign/records.jsonl`:
/// ratings and judgments left out (contributions carry the ratings).
pub fn records_jsonl(records: &[Record]) -> String {
    let mut text = String::new();
    for record in records {
        let mut bare = record.clone();
        bare.ratings.clear();
        for generation in &mut bare.generations {
            generation.judgments.clear();
        }
        text.push_str(&bare.to_json());
        text.push('\n');
    }
    text
}

/// Reads `campaign/records.jsonl`, naming the line of anything unreadable.
pub fn parse_records(text: &str) -> Result<Vec<Record>, CampaignError> {
    text.lines()
        .enumerate()
        .filter(|(_, line)| !line.trim().is_empty())
        .map(|(index, line)| Record::from_json(line).map_err(|error| CampaignError::Records { line: index + 1, message: error.to_string() }))
        .collect()
}

/// Whether `name` can be a folder under `contributions/`: a Hub user name's
/// characters, so it is a single safe path segment everywhere.
pub fn check_name(name: &str) -> Result<(), CampaignError> {
    let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.');
    let fine = !name.is_empty() && name.len() <= 96 && name.chars().all(allowed) && !name.starts_with(['.', '-']);
    if fine {
        Ok(())
    } else {
        Err(CampaignError::Name(name.to_owned()))
    }
}

/// A batch of `annotator`'s ratings as a contribution file: its path and its
/// content. The lines are in a fixed order and the name is the content's
/// SHA-256, so the same batch always makes the same file.
pub fn contribution_file(annotator: &str, ratings: &[HumanRating]) -> Result<(String, String), CampaignError> {
    check_name(annotator)?;
    let mut lines: Vec<(u64, String, String)> = ratings
        .iter()
        .map(|rating| {
            let mut rating = rating.clone();
            rating.annotator = annotator.to_owned();
            (rating.created_at_ms, rating.id(), serde_json::to_string(&rating).unwrap_or_default())
        })
        .collect();
    lines.sort();
    let content: String = lines.into_iter().map(|(_, _, line)| line + "\n").collect();
    let hash = sha256_hex(&[content.as_bytes()]);
    Ok((format!("{CONTRIBUTIONS_FOLDER}{annotator}/{}.jsonl", &hash[..32]), content))
}

/// The person a contribution path belongs to: `contributions/{person}/…`.
pub fn path_owner(path: &str) -> Option<&str> {
    let rest = path.strip_prefix(CONTRIBUTIONS_FOLDER)?;
    let (owner, file) = rest.split_once('/')?;
    (!owner.is_empty() && !file.is_empty()).then_some(owner)
}

/// Where a contribution file was read.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Source {
    /// The repo's main branch: what the organizer committed or merged,
    /// vouched for by the repo's writers.
    Main,
    /// A pull request, vouched for as its author's work by the Hub.
    PullRequest {
        /// Its number.
        num: u64,
        /// The Hub account that opened it.
        author: String,
    },
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Main => write!(f, "main"),
            Source::PullRequest { num, author } => write!(f, "pull request #{num} by {author}"),
        }
    }
}

/// One contribution file as read from the repo.
#[derive(Debug, Clone, PartialEq)]
pub struct ContributionFile {
    /// Where it was read.
    pub source: Source,
    /// Its path in the repo.
    pub path: String,
    /// Its content.
    pub text: String,
}

/// Why a contribution file was left out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rejection {
    /// The file lies in another person's folder than its pull request's author.
    ForeignFolder {
        /// The folder's person.
        folder: String,
    },
    /// A line names another annotator than the file's owner.
    Forged {
        /// The line, from 1.
        line: usize,
        /// The name it claims.
        claimed: String,
    },
    /// A line is not a rating.
    Unreadable {
        /// The line, from 1.
        line: usize,
        /// What is wrong.
        message: String,
    },
    /// Larger than [`MAX_CONTRIBUTION_BYTES`].
    TooLarge {
        /// Its size.
        bytes: usize,
    },
    /// Not at `contributions/{person}/{name}.jsonl`.
    Misplaced,
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Rejection::ForeignFolder { folder } => write!(f, "it is in {folder:?}'s folder, but the pull request's author is someone else"),
            Rejection::Forged { line, claimed } => write!(f, "line {line} claims to be by {claimed:?}, who did not author it"),
            Rejection::Unreadable { line, message } => write!(f, "line {line} is not a rating: {message}"),
            Rejection::TooLarge { bytes } => write!(f, "it is {bytes} bytes; a contribution file is at most {MAX_CONTRIBUTION_BYTES}"),
            Rejection::Misplaced => write!(f, "it is not at contributions/{{person}}/{{name}}.jsonl"),
        }
    }
}

/// A file left out, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejected {
    /// Where it was read.
    pub source: Source,
    /// Its path.
    pub path: String,
    /// Why.
    pub reason: Rejection,
}

impl fmt::Display for Rejected {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({}): {}", self.path, self.source, self.reason)
    }
}

/// Every rating of a campaign, merged.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Collected {
    /// Each person's newest answer to each question, oldest first.
    pub ratings: Vec<HumanRating>,
    /// Files read (accepted or not; the same file on main and in its merged
    /// pull request counts once).
    pub files: usize,
    /// Files left out, with the reason.
    pub rejected: Vec<Rejected>,
}

/// Merges contribution files: checks each one's owner against where it was
/// read, then keeps each person's newest answer per question (a changed
/// mind replaces the earlier answer; a batch read twice counts once).
pub fn collect(files: impl IntoIterator<Item = ContributionFile>) -> Collected {
    let mut seen: HashSet<(String, String)> = HashSet::new();
    let mut newest: HashMap<String, HumanRating> = HashMap::new();
    let mut collected = Collected::default();
    for file in files {
        // A merged pull request's files are on main too: read them once.
        if !seen.insert((file.path.clone(), sha256_hex(&[file.text.as_bytes()]))) {
            continue;
        }
        collected.files += 1;
        match read_contribution(&file) {
            Ok(ratings) => {
                for rating in ratings {
                    match newest.get(&rating.id()) {
                        Some(kept) if kept.created_at_ms >= rating.created_at_ms => {}
                        _ => {
                            newest.insert(rating.id(), rating);
                        }
                    }
                }
            }
            Err(reason) => collected.rejected.push(Rejected { source: file.source, path: file.path, reason }),
        }
    }
    collected.ratings = newest.into_values().collect();
    collected.ratings.sort_by(|x, y| x.created_at_ms.cmp(&y.created_at_ms).then_with(|| x.id().cmp(&y.id())));
    collected.rejected.sort_by(|x, y| (&x.source, &x.path).cmp(&(&y.source, &y.path)));
    collected
}

/// One file's ratings, if the file is its owner's own.
fn read_contribution(file: &ContributionFile) -> Result<Vec<HumanRating>, Rejection> {
    if file.text.len() > MAX_CONTRIBUTION_BYTES {
        return Err(Rejection::TooLarge { bytes: file.text.len() });
    }
    let owner = match path_owner(&file.path) {
        Some(owner) if file.path.ends_with(".jsonl") && check_name(owner).is_ok() => owner,
        _ => return Err(Rejection::Misplaced),
    };
    if let Source::PullRequest { author, .. } = &file.source {
        if owner != author {
            return Err(Rejection::ForeignFolder { folder: owner.to_owned() });
        }
    }
    let mut ratings = Vec::new();
    for (index, line) in file.text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let rating: HumanRating = serde_json::from_str(line).map_err(|error| Rejection::Unreadable { line: index + 1, message: error.to_string() })?;
        if rating.annotator != owner {
            return Err(Rejection::Forged { line: index + 1, claimed: rating.annotator });
        }
        ratings.push(rating);
    }
    Ok(ratings)
}

/// How many people answered each question, by [`RatingValue::question_id`].
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Coverage {
    people: HashMap<String, HashSet<String>>,
}

impl Coverage {
    /// Counts these ratings (more may be added later).
    pub fn of<'a>(ratings: impl IntoIterator<Item = &'a HumanRating>) -> Coverage {
        let mut coverage = Coverage::default();
        coverage.add(ratings);
        coverage
    }

    /// Adds ratings; a person counts once per question.
    pub fn add<'a>(&mut self, ratings: impl IntoIterator<Item = &'a HumanRating>) {
        for rating in ratings {
            self.people.entry(rating.value.question_id()).or_default().insert(rating.annotator.clone());
        }
    }

    /// How many people answered this question.
    pub fn count(&self, question_id: &str) -> usize {
        self.people.get(question_id).map_or(0, HashSet::len)
    }

    /// Whether `annotator` answered it.
    pub fn answered_by(&self, question_id: &str, annotator: &str) -> bool {
        self.people.get(question_id).is_some_and(|people| people.contains(annotator))
    }

    /// Items by number of ratings: `(ratings, items)` for 0, 1, 2, … up to
    /// the most any item has, for these questions.
    pub fn histogram<'a>(&self, question_ids: impl IntoIterator<Item = &'a str>) -> Vec<(usize, usize)> {
        let mut counts: BTreeMap<usize, usize> = BTreeMap::new();
        for id in question_ids {
            *counts.entry(self.count(id)).or_default() += 1;
        }
        let most = counts.keys().next_back().copied().unwrap_or(0);
        (0..=most).map(|ratings| (ratings, counts.get(&ratings).copied().unwrap_or(0))).collect()
    }
}

/// The order in which to offer a question to `annotator`: least covered
/// first, those that reached the overlap target after every other, and
/// within equal coverage a draw of the person's own, so that people rating
/// at the same time spread over different items instead of all taking the
/// same one — what Argilla's `min_submitted` does with a server.
pub fn priority(coverage: &Coverage, question_id: &str, overlap: u32, annotator: &str) -> u64 {
    let count = coverage.count(question_id) as u64;
    let filled = count >= u64::from(overlap);
    let draw = SplitMix64::for_key(0x5eed, &format!("{annotator}\u{0}{question_id}")).next_u64() >> 24;
    (u64::from(filled) << 63) | (count.min(1 << 20) << 40) | draw
}

/// Each person's number of answers, sorted by name.
pub fn per_person(ratings: &[HumanRating]) -> Vec<(String, usize)> {
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for rating in ratings {
        *counts.entry(rating.annotator.as_str()).or_default() += 1;
    }
    counts.into_iter().map(|(name, count)| (name.to_owned(), count)).collect()
}

/// The ids of every question a campaign asks of its records: the items a
/// rating session draws from them (see [`crate::contribute::Session`]). A
/// question id names the kind of question too, so a rating of another kind
/// is never about one of these.
pub fn question_ids(mode: RatingMode, seed: u64, records: &[Record]) -> HashSet<String> {
    let options = SessionOptions { mode, annotator: "-".into(), question: String::new(), seed };
    Session::new(options, records.iter().map(Target::from), [])
        .map(|session| session.items().iter().map(|item| item.question_id(mode)).collect())
        .unwrap_or_default()
}

/// What Collect shows of a campaign's merged ratings.
#[derive(Debug, Clone, PartialEq)]
pub struct Tally {
    /// The answers to the campaign's questions.
    pub ratings: Vec<HumanRating>,
    /// Answers about questions the campaign does not ask (left out).
    pub foreign: usize,
    /// Items by number of people who rated them (see [`Coverage::histogram`]).
    pub histogram: Vec<(usize, usize)>,
    /// Answers per person.
    pub people: Vec<(String, usize)>,
    /// How far people agree.
    pub agreement: AgreementReport,
}

/// Keeps the answers to the campaign's `questions` (of `mode`) and counts
/// them: coverage, answers per person, agreement.
pub fn tally(mode: RatingMode, questions: &HashSet<String>, ratings: Vec<HumanRating>) -> Tally {
    let (ratings, foreign): (Vec<HumanRating>, Vec<HumanRating>) = ratings.into_iter().partition(|rating| questions.contains(&rating.value.question_id()));
    let histogram = Coverage::of(&ratings).histogram(questions.iter().map(String::as_str));
    Tally { histogram, people: per_person(&ratings), agreement: agreement_report(mode, &ratings), foreign: foreign.len(), ratings }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::{Generation, Prompt, RatingValue, Verdict};

    fn thumbs(annotator: &str, generation: &str, up: bool, at: u64) -> HumanRating {
        HumanRating {
            annotator: annotator.into(),
            question: "ok?".into(),
            value: RatingValue::KtoThumbs { generation_id: generation.into(), up },
            created_at_ms: at,
        }
    }

    fn manifest() -> Manifest {
        Manifest {
            format: FORMAT.into(),
            format_version: FORMAT_VERSION,
            version: 1,
            title: "Helpful answers".into(),
            mode: RatingMode::Pairwise,
            question: "Which answer is better?".into(),
            guidelines: "Be *kind*.".into(),
            overlap: 3,
            seed: 7,
            policy: AgreementPolicy::Majority,
            prompts: 50,
            updated_at_ms: 1,
        }
    }

    #[test]
    fn the_manifest_round_trips_and_bad_ones_say_what_is_wrong() {
        let text = manifest().to_json();
        assert_eq!(Manifest::parse(&text).unwrap(), manifest());
        assert!(text.contains("\"overlap\": 3"), "pretty, so edits are readable diffs: {text}");
        let not_ours = Manifest::parse(r#"{"format": "other"}"#).unwrap_err().to_string();
        assert!(not_ours.contains("prefab-campaign.json") && not_ours.contains("not a Prefab campaign"), "{not_ours}");
        let newer = text.replace("\"format_version\": 1", "\"format_version\": 9");
        assert!(Manifest::parse(&newer).unwrap_err().to_string().contains("reads up to 1"));
        let zero = text.replace("\"overlap\": 3", "\"overlap\": 0");
        assert!(Manifest::parse(&zero).unwrap_err().to_string().contains("overlap"));
        assert!(Manifest::parse("{").unwrap_err().to_string().contains("not JSON"));
    }

    #[test]
    fn records_round_trip_without_ratings_and_name_a_bad_line() {
        let mut record = Record::new(crate::record::Prompt::new("Hi"));
        record.ratings.push(thumbs("ann", "g", true, 1));
        let text = records_jsonl(&[record.clone()]);
        record.ratings.clear();
        assert_eq!(parse_records(&text).unwrap(), vec![record]);
        let error = parse_records(&format!("{text}\nnot json\n")).unwrap_err().to_string();
        assert!(error.starts_with("campaign/records.jsonl: line 3:"), "{error}");
    }

    #[test]
    fn a_batch_is_named_by_its_content_whatever_order_it_comes_in() {
        let batch = [thumbs("x", "g1", true, 2), thumbs("x", "g2", false, 1)];
        let (path, content) = contribution_file("alice", &batch).unwrap();
        let (again, same) = contribution_file("alice", &[batch[1].clone(), batch[0].clone()]).unwrap();
        assert_eq!((&path, &content), (&again, &same));
        assert!(path.starts_with("contributions/alice/") && path.ends_with(".jsonl"));
        assert_eq!(path_owner(&path), Some("alice"));
        assert!(content.lines().all(|line| line.contains("\"annotator\":\"alice\"")), "the file's lines carry its owner");
        assert!(contribution_file("../bob", &batch).is_err());
        assert!(contribution_file("", &batch).is_err());
        assert!(check_name("Ada.Lovelace_2").is_ok());
    }

    #[test]
    fn collect_keeps_the_newest_answer_and_rejects_forgeries() {
        let pr = |num: u64, author: &str| Source::PullRequest { num, author: author.into() };
        let (alice_1, text_1) = contribution_file("alice", &[thumbs("alice", "g1", true, 1)]).unwrap();
        let (alice_2, text_2) = contribution_file("alice", &[thumbs("alice", "g1", false, 5), thumbs("alice", "g2", true, 6)]).unwrap();
        let (bob, bob_text) = contribution_file("bob", &[thumbs("bob", "g1", true, 3)]).unwrap();
        // Mallory writes in Bob's folder, then in her own under Bob's name.
        let (forged_folder, forged_text) = contribution_file("bob", &[thumbs("bob", "g2", false, 9)]).unwrap();
        let forged_line = format!("{}\n", serde_json::to_string(&thumbs("bob", "g2", false, 9)).unwrap());
        let files = vec![
            ContributionFile { source: pr(1, "alice"), path: alice_1.clone(), text: text_1.clone() },
            ContributionFile { source: pr(1, "alice"), path: alice_2, text: text_2 },
            // Alice's first batch merged into main: the same file again.
            ContributionFile { source: Source::Main, path: alice_1, text: text_1 },
            ContributionFile { source: pr(2, "bob"), path: bob, text: bob_text },
            ContributionFile { source: pr(3, "mallory"), path: forged_folder.clone(), text: forged_text },
            ContributionFile { source: pr(3, "mallory"), path: "contributions/mallory/x.jsonl".into(), text: forged_line },
            ContributionFile { source: pr(3, "mallory"), path: "README.md".into(), text: String::new() },
        ];
        let collected = collect(files);
        assert_eq!(collected.files, 6);
        let kept: Vec<(&str, &str, u64)> = collected
            .ratings
            .iter()
            .map(|r| (r.annotator.as_str(), r.value.generation_ids()[0], r.created_at_ms))
            .collect();
        assert_eq!(kept, [("bob", "g1", 3), ("alice", "g1", 5), ("alice", "g2", 6)]);
        let reasons: Vec<String> = collected.rejected.iter().map(ToString::to_string).collect();
        assert_eq!(reasons.len(), 3, "{reasons:?}");
        assert!(reasons.iter().any(|r| r.contains(&forged_folder) && r.contains("pull request #3 by mallory") && r.contains("\"bob\"'s folder")), "{reasons:?}");
        assert!(reasons.iter().any(|r| r.contains("line 1 claims to be by \"bob\"")), "{reasons:?}");
        assert!(reasons.iter().any(|r| r.starts_with("README.md") && r.contains("not at contributions/")), "{reasons:?}");
    }

    #[test]
    fn coverage_counts_people_per_question_in_any_order_shown() {
        let pair = |annotator: &str, a: &str, b: &str| HumanRating {
            annotator: annotator.into(),
            question: "which?".into(),
            value: RatingValue::Pairwise { a: a.into(), b: b.into(), verdict: Verdict::A },
            created_at_ms: 1,
        };
        let ratings = [pair("a", "x", "y"), pair("b", "y", "x"), pair("b", "y", "x"), thumbs("a", "x", true, 1)];
        let coverage = Coverage::of(&ratings);
        let question = ratings[0].value.question_id();
        assert_eq!(coverage.count(&question), 2);
        assert!(coverage.answered_by(&question, "b") && !coverage.answered_by(&question, "c"));
        let other = pair("z", "p", "q").value.question_id();
        assert_eq!(coverage.histogram([question.as_str(), other.as_str()]), [(0, 1), (1, 0), (2, 1)]);
    }

    #[test]
    fn least_covered_come_first_and_people_draw_different_orders() {
        let ratings: Vec<HumanRating> = (0..3).map(|i| thumbs(&format!("p{i}"), "full", true, 1)).chain([thumbs("p0", "once", true, 1)]).collect();
        let coverage = Coverage::of(&ratings);
        let id = |g: &str| thumbs("", g, true, 0).value.question_id();
        let rank = |g: &str, who: &str| priority(&coverage, &id(g), 3, who);
        assert!(rank("never", "ann") < rank("once", "ann"));
        assert!(rank("once", "ann") < rank("full", "ann"), "filled items go last");
        let order = |who: &str| {
            let mut ids: Vec<String> = (0..20).map(|i| format!("g{i}")).collect();
            ids.sort_by_key(|g| rank(g, who));
            ids
        };
        assert_eq!(order("ann"), order("ann"), "the same person, the same order");
        assert_ne!(order("ann"), order("bob"), "two people spread out");
    }

    #[test]
    fn the_questions_are_the_sessions_and_a_tally_keeps_only_them() {
        let mut record = Record::new(Prompt::new("Hi"));
        for text in ["a", "b", "c"] {
            let mut generation = Generation { model_id: "m".into(), raw_text: text.into(), text: text.into(), ..Generation::default() };
            generation.id = generation.compute_id(&record.prompt.id);
            record.generations.push(generation);
        }
        let ids: Vec<String> = record.generations.iter().map(|g| g.id.clone()).collect();
        assert_eq!(question_ids(RatingMode::KtoThumbs, 7, std::slice::from_ref(&record)).len(), 3);
        assert_eq!(question_ids(RatingMode::Ranking, 7, std::slice::from_ref(&record)).len(), 1);
        let questions = question_ids(RatingMode::Pairwise, 7, &[record]);
        assert_eq!(questions.len(), 3, "every pair of three");
        let pair = |who: &str, a: &str, b: &str| HumanRating {
            annotator: who.into(),
            question: "which?".into(),
            value: RatingValue::Pairwise { a: a.into(), b: b.into(), verdict: Verdict::A },
            created_at_ms: 1,
        };
        // Thumbs about a campaign completion are not a question this campaign asks.
        let ratings = vec![pair("x", &ids[0], &ids[1]), pair("y", &ids[1], &ids[0]), thumbs("x", &ids[0], true, 1), pair("x", &ids[0], "elsewhere")];
        let counted = tally(RatingMode::Pairwise, &questions, ratings);
        assert_eq!((counted.ratings.len(), counted.foreign), (2, 2));
        assert_eq!(counted.histogram, [(0, 2), (1, 0), (2, 1)]);
        assert_eq!(counted.people, [("x".to_owned(), 1), ("y".to_owned(), 1)]);
        // Both pressed A, but A was a different completion for each: they disagree.
        assert_eq!((counted.agreement.units, counted.agreement.value), (1, Some(0.0)));
    }
}
