//! The classic builder's progress text (`Step 3/7 : RUN …`, ` ---> Using
//! cache`, ` ---> 1a2b3c4d5e6f`, `Successfully built …`), RUN's output
//! streamed as it comes. With `-q` all of it is held back and shown only
//! if the build fails, as Docker's CLI does.

use std::io::Write;

#[derive(Debug)]
pub struct Output {
    quiet: bool,
    held: Vec<u8>,
}

impl Output {
    pub fn new(quiet: bool) -> Output {
        Output {
            quiet,
            held: Vec::new(),
        }
    }

    /// Bytes as they come (RUN's stdout and stderr both go to stdout, as
    /// the classic builder's stream does).
    pub fn raw(&mut self, bytes: &[u8]) {
        if self.quiet {
            self.held.extend_from_slice(bytes);
        } else {
            let mut out = std::io::stdout().lock();
            let _ = out.write_all(bytes);
            let _ = out.flush();
        }
    }

    pub fn line(&mut self, text: &str) {
        self.raw(format!("{text}\n").as_bytes());
    }

    pub fn step(&mut self, n: usize, total: usize, original: &str) {
        self.line(&format!("Step {n}/{total} : {original}"));
    }

    pub fn arrow(&mut self, text: &str) {
        self.line(&format!(" ---> {text}"));
    }

    /// A failed `-q` build shows what it held back, on stderr.
    pub fn release_on_failure(&mut self) {
        if self.quiet {
            let _ = std::io::stderr().write_all(&self.held);
            self.held.clear();
        }
    }
}
