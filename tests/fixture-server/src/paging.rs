//! `--page-size`: every list the fixture serves (tools, resources, resource
//! templates, prompts) comes in pages of the same size. The cursor is the
//! decimal offset of the page's first item: opaque to clients, trivial to
//! check here.

use rmcp::ErrorData;

/// One page of `items` from `cursor` (`None` = the first page): the page's items
/// and the cursor of the next page, if any. `size` `None` = everything in one page.
/// A cursor that is not an offset into `items` is JSON-RPC error -32602.
pub fn page<T: Clone>(
    items: &[T],
    cursor: Option<&str>,
    size: Option<usize>,
) -> Result<(Vec<T>, Option<String>), ErrorData> {
    let start = match cursor {
        None => 0,
        Some(cursor) => cursor
            .parse::<usize>()
            .ok()
            .filter(|offset| *offset <= items.len())
            .ok_or_else(|| {
                ErrorData::invalid_params(format!("Invalid cursor: {cursor:?}"), None)
            })?,
    };
    let end = match size {
        Some(size) => start.saturating_add(size).min(items.len()),
        None => items.len(),
    };
    let next = (end < items.len()).then(|| end.to_string());
    Ok((items[start..end].to_vec(), next))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_follow_the_offsets() {
        let items: Vec<u32> = (0..5).collect();
        assert_eq!(
            page(&items, None, Some(2)).unwrap(),
            (vec![0, 1], Some("2".into()))
        );
        assert_eq!(
            page(&items, Some("2"), Some(2)).unwrap(),
            (vec![2, 3], Some("4".into()))
        );
        assert_eq!(page(&items, Some("4"), Some(2)).unwrap(), (vec![4], None));
        assert_eq!(page(&items, None, None).unwrap(), (items.clone(), None));
        assert_eq!(page(&items, Some("5"), Some(2)).unwrap(), (vec![], None));
        let empty: Vec<u32> = Vec::new();
        assert_eq!(page(&empty, None, Some(2)).unwrap(), (vec![], None));
    }

    #[test]
    fn bad_cursors_are_invalid_params() {
        let items: Vec<u32> = (0..5).collect();
        for cursor in ["x", "-1", "6", "", "99999999999999999999999"] {
            let error = page(&items, Some(cursor), Some(2)).unwrap_err();
            assert_eq!(
                error.code,
                rmcp::model::ErrorCode::INVALID_PARAMS,
                "{cursor}"
            );
            assert!(
                error.message.contains("Invalid cursor"),
                "{}",
                error.message
            );
        }
    }
}
