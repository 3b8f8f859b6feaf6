//! One call's WebRTC session: a tokio task that owns the peer connection
//! and its sockets and moves everything between them.
//!
//! The peer connection is sans-IO: it never reads a socket, sleeps or
//! sends by itself. After every input (a datagram, a timeout, a signal,
//! a media frame) the loop drains all it produced (`flush`): packets go
//! out at once, events and received media are handled at once. That is
//! what keeps a handshake step from waiting for a timer tick.

use super::MediaIo;
use super::MediaSettings;
use super::assembler::{Assembled, FrameAssembler};
use super::gather::{Gathered, Gatherer, Resolved};
use super::net::{self, DATAGRAM_CAPACITY, Datagram, HostSocket};
use super::peer::{self, Senders};
use super::pipeline::{DecoderNews, KeyframeRequests, Outgoing, Pipeline};
use super::stats::{PipelineCounters, RateTracker, TransportFigures};
use crate::call::MediaRole;
use crate::driver::MediaEventSink;
use bytes::Bytes;
use clinicall_protocol::{CallId, IceServer, Signal};
use rtc::media_stream::MediaStreamTrackId;
use rtc::peer_connection::RTCPeerConnection;
use rtc::peer_connection::certificate::RTCCertificate;
use rtc::peer_connection::event::{RTCPeerConnectionEvent, RTCTrackEvent};
use rtc::peer_connection::message::{RTCMessage, TaggedRTCMessage};
use rtc::peer_connection::sdp::RTCSessionDescription;
use rtc::peer_connection::state::{RTCIceConnectionState, RTCPeerConnectionState};
use rtc::peer_connection::transport::RTCIceCandidateInit;
use rtc::rtcp::payload_feedbacks::picture_loss_indication::PictureLossIndication;
use rtc::rtp::packetizer::{Packetizer, new_packetizer};
use rtc::rtp::sequence::new_random_sequencer;
use rtc::rtp_transceiver::RTCRtpReceiverId;
use rtc::rtp_transceiver::rtp_sender::RtpCodecKind;
use rtc::sansio::Protocol;
use rtc::shared::{TaggedBytesMut, TransportContext, TransportProtocol};
use rtc::statistics::StatsSelector;
use rtc::statistics::report::{RTCStatsReport, RTCStatsReportEntry};
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;
use tokio::sync::mpsc;

/// RTP payload size limit (leaves room for SRTP, UDP, IP and a VPN).
const RTP_MTU: usize = 1200;
/// Remote candidates kept while no remote description is set yet.
const MAX_PENDING_CANDIDATES: usize = 64;
/// Concealed audio frames generated for one gap at most.
const MAX_CONCEALED: u16 = 5;

/// What the engine asks of a running session.
#[derive(Debug)]
pub(crate) enum SessionCommand {
    /// SDP or a candidate from the other party.
    Signal(Signal),
    /// Restart ICE (the offerer sends the offer; the answerer waits).
    RestartIce,
    /// Close every socket and bind new ones, as after a network change.
    Rebind,
    /// Send a keyframe next, and ask the other party for one: a display
    /// that just attached must start decoding somewhere.
    RefreshVideo,
}

/// Everything a session starts from.
pub(crate) struct SessionParams {
    pub(crate) call_id: CallId,
    pub(crate) role: MediaRole,
    pub(crate) settings: Arc<MediaSettings>,
    pub(crate) ice_servers: Vec<IceServer>,
    pub(crate) certificate: Option<RTCCertificate>,
    pub(crate) io: Arc<dyn MediaIo>,
    pub(crate) events: MediaEventSink,
}

/// One outgoing stream's packetizer, made once the codec is negotiated.
struct Outbound {
    packetizer: Box<dyn Packetizer>,
}

impl std::fmt::Debug for Outbound {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Outbound")
    }
}

/// Runs a session until `commands` closes (the engine's `stop`).
pub(crate) async fn run(params: SessionParams, commands: mpsc::UnboundedReceiver<SessionCommand>) {
    let call_id = params.call_id;
    let events = params.events.clone();
    match Session::start(params).await {
        Ok((session, channels)) => session.run(commands, channels).await,
        Err(e) => {
            tracing::error!(%call_id, error = %e, "could not start the media session");
            events.failed();
        }
    }
}

