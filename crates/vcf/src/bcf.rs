//! BCF 2.2 records (SAM/VCF specs, BCF2 §6.3) to VCF text lines.
//!
//! The crate decodes the record bytes itself, with the header's string maps
//! from noodles: noodles' lazy BCF sample accessors panic (`expect`, `todo!`)
//! on malformed sample data, and its VCF writer formats a record at about
//! 8 µs. Every length here is checked against the bytes present. For calls
//! and sites only CHROM, POS, REF, ALT, FILTER, the INFO and FORMAT keys the
//! reader uses are written; for extracts every field. Values that would break
//! the line (tabs, line ends, `;`/`:`/`,` inside values) are percent-encoded
//! as VCF 4.3 §1.2 allows.

use std::fmt::Write as _;
use std::io;

use noodles_vcf as vcf;

/// INFO keys the reader needs for calls and sites.
const INFO_KEYS: [&str; 4] = ["SOMATIC", "CSQ", "ANN", "END"];
/// FORMAT keys the reader needs for calls.
const FORMAT_KEYS: [&str; 10] = ["GT", "AD", "DP", "AF", "AU", "CU", "GU", "TU", "TAR", "TIR"];

fn invalid(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, format!("invalid BCF {what}"))
}

/// A typed value's element type (BCF2 §6.3.3).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Ty {
    Missing,
    I8,
    I16,
    I32,
    F32,
    Char,
}

impl Ty {
    fn width(self) -> usize {
        match self {
            Ty::Missing => 0,
            Ty::I8 | Ty::Char => 1,
            Ty::I16 => 2,
            Ty::I32 | Ty::F32 => 4,
        }
    }
}

/// A cursor over record bytes.
struct Cur<'a>(&'a [u8]);

