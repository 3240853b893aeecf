//! Contribute: rate completions, keyboard first.
//!
//! The page drives [`prefab_core::contribute::Session`], which holds the
//! queue, the draft answer, skips and undo: a key becomes an action, and an
//! action that changes a rating comes back as a write. The write goes to
//! IndexedDB (transaction complete, strict durability) and only then is the
//! session told, so the next item appears after the rating is on disk.
//!
//! The project chooses the question: 👍/👎 on one completion (KTO), A versus
//! B (DPO; sides drawn at random, reproducibly), 1 to 5, or a ranking of all
//! of a prompt's completions. Every control also has a button, for phones.
//!
//! Prompts, completions and guidelines are shown as text, never as HTML.

use std::collections::HashMap;

use leptos::ev;
use leptos::prelude::*;
use leptos::task::spawn_local;
use prefab_core::contribute::{action_for_key, Action, Draft, Item, RatingChange, RatingMode, Session, SessionOptions, Step, Target};
use prefab_core::campaign::{priority, Coverage};
use prefab_core::record::{HumanRating, RatingValue, Verdict};

use crate::campaign::{link_in_address, Campaign, CampaignStatus, Opened};
use crate::offline::Offline;
use crate::project::{self, Project};
use prefab_store::StoreError;

/// The seed for A/B sides and ranking order: one per project, so every
/// annotator sees the same screens.
const PROJECT_SEED: u64 = 7;

/// The texts an item shows, by id.
#[derive(Default)]
struct Texts {
    prompts: HashMap<String, String>,
    generations: HashMap<String, String>,
    notes: HashMap<String, Notes>,
}

/// What a completion card may say about where the completion came from.
#[derive(Clone, Debug, Default, PartialEq)]
struct Notes {
    /// The EvolQuality mutation, when it is a rewrite of another completion.
    rewrite: Option<String>,
    /// The judges' score, shown only when the person asks (it may sway them).
    judge: Option<String>,
}

impl Notes {
    /// The notes of each of a record's generations, by id: the judges'
    /// score is the panel's mean, as Export's "mean of every judge" reads it.
    fn of(record: &prefab_core::record::Record) -> impl Iterator<Item = (String, Notes)> + '_ {
        let panel = prefab_core::export::binarize::ScoreSource::Judge { aspect: None, judge: None };
        record.generations.iter().zip(prefab_core::export::binarize::scores(record, &panel)).map(|(generation, mean)| {
            let judge = mean.map(|mean| {
                let judges: Vec<String> = generation.judgments.iter().filter(|j| j.rating.is_some()).map(|j| j.judge_label()).collect();
                format!("Judges' score: {mean:.1} of 5 ({})", judges.join("; "))
            });
            (generation.id.clone(), Notes { rewrite: generation.evolved_from.as_ref().map(|from| from.mutation.clone()), judge })
        })
    }
}

/// The item on screen, with what it needs to be drawn.
#[derive(Clone, Debug, PartialEq)]
struct Shown {
    index: usize,
    item: Item,
    prompt: String,
    completions: Vec<(String, String)>,
    notes: Vec<Notes>,
}

