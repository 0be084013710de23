//! The stdio server's output as rmcp reads it: whole lines, each recorded
//! with [`RawWire`] (when recording) before rmcp can parse it, and replies
//! rmcp could not decode turned into errors for their requests.
//!
//! rmcp's stdio transport silently drops a line it cannot parse (invalid
//! UTF-8, nesting past serde_json's 128 levels, a line over its length
//! limit): the request it answered then waits for its whole timeout, and
//! the caller gets a 504 that says nothing. [`ReplyGuard`] sits between the
//! server's stdout and rmcp, hands rmcp complete lines only, and replaces
//! such a line by a JSON-RPC error with the same `id`, so the call fails at
//! once (502) and the log names the tool. The checks are byte scans, not a
//! second parse.

use std::collections::VecDeque;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, ReadBuf};

use super::raw_wire::{MAX_MESSAGE_BYTES, RawWire};

/// serde_json's recursion limit: deeper input fails to parse.
const MAX_DECODABLE_DEPTH: usize = 127;

/// Passes complete lines through, recording them and replacing undecodable
/// replies.
pub struct ReplyGuard<R> {
    inner: R,
    raw_wire: RawWire,
    /// The line being read (no newline yet).
    partial: Vec<u8>,
    /// Checked lines, ready for the reader.
    ready: VecDeque<u8>,
    /// Set while skipping the rest of an over-long line.
    discarding: bool,
    eof: bool,
}

impl<R> ReplyGuard<R> {
    pub fn new(inner: R, raw_wire: RawWire) -> Self {
        ReplyGuard {
            inner,
            raw_wire,
            partial: Vec::new(),
            ready: VecDeque::new(),
            discarding: false,
            eof: false,
        }
    }

    fn take_bytes(&mut self, mut bytes: &[u8]) {
        while !bytes.is_empty() {
            let newline = bytes.iter().position(|byte| *byte == b'\n');
            let (chunk, rest) = match newline {
                Some(index) => (&bytes[..index], &bytes[index + 1..]),
                None => (bytes, &[][..]),
            };
            if !self.discarding {
                self.partial.extend_from_slice(chunk);
                if self.partial.len() > MAX_MESSAGE_BYTES {
                    // rmcp would drop it too; answer its request now.
                    let line = std::mem::take(&mut self.partial);
                    self.emit_error(&line, "it is longer than 16 MiB");
                    self.discarding = true;
                }
            }
            if newline.is_some() {
                if self.discarding {
                    self.discarding = false;
                } else {
                    let line = std::mem::take(&mut self.partial);
                    self.finish_line(line);
                }
            }
            bytes = rest;
        }
    }

    fn finish_line(&mut self, line: Vec<u8>) {
        self.raw_wire.observe_bytes(&line);
        match undecodable(&line) {
            None => {
                self.ready.extend(line);
                self.ready.push_back(b'\n');
            }
            Some(reason) => self.emit_error(&line, reason),
        }
    }

    /// The error reply for the request `line` answers; nothing for a line
    /// without an id (a notification: rmcp would have dropped it anyway).
    fn emit_error(&mut self, line: &[u8], reason: &str) {
        let Some(id) = top_level_id(line) else {
            tracing::warn!(
                "dropped a message from the MCP server that cannot be decoded: {reason}"
            );
            return;
        };
        tracing::warn!(
            id = %String::from_utf8_lossy(id),
            "the MCP server's reply cannot be decoded ({reason}); the call fails"
        );
        let message = serde_json::json!(format!(
            "The MCP server's reply could not be decoded: {reason}"
        ));
        let mut reply = b"{\"jsonrpc\":\"2.0\",\"id\":".to_vec();
        reply.extend_from_slice(id);
        reply.extend_from_slice(b",\"error\":{\"code\":-32603,\"message\":");
        reply.extend_from_slice(message.to_string().as_bytes());
        reply.extend_from_slice(b"}}\n");
        self.ready.extend(reply);
    }
}