impl<'a> Cur<'a> {
    fn take(&mut self, n: usize) -> io::Result<&'a [u8]> {
        if n > self.0.len() {
            return Err(invalid("record (truncated)"));
        }
        let (a, b) = self.0.split_at(n);
        self.0 = b;
        Ok(a)
    }

    fn u8(&mut self) -> io::Result<u8> {
        Ok(self.take(1)?[0])
    }

    fn i32(&mut self) -> io::Result<i32> {
        let b = self.take(4)?;
        Ok(i32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    /// A type descriptor: element type and count.
    fn descriptor(&mut self) -> io::Result<(Ty, usize)> {
        let b = self.u8()?;
        let ty = match b & 0x0f {
            0 => Ty::Missing,
            1 => Ty::I8,
            2 => Ty::I16,
            3 => Ty::I32,
            5 => Ty::F32,
            7 => Ty::Char,
            _ => return Err(invalid("type")),
        };
        let mut n = usize::from(b >> 4);
        if n == 15 {
            n = usize::try_from(self.typed_int()?).map_err(|_| invalid("length"))?;
        }
        Ok((ty, n))
    }

    /// A single typed integer (a count, or a dictionary index).
    fn typed_int(&mut self) -> io::Result<i64> {
        let (ty, n) = self.descriptor()?;
        if n != 1 {
            return Err(invalid("integer"));
        }
        let b = self.take(ty.width())?;
        match ty {
            Ty::I8 => Ok(i64::from(b[0] as i8)),
            Ty::I16 => Ok(i64::from(i16::from_le_bytes([b[0], b[1]]))),
            Ty::I32 => Ok(i64::from(i32::from_le_bytes([b[0], b[1], b[2], b[3]]))),
            _ => Err(invalid("integer")),
        }
    }

    /// A typed vector: its type, count and bytes.
    fn typed(&mut self) -> io::Result<(Ty, usize, &'a [u8])> {
        let (ty, n) = self.descriptor()?;
        let len = n.checked_mul(ty.width()).ok_or_else(|| invalid("length"))?;
        Ok((ty, n, self.take(len)?))
    }
}

/// One decoded element: `None` for missing, `Err(())` for end of vector.
enum Elem {
    Int(i32),
    Float(f32),
    Missing,
    End,
}

fn elem(ty: Ty, b: &[u8]) -> Elem {
    match ty {
        Ty::I8 => match b[0] {
            0x80 => Elem::Missing,
            0x81 => Elem::End,
            v => Elem::Int(i32::from(v as i8)),
        },
        Ty::I16 => match i16::from_le_bytes([b[0], b[1]]) {
            i16::MIN => Elem::Missing,
            v if v == i16::MIN + 1 => Elem::End,
            v => Elem::Int(i32::from(v)),
        },
        Ty::I32 => match i32::from_le_bytes([b[0], b[1], b[2], b[3]]) {
            i32::MIN => Elem::Missing,
            v if v == i32::MIN + 1 => Elem::End,
            v => Elem::Int(v),
        },
        Ty::F32 => match u32::from_le_bytes([b[0], b[1], b[2], b[3]]) {
            0x7F80_0001 => Elem::Missing,
            0x7F80_0002 => Elem::End,
            v => Elem::Float(f32::from_bits(v)),
        },
        Ty::Missing | Ty::Char => Elem::Missing,
    }
}

/// Appends `s`, percent-encoding tabs, line ends and the bytes in `special`.
fn push_escaped(out: &mut String, s: &str, special: &[char]) {
    for c in s.chars() {
        if c == '\t' || c == '\n' || c == '\r' || special.contains(&c) {
            let _ = write!(out, "%{:02X}", c as u32);
        } else {
            out.push(c);
        }
    }
}

/// A typed value as VCF text: numbers joined by `,` (`.` when missing,
/// stopping at end-of-vector), characters as a NUL-trimmed string.
fn push_value(out: &mut String, ty: Ty, n: usize, b: &[u8], special: &[char]) {
    if ty == Ty::Char {
        let end = b.iter().position(|&c| c == 0).unwrap_or(b.len());
        let s = String::from_utf8_lossy(&b[..end]);
        if s.is_empty() {
            out.push('.');
        } else {
            push_escaped(out, &s, special);
        }
        return;
    }
    let w = ty.width();
    let mut written = 0;
    for i in 0..n {
        let e = elem(ty, &b[i * w..(i + 1) * w]);
        if matches!(e, Elem::End) {
            break;
        }
        if written > 0 {
            out.push(',');
        }
        written += 1;
        match e {
            Elem::Int(v) => {
                let _ = write!(out, "{v}");
            }
            Elem::Float(f) => {
                let _ = write!(out, "{f}");
            }
            _ => out.push('.'),
        }
    }
    if written == 0 {
        out.push('.');
    }
}

/// A genotype vector: `(allele + 1) << 1 | phased` per copy (BCF2 §6.3.3).
fn push_genotype(out: &mut String, ty: Ty, n: usize, b: &[u8]) -> io::Result<()> {
    let w = ty.width();
    if !matches!(ty, Ty::I8 | Ty::I16 | Ty::I32) {
        return Err(invalid("genotype type"));
    }
    let mut written = 0;
    for i in 0..n {
        let v = match elem(ty, &b[i * w..(i + 1) * w]) {
            Elem::End => break,
            Elem::Missing => {
                if written == 0 {
                    out.push('.');
                    written += 1;
                }
                continue;
            }
            Elem::Int(v) => v,
            Elem::Float(_) => return Err(invalid("genotype")),
        };
        if written > 0 {
            out.push(if v & 1 == 1 { '|' } else { '/' });
        }
        written += 1;
        match (v >> 1) - 1 {
            a if a < 0 => out.push('.'),
            a => {
                let _ = write!(out, "{a}");
            }
        }
    }
    if written == 0 {
        out.push('.');
    }
    Ok(())
}

/// Writes a BCF record (both lengths and both parts, as framed by the
/// reader) as one VCF data line into `out`.
pub(crate) fn to_text(
    header: &vcf::Header,
    frame: &[u8],
    full: bool,
    out: &mut String,
) -> io::Result<()> {
    out.clear();
    let maps = header.string_maps();
    let name = |i: i64| -> io::Result<&str> {
        usize::try_from(i)
            .ok()
            .and_then(|i| maps.strings().get_index(i))
            .ok_or_else(|| invalid("dictionary index"))
    };
    let mut head = Cur(frame);
    let l_shared = usize::try_from(u32::from_le_bytes(
        head.take(4)?.try_into().map_err(|_| invalid("length"))?,
    ))
    .map_err(|_| invalid("length"))?;
    head.take(4)?;
    let shared = head.take(l_shared)?;
    let indiv = head.0;
    let mut c = Cur(shared);
    let chrom = usize::try_from(c.i32()?)
        .ok()
        .and_then(|i| maps.contigs().get_index(i))
        .ok_or_else(|| invalid("contig index"))?;
    push_escaped(out, chrom, &[]);
    let pos = i64::from(c.i32()?) + 1;
    let _ = write!(out, "\t{pos}\t");
    let _rlen = c.i32()?;
    let qual = c.take(4)?;
    let n_info = usize::from(u16::from_le_bytes([c.u8()?, c.u8()?]));
    let n_allele = usize::from(u16::from_le_bytes([c.u8()?, c.u8()?]));
    let s = c.take(4)?;
    let n_sample = u32::from_le_bytes([s[0], s[1], s[2], 0]) as usize;
    let n_fmt = usize::from(s[3]);
    let (ty, n, id) = c.typed()?;
    if full && ty == Ty::Char {
        push_value(out, ty, n, id, &[]);
    } else {
        out.push('.');
    }
    out.push('\t');
    for a in 0..n_allele {
        let (ty, n, b) = c.typed()?;
        if ty != Ty::Char && n > 0 {
            return Err(invalid("allele"));
        }
        match a {
            0 => {}
            1 => out.push('\t'),
            _ => out.push(','),
        }
        push_value(out, Ty::Char, n, b, &[',']);
    }
    if n_allele == 0 {
        return Err(invalid("allele count"));
    }
    if n_allele == 1 {
        out.push_str("\t.");
    }
    out.push('\t');
    match elem(Ty::F32, qual) {
        Elem::Float(q) if full => {
            let _ = write!(out, "{q}");
        }
        _ => out.push('.'),
    }
    out.push('\t');
    let (ty, n, filters) = c.typed()?;
    let mut any = false;
    if ty != Ty::Missing && n > 0 {
        if !matches!(ty, Ty::I8 | Ty::I16 | Ty::I32) {
            return Err(invalid("filter"));
        }
        for i in 0..n {
            if let Elem::Int(k) = elem(ty, &filters[i * ty.width()..(i + 1) * ty.width()]) {
                if any {
                    out.push(';');
                }
                any = true;
                push_escaped(out, name(i64::from(k))?, &[';']);
            }
        }
    }
    if !any {
        out.push('.');
    }
    out.push('\t');
    let mut any = false;
    for _ in 0..n_info {
        let key = name(c.typed_int()?)?;
        let (ty, n, b) = c.typed()?;
        if !full && !INFO_KEYS.contains(&key) {
            continue;
        }
        if any {
            out.push(';');
        }
        any = true;
        push_escaped(out, key, &[';', '=']);
        if ty != Ty::Missing && n > 0 {
            out.push('=');
            push_value(out, ty, n, b, &[';']);
        }
    }
    if !any {
        out.push('.');
    }
    let n_columns = header.sample_names().len();
    if n_columns == 0 {
        return Ok(());
    }
    if n_sample != n_columns {
        return Err(invalid("sample count"));
    }
    let mut c = Cur(indiv);
    let mut series = Vec::with_capacity(n_fmt);
    for _ in 0..n_fmt {
        let key = name(c.typed_int()?)?;
        let (ty, n) = c.descriptor()?;
        let len = n
            .checked_mul(ty.width())
            .and_then(|l| l.checked_mul(n_sample))
            .ok_or_else(|| invalid("length"))?;
        let b = c.take(len)?;
        if full || FORMAT_KEYS.contains(&key) {
            series.push((key, ty, n, b));
        }
    }
    out.push('\t');
    if series.is_empty() {
        out.push('.');
    }
    for (i, (key, ..)) in series.iter().enumerate() {
        if i > 0 {
            out.push(':');
        }
        push_escaped(out, key, &[':']);
    }
    for s in 0..n_sample {
        out.push('\t');
        if series.is_empty() {
            out.push('.');
        }
        for (k, &(key, ty, n, b)) in series.iter().enumerate() {
            if k > 0 {
                out.push(':');
            }
            let size = n * ty.width();
            let v = &b[s * size..(s + 1) * size];
            if key == "GT" {
                push_genotype(out, ty, n, v)?;
            } else {
                push_value(out, ty, n, v, &[':', ',']);
            }
        }
    }
    Ok(())
}