/// The Contribute place.
#[component]
pub fn Contribute() -> impl IntoView {
    let project = expect_context::<Project>();
    let campaign = expect_context::<Campaign>();
    let offline = expect_context::<Offline>();
    // A campaign link makes this the campaign's queue; else the project's.
    let link = link_in_address();
    let in_campaign = link.is_some();
    let opened = Memo::new(move |_| {
        let link = link.as_ref()?;
        campaign.opened.get().filter(|opened| opened.repo == link.repo)
    });
    let mode = Memo::new(move |_| opened.with(|opened| opened.as_ref().map(|opened| opened.manifest.mode)).unwrap_or_else(|| project.rating_mode.get()));
    let session = StoredValue::new(None::<Session>);
    let texts = StoredValue::new(Texts::default());
    // Bumped whenever the session changes: what is drawn reads it.
    let tick = RwSignal::new(0u64);
    let problem = RwSignal::new(None::<String>);
    let hint = RwSignal::new(None::<String>);
    let saving = RwSignal::new(false);
    // Judges' scores as hints (Argilla's suggestions): off, so they do not sway people.
    let show_judges = RwSignal::new(false);

    // The session is rebuilt when the finished generations, the question or
    // the annotator change (not on each rating: the session keeps those).
    let done_count = Memo::new(move |_| {
        project.items.with(|items| items.values().filter(|state| matches!(state, project::ItemState::Done { .. } | project::ItemState::Judged { .. })).count())
    });
    let rebuild = move || {
        let opened = opened.get_untracked();
        if in_campaign && opened.is_none() {
            return;
        }
        let (records, question, seed) = match &opened {
            Some(opened) => (opened.records.clone(), opened.manifest.question.clone(), opened.manifest.seed),
            None => (project.records(), mode.get_untracked().default_question().to_owned(), PROJECT_SEED),
        };
        let options = SessionOptions { mode: mode.get_untracked(), annotator: project.annotator.get_untracked(), question, seed };
        let existing: Vec<HumanRating> = project.ratings.with_untracked(|ratings| ratings.values().cloned().collect());
        texts.set_value(Texts {
            prompts: records.iter().map(|record| (record.prompt.id.clone(), record.prompt.text.clone())).collect(),
            generations: records
                .iter()
                .flat_map(|record| record.generations.iter().map(|generation| (generation.id.clone(), generation.text.clone())))
                .collect(),
            notes: records.iter().flat_map(Notes::of).collect(),
        });
        match Session::new(options, records.iter().map(Target::from), existing) {
            Ok(mut built) => {
                if let Some(opened) = &opened {
                    prioritize(&mut built, opened, &campaign.coverage.get_untracked());
                }
                session.set_value(Some(built));
                problem.set(None);
            }
            Err(error) => {
                session.set_value(None);
                problem.set(Some(error.to_string()));
            }
        }
        tick.update(|tick| *tick += 1);
    };
    Effect::new(move |_| {
        if project.loaded.get() {
            done_count.track();
            mode.track();
            opened.track();
            project.annotator.track();
            project.ratings_from_other_tabs.track();
            rebuild();
        }
    });
    // New coverage reorders what comes next (the item on screen stays).
    Effect::new(move |_| {
        let coverage = campaign.coverage.get();
        let Some(opened) = opened.get_untracked() else { return };
        session.update_value(|session| {
            if let Some(session) = session {
                prioritize(session, &opened, &coverage);
            }
        });
        tick.update(|tick| *tick += 1);
    });

    let shown = Memo::new(move |_| {
        tick.track();
        let view = session.with_value(|session| {
            session.as_ref().and_then(|session| session.current()).map(|view| (view.index, view.item.clone()))
        })?;
        let (index, item) = view;
        Some(texts.with_value(|texts| Shown {
            index,
            prompt: texts.prompts.get(&item.prompt_id).cloned().unwrap_or_default(),
            completions: item
                .shown
                .iter()
                .map(|id| (id.clone(), texts.generations.get(id).cloned().unwrap_or_default()))
                .collect(),
            notes: item.shown.iter().map(|id| texts.notes.get(id).cloned().unwrap_or_default()).collect(),
            item,
        }))
    });
    // The draft, else the saved answer, of the item on screen.
    let choice = Memo::new(move |_| {
        tick.track();
        session.with_value(|session| {
            let view = session.as_ref()?.current()?;
            view.draft.cloned().map(Choice::Draft).or_else(|| view.answer.map(|rating| Choice::Saved(rating.value.clone())))
        })
    });
    let progress = Memo::new(move |_| {
        tick.track();
        session.with_value(|session| session.as_ref().map(Session::progress))
    });

    let act = move |action: Action| {
        let step = session.try_update_value(|session| session.as_mut().map(|session| session.apply(action, js_sys::Date::now() as u64)));
        let Some(Some(step)) = step else { return };
        match step {
            Step::Changed => hint.set(None),
            Step::Ignored(reason) => hint.set(Some(reason.to_string())),
            Step::Write(write) => {
                hint.set(None);
                saving.set(true);
                let change = write.change().clone();
                spawn_local(async move {
                    let stored = match change {
                        RatingChange::Save { rating, .. } => project::save_rating(project, rating).await,
                        RatingChange::Delete { rating_id, .. } => project::delete_rating(project, rating_id).await,
                    };
                    let outcome = session.try_update_value(|session| {
                        let session = session.as_mut()?;
                        Some(if stored.is_ok() { session.complete(write) } else { session.abandon(write) })
                    });
                    saving.set(false);
                    match stored {
                        Ok(()) => {
                            problem.set(None);
                            offline.keep_storage();
                        }
                        Err(error) => problem.set(Some(not_saved(&error))),
                    }
                    // The session was rebuilt while writing: the stored
                    // ratings now include this one, so build it again.
                    if !matches!(outcome, Some(Some(Ok(())))) {
                        rebuild();
                    }
                    tick.update(|tick| *tick += 1);
                });
            }
        }
        tick.update(|tick| *tick += 1);
    };

    // One keyboard model: shortcuts act unless focus is in a text field;
    // Enter and Space on a focused link or button are that link or button,
    // except Enter on an answer button once an answer is picked, which
    // submits it (as Enter does anywhere else).
    let on_key = window_event_listener(ev::keydown, move |event| {
        let focus = focus_of(&event);
        if focus == Focus::Typing || event.ctrl_key() || event.meta_key() || event.alt_key() || event.repeat() {
            return;
        }
        let key = event.key();
        if key == "Enter" || key == " " {
            let picked = matches!(choice.get_untracked(), Some(Choice::Draft(_)));
            match focus {
                Focus::Button { answer: true } if key == "Enter" && picked => {}
                Focus::Link | Focus::Button { .. } => return,
                _ => {}
            }
        }
        if let Some(action) = action_for_key(mode.get_untracked(), &key) {
            event.prevent_default();
            act(action);
        }
    });
    on_cleanup(move || on_key.remove());

    let name_problem = RwSignal::new(None::<&'static str>);
    let set_annotator = move |event: ev::Event| {
        let name = event_target_value(&event).trim().to_owned();
        if name.is_empty() {
            return name_problem.set(Some("Type a name: your ratings are kept under it."));
        }
        name_problem.set(None);
        if name == project.annotator.get_untracked() {
            return;
        }
        spawn_local(async move {
            if let Err(message) = project::save_annotator(project, name).await {
                problem.set(Some(message.to_string()));
            }
        });
    };
    let has_item = Memo::new(move |_| shown.with(Option::is_some));
    let picked = move || choice.with(|choice| matches!(choice, Some(Choice::Draft(_))));
    let total = move || progress.get().map_or(0, |progress| progress.total);
    let rated = move || progress.get().map_or(0, |progress| progress.rated);

    view! {
        <div class="contribute">
            {move || in_campaign.then(|| match (opened.get(), campaign.problem.get()) {
                (Some(opened), _) => view! {
                    <h2 data-testid="campaign-title">{opened.manifest.title.clone()}</h2>
                    <p class="hint">{format!("A campaign on {} · each item is rated by {} people · {}", opened.repo, opened.manifest.overlap, opened.manifest.question)}</p>
                    <CampaignStatus />
                }.into_any(),
                (None, Some(problem)) => view! { <p class="error" role="alert" data-testid="campaign-problem">{problem.to_string()}</p> }.into_any(),
                (None, None) => view! { <p role="status" data-testid="campaign-opening">"Opening the campaign…"</p> }.into_any(),
            })}
            <div class="contribute-settings">
                <label hidden=in_campaign>
                    "Question"
                    <QuestionSelect testid="rating-mode" selected=mode.into() problem />
                </label>
                <label>
                    "Your name"
                    <input data-testid="annotator" prop:value=move || project.annotator.get() on:change=set_annotator
                        autocomplete="nickname" spellcheck="false" aria-describedby="annotator-problem"
                        aria-invalid=move || name_problem.get().is_some().to_string() />
                    <span id="annotator-problem" class="error" role="alert" data-testid="annotator-problem">{move || name_problem.get()}</span>
                </label>
                <label class="choice" hidden=in_campaign>
                    <input type="checkbox" data-testid="show-judges" prop:checked=show_judges on:change=move |event| show_judges.set(event_target_checked(&event)) />
                    "Show the judges' scores as hints"
                </label>
            </div>
            <p role="status" data-testid="rating-progress">{move || format!("{} of {} rated", rated(), total())}</p>
            <progress aria-label="Rating progress" max=move || total().max(1) value=rated></progress>
            {move || progress.get().filter(|progress| progress.skipped > 0).map(|progress| view! {
                <p class="hint" data-testid="skipped">{format!("{} skipped: they come back when the rest are rated.", progress.skipped)}</p>
            })}
            {move || problem.get().map(|message| view! { <p class="error" role="alert" data-testid="rating-problem">{message}</p> })}
            {move || match shown.get() {
                None if total() == 0 => view! { <p data-testid="rating-empty">{empty_text(mode.get())}</p> }.into_any(),
                None => view! {
                    <p data-testid="rating-done">{if in_campaign { "All rated. Thank you! Your ratings go to the campaign as soon as they can." } else { "All rated. Thank you! Download the dataset in Export." }}</p>
                    {move || session.with_value(|session| session.as_ref().is_some_and(|session| session.progress().skipped > 0)).then(|| view! {
                        <button type="button" data-testid="revisit-skipped" on:click=move |_| {
                            session.update_value(|session| if let Some(session) = session { session.revisit_skipped() });
                            tick.update(|tick| *tick += 1);
                        }>"Rate the skipped ones"</button>
                    })}
                }.into_any(),
                Some(_) => ().into_any(),
            }}
            // The task stays while there are items: its buttons (and the
            // focus on one) outlive the item shown.
            {move || has_item.get().then(|| view! {
                <section class="task" data-testid="task" data-index=move || shown.with(|shown| shown.as_ref().map(|shown| shown.index)) aria-label="Rate this">
                    {move || shown.get().map(|shown| view! { <ItemView shown mode=mode.get_untracked() choice act show_judges /> })}
                    {move || { let mode = mode.get(); view! { <Answers mode choice act shown /> } }}
                    <div class="buttons" role="group" aria-label="Rating actions">
                        <button type="button" data-testid="submit" class="primary"
                            aria-disabled=move || (!picked() || saving.get()).to_string()
                            title=move || if saving.get() { "Saving the last rating…" } else if picked() { "Submit this answer" } else { "Choose an answer first" }
                            on:click=move |_| act(Action::Submit)>
                            "Submit " <kbd>"Enter"</kbd>
                        </button>
                        <button type="button" data-testid="undo" on:click=move |_| act(Action::Undo)>"Undo " <kbd>"z"</kbd></button>
                        <button type="button" data-testid="skip" on:click=move |_| act(Action::Skip)>"Skip " <kbd>"s"</kbd></button>
                        <button type="button" aria-label="Previous item" on:click=move |_| act(Action::Previous)>"←"</button>
                        <button type="button" aria-label="Next item" on:click=move |_| act(Action::Next)>"→"</button>
                    </div>
                </section>
            })}
            {move || hint.get().map(|hint| view! { <p class="hint" role="status" data-testid="rating-hint">{hint}</p> })}
            <p class="hint keys">
                "Keys: "
                {move || mode.get().key_hints().into_iter().map(|(keys, meaning)| view! { <span class="key-hint"><kbd>{keys}</kbd>" "{meaning}</span> }).collect_view()}
            </p>
            <details class="guidelines" open>
                <summary>"Guidelines"</summary>
                <div data-testid="guidelines">{move || markdown(&opened.get().map(|opened| opened.manifest.guidelines.clone()).unwrap_or_else(|| project.guidelines.get()))}</div>
            </details>
        </div>
    }
}

/// The project's kind of question, as a menu (Contribute, and Build's
/// campaign panel); a choice is stored at once, a failure goes to `problem`.
#[component]
pub(crate) fn QuestionSelect(testid: &'static str, selected: Signal<RatingMode>, problem: RwSignal<Option<String>>) -> impl IntoView {
    let project = expect_context::<Project>();
    let kinds = [
        ("thumbs", "👍 Good / 👎 Bad (KTO)", RatingMode::KtoThumbs),
        ("pairwise", "A vs B (DPO)", RatingMode::Pairwise),
        ("likert", "1 to 5", RatingMode::Likert),
        ("ranking", "Ranking", RatingMode::Ranking),
    ];
    let choose = move |event: ev::Event| {
        let value = event_target_value(&event);
        let Some(&(_, _, mode)) = kinds.iter().find(|(name, _, _)| *name == value) else { return };
        spawn_local(async move {
            if let Err(message) = project::save_rating_mode(project, mode).await {
                problem.set(Some(message.to_string()));
            }
        });
    };
    view! {
        <select data-testid=testid on:change=choose>
            {kinds.into_iter().map(|(value, label, mode)| view! { <option value=value selected=move || selected.get() == mode>{label}</option> }).collect_view()}
        </select>
    }
}

/// Offers the campaign's least covered items first, the person's own draw
/// breaking ties (see [`prefab_core::campaign::priority`]).
fn prioritize(session: &mut Session, opened: &Opened, coverage: &Coverage) {
    let (mode, overlap) = (opened.manifest.mode, opened.manifest.overlap);
    let annotator = session.options().annotator.clone();
    session.set_priorities(|item| priority(coverage, &item.question_id(mode), overlap, &annotator));
}

/// Why a rating was not saved, and what to do: nothing stored before is lost.
fn not_saved(error: &StoreError) -> String {
    match error {
        StoreError::Full { .. } => "This device's storage for Prefab is full, so this rating was not saved; every rating saved before is safe. \
             Free some space (Settings can delete a downloaded model), then press Enter to try again."
            .to_owned(),
        error => format!("The rating was not saved: {error}. Press Enter to try again."),
    }
}

fn empty_text(mode: RatingMode) -> &'static str {
    match mode {
        RatingMode::Pairwise | RatingMode::Ranking => "Nothing to rate yet: this question needs two or more completions of a prompt. Run the model pool in Build first.",
        _ => "Nothing to rate yet: run the model pool in Build first.",
    }
}