/// The receiving ends the loop selects over.
struct Channels {
    datagrams: mpsc::Receiver<Datagram>,
    outgoing: mpsc::Receiver<Outgoing>,
    decoder_news: mpsc::UnboundedReceiver<DecoderNews>,
    /// STUN/TURN server names looked up.
    resolved: mpsc::UnboundedReceiver<Resolved>,
}

struct Session {
    call_id: CallId,
    role: MediaRole,
    settings: Arc<MediaSettings>,
    pc: RTCPeerConnection,
    events: MediaEventSink,
    addresses: Vec<IpAddr>,
    sockets: Vec<HostSocket>,
    datagram_tx: mpsc::Sender<Datagram>,
    /// Server-reflexive and relay candidates, and the relays' traffic.
    gatherer: Gatherer,
    /// Our description for the current ICE round is out: candidates go
    /// to the peer as they are found (before, they wait for it).
    candidates_open: bool,
    /// End-of-candidates was signalled for the current ICE round.
    candidates_ended: bool,
    pipeline: Pipeline,
    video_decode: mpsc::Sender<Vec<u8>>,
    audio_decode: mpsc::Sender<Option<Vec<u8>>>,
    counters: Arc<PipelineCounters>,
    rates: RateTracker,

    senders: Option<Senders>,
    video_out: Option<Outbound>,
    audio_out: Option<Outbound>,
    /// No frame goes out before the first keyframe (the receiver could
    /// not decode it).
    keyframe_sent: bool,

    /// The remote description is set (candidates can be added).
    remote_described: bool,
    /// An offer of ours awaits its answer; candidates wait with it.
    awaiting_answer: bool,
    pending_candidates: Vec<RTCIceCandidateInit>,

    /// DTLS finished once: media may flow.
    established: bool,
    /// An ICE restart is under way; its success is reported as such.
    restarting: bool,
    ice_connected: bool,

    track_kinds: HashMap<MediaStreamTrackId, RtpCodecKind>,
    remote_video: Option<(RTCRtpReceiverId, u32)>,
    assembler: FrameAssembler,
    audio_expected_seq: Option<u16>,
    audio_lost: u64,
    keyframe_requests: KeyframeRequests,
    /// The peer sent RTCP BYE (reported once).
    peer_left: bool,
}

impl Session {
    async fn start(
        params: SessionParams,
    ) -> Result<(Session, Channels), rtc::shared::error::Error> {
        let SessionParams {
            call_id,
            role,
            settings,
            ice_servers,
            certificate,
            io,
            events,
        } = params;
        let addresses = net::host_addresses(&settings.bind);
        let loopback = addresses.iter().any(IpAddr::is_loopback);
        let (gatherer, resolved) = Gatherer::new(&ice_servers, settings.relay_only);
        if settings.relay_only && !gatherer.has_turn() {
            return Err(rtc::shared::error::Error::Other(
                "relay-only media needs a TURN server (a turn: URL over UDP with credentials), \
                 and the signaling server sent none"
                    .into(),
            ));
        }
        let pc = peer::build(&settings, &ice_servers, certificate.as_ref(), loopback)?;

        let (datagram_tx, datagrams) = mpsc::channel(DATAGRAM_CAPACITY);
        let sockets = net::bind_all(&addresses, &datagram_tx).await;
        if sockets.is_empty() {
            return Err(rtc::shared::error::Error::Other(
                "no local address could be bound for media".into(),
            ));
        }

        let counters = Arc::new(PipelineCounters::default());
        let mut pipeline = Pipeline::default();
        let (news_tx, decoder_news) = mpsc::unbounded_channel();
        let (video_decode, audio_decode) =
            pipeline.start_receivers(call_id, &io, &counters, news_tx);
        let outgoing = pipeline.start_senders(call_id, &io, &settings, &counters);

        let mut session = Session {
            call_id,
            role,
            settings,
            pc,
            events,
            addresses,
            sockets,
            datagram_tx,
            gatherer,
            candidates_open: false,
            candidates_ended: false,
            pipeline,
            video_decode,
            audio_decode,
            counters,
            rates: RateTracker::new(Instant::now()),
            senders: None,
            video_out: None,
            audio_out: None,
            keyframe_sent: false,
            remote_described: false,
            awaiting_answer: false,
            pending_candidates: Vec::new(),
            established: false,
            restarting: false,
            ice_connected: false,
            track_kinds: HashMap::new(),
            remote_video: None,
            assembler: FrameAssembler::new(),
            audio_expected_seq: None,
            audio_lost: 0,
            keyframe_requests: KeyframeRequests::default(),
            peer_left: false,
        };
        if session.role == MediaRole::Offerer {
            session.senders = Some(peer::add_tracks(&mut session.pc)?);
            let offer = session.pc.create_offer(None)?;
            session
                .pc
                .set_local_description(Instant::now(), offer.clone())?;
            session.awaiting_answer = true;
            session.events.send_signal(Signal::Offer {
                sdp: offer.sdp,
                ice_restart: false,
            });
            session.announce_candidates();
        }
        // After the offer: gathering only queues requests here; they
        // leave at the loop's first flush and the answers trickle in.
        let hosts = session.host_addresses();
        session.gatherer.start(Instant::now(), &hosts);
        let channels = Channels {
            datagrams,
            outgoing,
            decoder_news,
            resolved,
        };
        Ok((session, channels))
    }

