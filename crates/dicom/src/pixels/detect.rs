//! The burned-in text detector; what it does, catches and misses is in
//! the `pixels` module docs ("The text detector").

use super::Region;
use super::layout::{Layout, Samples};

/// Pixels that must reach a level for it to count as the extreme (hot
/// pixels and single-pixel noise do not set the threshold).
pub const MIN_EXTREME: usize = 20;
/// The least difference between the extreme and the background (of 255)
/// for text to be looked for at all.
pub const MIN_CONTRAST: u8 = 48;
/// The least height of a glyph in pixels (about 7 pt text at 96 dpi).
pub const MIN_GLYPH: usize = 5;
/// The greatest height of a glyph in pixels.
pub const MAX_GLYPH: usize = 64;
/// Glyph-equivalents for a line to count as text.
const MIN_LINE: usize = 3;

/// A line of text found in one frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TextLine {
    /// The frame (0-based).
    pub frame: usize,
    /// The line's box, two pixels of margin included.
    pub region: Region,
    /// Glyph-equivalents on the line.
    pub glyphs: usize,
}

#[derive(Debug, Clone, Copy)]
struct Glyph {
    x0: usize,
    y0: usize,
    x1: usize, // inclusive
    y1: usize, // inclusive
}

impl Glyph {
    fn height(&self) -> usize {
        self.y1 - self.y0 + 1
    }
    fn width(&self) -> usize {
        self.x1 - self.x0 + 1
    }
    /// How many characters a component of this shape stands for.
    fn equivalents(&self) -> usize {
        (self.width() * 10 / (self.height() * 7)).max(1)
    }
}

/// Buffers reused across frames.
#[derive(Default)]
pub(crate) struct Scratch {
    labels: Vec<u32>,
    stack: Vec<u32>,
    glyphs: Vec<Glyph>,
}

const BACKGROUND: u32 = u32::MAX;

/// The text lines in `frame`.
pub(crate) fn find_text(
    layout: &Layout,
    samples: &Samples<'_>,
    frame: usize,
    scratch: &mut Scratch,
) -> Vec<TextLine> {
    let (w, h) = (layout.columns, layout.rows);
    let start = frame * w * h * layout.samples_per_pixel;
    let mut histogram = [0usize; 256];
    for y in 0..h {
        for x in 0..w {
            histogram[usize::from(layout.pixel_brightness(samples, start, x, y))] += 1;
        }
    }
    let median = {
        let (mut seen, half) = (0, w * h / 2);
        (0..=255u8)
            .find(|&v| {
                seen += histogram[usize::from(v)];
                seen > half
            })
            .unwrap_or(255)
    };
    let dark_text = median > 160;
    let level = |v: u8| if dark_text { 255 - v } else { v };
    let background = level(median);
    let mut extreme = 0u8;
    let mut reached = 0;
    for v in (0..=255u8).rev() {
        reached += histogram[usize::from(level(v))];
        if reached >= MIN_EXTREME {
            extreme = v;
            break;
        }
    }
    if extreme < background.saturating_add(MIN_CONTRAST) {
        return Vec::new();
    }
    let threshold = extreme - (extreme - background) / 4;
    let ring_limit = u32::from(background) + u32::from(threshold - background) / 3;
    let bright = |x: usize, y: usize| level(layout.pixel_brightness(samples, start, x, y));

    // Binarise into the label buffer: 0 = foreground not yet labelled.
    let labels = &mut scratch.labels;
    labels.clear();
    labels.resize(w * h, BACKGROUND);
    for y in 0..h {
        for x in 0..w {
            if bright(x, y) >= threshold {
                labels[y * w + x] = 0;
            }
        }
    }
    scratch.glyphs.clear();
    let mut next = 1u32;
    for seed in 0..w * h {
        if labels[seed] != 0 {
            continue;
        }
        let label = next;
        next = next.saturating_add(1).min(BACKGROUND - 1);
        labels[seed] = label;
        scratch.stack.clear();
        scratch.stack.push(seed as u32);
        let (mut g, mut count) = (
            Glyph {
                x0: seed % w,
                y0: seed / w,
                x1: seed % w,
                y1: seed / w,
            },
            0usize,
        );
        while let Some(p) = scratch.stack.pop() {
            let p = p as usize;
            let (x, y) = (p % w, p / w);
            count += 1;
            g.x0 = g.x0.min(x);
            g.x1 = g.x1.max(x);
            g.y0 = g.y0.min(y);
            g.y1 = g.y1.max(y);
            for ny in y.saturating_sub(1)..=(y + 1).min(h - 1) {
                for nx in x.saturating_sub(1)..=(x + 1).min(w - 1) {
                    let q = ny * w + nx;
                    if labels[q] == 0 {
                        labels[q] = label;
                        scratch.stack.push(q as u32);
                    }
                }
            }
        }
        if is_glyph(&g, count) && stands_out(&g, w, h, ring_limit, &bright) {
            scratch.glyphs.push(g);
        }
    }
    lines(&mut scratch.glyphs, frame, w, h)
}

