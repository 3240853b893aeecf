//! Contribute: rate completions, keyboard first.
//!
//! The project chooses the question: 👍/👎 on one completion (KTO), A versus
//! B (DPO; sides drawn at random, reproducibly), or 1 to 5. Keys select an
//! answer and Enter submits; y/n and ↑/↓ are thumbs, 1–4 (or a, b, t) the
//! A/B answers, 1–5 the scale; s skips, Backspace or z undoes the last
//! rating, ← and → move. A rating is written to IndexedDB (transaction
//! complete) before the next item appears.
//!
//! Prompts, completions and guidelines are shown as text, never as HTML.

use leptos::ev;
use leptos::prelude::*;
use leptos::task::spawn_local;
use prefab_core::prng::SplitMix64;
use prefab_core::record::{Generation, HumanRating, RatingValue, Verdict};

use crate::project::{self, rating_id, Project, RatingMode};

/// Who rates in this browser until they sign in.
pub const LOCAL_ANNOTATOR: &str = "local";

/// One question to answer.
#[derive(Clone, Debug, PartialEq)]
pub enum Task {
    /// One completion of a prompt.
    Single { prompt: String, generation: Generation },
    /// Two completions of a prompt, as shown (A, B).
    Pair { prompt: String, a: Generation, b: Generation },
}

impl Task {
    /// The rating this answer makes.
    fn rating(&self, answer: Answer) -> Option<HumanRating> {
        let value = match (self, answer) {
            (Task::Single { generation, .. }, Answer::Thumbs(up)) => RatingValue::KtoThumbs { generation_id: generation.id.clone(), up },
            (Task::Single { generation, .. }, Answer::Score(score)) => RatingValue::Likert { generation_id: generation.id.clone(), score },
            (Task::Pair { a, b, .. }, Answer::Verdict(verdict)) => RatingValue::Pairwise { a: a.id.clone(), b: b.id.clone(), verdict },
            _ => return None,
        };
        Some(HumanRating {
            annotator: LOCAL_ANNOTATOR.to_owned(),
            question: String::new(),
            value,
            created_at_ms: js_sys::Date::now() as u64,
        })
    }

    /// The id the rating of this task gets, whatever the answer.
    fn rating_id(&self, mode: RatingMode) -> String {
        let answer = match mode {
            RatingMode::Likert => Answer::Score(3),
            RatingMode::Pairwise => Answer::Verdict(Verdict::Tie),
            _ => Answer::Thumbs(true),
        };
        self.rating(answer).map(|rating| rating_id(&rating)).unwrap_or_default()
    }
}

/// A selected answer, not yet submitted.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Answer {
    /// 👍 (`true`) or 👎.
    Thumbs(bool),
    /// A versus B.
    Verdict(Verdict),
    /// 1 to 5.
    Score(u8),
}

/// The questions of the project's finished generations for `mode`, in
/// prompt order.
pub fn tasks(project: &Project, mode: RatingMode) -> Vec<Task> {
    let records = project.records();
    let mut tasks = Vec::new();
    for record in records {
        let prompt = record.prompt.text.clone();
        match mode {
            RatingMode::Pairwise => {
                for pair in record.generations.chunks(2) {
                    if let [first, second] = pair {
                        // Which side each is shown on is drawn per pair, so
                        // position bias cancels out yet a reload shows the same.
                        let swap = SplitMix64::for_key(7, &format!("{}{}", first.id, second.id)).below(2) == 1;
                        let (a, b) = if swap { (second.clone(), first.clone()) } else { (first.clone(), second.clone()) };
                        tasks.push(Task::Pair { prompt: prompt.clone(), a, b });
                    }
                }
            }
            _ => tasks.extend(record.generations.into_iter().map(|generation| Task::Single { prompt: prompt.clone(), generation })),
        }
    }
    tasks
}

/// What a key means in `mode`, or `None`.
pub fn answer_for_key(mode: RatingMode, key: &str) -> Option<Answer> {
    match (mode, key) {
        (RatingMode::Thumbs | RatingMode::Ranking, "y" | "ArrowUp" | "1") => Some(Answer::Thumbs(true)),
        (RatingMode::Thumbs | RatingMode::Ranking, "n" | "ArrowDown" | "2") => Some(Answer::Thumbs(false)),
        (RatingMode::Pairwise, "1" | "a") => Some(Answer::Verdict(Verdict::A)),
        (RatingMode::Pairwise, "2" | "b") => Some(Answer::Verdict(Verdict::B)),
        (RatingMode::Pairwise, "3" | "t") => Some(Answer::Verdict(Verdict::Tie)),
        (RatingMode::Pairwise, "4" | "x") => Some(Answer::Verdict(Verdict::BothBad)),
        (RatingMode::Likert, "1" | "2" | "3" | "4" | "5") => key.parse().ok().map(Answer::Score),
        _ => None,
    }
}