    async fn run(
        mut self,
        mut commands: mpsc::UnboundedReceiver<SessionCommand>,
        mut ch: Channels,
    ) {
        let mut stats_tick = tokio::time::interval(self.settings.stats_interval);
        stats_tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        stats_tick.tick().await; // the first tick is immediate
        loop {
            self.flush();
            let deadline = match (self.pc.poll_timeout(), self.gatherer.poll_timeout()) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
            tokio::select! {
                biased;
                command = commands.recv() => match command {
                    Some(command) => self.on_command(command).await,
                    None => break,
                },
                Some(datagram) = ch.datagrams.recv() => {
                    self.on_datagram(datagram);
                    // Take whatever else already arrived before flushing.
                    while let Ok(datagram) = ch.datagrams.try_recv() {
                        self.on_datagram(datagram);
                    }
                }
                Some(frame) = ch.outgoing.recv() => self.send_media(frame),
                Some(news) = ch.decoder_news.recv() => match news {
                    DecoderNews::VideoCorrupt => {
                        self.assembler.require_keyframe();
                        self.request_keyframe(Instant::now());
                    }
                },
                Some(resolved) = ch.resolved.recv() => {
                    self.gatherer.on_resolved(Instant::now(), resolved);
                }
                () = sleep_until(deadline) => {
                    let now = Instant::now();
                    // Each compares `now` with its own deadlines.
                    if let Err(e) = self.pc.handle_timeout(now) {
                        tracing::debug!(call_id = %self.call_id, error = %e, "peer connection timeout");
                    }
                    self.gatherer.handle_timeout(now);
                }
                _ = stats_tick.tick() => self.report_stats(),
            }
        }
        self.close(ch).await;
    }

    /// Sends every packet the peer connection produced, handles its events
    /// and the media it received.
    fn flush(&mut self) {
        // A state change inside the stack (ICE connected, so DTLS starts)
        // queues the next step's packets where `poll_write` does not see
        // them until the stack's next timeout: left alone, that timer tick
        // is ~200 ms away, and the handshake would stall there at every
        // step. Giving the stack its timeout right after any event moves
        // them out now (the stack compares `now` with its own deadlines,
        // so an early call fires nothing that is not due).
        for _ in 0..4 {
            if !self.flush_once() {
                break;
            }
            if let Err(e) = self.pc.handle_timeout(Instant::now()) {
                tracing::debug!(call_id = %self.call_id, error = %e, "peer connection timeout");
            }
        }
    }

    /// One round of draining; whether the stack reported any event (or
    /// gathering had news).
    fn flush_once(&mut self) -> bool {
        // Relayed data first, so that what the stack answers leaves in
        // this round.
        let mut evented = self.take_gathered();
        while let Some(packet) = self.pc.poll_write() {
            let (local, peer) = (packet.transport.local_addr, packet.transport.peer_addr);
            if !self.send_from(local, &packet.message, peer)
                && !self
                    .gatherer
                    .relay_send(packet.now, local, peer, packet.message)
            {
                // Written for a socket or relay we closed (rebind): it goes
                // nowhere, as it would on a network that went away.
                tracing::trace!(%local, "nothing to send from");
            }
        }
        self.send_gathering();
        while let Some(event) = self.pc.poll_event() {
            evented = true;
            self.on_event(event);
        }
        while let Some(TaggedRTCMessage { now, message }) = self.pc.poll_read() {
            self.on_message(now, message);
        }
        evented
    }

