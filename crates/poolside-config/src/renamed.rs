//! Keys that moved. A section under its old name is still read, with a warning naming
//! the new one; a retired key is not read, and its warning names the key to set
//! instead. Both leave the key table ([`crate::keys`]) as the one list of keys read.

/// Sections read under an old name: (old, new).
const RENAMED_SECTIONS: &[(&str, &str)] = &[
    // The overflow pool was called failover, a word host failover needs.
    ("failover", "overflow"),
];

/// Keys no longer read: (retired key, what to set instead).
const RETIRED_KEYS: &[(&str, &str)] = &[(
    "postgres.slow_query_threshold",
    "metrics.slow_query_threshold (the metrics layer counts and logs slow operations)",
)];

/// The old path of `path` (a key of the table), when its section was renamed:
/// `overflow.enabled` -> `failover.enabled`.
pub(crate) fn old_path(path: &str) -> Option<String> {
    let (section, rest) = path.split_once('.')?;
    RENAMED_SECTIONS
        .iter()
        .find(|(_, new)| *new == section)
        .map(|(old, _)| format!("{old}.{rest}"))
}

/// The warning for a value found at `old`, the old path of `path`.
pub(crate) fn renamed_warning(old: &str, path: &str) -> String {
    let section = path.split('.').next().unwrap_or(path);
    let variable = path.replacen('.', "__", 1).to_uppercase();
    format!(
        "read as {path}: [{}] is the old name of [{section}] (POOLSIDE_{variable}); \
         rename it, the old name will not be read forever",
        old.split('.').next().unwrap_or(old)
    )
}

/// The new path of `path` when it lies in a renamed section: `failover.enabled` ->
/// `overflow.enabled`.
pub(crate) fn new_path(path: &str) -> Option<String> {
    let (section, rest) = path.split_once('.')?;
    RENAMED_SECTIONS
        .iter()
        .find(|(old, _)| *old == section)
        .map(|(_, new)| format!("{new}.{rest}"))
}

/// Whether `section` is the old name of a section.
pub(crate) fn is_old_section(section: &str) -> bool {
    RENAMED_SECTIONS.iter().any(|(old, _)| *old == section)
}

/// What to set instead of `path`, when it is a retired key.
pub(crate) fn replacement(path: &str) -> Option<&'static str> {
    RETIRED_KEYS
        .iter()
        .find(|(retired, _)| *retired == path)
        .map(|(_, instead)| *instead)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_of_a_renamed_section_has_its_old_path() {
        assert_eq!(
            old_path("overflow.enabled").as_deref(),
            Some("failover.enabled")
        );
        assert_eq!(old_path("postgres.max_size"), None);
        assert_eq!(
            new_path("failover.enabled").as_deref(),
            Some("overflow.enabled")
        );
        assert_eq!(new_path("overflow.enabled"), None);
        let warning = renamed_warning("failover.enabled", "overflow.enabled");
        assert!(warning.contains("POOLSIDE_OVERFLOW__ENABLED"), "{warning}");
    }

    #[test]
    fn every_new_section_and_replacement_is_in_the_key_table() {
        let sections = crate::keys::sections();
        for (_, new) in RENAMED_SECTIONS {
            assert!(sections.contains(new), "{new}");
        }
        for (retired, instead) in RETIRED_KEYS {
            assert!(
                crate::keys::find(retired).is_none(),
                "{retired} is still read"
            );
            let key = instead.split_whitespace().next().unwrap_or_default();
            assert!(crate::keys::find(key).is_some(), "{key}");
        }
    }
}
