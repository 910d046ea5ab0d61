"""Writes an ultrasound-like DICOM object with text burned into its pixels,
for crates/dicom/tests/pixels_peers.rs. Run by the test at test time into a
temporary directory; no image is committed.

Usage: python us_fixture.py SPEC_JSON OUT_PATH

SPEC_JSON: {"manufacturer": str, "model": str, "rows": int, "columns": int,
            "seed": int, "text": [[x, y, size, "text", [r, g, b]?], ...],
            "gain": float?, "ceiling": int?}
gain (default 150) scales the speckle, ceiling (default 230) caps it: 255
makes speckle that saturates like bright reflectors.

The image: black background, a speckled sector (Rayleigh noise, blurred,
fading with depth) and a depth scale of tick marks on the right, as a
B-mode frame looks; the text drawn in white (or the colour given) with DejaVu Sans (pillow), RGB,
8 bits, planar configuration 0, Explicit VR Little Endian.
"""

import json
import sys

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"
US_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.6.1"


def frame(spec):
    rows, cols = spec["rows"], spec["columns"]
    rng = np.random.default_rng(spec["seed"])
    speckle = rng.rayleigh(0.5, (rows, cols))
    img = Image.fromarray(np.clip(speckle * spec.get("gain", 150), 0, 255).astype(np.uint8))
    img = np.asarray(img.filter(ImageFilter.GaussianBlur(1.2)), dtype=np.float64)
    y, x = np.mgrid[0:rows, 0:cols]
    apex_x, apex_y = cols / 2, rows * 0.08
    r = np.hypot(x - apex_x, y - apex_y)
    angle = np.degrees(np.arctan2(x - apex_x, y - apex_y))
    sector = (np.abs(angle) < 35) & (r > rows * 0.05) & (r < rows * 0.82)
    fade = np.clip(1.1 - r / (rows * 1.1), 0.2, 1.0)
    gray = np.where(sector, img * fade, 0).clip(0, spec.get("ceiling", 230)).astype(np.uint8)
    rgb = Image.fromarray(gray).convert("RGB")
    draw = ImageDraw.Draw(rgb)
    # Depth scale: a tick every 5 % of the height, 1 pixel tall.
    for i in range(int(rows * 0.1), int(rows * 0.85), max(1, rows // 20)):
        draw.line([(cols - 30, i), (cols - 24, i)], fill=(160, 160, 160))
    for x0, y0, size, text, *colour in spec["text"]:
        fill = tuple(colour[0]) if colour else (255, 255, 255)
        draw.text((x0, y0), text, fill=fill, font=ImageFont.truetype(FONT, size))
    return np.asarray(rgb, dtype=np.uint8)


def main():
    spec = json.loads(sys.argv[1])
    out = sys.argv[2]
    pixels = frame(spec)
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = US_IMAGE_STORAGE
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID = US_IMAGE_STORAGE
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.StudyInstanceUID = generate_uid()
    ds.SeriesInstanceUID = generate_uid()
    ds.Modality = "US"
    ds.Manufacturer = spec["manufacturer"]
    ds.ManufacturerModelName = spec["model"]
    ds.PatientName = "Fixture^Burned"
    ds.PatientID = "FIXTURE"
    ds.BurnedInAnnotation = "YES" if spec["text"] else "NO"
    ds.Rows, ds.Columns = pixels.shape[0], pixels.shape[1]
    ds.SamplesPerPixel = 3
    ds.PhotometricInterpretation = "RGB"
    ds.PlanarConfiguration = 0
    ds.BitsAllocated = 8
    ds.BitsStored = 8
    ds.HighBit = 7
    ds.PixelRepresentation = 0
    ds.PixelData = pixels.tobytes()
    ds.save_as(out, enforce_file_format=True)


if __name__ == "__main__":
    main()