    /// Sends `data` from our socket bound to `local`; `false` if there is
    /// none.
    fn send_from(&self, local: SocketAddr, data: &[u8], to: SocketAddr) -> bool {
        let Some(socket) = self.sockets.iter().find(|s| s.local == local) else {
            return false;
        };
        if let Err(e) = socket.socket.try_send_to(data, to) {
            tracing::trace!(error = %e, "media send failed");
        }
        true
    }

    /// Sends what gathering (STUN requests, TURN traffic) wants sent.
    fn send_gathering(&mut self) {
        while let Some(transmit) = self.gatherer.poll_transmit() {
            self.send_from(transmit.local, &transmit.data, transmit.to);
        }
    }

    /// Handles what gathering found or received; whether there was any.
    fn take_gathered(&mut self) -> bool {
        let mut any = false;
        while let Some(news) = self.gatherer.poll() {
            any = true;
            match news {
                Gathered::Candidate(init) if self.candidates_open => self.announce(init),
                // Announced with the rest once our description is out.
                Gathered::Candidate(_) => {}
                Gathered::Relayed {
                    relayed,
                    from,
                    data,
                } => self.read(relayed, from, Instant::now(), data),
                Gathered::Complete if self.candidates_open => self.end_candidates(),
                Gathered::Complete => {}
            }
        }
        any
    }

    fn on_datagram(&mut self, datagram: Datagram) {
        let Some(datagram) = self.gatherer.intercept(datagram.at, datagram) else {
            // A STUN answer, or the TURN server's: what it carried (data
            // relayed from the peer) goes in now, in arrival order.
            self.take_gathered();
            return;
        };
        self.read(datagram.local, datagram.peer, datagram.at, datagram.data);
    }

    /// Gives the peer connection a datagram that reached our address
    /// `local` (a socket's, or a relayed one) from `peer`.
    fn read(&mut self, local: SocketAddr, peer: SocketAddr, at: Instant, data: bytes::BytesMut) {
        let result = self.pc.handle_read(TaggedBytesMut {
            now: at,
            transport: TransportContext {
                local_addr: local,
                peer_addr: peer,
                ecn: None,
                transport_protocol: TransportProtocol::UDP,
            },
            message: data,
        });
        if let Err(e) = result {
            tracing::trace!(call_id = %self.call_id, error = %e, "dropped a datagram");
        }
    }

    fn on_event(&mut self, event: RTCPeerConnectionEvent) {
        match event {
            RTCPeerConnectionEvent::OnConnectionStateChangeEvent(state) => {
                tracing::debug!(call_id = %self.call_id, %state, "peer connection state");
                if state == RTCPeerConnectionState::Connected && !self.established {
                    self.established = true;
                    self.ice_connected = true;
                    self.on_established();
                    self.events.connected();
                }
            }
            RTCPeerConnectionEvent::OnIceConnectionStateChangeEvent(state) => {
                tracing::debug!(call_id = %self.call_id, %state, "ICE state");
                match state {
                    RTCIceConnectionState::Connected | RTCIceConnectionState::Completed
                        if self.established && !self.ice_connected =>
                    {
                        // The path is back (by itself, or by a restart).
                        self.ice_connected = true;
                        if std::mem::take(&mut self.restarting) {
                            self.events.ice_restart_completed();
                        } else {
                            self.events.connected();
                        }
                        // Frames may have been lost while down.
                        self.pipeline.keyframe_wanted.store(true, Ordering::Relaxed);
                    }
                    RTCIceConnectionState::Disconnected => {
                        self.ice_connected = false;
                        self.events.disconnected();
                    }
                    RTCIceConnectionState::Failed => {
                        self.ice_connected = false;
                        self.events.failed();
                    }
                    _ => {}
                }
            }
            RTCPeerConnectionEvent::OnTrack(RTCTrackEvent::OnOpen(init)) => {
                let kind = self
                    .pc
                    .rtp_receiver(init.receiver_id)
                    .map(|receiver| receiver.track().kind());
                if let Some(kind) = kind {
                    if kind == RtpCodecKind::Video {
                        self.remote_video = Some((init.receiver_id, init.ssrc));
                    }
                    self.track_kinds.insert(init.track_id, kind);
                }
            }
            other => {
                tracing::trace!(call_id = %self.call_id, event = ?other, "peer connection event")
            }
        }
    }