/// The Contribute place.
#[component]
pub fn Contribute() -> impl IntoView {
    let project = expect_context::<Project>();
    let mode = project.rating_mode;
    let position = RwSignal::new(0usize);
    let selected = RwSignal::new(None::<Answer>);
    let saving = RwSignal::new(false);
    let problem = RwSignal::new(None::<String>);
    // Ratings made here, newest last, for undo.
    let history = StoredValue::new(Vec::<(usize, String)>::new());
    let all = Memo::new(move |_| {
        project.items.track();
        project.loaded.track();
        tasks(&project, mode.get())
    });
    // Each task's rating id, hashed once per task list rather than on
    // every keypress and every progress count.
    let rating_ids = Memo::new(move |_| all.with(|tasks| tasks.iter().map(|task| task.rating_id(mode.get())).collect::<Vec<_>>()));
    let first_unrated_from = move |from: usize| {
        rating_ids.with_untracked(|ids| {
            project.ratings.with_untracked(|ratings| {
                (from..ids.len()).chain(0..from).find(|&i| !ratings.contains_key(&ids[i])).unwrap_or(ids.len())
            })
        })
    };
    // Start at the first task not rated yet once the project is read.
    Effect::new(move |_| {
        if project.loaded.get() {
            all.track();
            position.set(first_unrated_from(0));
        }
    });
    let current = move || all.with(|tasks| tasks.get(position.get()).cloned());

    let submit = move || {
        let (Some(task), Some(answer)) = (current(), selected.get_untracked()) else { return };
        let Some(rating) = task.rating(answer) else { return };
        if saving.get_untracked() {
            return;
        }
        saving.set(true);
        let index = position.get_untracked();
        let id = rating_id(&rating);
        spawn_local(async move {
            match project::save_rating(project, rating).await {
                Ok(()) => {
                    history.update_value(|history| history.push((index, id)));
                    selected.set(None);
                    problem.set(None);
                    position.set(first_unrated_from(index + 1));
                }
                Err(message) => problem.set(Some(format!("The rating was not saved: {message}"))),
            }
            saving.set(false);
        });
    };
    let undo = move || {
        let Some((index, id)) = history.try_update_value(|history| history.pop()).flatten() else { return };
        spawn_local(async move {
            match project::delete_rating(project, id).await {
                Ok(()) => {
                    selected.set(None);
                    position.set(index);
                }
                Err(message) => problem.set(Some(format!("The rating was not undone: {message}"))),
            }
        });
    };
    let total = move || all.with(Vec::len);
    let move_by = move |step: isize| {
        let next = position.get_untracked() as isize + step;
        if next >= 0 && (next as usize) < total() {
            position.set(next as usize);
            selected.set(None);
        }
    };
    let on_key = window_event_listener(ev::keydown, move |event| {
        // Typing in a field is not rating.
        let typing = event
            .target()
            .and_then(|target| wasm_bindgen::JsCast::dyn_into::<web_sys::Element>(target).ok())
            .is_some_and(|element| matches!(element.tag_name().as_str(), "INPUT" | "TEXTAREA" | "SELECT"));
        if typing || event.ctrl_key() || event.meta_key() || event.alt_key() {
            return;
        }
        let key = event.key();
        if let Some(answer) = answer_for_key(mode.get_untracked(), &key) {
            event.prevent_default();
            selected.set(Some(answer));
            return;
        }
        match key.as_str() {
            "Enter" => submit(),
            "Backspace" | "z" => undo(),
            "s" => move_by(1),
            "ArrowRight" => move_by(1),
            "ArrowLeft" => move_by(-1),
            _ => return,
        }
        event.prevent_default();
    });
    on_cleanup(move || on_key.remove());

    let rated_count = move || {
        rating_ids.with(|ids| project.ratings.with(|ratings| ids.iter().filter(|id| ratings.contains_key(*id)).count()))
    };
    let set_mode = move |event: ev::Event| {
        let mode = match event_target_value(&event).as_str() {
            "pairwise" => RatingMode::Pairwise,
            "likert" => RatingMode::Likert,
            _ => RatingMode::Thumbs,
        };
        spawn_local(async move {
            if let Err(message) = project::save_rating_mode(project, mode).await {
                problem.set(Some(message));
            }
        });
    };

    view! {
        <div class="contribute">
            <label class="mode">
                "Question"
                <select data-testid="rating-mode" on:change=set_mode>
                    <option value="thumbs" selected=move || mode.get() == RatingMode::Thumbs>"👍 / 👎 (KTO)"</option>
                    <option value="pairwise" selected=move || mode.get() == RatingMode::Pairwise>"A vs B (DPO)"</option>
                    <option value="likert" selected=move || mode.get() == RatingMode::Likert>"1 to 5"</option>
                </select>
            </label>
            <p role="status" data-testid="rating-progress">{move || format!("{} of {} rated", rated_count(), total())}</p>
            <progress aria-label="Rating progress" max=move || total().max(1) value=rated_count></progress>
            {move || problem.get().map(|message| view! { <p class="error" role="alert">{message}</p> })}
            {move || match current() {
                None if total() == 0 => view! { <p data-testid="rating-empty">"Nothing to rate yet: run the model pool in Build first."</p> }.into_any(),
                None => view! { <p data-testid="rating-done">"All rated. Thank you! Download the dataset in Export."</p> }.into_any(),
                Some(task) => view! { <TaskView task selected saving mode=mode.get() on_submit=submit /> }.into_any(),
            }}
            <p class="hint keys">"Keys: y/n or ↑/↓ (thumbs) · 1–4 or a/b/t/x (A, B, tie, both bad) · 1–5 (scale) · Enter submit · Backspace or z undo · s skip · ←/→ move"</p>
            <details class="guidelines" open>
                <summary>"Guidelines"</summary>
                <div data-testid="guidelines">{move || markdown(&project.guidelines.get())}</div>
            </details>
        </div>
    }
}

