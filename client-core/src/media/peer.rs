//! Building a call's peer connection: codecs, interceptors, ICE timing.

use super::MediaSettings;
use clinicall_protocol::IceServer;
use rtc::crypto::SignatureScheme;
use rtc::interceptor::{Attribute, Interceptor, Packet, Registry, Slot, StreamInfo, TaggedPacket};
use rtc::media_stream::MediaStreamTrack;
use rtc::peer_connection::certificate::{CertificateParams, RTCCertificate};
use rtc::peer_connection::configuration::RTCBundlePolicy;
use rtc::peer_connection::configuration::interceptor_registry::register_default_interceptors;
use rtc::peer_connection::configuration::media_engine::{
    MIME_TYPE_OPUS, MIME_TYPE_VP8, MediaEngine,
};
use rtc::peer_connection::configuration::setting_engine::SettingEngineBuilder;
use rtc::peer_connection::configuration::{RTCConfigurationBuilder, RTCIceTransportPolicy};
use rtc::peer_connection::transport::RTCIceServer;
use rtc::peer_connection::{RTCPeerConnection, RTCPeerConnectionBuilder};
use rtc::rtcp::goodbye::Goodbye;
use rtc::rtcp::payload_feedbacks::full_intra_request::FullIntraRequest;
use rtc::rtcp::payload_feedbacks::picture_loss_indication::PictureLossIndication;
use rtc::rtp::packetizer::Payloader;
use rtc::rtp_transceiver::RTCRtpSenderId;
use rtc::rtp_transceiver::rtp_sender::{
    RTCPFeedback, RTCRtpCodec, RTCRtpCodecParameters, RTCRtpCodingParameters,
    RTCRtpEncodingParameters, RtpCodecKind,
};
use rtc::sansio::Protocol;
use rtc::shared::error::{Error, Result};
use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// How often ICE checks candidate pairs while connecting.
const ICE_CHECK_INTERVAL: Duration = Duration::from_millis(10);

/// Payload types we offer (the answerer's are taken from the offer).
const VP8_PAYLOAD_TYPE: u8 = 96;
const OPUS_PAYLOAD_TYPE: u8 = 111;

fn vp8() -> RTCRtpCodec {
    let feedback = |typ: &str, parameter: &str| RTCPFeedback {
        typ: typ.to_owned(),
        parameter: parameter.to_owned(),
    };
    RTCRtpCodec {
        mime_type: MIME_TYPE_VP8.to_owned(),
        clock_rate: 90_000,
        channels: 0,
        sdp_fmtp_line: String::new(),
        rtcp_feedback: vec![
            feedback("nack", ""),
            feedback("nack", "pli"),
            feedback("ccm", "fir"),
        ],
    }
}

fn opus() -> RTCRtpCodec {
    RTCRtpCodec {
        mime_type: MIME_TYPE_OPUS.to_owned(),
        clock_rate: 48_000,
        channels: 2,
        sdp_fmtp_line: "minptime=10;useinbandfec=1".to_owned(),
        rtcp_feedback: vec![],
    }
}

/// A DTLS certificate for the engine's calls. Making one per call costs
/// tens of milliseconds of call setup (key generation and signing); like a
/// browser per origin, one engine reuses its own.
pub(crate) fn generate_certificate() -> Result<RTCCertificate> {
    let provider = rtc::crypto::default_provider()
        .map_err(|e| Error::Other(format!("no crypto provider: {e}")))?;
    RTCCertificate::generate(
        provider.crypto(),
        SignatureScheme::EcdsaP256Sha256,
        CertificateParams::new(vec!["clinicall".to_owned()])
            .map_err(|e| Error::Other(format!("certificate parameters: {e}")))?,
    )
}

