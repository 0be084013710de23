//! Reading the files a proxy or mcpo-gen is pointed at, with a size cap:
//! a config that became a symlink to `/dev/zero`, or a huge file, is
//! refused with a clear error instead of growing the process until the
//! kernel kills it.

use std::io::Read as _;
use std::path::Path;

/// Configs (`--config`), dotenv files (`--env-path`), TLS certificates and
/// keys, OAuth token files: a few kilobytes in practice.
pub const SMALL_FILE_LIMIT: u64 = 1024 * 1024;

/// `mcp.lock.json`: a thousand tools with large schemas stay well under it.
pub const LOCK_FILE_LIMIT: u64 = 64 * 1024 * 1024;

/// The whole file, unless it is larger than `limit` bytes: then an
/// `InvalidData` error saying so. Never reads more than `limit + 1` bytes.
pub fn read_capped(path: &Path, limit: u64) -> std::io::Result<Vec<u8>> {
    match read_prefix(path, limit)? {
        (_, true) => Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("it is larger than {}", describe_size(limit)),
        )),
        (bytes, false) => Ok(bytes),
    }
}

/// At most `limit` bytes of the file, and whether it holds more.
pub fn read_prefix(path: &Path, limit: u64) -> std::io::Result<(Vec<u8>, bool)> {
    let file = std::fs::File::open(path)?;
    let mut bytes = Vec::new();
    file.take(limit.saturating_add(1)).read_to_end(&mut bytes)?;
    let cut = bytes.len() as u64 > limit;
    if cut {
        bytes.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
    }
    Ok((bytes, cut))
}

/// [`read_capped`] as UTF-8 text.
pub fn read_text_capped(path: &Path, limit: u64) -> std::io::Result<String> {
    String::from_utf8(read_capped(path, limit)?)
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::InvalidData, "it is not UTF-8 text"))
}

/// `1 MiB`, `64 MiB`, or bytes.
pub fn describe_size(bytes: u64) -> String {
    const MIB: u64 = 1024 * 1024;
    if bytes >= MIB && bytes.is_multiple_of(MIB) {
        format!("{} MiB", bytes / MIB)
    } else {
        format!("{bytes} bytes")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_endless_file_is_refused_after_the_cap() {
        let error = read_capped(Path::new("/dev/zero"), 1024).unwrap_err();
        assert_eq!(error.kind(), std::io::ErrorKind::InvalidData);
        assert_eq!(error.to_string(), "it is larger than 1024 bytes");
    }

    #[test]
    fn a_file_at_the_cap_is_read_whole() {
        let path = std::env::temp_dir().join(format!("mcpo-files-test-{}", std::process::id()));
        std::fs::write(&path, vec![b'x'; 1024]).unwrap();
        assert_eq!(read_capped(&path, 1024).unwrap().len(), 1024);
        assert!(read_capped(&path, 1023).is_err());
        let (prefix, cut) = read_prefix(&path, 10).unwrap();
        assert_eq!((prefix.len(), cut), (10, true));
        std::fs::write(&path, [0xff, 0xfe]).unwrap();
        assert!(read_text_capped(&path, 1024).is_err());
        std::fs::remove_file(&path).unwrap();
        assert_eq!(describe_size(SMALL_FILE_LIMIT), "1 MiB");
    }
}
