//! Clean Pixel Data (PS3.15 E.3.1) for objects with burned-in text, a
//! detector that refuses what no rule covers, and the face policy (PS3.15
//! E.3.2).
//!
//! [`PixelCleaner::clean`] takes one object:
//! 1. [`burned_in_risk`] decides whether it needs cleaning at all
//!    (ultrasound, secondary capture, screen captures, Burned In
//!    Annotation YES); if not: [`PixelOutcome::NotNeeded`];
//! 2. the rule table ([`rules`], `pixels/regions.json` by default) gives
//!    the rectangles this device prints text into at this image size; they
//!    are set to black in every frame of native pixel data (8/16 bits,
//!    signed or not, MONOCHROME1/2, RGB and YBR_FULL in either planar
//!    configuration, any number of frames);
//! 3. the text detector (below) looks for text left in every frame; text
//!    outside the cleaned regions refuses the object
//!    ([`PixelRefusal::UncoveredText`]), so the node quarantines it rather
//!    than release it;
//! 4. after cleaning, Burned In Annotation is set to NO and the CID 7050
//!    code 113101 (Clean Pixel Data Option) is added to the
//!    De-identification Method Code Sequence.
//!
//! Run it after [`crate::Deidentifier::deidentify`]: the de-identifier
//! writes the method attributes anew from its options, and the pixel
//! cleaner adds its code to what it finds.
//!
//! Compressed (encapsulated) pixel data is refused
//! ([`PixelRefusal::Encapsulated`]): decoding JPEG, JPEG 2000, JPEG-LS or
//! RLE needs codec crates (dicom-pixeldata with OpenJPEG, charls, or
//! libjpeg bindings) that this crate does not compile, and re-encoding
//! after cleaning would need them again; the node quarantines such objects
//! until a site converts them to a native transfer syntax.
//!
//! Reports hold counts and rectangles, never pixel values or text.
//!
//! # The text detector
//!
//! Lines of glyph-sized, high-contrast connected components. Per frame:
//! 1. a histogram of how bright each pixel displays (0–255; the brightest
//!    colour sample of RGB, so coloured text counts); its median is the
//!    background. On a bright background (median above 160: documents,
//!    screenshots) the detector looks for dark text instead, by reading
//!    brightness inverted;
//! 2. the extreme: the brightest level that at least [`MIN_EXTREME`]
//!    pixels reach. Text is burned in at or near the extreme (white, or a
//!    saturated colour); a frame whose extreme is less than
//!    [`MIN_CONTRAST`] above the background has no text to find;
//! 3. binarisation at a quarter of the way down from the extreme to the
//!    background into a label buffer, and 8-connected components by flood
//!    fill over it (two passes over the pixels in all: the histogram and
//!    the binarisation; the label buffer and the fill stack are reused
//!    across frames; no allocation per pixel);
//! 4. glyphs: components [`MIN_GLYPH`]–[`MAX_GLYPH`] pixels high, at most
//!    four times as wide as high, not solid blocks, standing out from their
//!    surroundings (the ring two pixels outside their box is on average at
//!    most a third of the way from the background to the threshold), which
//!    tells strokes on a plain background from speckle, whose bright spots
//!    fade into bright surroundings;
//! 5. lines: glyphs of similar height (ratio at most 2) that overlap
//!    vertically by half the smaller height, each within 1.5 heights of
//!    the previous one; a line of three glyphs or more (a glyph as wide as
//!    several counts as several) is text.
//!
//! What it catches: printed labels, names, dates and numbers in any font
//! of 7 pt or more at typical ultrasound and screenshot resolutions, on a
//! plain or dark background, in white, grey or colour; dark text on a
//! light page.
//!
//! What it can miss: text of one or two characters; text smaller than
//! [`MIN_GLYPH`] pixels or larger than [`MAX_GLYPH`]; text whose brightness
//! is not near the frame's extreme (grey text in an image that also holds
//! white); text written over busy image content (its surroundings are not
//! plain); vertical or strongly rotated text; handwriting whose letters are
//! joined into components wider than four heights. And it errs the other
//! way too: rulers, tick marks and dotted callipers in a row look like text,
//! and the object is then refused, which is the safe side.
//!
//! Measured on the test fixtures (`tests/pixels_peers.rs`): text of 9 to
//! 48 pixels, white, yellow or grey, on the dark background of a
//! 720x540 frame is found; two characters, and 18-pixel text drawn over
//! the speckled sector, are not; plain frames at three sizes and six seeds,
//! with speckle saturating at white, give no text. A 720x540 frame takes
//! about 0.1–0.2 s in a debug build; the pydicom wheel's GE ultrasound
//! (`examples_rgb_color.dcm`, institution and time burned in) is refused.

