//! EvolQuality: make a response better by rewriting it, a few times over.
//!
//! From "What Makes Good Data for Alignment?" (Liu et al., 2023) as distilabel
//! implements it: a model rewrites a response following one of five mutations
//! (more helpful, more relevant, deeper, more creative, more detailed), and
//! the rewrite is rewritten again, `num_evolutions` times. The mutation of each
//! step is a seeded random choice, so a run can be repeated exactly.
//!
//! Generation is asynchronous and lives elsewhere, so an [`Evolution`] is a
//! small state machine: ask it for the next prompt, send that to the model,
//! hand the answer back with [`Evolution::accept`], repeat until it has no
//! prompt left. The original response is kept as the first of
//! [`Evolution::responses`].

use crate::chat::ChatMessage;
use crate::prng::SplitMix64;
use crate::tasks::text_generation;

/// One way of improving a response.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Mutation {
    /// More useful to the person who asked.
    Helpfulness,
    /// Closer to what the prompt asks.
    Relevance,
    /// Deeper into the subject.
    Deepening,
    /// More creative.
    Creativity,
    /// More detailed.
    Details,
}

impl Mutation {
    /// All five mutations.
    pub const ALL: [Mutation; 5] = [
        Mutation::Helpfulness,
        Mutation::Relevance,
        Mutation::Deepening,
        Mutation::Creativity,
        Mutation::Details,
    ];

    /// The name stored with an evolved generation, e.g. `helpfulness`.
    pub fn name(self) -> &'static str {
        match self {
            Mutation::Helpfulness => "helpfulness",
            Mutation::Relevance => "relevance",
            Mutation::Deepening => "deepening",
            Mutation::Creativity => "creativity",
            Mutation::Details => "details",
        }
    }

    /// The method the rewriter is told to use.
    pub fn method(self) -> &'static str {
        match self {
            Mutation::Helpfulness => "Make the response more helpful to the person who asked.",
            Mutation::Relevance => "Make the response more relevant to the #Given Prompt#.",
            Mutation::Deepening => "Make the response go deeper into its subject.",
            Mutation::Creativity => "Make the response more creative.",
            Mutation::Details => "Add more useful detail to the response.",
        }
    }
}

/// The rewriting instructions; `{method}`, `{prompt}` and `{response}` are filled in.
const TEMPLATE: &str = "\
You are improving an AI assistant's answer by rewriting it. Rewrite the #Given Response# \
to the #Given Prompt# using this method: {method}

Keep every part that is not plain prose, such as tables, code and lists, and keep what the \
prompt provides. The rewrite must stay reasonable and easy for people to understand. Do not \
make it verbose: add no more than 10 to 20 words to the #Given Response#. Do not write \
'#Given Response#', '#Rewritten Response#', 'given response' or 'rewritten response' in it.

#Given Prompt#:
{prompt}

#Given Response#:
{response}

#Rewritten Response#:
";

/// The EvolQuality task's settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EvolQuality {
    /// How many times to rewrite.
    pub num_evolutions: usize,
    /// The mutations to choose from (all five by default).
    pub mutations: Vec<Mutation>,
    /// The seed of the mutation choices.
    pub seed: u64,
}

impl Default for EvolQuality {
    fn default() -> EvolQuality {
        EvolQuality {
            num_evolutions: 1,
            mutations: Mutation::ALL.to_vec(),
            seed: 42,
        }
    }
}

impl EvolQuality {
    /// The rewriting request for one mutation.
    pub fn render(mutation: Mutation, prompt: &str, response: &str) -> String {
        // Filled one after the other so a `{…}` inside the prompt or response
        // is never taken for a placeholder.
        let (head, tail) = TEMPLATE.split_once("{prompt}").unwrap_or((TEMPLATE, ""));
        let (middle, end) = tail.split_once("{response}").unwrap_or((tail, ""));
        format!(
            "{}{prompt}{middle}{response}{end}",
            head.replace("{method}", mutation.method())
        )
    }

    /// Starts evolving `response` to `prompt`. The mutation sequence depends
    /// on the seed and on the prompt and response, so every pair gets its own
    /// sequence and the same run repeats exactly.
    pub fn evolve(&self, prompt: &str, response: &str) -> Evolution {
        let key = format!("{prompt}\u{0}{response}");
        Evolution {
            prompt: prompt.to_string(),
            responses: vec![response.to_string()],
            applied: Vec::new(),
            pending: None,
            rng: SplitMix64::for_key(self.seed, &key),
            choices: if self.mutations.is_empty() {
                Mutation::ALL.to_vec()
            } else {
                self.mutations.clone()
            },
            num_evolutions: self.num_evolutions,
        }
    }
}

/// One response being evolved.
#[derive(Debug, Clone)]
pub struct Evolution {
    prompt: String,
    responses: Vec<String>,
    applied: Vec<Mutation>,
    pending: Option<Mutation>,
    rng: SplitMix64,
    choices: Vec<Mutation>,
    num_evolutions: usize,
}

