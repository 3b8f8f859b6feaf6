//! Demo accounts for trying Clinicall on one machine.

use crate::error::ApiError;
use crate::state::AppState;
use crate::util::now_ms;
use clinicall_protocol::appointments::{ProfileDetails, ScheduleBlock, Weekday};
use clinicall_protocol::rest::NewUser;
use clinicall_protocol::{ErrorCode, Role};

/// One demo account.
#[derive(Debug, Clone)]
pub struct DemoAccount {
    /// Role.
    pub role: Role,
    /// Login email.
    pub email: &'static str,
    /// Password (public: demo only).
    pub password: &'static str,
    /// Display name.
    pub display_name: &'static str,
}

/// The demo accounts.
pub const DEMO_ACCOUNTS: [DemoAccount; 3] = [
    DemoAccount {
        role: Role::Doctor,
        email: "doctor@demo.clinicall",
        password: "demo-doctor-1",
        display_name: "Dr. Ada Lovelace",
    },
    DemoAccount {
        role: Role::Patient,
        email: "patient@demo.clinicall",
        password: "demo-patient-1",
        display_name: "Pat Patient",
    },
    DemoAccount {
        role: Role::Admin,
        email: "admin@demo.clinicall",
        password: "demo-admin-1",
        display_name: "Demo Admin",
    },
];

/// The demo doctor's profile: seen around the clock, every 30 minutes, in
/// UTC, so a demo (and a test against a demo server) always finds free
/// slots whatever the time of day.
pub fn demo_doctor_profile() -> ProfileDetails {
    let schedule = Weekday::ALL
        .into_iter()
        .map(|day| ScheduleBlock {
            day,
            start: "00:00".into(),
            end: "24:00".into(),
        })
        .collect();
    ProfileDetails {
        specialization: "General practice".into(),
        qualification: "MBBS, MRCGP".into(),
        years_of_experience: 12,
        bio: "Demo doctor: sees adults and children for video consultations \
              around the clock."
            .into(),
        time_zone: "UTC".into(),
        slot_minutes: 30,
        schedule,
    }
}

/// Creates the demo accounts that are missing, makes the demo doctor the
/// demo patient's doctor, and gives the demo doctor a profile
/// ([`demo_doctor_profile`]) unless one was written already.
pub async fn ensure_demo_accounts(state: &AppState) -> Result<(), ApiError> {
    for demo in &DEMO_ACCOUNTS {
        let new = NewUser {
            email: demo.email.into(),
            password: demo.password.into(),
            display_name: demo.display_name.into(),
            role: None,
        };
        match state.auth.create_account(new, demo.role).await {
            Ok(_) => {}
            Err(e) if e.code == ErrorCode::EmailTaken => {}
            Err(e) => return Err(e),
        }
    }
    let doctor = state
        .store
        .credentials_by_email(DEMO_ACCOUNTS[0].email)
        .await?;
    let patient = state
        .store
        .credentials_by_email(DEMO_ACCOUNTS[1].email)
        .await?;
    if let Some(doctor) = &doctor {
        let id = doctor.account.id;
        // A profile the doctor wrote (edited in the app) is theirs to keep.
        let written = state
            .store
            .doctor_profile(id)
            .await?
            .is_some_and(|p| p.updated_at_ms.is_some());
        if !written {
            state
                .store
                .put_doctor_profile(id, demo_doctor_profile(), now_ms())
                .await?;
        }
    }
    if let (Some(doctor), Some(patient)) = (doctor, patient) {
        state
            .store
            .add_care_relation(doctor.account.id, patient.account.id, now_ms())
            .await?;
    }
    Ok(())
}

/// The banner printed by `serve --demo`.
pub fn banner(addr: std::net::SocketAddr) -> String {
    let mut out = String::new();
    out.push_str("\n  Clinicall signaling server is running (demo mode)\n\n");
    out.push_str(&format!("  REST      http://{addr}/api/v1/\n"));
    out.push_str(&format!("  WebSocket ws://{addr}/api/v1/ws\n"));
    out.push_str(&format!(
        "  Health    http://{addr}/healthz   Metrics http://{addr}/metrics\n\n"
    ));
    out.push_str("  Demo accounts:\n");
    for demo in &DEMO_ACCOUNTS {
        out.push_str(&format!(
            "    {:<8} {:<24} password {}\n",
            demo.role.as_str(),
            demo.email,
            demo.password
        ));
    }
    out.push_str(&format!(
        "\n  Try:  curl -s -X POST http://{addr}/api/v1/auth/login \\\n          -H 'content-type: application/json' \\\n          -d '{{\"email\":\"{}\",\"password\":\"{}\"}}'\n",
        DEMO_ACCOUNTS[0].email, DEMO_ACCOUNTS[0].password
    ));
    out.push_str("  then open the WebSocket with header 'Authorization: Bearer <access_token>'\n");
    out.push_str("  and send {\"type\":\"hello\",\"min_version\":1,\"max_version\":1}. See docs/protocol.md.\n\n");
    out.push_str("  Press Ctrl-C to stop.\n");
    out
}
