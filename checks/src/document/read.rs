//! Reading a document's file without reading more than its limit.

use std::io::Read;
use std::path::Path;

use super::limits::{DocumentLimits, show_bytes};

/// The text of `path`, refused (as `InvalidData`) when it is larger than `limits` allow
/// or not UTF-8. Reads at most one byte past the limit, whatever the file's size says (a
/// FIFO or /dev/zero has none).
pub fn read_text(path: &Path, limits: &DocumentLimits) -> std::io::Result<String> {
    let file = std::fs::File::open(path)?;
    let mut bytes = Vec::new();
    file.take(limits.max_bytes + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > limits.max_bytes {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!(
                "larger than {}, the most tarmac reads of {}",
                show_bytes(limits.max_bytes),
                limits.what
            ),
        ));
    }
    String::from_utf8(bytes).map_err(|e| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!(
                "not UTF-8 text (byte {} is not valid UTF-8)",
                e.utf8_error().valid_up_to()
            ),
        )
    })
}
