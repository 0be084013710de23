//! The names a multi-server crate's aggregated `/mcp` gives its servers'
//! tools: one flat list for MCP clients, so each name says its server.

use std::collections::{BTreeMap, BTreeSet};

use super::Lock;

/// `{server}_{tool}` for every locked tool, keyed by (server, tool). Where
/// two would read the same (`a_b` + `c` and `a` + `b_c`), the later one in
/// (server, tool) order gets `_2` (then `_3`, ...), so the names depend on
/// the lock alone and are the same on every replica and every start.
pub fn aggregated_tool_names<'a>(
    servers: impl IntoIterator<Item = (&'a str, &'a Lock)>,
) -> BTreeMap<(String, String), String> {
    let mut pairs: Vec<(String, String)> = servers
        .into_iter()
        .flat_map(|(server, lock)| {
            lock.tools
                .iter()
                .map(move |tool| (server.to_string(), tool.name.clone()))
        })
        .collect();
    pairs.sort();
    let mut taken = BTreeSet::new();
    let mut names = BTreeMap::new();
    for (server, tool) in pairs {
        let base = format!("{server}_{tool}");
        let mut name = base.clone();
        let mut suffix = 2;
        while !taken.insert(name.clone()) {
            name = format!("{base}_{suffix}");
            suffix += 1;
        }
        names.insert((server, tool), name);
    }
    names
}
