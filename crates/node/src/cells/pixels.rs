//! Pixels in, pixels out: decode a lab's PNG, JPEG or TIFF, crop the cell's
//! box, and re-encode the pixels alone as PNG. The output carries no chunk but
//! the image header, data and end (no tEXt/iTXt/zTXt, no eXIf, no ICC profile,
//! no time stamp), so names or dates a lab's software wrote into the file's
//! metadata never reach the archive.

use image::{DynamicImage, ImageEncoder, ImageFormat, ImageReader, RgbImage};
use std::io::Cursor;

/// A crop box in pixels within the whole-field image (VOC-style, x/y the top
/// left corner).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CropBox {
    /// Left edge.
    pub x: u32,
    /// Top edge.
    pub y: u32,
    /// Width (at least 1).
    pub width: u32,
    /// Height (at least 1).
    pub height: u32,
}

/// A re-encoded cell image.
#[derive(Debug, Clone)]
pub struct CleanPng {
    /// The PNG bytes (8-bit RGB, no metadata).
    pub bytes: Vec<u8>,
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
}

/// Decodes `bytes` (PNG, JPEG or TIFF; other formats are refused), crops
/// `crop` if given, and re-encodes the RGB pixels as PNG. The error says what
/// is wrong without any pixel or metadata value.
pub fn clean(bytes: &[u8], crop: Option<CropBox>) -> Result<CleanPng, String> {
    crop_encode(&decode(bytes)?, crop)
}

/// Decodes `bytes` as PNG, JPEG or TIFF (other formats are refused). The
/// reader's default limits (512 MiB per allocation) refuse decompression bombs.
pub fn decode(bytes: &[u8]) -> Result<DynamicImage, String> {
    let reader = ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|e| format!("cannot read the file: {e}"))?;
    match reader.format() {
        Some(ImageFormat::Png | ImageFormat::Jpeg | ImageFormat::Tiff) => {}
        Some(other) => {
            return Err(format!(
                "{other:?} images are not accepted: export PNG, JPEG or TIFF"
            ));
        }
        None => return Err("not a PNG, JPEG or TIFF image".into()),
    }
    reader
        .decode()
        .map_err(|e| format!("the image does not decode: {e}"))
}

/// Crops `crop` out of `decoded` (the whole image without one) and encodes
/// the RGB pixels as PNG.
pub fn crop_encode(decoded: &DynamicImage, crop: Option<CropBox>) -> Result<CleanPng, String> {
    let (w, h) = (decoded.width(), decoded.height());
    let rgb: RgbImage = match crop {
        None => decoded.to_rgb8(),
        Some(b) => {
            let fits = b.width > 0
                && b.height > 0
                && b.x.checked_add(b.width).is_some_and(|r| r <= w)
                && b.y.checked_add(b.height).is_some_and(|r| r <= h);
            if !fits {
                return Err(format!(
                    "the crop box x={} y={} width={} height={} does not lie within the {w}×{h} image",
                    b.x, b.y, b.width, b.height
                ));
            }
            decoded.crop_imm(b.x, b.y, b.width, b.height).to_rgb8()
        }
    };
    if rgb.width() == 0 || rgb.height() == 0 {
        return Err("the image has no pixels".into());
    }
    Ok(CleanPng {
        bytes: encode(&rgb)?,
        width: rgb.width(),
        height: rgb.height(),
    })
}

/// PNG of `rgb` with nothing but IHDR, IDAT and IEND.
pub fn encode(rgb: &RgbImage) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    image::codecs::png::PngEncoder::new(&mut out)
        .write_image(
            rgb.as_raw(),
            rgb.width(),
            rgb.height(),
            image::ExtendedColorType::Rgb8,
        )
        .map_err(|e| format!("the cleaned image cannot be encoded: {e}"))?;
    Ok(out)
}

/// The chunk types of a PNG, in order (for checks that nothing but pixels is
/// kept); `None` if `bytes` is not a PNG.
pub fn png_chunks(bytes: &[u8]) -> Option<Vec<String>> {
    let mut rest = bytes.strip_prefix(b"\x89PNG\r\n\x1a\n")?;
    let mut out = Vec::new();
    while rest.len() >= 12 {
        let len = u32::from_be_bytes(rest[..4].try_into().ok()?) as usize;
        out.push(String::from_utf8_lossy(&rest[4..8]).into_owned());
        rest = rest.get(12 + len..)?;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn png_with_text(text: &str) -> Vec<u8> {
        let rgb = RgbImage::from_fn(8, 6, |x, y| image::Rgb([x as u8 * 30, y as u8 * 40, 99]));
        let clean = encode(&rgb).unwrap();
        // Insert a tEXt chunk after IHDR (8 signature + 25 IHDR bytes).
        let data = [b"Author\0".as_slice(), text.as_bytes()].concat();
        let mut chunk = (data.len() as u32).to_be_bytes().to_vec();
        chunk.extend_from_slice(b"tEXt");
        chunk.extend_from_slice(&data);
        let crc = crc(&[b"tEXt".as_slice(), &data].concat());
        chunk.extend_from_slice(&crc.to_be_bytes());
        [&clean[..33], &chunk, &clean[33..]].concat()
    }

    fn crc(bytes: &[u8]) -> u32 {
        let mut c = 0xffff_ffffu32;
        for &b in bytes {
            c ^= u32::from(b);
            for _ in 0..8 {
                c = if c & 1 == 1 {
                    0xedb8_8320 ^ (c >> 1)
                } else {
                    c >> 1
                };
            }
        }
        !c
    }

    #[test]
    fn text_chunks_are_dropped_and_pixels_kept() {
        let input = png_with_text("Erika Mustermann");
        assert!(png_chunks(&input).unwrap().contains(&"tEXt".to_owned()));
        let out = clean(&input, None).unwrap();
        assert_eq!(png_chunks(&out.bytes).unwrap(), ["IHDR", "IDAT", "IEND"]);
        assert!(!out.bytes.windows(6).any(|w| w == b"Erika "));
        let a = image::load_from_memory(&input).unwrap().to_rgb8();
        let b = image::load_from_memory(&out.bytes).unwrap().to_rgb8();
        assert_eq!(a, b);
    }

    #[test]
    fn crops_inside_the_image_and_refuses_boxes_outside() {
        let input = png_with_text("x");
        let cropped = clean(
            &input,
            Some(CropBox {
                x: 2,
                y: 1,
                width: 3,
                height: 4,
            }),
        )
        .unwrap();
        assert_eq!((cropped.width, cropped.height), (3, 4));
        let pixels = image::load_from_memory(&cropped.bytes).unwrap().to_rgb8();
        assert_eq!(pixels.get_pixel(0, 0).0, [60, 40, 99]);
        let outside = CropBox {
            x: 6,
            y: 0,
            width: 3,
            height: 1,
        };
        assert!(clean(&input, Some(outside)).unwrap_err().contains("8×6"));
        assert!(clean(b"GIF89a....", None).is_err());
        assert!(clean(b"not an image", None).is_err());
    }
}