    /// DTLS is up: make the packetizers for the negotiated codecs and
    /// start with a keyframe.
    fn on_established(&mut self) {
        let Some(senders) = self.senders else { return };
        let now = Instant::now();
        for (id, slot) in [
            (senders.video, &mut self.video_out),
            (senders.audio, &mut self.audio_out),
        ] {
            match peer::sender_stamp(&mut self.pc, id) {
                Ok((payload_type, ssrc, clock_rate, payloader)) => {
                    *slot = Some(Outbound {
                        packetizer: Box::new(new_packetizer(
                            now,
                            RTP_MTU,
                            payload_type,
                            ssrc,
                            payloader,
                            Box::new(new_random_sequencer()),
                            clock_rate,
                        )),
                    });
                }
                Err(e) => {
                    tracing::error!(call_id = %self.call_id, error = %e, "no negotiated codec")
                }
            }
        }
        self.pipeline.keyframe_wanted.store(true, Ordering::Relaxed);
    }

    fn on_message(&mut self, now: Instant, message: RTCMessage) {
        match message {
            RTCMessage::RtpPacket(track_id, packet) => {
                let kind = self.track_kinds.get(&track_id).copied();
                match kind {
                    Some(RtpCodecKind::Video) => self.on_video_packet(now, packet),
                    Some(RtpCodecKind::Audio) => self.on_audio_packet(packet),
                    _ => tracing::trace!("RTP for an unknown track"),
                }
            }
            RTCMessage::RtcpPacket(_, packets) => {
                if packets
                    .iter()
                    .any(|p| peer::is_keyframe_request(p.as_ref()))
                {
                    PipelineCounters::add(&self.counters.keyframe_requests_received, 1);
                    self.pipeline.keyframe_wanted.store(true, Ordering::Relaxed);
                }
                if packets.iter().any(|p| peer::is_goodbye(p.as_ref())) && !self.peer_left {
                    self.peer_left = true;
                    self.events.peer_hung_up();
                }
            }
            _ => {}
        }
    }

    fn on_video_packet(&mut self, now: Instant, packet: rtc::rtp::Packet) {
        PipelineCounters::add(&self.counters.packets_received, 1);
        PipelineCounters::add(
            &self.counters.video_bytes_received,
            packet.payload.len() as u64,
        );
        let lost_before = self.assembler.lost();
        let out = self.assembler.push(
            packet.header.sequence_number,
            packet.header.marker,
            &packet.payload,
        );
        PipelineCounters::add(
            &self.counters.packets_lost,
            self.assembler.lost() - lost_before,
        );
        match out {
            Assembled::Pending => {}
            Assembled::Frame { data, .. } => {
                if self.video_decode.try_send(data).is_err() {
                    // The decoder is behind; the next frames refer to this one.
                    self.assembler.require_keyframe();
                    self.request_keyframe(now);
                }
            }
            Assembled::NeedKeyframe => self.request_keyframe(now),
        }
    }

    fn on_audio_packet(&mut self, packet: rtc::rtp::Packet) {
        PipelineCounters::add(&self.counters.packets_received, 1);
        PipelineCounters::add(
            &self.counters.audio_bytes_received,
            packet.payload.len() as u64,
        );
        let seq = packet.header.sequence_number;
        if let Some(expected) = self.audio_expected_seq {
            let ahead = seq.wrapping_sub(expected);
            if ahead >= 0x8000 {
                return; // late or duplicate
            }
            if ahead > 0 {
                self.audio_lost += u64::from(ahead);
                PipelineCounters::add(&self.counters.packets_lost, u64::from(ahead));
                for _ in 0..ahead.min(MAX_CONCEALED) {
                    let _ = self.audio_decode.try_send(None);
                }
            }
        }
        self.audio_expected_seq = Some(seq.wrapping_add(1));
        let _ = self.audio_decode.try_send(Some(packet.payload.to_vec()));
    }

