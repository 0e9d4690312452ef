//! The live per-ordinal strip a rollout shows on a terminal, under its log and above its
//! spinner: each ordinal old, updating, Ready, gated or failed. A pure model kept from the
//! rollout's own events and step progress, and a pure rendering fitted to the terminal's width;
//! the [`super::report::Reporter`] draws it (only when stderr is a terminal and NO_COLOR is
//! unset: elsewhere the log lines alone, as before).

use std::collections::BTreeMap;

use crate::core::names::pod_name;
use crate::core::rollout::PodProgress;

use super::report::Event;

/// Where one ordinal is in the rollout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cell {
    /// On the revision the rollout moves away from, not released yet.
    Old,
    /// Released by the step under way: being replaced, or not Ready yet on the update revision.
    Updating,
    /// On the update revision and Ready, its step done.
    Ready,
    /// On the update revision and Ready, its step not done yet: minReadySeconds, the pause, or
    /// the gates still to pass.
    Gated,
    /// Its step failed with it not Ready on the update revision.
    Failed,
}

impl Cell {
    fn word(self) -> &'static str {
        match self {
            Cell::Old => "old",
            Cell::Updating => "updating",
            Cell::Ready => "Ready",
            Cell::Gated => "gated",
            Cell::Failed => "failed",
        }
    }

    fn glyph(self) -> char {
        match self {
            Cell::Old => '·',
            Cell::Updating => '~',
            Cell::Ready => '+',
            Cell::Gated => '?',
            Cell::Failed => 'x',
        }
    }
}

/// Every ordinal of the set and where it is, from the events seen so far.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Strip {
    cells: BTreeMap<i32, Cell>,
    /// The ordinals of the step under way.
    step: Vec<i32>,
}

impl Strip {
    /// Whether there is anything to draw (a plan was seen).
    pub fn is_empty(&self) -> bool {
        self.cells.is_empty()
    }

    /// Ordinals already on the update revision and Ready before the run: Ready.
    pub fn already(&mut self, ordinals: impl IntoIterator<Item = i32>) {
        for ordinal in ordinals {
            self.cells.insert(ordinal, Cell::Ready);
        }
    }

    /// Takes in one of the rollout's events.
    pub fn event(&mut self, name: &str, event: &Event) {
        match event {
            Event::Plan { replicas, .. } => {
                for ordinal in 0..*replicas {
                    self.cells.entry(ordinal).or_insert(Cell::Old);
                }
            }
            Event::StepStarted { ordinals, .. } => {
                self.step.clone_from(ordinals);
                for ordinal in ordinals {
                    self.cells.insert(*ordinal, Cell::Updating);
                }
            }
            Event::StepDone { .. } => {
                for ordinal in std::mem::take(&mut self.step) {
                    self.cells.insert(ordinal, Cell::Ready);
                }
            }
            Event::Failed { .. } => {
                for ordinal in &self.step {
                    if let Some(cell) = self.cells.get_mut(ordinal).filter(|c| **c != Cell::Ready) {
                        *cell = Cell::Failed;
                    }
                }
            }
            Event::PodRolledBack { pod, .. } => {
                if let Some(ordinal) = self.cells.keys().copied().find(|o| pod_name(name, *o) == *pod) {
                    self.cells.insert(ordinal, Cell::Old);
                }
            }
            _ => {}
        }
    }

    /// Takes in how far the pods a step waits for are (those of earlier steps too): not updated
    /// or not Ready is updating; updated and Ready is gated until its step is done, and stays
    /// Ready after.
    pub fn progress(&mut self, pods: &[PodProgress]) {
        for pod in pods {
            let cell = match (pod.updated && pod.ready, self.cells.get(&pod.ordinal)) {
                (true, Some(Cell::Ready)) => Cell::Ready,
                (true, _) => Cell::Gated,
                (false, _) => Cell::Updating,
            };
            self.cells.insert(pod.ordinal, cell);
        }
    }

    /// One line of at most `width` columns: `web-0 Ready  web-1 gated  web-2 old` when the words
    /// fit, else a glyph per ordinal with a legend (`0-4 [++?··]  + Ready ? gated …`), cut
    /// with `…` only when even that is wider.
    pub fn render(&self, name: &str, width: usize) -> String {
        let words: Vec<String> =
            self.cells.iter().map(|(o, c)| format!("{} {}", pod_name(name, *o), c.word())).collect();
        let line = words.join("  ");
        if line.chars().count() <= width {
            return line;
        }
        let glyphs: String = self.cells.values().map(|c| c.glyph()).collect();
        let first = self.cells.keys().next().copied().unwrap_or(0);
        let last = self.cells.keys().next_back().copied().unwrap_or(0);
        let mut legend = Vec::new();
        for cell in [Cell::Ready, Cell::Gated, Cell::Updating, Cell::Old, Cell::Failed] {
            let count = self.cells.values().filter(|c| **c == cell).count();
            if count > 0 {
                legend.push(format!("{} {} {count}", cell.glyph(), cell.word()));
            }
        }
        let line = format!("{name} {first}-{last} [{glyphs}]  {}", legend.join("  "));
        cut(&line, width)
    }
}