/// What the item on screen is marked with.
#[derive(Clone, Debug, PartialEq)]
enum Choice {
    /// Chosen, not yet submitted.
    Draft(Draft),
    /// The answer already saved.
    Saved(RatingValue),
}

impl Choice {
    /// Whether the answer `action` gives is the one marked.
    fn marks(&self, action: Action, shown: &[String]) -> bool {
        match (self, action) {
            (Choice::Draft(Draft::Thumbs(up)), Action::ThumbsUp) | (Choice::Saved(RatingValue::KtoThumbs { up, .. }), Action::ThumbsUp) => *up,
            (Choice::Draft(Draft::Thumbs(up)), Action::ThumbsDown) | (Choice::Saved(RatingValue::KtoThumbs { up, .. }), Action::ThumbsDown) => !*up,
            (Choice::Draft(Draft::Verdict(verdict)), Action::Number(number)) => verdict_number(*verdict) == number,
            (Choice::Saved(RatingValue::Pairwise { a, verdict, .. }), Action::Number(number)) => {
                // A saved verdict is about its own A, which is what is shown as A.
                let verdict = match (verdict, shown.first() == Some(a)) {
                    (Verdict::A, false) => Verdict::B,
                    (Verdict::B, false) => Verdict::A,
                    (verdict, _) => *verdict,
                };
                verdict_number(verdict) == number
            }
            (Choice::Draft(Draft::Score(score)), Action::Number(number)) | (Choice::Saved(RatingValue::Likert { score, .. }), Action::Number(number)) => {
                *score == number
            }
            _ => false,
        }
    }

