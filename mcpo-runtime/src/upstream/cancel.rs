//! A request sent upstream whose caller went away: `notifications/cancelled`
//! tells the upstream to stop working on it (MCP cancellation).

/// Sends `notifications/cancelled` for the request it holds when dropped
/// still holding it; a request that got its answer is taken out first.
pub struct CancelOnDrop(pub Option<(rmcp::Peer<rmcp::RoleClient>, rmcp::model::RequestId)>);
impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        if let Some((peer, id)) = self.0.take()
            && let Ok(runtime) = tokio::runtime::Handle::try_current()
        {
            runtime.spawn(async move {
                let cancelled = rmcp::model::CancelledNotificationParam::new(
                    Some(id),
                    Some("the caller cancelled the call".into()),
                );
                let _ = peer.notify_cancelled(cancelled).await;
            });
        }
    }
}
