//! Paging for long lists: a page of rows at a time, with where it is in the
//! whole and Previous / Next, so a list of 100,000 draws only what is seen.

use leptos::prelude::*;

/// Which page of a list is shown; `Copy`, for closures.
#[derive(Clone, Copy)]
pub struct Paging {
    /// The page shown, from 0.
    pub page: RwSignal<usize>,
    /// Rows on a page.
    pub per_page: usize,
}

impl Paging {
    /// The first page of `per_page` rows.
    pub fn new(per_page: usize) -> Paging {
        Paging { page: RwSignal::new(0), per_page }
    }

    /// The rows of the page shown, for a list of `total` (tracked); a page
    /// past the end (the list shrank) shows the last one.
    pub fn range(self, total: usize) -> std::ops::Range<usize> {
        let last = total.saturating_sub(1) / self.per_page;
        let page = self.page.get().min(last);
        page * self.per_page..((page + 1) * self.per_page).min(total)
    }
}

/// "Rows 51–100 of 2,000" with Previous and Next; nothing for a list that
/// fits on one page. `testid` prefixes the elements' test ids.
#[component]
pub fn Pager(paging: Paging, #[prop(into)] total: Signal<usize>, testid: &'static str, noun: &'static str) -> impl IntoView {
    let range = move || paging.range(total.get());
    let last = move || total.get().saturating_sub(1) / paging.per_page;
    move || {
        (total.get() > paging.per_page).then(|| {
            view! {
                <div class="buttons pager" role="group" aria-label=format!("Pages of {noun}")>
                    <button type="button" data-testid=format!("{testid}-previous") aria-disabled=move || (range().start == 0).to_string()
                        on:click=move |_| paging.page.update(|page| *page = page.saturating_sub(1).min(last()))>"Previous"</button>
                    <span role="status" data-testid=format!("{testid}-range")>
                        {move || { let range = range(); format!("{noun} {}–{} of {}", range.start + 1, range.end, thousands(total.get())) }}
                    </span>
                    <button type="button" data-testid=format!("{testid}-next") aria-disabled=move || (range().end >= total.get()).to_string()
                        on:click=move |_| paging.page.update(|page| *page = (*page + 1).min(last()))>"Next"</button>
                </div>
            }
        })
    }
}

/// `12345` as "12,345".
pub fn thousands(number: usize) -> String {
    let digits = number.to_string();
    let mut out = String::new();
    for (index, digit) in digits.chars().enumerate() {
        if index > 0 && (digits.len() - index) % 3 == 0 {
            out.push(',');
        }
        out.push(digit);
    }
    out
}
