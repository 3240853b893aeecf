//! Contribute: the rating session the page drives, key by key.
//!
//! A [`Session`] holds the queue of questions for one annotator in the
//! project's [`RatingMode`] — 👍/👎 on one completion at a time (KTO), A vs B
//! on two completions of a prompt, a 1–5 score, or a ranking — with the
//! answers already given, the one being drafted, and what can be undone.
//!
//! The page turns a key into an [`Action`] with [`action_for_key`] and hands
//! it to [`Session::apply`]. Most actions only change what is shown
//! ([`Step::Changed`]). One that changes a rating returns
//! [`Step::Write`]: the page writes [`PendingWrite::change`] to IndexedDB and,
//! once the transaction is complete, calls [`Session::complete`] — only then
//! does the session move on, so a rating is on disk before the next item
//! appears. If the write fails, [`Session::abandon`] leaves everything as it
//! was and the person can press Enter again. While a write is pending every
//! other action is refused, so a double Enter cannot write twice.
//!
//! The keys follow Argilla's: number keys choose, y/n or ↑/↓ give thumbs,
//! Enter submits, Backspace or z undoes, s skips, ←/→ move between items.
//!
//! Everything random — which side of an A-vs-B pair is A, the order a
//! ranking's completions are shown in — comes from [`SplitMix64`] seeded by
//! the project's seed and the generations' ids, so the same project shows the
//! same screens after a reload and to every annotator.

use crate::prng::SplitMix64;
use crate::record::{rating_id, HumanRating, RatingValue, Record, Verdict};
use serde::{Deserialize, Serialize};
use std::collections::{HashMap, HashSet};
use std::fmt;

/// The kind of question a project asks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RatingMode {
    /// 👍/👎 on one completion at a time: KTO's desirable or not.
    #[default]
    #[serde(alias = "thumbs")]
    KtoThumbs,
    /// Which of two completions of the same prompt is better: A, B, a tie, or both bad.
    Pairwise,
    /// A score from 1 to 5 for one completion.
    Likert,
    /// All completions of a prompt, ordered from best to worst.
    Ranking,
}

impl RatingMode {
    /// The question shown when the project sets none.
    pub fn default_question(self) -> &'static str {
        match self {
            RatingMode::KtoThumbs => "Is this a good answer to the prompt?",
            RatingMode::Pairwise => "Which answer is better?",
            RatingMode::Likert => "How good is this answer, from 1 (bad) to 5 (excellent)?",
            RatingMode::Ranking => "Rank the answers from best to worst.",
        }
    }

    /// The fewest completions a prompt needs to be asked about.
    fn generations_needed(self) -> usize {
        match self {
            RatingMode::KtoThumbs | RatingMode::Likert => 1,
            RatingMode::Pairwise | RatingMode::Ranking => 2,
        }
    }

    /// The keys and what they do, for the page's legend.
    pub fn key_hints(self) -> Vec<(&'static str, &'static str)> {
        let mut hints = match self {
            RatingMode::KtoThumbs => vec![("y, ↑ or 1", "good 👍"), ("n, ↓ or 2", "bad 👎")],
            RatingMode::Pairwise => vec![
                ("1 or a", "A is better"),
                ("2 or b", "B is better"),
                ("3 or t", "tie"),
                ("4 or x", "both bad"),
            ],
            RatingMode::Likert => vec![("1 – 5", "score")],
            RatingMode::Ranking => vec![("1 – 9", "next best answer")],
        };
        hints.extend([
            ("Enter", "submit"),
            ("Backspace or z", "undo"),
            ("s", "skip"),
            ("← →", "previous, next"),
        ]);
        hints
    }
}

/// What one key asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// 👍 (KTO thumbs only).
    ThumbsUp,
    /// 👎 (KTO thumbs only).
    ThumbsDown,
    /// A number key, 1–9: 👍/👎, a verdict, a score or the next rank, by mode.
    Number(u8),
    /// Save the drafted answer and go on.
    Submit,
    /// Take back the last step of the draft, or else the last rating saved.
    Undo,
    /// Leave this item for later.
    Skip,
    /// Go to the previous item.
    Previous,
    /// Go to the next item.
    Next,
}

/// The action of a key, by its `KeyboardEvent.key`; `None` for keys the
/// session does not use, which the page should then leave to the browser.
///
/// The page should not call this for key presses with Ctrl, Alt or Meta, or
/// while focus is in a text field; ↑/↓ are only taken in the thumbs mode so
/// they still scroll elsewhere.
pub fn action_for_key(mode: RatingMode, key: &str) -> Option<Action> {
    let thumbs = mode == RatingMode::KtoThumbs;
    let pairwise = mode == RatingMode::Pairwise;
    match key {
        "y" | "Y" | "ArrowUp" if thumbs => Some(Action::ThumbsUp),
        "n" | "N" | "ArrowDown" if thumbs => Some(Action::ThumbsDown),
        // Letters for A vs B, as the buttons read: A, B, tie, both bad (x).
        "a" | "A" if pairwise => Some(Action::Number(1)),
        "b" | "B" if pairwise => Some(Action::Number(2)),
        "t" | "T" if pairwise => Some(Action::Number(3)),
        "x" | "X" if pairwise => Some(Action::Number(4)),
        "Enter" => Some(Action::Submit),
        "Backspace" | "z" | "Z" => Some(Action::Undo),
        "s" | "S" => Some(Action::Skip),
        "ArrowLeft" => Some(Action::Previous),
        "ArrowRight" => Some(Action::Next),
        _ => match key.as_bytes() {
            [digit @ b'1'..=b'9'] => Some(Action::Number(digit - b'0')),
            _ => None,
        },
    }
}

/// A prompt's completions that can be asked about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// The prompt's id.
    pub prompt_id: String,
    /// Its generations' ids, in the project's order.
    pub generation_ids: Vec<String>,
}

