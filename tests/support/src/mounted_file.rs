//! [`replace_file`]: a file changed as a Kubernetes volume (a Secret, a ConfigMap)
//! changes it, for the tests of what poolside reads again when it changes.

use std::path::Path;

/// Writes `contents` to `path` as a mounted volume updates a file: a new file, then
/// renamed over the old one, so that a reader sees the old or the new, never half.
///
/// ```
/// let path = std::env::temp_dir().join(format!("doc-replace-{}", std::process::id()));
/// poolside_tests::mounted_file::replace_file(&path, b"s3cret\n");
/// assert_eq!(std::fs::read(&path).unwrap(), b"s3cret\n");
/// # std::fs::remove_file(&path).unwrap();
/// ```
///
/// # Panics
///
/// When the file cannot be written or renamed.
pub fn replace_file(path: &Path, contents: &[u8]) {
    let next = path.with_extension("next");
    std::fs::write(&next, contents).unwrap_or_else(|e| panic!("writing {}: {e}", next.display()));
    std::fs::rename(&next, path)
        .unwrap_or_else(|e| panic!("renaming {} into place: {e}", path.display()));
}
