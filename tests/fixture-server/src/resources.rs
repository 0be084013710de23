//! `--resources`: resources, resource templates, prompts and completions (issue
//! #28), and `--prompts-v2`, a second version of that surface for diff tests.
//! See the package README for the exact surface.
//!
//! Everything is fixed at startup except the subscriptions: each session
//! (one per stdio process, one per HTTP `Mcp-Session-Id`) keeps the set of
//! URIs it subscribed to, and the `touch_resource` tool sends
//! `notifications/resources/updated` to the sessions subscribed to its URI.

use std::{
    collections::BTreeSet,
    sync::{Arc, Mutex, OnceLock, PoisonError, Weak},
};

use rmcp::{
    ErrorData, Peer, RoleServer,
    model::{
        CallToolResult, CompleteRequestParams, CompleteResult, CompletionInfo, ContentBlock,
        GetPromptRequestParams, GetPromptResult, JsonObject, ListPromptsResult,
        ListResourceTemplatesResult, ListResourcesResult, Prompt, PromptArgument, PromptMessage,
        PromptsCapability, Reference, ResourceUpdatedNotificationParam, ResourcesCapability, Role,
        ServerCapabilities, Tool,
    },
};
use serde_json::{Value, json};

use crate::{paging, uri_template::UriTemplate};

/// The name of the tool `--resources` adds.
pub const TOUCH_RESOURCE: &str = "touch_resource";

/// Size of `blob://big`: large enough to matter, small enough to fit a
/// 16 MiB JSON line (rmcp's stdio limit) once base64-encoded.
pub const BIG_BLOB_BYTES: usize = 10 * 1024 * 1024;

/// The URI template of the `repo` resource template (also a completion ref).
pub const REPO_TEMPLATE: &str = "repo://{owner}/{repo}/blob/{+path}{?ref}";

/// A 1x1 RGBA PNG, one opaque red pixel.
pub const PIXEL_PNG: [u8; 70] = [
    0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48, 0x44, 0x52,
    0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06, 0x00, 0x00, 0x00, 0x1f, 0x15, 0xc4,
    0x89, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x44, 0x41, 0x54, 0x78, 0xda, 0x63, 0xf8, 0xcf, 0xc0, 0xf0,
    0x1f, 0x00, 0x05, 0x00, 0x01, 0xff, 0x56, 0xc7, 0x2f, 0x0d, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45,
    0x4e, 0x44, 0xae, 0x42, 0x60, 0x82,
];

const STYLES: [&str; 3] = ["formal", "friendly", "funny"];
const OWNERS: [&str; 2] = ["modelcontextprotocol", "mozilla"];

/// What `--resources`, `--resource-count` and `--prompts-v2` asked for.
#[derive(Debug, Clone, Copy)]
pub struct ResourceOptions {
    /// `text://notes/1` ..= `text://notes/{note_count}`.
    pub note_count: usize,
    /// The second version of the surface (`--prompts-v2`).
    pub v2: bool,
}

/// What reading a listed resource returns.
#[derive(Debug, Clone)]
enum Body {
    Text(String),
    Pixel,
    Big,
}

#[derive(Debug)]
struct Listed {
    resource: rmcp::model::Resource,
    body: Body,
}

/// The fixed surface, shared by every session.
#[derive(Debug)]
struct Surface {
    page_size: Option<usize>,
    resources: Vec<Listed>,
    templates: Vec<(rmcp::model::ResourceTemplate, UriTemplate)>,
    prompts: Vec<Prompt>,
    /// Sessions that subscribed to something (dropped sessions fall out).
    sessions: Mutex<Vec<Weak<Session>>>,
}

/// One client session's subscriptions.
#[derive(Debug, Default)]
struct Session {
    /// Where to send its notifications: known from its first subscribe.
    peer: OnceLock<Peer<RoleServer>>,
    uris: Mutex<BTreeSet<String>>,
}

/// The `--resources` surface as one session sees it. Cheap to clone; a clone
/// is the same session, [`Resources::for_new_session`] a new one.
#[derive(Debug, Clone)]
pub struct Resources {
    surface: Arc<Surface>,
    session: Arc<Session>,
}

impl Resources {
    /// `page_size`: the `--page-size` every list is paged with.
    pub fn new(options: ResourceOptions, page_size: Option<usize>) -> Self {
        Self {
            surface: Arc::new(Surface {
                page_size,
                resources: resources(options),
                templates: templates(options.v2),
                prompts: prompts(options.v2),
                sessions: Mutex::default(),
            }),
            session: Arc::default(),
        }
    }