mod detect;
mod face;
mod layout;
mod need;
pub mod rules;

pub use detect::{MAX_GLYPH, MIN_CONTRAST, MIN_EXTREME, MIN_GLYPH, TextLine};
pub use face::recognisable_face_risk;
pub use need::{BurnedInRisk, burned_in_risk};
pub use rules::{Rule, RulesError};

use dicom_core::Tag;
use dicom_core::value::{PrimitiveValue, Value};
use dicom_object::{FileDicomObject, InMemDicomObject};
use dicom_transfer_syntax_registry::{TransferSyntaxIndex, TransferSyntaxRegistry};
use layout::{Layout, Samples};
use std::path::Path;

/// Explicit VR Big Endian (retired), the one native syntax with words in
/// big-endian order.
const EXPLICIT_VR_BIG_ENDIAN: &str = "1.2.840.10008.1.2.2";

/// The rule table compiled into the crate (`pixels/regions.json`).
pub const DEFAULT_RULES: &str = include_str!("../pixels/regions.json");

/// A rectangle in pixel coordinates: `x`, `y` of its top-left pixel, its
/// width and height. In rule tables: `[x, y, width, height]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(from = "[usize; 4]", into = "[usize; 4]")]
pub struct Region {
    /// Column of the left edge.
    pub x: usize,
    /// Row of the top edge.
    pub y: usize,
    /// Width in pixels.
    pub width: usize,
    /// Height in pixels.
    pub height: usize,
}

impl Region {
    /// The rectangle at (`x`, `y`) of `width` × `height` pixels.
    pub const fn new(x: usize, y: usize, width: usize, height: usize) -> Self {
        Self {
            x,
            y,
            width,
            height,
        }
    }

    /// Whether `other` lies wholly inside this rectangle.
    pub fn contains(&self, other: &Region) -> bool {
        other.x >= self.x
            && other.y >= self.y
            && other.x.saturating_add(other.width) <= self.x.saturating_add(self.width)
            && other.y.saturating_add(other.height) <= self.y.saturating_add(self.height)
    }

    /// The part inside a `columns` × `rows` image, if any.
    fn clip(self, columns: usize, rows: usize) -> Option<Region> {
        let right = self.x.saturating_add(self.width).min(columns);
        let bottom = self.y.saturating_add(self.height).min(rows);
        (self.x < right && self.y < bottom)
            .then(|| Region::new(self.x, self.y, right - self.x, bottom - self.y))
    }
}

impl From<[usize; 4]> for Region {
    fn from([x, y, width, height]: [usize; 4]) -> Self {
        Self::new(x, y, width, height)
    }
}

impl From<Region> for [usize; 4] {
    fn from(r: Region) -> Self {
        [r.x, r.y, r.width, r.height]
    }
}

impl std::fmt::Display for Region {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{},{},{},{}", self.x, self.y, self.width, self.height)
    }
}

/// What cleaning did to an object that may be released.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub enum PixelOutcome {
    /// The object does not need Clean Pixel Data (CT, MR… without burned-in
    /// annotation); untouched.
    NotNeeded,
    /// Regions were blanked and no text is left; Burned In Annotation is NO
    /// and the Clean Pixel Data code is recorded.
    Cleaned {
        /// Why the object needed cleaning.
        risk: BurnedInRisk,
        /// The rules that matched, by name.
        rules: Vec<String>,
        /// The regions blanked (in every frame).
        regions: Vec<Region>,
        /// Frames cleaned and checked.
        frames: usize,
        /// Pixels blanked per frame.
        pixels: usize,
    },
    /// The object needed cleaning, no rule matched, and the detector found
    /// no text in any frame; the pixels and markers are unchanged.
    NoTextFound {
        /// Why the object needed cleaning.
        risk: BurnedInRisk,
        /// Frames checked.
        frames: usize,
    },
}

