//! Bytes to lines: plain or gzip/BGZF-compressed VCF text and BCF, told apart
//! by their magic bytes (gzip `1f 8b`, BGZF's `BC` extra field, `BCF\2`), not
//! by the file name.

use std::io::{self, BufRead, BufReader, Read};

use noodles_bcf as bcf;
use noodles_bgzf as bgzf;
use noodles_vcf as vcf;

/// The encoding a file was found to have.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    /// Uncompressed VCF text.
    Vcf,
    /// VCF text in BGZF blocks (`bgzip`, `bcftools view -Oz`).
    BgzfVcf,
    /// VCF text in plain gzip (`gzip`), not indexable.
    GzipVcf,
    /// BCF 2 (BGZF-compressed as `-Ob` writes it, or uncompressed as `-Ou`).
    Bcf,
}

type Inner = Box<dyn BufRead + Send>;

/// A source of VCF text lines: text files directly, BCF records converted to
/// VCF text by noodles (so that one parser and one set of error messages
/// serves both).
pub(crate) enum Lines {
    Text(Inner),
    Bcf(Box<BcfLines>),
}

/// A BCF stream with its header and buffers.
pub(crate) struct BcfLines {
    inner: Inner,
    header: vcf::Header,
    /// One record's bytes (both lengths and both parts), read by the crate so
    /// that a record's declared length is checked before anything is
    /// allocated for it (noodles would size its buffers by the declared lengths).
    frame: Vec<u8>,
    text: String,
}

fn starts_with_bgzf(b: &[u8]) -> bool {
    // gzip magic, deflate, FEXTRA, then XLEN and the `BC` subfield (SAM spec §4.1).
    b.len() >= 14
        && b[0] == 0x1f
        && b[1] == 0x8b
        && b[2] == 8
        && b[3] & 4 != 0
        && &b[12..14] == b"BC"
}

/// Fills `buf` up to `n` bytes without consuming them.
fn peek(r: &mut Inner, n: usize) -> io::Result<Vec<u8>> {
    let buf = r.fill_buf()?;
    Ok(buf[..buf.len().min(n)].to_vec())
}

/// Opens `read`, detecting the encoding; for BCF, also the header text.
pub(crate) fn open(read: Box<dyn Read + Send>) -> io::Result<(Encoding, Lines, Option<String>)> {
    let mut r: Inner = Box::new(BufReader::with_capacity(1 << 16, read));
    let head = peek(&mut r, 18)?;
    let mut encoding = Encoding::Vcf;
    if head.starts_with(&[0x1f, 0x8b]) {
        if starts_with_bgzf(&head) {
            encoding = Encoding::BgzfVcf;
            r = Box::new(bgzf::io::Reader::new(r));
        } else {
            encoding = Encoding::GzipVcf;
            r = Box::new(BufReader::with_capacity(
                1 << 16,
                flate2::read::MultiGzDecoder::new(r),
            ));
        }
    }
    let head = peek(&mut r, 4)?;
    if head.starts_with(b"BCF") {
        let mut reader = bcf::io::Reader::from(r);
        // noodles' header errors quote the offending text, which may hold sample
        // names: a fixed message instead.
        let header = read_bcf_header(&mut reader).map_err(|e| {
            io::Error::new(
                e.kind(),
                "the BCF header is not a valid VCF 4.x header (or is truncated)",
            )
        })?;
        let mut writer = vcf::io::Writer::new(Vec::new());
        writer.write_header(&header)?;
        let text = String::from_utf8(std::mem::take(writer.get_mut()))
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "header is not UTF-8"))?;
        let lines = Lines::Bcf(Box::new(BcfLines {
            inner: reader.into_inner(),
            header,
            frame: Vec::new(),
            text: String::new(),
        }));
        return Ok((Encoding::Bcf, lines, Some(text)));
    }
    Ok((encoding, Lines::Text(r), None))
}