impl From<&Record> for Target {
    fn from(record: &Record) -> Target {
        Target {
            prompt_id: record.prompt.id.clone(),
            generation_ids: record
                .generations
                .iter()
                .map(|generation| generation.id.clone())
                .collect(),
        }
    }
}

/// One question in the queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Item {
    /// The prompt's id.
    pub prompt_id: String,
    /// The generations shown, in the order shown: one for thumbs and 1–5,
    /// A then B for a pair, every completion of the prompt for a ranking.
    pub shown: Vec<String>,
}

impl Item {
    /// The id of the question this item asks: the same for every person and
    /// device (see [`RatingValue::question_id`]).
    pub fn question_id(&self, mode: RatingMode) -> String {
        self.question(mode).question_id()
    }

    /// The rating value this item's answers have, with a placeholder answer:
    /// what [`rating_id`] needs to know which question it is.
    fn question(&self, mode: RatingMode) -> RatingValue {
        let first = self.shown.first().cloned().unwrap_or_default();
        match mode {
            RatingMode::KtoThumbs => RatingValue::KtoThumbs {
                generation_id: first,
                up: true,
            },
            RatingMode::Likert => RatingValue::Likert {
                generation_id: first,
                score: 0,
            },
            RatingMode::Pairwise => RatingValue::Pairwise {
                a: first,
                b: self.shown.get(1).cloned().unwrap_or_default(),
                verdict: Verdict::Tie,
            },
            RatingMode::Ranking => RatingValue::Ranking {
                generation_ids: self.shown.clone(),
            },
        }
    }
}

/// An answer being drafted, before Enter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Draft {
    /// 👍 (`true`) or 👎.
    Thumbs(bool),
    /// A vs B.
    Verdict(Verdict),
    /// 1 to 5.
    Score(u8),
    /// Positions in [`Item::shown`], best first; may still be partial.
    Ranking(Vec<usize>),
}

/// The session's settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionOptions {
    /// The kind of question.
    pub mode: RatingMode,
    /// Who is rating (a Hub user name, or a name typed in the page).
    pub annotator: String,
    /// The question as the page shows it (kept with each rating).
    pub question: String,
    /// The project's seed for A/B sides and ranking order.
    pub seed: u64,
}

/// A change to the stored ratings that the page must make durable before
/// calling [`Session::complete`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RatingChange {
    /// Write this rating (a put by [`HumanRating::id`]: it replaces an earlier
    /// answer to the same question, and writing it twice keeps one).
    Save {
        /// The prompt the rating is about.
        prompt_id: String,
        /// The rating.
        rating: HumanRating,
    },
    /// Delete the rating with this id (an undone first answer).
    Delete {
        /// The prompt the rating was about.
        prompt_id: String,
        /// [`HumanRating::id`] of the rating.
        rating_id: String,
    },
}

/// A rating change waiting for the store; hand it back to
/// [`Session::complete`] or [`Session::abandon`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use = "write the change, then complete or abandon it"]
pub struct PendingWrite {
    token: u64,
    change: RatingChange,
    effect: Effect,
}

impl PendingWrite {
    /// What to write.
    pub fn change(&self) -> &RatingChange {
        &self.change
    }
}

/// What a completed write does to the session.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Effect {
    /// The rating of item `index` is now this one; `previous` is what undo restores.
    Submitted {
        index: usize,
        rating: HumanRating,
        previous: Option<HumanRating>,
    },
    /// The last submission is undone: item `index` goes back to `previous`.
    Undone {
        index: usize,
        previous: Option<HumanRating>,
    },
}

/// What [`Session::apply`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use = "a write must reach the store before the session moves on"]
// One step per key press: boxing the write would save nothing worth a `*`.
#[allow(clippy::large_enum_variant)]
pub enum Step {
    /// What is shown changed (the draft, the item); nothing to write.
    Changed,
    /// Write this, then call [`Session::complete`] (or [`Session::abandon`] if it failed).
    Write(PendingWrite),
    /// Nothing happened, for this reason (the page may show it as a hint).
    Ignored(Ignored),
}

/// Why an action did nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ignored {
    /// A rating is being written; wait for it.
    Busy,
    /// Every item is rated or skipped.
    NothingLeft,
    /// Enter before an answer was chosen (or a ranking is incomplete).
    NoAnswer,
    /// This choice does not exist in this mode or for this item.
    NoSuchChoice,
    /// This completion is already ranked.
    AlreadyRanked,
    /// Nothing to undo.
    NothingToUndo,
    /// Already at the first or the last item.
    AtEdge,
}

impl fmt::Display for Ignored {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Ignored::Busy => "saving the last rating…",
            Ignored::NothingLeft => "every item is rated or skipped",
            Ignored::NoAnswer => "choose an answer first",
            Ignored::NoSuchChoice => "that key is not a choice here",
            Ignored::AlreadyRanked => "that answer is already ranked",
            Ignored::NothingToUndo => "nothing to undo",
            Ignored::AtEdge => "no item that way",
        })
    }
}

/// A session that cannot start, or a write handed back out of turn.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ContributeError {
    /// No annotator name: ratings could not be told apart.
    NoAnnotator,
    /// A [`PendingWrite`] that is not the one the session waits for.
    UnexpectedWrite,
}

impl fmt::Display for ContributeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ContributeError::NoAnnotator => write!(
                f,
                "no annotator name; expected a name to keep with each rating"
            ),
            ContributeError::UnexpectedWrite => {
                write!(
                    f,
                    "this write is not the one the rating session is waiting for"
                )
            }
        }
    }
}

impl std::error::Error for ContributeError {}

/// How far the annotator is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    /// Items with an answer.
    pub rated: usize,
    /// Items skipped and not rated since.
    pub skipped: usize,
    /// Items in the queue.
    pub total: usize,
}

/// What the page shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct View<'a> {
    /// The item's place in the queue, from 0.
    pub index: usize,
    /// The item.
    pub item: &'a Item,
    /// The answer saved for it, if any.
    pub answer: Option<&'a HumanRating>,
    /// The answer being drafted, if any (shown over the saved one).
    pub draft: Option<&'a Draft>,
    /// Whether it was skipped.
    pub skipped: bool,
}

