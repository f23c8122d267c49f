//! Which cases a run selects: `--suite` names, `--case` names and the `--filter` text.

/// One `--case` value: a suite and a tcId, or a scenario and a check name [HP-85].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaseName {
    /// The suite or scenario.
    pub group: String,
    /// The tcId, or the check's name (with or without the `<scenario>/` prefix).
    pub id: String,
}

impl CaseName {
    /// Reads `SUITE:TCID` or `SCENARIO:CHECK`.
    pub fn parse(text: &str) -> Result<CaseName, String> {
        match text.split_once(':') {
            Some((group, id)) if !group.is_empty() && !id.is_empty() => Ok(CaseName {
                group: group.to_string(),
                id: id.to_string(),
            }),
            _ => Err(format!(
                "--case {text:?}: expected SUITE:TCID or SCENARIO:CHECK, e.g. tid:35"
            )),
        }
    }
}

impl std::fmt::Display for CaseName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.group, self.id)
    }
}

/// The `--filter` text and the `--case` names: selects cases whose tcId equals the text, or
/// whose comment, flags, spec section, check name or scenario name contain it (ignoring case),
/// and, when cases are named, only those.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    needle: Option<String>,
    cases: Vec<CaseName>,
}

impl Filter {
    /// A filter for `text`; `None` (or an empty text) selects everything.
    pub fn new(text: Option<&str>) -> Filter {
        Filter {
            needle: text.filter(|t| !t.is_empty()).map(str::to_lowercase),
            cases: Vec::new(),
        }
    }

    /// The same filter, also selecting only the named cases (none named: no restriction).
    pub fn with_cases(mut self, cases: Vec<CaseName>) -> Filter {
        self.cases = cases;
        self
    }

    /// Whether a case of `group` with these identifiers (matched exactly) and texts (matched as
    /// substrings) is selected.
    pub fn matches(&self, group: &str, ids: &[&str], texts: &[&str]) -> bool {
        let named = self.cases.is_empty()
            || self
                .cases
                .iter()
                .any(|c| c.group == group && ids.contains(&c.id.as_str()));
        let Some(needle) = &self.needle else {
            return named;
        };
        named
            && (ids.iter().any(|id| id.to_lowercase() == *needle)
                || texts
                    .iter()
                    .any(|t| t.to_lowercase().contains(needle.as_str())))
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
        assert!(f.matches(
            "tid",
            &["35"],
            &["15 random bytes", "SHORT_RANDOM", "TID-4"]
        ));
        assert!(!f.matches(
            "tid",
            &["35"],
            &["15 random bytes", "SHORT_RANDOM", "TID-7"]
        ));
        let id = Filter::new(Some("3"));
        assert!(id.matches("tid", &["3"], &[]));
        assert!(!id.matches("tid", &["35"], &["no digit here"]));
        assert!(Filter::new(None).matches("tid", &[], &[]));
        assert!(Filter::new(Some("")).matches("tid", &[], &[]));
    }

    #[test]
    fn named_cases_select_one_case_of_one_group() {
        let case = CaseName::parse("tid:35").unwrap();
        assert_eq!(case.to_string(), "tid:35");
        let f = Filter::new(None).with_cases(vec![case]);
        assert!(f.matches("tid", &["35"], &[]));
        assert!(!f.matches("tid", &["3"], &[]));
        assert!(!f.matches("keys", &["35"], &[]));
        // With --filter too, a case must match both.
        let both = Filter::new(Some("TID-4")).with_cases(vec![CaseName::parse("tid:35").unwrap()]);
        assert!(both.matches("tid", &["35"], &["TID-4"]));
        assert!(!both.matches("tid", &["35"], &["TID-7"]));
        let check = Filter::new(None).with_cases(vec![CaseName::parse("s:c").unwrap()]);
        assert!(check.matches("s", &["c", "s/c"], &[]));
        for bad in ["tid", ":35", "tid:", ""] {
            assert!(CaseName::parse(bad).is_err(), "{bad}");
        }
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
