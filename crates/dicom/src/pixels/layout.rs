//! The geometry and encoding of native pixel data (PS3.3 C.7.6.3 Image
//! Pixel Module, PS3.5 8.1 and 8.2): where each sample lies, which value
//! renders black, and how bright a pixel looks, read from the header and
//! checked against the length of the pixel data before any sample is
//! touched.

use super::{Malformed, PixelRefusal, Region};
use dicom_core::Tag;
use dicom_object::InMemDicomObject;

/// The colour model of the stored samples (Photometric Interpretation,
/// (0028,0004)), for those the cleaner can blank.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Photometric {
    /// The minimum value is white.
    Monochrome1,
    /// The minimum value is black.
    Monochrome2,
    /// Red, green, blue.
    Rgb,
    /// Luminance and two colour differences, full resolution (black is
    /// Y = 0 with both differences at their midpoint).
    YbrFull,
}

/// The Image Pixel Module attributes of one object, validated.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Layout {
    pub rows: usize,
    pub columns: usize,
    pub samples_per_pixel: usize,
    /// 8 or 16.
    pub bits_allocated: u16,
    /// 1..=bits_allocated.
    pub bits_stored: u16,
    /// Pixel Representation 1: two's complement.
    pub signed: bool,
    pub photometric: Photometric,
    /// Planar Configuration 1: all samples of one colour plane, then the next.
    pub planar: bool,
    pub frames: usize,
}

/// The largest frame cleaned (the detector's label buffer takes four bytes
/// a pixel): 64 megapixels, beyond any ultrasound or screen capture.
const MAX_FRAME_PIXELS: u64 = 64 << 20;

fn uint(obj: &InMemDicomObject, tag: Tag, what: &'static str) -> Result<u32, PixelRefusal> {
    obj.get(tag)
        .ok_or(PixelRefusal::Malformed(Malformed::Missing(what)))?
        .value()
        .to_int::<u32>()
        .map_err(|_| PixelRefusal::Malformed(Malformed::NotANumber(what)))
}

fn text(obj: &InMemDicomObject, tag: Tag) -> Option<String> {
    let value = obj.get(tag)?.value().to_str().ok()?;
    Some(value.trim_matches(['\0', ' ']).to_ascii_uppercase())
}

impl Layout {
    /// Reads and checks the Image Pixel Module of `obj`.
    pub fn read(obj: &InMemDicomObject) -> Result<Self, PixelRefusal> {
        let rows = uint(obj, Tag(0x0028, 0x0010), "Rows")?;
        let columns = uint(obj, Tag(0x0028, 0x0011), "Columns")?;
        let samples = uint(obj, Tag(0x0028, 0x0002), "Samples per Pixel")?;
        let allocated = uint(obj, Tag(0x0028, 0x0100), "Bits Allocated")?;
        let stored = match obj.get(Tag(0x0028, 0x0101)) {
            Some(_) => uint(obj, Tag(0x0028, 0x0101), "Bits Stored")?,
            None => allocated,
        };
        let representation = match obj.get(Tag(0x0028, 0x0103)) {
            Some(_) => uint(obj, Tag(0x0028, 0x0103), "Pixel Representation")?,
            None => 0,
        };
        let frames = match text(obj, Tag(0x0028, 0x0008)) {
            None => 1,
            Some(t) if t.is_empty() => 1,
            Some(t) => t
                .parse::<u32>()
                .map_err(|_| PixelRefusal::Malformed(Malformed::NotANumber("Number of Frames")))?,
        };
        let photometric = text(obj, Tag(0x0028, 0x0004)).ok_or(PixelRefusal::Malformed(
            Malformed::Missing("Photometric Interpretation"),
        ))?;
        let unsupported = |attribute, value: String| PixelRefusal::Unsupported { attribute, value };
        if rows == 0 || columns == 0 || frames == 0 {
            return Err(PixelRefusal::Malformed(Malformed::Empty));
        }
        if u64::from(rows) * u64::from(columns) > MAX_FRAME_PIXELS {
            return Err(unsupported("Rows x Columns", format!("{rows}x{columns}")));
        }
        if allocated != 8 && allocated != 16 {
            return Err(unsupported("Bits Allocated", allocated.to_string()));
        }
        if stored == 0 || stored > allocated {
            return Err(PixelRefusal::Malformed(Malformed::BitsStored));
        }
        if representation > 1 {
            return Err(PixelRefusal::Malformed(Malformed::NotANumber(
                "Pixel Representation",
            )));
        }
        let photometric = match (photometric.as_str(), samples) {
            ("MONOCHROME1", 1) => Photometric::Monochrome1,
            ("MONOCHROME2", 1) => Photometric::Monochrome2,
            ("RGB", 3) => Photometric::Rgb,
            ("YBR_FULL", 3) => Photometric::YbrFull,
            ("MONOCHROME1" | "MONOCHROME2" | "RGB" | "YBR_FULL", _) => {
                return Err(unsupported("Samples per Pixel", samples.to_string()));
            }
            // PALETTE COLOR (black is whichever index the LUT makes darkest),
            // YBR_FULL_422 (two pixels share their colour samples) and the
            // rest: not blanked, so refused.
            _ => return Err(unsupported("Photometric Interpretation", photometric)),
        };
        let planar = if samples > 1 {
            match uint(obj, Tag(0x0028, 0x0006), "Planar Configuration")? {
                0 => false,
                1 => true,
                _ => {
                    return Err(PixelRefusal::Malformed(Malformed::NotANumber(
                        "Planar Configuration",
                    )));
                }
            }
        } else {
            false
        };
        let size =
            |v: u32| usize::try_from(v).map_err(|_| PixelRefusal::Malformed(Malformed::TooLarge));
        let layout = Self {
            rows: size(rows)?,
            columns: size(columns)?,
            samples_per_pixel: size(samples)?,
            bits_allocated: allocated as u16,
            bits_stored: stored as u16,
            signed: representation == 1,
            photometric,
            planar,
            frames: size(frames)?,
        };
        layout.sample_count()?;
        Ok(layout)
    }

