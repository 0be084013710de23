//! The names a multi-server crate's aggregated `/mcp` gives its servers'
//! tools and prompts: one flat list for MCP clients, so each name says its
//! server.

use std::collections::{BTreeMap, BTreeSet};

use super::Lock;

/// `{server}_{tool}` for every locked tool, keyed by (server, tool), as
/// [`aggregated_names`] makes them.
pub fn aggregated_tool_names<'a>(
    servers: impl IntoIterator<Item = (&'a str, &'a Lock)>,
) -> BTreeMap<(String, String), String> {
    aggregated_names(servers.into_iter().flat_map(|(server, lock)| {
        lock.tools
            .iter()
            .map(move |tool| (server.to_string(), tool.name.clone()))
    }))
}

/// `{server}_{name}` for each (server, name) pair, keyed by the pair. Where
/// two would read the same (`a_b` + `c` and `a` + `b_c`), the later one in
/// (server, name) order gets `_2` (then `_3`, ...), so the names depend on
/// the pairs alone and are the same on every replica and every start.
pub fn aggregated_names(
    pairs: impl IntoIterator<Item = (String, String)>,
) -> BTreeMap<(String, String), String> {
    let mut pairs: Vec<(String, String)> = pairs.into_iter().collect();
    pairs.sort();
    let mut taken = BTreeSet::new();
    let mut names = BTreeMap::new();
    for (server, item) in pairs {
        let base = format!("{server}_{item}");
        let mut name = base.clone();
        let mut suffix = 2;
        while !taken.insert(name.clone()) {
            name = format!("{base}_{suffix}");
            suffix += 1;
        }
        names.insert((server, item), name);
    }
    names
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_namespaced_and_unique_in_pair_order() {
        let names = aggregated_names([
            ("a_x".to_string(), "y".to_string()),
            ("a".to_string(), "x_y".to_string()),
            ("b".to_string(), "greet".to_string()),
        ]);
        assert_eq!(names[&("a".into(), "x_y".into())], "a_x_y");
        assert_eq!(names[&("a_x".into(), "y".into())], "a_x_y_2");
        assert_eq!(names[&("b".into(), "greet".into())], "b_greet");
    }
}
