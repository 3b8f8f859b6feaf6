//! `clinicall://appointment/<uuid>` links. The OS starts the app with the
//! link as a command-line argument (or hands it to the running instance
//! through the single-instance plugin); anything else in the arguments is
//! ignored.
//!
//! The link comes from outside (a web page, an email), so the parser is
//! strict: the scheme and host exactly (scheme and host in any case, as
//! URLs allow), one hyphenated UUID, at most a trailing slash (some
//! launchers add one); no user, port, query, fragment or further path.
//! It names the appointment only: the window still shows it from the
//! cache, and the server decides who may see it.

use clinicall_protocol::AppointmentId;

/// The link's scheme, registered with the OS (`x-scheme-handler/clinicall`).
pub const SCHEME: &str = "clinicall";

/// Longest argument looked at; a link is ~62 bytes.
const MAX_LEN: usize = 128;

/// The appointment a `clinicall://appointment/<uuid>` link names.
pub fn parse(link: &str) -> Option<AppointmentId> {
    if link.len() > MAX_LEN {
        return None;
    }
    let (scheme, rest) = link.split_once("://")?;
    if !scheme.eq_ignore_ascii_case(SCHEME) {
        return None;
    }
    let (host, path) = rest.split_once('/')?;
    if !host.eq_ignore_ascii_case("appointment") {
        return None;
    }
    let id = path.strip_suffix('/').unwrap_or(path);
    // Only the hyphenated form (36 characters): `Uuid` would also take
    // braces, a `urn:uuid:` prefix or no hyphens.
    if id.len() != 36 || !id.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-') {
        return None;
    }
    id.parse().ok()
}

/// The first appointment link among a command line's arguments (the
/// program's own path, first, is skipped).
pub fn from_args<S: AsRef<str>>(args: &[S]) -> Option<AppointmentId> {
    args.iter().skip(1).find_map(|arg| parse(arg.as_ref()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "0f8fad5b-d9cb-469f-a165-70867728950e";

    fn ok(link: &str) -> String {
        parse(link)
            .unwrap_or_else(|| panic!("{link} refused"))
            .to_string()
    }

    #[test]
    fn a_link_names_its_appointment() {
        assert_eq!(ok(&format!("clinicall://appointment/{ID}")), ID);
    }

    #[test]
    fn case_of_scheme_host_and_id_does_not_matter() {
        let upper = ID.to_uppercase();
        assert_eq!(ok(&format!("CliniCall://APPOINTMENT/{upper}")), ID);
    }

    #[test]
    fn a_trailing_slash_is_allowed() {
        assert_eq!(ok(&format!("clinicall://appointment/{ID}/")), ID);
    }

    #[test]
    fn other_schemes_and_hosts_are_refused() {
        for link in [
            format!("https://appointment/{ID}"),
            format!("clinicalls://appointment/{ID}"),
            format!("clinicall:appointment/{ID}"),
            format!("clinicall:/appointment/{ID}"),
            format!("clinicall://call/{ID}"),
            format!("clinicall://appointments/{ID}"),
            format!("clinicall://evil.example/appointment/{ID}"),
            format!("clinicall://user@appointment/{ID}"),
            format!("clinicall://appointment:80/{ID}"),
            format!("clinicall:///{ID}"),
        ] {
            assert_eq!(parse(&link), None, "{link}");
        }
    }

    #[test]
    fn anything_but_one_hyphenated_uuid_is_refused() {
        for link in [
            "clinicall://appointment/".to_owned(),
            "clinicall://appointment".to_owned(),
            "clinicall://appointment/not-a-uuid".to_owned(),
            "clinicall://appointment/0f8fad5bd9cb469fa16570867728950e".to_owned(),
            format!("clinicall://appointment/{{{ID}}}"),
            format!("clinicall://appointment/urn:uuid:{ID}"),
            format!("clinicall://appointment/{}", &ID[..35]),
            format!("clinicall://appointment/{ID}0"),
            format!("clinicall://appointment/{}g", &ID[..35]),
            format!("clinicall://appointment/ {ID}"),
        ] {
            assert_eq!(parse(&link), None, "{link}");
        }
    }

    #[test]
    fn extra_path_query_and_fragment_are_refused() {
        for link in [
            format!("clinicall://appointment/{ID}/notes"),
            format!("clinicall://appointment/{ID}//"),
            format!("clinicall://appointment//{ID}"),
            format!("clinicall://appointment/../{ID}"),
            format!("clinicall://appointment/{ID}?admit=1"),
            format!("clinicall://appointment/{ID}#x"),
            format!("clinicall://appointment/{ID}%00"),
            format!("clinicall://appointment/{ID}\n"),
        ] {
            assert_eq!(parse(&link), None, "{link:?}");
        }
    }

    #[test]
    fn hostile_input_is_refused_without_fuss() {
        let long = format!("clinicall://appointment/{ID}{}", "/".repeat(100_000));
        assert_eq!(parse(&long), None);
        for link in [
            "",
            "://",
            "clinicall://",
            "clinicall:///",
            "\u{0}",
            "é://é/é",
        ] {
            assert_eq!(parse(link), None, "{link:?}");
        }
        // Multi-byte characters where the UUID's 36 bytes go.
        let wide = format!("clinicall://appointment/{}", "é".repeat(18));
        assert_eq!(parse(&wide), None);
    }

    #[test]
    fn the_link_is_found_among_the_arguments() {
        let link = format!("clinicall://appointment/{ID}");
        let args = ["/usr/bin/clinicall", "--automation", link.as_str()];
        assert_eq!(from_args(&args).map(|id| id.to_string()), Some(ID.into()));
        assert_eq!(from_args(&["/usr/bin/clinicall"]), None);
        assert_eq!(from_args::<&str>(&[]), None);
        // The program's own path is never taken for a link.
        assert_eq!(from_args(&[link.as_str()]), None);
    }
}