fn is_glyph(g: &Glyph, count: usize) -> bool {
    let (gw, gh) = (g.width(), g.height());
    let solid = gw >= 4 && gh >= 4 && count * 100 > gw * gh * 85;
    (MIN_GLYPH..=MAX_GLYPH).contains(&gh) && gw <= 4 * gh && !solid
}

/// The mean of the ring two pixels outside the box is near the background.
fn stands_out(
    g: &Glyph,
    w: usize,
    h: usize,
    limit: u32,
    bright: &impl Fn(usize, usize) -> u8,
) -> bool {
    let x0 = g.x0.saturating_sub(2);
    let y0 = g.y0.saturating_sub(2);
    let x1 = (g.x1 + 2).min(w - 1);
    let y1 = (g.y1 + 2).min(h - 1);
    let (mut sum, mut n) = (0u32, 0u32);
    let mut add = |x, y| {
        sum += u32::from(bright(x, y));
        n += 1;
    };
    for x in x0..=x1 {
        if y0 + 2 == g.y0 {
            add(x, y0);
        }
        if y1 == g.y1 + 2 {
            add(x, y1);
        }
    }
    for y in y0..=y1 {
        if x0 + 2 == g.x0 {
            add(x0, y);
        }
        if x1 == g.x1 + 2 {
            add(x1, y);
        }
    }
    // A glyph against the image's edge is judged by the sides it has.
    n == 0 || sum / n <= limit
}

/// Chains glyphs left to right into lines; returns lines of text.
fn lines(glyphs: &mut [Glyph], frame: usize, w: usize, h: usize) -> Vec<TextLine> {
    glyphs.sort_by_key(|g| (g.x0, g.y0));
    // Each open line: (box, last glyph's right edge, glyph height, count).
    let mut open: Vec<(Glyph, usize, usize, usize)> = Vec::new();
    for g in glyphs.iter() {
        let gh = g.height();
        let fits = open.iter_mut().find(|(bx, right, lh, _)| {
            let overlap = g.y1.min(bx.y1) as isize - g.y0.max(bx.y0) as isize + 1;
            let similar = gh * 2 >= *lh && *lh * 2 >= gh;
            let near = g.x0 <= *right + (3 * gh.max(*lh)).div_ceil(2);
            similar && near && overlap * 2 >= gh.min(*lh) as isize
        });
        match fits {
            Some((bx, right, lh, count)) => {
                bx.x0 = bx.x0.min(g.x0);
                bx.y0 = bx.y0.min(g.y0);
                bx.x1 = bx.x1.max(g.x1);
                bx.y1 = bx.y1.max(g.y1);
                *right = (*right).max(g.x1);
                *lh = (*lh).max(gh);
                *count += g.equivalents();
            }
            None => open.push((*g, g.x1, gh, g.equivalents())),
        }
    }
    open.into_iter()
        .filter(|&(_, _, _, count)| count >= MIN_LINE)
        .map(|(bx, _, _, count)| {
            let x = bx.x0.saturating_sub(2);
            let y = bx.y0.saturating_sub(2);
            TextLine {
                frame,
                region: Region::new(x, y, (bx.x1 + 3).min(w) - x, (bx.y1 + 3).min(h) - y),
                glyphs: count,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn glyph(x0: usize, y0: usize, w: usize, h: usize) -> Glyph {
        Glyph {
            x0,
            y0,
            x1: x0 + w - 1,
            y1: y0 + h - 1,
        }
    }

    #[test]
    fn three_aligned_glyphs_make_a_line_two_do_not() {
        let mut g = vec![glyph(10, 10, 6, 10), glyph(18, 10, 6, 10)];
        assert!(lines(&mut g, 0, 100, 100).is_empty());
        g.push(glyph(26, 11, 6, 9));
        let found = lines(&mut g, 0, 100, 100);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].region, Region::new(8, 8, 26, 14));
        // Scattered at different heights: no line.
        let mut g = vec![
            glyph(10, 10, 6, 10),
            glyph(18, 40, 6, 10),
            glyph(26, 70, 6, 10),
        ];
        assert!(lines(&mut g, 0, 100, 100).is_empty());
    }

    #[test]
    fn solid_blocks_and_bars_are_not_glyphs() {
        assert!(!is_glyph(&glyph(0, 0, 20, 20), 400));
        assert!(!is_glyph(&glyph(0, 0, 200, 8), 600));
        assert!(is_glyph(&glyph(0, 0, 2, 12), 24)); // an "l"
        assert!(is_glyph(&glyph(0, 0, 8, 12), 40));
    }
}
