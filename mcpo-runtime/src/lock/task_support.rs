//! Whether a locked tool runs as an MCP task (`execution.taskSupport`,
//! MCP 2025-11-25): the proxy calls a task-required tool as a task, and
//! offers `Prefer: respond-async` for any tool that may run as one.

use serde_json::Value;

use super::LockedTool;

/// A tool's `execution.taskSupport`, as its lock records it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum TaskSupport {
    /// Absent, `"forbidden"`, or a value this proxy does not know.
    #[default]
    Forbidden,
    /// Called plainly or, when the caller asks, as a task.
    Optional,
    /// Called only as a task.
    Required,
}

impl LockedTool {
    /// How the tool may run as a task.
    pub fn task_support(&self) -> TaskSupport {
        match self
            .definition
            .pointer("/execution/taskSupport")
            .and_then(Value::as_str)
        {
            Some("required") => TaskSupport::Required,
            Some("optional") => TaskSupport::Optional,
            _ => TaskSupport::Forbidden,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn task_support_is_read_from_the_locked_definition() {
        let support = |definition: Value| LockedTool::new(definition).task_support();
        assert_eq!(
            support(json!({"name": "a", "execution": {"taskSupport": "required"}})),
            TaskSupport::Required
        );
        assert_eq!(
            support(json!({"name": "a", "execution": {"taskSupport": "optional"}})),
            TaskSupport::Optional
        );
        assert_eq!(support(json!({"name": "a"})), TaskSupport::Forbidden);
        assert_eq!(
            support(json!({"name": "a", "execution": {"taskSupport": "someday"}})),
            TaskSupport::Forbidden
        );
    }
}