/// One annotator's rating session; see the module's documentation.
#[derive(Debug, Clone)]
pub struct Session {
    options: SessionOptions,
    items: Vec<Item>,
    answers: Vec<Option<HumanRating>>,
    skipped: Vec<bool>,
    /// The item shown; `None` once nothing is left to rate.
    cursor: Option<usize>,
    draft: Option<Draft>,
    /// Submissions that can be undone, last on top: (item, its answer before).
    undo: Vec<(usize, Option<HumanRating>)>,
    pending: Option<u64>,
    next_token: u64,
    left_out: usize,
    /// The order to offer open items in, lowest first; `None` is queue order.
    priorities: Option<Vec<u64>>,
}

impl Session {
    /// The queue for these prompts' completions, with the annotator's earlier
    /// answers (from the store) already in place, opened at the first item
    /// without one.
    ///
    /// Prompts with too few completions for the mode (fewer than two for
    /// A vs B and ranking) are left out and counted ([`Session::left_out`]).
    pub fn new(
        options: SessionOptions,
        targets: impl IntoIterator<Item = Target>,
        existing: impl IntoIterator<Item = HumanRating>,
    ) -> Result<Session, ContributeError> {
        if options.annotator.trim().is_empty() {
            return Err(ContributeError::NoAnnotator);
        }
        let (items, left_out) = queue(options.mode, options.seed, targets);
        let mut earlier: HashMap<String, HumanRating> = existing
            .into_iter()
            .filter(|rating| rating.annotator == options.annotator)
            .map(|rating| (rating.id(), rating))
            .collect();
        let answers: Vec<Option<HumanRating>> = items
            .iter()
            .map(|item| {
                earlier.remove(&rating_id(&options.annotator, &item.question(options.mode)))
            })
            .collect();
        let skipped = vec![false; items.len()];
        let mut session = Session {
            options,
            items,
            answers,
            skipped,
            cursor: None,
            draft: None,
            undo: Vec::new(),
            pending: None,
            next_token: 0,
            left_out,
            priorities: None,
        };
        session.cursor = session.next_open(None);
        Ok(session)
    }

    /// The session's settings.
    pub fn options(&self) -> &SessionOptions {
        &self.options
    }

    /// Every item, in queue order.
    pub fn items(&self) -> &[Item] {
        &self.items
    }

    /// Prompts left out for having too few completions for the mode.
    pub fn left_out(&self) -> usize {
        self.left_out
    }