impl<R: AsyncRead + Unpin> AsyncRead for ReplyGuard<R> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let this = self.get_mut();
        loop {
            if !this.ready.is_empty() {
                let (front, _) = this.ready.as_slices();
                let count = front.len().min(buf.remaining());
                buf.put_slice(&front[..count]);
                this.ready.drain(..count);
                return Poll::Ready(Ok(()));
            }
            if this.eof {
                // A last line without a newline is passed on as it is.
                if !this.partial.is_empty() && !this.discarding {
                    let line = std::mem::take(&mut this.partial);
                    this.ready.extend(line);
                    continue;
                }
                return Poll::Ready(Ok(()));
            }
            // Not zeroed: clearing 8 KiB on every read (several per call,
            // `Pending` ones included) was a quarter of the proxy's
            // instructions per call.
            let mut chunk = [std::mem::MaybeUninit::<u8>::uninit(); 8192];
            let mut chunk_buf = ReadBuf::uninit(&mut chunk);
            match Pin::new(&mut this.inner).poll_read(cx, &mut chunk_buf) {
                Poll::Ready(Ok(())) => {
                    let filled = chunk_buf.filled();
                    if filled.is_empty() {
                        this.eof = true;
                    } else {
                        this.take_bytes(filled);
                    }
                }
                Poll::Ready(Err(error)) => return Poll::Ready(Err(error)),
                Poll::Pending => return Poll::Pending,
            }
        }
    }
}

/// Why rmcp could not decode `line`, if a byte scan can tell.
fn undecodable(line: &[u8]) -> Option<&'static str> {
    if std::str::from_utf8(line).is_err() {
        return Some("it is not valid UTF-8");
    }
    if max_depth(line) > MAX_DECODABLE_DEPTH {
        return Some("it is nested deeper than 127 levels");
    }
    None
}