impl Evolution {
    /// The next request to send and the mutation it applies, or `None` when
    /// all evolutions are done. Asking twice without [`Evolution::accept`]
    /// gives the same request.
    pub fn next_prompt(&mut self) -> Option<(Mutation, Vec<ChatMessage>)> {
        if self.is_done() {
            return None;
        }
        let mutation = match self.pending {
            Some(mutation) => mutation,
            None => {
                let mutation = self.choices[self.rng.below(self.choices.len())];
                self.pending = Some(mutation);
                mutation
            }
        };
        let current = self.responses.last().map_or("", String::as_str);
        Some((
            mutation,
            vec![ChatMessage::user(EvolQuality::render(
                mutation,
                &self.prompt,
                current,
            ))],
        ))
    }

    /// Records the model's rewrite for the pending request; returns the
    /// cleaned response, or `None` if no request was pending.
    pub fn accept(&mut self, raw_output: &str) -> Option<&str> {
        let mutation = self.pending.take()?;
        self.applied.push(mutation);
        self.responses.push(clean(raw_output));
        self.responses.last().map(String::as_str)
    }

    /// Whether every evolution has been made.
    pub fn is_done(&self) -> bool {
        self.applied.len() >= self.num_evolutions
    }

    /// The original response, then each rewrite in order.
    pub fn responses(&self) -> &[String] {
        &self.responses
    }

    /// The mutation that produced each rewrite: `mutations()[i]` made `responses()[i + 1]`.
    pub fn mutations(&self) -> &[Mutation] {
        &self.applied
    }
}

/// A rewrite without the `#Rewritten Response#:` label models often repeat.
pub fn clean(raw: &str) -> String {
    let text = text_generation::clean(raw);
    let trimmed = text.trim_start();
    for label in [
        "#Rewritten Response#:",
        "#Rewritten Response#",
        "Rewritten Response:",
    ] {
        if let Some(rest) = trimmed.strip_prefix(label) {
            return rest.trim().to_string();
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(task: &EvolQuality) -> Vec<Mutation> {
        let mut evolution = task.evolve("Explain rust ownership", "It is about memory.");
        while let Some((mutation, _)) = evolution.next_prompt() {
            evolution.accept(&format!("rewrite via {}", mutation.name()));
        }
        evolution.mutations().to_vec()
    }

    #[test]
    fn render_fills_method_prompt_and_response() {
        let text = EvolQuality::render(Mutation::Details, "What is {x}?", "It is {y}.");
        assert!(text.contains("using this method: Add more useful detail to the response."));
        assert!(text.contains("#Given Prompt#:\nWhat is {x}?\n"));
        assert!(text.contains("#Given Response#:\nIt is {y}.\n"));
        assert!(text.ends_with("#Rewritten Response#:\n"));
    }

    #[test]
    fn evolves_the_requested_number_of_times_keeping_the_original() {
        let task = EvolQuality {
            num_evolutions: 3,
            ..Default::default()
        };
        let mut evolution = task.evolve("p", "original");
        let mut steps = 0;
        while let Some((_, messages)) = evolution.next_prompt() {
            // Each request rewrites the latest response.
            let latest = evolution.responses().last().unwrap().clone();
            assert!(messages[0]
                .content
                .contains(&format!("#Given Response#:\n{latest}\n")));
            evolution.accept(&format!("#Rewritten Response#: version {}", steps + 1));
            steps += 1;
        }
        assert_eq!(steps, 3);
        assert_eq!(
            evolution.responses(),
            ["original", "version 1", "version 2", "version 3"]
        );
        assert_eq!(evolution.mutations().len(), 3);
        assert!(evolution.is_done());
        assert_eq!(evolution.accept("extra"), None);
    }

    #[test]
    fn mutation_choice_is_deterministic_for_a_seed() {
        let task = EvolQuality {
            num_evolutions: 8,
            seed: 7,
            ..Default::default()
        };
        assert_eq!(run(&task), run(&task));
        let other = EvolQuality {
            seed: 8,
            ..task.clone()
        };
        assert_ne!(run(&task), run(&other));
    }

    #[test]
    fn asking_twice_gives_the_same_pending_mutation() {
        let mut evolution = EvolQuality::default().evolve("p", "r");
        let first = evolution.next_prompt().unwrap();
        let again = evolution.next_prompt().unwrap();
        assert_eq!(first, again);
    }

    #[test]
    fn only_the_chosen_mutations_are_used() {
        let task = EvolQuality {
            num_evolutions: 20,
            mutations: vec![Mutation::Creativity],
            seed: 1,
        };
        assert!(run(&task).iter().all(|&m| m == Mutation::Creativity));
    }

    #[test]
    fn clean_drops_the_label() {
        assert_eq!(
            clean("#Rewritten Response#:\n Better answer.</s>"),
            "Better answer."
        );
        assert_eq!(clean("Plain answer"), "Plain answer");
    }
}
