//! The window's event channel: the UI hands the shell a
//! `tauri::ipc::Channel` once at start-up (`subscribe`), and every
//! [`UiEvent`] goes through it, in order.

use crate::ui_event::UiEvent;
use std::sync::Mutex;
use tauri::ipc::Channel;

/// Where [`UiEvent`]s go. Events sent before the window subscribed are
/// dropped: the window asks for the current state when it subscribes.
#[derive(Default)]
pub struct EventHub {
    channel: Mutex<Option<Channel<UiEvent>>>,
}

impl EventHub {
    /// Sends events to `channel` from now on.
    pub fn subscribe(&self, channel: Channel<UiEvent>) {
        *self.channel.lock().unwrap_or_else(|p| p.into_inner()) = Some(channel);
    }

    /// Sends one event to the window.
    pub fn send(&self, event: UiEvent) {
        let channel = self
            .channel
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        if let Some(channel) = channel
            && let Err(e) = channel.send(event)
        {
            tracing::debug!(error = %e, "event not delivered to the window");
        }
    }
}