    /// The rank (from 1) of the completion at `position`, in a ranking.
    fn rank(&self, position: usize, shown: &[String]) -> Option<usize> {
        match self {
            Choice::Draft(Draft::Ranking(picks)) => {
                let rank = picks.iter().position(|&pick| pick == position).map(|rank| rank + 1);
                // The last one needs no key.
                rank.or_else(|| (picks.len() + 1 == shown.len()).then_some(shown.len()))
            }
            Choice::Saved(RatingValue::Ranking { generation_ids }) => {
                generation_ids.iter().position(|id| Some(id) == shown.get(position)).map(|rank| rank + 1)
            }
            _ => None,
        }
    }
}

fn verdict_number(verdict: Verdict) -> u8 {
    match verdict {
        Verdict::A => 1,
        Verdict::B => 2,
        Verdict::Tie => 3,
        Verdict::BothBad => 4,
    }
}

fn ordinal(rank: usize) -> String {
    let suffix = match (rank % 10, rank % 100) {
        (_, 11..=13) => "th",
        (1, _) => "st",
        (2, _) => "nd",
        (3, _) => "rd",
        _ => "th",
    };
    format!("{rank}{suffix}")
}

/// What has the keyboard's focus, as far as shortcuts care.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Focus {
    /// A field that takes text: keys are typing.
    Typing,
    /// A link: Enter follows it.
    Link,
    /// A button: Enter and Space press it; `answer` when it picks an answer.
    Button { answer: bool },
    /// The page, a heading, a checkbox.
    Elsewhere,
}

