//! Reading NDJSON lines with a length cap, as bytes.
//!
//! `BufRead::lines` holds a whole line in memory however long it is (a 1 GB line
//! took 1 GB) and fails the rest of the file on a line that is not UTF-8. This
//! reader keeps at most `max` bytes of a line: a longer one is skipped up to its
//! newline in bounded pieces and reported as [`Line::TooLong`]; UTF-8 is the
//! mapper's business (`oncofed_fhir::map_ndjson_bytes`), so a bad line is an
//! error of that line only.

use std::io::{self, BufRead, Read as _};

/// Default cap on one NDJSON line: 64 MiB. A line holds one Bundle (a patient's
/// record in a Bundle-per-line export) or one resource; the largest we know of
/// (a full oncology history with thousands of labs) is a few MiB.
pub const DEFAULT_MAX_LINE_BYTES: usize = 64 * 1024 * 1024;

/// Skipping an over-long line reads it in pieces of this size.
const SKIP_PIECE: u64 = 64 * 1024;

/// One line as read.
#[derive(Debug, PartialEq, Eq)]
pub enum Line<'a> {
    /// The line's bytes without `\n` or `\r\n`.
    Text(&'a [u8]),
    /// The line was longer than the cap and has been skipped; `bytes` is its length.
    TooLong {
        /// Length of the line without its newline.
        bytes: u64,
    },
}

/// Reads lines of at most `max` bytes from a buffered reader.
pub struct Lines<R> {
    inner: R,
    max: usize,
    buf: Vec<u8>,
    line_no: usize,
}

impl<R: BufRead> Lines<R> {
    /// A reader over `inner` keeping at most `max` bytes of a line.
    pub fn new(inner: R, max: usize) -> Self {
        Self {
            inner,
            max,
            buf: Vec::new(),
            line_no: 0,
        }
    }

    /// The next line: its 1-based number, the bytes it took in the file (newline
    /// included) and its content; `None` at the end of the input.
    pub fn next_line(&mut self) -> io::Result<Option<(usize, u64, Line<'_>)>> {
        self.buf.clear();
        let limit = self.max as u64 + 1;
        let n = (&mut self.inner)
            .take(limit)
            .read_until(b'\n', &mut self.buf)?;
        if n == 0 {
            return Ok(None);
        }
        self.line_no += 1;
        let ended = self.buf.last() == Some(&b'\n');
        if !ended && self.buf.len() > self.max {
            // Over the cap: drop what we hold and skip to the newline without keeping it.
            let mut taken = self.buf.len() as u64;
            self.buf = Vec::new();
            let mut piece = Vec::with_capacity(SKIP_PIECE as usize);
            let newline = loop {
                piece.clear();
                let n = (&mut self.inner)
                    .take(SKIP_PIECE)
                    .read_until(b'\n', &mut piece)?;
                taken += n as u64;
                if n == 0 {
                    break false;
                }
                if piece.last() == Some(&b'\n') {
                    break true;
                }
            };
            let content = taken - u64::from(newline);
            let content = content - u64::from(newline && piece.ends_with(b"\r\n"));
            return Ok(Some((
                self.line_no,
                taken,
                Line::TooLong { bytes: content },
            )));
        }
        let mut text = &self.buf[..];
        if ended {
            text = &text[..text.len() - 1];
            if text.last() == Some(&b'\r') {
                text = &text[..text.len() - 1];
            }
        }
        Ok(Some((self.line_no, n as u64, Line::Text(text))))
    }

    /// The number of the last line returned (0 before the first).
    pub fn line_no(&self) -> usize {
        self.line_no
    }

    /// Bytes of memory the line buffer holds now (for the bounded-memory test).
    #[cfg(test)]
    fn held(&self) -> usize {
        self.buf.capacity()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all(input: &[u8], max: usize) -> Vec<(usize, u64, String)> {
        let mut r = Lines::new(io::BufReader::with_capacity(16, input), max);
        let mut out = Vec::new();
        while let Some((no, bytes, line)) = r.next_line().unwrap() {
            let shown = match line {
                Line::Text(t) => String::from_utf8_lossy(t).into_owned(),
                Line::TooLong { bytes } => format!("<{bytes} bytes>"),
            };
            out.push((no, bytes, shown));
        }
        out
    }

    #[test]
    fn lines_newlines_and_the_cap() {
        let got = all(b"ab\r\n\ncdef\nxyz", 4);
        let want = [(1, 4, "ab"), (2, 1, ""), (3, 5, "cdef"), (4, 3, "xyz")];
        let want: Vec<_> = want
            .iter()
            .map(|(n, b, s)| (*n, *b, s.to_string()))
            .collect();
        assert_eq!(got, want);
        // Exactly the cap is kept; one more is skipped; the lines after it still come.
        let got = all(b"abcd\nabcde\r\nfg\nhijklmnopqrstuvwxyz", 4);
        let want = [
            (1, 5, "abcd"),
            (2, 7, "<5 bytes>"),
            (3, 3, "fg"),
            (4, 19, "<19 bytes>"),
        ];
        let want: Vec<_> = want
            .iter()
            .map(|(n, b, s)| (*n, *b, s.to_string()))
            .collect();
        assert_eq!(got, want);
        assert!(all(b"", 4).is_empty());
    }

    #[test]
    fn red_team_overlong_line_is_skipped_without_buffering() {
        // A generated 8 MiB line under a 1 KiB cap, between two short lines.
        let cap = 1024;
        let mut input = b"{\"first\": 1}\n".to_vec();
        input.extend(std::iter::repeat_n(b'x', 8 << 20));
        input.extend_from_slice(b"\n{\"last\": 3}\n");
        let mut r = Lines::new(io::BufReader::new(&input[..]), cap);
        assert_eq!(
            r.next_line().unwrap().unwrap().2,
            Line::Text(b"{\"first\": 1}")
        );
        let (no, taken, line) = r.next_line().unwrap().unwrap();
        assert_eq!(
            (no, taken, line),
            (2, (8 << 20) + 1, Line::TooLong { bytes: 8 << 20 })
        );
        assert!(r.held() <= 2 * cap, "held {} bytes", r.held());
        let (no, _, line) = r.next_line().unwrap().unwrap();
        assert_eq!((no, line), (3, Line::Text(b"{\"last\": 3}")));
        assert!(r.held() <= 2 * cap);
        assert!(r.next_line().unwrap().is_none());
    }
}