    fn request_keyframe(&mut self, now: Instant) {
        let Some((receiver_id, media_ssrc)) = self.remote_video else {
            return;
        };
        if !self.keyframe_requests.allow(now) {
            return;
        }
        let Some(mut receiver) = self.pc.rtp_receiver(receiver_id) else {
            return;
        };
        let pli = PictureLossIndication {
            sender_ssrc: 0,
            media_ssrc,
        };
        match receiver.write_rtcp(now, vec![Box::new(pli)]) {
            Ok(()) => PipelineCounters::add(&self.counters.keyframe_requests_sent, 1),
            Err(e) => tracing::debug!(error = %e, "could not send a keyframe request"),
        }
    }

    fn send_media(&mut self, frame: Outgoing) {
        if !self.established || !self.ice_connected {
            return; // nowhere to send yet (or the path is down)
        }
        let Some(senders) = self.senders else { return };
        let now = Instant::now();
        let (id, out, payload, ticks, counter) = match frame {
            Outgoing::Video {
                data,
                keyframe,
                ticks,
            } => {
                if !keyframe && !self.keyframe_sent {
                    self.pipeline.keyframe_wanted.store(true, Ordering::Relaxed);
                    return;
                }
                self.keyframe_sent = true;
                (
                    senders.video,
                    &mut self.video_out,
                    data,
                    ticks,
                    &self.counters.video_bytes_sent,
                )
            }
            Outgoing::Audio { data } => (
                senders.audio,
                &mut self.audio_out,
                data,
                960,
                &self.counters.audio_bytes_sent,
            ),
        };
        let Some(out) = out else { return };
        PipelineCounters::add(counter, payload.len() as u64);
        let packets = match out.packetizer.packetize(now, &Bytes::from(payload), ticks) {
            Ok(packets) => packets,
            Err(e) => {
                tracing::warn!(error = %e, "could not packetize a frame");
                return;
            }
        };
        let Some(mut sender) = self.pc.rtp_sender(id) else {
            return;
        };
        for packet in packets {
            if let Err(e) = sender.write_rtp(now, packet) {
                tracing::debug!(error = %e, "could not send RTP");
                return;
            }
        }
    }

    async fn on_command(&mut self, command: SessionCommand) {
        let result = match command {
            SessionCommand::Signal(signal) => self.on_signal(signal),
            SessionCommand::RestartIce => self.restart_ice(),
            SessionCommand::RefreshVideo => {
                self.pipeline.keyframe_wanted.store(true, Ordering::Relaxed);
                self.request_keyframe(Instant::now());
                Ok(())
            }
            SessionCommand::Rebind => {
                tracing::info!(call_id = %self.call_id, "rebinding media sockets");
                // Relays live on the old sockets: release them while the
                // sockets still can, and gather again on the new ones.
                for transmit in self.gatherer.release(Instant::now()) {
                    self.send_from(transmit.local, &transmit.data, transmit.to);
                }
                self.sockets.clear();
                self.sockets = net::bind_all(&self.addresses, &self.datagram_tx).await;
                // Like the new host candidates, what is gathered now waits
                // for the ICE restart's description.
                self.candidates_open = false;
                let hosts = self.host_addresses();
                self.gatherer.start(Instant::now(), &hosts);
                Ok(())
            }
        };
        if let Err(e) = result {
            tracing::warn!(call_id = %self.call_id, error = %e, "media negotiation step failed");
        }
    }

