//! The attach protocol between the monitor and its clients (`run`,
//! `attach`, `start -a`, `wait`) on the container's unix socket: frames of
//! `[kind: u8][length: u32 big-endian][payload]`, like Docker's multiplexed
//! stream, in both directions.

use std::io::{self, Read, Write};

/// What a frame carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Kind {
    /// Client → monitor: bytes for the container's stdin.
    Stdin = 0,
    /// Monitor → client: the container's output.
    Stdout = 1,
    Stderr = 2,
    /// Monitor → client: the container ended; payload is the exit code.
    Exit = 3,
    /// Client → monitor: the client's stdin reached end-of-file.
    StdinEof = 4,
    /// Client → monitor: the terminal's size, `rows cols` in text.
    Resize = 5,
    /// Client → monitor: deliver this signal number to the container.
    Signal = 6,
}

impl Kind {
    fn from_byte(b: u8) -> Option<Kind> {
        Some(match b {
            0 => Kind::Stdin,
            1 => Kind::Stdout,
            2 => Kind::Stderr,
            3 => Kind::Exit,
            4 => Kind::StdinEof,
            5 => Kind::Resize,
            6 => Kind::Signal,
            _ => return None,
        })
    }
}

/// Frames larger than this are refused: a confused peer, not data.
const MAX_FRAME: usize = 1 << 20;

pub fn write_frame(out: &mut impl Write, kind: Kind, payload: &[u8]) -> io::Result<()> {
    let mut frame = Vec::with_capacity(5 + payload.len());
    frame.push(kind as u8);
    frame.extend_from_slice(&(payload.len() as u32).to_be_bytes());
    frame.extend_from_slice(payload);
    out.write_all(&frame)
}

/// The next frame, or `None` at end-of-stream.
pub fn read_frame(input: &mut impl Read) -> io::Result<Option<(Kind, Vec<u8>)>> {
    let mut head = [0u8; 5];
    match input.read_exact(&mut head) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e),
    }
    let kind = Kind::from_byte(head[0])
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "unknown frame kind"))?;
    let len = u32::from_be_bytes([head[1], head[2], head[3], head[4]]) as usize;
    if len > MAX_FRAME {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "frame too large",
        ));
    }
    let mut payload = vec![0u8; len];
    input.read_exact(&mut payload)?;
    Ok(Some((kind, payload)))
}

/// Incremental frame decoding for the monitor, which reads whatever a
/// non-blocking socket has and must not wait for the rest of a frame.
#[derive(Debug, Default)]
pub struct Decoder(Vec<u8>);

impl Decoder {
    pub fn push(&mut self, bytes: &[u8]) {
        self.0.extend_from_slice(bytes);
    }

    /// The next complete frame; `Err` for a malformed one.
    pub fn next_frame(&mut self) -> io::Result<Option<(Kind, Vec<u8>)>> {
        if self.0.len() < 5 {
            return Ok(None);
        }
        let len = u32::from_be_bytes([self.0[1], self.0[2], self.0[3], self.0[4]]) as usize;
        if len > MAX_FRAME {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "frame too large",
            ));
        }
        if self.0.len() < 5 + len {
            return Ok(None);
        }
        let mut cursor = &self.0[..5 + len];
        let frame = read_frame(&mut cursor)?;
        self.0.drain(..5 + len);
        Ok(frame)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_round_trip_and_decode_in_pieces() {
        let mut wire = Vec::new();
        write_frame(&mut wire, Kind::Stdout, b"hello").unwrap();
        write_frame(&mut wire, Kind::Exit, b"3").unwrap();
        let mut d = Decoder::default();
        d.push(&wire[..3]);
        assert!(d.next_frame().unwrap().is_none());
        d.push(&wire[3..]);
        assert_eq!(
            d.next_frame().unwrap(),
            Some((Kind::Stdout, b"hello".to_vec()))
        );
        assert_eq!(d.next_frame().unwrap(), Some((Kind::Exit, b"3".to_vec())));
        assert_eq!(d.next_frame().unwrap(), None);
        let mut reader = &wire[..];
        assert_eq!(read_frame(&mut reader).unwrap().unwrap().0, Kind::Stdout);
        assert_eq!(read_frame(&mut reader).unwrap().unwrap().0, Kind::Exit);
        assert!(read_frame(&mut reader).unwrap().is_none());
    }
}