#[component]
fn TaskView(
    task: Task,
    selected: RwSignal<Option<Answer>>,
    saving: RwSignal<bool>,
    mode: RatingMode,
    on_submit: impl Fn() + Copy + Send + Sync + 'static,
) -> impl IntoView {
    let choice = move |answer: Answer, label: &'static str, key: &'static str| {
        view! {
            <button type="button" class="choice-button" aria-pressed=move || (selected.get() == Some(answer)).to_string()
                on:click=move |_| selected.set(Some(answer))>
                {label} <kbd>{key}</kbd>
            </button>
        }
    };
    let (prompt, body) = match task {
        Task::Single { prompt, generation } => (prompt, view! {
            <article class="completion-card" data-testid="completion" data-generation=generation.id.clone()>
                <h3>"Completion"</h3>
                <p class="completion">{generation.text.clone()}</p>
            </article>
        }.into_any()),
        Task::Pair { prompt, a, b } => (prompt, view! {
            <div class="pair">
                <article class="completion-card" data-testid="completion-a" data-generation=a.id.clone()>
                    <h3>"A"</h3><p class="completion">{a.text.clone()}</p>
                </article>
                <article class="completion-card" data-testid="completion-b" data-generation=b.id.clone()>
                    <h3>"B"</h3><p class="completion">{b.text.clone()}</p>
                </article>
            </div>
        }.into_any()),
    };
    let choices = match mode {
        RatingMode::Pairwise => vec![
            choice(Answer::Verdict(Verdict::A), "A is better", "1"),
            choice(Answer::Verdict(Verdict::B), "B is better", "2"),
            choice(Answer::Verdict(Verdict::Tie), "Tie", "3"),
            choice(Answer::Verdict(Verdict::BothBad), "Both bad", "4"),
        ],
        RatingMode::Likert => (1..=5u8)
            .map(|score| choice(Answer::Score(score), ["1", "2", "3", "4", "5"][score as usize - 1], ["1", "2", "3", "4", "5"][score as usize - 1]))
            .collect(),
        _ => vec![choice(Answer::Thumbs(true), "👍 Good", "y"), choice(Answer::Thumbs(false), "👎 Bad", "n")],
    };
    view! {
        <section class="task" data-testid="task" aria-label="Rate this">
            <h2>"Prompt"</h2>
            <p class="prompt" data-testid="task-prompt">{prompt}</p>
            {body}
            <div class="buttons" role="group" aria-label="Your answer">{choices}</div>
            <div class="buttons">
                <button type="button" data-testid="submit" disabled=move || selected.get().is_none() || saving.get() on:click=move |_| on_submit()>
                    "Submit " <kbd>"Enter"</kbd>
                </button>
            </div>
        </section>
    }
}

/// A safe subset of Markdown: paragraphs, `- ` lists and `**bold**`, built
/// as elements and text nodes (never parsed as HTML).
pub fn markdown(source: &str) -> impl IntoView {
    let inline = |line: &str| {
        line.split("**")
            .enumerate()
            .map(|(index, part)| if index % 2 == 1 { view! { <strong>{part.to_owned()}</strong> }.into_any() } else { part.to_owned().into_any() })
            .collect_view()
    };
    let mut blocks = Vec::new();
    let mut list: Vec<String> = Vec::new();
    let flush = |list: &mut Vec<String>, blocks: &mut Vec<AnyView>| {
        if !list.is_empty() {
            let items = std::mem::take(list).into_iter().map(|item| view! { <li>{inline(&item)}</li> }).collect_view();
            blocks.push(view! { <ul>{items}</ul> }.into_any());
        }
    };
    for line in source.lines() {
        if let Some(item) = line.trim_start().strip_prefix("- ") {
            list.push(item.to_owned());
        } else {
            flush(&mut list, &mut blocks);
            if !line.trim().is_empty() {
                blocks.push(view! { <p>{inline(line)}</p> }.into_any());
            }
        }
    }
    flush(&mut list, &mut blocks);
    blocks
}

