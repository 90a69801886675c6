//! `--ignore`: checks that are still reported but no longer fail the run. `all`
//! ignores everything, as kubeadm's `--ignore-preflight-errors=all` does.

use std::collections::BTreeSet;

use tarmac_checks::Finding;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IgnoreList {
    All,
    Checks(BTreeSet<String>),
}

impl IgnoreList {
    pub fn from_args(ids: &[String]) -> Self {
        if ids.iter().any(|id| id == "all") {
            IgnoreList::All
        } else {
            IgnoreList::Checks(ids.iter().cloned().collect())
        }
    }

    pub fn ignores(&self, check: &str) -> bool {
        match self {
            IgnoreList::All => true,
            IgnoreList::Checks(ids) => ids.contains(check),
        }
    }

    /// Ids that name no check tarmac knows: accepted (a plugin may define them) but
    /// probably a typo, so the user is warned.
    pub fn unknown<'a>(&'a self, known: &[&str]) -> Vec<&'a str> {
        match self {
            IgnoreList::All => Vec::new(),
            IgnoreList::Checks(ids) => ids
                .iter()
                .map(String::as_str)
                .filter(|id| !known.contains(id))
                .collect(),
        }
    }

    /// Marks every finding of an ignored check.
    pub fn apply(&self, findings: &mut [Finding]) {
        for f in findings.iter_mut() {
            f.ignored |= self.ignores(&f.check);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_ignores_everything_else_only_what_is_named() {
        let mut findings = vec![
            Finding::fail("swap.off", "n", "swap is on"),
            Finding::fail("port.free", "n", "6443 in use"),
        ];
        IgnoreList::from_args(&["swap.off".into()]).apply(&mut findings);
        assert_eq!(
            findings.iter().map(|f| f.ignored).collect::<Vec<_>>(),
            [true, false]
        );
        IgnoreList::from_args(&["x".into(), "all".into()]).apply(&mut findings);
        assert!(findings.iter().all(|f| f.ignored));
    }

    #[test]
    fn unknown_ids_are_listed() {
        let list = IgnoreList::from_args(&["swap.off".into(), "swapp.off".into()]);
        assert_eq!(list.unknown(&["swap.off"]), ["swapp.off"]);
        assert!(IgnoreList::All.unknown(&[]).is_empty());
    }
}