    /// The item to show, or `None` when nothing is left to rate.
    pub fn current(&self) -> Option<View<'_>> {
        let index = self.cursor?;
        Some(View {
            index,
            item: &self.items[index],
            answer: self.answers[index].as_ref(),
            draft: self.draft.as_ref(),
            skipped: self.skipped[index],
        })
    }

    /// Rated, skipped and total items.
    pub fn progress(&self) -> Progress {
        Progress {
            rated: self
                .answers
                .iter()
                .filter(|answer| answer.is_some())
                .count(),
            skipped: self
                .skipped
                .iter()
                .zip(&self.answers)
                .filter(|(&skipped, answer)| skipped && answer.is_none())
                .count(),
            total: self.items.len(),
        }
    }

    /// Whether a write is waiting for [`Session::complete`] or [`Session::abandon`].
    pub fn is_writing(&self) -> bool {
        self.pending.is_some()
    }

    /// Does what the action asks; see [`Step`].
    pub fn apply(&mut self, action: Action, now_ms: u64) -> Step {
        if self.pending.is_some() {
            return Step::Ignored(Ignored::Busy);
        }
        match action {
            Action::ThumbsUp => self.choose(Draft::Thumbs(true)),
            Action::ThumbsDown => self.choose(Draft::Thumbs(false)),
            Action::Number(number) => self.number(number),
            Action::Submit => self.submit(now_ms),
            Action::Undo => self.undo(),
            Action::Skip => self.skip(),
            Action::Previous => self.step_by(-1),
            Action::Next => self.step_by(1),
        }
    }

    /// The store has the change: the session moves on.
    pub fn complete(&mut self, write: PendingWrite) -> Result<(), ContributeError> {
        self.take_pending(&write)?;
        match write.effect {
            Effect::Submitted {
                index,
                rating,
                previous,
            } => {
                self.answers[index] = Some(rating);
                self.skipped[index] = false;
                self.undo.push((index, previous));
                self.cursor = self.next_open(Some(index));
            }
            Effect::Undone { index, previous } => {
                self.answers[index] = previous;
                self.undo.pop();
                self.cursor = Some(index);
            }
        }
        self.draft = None;
        Ok(())
    }

    /// The write failed: nothing changes, and the person can try again.
    pub fn abandon(&mut self, write: PendingWrite) -> Result<(), ContributeError> {
        self.take_pending(&write)
    }

    /// Brings the skipped items back into the queue.
    pub fn revisit_skipped(&mut self) {
        self.skipped.iter_mut().for_each(|skipped| *skipped = false);
        if self.cursor.is_none() {
            self.cursor = self.next_open(None);
        }
    }

    fn take_pending(&mut self, write: &PendingWrite) -> Result<(), ContributeError> {
        if self.pending != Some(write.token) {
            return Err(ContributeError::UnexpectedWrite);
        }
        self.pending = None;
        Ok(())
    }

    fn choose(&mut self, draft: Draft) -> Step {
        if self.options.mode != RatingMode::KtoThumbs {
            return Step::Ignored(Ignored::NoSuchChoice);
        }
        if self.cursor.is_none() {
            return Step::Ignored(Ignored::NothingLeft);
        }
        self.draft = Some(draft);
        Step::Changed
    }

    fn number(&mut self, number: u8) -> Step {
        let Some(index) = self.cursor else {
            return Step::Ignored(Ignored::NothingLeft);
        };
        let draft = match (self.options.mode, number) {
            (RatingMode::KtoThumbs, 1 | 2) => return self.choose(Draft::Thumbs(number == 1)),
            (RatingMode::Pairwise, 1) => Draft::Verdict(Verdict::A),
            (RatingMode::Pairwise, 2) => Draft::Verdict(Verdict::B),
            (RatingMode::Pairwise, 3) => Draft::Verdict(Verdict::Tie),
            (RatingMode::Pairwise, 4) => Draft::Verdict(Verdict::BothBad),
            (RatingMode::Likert, 1..=5) => Draft::Score(number),
            (RatingMode::Ranking, _) => {
                let shown = self.items[index].shown.len();
                // Keys count from 1; `usize::MAX` stands for the key 0, which is no choice.
                let position = usize::from(number).checked_sub(1).unwrap_or(usize::MAX);
                let mut picks = match self.draft.take() {
                    Some(Draft::Ranking(picks)) => picks,
                    _ => Vec::new(),
                };
                let refusal = if position >= shown {
                    Some(Ignored::NoSuchChoice)
                } else if picks.contains(&position) {
                    Some(Ignored::AlreadyRanked)
                } else {
                    None
                };
                if refusal.is_none() {
                    picks.push(position);
                }
                self.draft = (!picks.is_empty()).then_some(Draft::Ranking(picks));
                return refusal.map_or(Step::Changed, Step::Ignored);
            }
            _ => return Step::Ignored(Ignored::NoSuchChoice),
        };
        self.draft = Some(draft);
        Step::Changed
    }

    fn submit(&mut self, now_ms: u64) -> Step {
        let Some(index) = self.cursor else {
            return Step::Ignored(Ignored::NothingLeft);
        };
        let item = &self.items[index];
        let Some(value) = self.draft.as_ref().and_then(|draft| answer(item, draft)) else {
            return Step::Ignored(Ignored::NoAnswer);
        };
        let rating = HumanRating {
            annotator: self.options.annotator.clone(),
            question: self.options.question.clone(),
            value,
            created_at_ms: now_ms,
        };
        let change = RatingChange::Save {
            prompt_id: item.prompt_id.clone(),
            rating: rating.clone(),
        };
        let previous = self.answers[index].clone();
        self.pending_write(
            change,
            Effect::Submitted {
                index,
                rating,
                previous,
            },
        )
    }

    fn undo(&mut self) -> Step {
        // A draft is undone a step at a time before any saved rating is touched.
        match self.draft.take() {
            Some(Draft::Ranking(mut picks)) if picks.len() > 1 => {
                picks.pop();
                self.draft = Some(Draft::Ranking(picks));
                return Step::Changed;
            }
            Some(_) => return Step::Changed,
            None => {}
        }
        let Some((index, previous)) = self.undo.last().cloned() else {
            return Step::Ignored(Ignored::NothingToUndo);
        };
        let prompt_id = self.items[index].prompt_id.clone();
        let change = match (&previous, &self.answers[index]) {
            (Some(previous), _) => RatingChange::Save {
                prompt_id,
                rating: previous.clone(),
            },
            (None, Some(current)) => RatingChange::Delete {
                prompt_id,
                rating_id: current.id(),
            },
            // Cannot happen: a submission on the undo stack left an answer.
            (None, None) => return Step::Ignored(Ignored::NothingToUndo),
        };
        self.pending_write(change, Effect::Undone { index, previous })
    }

    fn skip(&mut self) -> Step {
        let Some(index) = self.cursor else {
            return Step::Ignored(Ignored::NothingLeft);
        };
        if self.answers[index].is_none() {
            self.skipped[index] = true;
        }
        self.draft = None;
        self.cursor = self.next_open(Some(index));
        Step::Changed
    }

    fn step_by(&mut self, delta: isize) -> Step {
        let target = match self.cursor {
            Some(index) => index
                .checked_add_signed(delta)
                .filter(|&target| target < self.items.len()),
            // Past the end, ← goes back to the last item.
            None if delta < 0 => self.items.len().checked_sub(1),
            None => None,
        };
        let Some(target) = target else {
            return Step::Ignored(Ignored::AtEdge);
        };
        self.cursor = Some(target);
        self.draft = None;
        Step::Changed
    }

    fn pending_write(&mut self, change: RatingChange, effect: Effect) -> Step {
        let token = self.next_token;
        self.next_token += 1;
        self.pending = Some(token);
        Step::Write(PendingWrite {
            token,
            change,
            effect,
        })
    }

    /// Offers open items in this order from now on, lowest first (a
    /// campaign's least covered first; see [`crate::campaign::priority`]).
    /// The item on screen stays, and skipped items still come back last.
    pub fn set_priorities(&mut self, priority: impl Fn(&Item) -> u64) {
        self.priorities = Some(self.items.iter().map(priority).collect());
        if self.cursor.is_some_and(|index| self.answers[index].is_some()) {
            self.cursor = self.next_open(self.cursor);
        }
    }

    /// The next item to offer that is neither rated nor skipped: the first
    /// after `after` (from the start if `None`), wrapping round — or, with
    /// priorities, the open item of lowest priority.
    fn next_open(&self, after: Option<usize>) -> Option<usize> {
        if let Some(priorities) = &self.priorities {
            return (0..self.items.len())
                .filter(|&index| self.answers[index].is_none() && !self.skipped[index])
                .min_by_key(|&index| (priorities[index], index));
        }
        let count = self.items.len();
        let start = after.map_or(0, |index| index + 1);
        (0..count)
            .map(|offset| (start + offset) % count)
            .find(|&index| self.answers[index].is_none() && !self.skipped[index])
    }
}

