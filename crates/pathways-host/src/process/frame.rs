//! The frames between the daemon and a plugin host child, over the child's stdin and stdout.
//!
//! A frame is `length: u32 LE` (of what follows), `id: u64 LE`, `code: u32 LE`, then the body:
//! the same op and JSON bytes a plugin gets in process. From the daemon, `code` is the op
//! ([`INIT`] and [`CANCEL`] are the host's own); from the child, it is the completion status
//! (`STATUS_OK`, `STATUS_ERR`, ...). The id pairs a reply with its request, so any number of
//! calls can be in flight at once and complete in any order.

use std::io::{self, Read, Write};

use serde::{Deserialize, Serialize};

/// The first frame from the daemon (id 0): which library, which partner, which settings.
pub(crate) const INIT: u32 = 0xFFFF_FF00;
/// Gives up on call `id`: the child drops it, which asks the plugin to cancel it.
pub(crate) const CANCEL: u32 = 0xFFFF_FF01;

/// The largest frame either side accepts: far above any request or answer, and a bound on what
/// a broken peer can make the other allocate.
pub(crate) const MAX_FRAME: usize = 64 << 20;

const HEADER: usize = 12;

/// One frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Frame {
    pub(crate) id: u64,
    pub(crate) code: u32,
    pub(crate) body: Vec<u8>,
}

impl Frame {
    /// The frame as bytes on the wire.
    pub(crate) fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(4 + HEADER + self.body.len());
        let length = u32::try_from(HEADER + self.body.len()).unwrap_or(u32::MAX);
        out.extend_from_slice(&length.to_le_bytes());
        out.extend_from_slice(&self.id.to_le_bytes());
        out.extend_from_slice(&self.code.to_le_bytes());
        out.extend_from_slice(&self.body);
        out
    }

    /// Parses what follows a frame's length.
    fn decode(bytes: Vec<u8>) -> io::Result<Self> {
        if bytes.len() < HEADER {
            return Err(invalid(format!(
                "a frame of {} bytes is shorter than its header",
                bytes.len()
            )));
        }
        let id = u64::from_le_bytes(bytes[0..8].try_into().expect("8 bytes"));
        let code = u32::from_le_bytes(bytes[8..12].try_into().expect("4 bytes"));
        Ok(Self { id, code, body: bytes[HEADER..].to_vec() })
    }
}

fn invalid(message: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, message)
}

fn checked_length(prefix: [u8; 4]) -> io::Result<usize> {
    let length = u32::from_le_bytes(prefix) as usize;
    if length > MAX_FRAME {
        return Err(invalid(format!(
            "a frame of {length} bytes is over the {MAX_FRAME}-byte limit"
        )));
    }
    Ok(length)
}

/// Reads one frame, blocking; `None` at a clean end of stream (the peer closed it).
pub(crate) fn read_blocking(input: &mut impl Read) -> io::Result<Option<Frame>> {
    let mut prefix = [0u8; 4];
    match input.read_exact(&mut prefix) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e),
    }
    let mut bytes = vec![0u8; checked_length(prefix)?];
    input.read_exact(&mut bytes)?;
    Frame::decode(bytes).map(Some)
}

/// Writes one frame, blocking.
pub(crate) fn write_blocking(output: &mut impl Write, frame: &Frame) -> io::Result<()> {
    output.write_all(&frame.encode())?;
    output.flush()
}

/// What the daemon tells a new child in its [`INIT`] frame.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Init {
    pub(crate) library: std::path::PathBuf,
    pub(crate) partner_id: String,
    pub(crate) settings: serde_json::Value,
    /// A cap on the child's heap, in bytes (`RLIMIT_DATA`).
    #[serde(default)]
    pub(crate) memory_limit: Option<u64>,
}

/// The child's answer to [`INIT`]: the instance's manifest, or why it could not load.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Ready {
    /// Loaded and instantiated.
    Loaded {
        manifest: Box<pathways_core::Manifest>,
        /// How the child restricted itself, for the daemon's log.
        sandbox: String,
        /// Whether filesystem writes are really denied (Landlock enforced).
        #[serde(default)]
        writes_denied: bool,
    },
    /// Not loaded, and why.
    Failed(crate::LoadError),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_round_trip_and_a_closed_stream_is_the_end() {
        let frames = [
            Frame { id: 7, code: 1, body: b"{\"a\":1}".to_vec() },
            Frame { id: u64::MAX, code: CANCEL, body: vec![] },
        ];
        let mut wire = Vec::new();
        for frame in &frames {
            write_blocking(&mut wire, frame).unwrap();
        }
        let mut input = wire.as_slice();
        for frame in &frames {
            assert_eq!(read_blocking(&mut input).unwrap().as_ref(), Some(frame));
        }
        assert_eq!(read_blocking(&mut input).unwrap(), None);
    }

    #[test]
    fn an_oversized_or_truncated_frame_is_an_error_not_an_allocation() {
        let huge = ((MAX_FRAME + 1) as u32).to_le_bytes();
        let err = read_blocking(&mut huge.as_slice()).unwrap_err();
        assert!(err.to_string().contains("over the"), "{err}");
        let short = [4u8, 0, 0, 0, 1, 2, 3, 4];
        let err = read_blocking(&mut short.as_slice()).unwrap_err();
        assert!(err.to_string().contains("shorter than its header"), "{err}");
    }
}