/// A peer connection for one call, VP8 + Opus, bundled on one transport.
pub(crate) fn build(
    settings: &MediaSettings,
    ice_servers: &[IceServer],
    certificate: Option<&RTCCertificate>,
    loopback: bool,
) -> Result<RTCPeerConnection> {
    let mut media_engine = MediaEngine::default();
    media_engine.register_codec(
        RTCRtpCodecParameters {
            rtp_codec: vp8(),
            payload_type: VP8_PAYLOAD_TYPE,
        },
        RtpCodecKind::Video,
    )?;
    media_engine.register_codec(
        RTCRtpCodecParameters {
            rtp_codec: opus(),
            payload_type: OPUS_PAYLOAD_TYPE,
        },
        RtpCodecKind::Audio,
    )?;
    // Keyframe requests are consumed by the interceptor chain unless one
    // marks them for the application; without this a sender never hears
    // that its receiver lost a frame.
    let registry = Registry::new().with(Slot::from(14_000), DeliverKeyframeRequests::default());
    let registry = register_default_interceptors(registry, &mut media_engine)?;

    let setting_engine = SettingEngineBuilder::new()
        // With trickle ICE a check can arrive before its candidate; the
        // default waits a second before accepting such a peer-reflexive
        // pair. Nothing is gained by waiting on a direct path.
        .with_host_acceptance_min_wait(Some(Duration::ZERO))
        .with_prflx_acceptance_min_wait(Some(Duration::ZERO))
        // A relay pair waits 2 s by default, in case a direct one (better)
        // validates meanwhile; relay-only has nothing better to wait for.
        // Otherwise the defaults stay (srflx 0.5 s, relay 2 s): a relayed
        // call costs TURN bandwidth, worth a slower start on hard networks.
        .with_relay_acceptance_min_wait(settings.relay_only.then_some(Duration::ZERO))
        // ICE sends its checks on a timer (200 ms by default), so a pair
        // formed just after a tick waits for the next; checking pairs
        // every 10 ms (for the same 1.6 s in all) makes loopback and LAN
        // connects take a few ms. A handful of STUN packets per pair.
        .with_ice_connection_attempts(Some(ICE_CHECK_INTERVAL), Some(160))
        .with_ice_timeouts(
            Some(settings.ice_disconnected_timeout),
            Some(settings.ice_failed_timeout),
            Some(settings.ice_keepalive_interval),
        )
        // We may rebind sockets before a restart (a changed network), so
        // the old candidates must not survive it; we add fresh ones.
        .with_discard_local_candidates_during_ice_restart(true)
        .with_include_loopback_candidate(loopback)
        .build();

    let mut configuration = RTCConfigurationBuilder::new();
    if let Some(certificate) = certificate {
        configuration = configuration.with_certificates(vec![certificate.clone()]);
    }
    let configuration = configuration
        .with_ice_servers(
            ice_servers
                .iter()
                .map(|server| RTCIceServer {
                    urls: server.urls.clone(),
                    username: server.username.clone().unwrap_or_default(),
                    credential: server.credential.clone().unwrap_or_default(),
                })
                .collect(),
        )
        .with_bundle_policy(RTCBundlePolicy::MaxBundle)
        // The stack then ignores any local candidate but relay ones (we
        // do not offer them either: see the session).
        .with_ice_transport_policy(if settings.relay_only {
            RTCIceTransportPolicy::Relay
        } else {
            RTCIceTransportPolicy::All
        })
        .build();

    RTCPeerConnectionBuilder::new()
        .with_configuration(configuration)
        .with_setting_engine(setting_engine)
        .with_media_engine(media_engine)
        .with_interceptor_registry(registry)
        .build(Instant::now())
}

/// Our two outgoing tracks.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Senders {
    pub(crate) video: RTCRtpSenderId,
    pub(crate) audio: RTCRtpSenderId,
}

/// Adds a video and an audio track (each on its own random SSRC).
pub(crate) fn add_tracks(pc: &mut RTCPeerConnection) -> Result<Senders> {
    let mut add = |kind: RtpCodecKind, codec: RTCRtpCodec| {
        let track = MediaStreamTrack::new(
            "clinicall".to_owned(),
            format!("clinicall-{kind}"),
            format!("clinicall-{kind}"),
            kind,
            vec![RTCRtpEncodingParameters {
                rtp_coding_parameters: RTCRtpCodingParameters {
                    ssrc: Some(rand::random::<u32>()),
                    ..Default::default()
                },
                codec,
                ..Default::default()
            }],
        );
        pc.add_track(track)
    };
    Ok(Senders {
        video: add(RtpCodecKind::Video, vp8())?,
        audio: add(RtpCodecKind::Audio, opus())?,
    })
}

