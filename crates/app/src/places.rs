//! The four places of the page and how the address names them.
//!
//! The place lives in the URL's fragment (`#/build`), not its path: a static
//! Space serves one `index.html`, and a reload of `/build` would be a 404
//! there, while `#/build` reloads the same page on the same place.

/// One of the page's four places, in the order the navigation shows them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Place {
    /// Rate model completions.
    Contribute,
    /// Prompts → model pool → judge.
    Build,
    /// Download KTO, DPO and raw datasets.
    Export,
    /// Models, endpoints, the Hub account.
    Settings,
}

impl Place {
    /// Every place, in navigation order.
    pub const ALL: [Place; 4] = [Place::Contribute, Place::Build, Place::Export, Place::Settings];

    /// The name shown in the navigation and as the page's heading.
    pub fn title(self) -> &'static str {
        match self {
            Place::Contribute => "Contribute",
            Place::Build => "Build",
            Place::Export => "Export",
            Place::Settings => "Settings",
        }
    }

    /// The fragment that addresses this place, such as `#/build`.
    pub fn href(self) -> &'static str {
        match self {
            Place::Contribute => "#/contribute",
            Place::Build => "#/build",
            Place::Export => "#/export",
            Place::Settings => "#/settings",
        }
    }

    /// The place a URL fragment names (its `?…` part is the place's own:
    /// `#/contribute?campaign=ns/name`); an empty or unknown one means
    /// Contribute, the place most visitors come for.
    pub fn from_hash(hash: &str) -> Place {
        Place::ALL
            .into_iter()
            .find(|place| place.href().eq_ignore_ascii_case(hash.split('?').next().unwrap_or_default().trim_end_matches('/')))
            .unwrap_or(Place::Contribute)
    }
}