/// The rating value a complete draft gives for this item; `None` while the
/// draft does not answer it (a partial ranking, a draft of another mode).
fn answer(item: &Item, draft: &Draft) -> Option<RatingValue> {
    let first = item.shown.first()?.clone();
    match draft {
        Draft::Thumbs(up) => Some(RatingValue::KtoThumbs {
            generation_id: first,
            up: *up,
        }),
        Draft::Score(score) => Some(RatingValue::Likert {
            generation_id: first,
            score: *score,
        }),
        Draft::Verdict(verdict) => Some(RatingValue::Pairwise {
            a: first,
            b: item.shown.get(1)?.clone(),
            verdict: *verdict,
        }),
        Draft::Ranking(picks) => {
            // The last completion needs no key: it is whatever is left.
            if picks.len() + 1 < item.shown.len() {
                return None;
            }
            let rest = (0..item.shown.len()).filter(|position| !picks.contains(position));
            let order = picks.iter().copied().chain(rest);
            Some(RatingValue::Ranking {
                generation_ids: order.map(|position| item.shown[position].clone()).collect(),
            })
        }
    }
}

/// The queue for a mode, and how many prompts were left out.
///
/// Thumbs and 1–5 ask about each completion in turn; A vs B asks about every
/// pair of a prompt's completions (a project with many completions per prompt
/// is better served by a ranking); a ranking asks about all of them at once.
fn queue(
    mode: RatingMode,
    seed: u64,
    targets: impl IntoIterator<Item = Target>,
) -> (Vec<Item>, usize) {
    let mut items = Vec::new();
    let mut left_out = 0;
    for target in targets {
        let mut seen = HashSet::new();
        let ids: Vec<String> = target
            .generation_ids
            .into_iter()
            .filter(|id| seen.insert(id.clone()))
            .collect();
        if ids.len() < mode.generations_needed() {
            left_out += 1;
            continue;
        }
        let prompt_id = target.prompt_id;
        match mode {
            RatingMode::KtoThumbs | RatingMode::Likert => {
                items.extend(ids.into_iter().map(|id| Item {
                    prompt_id: prompt_id.clone(),
                    shown: vec![id],
                }));
            }
            RatingMode::Pairwise => {
                for (i, first) in ids.iter().enumerate() {
                    for second in &ids[i + 1..] {
                        items.push(Item {
                            prompt_id: prompt_id.clone(),
                            shown: sides(seed, first, second),
                        });
                    }
                }
            }
            RatingMode::Ranking => {
                let shown = shuffled(seed, &prompt_id, ids);
                items.push(Item { prompt_id, shown });
            }
        }
    }
    (items, left_out)
}

/// A and B for a pair: a seeded coin flip that depends on the pair, not on
/// the order it was listed in.
fn sides(seed: u64, first: &str, second: &str) -> Vec<String> {
    let (low, high) = if first <= second {
        (first, second)
    } else {
        (second, first)
    };
    let mut rng = SplitMix64::for_key(seed, &format!("{low}\u{0}{high}"));
    if rng.below(2) == 0 {
        vec![low.to_string(), high.to_string()]
    } else {
        vec![high.to_string(), low.to_string()]
    }
}