impl Lines {
    /// Reads the next line (text) or record (BCF, as VCF text) into `buf`,
    /// without the line end; `false` at the end. `limit` bounds a text line;
    /// `full` asks for every field of a BCF record (extracts), otherwise only
    /// those calls and sites use.
    pub(crate) fn next(&mut self, buf: &mut Vec<u8>, limit: usize, full: bool) -> io::Result<bool> {
        buf.clear();
        match self {
            Lines::Text(r) => {
                let n = r.by_ref().take(limit as u64 + 1).read_until(b'\n', buf)?;
                if n == 0 {
                    return Ok(false);
                }
                if buf.len() > limit {
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        format!("line longer than {limit} bytes"),
                    ));
                }
                if buf.last() == Some(&b'\n') {
                    buf.pop();
                }
                if buf.last() == Some(&b'\r') {
                    buf.pop();
                }
                Ok(true)
            }
            Lines::Bcf(b) => {
                let BcfLines {
                    inner,
                    header,
                    frame,
                    text,
                } = &mut **b;
                if !read_frame(inner, frame, limit)? {
                    return Ok(false);
                }
                crate::bcf::to_text(header, frame, full, text)?;
                buf.extend_from_slice(text.as_bytes());
                Ok(true)
            }
        }
    }
}

/// Reads one BCF record's bytes (`l_shared`, `l_indiv`, then both parts; BCF
/// 2.2 §6.3) into `frame`, refusing a record longer than `limit` before
/// allocating it; `false` at a clean end of the stream.
fn read_frame(r: &mut Inner, frame: &mut Vec<u8>, limit: usize) -> io::Result<bool> {
    frame.clear();
    let mut lengths = [0u8; 8];
    let mut got = 0;
    while got < lengths.len() {
        let n = r.read(&mut lengths[got..])?;
        if n == 0 {
            if got == 0 {
                return Ok(false);
            }
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "truncated BCF record",
            ));
        }
        got += n;
    }
    let shared = u32::from_le_bytes([lengths[0], lengths[1], lengths[2], lengths[3]]) as usize;
    let indiv = u32::from_le_bytes([lengths[4], lengths[5], lengths[6], lengths[7]]) as usize;
    let total = shared.saturating_add(indiv);
    if total > limit {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("BCF record longer than {limit} bytes"),
        ));
    }
    frame.extend_from_slice(&lengths);
    frame.resize(8 + total, 0);
    r.read_exact(&mut frame[8..])?;
    Ok(true)
}

/// Largest BCF dictionary index (`IDX=`) accepted: noodles sizes its string
/// maps by the largest index, so `IDX=44444444444440` would allocate petabytes.
const MAX_IDX: u64 = 1 << 20;

/// Reads a BCF header (magic, version, VCF text) as noodles-bcf does, after
/// checking the text's `IDX=` values against [`MAX_IDX`].
fn read_bcf_header(reader: &mut bcf::io::Reader<Inner>) -> io::Result<vcf::Header> {
    let bad = |m: &str| io::Error::new(io::ErrorKind::InvalidData, m.to_string());
    let mut hr = reader.header_reader();
    if hr.read_magic_number()? != *b"BCF" {
        return Err(bad("not BCF"));
    }
    hr.read_format_version()?;
    let mut raw = String::new();
    {
        let mut text = hr.raw_vcf_header_reader()?;
        text.read_to_string(&mut raw)?;
        text.discard_to_end()?;
    }
    for (i, _) in raw.match_indices("IDX=") {
        let digits: String = raw[i + 4..]
            .chars()
            .take_while(char::is_ascii_digit)
            .collect();
        if digits.len() > 7 || digits.parse::<u64>().is_ok_and(|n| n > MAX_IDX) {
            return Err(bad("dictionary index too large"));
        }
    }
    let mut parser = vcf::header::Parser::default();
    let mut maps = vcf::header::StringMaps::default();
    for line in raw.split('\n') {
        let line = line.trim_end_matches(['\0', '\r']);
        if line.is_empty() {
            continue;
        }
        let entry = parser
            .parse_partial(line.as_bytes())
            .map_err(|_| bad("header line"))?;
        maps.insert_entry(&entry).map_err(|_| bad("header map"))?;
    }
    let mut header = parser.finish().map_err(|_| bad("header"))?;
    *header.string_maps_mut() = maps;
    Ok(header)
}