fn focus_of(event: &web_sys::KeyboardEvent) -> Focus {
    let Some(element) = event.target().and_then(|target| wasm_bindgen::JsCast::dyn_into::<web_sys::Element>(target).ok()) else {
        return Focus::Elsewhere;
    };
    match element.tag_name().as_str() {
        "TEXTAREA" | "SELECT" => Focus::Typing,
        "INPUT" if matches!(element.get_attribute("type").as_deref(), Some("checkbox" | "radio")) => Focus::Elsewhere,
        "INPUT" => Focus::Typing,
        "A" => Focus::Link,
        "BUTTON" => Focus::Button { answer: element.has_attribute("data-answer") },
        _ if element.get_attribute("contenteditable").is_some_and(|editable| editable != "false") => Focus::Typing,
        _ => Focus::Elsewhere,
    }
}

/// The item on screen: its prompt and completions (a ranking's cards carry
/// their own "next best" buttons).
#[component]
fn ItemView(shown: Shown, mode: RatingMode, choice: Memo<Option<Choice>>, act: impl Fn(Action) + Copy + Send + Sync + 'static, show_judges: RwSignal<bool>) -> impl IntoView {
    let notes = shown.notes.clone();
    let note = move |position: usize| {
        let Notes { rewrite, judge } = notes.get(position).cloned().unwrap_or_default();
        view! {
            {rewrite.map(|mutation| view! { <p class="hint" data-testid="rewrite-note">{format!("An EvolQuality rewrite ({mutation}) of another completion")}</p> })}
            {move || show_judges.get().then(|| judge.clone()).flatten().map(|judge| view! { <p class="hint" data-testid="judge-hint">{judge}</p> })}
        }
    };
    let ids = StoredValue::new(shown.item.shown.clone());
    let cards = match mode {
        RatingMode::KtoThumbs | RatingMode::Likert => shown
            .completions
            .iter()
            .enumerate()
            .map(|(position, (id, text))| view! {
                <article class="completion-card" data-testid="completion" data-generation=id.clone()>
                    <h3>"Completion"</h3>
                    <p class="completion">{text.clone()}</p>
                    {note(position)}
                </article>
            }.into_any())
            .collect_view()
            .into_any(),
        RatingMode::Pairwise => shown
            .completions
            .iter()
            .zip(["a", "b"])
            .enumerate()
            .map(|(position, ((id, text), side))| view! {
                <article class="completion-card" data-testid=format!("completion-{side}") data-generation=id.clone()>
                    <h3>{side.to_uppercase()}</h3>
                    <p class="completion">{text.clone()}</p>
                    {note(position)}
                </article>
            })
            .collect_view()
            .into_any(),
        RatingMode::Ranking => shown
            .completions
            .iter()
            .enumerate()
            .map(|(position, (id, text))| {
                let rank = move || choice.with(|choice| choice.as_ref().and_then(|choice| ids.with_value(|ids| choice.rank(position, ids))));
                let number = position as u8 + 1;
                view! {
                    <article class="completion-card" data-testid="ranked-completion" data-generation=id.clone()
                        data-rank=move || rank().map(|rank| rank.to_string())>
                        <h3>{format!("Answer {number}")}
                            <span class="rank" data-testid="rank">{move || rank().map(|rank| format!(" · {}", ordinal(rank)))}</span>
                        </h3>
                        <p class="completion">{text.clone()}</p>
                        {note(position)}
                        <button type="button" class="choice-button" data-answer="" aria-disabled=move || rank().is_some().to_string()
                            title=move || rank().map(|_| "Already ranked; Undo takes a pick back")
                            on:click=move |_| act(Action::Number(number))>
                            "Next best" <kbd>{number.to_string()}</kbd>
                        </button>
                    </article>
                }
            })
            .collect_view()
            .into_any(),
    };
    let layout = if mode == RatingMode::KtoThumbs || mode == RatingMode::Likert { "single" } else { "pair" };
    view! {
        <h2>"Prompt"</h2>
        <p class="prompt" data-testid="task-prompt">{shown.prompt}</p>
        <div class=layout>{cards}</div>
    }
}

