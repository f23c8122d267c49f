//! Which cases a run selects: `--suite` names and the `--filter` text.

/// The `--filter` text: selects cases whose tcId equals it, or whose comment, flags, spec
/// section, check name or scenario name contain it (ignoring case).
#[derive(Debug, Clone, Default)]
pub struct Filter {
    needle: Option<String>,
}

impl Filter {
    /// A filter for `text`; `None` (or an empty text) selects everything.
    pub fn new(text: Option<&str>) -> Filter {
        Filter {
            needle: text.filter(|t| !t.is_empty()).map(str::to_lowercase),
        }
    }

    /// Whether a case with these identifiers (matched exactly) and texts (matched as substrings)
    /// is selected.
    pub fn matches(&self, ids: &[&str], texts: &[&str]) -> bool {
        let Some(needle) = &self.needle else {
            return true;
        };
        ids.iter().any(|id| id.to_lowercase() == *needle)
            || texts
                .iter()
                .any(|t| t.to_lowercase().contains(needle.as_str()))
    }
}

/// The suites and scenarios to run, in run order: everything when `requested` is empty, else
/// exactly the requested names. `Err` names the unknown ones.
pub fn groups<'a>(
    requested: &[String],
    suites: &[&'a str],
    scenarios: &[&'a str],
) -> Result<Vec<&'a str>, String> {
    let known: Vec<&str> = suites.iter().chain(scenarios).copied().collect();
    let unknown: Vec<&str> = requested
        .iter()
        .map(String::as_str)
        .filter(|name| !known.contains(name))
        .collect();
    if !unknown.is_empty() {
        return Err(format!(
            "unknown suite or scenario: {} (known: {})",
            unknown.join(", "),
            known.join(", ")
        ));
    }
    Ok(known
        .into_iter()
        .filter(|name| requested.is_empty() || requested.iter().any(|r| r == name))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filter_matches_ids_exactly_and_texts_loosely() {
        let f = Filter::new(Some("tid-4"));
        assert!(f.matches(&["35"], &["15 random bytes", "SHORT_RANDOM", "TID-4"]));
        assert!(!f.matches(&["35"], &["15 random bytes", "SHORT_RANDOM", "TID-7"]));
        let id = Filter::new(Some("3"));
        assert!(id.matches(&["3"], &[]));
        assert!(!id.matches(&["35"], &["no digit here"]));
        assert!(Filter::new(None).matches(&[], &[]));
        assert!(Filter::new(Some("")).matches(&[], &[]));
    }

    #[test]
    fn groups_keep_run_order_and_reject_unknown_names() {
        let suites = ["tid", "keys"];
        let scenarios = ["s"];
        assert_eq!(
            groups(&[], &suites, &scenarios).unwrap(),
            ["tid", "keys", "s"]
        );
        let some = ["s".to_string(), "tid".to_string()];
        assert_eq!(groups(&some, &suites, &scenarios).unwrap(), ["tid", "s"]);
        let bad = ["nope".to_string()];
        assert!(
            groups(&bad, &suites, &scenarios)
                .unwrap_err()
                .contains("nope")
        );
    }
}