    fn on_signal(&mut self, signal: Signal) -> Result<(), rtc::shared::error::Error> {
        let now = Instant::now();
        match signal {
            Signal::Offer { sdp, ice_restart } => {
                if self.role == MediaRole::Offerer {
                    tracing::warn!(call_id = %self.call_id, "ignoring an offer: we are the offerer");
                    return Ok(());
                }
                let first = !self.remote_described;
                self.pc
                    .set_remote_description(now, RTCSessionDescription::offer(sdp)?)?;
                self.remote_described = true;
                if self.senders.is_none() {
                    self.senders = Some(peer::add_tracks(&mut self.pc)?);
                }
                let answer = self.pc.create_answer(None)?;
                self.pc.set_local_description(now, answer.clone())?;
                self.events.send_signal(Signal::Answer { sdp: answer.sdp });
                if ice_restart {
                    // Reported as a restart when ICE next reconnects. Media
                    // keeps flowing meanwhile if this side's path still
                    // works (only ICE events say it does not).
                    self.restarting = true;
                }
                if first || ice_restart {
                    self.announce_candidates();
                }
                self.add_pending_candidates();
            }
            Signal::Answer { sdp } => {
                if !self.awaiting_answer {
                    tracing::warn!(call_id = %self.call_id, "ignoring an unexpected answer");
                    return Ok(());
                }
                self.pc
                    .set_remote_description(now, RTCSessionDescription::answer(sdp)?)?;
                self.remote_described = true;
                self.awaiting_answer = false;
                self.add_pending_candidates();
            }
            Signal::Candidate {
                candidate,
                sdp_mid,
                sdp_mline_index,
                username_fragment,
            } => {
                let init = RTCIceCandidateInit {
                    candidate,
                    sdp_mid,
                    sdp_mline_index,
                    username_fragment,
                    ..Default::default()
                };
                if self.remote_described && !self.awaiting_answer {
                    self.add_remote_candidate(init);
                } else if self.pending_candidates.len() < MAX_PENDING_CANDIDATES {
                    // Trickled ahead of the description it belongs to.
                    self.pending_candidates.push(init);
                }
            }
            Signal::EndOfCandidates => {}
        }
        Ok(())
    }

    fn add_pending_candidates(&mut self) {
        for init in std::mem::take(&mut self.pending_candidates) {
            self.add_remote_candidate(init);
        }
    }

    fn add_remote_candidate(&mut self, init: RTCIceCandidateInit) {
        if let Err(e) = self.pc.add_remote_candidate(init) {
            tracing::debug!(call_id = %self.call_id, error = %e, "ignored a remote candidate");
        }
    }

    /// Offers our candidates, locally and to the peer: the sockets as host
    /// candidates (unless relay-only) and whatever gathering found so far;
    /// later findings follow as they come.
    fn announce_candidates(&mut self) {
        if !self.settings.relay_only {
            let mut hosts = Vec::new();
            for socket in &self.sockets {
                match socket.candidate() {
                    Ok(init) => hosts.push(init),
                    Err(e) => tracing::warn!(error = %e, "could not describe a local candidate"),
                }
            }
            for init in hosts {
                self.announce(init);
            }
        }
        for init in self.gatherer.candidates().to_vec() {
            self.announce(init);
        }
        self.candidates_open = true;
        self.candidates_ended = false;
        if self.gatherer.is_complete() {
            self.end_candidates();
        }
    }

    /// Adds one local candidate and sends it to the peer.
    fn announce(&mut self, init: RTCIceCandidateInit) {
        if let Err(e) = self.pc.add_local_candidate(init.clone()) {
            tracing::warn!(error = %e, "could not add a local candidate");
            return;
        }
        self.events.send_signal(Signal::Candidate {
            candidate: init.candidate,
            sdp_mid: init.sdp_mid.or(Some("0".to_owned())),
            sdp_mline_index: init.sdp_mline_index.or(Some(0)),
            username_fragment: init.username_fragment,
        });
    }

    /// No more candidates this ICE round (once gathering is complete).
    fn end_candidates(&mut self) {
        if std::mem::replace(&mut self.candidates_ended, true) {
            return;
        }
        let _ = self.pc.add_local_candidate(RTCIceCandidateInit::default());
        self.events.send_signal(Signal::EndOfCandidates);
    }

    fn host_addresses(&self) -> Vec<SocketAddr> {
        self.sockets.iter().map(|s| s.local).collect()
    }

    fn restart_ice(&mut self) -> Result<(), rtc::shared::error::Error> {
        self.restarting = true;
        if self.role != MediaRole::Offerer || !self.remote_described {
            return Ok(()); // the answerer answers the offerer's restart
        }
        tracing::info!(call_id = %self.call_id, "restarting ICE");
        self.pc.restart_ice();
        let offer = self.pc.create_offer(None)?;
        self.pc
            .set_local_description(Instant::now(), offer.clone())?;
        self.awaiting_answer = true;
        self.events.send_signal(Signal::Offer {
            sdp: offer.sdp,
            ice_restart: true,
        });
        self.announce_candidates();
        Ok(())
    }