    /// The same surface for another client session (its own subscriptions).
    pub fn for_new_session(&self) -> Self {
        Self {
            surface: Arc::clone(&self.surface),
            session: Arc::default(),
        }
    }

    /// Add `resources` (`subscribe: true`), `prompts` and `completions`.
    pub fn add_capabilities(capabilities: &mut ServerCapabilities) {
        let mut resources = ResourcesCapability::default();
        resources.subscribe = Some(true);
        capabilities.resources = Some(resources);
        capabilities.prompts = Some(PromptsCapability::default());
        capabilities.completions = Some(JsonObject::new());
    }

    pub fn list_resources(&self, cursor: Option<&str>) -> Result<ListResourcesResult, ErrorData> {
        let all: Vec<_> = self
            .surface
            .resources
            .iter()
            .map(|listed| listed.resource.clone())
            .collect();
        let (items, next) = paging::page(&all, cursor, self.surface.page_size)?;
        let mut result = ListResourcesResult::with_all_items(items);
        result.next_cursor = next;
        Ok(result)
    }

    pub fn list_resource_templates(
        &self,
        cursor: Option<&str>,
    ) -> Result<ListResourceTemplatesResult, ErrorData> {
        let all: Vec<_> = self
            .surface
            .templates
            .iter()
            .map(|(template, _)| template.clone())
            .collect();
        let (items, next) = paging::page(&all, cursor, self.surface.page_size)?;
        let mut result = ListResourceTemplatesResult::with_all_items(items);
        result.next_cursor = next;
        Ok(result)
    }

    pub fn list_prompts(&self, cursor: Option<&str>) -> Result<ListPromptsResult, ErrorData> {
        let (items, next) = paging::page(&self.surface.prompts, cursor, self.surface.page_size)?;
        let mut result = ListPromptsResult::with_all_items(items);
        result.next_cursor = next;
        Ok(result)
    }

    /// A listed resource's contents; for a URI that matches a template, one text
    /// content echoing the variables it bound (`owner=a repo=b path=src/x.rs`);
    /// else -32002 "Resource not found" with `data.uri`.
    pub fn read(&self, uri: &str) -> Result<rmcp::model::ReadResourceResult, ErrorData> {
        use rmcp::model::{ReadResourceResult, ResourceContents};
        if let Some(listed) = self.surface.listed(uri) {
            let mime_type = listed.resource.mime_type.clone();
            let contents = match &listed.body {
                Body::Text(text) => ResourceContents::TextResourceContents {
                    uri: uri.to_owned(),
                    mime_type,
                    text: text.clone(),
                    meta: None,
                },
                Body::Pixel => blob_contents(uri, mime_type, base64(&PIXEL_PNG)),
                Body::Big => blob_contents(uri, mime_type, big_blob_base64().to_owned()),
            };
            return Ok(ReadResourceResult::new(vec![contents]));
        }
        match self.surface.template_echo(uri) {
            Some(echo) => Ok(ReadResourceResult::new(vec![ResourceContents::text(
                echo, uri,
            )])),
            None => Err(not_found(uri)),
        }
    }

    pub fn get_prompt(
        &self,
        request: &GetPromptRequestParams,
    ) -> Result<GetPromptResult, ErrorData> {
        let Some(prompt) = self
            .surface
            .prompts
            .iter()
            .find(|prompt| prompt.name == request.name)
        else {
            return Err(ErrorData::invalid_params(
                format!("Unknown prompt: {}", request.name),
                Some(json!({"name": request.name})),
            ));
        };
        let arguments = prompt_arguments(prompt, request.arguments.as_ref())?;
        let get = |name: &str| {
            arguments
                .iter()
                .find(|(known, _)| known == name)
                .map(|(_, value)| value.as_str())
        };
        let message = match prompt.name.as_str() {
            "greet" => {
                let mut text = format!("Hello {}", get("name").unwrap_or_default());
                if let Some(style) = get("style") {
                    text.push_str(&format!(" in {style} style"));
                }
                PromptMessage::new_text(Role::User, text)
            }
            "no_args" => PromptMessage::new_text(
                Role::Assistant,
                "I am the fixture's prompt without arguments.",
            ),
            "code_review" => {
                let code = get("code").unwrap_or_default();
                let text = match get("language") {
                    Some(language) => format!("Please review this {language} code:\n\n{code}"),
                    None => format!("Please review this code:\n\n{code}"),
                };
                PromptMessage::new_text(Role::User, text)
            }
            "summarize" => PromptMessage::new_text(
                Role::User,
                format!(
                    "Summarize this text:\n\n{}",
                    get("text").unwrap_or_default()
                ),
            ),
            other => {
                return Err(ErrorData::internal_error(
                    format!("prompt {other} has no answer"),
                    None,
                ));
            }
        };
        let mut result = GetPromptResult::new(vec![message]);
        result.description = prompt.description.clone();
        Ok(result)
    }