/// What is wrong with the pixel data or its description.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, thiserror::Error)]
pub enum Malformed {
    /// A required attribute of the Image Pixel Module is absent.
    #[error("{0} is missing")]
    Missing(&'static str),
    /// An attribute is not a number in its allowed range.
    #[error("{0} is not a valid number")]
    NotANumber(&'static str),
    /// Rows, Columns or Number of Frames is zero.
    #[error("the image has no pixels (rows, columns or frames is 0)")]
    Empty,
    /// Bits Stored is 0 or more than Bits Allocated.
    #[error("Bits Stored is 0 or exceeds Bits Allocated")]
    BitsStored,
    /// The sizes multiply past what memory can index.
    #[error("rows × columns × samples × frames overflows")]
    TooLarge,
    /// The pixel data holds fewer samples than the header describes.
    #[error("pixel data holds {found} samples, the header describes {expected}")]
    Truncated {
        /// Samples the header describes.
        expected: usize,
        /// Samples present.
        found: usize,
    },
    /// Pixel Data has a value the cleaner cannot read as samples.
    #[error("Pixel Data is neither bytes nor 16-bit words")]
    Value,
}

/// Why an object that needs Clean Pixel Data cannot be released; the node
/// quarantines it with this reason.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, thiserror::Error)]
pub enum PixelRefusal {
    /// The pixel data is compressed and no decoder is compiled in.
    #[error(
        "pixel data is compressed (transfer syntax {transfer_syntax}); it cannot be cleaned without a decoder, convert it to a native transfer syntax"
    )]
    Encapsulated {
        /// The transfer syntax UID.
        transfer_syntax: String,
    },
    /// A layout the cleaner does not blank (palette colour, 32-bit…).
    #[error("{attribute} {value} is not supported by the pixel cleaner")]
    Unsupported {
        /// The attribute.
        attribute: &'static str,
        /// Its value (a header value such as "PALETTE COLOR", never personal).
        value: String,
    },
    /// Float or double pixel data (no burned-in text convention, not read).
    #[error("float pixel data is not supported by the pixel cleaner")]
    FloatPixelData,
    /// The pixel data or its description is malformed.
    #[error("malformed pixel data: {0}")]
    Malformed(Malformed),
    /// Text was found that no rule covered.
    #[error(
        "burned-in text at {region} (frame {frame}) that no rule covers; {lines} text-like line(s) in that frame"
    )]
    UncoveredText {
        /// The first such line's box.
        region: Region,
        /// Its frame (0-based).
        frame: usize,
        /// Text-like lines outside every cleaned region in that frame.
        lines: usize,
    },
}

/// Clean Pixel Data with a rule table and the text detector.
#[derive(Debug, Clone)]
pub struct PixelCleaner {
    rules: Vec<Rule>,
}

impl PixelCleaner {
    /// A cleaner with the rule table compiled into the crate
    /// (`pixels/regions.json`; a unit test loads it).
    pub fn default_rules() -> Self {
        Self::from_rules(DEFAULT_RULES, "regions.json (built in)")
            .expect("the built-in rule table is checked by a unit test")
    }

    /// A cleaner with the rule table `json`; `file` names it in errors.
    pub fn from_rules(json: &str, file: &str) -> Result<Self, RulesError> {
        Ok(Self {
            rules: rules::parse(json, file)?,
        })
    }

    /// A cleaner with the rule table at `path` (a site's own table).
    pub fn from_file(path: &Path) -> Result<Self, RulesError> {
        Ok(Self {
            rules: rules::load(path)?,
        })
    }

    /// The rules.
    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    /// Cleans `file` in place (see the module docs); on refusal the pixel
    /// data may be partly blanked and the object must not be released.
    pub fn clean(
        &self,
        file: &mut FileDicomObject<InMemDicomObject>,
    ) -> Result<PixelOutcome, PixelRefusal> {
        let ts = file
            .meta()
            .transfer_syntax()
            .trim_end_matches(['\0', ' '])
            .to_owned();
        let class = file.meta().media_storage_sop_class_uid().to_owned();
        let obj: &mut InMemDicomObject = file;
        let Some(risk) = burned_in_risk(obj, Some(&class)) else {
            return Ok(PixelOutcome::NotNeeded);
        };
        if obj.get(Tag(0x7FE0, 0x0008)).is_some() || obj.get(Tag(0x7FE0, 0x0009)).is_some() {
            return Err(PixelRefusal::FloatPixelData);
        }
        let Some(pixel_data) = obj.get(Tag(0x7FE0, 0x0010)) else {
            // No pixels, no burned-in text.
            return Ok(PixelOutcome::NotNeeded);
        };
        let syntax = TransferSyntaxRegistry.get(&ts);
        let encapsulated = matches!(pixel_data.value(), Value::PixelSequence(_))
            || syntax.is_some_and(|s| s.is_encapsulated_pixel_data());
        if encapsulated {
            return Err(PixelRefusal::Encapsulated {
                transfer_syntax: ts,
            });
        }
        let big_endian = ts == EXPLICIT_VR_BIG_ENDIAN;
        let layout = Layout::read(obj)?;
        let device = rules::Device::read(obj);
        let matched: Vec<&Rule> = self
            .rules
            .iter()
            .filter(|r| r.matches(&device, layout.columns, layout.rows))
            .collect();
        let regions: Vec<Region> = matched
            .iter()
            .flat_map(|r| r.regions.iter().copied())
            .collect();
        let mut result = Err(PixelRefusal::Malformed(Malformed::Value));
        obj.update_value(Tag(0x7FE0, 0x0010), |value| {
            result = with_samples(value, &layout, big_endian, |samples| {
                let pixels = regions
                    .iter()
                    .map(|&r| layout.blank(samples, r))
                    .sum::<usize>();
                check_text(&layout, samples, &regions)?;
                Ok(pixels)
            });
        });
        let pixels = result?;
        if matched.is_empty() {
            return Ok(PixelOutcome::NoTextFound {
                risk,
                frames: layout.frames,
            });
        }
        crate::markers::record_clean_pixel_data(obj);
        Ok(PixelOutcome::Cleaned {
            risk,
            rules: matched.iter().map(|r| r.name.clone()).collect(),
            regions,
            frames: layout.frames,
            pixels,
        })
    }

