use std::io::{BufRead as _, Write as _};

/// Numbered step headings, optionally pausing for Enter before each step so a
/// workshop can discuss what is about to happen (`--pause`).
#[derive(Debug)]
pub struct Steps {
    pause: bool,
    next: usize,
}

impl Steps {
    pub fn new(pause: bool) -> Self {
        Steps { pause, next: 1 }
    }

    /// Prints `== step N: title` and, with `--pause`, waits for Enter.
    pub fn step(&mut self, title: &str) {
        if self.pause && self.next > 1 {
            print!("   [Enter to continue] ");
            let _ = std::io::stdout().flush();
            let mut line = String::new();
            // EOF (stdin closed) simply continues: pausing is a courtesy.
            let _ = std::io::stdin().lock().read_line(&mut line);
        }
        println!("== step {}: {title}", self.next);
        let _ = std::io::stdout().flush();
        self.next += 1;
    }
}