/// The deepest nesting of arrays and objects in a JSON text (strings skipped).
fn max_depth(text: &[u8]) -> usize {
    let (mut depth, mut deepest, mut in_string, mut escaped) = (0usize, 0usize, false, false);
    for &byte in text {
        if in_string {
            match (escaped, byte) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_string = false,
                _ => {}
            }
            continue;
        }
        match byte {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                deepest = deepest.max(depth);
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    deepest
}

/// The raw text of the top-level `"id"` member's value (a number or a
/// string), scanning at most the start of the line where it usually is.
pub(super) fn top_level_id(line: &[u8]) -> Option<&[u8]> {
    let (mut depth, mut index) = (0usize, 0usize);
    while index < line.len() {
        match line[index] {
            b'"' => {
                let end = string_end(line, index)?;
                let key = &line[index + 1..end];
                let mut after = end + 1;
                while line.get(after).is_some_and(u8::is_ascii_whitespace) {
                    after += 1;
                }
                if depth == 1 && key == b"id" && line.get(after) == Some(&b':') {
                    let mut start = after + 1;
                    while line.get(start).is_some_and(u8::is_ascii_whitespace) {
                        start += 1;
                    }
                    let stop = if line.get(start) == Some(&b'"') {
                        string_end(line, start)? + 1
                    } else {
                        start
                            + line[start..]
                                .iter()
                                .position(|byte| matches!(byte, b',' | b'}' | b' ' | b'\n'))
                                .unwrap_or(line.len() - start)
                    };
                    let id = &line[start..stop];
                    let valid = !id.is_empty()
                        && (id[0] == b'"'
                            || id.iter().all(|byte| byte.is_ascii_digit() || *byte == b'-'));
                    return valid.then_some(id);
                }
                index = end + 1;
            }
            b'[' | b'{' => {
                depth += 1;
                index += 1;
            }
            b']' | b'}' => {
                depth = depth.saturating_sub(1);
                index += 1;
            }
            _ => index += 1,
        }
    }
    None
}

/// The index of the `"` closing the string that opens at `start`.
fn string_end(line: &[u8], start: usize) -> Option<usize> {
    let mut escaped = false;
    for (offset, &byte) in line.get(start + 1..)?.iter().enumerate() {
        match (escaped, byte) {
            (true, _) => escaped = false,
            (false, b'\\') => escaped = true,
            (false, b'"') => return Some(start + 1 + offset),
            _ => {}
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncReadExt;

    fn nested(depth: usize) -> String {
        format!(
            "{{\"jsonrpc\":\"2.0\",\"id\":7,\"result\":{{\"structuredContent\":{{\"v\":{}1{}}}}}}}",
            "[".repeat(depth),
            "]".repeat(depth)
        )
    }

    async fn through_guard(input: Vec<u8>) -> String {
        let mut guard = ReplyGuard::new(&input[..], RawWire::new(false));
        let mut output = Vec::new();
        guard.read_to_end(&mut output).await.unwrap();
        String::from_utf8(output).unwrap()
    }

    #[tokio::test]
    async fn decodable_lines_pass_unchanged() {
        let input = format!(
            "{}\n{{\"jsonrpc\":\"2.0\",\"method\":\"x\"}}\npartial",
            nested(10)
        );
        assert_eq!(through_guard(input.clone().into_bytes()).await, input);
    }

    #[tokio::test]
    async fn a_reply_too_deep_becomes_an_error_for_its_id() {
        let output = through_guard(format!("{}\n", nested(200)).into_bytes()).await;
        let reply: serde_json::Value = serde_json::from_str(output.trim()).unwrap();
        assert_eq!(reply["id"], 7);
        assert_eq!(reply["error"]["code"], -32603);
        assert!(
            reply["error"]["message"]
                .as_str()
                .unwrap()
                .contains("deeper")
        );
    }

    #[tokio::test]
    async fn invalid_utf8_becomes_an_error_and_string_ids_are_kept() {
        let mut line = b"{\"jsonrpc\":\"2.0\",\"id\":\"a\\\"b\",\"result\":{\"x\":\"".to_vec();
        line.extend_from_slice(&[0xff, 0xfe]);
        line.extend_from_slice(b"\"}}\n{\"jsonrpc\":\"2.0\",\"id\":8,\"result\":{}}\n");
        let output = through_guard(line).await;
        let mut lines = output.lines();
        let reply: serde_json::Value = serde_json::from_str(lines.next().unwrap()).unwrap();
        assert_eq!(reply["id"], "a\"b");
        assert!(
            reply["error"]["message"]
                .as_str()
                .unwrap()
                .contains("UTF-8")
        );
        assert_eq!(
            lines.next(),
            Some("{\"jsonrpc\":\"2.0\",\"id\":8,\"result\":{}}")
        );
    }

    #[tokio::test]
    async fn an_undecodable_notification_is_dropped() {
        let mut line = b"{\"jsonrpc\":\"2.0\",\"method\":\"m\",\"params\":{\"x\":\"".to_vec();
        line.extend_from_slice(&[0xff]);
        line.extend_from_slice(b"\"}}\n");
        assert_eq!(through_guard(line).await, "");
    }

    fn tools_list_line(id: u64, tools: &str) -> String {
        format!("{{\"jsonrpc\":\"2.0\",\"id\":{id},\"result\":{{\"tools\":{tools}}}}}")
    }

    #[tokio::test]
    async fn lines_split_across_reads_pass_whole_and_are_recorded() {
        let first = tools_list_line(1, r#"[{"name":"a","x-vendor":1}]"#);
        let second = tools_list_line(2, "[]");
        let wire = format!("{first}\n{{\"jsonrpc\":\"2.0\",\"id\":9,\"result\":{{}}}}\n{second}\n");
        // A reader that hands out 7 bytes at a time splits lines across reads.
        let (mut writer, reader) = tokio::io::duplex(7);
        let raw_wire = RawWire::default();
        let mut guard = ReplyGuard::new(reader, raw_wire.clone());
        let wire_bytes = wire.clone().into_bytes();
        let writing = tokio::spawn(async move {
            use tokio::io::AsyncWriteExt;
            writer.write_all(&wire_bytes).await.unwrap();
        });
        let mut passed = String::new();
        guard.read_to_string(&mut passed).await.unwrap();
        writing.await.unwrap();
        assert_eq!(passed, wire);
        let typed: Vec<rmcp::model::Tool> =
            serde_json::from_str(r#"[{"name":"a","inputSchema":{"type":"object"}}]"#).unwrap();
        let raw = raw_wire
            .take_page_for(&typed)
            .expect("the first page was recorded");
        assert_eq!(raw, vec![serde_json::json!({"name": "a", "x-vendor": 1})]);
    }

    #[tokio::test]
    async fn an_overlong_line_is_skipped_and_the_next_one_recorded() {
        let raw_wire = RawWire::default();
        let mut input = b"{\"result\":{\"tools\":[".to_vec();
        input.extend(vec![b' '; MAX_MESSAGE_BYTES + 1]);
        input.extend_from_slice(b"]}}\n");
        input.extend_from_slice(tools_list_line(3, "[]").as_bytes());
        input.push(b'\n');
        let mut guard = ReplyGuard::new(&input[..], raw_wire.clone());
        let mut output = Vec::new();
        guard.read_to_end(&mut output).await.unwrap();
        assert_eq!(
            output,
            format!("{}\n", tools_list_line(3, "[]")).into_bytes()
        );
        assert_eq!(raw_wire.take_page_for(&[]), Some(Vec::new()));
    }

    #[test]
    fn ids_are_found_at_the_top_level_only() {
        assert_eq!(
            top_level_id(br#"{"result":{"id":1},"id":2}"#),
            Some(&b"2"[..])
        );
        assert_eq!(top_level_id(br#"{"method":"x"}"#), None);
        assert_eq!(max_depth(br#"{"a":"[[[[","b":[[1]]}"#), 3);
    }
}