    /// The text lines the detector finds in `file`'s pixels as they are
    /// (no rule applied): for reviewing a quarantined object or writing a
    /// rule. Needs native pixel data.
    pub fn find_text(
        file: &mut FileDicomObject<InMemDicomObject>,
    ) -> Result<Vec<TextLine>, PixelRefusal> {
        let ts = file
            .meta()
            .transfer_syntax()
            .trim_end_matches(['\0', ' '])
            .to_owned();
        let syntax = TransferSyntaxRegistry.get(&ts);
        if syntax.is_some_and(|s| s.is_encapsulated_pixel_data()) {
            return Err(PixelRefusal::Encapsulated {
                transfer_syntax: ts,
            });
        }
        let big_endian = ts == EXPLICIT_VR_BIG_ENDIAN;
        let obj: &mut InMemDicomObject = file;
        let layout = Layout::read(obj)?;
        let mut result = Err(PixelRefusal::Malformed(Malformed::Missing("Pixel Data")));
        obj.update_value(Tag(0x7FE0, 0x0010), |value| {
            result = with_samples(value, &layout, big_endian, |samples| {
                let mut scratch = detect::Scratch::default();
                Ok((0..layout.frames)
                    .flat_map(|f| detect::find_text(&layout, samples, f, &mut scratch))
                    .collect())
            });
        });
        result
    }
}

/// Text lines outside every cleaned region refuse the object.
fn check_text(
    layout: &Layout,
    samples: &Samples<'_>,
    cleaned: &[Region],
) -> Result<(), PixelRefusal> {
    let mut scratch = detect::Scratch::default();
    for frame in 0..layout.frames {
        let uncovered: Vec<TextLine> = detect::find_text(layout, samples, frame, &mut scratch)
            .into_iter()
            .filter(|line| !cleaned.iter().any(|r| r.contains(&line.region)))
            .collect();
        if let Some(first) = uncovered.first() {
            return Err(PixelRefusal::UncoveredText {
                region: first.region,
                frame,
                lines: uncovered.len(),
            });
        }
    }
    Ok(())
}

/// Runs `f` on the samples of a native Pixel Data value, after checking
/// that it holds as many samples as `layout` describes.
fn with_samples<T>(
    value: &mut Value<InMemDicomObject, dicom_object::mem::InMemFragment>,
    layout: &Layout,
    big_endian: bool,
    f: impl FnOnce(&mut Samples<'_>) -> Result<T, PixelRefusal>,
) -> Result<T, PixelRefusal> {
    let mut samples = match (value, layout.bits_allocated) {
        (Value::Primitive(PrimitiveValue::U8(bytes)), 8) => Samples::Bytes(bytes.as_mut_slice()),
        (Value::Primitive(PrimitiveValue::U8(bytes)), _) => Samples::WordsInBytes {
            bytes: bytes.as_mut_slice(),
            big_endian,
        },
        (Value::Primitive(PrimitiveValue::U16(words)), 8) => Samples::BytesInWords {
            words: words.as_mut_slice(),
            big_endian,
        },
        (Value::Primitive(PrimitiveValue::U16(words)), _) => Samples::Words(words.as_mut_slice()),
        (Value::PixelSequence(_), _) => {
            return Err(PixelRefusal::Encapsulated {
                transfer_syntax: "encapsulated".into(),
            });
        }
        _ => return Err(PixelRefusal::Malformed(Malformed::Value)),
    };
    let (_, expected) = layout.sample_count()?;
    if samples.len() < expected {
        return Err(PixelRefusal::Malformed(Malformed::Truncated {
            expected,
            found: samples.len(),
        }));
    }
    f(&mut samples)
}
