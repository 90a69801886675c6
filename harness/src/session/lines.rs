//! Cutting a byte stream into lines: the one place a session's lines are split and their
//! length capped. The cap holds before a line is buffered, so an endless line costs at
//! most the cap in memory, and a complete line inside a chunk is never copied.

/// What the line handler wants next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    More,
    /// Stop here: the bytes after this line are handed back to the caller.
    Stop,
}

/// The part of a line seen so far, and the longest line accepted.
#[derive(Debug)]
pub struct LineSplitter {
    partial: Vec<u8>,
    max_line: usize,
}

impl LineSplitter {
    /// Accepts lines of at most `max_line` bytes (the newline not counted).
    pub fn new(max_line: usize) -> LineSplitter {
        LineSplitter {
            partial: Vec::new(),
            max_line,
        }
    }

    /// Feeds `data`, calling `on_line` with each complete line (without its newline).
    /// Returns the bytes after the line `on_line` stopped at, or `None` when it never did.
    pub fn push<'d>(
        &mut self,
        data: &'d [u8],
        mut on_line: impl FnMut(&[u8]) -> Result<Next, String>,
    ) -> Result<Option<&'d [u8]>, String> {
        let mut rest = data;
        while let Some(end) = rest.iter().position(|&b| b == b'\n') {
            let (line, tail) = (&rest[..end], &rest[end + 1..]);
            let next = if self.partial.is_empty() {
                self.check_len(line.len())?;
                on_line(line)?
            } else {
                self.check_len(self.partial.len() + line.len())?;
                self.keep(line);
                let whole = std::mem::take(&mut self.partial);
                on_line(&whole)?
            };
            rest = tail;
            if next == Next::Stop {
                return Ok(Some(rest));
            }
        }
        self.check_len(self.partial.len() + rest.len())?;
        self.keep(rest);
        Ok(None)
    }

    /// Appends to the partial line, growing it by doubling but never past the cap: a
    /// line that ends just under the cap holds the cap in memory, not twice it.
    fn keep(&mut self, data: &[u8]) {
        let needed = self.partial.len() + data.len();
        if needed > self.partial.capacity() {
            let grown = (self.partial.capacity() * 2).clamp(needed, self.max_line.max(needed));
            self.partial.reserve_exact(grown - self.partial.len());
        }
        self.partial.extend_from_slice(data);
    }

    /// The part of a line seen so far.
    pub fn pending(&self) -> &[u8] {
        &self.partial
    }

    /// The end of the stream: a last line without a newline (empty when there is none).
    pub fn take_rest(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.partial)
    }

    fn check_len(&self, len: usize) -> Result<(), String> {
        if len > self.max_line {
            return Err(format!("a line longer than {}", size(self.max_line)));
        }
        Ok(())
    }
}

/// `16 MiB` for whole MiB, else bytes.
pub fn size(bytes: usize) -> String {
    const MIB: usize = 1024 * 1024;
    if bytes >= MIB && bytes.is_multiple_of(MIB) {
        format!("{} MiB", bytes / MIB)
    } else {
        format!("{bytes} bytes")
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    fn collect(splitter: &mut LineSplitter, data: &[u8], into: &mut Vec<String>) {
        let stopped = splitter
            .push(data, |l| {
                into.push(String::from_utf8_lossy(l).into_owned());
                Ok(Next::More)
            })
            .unwrap();
        assert!(stopped.is_none());
    }

    #[test]
    fn lines_across_chunks_and_a_last_line_without_newline() {
        let mut s = LineSplitter::new(100);
        let mut lines = Vec::new();
        for chunk in b"one\ntw".chunks(1).chain([&b"o\nthree\nfo"[..]]) {
            collect(&mut s, chunk, &mut lines);
        }
        assert_eq!(lines, ["one", "two", "three"]);
        assert_eq!(s.take_rest(), b"fo");
    }

    #[test]
    fn stop_hands_back_the_rest() {
        let mut s = LineSplitter::new(100);
        let rest = s
            .push(b"a\nready\n{\"x\":1}\n", |l| {
                Ok(if l == b"ready" {
                    Next::Stop
                } else {
                    Next::More
                })
            })
            .unwrap();
        assert_eq!(rest, Some(&b"{\"x\":1}\n"[..]));
    }

    #[test]
    fn a_long_line_is_refused_before_it_is_buffered() {
        let mut s = LineSplitter::new(10);
        assert!(s.push(b"0123456789\n", |_| Ok(Next::More)).is_ok());
        let err = s.push(b"01234567890", |_| Ok(Next::More)).unwrap_err();
        assert_eq!(err, "a line longer than 10 bytes");
        let mut s = LineSplitter::new(10);
        s.push(b"012345", |_| Ok(Next::More)).unwrap();
        assert!(s.push(b"6789x\n", |_| Ok(Next::More)).is_err());
        assert!(s.partial.len() <= 10, "nothing past the cap was kept");
        let mut s = LineSplitter::new(1000);
        for _ in 0..99 {
            s.push(b"0123456789", |_| Ok(Next::More)).unwrap();
        }
        assert_eq!(s.pending().len(), 990);
        assert!(s.partial.capacity() <= 1000, "{}", s.partial.capacity());
    }
}
