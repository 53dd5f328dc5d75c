//! The one protocol between mini-docker's processes: the launching command
//! and the monitor (the start-up pipe), the monitor and the container's
//! first process (its error pipe), and the monitor and its attach clients
//! (`run`, `attach`, `start -a`, `wait`, on the container's unix socket).
//!
//! Every message is a [`Message`], written as a frame of `[tag: u8]
//! [length: u32 big-endian][payload]` (like Docker's multiplexed stream).
//! A frame that does not decode — an unknown tag, a payload of the wrong
//! size, a code that is not a number — is an error for the reader, never a
//! default value.
//!
//! The start-up pipe also carries the `--explain` lines of the monitor and
//! of the container's first process, so there each frame follows a
//! [`MARK`] byte at the start of a line (see [`read_startup`]).

use std::io::{self, BufRead, Read, Write};

/// A message of the protocol; the comment says who sends it to whom.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    /// Client → monitor: bytes for the container's stdin.
    Stdin(Vec<u8>),
    /// Client → monitor: the client's stdin reached end-of-file.
    StdinEof,
    /// Client → monitor: the terminal's size.
    Resize {
        rows: u16,
        cols: u16,
    },
    /// Client → monitor: deliver this signal number to the container.
    Signal(i32),
    /// Monitor → client: the container's output.
    Stdout(Vec<u8>),
    Stderr(Vec<u8>),
    /// Monitor → client: the container ended with this code.
    Exit(i32),
    /// Monitor → launcher: what the host could not apply (Docker prints
    /// these at create).
    Warning(String),
    /// Monitor → launcher: the container's first process runs.
    Running {
        pid: i32,
    },
    /// Monitor → launcher, and container → monitor: the command never
    /// ran; mini-docker's or the exec's error and its exit code (125, 126,
    /// 127).
    Failed {
        code: i32,
        message: String,
    },
}

/// Frames larger than this are refused: a confused peer, not data.
const MAX_FRAME: usize = 1 << 20;

/// Starts a frame on the start-up pipe, at the beginning of a line.
pub const MARK: u8 = 0x01;

fn invalid(why: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, why.into())
}

fn int(payload: &[u8], what: &str) -> io::Result<i32> {
    let bytes: [u8; 4] = payload
        .get(..4)
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| invalid(format!("{what}: short payload")))?;
    Ok(i32::from_be_bytes(bytes))
}

fn text(payload: &[u8], what: &str) -> io::Result<String> {
    String::from_utf8(payload.to_vec()).map_err(|_| invalid(format!("{what}: not UTF-8")))
}

impl Message {
    fn tag(&self) -> u8 {
        match self {
            Message::Stdin(_) => 0,
            Message::Stdout(_) => 1,
            Message::Stderr(_) => 2,
            Message::Exit(_) => 3,
            Message::StdinEof => 4,
            Message::Resize { .. } => 5,
            Message::Signal(_) => 6,
            Message::Warning(_) => 7,
            Message::Running { .. } => 8,
            Message::Failed { .. } => 9,
        }
    }

    fn payload(&self) -> Vec<u8> {
        match self {
            Message::Stdin(b) | Message::Stdout(b) | Message::Stderr(b) => b.clone(),
            Message::StdinEof => Vec::new(),
            Message::Exit(n) | Message::Signal(n) | Message::Running { pid: n } => {
                n.to_be_bytes().to_vec()
            }
            Message::Resize { rows, cols } => [rows.to_be_bytes(), cols.to_be_bytes()].concat(),
            Message::Warning(w) => w.as_bytes().to_vec(),
            Message::Failed { code, message } => {
                [&code.to_be_bytes()[..], message.as_bytes()].concat()
            }
        }
    }

    fn decode(tag: u8, payload: Vec<u8>) -> io::Result<Message> {
        let exact = |n: usize, what: &str| {
            if payload.len() == n {
                Ok(())
            } else {
                Err(invalid(format!("{what}: {} bytes, not {n}", payload.len())))
            }
        };
        Ok(match tag {
            0 => Message::Stdin(payload),
            1 => Message::Stdout(payload),
            2 => Message::Stderr(payload),
            3 => {
                exact(4, "exit")?;
                Message::Exit(int(&payload, "exit")?)
            }
            4 => {
                exact(0, "stdin end")?;
                Message::StdinEof
            }
            5 => {
                exact(4, "resize")?;
                Message::Resize {
                    rows: u16::from_be_bytes([payload[0], payload[1]]),
                    cols: u16::from_be_bytes([payload[2], payload[3]]),
                }
            }
            6 => {
                exact(4, "signal")?;
                Message::Signal(int(&payload, "signal")?)
            }
            7 => Message::Warning(text(&payload, "warning")?),
            8 => {
                exact(4, "running")?;
                Message::Running {
                    pid: int(&payload, "running")?,
                }
            }
            9 => Message::Failed {
                code: int(&payload, "failed")?,
                message: text(&payload[4..], "failed")?,
            },
            other => return Err(invalid(format!("unknown message {other}"))),
        })
    }

