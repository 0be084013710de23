//! Whether a locked tool runs as an MCP task: by its own
//! `execution.taskSupport` (MCP 2025-11-25), or because its server speaks
//! the tasks extension (`io.modelcontextprotocol/tasks`, SEP-2663), whose
//! server makes a task of any call it likes. The proxy calls a
//! task-required tool as a task, and offers `Prefer: respond-async` for any
//! tool that may run as one.

use serde_json::Value;

use super::{LockedTool, ServerFacts};

/// The capability extension of MCP tasks (SEP-2663).
pub const TASKS_EXTENSION: &str = "io.modelcontextprotocol/tasks";

impl ServerFacts {
    /// Whether the server declared the tasks extension (SEP-2663): it may
    /// answer any `tools/call` with a task to poll.
    pub fn speaks_tasks_extension(&self) -> bool {
        self.capabilities
            .pointer("/extensions")
            .and_then(|extensions| extensions.get(TASKS_EXTENSION))
            .is_some_and(|settings| !settings.is_null())
    }
}

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
    /// How the tool may run as a task on `server`: as its definition says,
    /// or `Optional` where the server speaks the tasks extension.
    pub fn task_support_on(&self, server: &ServerFacts) -> TaskSupport {
        match self.task_support() {
            TaskSupport::Forbidden if server.speaks_tasks_extension() => TaskSupport::Optional,
            support => support,
        }
    }

    /// How the tool may run as a task, by its own definition.
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
    fn a_server_of_the_tasks_extension_may_run_any_tool_as_a_task() {
        let server = |capabilities: Value| ServerFacts {
            name: "s".into(),
            version: "1".into(),
            title: None,
            protocol_version: "2026-07-28".into(),
            capabilities,
            instructions: None,
        };
        let extension = server(json!({"tools": {}, "extensions": {TASKS_EXTENSION: {}}}));
        let plain = server(json!({"tools": {}, "extensions": {"other/ext": {}}}));
        let tool = LockedTool::new(json!({"name": "a"}));
        assert_eq!(tool.task_support_on(&extension), TaskSupport::Optional);
        assert_eq!(tool.task_support_on(&plain), TaskSupport::Forbidden);
        let required =
            LockedTool::new(json!({"name": "a", "execution": {"taskSupport": "required"}}));
        assert_eq!(required.task_support_on(&extension), TaskSupport::Required);
    }

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