    /// Sends RTCP BYE for our streams: the hang-up reaches the peer over
    /// the media path even when the server no longer knows the call (it
    /// restarted mid-call), so both ends stop at once instead of waiting
    /// for ICE to time out.
    fn say_goodbye(&mut self) {
        let Some(senders) = self.senders else { return };
        if !self.established {
            return;
        }
        let now = Instant::now();
        let mut sources = Vec::new();
        for id in [senders.video, senders.audio] {
            if let Ok((_, ssrc, _, _)) = peer::sender_stamp(&mut self.pc, id) {
                sources.push(ssrc);
            }
        }
        if let Some(mut sender) = self.pc.rtp_sender(senders.video)
            && let Err(e) = sender.write_rtcp(now, vec![Box::new(peer::goodbye(sources))])
        {
            tracing::debug!(error = %e, "could not send RTCP BYE");
        }
        self.flush();
    }

    fn report_stats(&mut self) {
        let now = Instant::now();
        let report = self.pc.get_stats(now, StatsSelector::None);
        let mut figures = TransportFigures {
            rtt_ms: report
                .candidate_pairs()
                .filter(|pair| pair.nominated && pair.current_round_trip_time > 0.0)
                .map(|pair| round2(pair.current_round_trip_time * 1000.0))
                .next(),
            local_candidate_type: selected_local_candidate_type(&report),
            ..Default::default()
        };
        for inbound in report.inbound_rtp_streams() {
            let received = &inbound.received_rtp_stream_stats;
            // Interarrival jitter comes in RTP timestamp units (RFC 3550).
            let in_ms = |clock_rate: f64| Some(round2(received.jitter * 1000.0 / clock_rate));
            match received.rtp_stream_stats.kind {
                RtpCodecKind::Video => figures.video_jitter_ms = in_ms(90_000.0),
                RtpCodecKind::Audio => figures.audio_jitter_ms = in_ms(48_000.0),
                _ => {}
            }
        }
        let stats = self.rates.snapshot(now, &self.counters, figures);
        self.events.stats(stats);
    }

    async fn close(mut self, ch: Channels) {
        self.say_goodbye();
        if let Err(e) = self.pc.close() {
            tracing::debug!(error = %e, "closing the peer connection");
        }
        self.flush(); // DTLS close_notify, so the peer does not wait for a timeout
        // Frees the TURN server's ports now rather than at lifetime's end.
        for transmit in self.gatherer.release(Instant::now()) {
            self.send_from(transmit.local, &transmit.data, transmit.to);
        }
        let Session {
            call_id,
            sockets,
            pipeline,
            video_decode,
            audio_decode,
            ..
        } = self;
        drop(sockets);
        // Closed channels end the decode threads; the stop flag ends the
        // senders within a frame time.
        drop((video_decode, audio_decode, ch));
        pipeline.finish().await;
        tracing::debug!(%call_id, "media session closed");
    }
}

/// The type (`host`, `srflx`, `prflx`, `relay`) of our side of the
/// selected candidate pair: whether the call goes through a relay.
fn selected_local_candidate_type(report: &RTCStatsReport) -> Option<String> {
    let selected = report
        .transport()
        .map(|t| t.selected_candidate_pair_id.as_str())
        .filter(|id| !id.is_empty());
    let pair = report
        .candidate_pairs()
        .find(|pair| Some(pair.stats.id.as_str()) == selected)
        .or_else(|| report.candidate_pairs().find(|pair| pair.nominated))?;
    // Pairs name the ICE agent's candidate id; the candidates' own entries
    // carry it with a prefix.
    let prefixed = format!("RTCLocalIceCandidate_{}", pair.local_candidate_id);
    [pair.local_candidate_id.as_str(), prefixed.as_str()]
        .into_iter()
        .find_map(|id| match report.get(id)? {
            RTCStatsReportEntry::LocalCandidate(candidate) => {
                Some(candidate.candidate_type.to_string())
            }
            _ => None,
        })
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline.into()).await,
        None => std::future::pending().await,
    }
}