    /// Samples in one frame, and in all frames (checked for overflow).
    pub fn sample_count(&self) -> Result<(usize, usize), PixelRefusal> {
        let frame = self
            .rows
            .checked_mul(self.columns)
            .and_then(|n| n.checked_mul(self.samples_per_pixel))
            .ok_or(PixelRefusal::Malformed(Malformed::TooLarge))?;
        let all = frame
            .checked_mul(self.frames)
            .ok_or(PixelRefusal::Malformed(Malformed::TooLarge))?;
        // The byte length must fit as well.
        all.checked_mul(usize::from(self.bits_allocated / 8))
            .ok_or(PixelRefusal::Malformed(Malformed::TooLarge))?;
        Ok((frame, all))
    }

    /// The index of sample `channel` of pixel (`x`, `y`) in `frame`.
    #[inline]
    pub fn index(&self, frame_start: usize, x: usize, y: usize, channel: usize) -> usize {
        if self.planar {
            frame_start + channel * self.rows * self.columns + y * self.columns + x
        } else {
            frame_start + (y * self.columns + x) * self.samples_per_pixel + channel
        }
    }

    /// The stored value (in `bits_allocated` bits, two's complement when
    /// signed) that renders black in `channel`.
    pub fn black(&self, channel: usize) -> u16 {
        let bits = u32::from(self.bits_stored);
        let max_unsigned = ((1u32 << bits) - 1) as u16;
        let half = (1u32 << (bits - 1)) as u16;
        match (self.photometric, self.signed) {
            // The minimum renders black: 0, or the most negative value.
            (Photometric::Monochrome2 | Photometric::Rgb, false) => 0,
            (Photometric::Monochrome2 | Photometric::Rgb, true) => self.to_stored(-i32::from(half)),
            // The maximum renders black.
            (Photometric::Monochrome1, false) => max_unsigned,
            (Photometric::Monochrome1, true) => self.to_stored(i32::from(half) - 1),
            (Photometric::YbrFull, _) if channel == 0 => 0,
            (Photometric::YbrFull, false) => half,
            (Photometric::YbrFull, true) => 0,
        }
    }

    /// A signed value as stored: two's complement in `bits_allocated` bits.
    fn to_stored(self, value: i32) -> u16 {
        let mask = if self.bits_allocated == 8 {
            0xFF
        } else {
            0xFFFF
        };
        (value as u32 & mask) as u16
    }