/// The answer buttons of a question kind (a ranking's are on its cards).
/// They stay while items change, so focus on one stays too.
#[component]
fn Answers(mode: RatingMode, choice: Memo<Option<Choice>>, act: impl Fn(Action) + Copy + Send + Sync + 'static, shown: Memo<Option<Shown>>) -> impl IntoView {
    let marked = move |action: Action| {
        choice.with(|choice| {
            let Some(choice) = choice else { return false };
            shown.with(|shown| shown.as_ref().is_some_and(|shown| choice.marks(action, &shown.item.shown)))
        })
    };
    let button = move |action: Action, label: String, key: &'static str| {
        view! {
            <button type="button" class="choice-button" data-answer="" aria-pressed=move || marked(action).to_string() on:click=move |_| act(action)>
                {label} <kbd>{key}</kbd>
            </button>
        }
    };
    let choices = match mode {
        RatingMode::KtoThumbs => {
            vec![button(Action::ThumbsUp, "👍 Good".into(), "y"), button(Action::ThumbsDown, "👎 Bad".into(), "n")]
        }
        RatingMode::Pairwise => [("A is better", 1), ("B is better", 2), ("Tie", 3), ("Both bad", 4)]
            .into_iter()
            .map(|(label, number)| button(Action::Number(number), label.into(), ["1", "2", "3", "4"][number as usize - 1]))
            .collect(),
        RatingMode::Likert => (1..=5u8).map(|score| button(Action::Number(score), score.to_string(), ["1", "2", "3", "4", "5"][score as usize - 1])).collect(),
        RatingMode::Ranking => Vec::new(),
    };
    (!choices.is_empty()).then(|| view! { <div class="buttons" role="group" aria-label="Your answer">{choices}</div> })
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
