//! The stdio transport: one JSON-RPC message a line on the server's stdin
//! and stdout, as rmcp's `AsyncRwTransport` does it, with two differences:
//! replies are decoded by [`MessageDecoder`] (a tool call's reply without
//! rmcp's untagged parse), and a reply that cannot be decoded fails its
//! call at once instead of leaving it to its timeout.
//!
//! The stdout side is a [`ReplyGuard`]: whole lines, recorded for the
//! snapshot, the undecodable ones already turned into errors.

use std::borrow::Cow;
use std::sync::Arc;

use rmcp::service::{RoleClient, RxJsonRpcMessage, TxJsonRpcMessage};
use rmcp::transport::Transport;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::sync::Mutex;

use super::decode::MessageDecoder;
use super::reply_guard::ReplyGuard;

/// Buffer kept between lines, at most: replies are usually a few KiB.
const LINE_CAPACITY_KEPT: usize = 1 << 20;

/// rmcp's client side of a stdio server.
pub struct StdioTransport<R, W> {
    reader: BufReader<ReplyGuard<R>>,
    /// The line being read: kept across a cancelled `receive` (rmcp polls it
    /// in a `select!`), cleared once a whole line is handled.
    line: Vec<u8>,
    /// `None` once closed. Locked by each send: they run concurrently.
    writer: Arc<Mutex<Option<W>>>,
    decoder: MessageDecoder,
}

impl<R: AsyncRead + Unpin, W: AsyncWrite + Unpin> StdioTransport<R, W> {
    pub fn new(reader: ReplyGuard<R>, writer: W) -> Self {
        StdioTransport {
            reader: BufReader::new(reader),
            line: Vec::new(),
            writer: Arc::new(Mutex::new(Some(writer))),
            decoder: MessageDecoder::default(),
        }
    }

    /// The message on the line just read, if it is one to hand to rmcp.
    fn decode_line(&mut self) -> Option<RxJsonRpcMessage<RoleClient>> {
        let mut text = self.line.strip_suffix(b"\n").unwrap_or(&self.line);
        text = text.strip_suffix(b"\r").unwrap_or(text);
        // RFC 8259 lets a parser ignore a byte order mark.
        text = text.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(text);
        if text.iter().all(u8::is_ascii_whitespace) {
            return None;
        }
        self.decoder.decode(text)
    }
}

impl<R, W> Transport<RoleClient> for StdioTransport<R, W>
where
    R: AsyncRead + Unpin + Send + 'static,
    W: AsyncWrite + Unpin + Send + 'static,
{
    type Error = std::io::Error;

    fn name() -> Cow<'static, str> {
        "stdio".into()
    }

    fn send(
        &mut self,
        item: TxJsonRpcMessage<RoleClient>,
    ) -> impl Future<Output = Result<(), Self::Error>> + Send + 'static {
        self.decoder.sent(&item);
        let line = serde_json::to_vec(&item).map(|mut line| {
            line.push(b'\n');
            line
        });
        let writer = Arc::clone(&self.writer);
        async move {
            let line = line?;
            let mut writer = writer.lock().await;
            let Some(writer) = writer.as_mut() else {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::NotConnected,
                    "the transport is closed",
                ));
            };
            writer.write_all(&line).await?;
            writer.flush().await
        }
    }

    async fn receive(&mut self) -> Option<RxJsonRpcMessage<RoleClient>> {
        loop {
            match self.reader.read_until(b'\n', &mut self.line).await {
                // A cancelled read may have left a last line without its newline.
                Ok(0) if self.line.is_empty() => return None,
                Ok(_) => {}
                Err(error) => {
                    tracing::error!(%error, "reading from the MCP server failed");
                    return None;
                }
            }
            let message = self.decode_line();
            self.line.clear();
            // One huge reply should not pin its buffer for the session's life.
            if self.line.capacity() > LINE_CAPACITY_KEPT {
                self.line = Vec::new();
            }
            if message.is_some() {
                return message;
            }
        }
    }

    async fn close(&mut self) -> Result<(), Self::Error> {
        // Closing stdin is how a stdio server is asked to exit.
        drop(self.writer.lock().await.take());
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::upstream::raw_wire::RawWire;
    use rmcp::model::{JsonRpcMessage, ServerResult};

    fn transport(
        server_output: &'static [u8],
    ) -> StdioTransport<&'static [u8], tokio::io::DuplexStream> {
        let (writer, _reader) = tokio::io::duplex(1024);
        StdioTransport::new(ReplyGuard::new(server_output, RawWire::new(false)), writer)
    }

    #[tokio::test]
    async fn lines_become_messages_and_blank_lines_are_skipped() {
        let mut transport = transport(
            b"\n\xEF\xBB\xBF{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{}}\r\n  \n\
              {\"jsonrpc\":\"1.0\",\"method\":\"notifications/x\"}\n\
              {\"jsonrpc\":\"2.0\",\"method\":\"notifications/tools/list_changed\"}",
        );
        let first = transport.receive().await.unwrap();
        assert!(matches!(
            first,
            JsonRpcMessage::Response(response) if matches!(response.result, ServerResult::EmptyResult(_))
        ));
        // A message that is not JSON-RPC 2.0 and has no id is dropped; the last
        // line (no newline) is kept.
        assert!(matches!(
            transport.receive().await,
            Some(JsonRpcMessage::Notification(_))
        ));
        assert!(transport.receive().await.is_none());
    }

    #[tokio::test]
    async fn a_reply_rmcp_cannot_decode_fails_its_request() {
        let mut transport = transport(b"{\"jsonrpc\":\"1.0\",\"id\":3,\"result\":{}}\n");
        let Some(JsonRpcMessage::Error(error)) = transport.receive().await else {
            panic!("not an error")
        };
        assert_eq!(error.id, Some(rmcp::model::RequestId::Number(3)));
    }

    #[tokio::test]
    async fn sends_are_lines_and_a_closed_transport_refuses_them() {
        let (writer, mut server_input) = tokio::io::duplex(1024);
        let mut transport =
            StdioTransport::new(ReplyGuard::new(&b""[..], RawWire::new(false)), writer);
        let ping: TxJsonRpcMessage<RoleClient> =
            serde_json::from_str(r#"{"jsonrpc":"2.0","id":1,"method":"ping"}"#).unwrap();
        transport.send(ping.clone()).await.unwrap();
        let mut line = String::new();
        tokio::io::BufReader::new(&mut server_input)
            .read_line(&mut line)
            .await
            .unwrap();
        assert_eq!(line, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}\n");
        transport.close().await.unwrap();
        assert!(transport.send(ping).await.is_err());
    }
}