/// `line` cut to `width` columns, its last one `…` when cut.
fn cut(line: &str, width: usize) -> String {
    if line.chars().count() <= width {
        return line.to_owned();
    }
    let mut cut: String = line.chars().take(width.saturating_sub(1)).collect();
    cut.push('…');
    cut
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::rollout::gates::Gates;
    use crate::core::rollout::{Replace, Step};

    fn plan(replicas: i32) -> Event {
        Event::Plan {
            from_revision: None,
            to_revision: None,
            replicas,
            partition: replicas,
            replace: Replace::Controller,
            staged_partition: None,
            steps: Vec::<Step>::new(),
            pods_at_once: 1,
            gates: Gates::default(),
        }
    }

    fn progress(ordinal: i32, updated: bool, ready: bool) -> PodProgress {
        PodProgress {
            ordinal,
            name: pod_name("web", ordinal),
            updated,
            ready,
            available: ready,
            state: String::new(),
        }
    }

    /// A 5-pod rollout mid-way: web-4 done, web-3 Ready in its soak, web-2 released but not
    /// Ready, web-0 and web-1 held back.
    fn midway(replicas: i32) -> Strip {
        let mut strip = Strip::default();
        strip.event("web", &plan(replicas));
        strip.event(
            "web",
            &Event::StepStarted { step: 1, steps: 3, partition: replicas - 1, ordinals: vec![replicas - 1] },
        );
        strip.progress(&[progress(replicas - 1, true, true)]);
        strip.event("web", &Event::StepDone { step: 1, steps: 3, partition: replicas - 1, seconds: 1.0 });
        strip.event(
            "web",
            &Event::StepStarted {
                step: 2,
                steps: 3,
                partition: replicas - 3,
                ordinals: vec![replicas - 2, replicas - 3],
            },
        );
        // A step waits for the pods of the steps before it too.
        strip.progress(&[
            progress(replicas - 1, true, true),
            progress(replicas - 2, true, true),
            progress(replicas - 3, true, false),
        ]);
        strip
    }

    #[test]
    fn words_when_they_fit() {
        let strip = midway(5);
        insta::assert_snapshot!(strip.render("web", 80), @"web-0 old  web-1 old  web-2 updating  web-3 gated  web-4 Ready");
        insta::assert_snapshot!(strip.render("web", 120), @"web-0 old  web-1 old  web-2 updating  web-3 gated  web-4 Ready");
    }

    #[test]
    fn glyphs_with_a_legend_when_the_words_do_not_fit() {
        let strip = midway(12);
        insta::assert_snapshot!(strip.render("web", 80), @"web 0-11 [·········~?+]  + Ready 1  ? gated 1  ~ updating 1  · old 9");
        let words = strip.render("web", 200);
        assert!(words.starts_with("web-0 old  web-1 old") && words.ends_with("web-11 Ready"), "{words}");
        let many = midway(120);
        let line = many.render("web", 80);
        assert_eq!(line.chars().count(), 80, "{line}");
        assert!(line.ends_with('…'));
    }

    #[test]
    fn a_failed_step_marks_its_pods_that_are_not_ready() {
        let mut strip = midway(5);
        strip.event("web", &Event::Failed { step: Some(2), partition: 2, reasons: vec![] });
        assert_eq!(strip.render("web", 80), "web-0 old  web-1 old  web-2 failed  web-3 failed  web-4 Ready");
        // The abort brings them back to the old revision.
        strip.event(
            "web",
            &Event::PodRolledBack { pod: "web-2".into(), revision: "web-1".into(), ready: true },
        );
        assert!(strip.render("web", 80).contains("web-2 old"));
    }

    #[test]
    fn pods_updated_before_the_run_are_ready() {
        let mut strip = Strip::default();
        assert!(strip.is_empty());
        strip.already([2]);
        strip.event("web", &plan(3));
        assert_eq!(strip.render("web", 80), "web-0 old  web-1 old  web-2 Ready");
    }
}