    /// `greet`'s `style` and the `repo` template's `owner` complete from fixed
    /// lists by prefix; everything else completes to nothing.
    pub fn complete(&self, request: &CompleteRequestParams) -> CompleteResult {
        let candidates: &[&str] = match (&request.r#ref, request.argument.name.as_str()) {
            (Reference::Prompt(prompt), "style") if prompt.name == "greet" => &STYLES,
            (Reference::Resource(resource), "owner") if resource.uri == REPO_TEMPLATE => &OWNERS,
            _ => &[],
        };
        let values: Vec<String> = candidates
            .iter()
            .filter(|value| value.starts_with(request.argument.value.as_str()))
            .map(|value| (*value).to_owned())
            .collect();
        CompleteResult::new(CompletionInfo::with_all_values(values).unwrap_or_default())
    }

    /// `resources/subscribe`: a URI `resources/read` would answer (else -32002).
    pub fn subscribe(&self, uri: &str, peer: &Peer<RoleServer>) -> Result<(), ErrorData> {
        if self.surface.listed(uri).is_none() && self.surface.template_echo(uri).is_none() {
            return Err(not_found(uri));
        }
        if self.session.peer.set(peer.clone()).is_ok() {
            let mut sessions = lock(&self.surface.sessions);
            sessions.retain(|session| session.strong_count() > 0);
            sessions.push(Arc::downgrade(&self.session));
        }
        lock(&self.session.uris).insert(uri.to_owned());
        Ok(())
    }

    /// `resources/unsubscribe`: forgetting a URI never subscribed is no error.
    pub fn unsubscribe(&self, uri: &str) {
        lock(&self.session.uris).remove(uri);
    }

    /// The `touch_resource` tool: `notifications/resources/updated` {uri} to every
    /// session subscribed to `uri`; answers "touched".
    pub async fn touch(&self, arguments: &JsonObject) -> Result<CallToolResult, ErrorData> {
        let Some(uri) = arguments.get("uri").and_then(Value::as_str) else {
            return Err(ErrorData::invalid_params(
                format!("{TOUCH_RESOURCE} needs a string argument `uri`"),
                None,
            ));
        };
        let peers: Vec<Peer<RoleServer>> = {
            let mut sessions = lock(&self.surface.sessions);
            sessions.retain(|session| {
                session.upgrade().is_some_and(|session| {
                    session
                        .peer
                        .get()
                        .is_some_and(|peer| !peer.is_transport_closed())
                })
            });
            sessions
                .iter()
                .filter_map(Weak::upgrade)
                .filter(|session| lock(&session.uris).contains(uri))
                .filter_map(|session| session.peer.get().cloned())
                .collect()
        };
        for peer in peers {
            // A session that went away in the meantime just misses it.
            let _ = peer
                .notify_resource_updated(ResourceUpdatedNotificationParam::new(uri))
                .await;
        }
        Ok(CallToolResult::success(vec![ContentBlock::text("touched")]))
    }
}

impl Surface {
    fn listed(&self, uri: &str) -> Option<&Listed> {
        self.resources
            .iter()
            .find(|listed| listed.resource.uri == uri)
    }

