//! Links from a requirement tag to its section of the specification [HP-85]: the chapter that
//! defines the tag's area, at the kit's own release tag, and the tag's anchor (`#tid-4`).

/// The chapter file that defines each area's tags.
pub const AREAS: [(&str, &str); 15] = [
    ("TID", "identifiers.md"),
    ("LOGID", "identifiers.md"),
    ("ADDR", "identifiers.md"),
    ("KEY", "keys.md"),
    ("ENV", "records.md"),
    ("REC", "records.md"),
    ("SEAL", "records.md"),
    ("SIG", "records.md"),
    ("VERIFY", "records.md"),
    ("LOG", "logs.md"),
    ("INV", "invites.md"),
    ("ACL", "acl.md"),
    ("SYNC", "sync.md"),
    ("DB", "database.md"),
    ("HP", "harness-protocol.md"),
];

/// Where the specification this kit tests is published: the repository at the kit's release
/// tag.
pub fn spec_base() -> String {
    format!(
        "{}/blob/v{}/spec/",
        env!("CARGO_PKG_REPOSITORY"),
        env!("CARGO_PKG_VERSION")
    )
}

/// The chapter file defining `tag` (`TID-4` → `identifiers.md`), if its area is known.
pub fn chapter(tag: &str) -> Option<&'static str> {
    let (area, number) = tag.split_once('-')?;
    if number.is_empty() || !number.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    AREAS
        .iter()
        .find(|(a, _)| *a == area)
        .map(|(_, file)| *file)
}

/// The link to `tag`'s section: the chapter at the kit's release, and the tag's anchor; the
/// specification's index for a tag of an unknown area.
pub fn spec_url(tag: &str) -> String {
    match chapter(tag) {
        Some(file) => format!("{}{file}#{}", spec_base(), tag.to_ascii_lowercase()),
        None => format!("{}README.md", spec_base()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    /// Every tag the spec defines links to the chapter that defines it, at an anchor that
    /// chapter has: a new area or a moved tag fails here, not in a reader's browser.
    #[test]
    fn every_spec_tag_links_to_its_own_anchor() {
        let spec = Path::new(env!("CARGO_MANIFEST_DIR")).join("../spec");
        let tags = threads_vectors::lint::spec_tags(&spec).expect("the spec's tags");
        assert!(tags.len() > 100, "{}", tags.len());
        for (tag, file) in &tags {
            assert_eq!(chapter(tag), Some(file.as_str()), "{tag}");
            let text = std::fs::read_to_string(spec.join(file)).expect("chapter");
            let anchor = format!("<a id=\"{}\"></a>", tag.to_ascii_lowercase());
            assert!(text.contains(&anchor), "{file} has no {anchor}");
        }
    }

    #[test]
    fn links_name_the_release_and_the_anchor() {
        let url = spec_url("TID-4");
        assert!(url.ends_with("/spec/identifiers.md#tid-4"), "{url}");
        assert!(url.contains(&format!("/blob/v{}/", env!("CARGO_PKG_VERSION"))));
        assert!(spec_url("NOPE-1").ends_with("/spec/README.md"));
        assert_eq!(chapter("TID-x"), None);
    }
}
