//! `tarmac ports`: the port plan as a table, one row per port a node must serve, then the
//! mesh plan: which pairs a check would probe (full or covering, k, seed, probes, groups).

use std::fmt::Write as _;

use tarmac_checks::mesh::{MeshMode, MeshSummary};
use tarmac_checks::plan::Reach;
use tarmac_checks::{NodeSpec, Phase, PortPlan};

/// Renders the rows of every node, in inventory then plan order, with aligned columns,
/// and the mesh plan below when there is one.
pub fn render(
    nodes: &[NodeSpec],
    plan: &PortPlan,
    phase: Phase,
    mesh: Option<&MeshSummary>,
) -> String {
    let post = phase == Phase::PostInstall;
    let mut rows: Vec<Vec<String>> = vec![header(post)];
    for node in nodes {
        for req in plan.served_by(node) {
            let mut row = vec![
                node.name.clone(),
                format!("{}/{}", req.port, req.protocol),
                req.component.clone(),
                reach(&req.reached_from) + if req.sampled { ", a share each" } else { "" },
            ];
            if post {
                let listens = if req.listens_post_install {
                    "yes"
                } else {
                    "on demand"
                };
                row.push(listens.to_owned());
            }
            rows.push(row);
        }
    }
    let mut out = table(&rows);
    if let Some(mesh) = mesh {
        out.push('\n');
        out.push_str(&mesh_plan(mesh));
    }
    out
}

/// `mesh: cover plan, k=3, seed 42 (--mesh-seed 42 repeats it): 4567 probes over 2 groups`,
/// the groups, and what the plan finds.
fn mesh_plan(mesh: &MeshSummary) -> String {
    let mut out = match mesh.mode {
        MeshMode::Full => format!("mesh: full plan: {} probes\n", mesh.probes),
        MeshMode::Cover => format!(
            "mesh: cover plan, k={}, seed {} (--mesh-seed {} repeats it): {} probes\n",
            mesh.k, mesh.seed, mesh.seed, mesh.probes
        ),
    };
    let groups: Vec<String> = mesh
        .groups
        .iter()
        .map(|g| format!("{} ({} nodes)", g.name, g.nodes.len()))
        .collect();
    let _ = writeln!(out, "  groups: {}", groups.join(", "));
    let _ = writeln!(out, "  {}", mesh.coverage);
    out
}

fn header(post: bool) -> Vec<String> {
    let mut h = vec!["NODE", "PORT", "COMPONENT", "REACHED FROM"];
    if post {
        h.push("LISTENING");
    }
    h.into_iter().map(str::to_owned).collect()
}

fn reach(r: &Reach) -> String {
    match r {
        Reach::AllNodes => "all nodes".to_owned(),
        Reach::Roles(roles) => {
            let names: Vec<&str> = roles.iter().map(|r| r.as_str()).collect();
            format!("{} nodes", names.join(", "))
        }
        Reach::Local => "the node itself".to_owned(),
    }
}

fn table(rows: &[Vec<String>]) -> String {
    let columns = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..columns)
        .map(|c| {
            rows.iter()
                .filter_map(|r| r.get(c))
                .map(|s| s.chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for row in rows {
        let mut line = String::new();
        for (c, cell) in row.iter().enumerate() {
            let _ = write!(line, "{cell:<width$}  ", width = widths[c]);
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use tarmac_checks::{ClusterSpec, Role};

    #[test]
    fn one_row_per_served_port_with_aligned_columns() {
        let nodes = [
            NodeSpec {
                name: "cp1".into(),
                address: "198.18.0.11".into(),
                roles: vec![Role::ControlPlane],
            },
            NodeSpec {
                name: "w1".into(),
                address: "198.18.0.21".into(),
                roles: vec![Role::Worker],
            },
        ];
        let plan = PortPlan::for_cluster(&ClusterSpec::default(), &[]);
        let text = render(&nodes, &plan, Phase::PreInstall, None);
        let lines: Vec<&str> = text.lines().collect();
        let expected_rows = plan.served_by(&nodes[0]).count() + plan.served_by(&nodes[1]).count();
        assert_eq!(lines.len(), 1 + expected_rows);
        assert!(lines[0].starts_with("NODE  PORT"), "{}", lines[0]);
        assert!(
            lines
                .iter()
                .any(|l| l.starts_with("cp1   6443/tcp   kube-apiserver")
                    && l.ends_with("all nodes"))
        );
        assert!(lines.iter().any(|l| l.starts_with("w1")
            && l.contains("30000/tcp")
            && l.ends_with("all nodes, a share each")));
        assert!(
            !lines
                .iter()
                .any(|l| l.starts_with("w1") && l.contains("6443/tcp"))
        );
        let post = render(&nodes, &plan, Phase::PostInstall, None);
        assert!(
            post.lines()
                .any(|l| l.contains("NodePort range") && l.ends_with("on demand"))
        );
    }

    #[test]
    fn the_mesh_plan_follows_the_table() {
        use tarmac_checks::mesh::{MeshGroups, MeshMode, PairPlan, PlanOptions};
        let nodes: Vec<NodeSpec> = (0..4)
            .map(|i| NodeSpec {
                name: format!("w{i}"),
                address: format!("198.18.{}.10", i % 2),
                roles: vec![Role::Worker],
            })
            .collect();
        let plan = PortPlan::for_cluster(&ClusterSpec::default(), &[]);
        let options = PlanOptions {
            mode: MeshMode::Cover,
            k: 2,
            seed: 9,
        };
        let groups = MeshGroups::of(&nodes, &[]);
        let pairs = PairPlan::new(&plan, &nodes, groups, Phase::PreInstall, options);
        let text = render(
            &nodes,
            &plan,
            Phase::PreInstall,
            Some(&pairs.summary(&nodes)),
        );
        let tail: Vec<&str> = text
            .lines()
            .skip_while(|l| !l.starts_with("mesh:"))
            .collect();
        assert_eq!(
            tail[..2],
            [
                format!(
                    "mesh: cover plan, k=2, seed 9 (--mesh-seed 9 repeats it): {} probes",
                    pairs.pairs.len()
                )
                .as_str(),
                "  groups: 198.18.0.0/24 (2 nodes), 198.18.1.0/24 (2 nodes)",
            ]
        );
        assert!(tail[2].contains("found only by --mesh full"), "{text}");
    }
}