    /// The bindings of the first template `uri` matches, as `name=value` words
    /// in template order (optional variables the URI left out are absent).
    fn template_echo(&self, uri: &str) -> Option<String> {
        self.templates.iter().find_map(|(_, parsed)| {
            let bindings = parsed.matches(uri)?;
            let words: Vec<String> = bindings
                .iter()
                .map(|(name, value)| format!("{name}={value}"))
                .collect();
            Some(words.join(" "))
        })
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The MCP spec's "resource not found" (rmcp turns it into -32602 for 2026-07-28 peers).
fn not_found(uri: &str) -> ErrorData {
    ErrorData::resource_not_found("Resource not found", Some(json!({"uri": uri})))
}

fn blob_contents(
    uri: &str,
    mime_type: Option<String>,
    blob: String,
) -> rmcp::model::ResourceContents {
    rmcp::model::ResourceContents::BlobResourceContents {
        uri: uri.to_owned(),
        mime_type,
        blob,
        meta: None,
    }
}

/// The string arguments of a `prompts/get`, checked against the prompt: each a
/// declared argument, a string, and every required one present; else -32602.
fn prompt_arguments(
    prompt: &Prompt,
    given: Option<&JsonObject>,
) -> Result<Vec<(String, String)>, ErrorData> {
    let declared = prompt.arguments.as_deref().unwrap_or_default();
    let mut arguments = Vec::new();
    for (name, value) in given.into_iter().flatten() {
        if !declared.iter().any(|argument| &argument.name == name) {
            return Err(ErrorData::invalid_params(
                format!("Prompt {} has no argument {name:?}", prompt.name),
                None,
            ));
        }
        let Some(value) = value.as_str() else {
            return Err(ErrorData::invalid_params(
                format!(
                    "Argument {name:?} of prompt {} must be a string",
                    prompt.name
                ),
                None,
            ));
        };
        arguments.push((name.clone(), value.to_owned()));
    }
    for argument in declared {
        if argument.required == Some(true)
            && !arguments.iter().any(|(name, _)| name == &argument.name)
        {
            return Err(ErrorData::invalid_params(
                format!(
                    "Missing required argument {:?} of prompt {}",
                    argument.name, prompt.name
                ),
                None,
            ));
        }
    }
    Ok(arguments)
}

fn resources(options: ResourceOptions) -> Vec<Listed> {
    use rmcp::model::Resource;
    let hello_type = if options.v2 {
        "text/markdown"
    } else {
        "text/plain"
    };
    let mut listed = vec![Listed {
        resource: Resource::new("text://hello", "hello")
            .with_description("A greeting, the smallest text resource.")
            .with_mime_type(hello_type),
        body: Body::Text("Hello, resources!".into()),
    }];
    for index in 1..=options.note_count {
        listed.push(Listed {
            resource: Resource::new(format!("text://notes/{index}"), format!("note_{index}"))
                .with_description(format!("Note number {index}."))
                .with_mime_type("text/plain"),
            body: Body::Text(format!("note {index}")),
        });
    }
    listed.push(Listed {
        resource: Resource::new("blob://pixel.png", "pixel.png")
            .with_description("A 1x1 PNG image: one red pixel.")
            .with_mime_type("image/png")
            .with_size(PIXEL_PNG.len() as u64),
        body: Body::Pixel,
    });
    listed.push(Listed {
        resource: Resource::new("blob://big", "big")
            .with_description("10 MiB of binary data (byte i is i % 251).")
            .with_mime_type("application/octet-stream")
            .with_size(BIG_BLOB_BYTES as u64),
        body: Body::Big,
    });
    listed
}

fn templates(v2: bool) -> Vec<(rmcp::model::ResourceTemplate, UriTemplate)> {
    use rmcp::model::ResourceTemplate;
    let note = if v2 {
        "text://notes/{id}/{rev}"
    } else {
        "text://notes/{id}"
    };
    [
        ResourceTemplate::new(REPO_TEMPLATE, "repo").with_description(
            "A file of a repository at an optional ref; reading echoes the variables.",
        ),
        ResourceTemplate::new(note, "note")
            .with_description("Any note by id; reading an unlisted one echoes the variables.")
            .with_mime_type("text/plain"),
    ]
    .into_iter()
    .map(|template| {
        let parsed = UriTemplate::parse(&template.uri_template)
            .unwrap_or_else(|error| panic!("the fixture's own template is bad: {error}"));
        (template, parsed)
    })
    .collect()
}

fn argument(name: &str, description: &str, required: bool) -> PromptArgument {
    PromptArgument::new(name)
        .with_description(description)
        .with_required(required)
}

fn prompts(v2: bool) -> Vec<Prompt> {
    // v2 makes the style required (and says so).
    let (greet_description, style_required) = if v2 {
        ("Greets someone by name in the style asked for.", true)
    } else {
        ("Greets someone by name.", false)
    };
    let greet = Prompt::new(
        "greet",
        Some(greet_description),
        Some(vec![
            argument("name", "Who to greet.", true),
            argument(
                "style",
                "How to greet: formal, friendly or funny.",
                style_required,
            ),
        ]),
    );
    let mut review_arguments = vec![argument("code", "The code to review.", true)];
    if !v2 {
        review_arguments.push(argument(
            "language",
            "The code's programming language.",
            false,
        ));
    }
    let mut prompts = vec![
        greet,
        Prompt::new("no_args", Some("A prompt without arguments."), None),
        Prompt::new(
            "code_review",
            Some("Asks for a review of a piece of code."),
            Some(review_arguments),
        ),
    ];
    if v2 {
        prompts.push(Prompt::new(
            "summarize",
            Some("Asks for a summary of a text."),
            Some(vec![argument("text", "The text to summarize.", true)]),
        ));
    }
    prompts
}

/// The `touch_resource` tool definition.
pub fn touch_tool() -> Tool {
    serde_json::from_value(json!({
        "name": TOUCH_RESOURCE,
        "description": "Marks a resource as changed: sends notifications/resources/updated to the sessions subscribed to it.",
        "inputSchema": {
            "type": "object",
            "properties": {
                "uri": {"type": "string", "description": "The URI of the resource that changed."}
            },
            "required": ["uri"]
        }
    }))
    .expect("the touch_resource definition is a valid tool")
}

/// `blob://big`'s content, base64-encoded once and kept.
fn big_blob_base64() -> &'static str {
    static ENCODED: OnceLock<String> = OnceLock::new();
    ENCODED.get_or_init(|| base64(&big_blob()))
}

/// Byte i is i % 251: deterministic, and no period that is a power of two.
pub fn big_blob() -> Vec<u8> {
    (0..BIG_BLOB_BYTES)
        .map(|index| (index % 251) as u8)
        .collect()
}

/// Standard base64 with padding (RFC 4648 §4).
pub fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let group = (u32::from(chunk[0]) << 16)
            | (u32::from(chunk.get(1).copied().unwrap_or(0)) << 8)
            | u32::from(chunk.get(2).copied().unwrap_or(0));
        for position in 0..4 {
            if position <= chunk.len() {
                let index = (group >> (18 - 6 * position)) & 0x3f;
                out.push(char::from(ALPHABET[index as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use rmcp::model::{ArgumentInfo, ErrorCode, ReadResourceResult, ResourceContents};

    fn surface(v2: bool, page_size: Option<usize>) -> Resources {
        Resources::new(ResourceOptions { note_count: 3, v2 }, page_size)
    }

    /// The v1 surface with `note_count` notes, unpaged.
    fn with_notes(note_count: usize) -> Resources {
        Resources::new(
            ResourceOptions {
                note_count,
                v2: false,
            },
            None,
        )
    }

    fn text_of(result: &ReadResourceResult) -> (&str, Option<&str>) {
        match &result.contents[..] {
            [
                ResourceContents::TextResourceContents {
                    text, mime_type, ..
                },
            ] => (text.as_str(), mime_type.as_deref()),
            other => panic!("expected one text content, got {other:?}"),
        }
    }

    fn blob_of(result: &ReadResourceResult) -> (&str, Option<&str>) {
        match &result.contents[..] {
            [
                ResourceContents::BlobResourceContents {
                    blob, mime_type, ..
                },
            ] => (blob.as_str(), mime_type.as_deref()),
            other => panic!("expected one blob content, got {other:?}"),
        }
    }

    fn prompt(name: &str, arguments: Value) -> GetPromptRequestParams {
        let request = GetPromptRequestParams::new(name);
        match arguments {
            Value::Object(arguments) => request.with_arguments(arguments),
            _ => request,
        }
    }

    fn complete(reference: Reference, argument: &str, value: &str) -> Vec<String> {
        surface(false, None)
            .complete(&CompleteRequestParams::new(
                reference,
                ArgumentInfo::new(argument, value),
            ))
            .completion
            .values
    }

    #[test]
    fn resources_come_in_pages() {
        let resources = surface(false, Some(2));
        let mut uris = Vec::new();
        let mut cursor: Option<String> = None;
        let mut pages = 0;
        loop {
            let page = resources.list_resources(cursor.as_deref()).unwrap();
            pages += 1;
            assert!(page.resources.len() <= 2);
            uris.extend(page.resources.into_iter().map(|resource| resource.uri));
            match page.next_cursor {
                Some(next) => cursor = Some(next),
                None => break,
            }
        }
        assert_eq!(pages, 3);
        // The pages together are the unpaged list, in its order (which URIs
        // that is, the_resources_surface_over_stdio says on the wire).
        let whole = surface(false, None).list_resources(None).unwrap().resources;
        let whole: Vec<String> = whole.into_iter().map(|resource| resource.uri).collect();
        assert_eq!(uris, whole);
        let error = resources.list_resources(Some("x")).unwrap_err();
        assert_eq!(error.code, ErrorCode::INVALID_PARAMS);
    }

    #[test]
    fn every_list_uses_the_page_size() {
        let resources = surface(true, Some(1));
        let templates = resources.list_resource_templates(None).unwrap();
        assert_eq!(templates.resource_templates.len(), 1);
        assert_eq!(templates.next_cursor.as_deref(), Some("1"));
        let second = resources.list_resource_templates(Some("1")).unwrap();
        assert_eq!(second.resource_templates[0].name, "note");
        assert_eq!(second.next_cursor, None);
        let prompts = resources.list_prompts(Some("3")).unwrap();
        assert_eq!(prompts.prompts[0].name, "summarize");
        assert_eq!(prompts.next_cursor, None);
        assert!(resources.list_prompts(Some("5")).is_err());
        assert!(resources.list_resource_templates(Some("-1")).is_err());
        let whole = surface(false, None).list_resources(None).unwrap();
        assert_eq!((whole.resources.len(), whole.next_cursor), (6, None));
    }

    #[test]
    fn resource_count_sets_the_notes() {
        let listed = with_notes(0).list_resources(None).unwrap().resources;
        assert_eq!(listed.len(), 3);
        let many = with_notes(50);
        let listed = many.list_resources(None).unwrap().resources;
        assert_eq!(listed.len(), 53);
        assert_eq!(listed[50].uri, "text://notes/50");
        assert_eq!(text_of(&many.read("text://notes/50").unwrap()).0, "note 50");
    }

    #[test]
    fn listed_resources_read_as_described() {
        let resources = surface(false, None);
        assert_eq!(
            text_of(&resources.read("text://hello").unwrap()),
            ("Hello, resources!", Some("text/plain"))
        );
        assert_eq!(
            text_of(&surface(true, None).read("text://hello").unwrap()),
            ("Hello, resources!", Some("text/markdown"))
        );
        assert_eq!(
            text_of(&resources.read("text://notes/2").unwrap()).0,
            "note 2"
        );

        let pixel = resources.read("blob://pixel.png").unwrap();
        assert_eq!(
            blob_of(&pixel),
            (
                "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP4z8DwHwAFAAH/VscvDQAAAABJRU5ErkJggg==",
                Some("image/png")
            )
        );

        let big = resources.read("blob://big").unwrap();
        let (blob, mime_type) = blob_of(&big);
        assert_eq!(mime_type, Some("application/octet-stream"));
        assert_eq!(blob.len(), BIG_BLOB_BYTES.div_ceil(3) * 4);
        // 251 is not a multiple of 3, so check a slice that starts on a group.
        assert_eq!(&blob[..8], base64(&[0, 1, 2, 3, 4, 5]));
        let tail_start = (BIG_BLOB_BYTES / 3) * 3;
        let tail: Vec<u8> = (tail_start..BIG_BLOB_BYTES)
            .map(|i| (i % 251) as u8)
            .collect();
        assert_eq!(&blob[tail_start / 3 * 4..], base64(&tail));
    }

    #[test]
    fn the_pixel_is_a_well_formed_png() {
        fn crc32(bytes: &[u8]) -> u32 {
            let mut crc = 0xffff_ffffu32;
            for byte in bytes {
                crc ^= u32::from(*byte);
                for _ in 0..8 {
                    crc = if crc & 1 == 1 {
                        (crc >> 1) ^ 0xedb8_8320
                    } else {
                        crc >> 1
                    };
                }
            }
            !crc
        }
        assert_eq!(&PIXEL_PNG[..8], b"\x89PNG\r\n\x1a\n");
        let mut rest = &PIXEL_PNG[8..];
        let mut kinds = Vec::new();
        while !rest.is_empty() {
            let length = u32::from_be_bytes(rest[..4].try_into().unwrap()) as usize;
            let body = &rest[4..8 + length];
            let crc = u32::from_be_bytes(rest[8 + length..12 + length].try_into().unwrap());
            assert_eq!(crc32(body), crc, "chunk {:?}", &body[..4]);
            kinds.push(String::from_utf8_lossy(&body[..4]).into_owned());
            rest = &rest[12 + length..];
        }
        assert_eq!(kinds, ["IHDR", "IDAT", "IEND"]);
        // 1 x 1 pixels.
        assert_eq!(&PIXEL_PNG[16..24], [0, 0, 0, 1, 0, 0, 0, 1]);
    }

    #[test]
    fn base64_matches_rfc_4648_vectors() {
        for (plain, encoded) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64(plain.as_bytes()), encoded);
        }
        assert_eq!(base64(&[0xfb, 0xff]), "+/8=");
    }

    #[test]
    fn template_reads_echo_the_variables() {
        let resources = surface(false, None);
        let read = resources.read("repo://a/b/blob/src/x.rs?ref=main").unwrap();
        assert_eq!(
            text_of(&read),
            ("owner=a repo=b path=src/x.rs ref=main", Some("text/plain"))
        );
        assert_eq!(read.contents.len(), 1);
        let without_ref = resources.read("repo://a/b/blob/docs/a%20b.md").unwrap();
        assert_eq!(text_of(&without_ref).0, "owner=a repo=b path=docs/a b.md");
        // A listed resource wins over a template it also matches.
        assert_eq!(
            text_of(&resources.read("text://notes/1").unwrap()).0,
            "note 1"
        );
        assert_eq!(
            text_of(&resources.read("text://notes/42").unwrap()).0,
            "id=42"
        );

        let v2 = surface(true, None);
        assert_eq!(
            text_of(&v2.read("text://notes/42/7").unwrap()).0,
            "id=42 rev=7"
        );
        assert!(v2.read("text://notes/42").is_err());
    }

    #[test]
    fn unknown_uris_are_resource_not_found() {
        let resources = surface(false, None);
        for uri in [
            "text://nope",
            "repo://a/b/tree/x",
            "text://notes/1/2",
            "blob://pixel",
        ] {
            let error = resources.read(uri).unwrap_err();
            assert_eq!(error.code, ErrorCode::RESOURCE_NOT_FOUND, "{uri}");
            assert_eq!(error.message, "Resource not found");
            assert_eq!(error.data, Some(json!({"uri": uri})));
        }
    }

    #[test]
    fn templates_per_version() {
        let listed = |v2| -> Value {
            serde_json::to_value(surface(v2, None).list_resource_templates(None).unwrap()).unwrap()
                ["resourceTemplates"]
                .clone()
        };
        let v1 = listed(false);
        assert_eq!(v1[0]["name"], "repo");
        assert_eq!(v1[0]["uriTemplate"], REPO_TEMPLATE);
        assert!(v1[0]["description"].is_string());
        assert_eq!(v1[1]["uriTemplate"], "text://notes/{id}");
        assert_eq!(v1[1]["mimeType"], "text/plain");
        let v2 = listed(true);
        assert_eq!(v2[0], v1[0]);
        assert_eq!(v2[1]["uriTemplate"], "text://notes/{id}/{rev}");
    }

    #[test]
    fn prompts_v1() {
        let resources = surface(false, None);
        let listed = serde_json::to_value(resources.list_prompts(None).unwrap()).unwrap();
        assert_eq!(
            listed["prompts"],
            json!([
                {"name": "greet", "description": "Greets someone by name.", "arguments": [
                    {"name": "name", "description": "Who to greet.", "required": true},
                    {"name": "style", "description": "How to greet: formal, friendly or funny.", "required": false}]},
                {"name": "no_args", "description": "A prompt without arguments."},
                {"name": "code_review", "description": "Asks for a review of a piece of code.", "arguments": [
                    {"name": "code", "description": "The code to review.", "required": true},
                    {"name": "language", "description": "The code's programming language.", "required": false}]}
            ])
        );

        let text = |result: GetPromptResult| -> (Role, String) {
            let message = &result.messages[0];
            assert_eq!(result.messages.len(), 1);
            (
                message.role.clone(),
                message.content.as_text().unwrap().text.clone(),
            )
        };
        let greet = resources
            .get_prompt(&prompt("greet", json!({"name": "Ada"})))
            .unwrap();
        assert_eq!(
            greet.description.as_deref(),
            Some("Greets someone by name.")
        );
        assert_eq!(text(greet), (Role::User, "Hello Ada".into()));
        let styled = resources
            .get_prompt(&prompt("greet", json!({"name": "Ada", "style": "formal"})))
            .unwrap();
        assert_eq!(text(styled).1, "Hello Ada in formal style");
        let fixed = resources
            .get_prompt(&prompt("no_args", Value::Null))
            .unwrap();
        assert_eq!(fixed.messages[0].role, Role::Assistant);
        let review = resources
            .get_prompt(&prompt(
                "code_review",
                json!({"code": "x = 1", "language": "Python"}),
            ))
            .unwrap();
        assert_eq!(text(review).1, "Please review this Python code:\n\nx = 1");
    }

    #[test]
    fn prompts_v2() {
        let resources = surface(true, None);
        let listed = resources.list_prompts(None).unwrap().prompts;
        let names: Vec<_> = listed.iter().map(|prompt| prompt.name.as_str()).collect();
        assert_eq!(names, ["greet", "no_args", "code_review", "summarize"]);
        let greet = &listed[0];
        assert_ne!(
            greet.description,
            surface(false, None).list_prompts(None).unwrap().prompts[0].description
        );
        assert_eq!(greet.arguments.as_ref().unwrap()[1].required, Some(true));
        let review_arguments = listed[2].arguments.as_ref().unwrap();
        assert_eq!(review_arguments.len(), 1);
        assert_eq!(review_arguments[0].name, "code");

        let error = resources
            .get_prompt(&prompt("greet", json!({"name": "Ada"})))
            .unwrap_err();
        assert_eq!(error.code, ErrorCode::INVALID_PARAMS);
        assert!(error.message.contains("style"), "{}", error.message);
        let language = resources
            .get_prompt(&prompt(
                "code_review",
                json!({"code": "x", "language": "C"}),
            ))
            .unwrap_err();
        assert!(
            language.message.contains("language"),
            "{}",
            language.message
        );
        let summary = resources
            .get_prompt(&prompt("summarize", json!({"text": "long"})))
            .unwrap();
        assert_eq!(
            summary.messages[0].content.as_text().unwrap().text,
            "Summarize this text:\n\nlong"
        );
        assert!(
            surface(false, None)
                .get_prompt(&prompt("summarize", json!({"text": "x"})))
                .is_err()
        );
    }

    #[test]
    fn bad_prompt_requests_are_invalid_params() {
        let resources = surface(false, None);
        for (name, arguments, needle) in [
            ("nope", json!({}), "Unknown prompt: nope"),
            ("greet", json!({}), "Missing required argument \"name\""),
            ("greet", Value::Null, "Missing required argument \"name\""),
            ("greet", json!({"name": 1}), "must be a string"),
            (
                "greet",
                json!({"name": "a", "mood": "x"}),
                "no argument \"mood\"",
            ),
            ("code_review", json!({"language": "C"}), "\"code\""),
        ] {
            let error = resources
                .get_prompt(&prompt(name, arguments.clone()))
                .unwrap_err();
            assert_eq!(error.code, ErrorCode::INVALID_PARAMS, "{name} {arguments}");
            assert!(error.message.contains(needle), "{}", error.message);
        }
    }

    #[test]
    fn completions_filter_by_prefix() {
        let greet = || Reference::for_prompt("greet");
        assert_eq!(
            complete(greet(), "style", ""),
            ["formal", "friendly", "funny"]
        );
        assert_eq!(
            complete(greet(), "style", "f"),
            ["formal", "friendly", "funny"]
        );
        assert_eq!(complete(greet(), "style", "fr"), ["friendly"]);
        assert_eq!(complete(greet(), "style", "x"), Vec::<String>::new());
        assert_eq!(complete(greet(), "name", ""), Vec::<String>::new());
        let repo = || Reference::for_resource(REPO_TEMPLATE);
        assert_eq!(
            complete(repo(), "owner", "m"),
            ["modelcontextprotocol", "mozilla"]
        );
        assert_eq!(
            complete(repo(), "owner", "mo"),
            ["modelcontextprotocol", "mozilla"]
        );
        assert_eq!(complete(repo(), "owner", "moz"), ["mozilla"]);
        assert_eq!(complete(repo(), "repo", ""), Vec::<String>::new());
        assert_eq!(
            complete(Reference::for_resource("text://notes/{id}"), "owner", ""),
            Vec::<String>::new()
        );
        assert_eq!(
            complete(Reference::for_prompt("code_review"), "style", ""),
            Vec::<String>::new()
        );
        let result = surface(false, None).complete(&CompleteRequestParams::new(
            greet(),
            ArgumentInfo::new("style", "fu"),
        ));
        assert_eq!(
            serde_json::to_value(result.completion).unwrap(),
            json!({"values": ["funny"], "total": 1, "hasMore": false})
        );
    }

    #[test]
    fn sessions_subscribe_on_their_own() {
        let first = surface(false, None);
        let second = first.for_new_session();
        assert!(Arc::ptr_eq(&first.surface, &second.surface));
        assert!(!Arc::ptr_eq(&first.session, &second.session));
        lock(&first.session.uris).insert("text://hello".into());
        assert!(lock(&second.session.uris).is_empty());
        first.unsubscribe("text://hello");
        first.unsubscribe("text://never");
        assert!(lock(&first.session.uris).is_empty());
    }

    #[test]
    fn touch_tool_takes_a_uri() {
        let tool = touch_tool();
        assert_eq!(tool.name, TOUCH_RESOURCE);
        assert_eq!(tool.input_schema.get("required"), Some(&json!(["uri"])));
    }

    #[tokio::test]
    async fn touch_answers_touched_and_needs_a_uri() {
        let resources = surface(false, None);
        let arguments: JsonObject = serde_json::from_value(json!({"uri": "text://hello"})).unwrap();
        let result = resources.touch(&arguments).await.unwrap();
        assert_eq!(result.content[0].as_text().unwrap().text, "touched");
        let error = resources.touch(&JsonObject::new()).await.unwrap_err();
        assert_eq!(error.code, ErrorCode::INVALID_PARAMS);
    }
}
