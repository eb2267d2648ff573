//! Conversation order: the main lines in `parentUuid` order (depth first, siblings in file order,
//! a rewind marked), and sidechain lines grouped under the call whose subagent they are.
//!
//! Must not read files: it orders the index it is given.

use super::*;

/// One step of the order: emit a line, or first say that the conversation was rewound.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Step {
    Line(usize),
    Rewind(usize),
}

/// Conversation order of the main lines, and the sidechain lines grouped by the call whose
/// subagent they are.
pub(super) fn order(index: &Index) -> (Vec<Step>, HashMap<String, Vec<Vec<Step>>>) {
    let lines = &index.lines;
    let main: Vec<usize> = (0..lines.len()).filter(|&i| !lines[i].sidechain).collect();
    let side: Vec<usize> = (0..lines.len()).filter(|&i| lines[i].sidechain).collect();
    let main_order = tree_order(lines, &main);

    // Sidechain lines: one group per connected tree.
    let mut inline: HashMap<String, Vec<Vec<Step>>> = HashMap::new();
    let mut unplaced: Vec<Vec<Step>> = Vec::new();
    for group in side_groups(lines, &side) {
        let steps = tree_order(lines, &group);
        let call = group
            .iter()
            .find_map(|&i| lines[i].agent_id.as_deref())
            .and_then(|a| index.agent_calls.get(a).cloned())
            .or_else(|| prompted_task(index, &group))
            .or_else(|| nearest_task(index, group[0]));
        match call {
            Some(c) => inline.entry(c).or_default().push(steps),
            None => unplaced.push(steps),
        }
    }
    let mut main_order = main_order;
    // Subagent lines whose call is not in this file: kept, at the end, rather than dropped.
    for steps in unplaced {
        main_order.extend(steps);
    }
    (main_order, inline)
}

/// The `Task` call whose prompt is the one that starts this sidechain group.
pub(super) fn prompted_task(index: &Index, group: &[usize]) -> Option<String> {
    let prompt = group
        .iter()
        .find_map(|&i| index.lines[i].side_prompt.as_deref())?;
    index
        .tasks
        .iter()
        .find(|t| t.prompt.as_deref() == Some(prompt))
        .map(|t| t.id.clone())
}

/// The `Task` call a sidechain group without an agent id belongs to: the last one before it in
/// the file (sidechains are written while their call runs).
pub(super) fn nearest_task(index: &Index, first_line: usize) -> Option<String> {
    index
        .tasks
        .iter()
        .rev()
        .find(|t| t.line < first_line)
        .or(index.tasks.first())
        .map(|t| t.id.clone())
}

/// Sidechain lines split into connected trees (by `parentUuid`), in file order.
pub(super) fn side_groups(lines: &[LineInfo], side: &[usize]) -> Vec<Vec<usize>> {
    let by_uuid: HashMap<&str, usize> = side
        .iter()
        .filter_map(|&i| Some((lines[i].uuid.as_deref()?, i)))
        .collect();
    // Union-find over line indexes.
    let mut parent: HashMap<usize, usize> = side.iter().map(|&i| (i, i)).collect();
    fn find(parent: &mut HashMap<usize, usize>, mut i: usize) -> usize {
        while parent[&i] != i {
            let up = parent[&parent[&i]];
            parent.insert(i, up);
            i = up;
        }
        i
    }
    let mut prev: Option<usize> = None;
    for &i in side {
        let link = match lines[i].uuid {
            Some(_) => lines[i]
                .parent
                .as_deref()
                .and_then(|p| by_uuid.get(p).copied()),
            // A line outside the tree goes with the line before it.
            None => prev,
        };
        if let Some(j) = link {
            let (a, b) = (find(&mut parent, i), find(&mut parent, j));
            if a != b {
                parent.insert(a.max(b), a.min(b));
            }
        }
        prev = Some(i);
    }
    let mut groups: Vec<(usize, Vec<usize>)> = Vec::new();
    let mut slot: HashMap<usize, usize> = HashMap::new();
    for &i in side {
        let root = find(&mut parent, i);
        let g = *slot.entry(root).or_insert_with(|| {
            groups.push((root, Vec::new()));
            groups.len() - 1
        });
        groups[g].1.push(i);
    }
    groups.into_iter().map(|(_, g)| g).collect()
}

/// Depth-first order of `subset` by `parentUuid`, siblings in file order; lines outside the tree
/// (no uuid, a repeated uuid) follow the line before them in the file; lines that no root
/// reaches (a loop in broken data) come last in file order. A second branch that starts with a
/// prompt is a rewind.
pub(super) fn tree_order(lines: &[LineInfo], subset: &[usize]) -> Vec<Step> {
    let in_subset: HashSet<usize> = subset.iter().copied().collect();
    let by_uuid: HashMap<&str, usize> = subset
        .iter()
        .filter_map(|&i| Some((lines[i].uuid.as_deref()?, i)))
        .collect();
    let mut children: HashMap<usize, Vec<usize>> = HashMap::new();
    let mut followers: HashMap<usize, Vec<usize>> = HashMap::new();
    let mut roots = Vec::new();
    let mut leading = Vec::new();
    let mut prev: Option<usize> = None;
    for &i in subset {
        if lines[i].uuid.is_some() {
            match lines[i]
                .parent
                .as_deref()
                .and_then(|p| by_uuid.get(p))
                .filter(|&&p| p != i)
            {
                Some(&p) => children.entry(p).or_default().push(i),
                None => roots.push(i),
            }
        } else {
            match prev {
                Some(p) => followers.entry(p).or_default().push(i),
                None => leading.push(i),
            }
        }
        prev = Some(i);
    }
    let mut out: Vec<Step> = leading.iter().map(|&i| Step::Line(i)).collect();
    let mut done: HashSet<usize> = HashSet::new();
    let mut stack: Vec<Step> = roots.iter().rev().map(|&i| Step::Line(i)).collect();
    while let Some(step) = stack.pop() {
        let Step::Line(i) = step else {
            out.push(step);
            continue;
        };
        if !done.insert(i) {
            continue;
        }
        out.push(Step::Line(i));
        // Followers of followers (several lines without uuid in a row) stay in file order.
        let mut f = followers.get(&i).cloned().unwrap_or_default();
        let mut k = 0;
        while k < f.len() {
            if let Some(more) = followers.get(&f[k]) {
                f.extend(more.iter().copied());
            }
            k += 1;
        }
        for j in f {
            if done.insert(j) {
                out.push(Step::Line(j));
            }
        }
        if let Some(kids) = children.get(&i) {
            for (n, &c) in kids.iter().enumerate().rev() {
                stack.push(Step::Line(c));
                if n > 0 && lines[c].prompt {
                    stack.push(Step::Rewind(c));
                }
            }
        }
    }
    for &i in subset {
        if in_subset.contains(&i) && !done.contains(&i) && lines[i].uuid.is_some() {
            done.insert(i);
            out.push(Step::Line(i));
            for &j in followers.get(&i).map(Vec::as_slice).unwrap_or(&[]) {
                if done.insert(j) {
                    out.push(Step::Line(j));
                }
            }
        }
    }
    out
}
