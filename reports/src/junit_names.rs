//! Testcase names that GitLab shows whole. GitLab identifies a JUnit testcase by
//! classname + name and keeps only one of a duplicate pair, so nine `port.free` testcases
//! of one node would show as one. A testcase is named by its check id and the finding's
//! subject (`port.free 6443/tcp`, `mesh.reachable w1 → cp1 6443/tcp`); should two still
//! meet, the later gets ` (2)`, ` (3)`, ... in report order, so names are the same run
//! after run.

use std::collections::HashSet;

use tarmac_checks::Finding;

use crate::text::xml_text;

/// The (classname, name) pairs handed out so far in one JUnit document.
#[derive(Debug, Default)]
pub struct TestcaseNames {
    taken: HashSet<(String, String)>,
}

impl TestcaseNames {
    /// The name of `finding`'s testcase under `classname`, unique in this document as
    /// XML will carry it (characters XML cannot hold are dropped first).
    pub fn name(&mut self, classname: &str, finding: &Finding) -> String {
        let base = xml_text(&match finding.subject() {
            Some(subject) => format!("{} {subject}", finding.check),
            None => finding.check.clone(),
        });
        let mut name = base.clone();
        let mut n = 1;
        while !self.taken.insert((classname.to_owned(), name.clone())) {
            n += 1;
            name = format!("{base} ({n})");
        }
        name
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_subject_names_a_case_and_a_repeat_is_numbered() {
        let mut names = TestcaseNames::default();
        let port = |p: u16| {
            Finding::fail("port.free", "cp1", "taken")
                .with_detail("port", p)
                .with_detail("protocol", "tcp")
        };
        assert_eq!(names.name("cp1", &port(6443)), "port.free 6443/tcp");
        assert_eq!(names.name("cp1", &port(2379)), "port.free 2379/tcp");
        assert_eq!(names.name("cp1", &port(6443)), "port.free 6443/tcp (2)");
        assert_eq!(names.name("w1", &port(6443)), "port.free 6443/tcp");
        let plain = Finding::pass("swap.off", "cp1", "off");
        assert_eq!(names.name("cp1", &plain), "swap.off");
        assert_eq!(names.name("cp1", &plain), "swap.off (2)");
        assert_eq!(names.name("cp1", &plain), "swap.off (3)");
    }
}
