//! The call driver against a real server: two signed-in clients, each with
//! a [`CallDriver`] and [`SignalingOnlyMedia`], ringing, answering and
//! ending calls through real sockets.

mod common;

use clinicall_client_core::call::{CallConfig, CallEndReason, CallError, CallEvent, CallState};
use clinicall_client_core::driver::{
    CallDriver, CallHandle, DriverError, DriverEvent, SignalingOnlyMedia,
};
use clinicall_client_core::signaling::SignalingClient;
use clinicall_protocol::rest::Account;
use clinicall_protocol::{CallId, EndReason, UserId};
use common::*;
use tokio::sync::mpsc;

struct Party {
    call: CallHandle,
    events: mpsc::Receiver<DriverEvent>,
}

impl Party {
    /// Signs in, starts signaling and the driver, and waits until the
    /// driver reports the connection and the presence snapshot.
    async fn online(server: &TestServer, account: &Account) -> Party {
        let auth = server.sign_in(account).await;
        let (client, signaling) = SignalingClient::start(server.client_config(), auth).unwrap();
        let (call, events) =
            CallDriver::start(client, signaling, SignalingOnlyMedia, CallConfig::default());
        let mut party = Party { call, events };
        let user = party
            .until(|e| match e {
                DriverEvent::Connected { user, resumed } => Some((user.id, *resumed)),
                _ => None,
            })
            .await;
        assert_eq!(user, (account.id, false));
        party
            .until(|e| matches!(e, DriverEvent::PresenceSnapshot(_)).then_some(()))
            .await;
        party
    }

    /// Skips events until `pick` matches; fails after [`PROMPT`].
    async fn until<T>(&mut self, mut pick: impl FnMut(&DriverEvent) -> Option<T>) -> T {
        let deadline = tokio::time::Instant::now() + PROMPT;
        loop {
            let event = tokio::time::timeout_at(deadline, self.events.recv())
                .await
                .expect("driver event in time")
                .expect("driver event stream open");
            if let Some(found) = pick(&event) {
                return found;
            }
        }
    }

    /// Skips `Connecting` (the callee passes through it twice: its own
    /// accept, then the server's confirmation) and expects `Connected`.
    async fn connected(&mut self, call_id: CallId) {
        loop {
            match self.next_state().await {
                CallState::Connecting { call_id: c, .. } if c == call_id => {}
                state => {
                    assert_eq!(state, CallState::Connected { call_id });
                    return;
                }
            }
        }
    }

    /// The next call state change, skipping other events.
    async fn next_state(&mut self) -> CallState {
        self.until(|e| match e {
            DriverEvent::Call(CallEvent::StateChanged(state)) => Some(state.clone()),
            _ => None,
        })
        .await
    }

    async fn ended(&mut self) -> (Option<CallId>, CallEndReason) {
        match self.next_state().await {
            CallState::Ended { call_id, reason } => (call_id, reason),
            other => panic!("expected the call to end, got {other:?}"),
        }
    }

    /// Shuts down and checks the stream ends with `Closed`.
    async fn shutdown(mut self) {
        self.call.shutdown().await;
        let rest = tokio::time::timeout(PROMPT, async {
            let mut seen = Vec::new();
            while let Some(event) = self.events.recv().await {
                seen.push(event);
            }
            seen
        })
        .await
        .expect("driver stream ends after shutdown");
        assert_eq!(rest.last(), Some(&DriverEvent::Closed), "{rest:?}");
        assert_eq!(self.call.hang_up().await, Err(DriverError::Stopped));
    }
}

/// The patient dials the doctor; returns the call id once the doctor's
/// device rings.
async fn ring(patient: &mut Party, doctor: &mut Party, doctor_id: UserId) -> CallId {
    patient.call.dial(doctor_id, None).await.unwrap();
    assert_eq!(
        patient.next_state().await,
        CallState::OutgoingRinging { call_id: None }
    );
    let call_id = match patient.next_state().await {
        CallState::OutgoingRinging {
            call_id: Some(call_id),
        } => call_id,
        other => panic!("expected the server to name the call, got {other:?}"),
    };
    assert_eq!(
        doctor.next_state().await,
        CallState::IncomingRinging { call_id }
    );
    call_id
}

#[tokio::test]
async fn dial_accept_connect_and_hang_up() {
    let server = TestServer::start().await;
    let (doctor_account, patient_account) = server.pair().await;
    let mut doctor = Party::online(&server, &doctor_account).await;
    let mut patient = Party::online(&server, &patient_account).await;

    // Nothing rings yet: the machine's refusal comes back through the handle.
    assert_eq!(
        doctor.call.accept().await,
        Err(DriverError::Call(CallError::NotRinging))
    );

    let call_id = ring(&mut patient, &mut doctor, doctor_account.id).await;
    doctor.call.accept().await.unwrap();

    // Both go through connecting to connected (signaling-only media reports
    // connected as soon as the machine starts it).
    doctor.connected(call_id).await;
    patient.connected(call_id).await;
    // A second call cannot start while this one is live.
    assert_eq!(
        patient.call.dial(doctor_account.id, None).await,
        Err(DriverError::Call(CallError::Busy))
    );

    doctor.call.hang_up().await.unwrap();
    assert_eq!(
        doctor.ended().await,
        (Some(call_id), CallEndReason::LocalHangUp)
    );
    assert_eq!(
        patient.ended().await,
        (
            Some(call_id),
            CallEndReason::Server {
                reason: EndReason::HungUp,
                by: Some(doctor_account.id),
            }
        )
    );

    doctor.shutdown().await;
    patient.shutdown().await;
}

#[tokio::test]
async fn reject_ends_both_sides() {
    let server = TestServer::start().await;
    let (doctor_account, patient_account) = server.pair().await;
    let mut doctor = Party::online(&server, &doctor_account).await;
    let mut patient = Party::online(&server, &patient_account).await;

    let call_id = ring(&mut patient, &mut doctor, doctor_account.id).await;
    doctor.call.reject().await.unwrap();
    assert_eq!(
        doctor.ended().await,
        (Some(call_id), CallEndReason::LocalReject)
    );
    assert_eq!(
        patient.ended().await,
        (
            Some(call_id),
            CallEndReason::Server {
                reason: EndReason::Rejected,
                by: Some(doctor_account.id),
            }
        )
    );

    doctor.shutdown().await;
    patient.shutdown().await;
}

#[tokio::test]
async fn shutdown_during_a_call_hangs_up_for_the_other_party() {
    let server = TestServer::start().await;
    let (doctor_account, patient_account) = server.pair().await;
    let mut doctor = Party::online(&server, &doctor_account).await;
    let mut patient = Party::online(&server, &patient_account).await;

    let call_id = ring(&mut patient, &mut doctor, doctor_account.id).await;
    doctor.call.accept().await.unwrap();
    doctor.connected(call_id).await;
    patient.connected(call_id).await;

    // The patient's app quits mid-call: the doctor hears `hung_up` at once,
    // not `connection_lost` after the server's resume grace.
    patient.shutdown().await;
    assert_eq!(
        doctor.ended().await,
        (
            Some(call_id),
            CallEndReason::Server {
                reason: EndReason::HungUp,
                by: Some(patient_account.id),
            }
        )
    );
    doctor.shutdown().await;
}