    /// The whole frame.
    pub fn encode(&self) -> Vec<u8> {
        let payload = self.payload();
        let mut frame = Vec::with_capacity(5 + payload.len());
        frame.push(self.tag());
        frame.extend_from_slice(&(payload.len() as u32).to_be_bytes());
        frame.extend_from_slice(&payload);
        frame
    }
}

/// Writes one message, encoded whole first (one buffer, not a header and
/// a payload that another writer could come between).
pub fn write(out: &mut impl Write, message: &Message) -> io::Result<()> {
    out.write_all(&message.encode())
}

fn frame_len(head: &[u8]) -> io::Result<usize> {
    let len = u32::from_be_bytes([head[1], head[2], head[3], head[4]]) as usize;
    if len > MAX_FRAME {
        return Err(invalid("frame too large"));
    }
    Ok(len)
}

/// The next message, or `None` at end-of-stream (between frames; inside
/// one, end-of-stream is an error).
pub fn read(input: &mut impl Read) -> io::Result<Option<Message>> {
    let mut head = [0u8; 5];
    let mut got = 0;
    while got < head.len() {
        match input.read(&mut head[got..]) {
            Ok(0) if got == 0 => return Ok(None),
            Ok(0) => return Err(io::ErrorKind::UnexpectedEof.into()),
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    let mut payload = vec![0u8; frame_len(&head)?];
    input.read_exact(&mut payload)?;
    Message::decode(head[0], payload).map(Some)
}

/// Which stream a container's output came on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    Stdout,
    Stderr,
}

/// The client's side of an attached connection: hands each output frame to
/// `output` until the monitor reports the exit, then waits for the monitor
/// to close the connection (it does once the exit is recorded, so the
/// state is final on return). `Ok(None)`: the connection ended without an
/// exit (a detach, or a monitor that went away). A malformed frame is an
/// error (`InvalidData`), never a made-up exit code.
pub fn relay_output(
    input: &mut impl Read,
    mut output: impl FnMut(Stream, &[u8]),
) -> io::Result<Option<i32>> {
    loop {
        match read(input) {
            Ok(Some(Message::Stdout(data))) => output(Stream::Stdout, &data),
            Ok(Some(Message::Stderr(data))) => output(Stream::Stderr, &data),
            Ok(Some(Message::Exit(code))) => {
                let _ = input.read_to_end(&mut Vec::new());
                return Ok(Some(code));
            }
            Ok(Some(_)) => {}
            Err(e) if e.kind() == io::ErrorKind::InvalidData => return Err(e),
            Ok(None) | Err(_) => return Ok(None),
        }
    }
}

/// The launcher's side of the start-up pipe: copies the `--explain` lines
/// to `narration` until a message comes; `None` if the pipe closes first.
pub fn read_startup(
    input: &mut impl BufRead,
    narration: &mut dyn Write,
) -> io::Result<Option<Message>> {
    loop {
        let first = match input.fill_buf()? {
            [] => return Ok(None),
            buf => buf[0],
        };
        if first == MARK {
            input.consume(1);
            return read(input)?
                .map(Some)
                .ok_or_else(|| io::ErrorKind::UnexpectedEof.into());
        }
        let mut line = Vec::new();
        input.read_until(b'\n', &mut line)?;
        let _ = narration.write_all(&line);
    }
}

/// The monitor's side of the start-up pipe.
pub fn write_startup(out: &mut impl Write, message: &Message) -> io::Result<()> {
    let mut frame = vec![MARK];
    frame.extend_from_slice(&message.encode());
    out.write_all(&frame)?;
    out.flush()
}

/// Incremental decoding for the monitor, which reads whatever a
/// non-blocking socket has and must not wait for the rest of a frame.
#[derive(Debug, Default)]
pub struct Decoder(Vec<u8>);

impl Decoder {
    pub fn push(&mut self, bytes: &[u8]) {
        self.0.extend_from_slice(bytes);
    }

    /// The next complete message; `Err` for a malformed one.
    pub fn next_message(&mut self) -> io::Result<Option<Message>> {
        if self.0.len() < 5 {
            return Ok(None);
        }
        let len = frame_len(&self.0)?;
        if self.0.len() < 5 + len {
            return Ok(None);
        }
        let frame: Vec<u8> = self.0.drain(..5 + len).collect();
        Message::decode(frame[0], frame[5..].to_vec()).map(Some)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn every_message() -> Vec<Message> {
        vec![
            Message::Stdin(b"in".to_vec()),
            Message::StdinEof,
            Message::Resize { rows: 24, cols: 80 },
            Message::Signal(15),
            Message::Stdout(b"hello".to_vec()),
            Message::Stderr(Vec::new()),
            Message::Exit(-1),
            Message::Warning("no swap".into()),
            Message::Running { pid: 4242 },
            Message::Failed {
                code: 127,
                message: "exec: \"nope\": not found".into(),
            },
        ]
    }

    #[test]
    fn relay_output_hands_on_each_stream_until_the_exit() {
        let frames = [
            Message::Stdout(b"out".to_vec()),
            Message::Warning("ignored".into()),
            Message::Stderr(b"err".to_vec()),
            Message::Exit(3),
        ];
        let wire: Vec<u8> = frames.iter().flat_map(Message::encode).collect();
        let mut seen = Vec::new();
        let exit = relay_output(&mut &wire[..], |stream, data| {
            seen.push((stream, data.to_vec()))
        });
        assert_eq!(exit.unwrap(), Some(3));
        assert_eq!(
            seen,
            [
                (Stream::Stdout, b"out".to_vec()),
                (Stream::Stderr, b"err".to_vec())
            ]
        );
        // A connection that ends without an exit is no exit code.
        let cut = Message::Stdout(b"x".to_vec()).encode();
        assert_eq!(relay_output(&mut &cut[..], |_, _| {}).unwrap(), None);
        // A malformed frame is an error, not an exit code.
        let bad = [0xffu8, 0, 0, 0, 0];
        let err = relay_output(&mut &bad[..], |_, _| {}).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidData);
    }

    #[test]
    fn every_message_round_trips_and_decodes_in_pieces() {
        let wire: Vec<u8> = every_message().iter().flat_map(Message::encode).collect();
        let mut reader = &wire[..];
        for m in every_message() {
            assert_eq!(read(&mut reader).unwrap(), Some(m));
        }
        assert_eq!(read(&mut reader).unwrap(), None);
        let mut d = Decoder::default();
        let mut got = Vec::new();
        for byte in &wire {
            d.push(&[*byte]);
            got.extend(d.next_message().unwrap());
        }
        assert_eq!(got, every_message());
    }

    #[test]
    fn a_malformed_frame_is_an_error_not_a_default() {
        for bad in [
            vec![3, 0, 0, 0, 1, b'0'],       // an exit code of one byte
            vec![42, 0, 0, 0, 0],            // an unknown message
            vec![9, 0, 0, 0, 2, 0, 0],       // a failure without its code
            vec![7, 0, 0, 0, 1, 0xff],       // a warning that is not text
            vec![1, 0xff, 0xff, 0xff, 0xff], // a frame beyond the limit
            vec![1, 0, 0, 0, 4, b'a'],       // cut inside the payload
            vec![1, 0, 0],                   // cut inside the header
        ] {
            assert!(read(&mut &bad[..]).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn the_startup_pipe_keeps_explain_lines_apart_from_messages() {
        let mut wire = b"mkdir -p /sys/fs/cgroup/x\nclone(CLONE_NEWNS)\n".to_vec();
        write_startup(&mut wire, &Message::Warning("w".into())).unwrap();
        write_startup(&mut wire, &Message::Running { pid: 7 }).unwrap();
        let mut input = io::BufReader::new(&wire[..]);
        let mut narration = Vec::new();
        let first = read_startup(&mut input, &mut narration).unwrap();
        assert_eq!(first, Some(Message::Warning("w".into())));
        assert_eq!(
            narration,
            b"mkdir -p /sys/fs/cgroup/x\nclone(CLONE_NEWNS)\n".to_vec()
        );
        let second = read_startup(&mut input, &mut narration).unwrap();
        assert_eq!(second, Some(Message::Running { pid: 7 }));
        assert_eq!(read_startup(&mut input, &mut narration).unwrap(), None);
        let mut cut = io::BufReader::new(&[MARK, 8, 0][..]);
        assert!(read_startup(&mut cut, &mut narration).is_err());
    }
}