/// A seeded Fisher–Yates shuffle, so the first-listed model is not always shown first.
fn shuffled(seed: u64, key: &str, mut ids: Vec<String>) -> Vec<String> {
    let mut rng = SplitMix64::for_key(seed, key);
    for last in (1..ids.len()).rev() {
        ids.swap(last, rng.below(last + 1));
    }
    ids
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(prompt: &str, generations: &[&str]) -> Target {
        Target {
            prompt_id: prompt.into(),
            generation_ids: generations.iter().map(|id| id.to_string()).collect(),
        }
    }

    fn options(mode: RatingMode) -> SessionOptions {
        SessionOptions {
            mode,
            annotator: "ada".into(),
            question: mode.default_question().into(),
            seed: 7,
        }
    }

    /// Why the session refused an action (which must be refused).
    fn refused(session: &mut Session, action: Action) -> Ignored {
        match session.apply(action, 0) {
            Step::Ignored(reason) => reason,
            step => panic!("{action:?} was not refused: {step:?}"),
        }
    }

    /// Rated, skipped and total, for short assertions.
    fn counts(session: &Session) -> (usize, usize, usize) {
        let Progress {
            rated,
            skipped,
            total,
        } = session.progress();
        (rated, skipped, total)
    }

    fn session(mode: RatingMode, targets: Vec<Target>) -> Session {
        Session::new(options(mode), targets, []).unwrap()
    }

    /// Applies an action that must write, writes it to `stored`, completes it.
    fn write(
        session: &mut Session,
        stored: &mut HashMap<String, HumanRating>,
        action: Action,
    ) -> RatingChange {
        let Step::Write(pending) = session.apply(action, 1_000) else {
            panic!("{action:?} wrote nothing")
        };
        let change = pending.change().clone();
        apply_change(stored, &change);
        session.complete(pending).unwrap();
        change
    }

    /// What the store does with a change: a put by id, or a delete.
    fn apply_change(stored: &mut HashMap<String, HumanRating>, change: &RatingChange) {
        match change {
            RatingChange::Save { rating, .. } => {
                stored.insert(rating.id(), rating.clone());
            }
            RatingChange::Delete { rating_id, .. } => {
                stored.remove(rating_id);
            }
        }
    }

    #[test]
    fn the_keyboard_map_follows_argilla() {
        use Action::*;
        let thumbs = RatingMode::KtoThumbs;
        assert_eq!(action_for_key(thumbs, "y"), Some(ThumbsUp));
        assert_eq!(action_for_key(thumbs, "ArrowUp"), Some(ThumbsUp));
        assert_eq!(action_for_key(thumbs, "n"), Some(ThumbsDown));
        assert_eq!(action_for_key(thumbs, "ArrowDown"), Some(ThumbsDown));
        assert_eq!(action_for_key(thumbs, "3"), Some(Number(3)));
        assert_eq!(action_for_key(thumbs, "Enter"), Some(Submit));
        assert_eq!(action_for_key(thumbs, "Backspace"), Some(Undo));
        assert_eq!(action_for_key(thumbs, "z"), Some(Undo));
        assert_eq!(action_for_key(thumbs, "s"), Some(Skip));
        assert_eq!(action_for_key(thumbs, "ArrowLeft"), Some(Previous));
        assert_eq!(action_for_key(thumbs, "ArrowRight"), Some(Next));
        // Outside the thumbs mode ↑/↓ and y/n are left to the browser.
        assert_eq!(action_for_key(RatingMode::Pairwise, "ArrowDown"), None);
        assert_eq!(action_for_key(RatingMode::Likert, "y"), None);
        for key in ["0", "10", "x", "Tab", ""] {
            assert_eq!(action_for_key(thumbs, key), None, "{key:?}");
        }
        // A vs B also takes the letters on its buttons.
        let pairwise = RatingMode::Pairwise;
        let letters: Vec<_> = ["a", "b", "t", "x"].iter().map(|key| action_for_key(pairwise, key)).collect();
        assert_eq!(letters, [Some(Number(1)), Some(Number(2)), Some(Number(3)), Some(Number(4))]);
        assert_eq!(action_for_key(RatingMode::Ranking, "a"), None);
        assert_eq!(RatingMode::Pairwise.key_hints()[3], ("4 or x", "both bad"));
    }

    #[test]
    fn thumbs_rate_one_completion_at_a_time_and_write_before_moving_on() {
        let mut session = session(
            RatingMode::KtoThumbs,
            vec![target("p", &["g1", "g2"]), target("q", &[])],
        );
        assert_eq!(session.left_out(), 1);
        assert_eq!(counts(&session), (0, 0, 2));
        assert_eq!(refused(&mut session, Action::Submit), Ignored::NoAnswer);
        assert_eq!(session.apply(Action::ThumbsDown, 0), Step::Changed);
        assert_eq!(
            session.current().unwrap().draft,
            Some(&Draft::Thumbs(false))
        );

        let Step::Write(pending) = session.apply(Action::Submit, 42) else {
            panic!("no write")
        };
        let RatingChange::Save { prompt_id, rating } = pending.change().clone() else {
            panic!("not a save")
        };
        assert_eq!(prompt_id, "p");
        assert_eq!(
            rating.value,
            RatingValue::KtoThumbs {
                generation_id: "g1".into(),
                up: false
            }
        );
        assert_eq!(
            (rating.annotator.as_str(), rating.created_at_ms),
            ("ada", 42)
        );
        // Until the store answers, the item stays and every key waits.
        assert_eq!(session.current().unwrap().index, 0);
        assert_eq!(refused(&mut session, Action::Submit), Ignored::Busy);
        assert_eq!(refused(&mut session, Action::Next), Ignored::Busy);
        session.complete(pending).unwrap();
        assert_eq!(session.current().unwrap().item.shown, ["g2"]);
        assert_eq!(session.progress().rated, 1);
    }

    #[test]
    fn a_failed_write_changes_nothing_and_can_be_retried() {
        let mut session = session(RatingMode::Likert, vec![target("p", &["g1"])]);
        assert_eq!(
            refused(&mut session, Action::Number(6)),
            Ignored::NoSuchChoice
        );
        assert_eq!(session.apply(Action::Number(4), 0), Step::Changed);
        let Step::Write(failed) = session.apply(Action::Submit, 0) else {
            panic!("no write")
        };
        session.abandon(failed.clone()).unwrap();
        assert_eq!(session.progress().rated, 0);
        assert_eq!(session.current().unwrap().draft, Some(&Draft::Score(4)));
        // The stale write cannot be completed any more.
        assert_eq!(
            session.complete(failed),
            Err(ContributeError::UnexpectedWrite)
        );
        let mut stored = HashMap::new();
        write(&mut session, &mut stored, Action::Submit);
        assert_eq!(session.progress().rated, 1);
        assert!(session.current().is_none());
    }

    #[test]
    fn undo_deletes_a_first_answer_and_restores_a_replaced_one() {
        let mut session = session(RatingMode::KtoThumbs, vec![target("p", &["g1", "g2"])]);
        let mut stored = HashMap::new();
        assert_eq!(refused(&mut session, Action::Undo), Ignored::NothingToUndo);
        let _ = session.apply(Action::ThumbsUp, 0);
        write(&mut session, &mut stored, Action::Submit);
        // Back to the first item, change the answer: the same id, replaced.
        assert_eq!(session.apply(Action::Previous, 0), Step::Changed);
        assert!(session.current().unwrap().answer.is_some());
        let _ = session.apply(Action::ThumbsDown, 0);
        write(&mut session, &mut stored, Action::Submit);
        assert_eq!(stored.len(), 1);
        let only = stored.values().next().unwrap();
        assert_eq!(
            only.value,
            RatingValue::KtoThumbs {
                generation_id: "g1".into(),
                up: false
            }
        );

        // Undo brings back 👍, then a second undo deletes it.
        let change = write(&mut session, &mut stored, Action::Undo);
        assert!(matches!(change, RatingChange::Save { ref rating, .. }
            if rating.value == RatingValue::KtoThumbs { generation_id: "g1".into(), up: true }));
        assert_eq!(session.current().unwrap().index, 0);
        let change = write(&mut session, &mut stored, Action::Undo);
        assert!(matches!(change, RatingChange::Delete { ref prompt_id, .. } if prompt_id == "p"));
        assert!(stored.is_empty());
        assert_eq!(session.progress().rated, 0);
    }

    #[test]
    fn undo_takes_back_the_draft_before_any_saved_rating() {
        let mut session = session(RatingMode::Ranking, vec![target("p", &["g1", "g2", "g3"])]);
        let mut stored = HashMap::new();
        let _ = session.apply(Action::Number(1), 0);
        let _ = session.apply(Action::Number(3), 0);
        assert_eq!(
            session.current().unwrap().draft,
            Some(&Draft::Ranking(vec![0, 2]))
        );
        assert_eq!(session.apply(Action::Undo, 0), Step::Changed);
        assert_eq!(
            session.current().unwrap().draft,
            Some(&Draft::Ranking(vec![0]))
        );
        assert_eq!(session.apply(Action::Undo, 0), Step::Changed);
        assert_eq!(session.current().unwrap().draft, None);
        assert_eq!(refused(&mut session, Action::Undo), Ignored::NothingToUndo);
        assert!(stored.is_empty());
        let _ = session.apply(Action::Number(2), 0);
        let _ = session.apply(Action::Number(1), 0);
        write(&mut session, &mut stored, Action::Submit);
        assert_eq!(stored.len(), 1);
        // With no draft left, undo reaches the saved ranking.
        assert!(matches!(
            write(&mut session, &mut stored, Action::Undo),
            RatingChange::Delete { .. }
        ));
        assert!(stored.is_empty());
    }

    #[test]
    fn a_ranking_needs_all_but_the_last_and_fills_it_in() {
        let mut session = session(RatingMode::Ranking, vec![target("p", &["g1", "g2", "g3"])]);
        let shown = session.current().unwrap().item.shown.clone();
        let mut shown_sorted = shown.clone();
        shown_sorted.sort();
        assert_eq!(shown_sorted, ["g1", "g2", "g3"]);
        assert_eq!(
            refused(&mut session, Action::Number(4)),
            Ignored::NoSuchChoice
        );
        let _ = session.apply(Action::Number(3), 0);
        assert_eq!(
            refused(&mut session, Action::Number(3)),
            Ignored::AlreadyRanked
        );
        assert_eq!(refused(&mut session, Action::Submit), Ignored::NoAnswer);
        let _ = session.apply(Action::Number(1), 0);
        let mut stored = HashMap::new();
        let RatingChange::Save { rating, .. } = write(&mut session, &mut stored, Action::Submit)
        else {
            panic!()
        };
        let expected = vec![shown[2].clone(), shown[0].clone(), shown[1].clone()];
        assert_eq!(
            rating.value,
            RatingValue::Ranking {
                generation_ids: expected
            }
        );
    }

    #[test]
    fn pairs_cover_every_two_completions_with_seeded_sides() {
        let session = session(
            RatingMode::Pairwise,
            vec![target("p", &["g1", "g2", "g3"]), target("q", &["h1"])],
        );
        assert_eq!(session.left_out(), 1);
        let mut pairs: Vec<Vec<String>> = session
            .items()
            .iter()
            .map(|item| {
                let mut pair = item.shown.clone();
                pair.sort();
                pair
            })
            .collect();
        pairs.sort();
        assert_eq!(pairs, [["g1", "g2"], ["g1", "g3"], ["g2", "g3"]]);
        // The same seed shows the same sides, whatever the listing order.
        let reversed = Session::new(
            options(RatingMode::Pairwise),
            vec![target("p", &["g3", "g2", "g1"])],
            [],
        )
        .unwrap();
        for item in session.items() {
            assert!(reversed.items().contains(item), "{item:?}");
        }
        // Over many pairs, A is the first-listed completion about half the time.
        let many: Vec<String> = (0..200).map(|i| format!("g{i:03}")).collect();
        let ids: Vec<&str> = many.iter().map(String::as_str).collect();
        let pairs =
            Session::new(options(RatingMode::Pairwise), vec![target("p", &ids)], []).unwrap();
        let first_is_a = pairs
            .items()
            .iter()
            .filter(|item| item.shown[0] < item.shown[1])
            .count();
        let share = first_is_a as f64 / pairs.items().len() as f64;
        assert!((0.45..0.55).contains(&share), "{share}");
    }

    #[test]
    fn a_pair_answer_names_the_sides_as_shown() {
        let mut session = session(RatingMode::Pairwise, vec![target("p", &["g1", "g2"])]);
        let shown = session.current().unwrap().item.shown.clone();
        assert_eq!(
            refused(&mut session, Action::Number(5)),
            Ignored::NoSuchChoice
        );
        let _ = session.apply(Action::Number(2), 0);
        let mut stored = HashMap::new();
        let RatingChange::Save { rating, .. } = write(&mut session, &mut stored, Action::Submit)
        else {
            panic!()
        };
        assert_eq!(
            rating.value,
            RatingValue::Pairwise {
                a: shown[0].clone(),
                b: shown[1].clone(),
                verdict: Verdict::B
            }
        );
    }

    #[test]
    fn earlier_answers_are_not_asked_again_and_others_answers_do_not_count() {
        let targets = || vec![target("p", &["g1", "g2", "g3"])];
        let mut first = session(RatingMode::KtoThumbs, targets());
        let mut stored = HashMap::new();
        let _ = first.apply(Action::Next, 0);
        let _ = first.apply(Action::ThumbsUp, 0);
        write(&mut first, &mut stored, Action::Submit);

        let mut someone_else = stored.values().next().unwrap().clone();
        someone_else.annotator = "bob".into();
        someone_else.value = RatingValue::KtoThumbs {
            generation_id: "g1".into(),
            up: true,
        };
        let existing = stored.values().cloned().chain([someone_else]);
        let resumed = Session::new(options(RatingMode::KtoThumbs), targets(), existing).unwrap();
        assert_eq!(counts(&resumed), (1, 0, 3));
        assert_eq!(resumed.current().unwrap().item.shown, ["g1"]);
        assert!(resumed.items()[1].shown == ["g2"]);

        let error = Session::new(
            SessionOptions {
                annotator: " ".into(),
                ..options(RatingMode::Likert)
            },
            targets(),
            [],
        );
        assert_eq!(error.unwrap_err(), ContributeError::NoAnnotator);
    }

    #[test]
    fn skipped_items_come_last_and_can_be_revisited() {
        let mut session = session(RatingMode::Likert, vec![target("p", &["g1", "g2"])]);
        let mut stored = HashMap::new();
        assert_eq!(session.apply(Action::Skip, 0), Step::Changed);
        assert_eq!(session.current().unwrap().item.shown, ["g2"]);
        let _ = session.apply(Action::Number(5), 0);
        write(&mut session, &mut stored, Action::Submit);
        assert!(session.current().is_none());
        assert_eq!(counts(&session), (1, 1, 2));
        assert_eq!(refused(&mut session, Action::Submit), Ignored::NothingLeft);
        assert_eq!(refused(&mut session, Action::Next), Ignored::AtEdge);
        session.revisit_skipped();
        assert_eq!(session.current().unwrap().item.shown, ["g1"]);
        assert_eq!(refused(&mut session, Action::Previous), Ignored::AtEdge);
    }

    #[test]
    fn priorities_choose_the_next_item_and_skips_still_come_last() {
        let mut session = session(RatingMode::KtoThumbs, vec![target("p", &["g1", "g2", "g3"])]);
        let mut stored = HashMap::new();
        assert_eq!(session.current().unwrap().item.shown, ["g1"]);
        // g3 is least covered, then g2; the item on screen stays until answered.
        session.set_priorities(|item| match item.shown[0].as_str() { "g3" => 0, "g2" => 1, _ => 2 });
        assert_eq!(session.current().unwrap().item.shown, ["g1"]);
        let _ = session.apply(Action::ThumbsUp, 0);
        write(&mut session, &mut stored, Action::Submit);
        assert_eq!(session.current().unwrap().item.shown, ["g3"]);
        assert_eq!(session.apply(Action::Skip, 0), Step::Changed);
        assert_eq!(session.current().unwrap().item.shown, ["g2"]);
        let _ = session.apply(Action::ThumbsDown, 0);
        write(&mut session, &mut stored, Action::Submit);
        assert!(session.current().is_none());
        session.revisit_skipped();
        assert_eq!(session.current().unwrap().item.shown, ["g3"]);
        assert_eq!(session.items()[2].question_id(RatingMode::KtoThumbs), crate::record::RatingValue::KtoThumbs { generation_id: "g3".into(), up: false }.question_id());
    }

    #[test]
    fn ratings_come_back_as_records_for_the_exports() {
        use crate::export::kto::{kto, KtoOptions};
        use crate::record::{assemble_records, Generation, Prompt};
        let prompt = Prompt::new("Say hi.");
        let generations: Vec<Generation> = ["Hi!", "Go away."]
            .iter()
            .map(|text| {
                let mut generation = Generation {
                    model_id: "m".into(),
                    raw_text: text.to_string(),
                    text: text.to_string(),
                    ..Default::default()
                };
                generation.id = generation.compute_id(&prompt.id);
                generation
            })
            .collect();
        let record = Record {
            generations: generations.clone(),
            ..Record::new(prompt.clone())
        };
        let mut session = session(RatingMode::KtoThumbs, vec![Target::from(&record)]);
        let mut stored = HashMap::new();
        for key in ["y", "Enter", "n", "Enter"] {
            let action = action_for_key(RatingMode::KtoThumbs, key).unwrap();
            match session.apply(action, 5) {
                Step::Write(pending) => {
                    apply_change(&mut stored, pending.change());
                    session.complete(pending).unwrap();
                }
                step => assert_eq!(step, Step::Changed),
            }
        }
        let assembled = assemble_records(
            [prompt.clone()],
            generations
                .into_iter()
                .map(|generation| (prompt.id.clone(), generation)),
            stored.into_values(),
        );
        let export = kto(&assembled.records, &KtoOptions::default());
        assert_eq!(export.report.desirable, 1);
        assert_eq!(export.report.undesirable, 1);
    }
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod properties {
    use super::*;
    use proptest::prelude::*;

    fn any_action() -> impl Strategy<Value = Action> {
        prop_oneof![
            Just(Action::ThumbsUp),
            Just(Action::ThumbsDown),
            (0u8..=9).prop_map(Action::Number),
            Just(Action::Submit),
            Just(Action::Submit),
            Just(Action::Undo),
            Just(Action::Skip),
            Just(Action::Previous),
            Just(Action::Next),
        ]
    }

    fn any_mode() -> impl Strategy<Value = RatingMode> {
        prop_oneof![
            Just(RatingMode::KtoThumbs),
            Just(RatingMode::Pairwise),
            Just(RatingMode::Likert),
            Just(RatingMode::Ranking)
        ]
    }

    proptest! {
        /// Whatever keys are pressed, and whichever writes fail, the store
        /// holds exactly the session's answers: one per rated item, none lost,
        /// none twice.
        #[test]
        fn the_store_always_mirrors_the_session(
            mode in any_mode(),
            sizes in proptest::collection::vec(0usize..4, 1..5),
            steps in proptest::collection::vec((any_action(), any::<bool>()), 0..120),
        ) {
            let targets: Vec<Target> = sizes
                .iter()
                .enumerate()
                .map(|(p, &n)| Target {
                    prompt_id: format!("p{p}"),
                    generation_ids: (0..n).map(|g| format!("p{p}g{g}")).collect(),
                })
                .collect();
            let options = SessionOptions { mode, annotator: "ada".into(), question: "?".into(), seed: 1 };
            let mut session = Session::new(options, targets, []).unwrap();
            let mut stored: HashMap<String, HumanRating> = HashMap::new();
            for (time, (action, write_fails)) in steps.into_iter().enumerate() {
                if let Step::Write(pending) = session.apply(action, time as u64) {
                    if write_fails {
                        session.abandon(pending).unwrap();
                    } else {
                        match pending.change() {
                            RatingChange::Save { rating, .. } => { stored.insert(rating.id(), rating.clone()); }
                            RatingChange::Delete { rating_id, .. } => { stored.remove(rating_id); }
                        }
                        session.complete(pending).unwrap();
                    }
                }
                let answers: Vec<&HumanRating> = session.answers.iter().flatten().collect();
                prop_assert_eq!(answers.len(), stored.len());
                for answer in answers {
                    prop_assert_eq!(stored.get(&answer.id()), Some(answer));
                }
                let progress = session.progress();
                prop_assert!(progress.rated + progress.skipped <= progress.total);
                prop_assert!(!session.is_writing());
            }
        }
    }
}