    /// How bright sample value `v` displays, 0 (black) to 255 (white), read
    /// with its bits stored; for the detector only (windowing is ignored).
    #[inline]
    pub fn brightness(&self, v: u16) -> u8 {
        let bits = u32::from(self.bits_stored);
        let mask = ((1u32 << bits) - 1) as u16;
        let mut v = u32::from(v & mask);
        if self.signed {
            // Sign bit flipped: the most negative value becomes 0.
            v ^= 1 << (bits - 1);
        }
        let v = if bits > 8 {
            v >> (bits - 8)
        } else {
            v << (8 - bits)
        } as u8;
        if self.photometric == Photometric::Monochrome1 {
            255 - v
        } else {
            v
        }
    }

    /// How bright pixel (`x`, `y`) of the frame starting at `frame_start`
    /// displays: the brightest colour sample of RGB (coloured text counts),
    /// the luminance of YBR.
    #[inline]
    pub fn pixel_brightness(&self, s: &Samples<'_>, frame_start: usize, x: usize, y: usize) -> u8 {
        match self.photometric {
            Photometric::Rgb => (0..3)
                .map(|c| self.brightness(s.get(self.index(frame_start, x, y, c))))
                .max()
                .unwrap_or(0),
            _ => self.brightness(s.get(self.index(frame_start, x, y, 0))),
        }
    }

    /// Sets every sample of `region` (clipped to the image) in every frame
    /// to black; returns the pixels blanked per frame.
    pub fn blank(&self, s: &mut Samples<'_>, region: Region) -> usize {
        let Some(r) = region.clip(self.columns, self.rows) else {
            return 0;
        };
        let frame_len = self.rows * self.columns * self.samples_per_pixel;
        for frame in 0..self.frames {
            let start = frame * frame_len;
            for c in 0..self.samples_per_pixel {
                let black = self.black(c);
                for y in r.y..r.y + r.height {
                    for x in r.x..r.x + r.width {
                        s.set(self.index(start, x, y, c), black);
                    }
                }
            }
        }
        r.width * r.height
    }
}

/// The samples of native pixel data as dicom-rs holds them in memory: bytes
/// (OB) or 16-bit words (OW, already in the machine's order), each holding
/// 8- or 16-bit samples. Indexing is checked by the caller against
/// [`Layout::sample_count`].
pub(crate) enum Samples<'a> {
    /// 8-bit samples, one per byte.
    Bytes(&'a mut [u8]),
    /// 8-bit samples packed two per word (OW), in the transfer syntax's byte order.
    BytesInWords {
        words: &'a mut [u16],
        big_endian: bool,
    },
    /// 16-bit samples, one per word.
    Words(&'a mut [u16]),
    /// 16-bit samples in bytes (OB), in the transfer syntax's byte order.
    WordsInBytes {
        bytes: &'a mut [u8],
        big_endian: bool,
    },
}

impl Samples<'_> {
    /// How many samples the buffer holds.
    pub fn len(&self) -> usize {
        match self {
            Self::Bytes(b) => b.len(),
            Self::BytesInWords { words, .. } => words.len() * 2,
            Self::Words(w) => w.len(),
            Self::WordsInBytes { bytes, .. } => bytes.len() / 2,
        }
    }

    #[inline]
    pub fn get(&self, i: usize) -> u16 {
        match self {
            Self::Bytes(b) => u16::from(b[i]),
            Self::BytesInWords { words, big_endian } => {
                let shift = if (i % 2 == 1) != *big_endian { 8 } else { 0 };
                (words[i / 2] >> shift) & 0xFF
            }
            Self::Words(w) => w[i],
            Self::WordsInBytes { bytes, big_endian } => {
                let pair = [bytes[2 * i], bytes[2 * i + 1]];
                if *big_endian {
                    u16::from_be_bytes(pair)
                } else {
                    u16::from_le_bytes(pair)
                }
            }
        }
    }

    #[inline]
    pub fn set(&mut self, i: usize, v: u16) {
        match self {
            Self::Bytes(b) => b[i] = v as u8,
            Self::BytesInWords { words, big_endian } => {
                let shift = if (i % 2 == 1) != *big_endian { 8 } else { 0 };
                let w = &mut words[i / 2];
                *w = (*w & !(0xFF << shift)) | ((v & 0xFF) << shift);
            }
            Self::Words(w) => w[i] = v,
            Self::WordsInBytes { bytes, big_endian } => {
                let pair = if *big_endian {
                    v.to_be_bytes()
                } else {
                    v.to_le_bytes()
                };
                bytes[2 * i] = pair[0];
                bytes[2 * i + 1] = pair[1];
            }
        }
    }
}