/// The negotiated payload type and SSRC to stamp on a sender's packets.
pub(crate) fn sender_stamp(
    pc: &mut RTCPeerConnection,
    id: RTCRtpSenderId,
) -> Result<(u8, u32, u32, Box<dyn Payloader>)> {
    let mut sender = pc.rtp_sender(id).ok_or(Error::ErrRTPSenderNotExisted)?;
    let ssrc = sender
        .track()
        .ssrcs()
        .last()
        .ok_or(Error::ErrSenderWithNoSSRCs)?;
    let codec = sender
        .get_parameters()
        .rtp_parameters
        .codecs
        .first()
        .cloned()
        .ok_or(Error::ErrRTPTransceiverCodecUnsupported)?;
    let payloader = codec.rtp_codec.payloader()?;
    Ok((
        codec.payload_type,
        ssrc,
        codec.rtp_codec.clock_rate,
        payloader,
    ))
}

/// Whether an RTCP packet asks for a keyframe.
pub(crate) fn is_keyframe_request(packet: &dyn rtc::rtcp::Packet) -> bool {
    packet.as_any().is::<PictureLossIndication>() || packet.as_any().is::<FullIntraRequest>()
}

/// Whether an RTCP packet says the sender is leaving (RTCP BYE): our peer
/// sends one when it hangs up.
pub(crate) fn is_goodbye(packet: &dyn rtc::rtcp::Packet) -> bool {
    packet.as_any().is::<Goodbye>()
}

/// The RTCP BYE we send on hang-up, for the sources we sent.
pub(crate) fn goodbye(sources: Vec<u32>) -> Goodbye {
    Goodbye {
        sources,
        reason: bytes::Bytes::from_static(b"hangup"),
    }
}

/// Marks inbound PLI, FIR and BYE for delivery to the application (see
/// [`build`]); everything else stays with the interceptors.
#[derive(Default)]
struct DeliverKeyframeRequests {
    read_queue: VecDeque<TaggedPacket>,
    write_queue: VecDeque<TaggedPacket>,
}

impl Protocol<TaggedPacket, TaggedPacket, ()> for DeliverKeyframeRequests {
    type Rout = TaggedPacket;
    type Wout = TaggedPacket;
    type Eout = ();
    type Error = Error;
    type Time = Instant;

    fn handle_read(&mut self, mut msg: TaggedPacket) -> Result<()> {
        if let Packet::Rtcp(packets) = &msg.message.packet
            && packets
                .iter()
                .any(|p| is_keyframe_request(p.as_ref()) || is_goodbye(p.as_ref()))
        {
            msg.message.add(Attribute::DeliverToApplication);
        }
        self.read_queue.push_back(msg);
        Ok(())
    }

    fn poll_read(&mut self) -> Option<TaggedPacket> {
        self.read_queue.pop_front()
    }

    fn handle_write(&mut self, msg: TaggedPacket) -> Result<()> {
        self.write_queue.push_back(msg);
        Ok(())
    }

    fn poll_write(&mut self) -> Option<TaggedPacket> {
        self.write_queue.pop_front()
    }

    fn handle_timeout(&mut self, _now: Instant) -> Result<()> {
        Ok(())
    }

    fn poll_timeout(&mut self) -> Option<Instant> {
        None
    }
}

impl Interceptor for DeliverKeyframeRequests {
    fn bind_local_stream(&mut self, _info: &StreamInfo) {}
    fn unbind_local_stream(&mut self, _info: &StreamInfo) {}
    fn bind_remote_stream(&mut self, _info: &StreamInfo) {}
    fn unbind_remote_stream(&mut self, _info: &StreamInfo) {}
}
